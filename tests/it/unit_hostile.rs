//! Hostile unit files and hostile uses of the `systemctl` personality:
//! names that climb out of the services dir, control characters in what
//! tend prints, and the like. Each test is named after what broke.

use std::os::unix::fs::symlink;
use std::process::Command;

use crate::harness::{descendants_of, file, hup, tend_bin, Fixture};
use crate::units::systemctl;

/// `systemctl disable ../outside/victim` removed a symlink outside the
/// services dir, and `enable` joined such names (or absolute ones) too.
#[test]
fn systemctl_enable_and_disable_refuse_names_with_slashes() {
    let fx = Fixture::new("unit-hostile-traversal", []);
    std::fs::create_dir_all(fx.path("services")).expect("mkdir services");
    std::fs::create_dir_all(fx.path("outside")).expect("mkdir outside");
    let victim = fx.path("outside/victim.service");
    symlink("/etc/hostname", &victim).expect("symlink victim");
    for name in ["../outside/victim", "../outside/victim.service"] {
        let r = systemctl(&fx, &["disable", name]);
        assert_eq!(r.0, 1, "disable {name}: {r:?}");
        assert!(r.2.contains("bad unit name"), "disable {name}: {r:?}");
        assert!(
            std::fs::symlink_metadata(&victim).is_ok(),
            "disable {name} removed a link outside the services dir: {r:?}"
        );
    }
    let abs = fx.arg("outside/victim");
    for name in [abs.as_str(), "../../../../etc/hostname", "", "."] {
        let r = systemctl(&fx, &["enable", name]);
        assert_eq!(r.0, 1, "enable {name:?}: {r:?}");
        assert!(r.2.contains("bad unit name"), "enable {name:?}: {r:?}");
    }
}

