//! Signals tend forwards: without a main command every running service gets
//! them; with one, the main command does (TERM and INT first to it, the
//! services only once it exited; HUP too, instead of a reload).

use std::thread;
use std::time::Duration;

use crate::harness::{exe, polite, Fixture};

/// A script body that appends the name of each of USR1, USR2 and HUP it
/// receives to `$T/sig-NAME`, writes `$T/up-NAME`, and dies of TERM.
fn recorder(name: &str) -> String {
    let mut s = String::new();
    for sig in ["USR1", "USR2", "HUP"] {
        s += &format!("trap 'echo {sig} >> \"$T/sig-{name}\"' {sig}\n");
    }
    s + &format!(
        "echo $$ > \"$T/up-{name}\"\n\
         while :; do sleep 1000 & wait $!; done\n"
    )
}

#[test]
fn usr1_without_main_command_reaches_every_service() {
    let fx = Fixture::new(
        "fwd-services",
        [
            exe("services/a/run", &recorder("a")),
            exe("services/b/run", &recorder("b")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    t.signal("USR1");
    let got = t.wait_file("sig-a");
    t.check_eq(got, "USR1".to_string(), "signal seen by a");
    let got = t.wait_file("sig-b");
    t.check_eq(got, "USR1".to_string(), "signal seen by b");
    t.signal("USR2");
    t.wait_lines("sig-a", 2);
    t.wait_lines("sig-b", 2);
    t.term_expect(0);
}

#[test]
fn usr1_and_hup_with_main_command_reach_it_not_the_services() {
    let fx = Fixture::new(
        "fwd-main",
        [
            exe("services/svc/run", &recorder("svc")),
            exe("main", &recorder("main")),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    t.wait_file("up-svc");
    t.wait_file("up-main");
    t.signal("USR1");
    t.wait_lines("sig-main", 1);
    t.signal("HUP");
    t.wait_lines("sig-main", 2);
    thread::sleep(Duration::from_millis(300));
    t.check_eq(
        fx.lines("sig-main"),
        vec!["USR1".to_string(), "HUP".into()],
        "signals seen by the main command",
    );
    t.check(
        !fx.exists("sig-svc"),
        "a service got a signal meant for the main command",
    );
    t.term_expect(143);
}

#[test]
fn term_goes_to_main_command_before_services() {
    let fx = Fixture::new(
        "term-main-first",
        [
            exe(
                "services/svc/run",
                "trap 'echo svc >> \"$T/term-order\"; exit 0' TERM\n\
                 echo $$ > \"$T/up-svc\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
            // Takes its time to stop: services must wait for it.
            exe(
                "main",
                "trap 'sleep 0.5; echo main >> \"$T/term-order\"; exit 3' TERM\n\
                 echo $$ > \"$T/up-main\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--grace", "10s", "--", &main]);
    t.wait_file("up-svc");
    t.wait_file("up-main");
    t.term_expect(3);
    t.check_eq(
        fx.lines("term-order"),
        vec!["main".to_string(), "svc".into()],
        "order of SIGTERM handling",
    );
}

#[test]
fn int_with_main_command_reaches_it_and_gives_130() {
    let fx = Fixture::new(
        "int-main",
        [
            exe("services/svc/run", &polite("svc")),
            exe(
                "main",
                "echo $$ > \"$T/up-main\"\nwhile :; do sleep 0.1; done\n",
            ),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    t.wait_file("up-svc");
    t.wait_file("up-main");
    t.signal("INT");
    let code = t.wait_exit();
    t.check_eq(code, 130, "exit code (main command killed by SIGINT)");
    t.check(
        fx.exists("term-svc"),
        "the service was not stopped with its stop signal",
    );
}
