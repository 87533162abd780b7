//! Shutdown beyond the polite case: graces (`--grace`, `stop-grace`) as upper
//! bounds enforced with SIGKILL, critical services waited for, stop signals
//! from `down-signal`/`stop-signal`, orphans left behind by services, and
//! the immediate stop on SIGQUIT.

use std::time::Instant;

use crate::harness::{exe, file, polite, stubborn, Fixture};

#[test]
fn service_ignoring_term_is_killed_at_its_stop_grace() {
    let fx = Fixture::new(
        "stop-grace",
        [
            exe("services/stubborn/run", &stubborn("stubborn")),
            file("services/stubborn/service.toml", "stop-grace = \"1s\"\n"),
            exe("services/ok/run", &polite("ok")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("up-stubborn");
    t.wait_file("up-ok");

    let sent = t.term_expect(1);
    t.check_secs(t.exited_at() - sent, 0.8, 4.0, "stop with a 1s stop-grace");
    t.check(fx.exists("term-ok"), "the polite service got no SIGTERM");
    let named = t
        .stderr()
        .lines()
        .any(|l| l.contains("stubborn") && l.to_lowercase().contains("kill"));
    t.check(named, "no log line says \"stubborn\" had to be killed");
}

#[test]
fn critical_service_gets_its_grace_while_others_are_killed_at_theirs() {
    let fx = Fixture::new(
        "critical-grace",
        [
            // Takes 2s to stop after TERM, within its 3s stop-grace.
            exe(
                "services/crit/run",
                "trap 'sleep 2; echo done > \"$T/crit-done\"; exit 0' TERM\n\
                 echo $$ > \"$T/up-crit\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
            file(
                "services/crit/service.toml",
                "critical = true\nstop-grace = \"3s\"\n",
            ),
            exe("services/stubborn/run", &stubborn("stubborn")),
        ],
    );
    let mut t = fx.start(&["--grace", "1s"]);
    t.wait_file("up-crit");
    let ns_pid = t.wait_file("up-stubborn");
    let stubborn = match t.find_ns_pid(&ns_pid) {
        Some(p) => p,
        None => t.fail("the stubborn service is not running"),
    };

    let sent = t.signal("TERM");
    t.wait_for("the stubborn service to be killed", |_| !stubborn.alive());
    let killed = Instant::now() - sent;
    let code = t.wait_exit();
    t.check_secs(
        killed,
        0.7,
        2.5,
        "SIGKILL of the stubborn service at --grace 1s",
    );
    t.check(
        fx.exists("crit-done"),
        "the critical service was not allowed to finish within its stop-grace",
    );
    t.check_secs(t.exited_at() - sent, 1.8, 5.0, "whole shutdown");
    t.check_eq(code, 1, "exit code when a service had to be killed");
}

#[test]
fn stop_signal_comes_from_down_signal_file_and_service_toml() {
    let traps = |name: &str| {
        format!(
            "trap 'echo hup > \"$T/sig-{name}\"; exit 0' HUP\n\
             trap 'echo int > \"$T/sig-{name}\"; exit 0' INT\n\
             trap 'echo term > \"$T/sig-{name}\"; exit 0' TERM\n\
             echo $$ > \"$T/up-{name}\"\n\
             while :; do sleep 0.1; done\n"
        )
    };
    let fx = Fixture::new(
        "stop-signal",
        [
            exe("services/byfile/run", &traps("byfile")),
            file("services/byfile/down-signal", "HUP\n"),
            // The service.toml key wins over the down-signal file.
            exe("services/bytoml/run", &traps("bytoml")),
            file("services/bytoml/down-signal", "HUP\n"),
            file("services/bytoml/service.toml", "stop-signal = \"INT\"\n"),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("up-byfile");
    t.wait_file("up-bytoml");
    t.signal("TERM");
    let code = t.wait_exit();
    t.check_eq(
        fx.read("sig-byfile"),
        Some("hup\n".into()),
        "stop signal from down-signal",
    );
    t.check_eq(
        fx.read("sig-bytoml"),
        Some("int\n".into()),
        "stop signal from service.toml",
    );
    t.check_eq(code, 0, "exit code");
}

#[test]
fn orphans_left_by_a_service_get_term_after_services_stop() {
    let fx = Fixture::new(
        "orphan-term",
        [
            // In a session of its own, so stopping the service's process
            // group does not reach it: only tend's final sweep does.
            exe(
                "orphan",
                "trap 'echo $$ > \"$T/term-orphan\"; exit 0' TERM\n\
                 echo $$ > \"$T/up-orphan\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
            exe(
                "services/parent/run",
                "(setsid \"$T/orphan\" &)\n\
                 while [ ! -e \"$T/up-orphan\" ]; do sleep 0.05; done\n\
                 trap 'exit 0' TERM\n\
                 echo $$ > \"$T/up-parent\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("up-parent");
    let sent = t.signal("TERM");
    let code = t.wait_exit();
    t.check(
        fx.exists("term-orphan"),
        "the orphan was not sent SIGTERM once the services were down",
    );
    t.check_secs(t.exited_at() - sent, 0.0, 3.0, "stop with a 10s grace");
    t.check_eq(code, 0, "exit code");
}

#[test]
fn quit_kills_everything_at_once_and_exits_131() {
    let fx = Fixture::new(
        "quit",
        [
            exe("services/stubborn/run", &stubborn("stubborn")),
            exe("services/ok/run", &polite("ok")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("up-stubborn");
    t.wait_file("up-ok");
    let before = t.descendants();

    let sent = t.signal("QUIT");
    let code = t.wait_exit();
    t.check_eq(code, 131, "exit code after SIGQUIT");
    t.check_secs(t.exited_at() - sent, 0.0, 2.0, "immediate shutdown");
    t.check(
        !fx.exists("term-ok"),
        "SIGQUIT should SIGKILL services, but one got SIGTERM",
    );
    let left: Vec<_> = before.iter().filter(|p| p.alive()).collect();
    t.check(
        left.is_empty(),
        format!("processes left after exit: {left:?}"),
    );
}