/// A unit file name with a newline and an escape sequence, and a
/// Description= with terminal controls, reached tend's log, `tend verify`
/// and `tend ctl status` raw: a forged second log line, a cleared screen.
#[test]
fn control_characters_from_units_are_escaped_in_every_line() {
    let fx = Fixture::new("unit-hostile-controls", []);
    let run = "[Service]\nExecStart=/bin/sleep 1000\n";
    fx.write(file("services/nl\ntend: forged.service", run));
    fx.write(file("services/esc\x1b[2J.service", run));
    fx.write(file(
        "services/web.service",
        &format!("[Unit]\nDescription=web \x1b[2J\x07 \x7f end\n{run}"),
    ));
    let out = Command::new(tend_bin())
        .args(["verify", "--services", &fx.arg("services")])
        .output()
        .expect("run tend verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "raw escape in verify:\n{text:?}");
    assert!(
        !text.lines().any(|l| l.starts_with("tend: forged")),
        "forged line in verify:\n{text:?}"
    );
    assert!(text.contains("nl\\x0atend: forged.service"), "{text:?}");

    let mut t = fx.start(&[]);
    t.ctl_ok(&["wait", "up", "web", "--timeout", "5s"]);
    t.wait_stderr("the escaped name", |l| l.contains("esc\\x1b[2J.service"));
    let status = t.ctl_ok(&["status"]);
    t.check(
        status.contains("Description=web \\x1b[2J\\x07 \\x7f end\n"),
        format!("description not escaped:\n{status:?}"),
    );
    let json = t.ctl_ok(&["status", "web", "--json"]);
    t.check(
        json.contains(r#""description":"web \u001b[2J\u0007 "#),
        format!("json:\n{json}"),
    );
    let err = t.stderr();
    t.check(
        !err.contains('\x1b') && !err.lines().any(|l| l.starts_with("tend: forged")),
        format!("raw controls in tend's log:\n{err:?}"),
    );
    t.term_expect(0);
}

/// An ExecReload= that hangs: each `reload NAME` started one more (100
/// reloads, 100 processes), and `down` left them all running.
#[test]
fn hanging_exec_reload_runs_once_and_stops_with_its_service() {
    let fx = Fixture::new("unit-hostile-reload", []);
    let log = fx.arg("reloads");
    fx.write(file(
        "services/rl.service",
        &format!(
            "[Service]\nExecStart=/bin/sleep 1000\n\
             ExecReload=/bin/sh -c 'echo $$$$ >> {log}; exec sleep 1000'\n"
        ),
    ));
    let mut t = fx.start(&[]);
    t.ctl_ok(&["wait", "up", "rl", "--timeout", "5s"]);
    for _ in 0..20 {
        t.ctl_ok(&["reload", "rl"]);
    }
    t.wait_lines("reloads", 1);
    // The 20 requests are answered in order: the last has been served.
    t.ctl_ok(&["status"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = fx.lines("reloads");
    t.check_eq(started.len(), 1, "ExecReload processes started");
    t.ctl_ok(&["down", "rl"]);
    t.ctl_ok(&["wait", "down", "rl", "--timeout", "5s"]);
    let (pid, tend) = (started[0].clone(), t.pid());
    t.wait_for("the reload helper gone with its service", |_| {
        !descendants_of(tend)
            .iter()
            .any(|p| p.ns_pid().as_deref() == Some(pid.as_str()) && p.alive())
    });
    t.term_expect(0);
}

/// A hung ExecReload= is bounded by TimeoutStartSec=, as in systemd: it is
/// SIGKILLed (with what it started), the service goes on, and the next
/// `reload NAME` runs a new one.
#[test]
fn hung_exec_reload_is_killed_at_the_start_timeout() {
    let fx = Fixture::new("unit-hostile-reload-timeout", []);
    let log = fx.arg("reloads");
    fx.write(file(
        "services/rl.service",
        &format!(
            "[Service]\nExecStart=/bin/sleep 1000\nTimeoutStartSec=500ms\n\
             ExecReload=/bin/sh -c 'echo $$$$ >> {log}; sleep 1000; echo late >> {log}'\n"
        ),
    ));
    let mut t = fx.start(&[]);
    t.ctl_ok(&["wait", "up", "rl", "--timeout", "5s"]);
    let main_pid = t.ctl_ok(&["status", "rl"]);
    t.ctl_ok(&["reload", "rl"]);
    let asked = std::time::Instant::now();
    t.wait_lines("reloads", 1);
    t.wait_stderr("the reload killed", |l| {
        l.starts_with("tend: warning: rl[")
            && l.ends_with("]: ExecReload still running after 500ms, SIGKILL")
    });
    let took = asked.elapsed().as_secs_f64();
    t.check(
        (0.4..5.0).contains(&took),
        format!("killed after {took:.2}s"),
    );
    let (pid, tend) = (fx.lines("reloads")[0].clone(), t.pid());
    t.wait_for("the hung reload gone", |_| {
        !descendants_of(tend)
            .iter()
            .any(|p| p.ns_pid().as_deref() == Some(pid.as_str()) && p.alive())
    });
    t.ctl_ok(&["reload", "rl"]);
    t.wait_lines("reloads", 2);
    let status = t.ctl_ok(&["status", "rl"]);
    t.check_eq(
        status
            .lines()
            .nth(1)
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>()),
        main_pid
            .lines()
            .nth(1)
            .map(|l| l.split_whitespace().take(3).collect()),
        "rl's state and pid",
    );
    t.check(
        !fx.read("reloads").unwrap_or_default().contains("late"),
        "the sleep ran on",
    );
    t.term_expect(0);
}

/// 1,000 units of 200 `Requires=` each, in a chain ending at a missing
/// unit: resolving them rescanned every unit against every service after
/// each skip, and PID 1 spent 86 s at its start (and at each reload)
/// before it answered anything.
#[test]
fn long_requires_chain_is_resolved_without_stalling_pid1() {
    let fx = Fixture::new("unit-hostile-chain", []);
    let many: String = (1..=200).map(|j| format!("u{j:04}.service ")).collect();
    for i in 1..=1000 {
        fx.write(file(
            &format!("services/u{i:04}.service"),
            &format!(
                "[Unit]\nRequires={many}\nRequires=u{:04}.service\n\
                 [Service]\nExecStart=/bin/sleep 1000\n",
                i + 1
            ),
        ));
    }
    fx.write(file(
        "services/good.service",
        "[Service]\nExecStart=/bin/sleep 1000\n",
    ));
    let started = std::time::Instant::now();
    let out = Command::new(tend_bin())
        .args(["verify", "--services", &fx.arg("services")])
        .output()
        .expect("run tend verify");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("1 services would run, 1000 problems\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(took.as_secs() < 10, "verify took {took:?}");

    let started = std::time::Instant::now();
    let mut t = fx.start(&[]);
    t.ctl_ok(&["wait", "up", "good", "--timeout", "20s"]);
    let took = started.elapsed();
    t.check(took.as_secs() < 10, format!("first answer after {took:?}"));
    // The 1,000 error lines are out first: with a slow reader (a loaded
    // machine) tend's full stderr queue would drop the reload's own line.
    t.wait_for("the start's 1,000 error lines", |t| {
        t.stderr()
            .lines()
            .filter(|l| l.starts_with("tend: error: "))
            .count()
            >= 1000
    });
    // A reload reads it all again: the loop must not stall on it either.
    let started = std::time::Instant::now();
    hup(&mut t, 1);
    t.ctl_ok(&["status", "good"]);
    let took = started.elapsed();
    t.check(
        took.as_secs() < 10,
        format!("status after a reload: {took:?}"),
    );
    t.term_expect(0);
}

/// Specifiers multiply: `%n` is two bytes that become the unit's name (up
/// to 255). 20 files of 250 KiB of `Description=%n%n...` took PID 1 to
/// 1 GiB; 1,000 of them would have had it killed.
#[test]
fn specifier_expansion_cannot_blow_up_pid1s_memory() {
    let fx = Fixture::new("unit-hostile-specifiers", []);
    let spec = "%n".repeat(125_000);
    for i in 0..20 {
        let name = format!("{}{i:02}", "n".repeat(200));
        fx.write(file(
            &format!("services/{name}.service"),
            &format!("[Unit]\nDescription={spec}\n[Service]\nExecStart=/bin/sleep 1000\n"),
        ));
    }
    fx.write(file(
        "services/good.service",
        "[Service]\nExecStart=/bin/sleep 1000\n",
    ));
    let mut t = fx.start(&[]);
    t.ctl_ok(&["wait", "up", "good", "--timeout", "20s"]);
    t.wait_stderr("the expansion refused", |l| {
        l.starts_with("tend: error: ")
            && l.ends_with("specifiers expand to more than 1024 KiB in this unit")
    });
    let rss = t.rss_kib();
    t.check(rss < 32 * 1024, format!("tend's RSS {rss} KiB"));
    let status = t.ctl_ok(&["status"]);
    t.check(
        status.len() < 4096,
        format!("status of {} bytes", status.len()),
    );
    t.term_expect(0);
}
