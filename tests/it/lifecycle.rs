//! The ordinary life of a services-only tend: every service in the services
//! dir starts (except those with a `down` file), and SIGTERM or SIGINT stops
//! them all promptly and cleanly, with exit 0.

use std::thread;
use std::time::Duration;

use crate::harness::{exe, file, polite, Fixture};

fn three_services(name: &str) -> Fixture {
    Fixture::new(
        name,
        ["a", "b", "c"].map(|n| exe(&format!("services/{n}/run"), &polite(n))),
    )
}

/// Stops three running services with `sig` and checks that each got SIGTERM,
/// that tend exited 0 well before the 10s grace, and that none of the
/// processes seen while running survived.
fn stop_three_with(sig: &str) {
    let fx = three_services(&format!("three-{sig}"));
    let mut t = fx.start(&["--grace", "10s"]);
    let up: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| t.wait_file(&format!("up-{n}")))
        .collect();
    let before = t.descendants();
    for (n, pid) in ["a", "b", "c"].iter().zip(&up) {
        let found = t.find_ns_pid(pid).is_some();
        t.check(
            found,
            format!("service {n} (pid {pid} in the namespace) is not running"),
        );
    }

    let sent = t.signal(sig);
    let code = t.wait_exit();
    t.check_eq(code, 0, &format!("exit code after SIG{sig}"));
    t.check_secs(t.exited_at() - sent, 0.0, 3.0, "stop with a 10s grace");
    for (n, pid) in ["a", "b", "c"].iter().zip(&up) {
        let term = fx.read(&format!("term-{n}"));
        t.check_eq(
            term,
            Some(format!("{pid}\n")),
            &format!("SIGTERM marker of {n}"),
        );
    }
    let left: Vec<_> = before.iter().filter(|p| p.alive()).collect();
    t.check(
        left.is_empty(),
        format!("processes left after exit: {left:?}"),
    );
}

#[test]
fn term_stops_every_service_and_exits_0() {
    stop_three_with("TERM");
}

#[test]
fn int_stops_every_service_like_term() {
    stop_three_with("INT");
}

#[test]
fn service_with_down_file_is_not_started() {
    let fx = Fixture::new(
        "down-file",
        [
            exe("services/on/run", &polite("on")),
            exe("services/off/run", &polite("off")),
            file("services/off/down", ""),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-on");
    // Both would have been started together; give "off" time to show up.
    thread::sleep(Duration::from_millis(500));
    t.check(!fx.exists("up-off"), "service with a down file was started");
    t.term_expect(0);
}
