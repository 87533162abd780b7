//! The main command (positional arguments): tini mode without services, and
//! services plus a main command. tend exits with the command's status (128+N
//! when killed by signal N, 127/126 when it cannot be executed), honours
//! tini's `-e` and `-g`, and stops the services once the command exits.

use std::thread;
use std::time::Duration;

use crate::harness::{exe, file, polite, Fixture};

/// Runs `tend ARGS` on an empty services dir and checks its exit code.
fn expect_exit(name: &str, args: &[&str], want: i32) {
    let fx = Fixture::new(name, []);
    let mut t = fx.start(args);
    let code = t.wait_exit();
    t.check_eq(code, want, "exit code");
}

#[test]
fn exits_with_the_main_commands_code() {
    expect_exit("main-7", &["--", "sh", "-c", "exit 7"], 7);
    expect_exit("main-0", &["--", "true"], 0);
}

#[test]
fn main_command_killed_by_signal_gives_128_plus_n() {
    expect_exit("main-kill9", &["--", "sh", "-c", "kill -9 $$"], 137);
}

#[test]
fn main_command_not_found_exits_127() {
    let fx = Fixture::new("main-127", []);
    let mut t = fx.start(&["--", "/nonexistent/command"]);
    let code = t.wait_exit();
    t.check_eq(code, 127, "exit code");
    // The exit code is checked everywhere, the log line natively only.
    if !crate::harness::emulated(crate::harness::NO_EXEC_ERRNO) {
        t.check(
            t.stderr().contains("/nonexistent/command"),
            "the error does not name the command",
        );
    }
}

/// A main command that cannot even be cloned (EAGAIN: the user is at its
/// process limit) began the shutdown but left the loop asleep: with
/// stderr a file (nothing queued to wake it), PID 1 hung until a signal
/// came. It exits at once, 126.
#[test]
fn main_command_that_cannot_be_started_exits_126_at_once() {
    if crate::harness::emulated("qemu-user starts threads of its own, which --nproc=1 refuses") {
        return;
    }
    let fx = Fixture::new("main-eagain", []);
    let err = fx.arg("stderr");
    let pre = [
        "sh",
        "-c",
        "exec \"$@\" 2>\"$0\"",
        &err,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "prlimit",
        "--nproc=1",
    ];
    let mut t = fx.start_under(&pre, &["--", "true"]);
    let code = t.wait_exit();
    t.check_eq(code, 126, "exit code");
    t.check_secs(t.exited_at() - t.started_at(), 0.0, 5.0, "exit");
    t.check(
        (fx.read("stderr").unwrap_or_default())
            .contains("cannot run true: Resource temporarily unavailable"),
        "the error names the command and the cause",
    );
}

#[test]
fn main_command_not_executable_exits_126() {
    let fx = Fixture::new("main-126", [file("main", "#!/bin/sh\nexit 0\n")]);
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    let code = t.wait_exit();
    t.check_eq(code, 126, "exit code");
}

#[test]
fn tini_mode_prints_only_the_commands_output() {
    let fx = Fixture::new("main-quiet", []);
    let mut t = fx.start(&["--", "sh", "-c", "echo out; echo err >&2"]);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code");
    t.check_eq(t.stdout(), "out\n".to_string(), "stdout");
    t.check_eq(t.stderr(), "err\n".to_string(), "stderr");
}

#[test]
fn dash_e_treats_that_exit_code_as_0() {
    for (code, want) in [("7", 0), ("9", 0), ("8", 8)] {
        let script = format!("exit {code}");
        let args = ["-e", "7", "-e", "9", "--", "sh", "-c", &script];
        expect_exit(&format!("dash-e-{code}"), &args, want);
    }
}

#[test]
fn services_are_stopped_when_the_main_command_exits() {
    let fx = Fixture::new(
        "main-and-services",
        [
            exe("services/svc/run", &polite("svc")),
            exe(
                "main",
                "while [ ! -e \"$T/up-svc\" ]; do sleep 0.05; done\nexit 5\n",
            ),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--grace", "10s", "--", &main]);
    let code = t.wait_exit();
    t.check_eq(code, 5, "exit code (the main command's)");
    t.check(fx.exists("term-svc"), "the service got no SIGTERM");
}

/// A main command with a child in its process group; both record USR1 in
/// `$T/usr1`.
fn group_fixture(name: &str) -> Fixture {
    Fixture::new(
        name,
        [
            exe(
                "child",
                "trap 'echo child >> \"$T/usr1\"; exit 0' USR1\n\
                 echo $$ > \"$T/up-child\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
            exe(
                "main",
                "trap 'echo main >> \"$T/usr1\"' USR1\n\
                 \"$T/child\" &\n\
                 while [ ! -e \"$T/up-child\" ]; do sleep 0.05; done\n\
                 echo $$ > \"$T/up-main\"\n\
                 wait\n\
                 wait\n",
            ),
        ],
    )
}

#[test]
fn dash_g_forwards_signals_to_the_main_commands_process_group() {
    let fx = group_fixture("dash-g");
    let main = fx.arg("main");
    let mut t = fx.start(&["-g", "--", &main]);
    t.wait_file("up-main");
    t.signal("USR1");
    t.wait_lines("usr1", 2);
    let mut got = fx.lines("usr1");
    got.sort();
    t.check_eq(
        got,
        vec!["child".to_string(), "main".into()],
        "USR1 receivers",
    );
    // The child exited on USR1, so main's second wait returns.
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code");
}

#[test]
fn without_dash_g_signals_reach_only_the_main_command() {
    let fx = group_fixture("no-dash-g");
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    t.wait_file("up-main");
    t.signal("USR1");
    t.wait_file("usr1");
    thread::sleep(Duration::from_millis(300));
    t.check_eq(fx.lines("usr1"), vec!["main".to_string()], "USR1 receivers");
    t.term_expect(143);
}
