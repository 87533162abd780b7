//! SIGHUP without a main command rescans the services dir (SPEC §3, README
//! "Reload"): new services start, removed ones are stopped, a service
//! whose files changed is restarted, and one whose only change is a `down`
//! file is left running.

use std::thread;
use std::time::Duration;

use crate::harness::{exe, file, hup, polite, Fixture, Tend};

#[test]
fn hup_starts_added_services_and_stops_removed_ones() {
    let fx = Fixture::new(
        "hup-add-remove",
        [
            exe("services/a/run", &polite("a")),
            exe("services/keep/run", &polite("keep")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    let a = t.wait_file("up-a");
    let keep = t.wait_file("up-keep");

    fx.write(exe("services/b/run", &polite("b")));
    fx.remove("services/a");
    hup(&mut t, 1);
    t.wait_file("up-b");
    let term = t.wait_file("term-a");
    t.check_eq(term, a.clone(), "pid that got TERM");
    t.wait_for("a to leave the status list", |t| !listed(t, "a"));
    let running = t.find_ns_pid(&a).is_some();
    t.check(!running, "a's process is still running after its removal");
    t.check(!fx.exists("term-keep"), "an unchanged service was stopped");
    t.check_eq(
        fx.lines("up-keep"),
        vec![keep],
        "starts of the unchanged service",
    );

    // The new service is supervised like the others.
    let r = t.ctl(&["wait", "up", "b", "--timeout", "5s"]);
    t.check(r.code == 0, format!("wait up b: {r}"));
    t.term_expect(0);
    t.check(
        fx.exists("term-b"),
        "the added service got no TERM at shutdown",
    );
}

#[test]
fn hup_restarts_a_changed_service_but_not_for_a_down_file() {
    let fx = Fixture::new(
        "hup-change",
        [
            exe("services/a/run", &polite("a")),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    let first = t.wait_file("up-a");
    let other = t.wait_file("up-other");

    // A `down` file alone: a keeps running.
    fx.write(file("services/a/down", ""));
    hup(&mut t, 1);
    thread::sleep(Duration::from_millis(500));
    t.check(
        !fx.exists("term-a"),
        "adding a down file stopped the service",
    );
    let running = t.find_ns_pid(&first).is_some();
    t.check(running, "a's process is gone after adding a down file");
    t.check_eq(fx.lines("up-a"), vec![first.clone()], "starts of a");

    // An edited run script: a restarts (its down file does not keep it
    // down: it only says whether to start at boot).
    fx.remove("services/a/down");
    fx.write(exe("services/a/run", &format!("# edited\n{}", polite("a"))));
    hup(&mut t, 2);
    let term = t.wait_file("term-a");
    t.check_eq(term, first.clone(), "pid that got TERM");
    t.wait_for("a to start again", |_| {
        let l = fx.lines("up-a");
        !l.is_empty() && l != [first.clone()]
    });
    t.check(!fx.exists("term-other"), "an unchanged service was stopped");
    t.check_eq(fx.lines("up-other"), vec![other], "starts of other");
    t.term_expect(0);
}

#[test]
fn hup_restarts_a_service_whose_env_dir_changed() {
    let fx = Fixture::new(
        "hup-env",
        [
            exe(
                "services/a/run",
                &format!("echo \"$GREETING\" >> \"$T/greetings\"\n{}", polite("a")),
            ),
            file("services/a/env/GREETING", "hello\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    fx.write(file("services/a/env/GREETING", "bonjour\n"));
    hup(&mut t, 1);
    let got = t.wait_lines("greetings", 2);
    t.check_eq(
        got,
        vec!["hello".to_string(), "bonjour".into()],
        "greetings",
    );
    t.term_expect(0);
}

/// Whether `tend ctl status` lists `name`.
fn listed(t: &Tend, name: &str) -> bool {
    let r = t.fixture().ctl(&["status"]);
    r.out
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().next() == Some(name))
}

// Symptom: a typo in a running service's service.toml, then a reload,
// stopped the service as if it were removed, and `check` still passed.
#[test]
fn a_broken_definition_keeps_the_service_running_on_its_old_one() {
    let fx = Fixture::new(
        "reload-broken",
        [
            exe("services/web/run", &polite("web")),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&[]);
    let web = t.wait_file("up-web");
    t.wait_file("up-other");
    fx.write(file("services/web/service.toml", "restrat = \"always\"\n"));
    hup(&mut t, 1);
    t.check(!fx.exists("term-web"), "the broken service was stopped");
    let alive = t.find_ns_pid(&web).is_some();
    t.check(alive, "the broken service is gone");
    let check = t.ctl(&["check"]);
    t.check(
        check.code == 1 && check.err.contains("web: runs on its previous definition"),
        format!("check after a broken reload: {check}"),
    );
    let status = t.ctl_ok(&["status"]);
    t.check(
        status.contains("restrat"),
        format!("status does not show the error: {status}"),
    );
    // Fixed: the service restarts on its new (good) definition.
    fx.remove("services/web/service.toml");
    hup(&mut t, 2);
    let r = t.ctl(&["wait", "up", "web", "--timeout", "5s"]);
    t.check(r.code == 0, format!("wait up web: {r}"));
    t.wait_for("check to pass again", |t| {
        t.fixture().ctl(&["check"]).code == 0
    });
    t.term_expect(0);
}
