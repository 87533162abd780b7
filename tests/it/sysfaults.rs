//! Regression tests for the issue 9 defects that lived in `src/sys.rs`
//! (and the `-w` log level in `main.rs`): fds moved into a child, exits by
//! real-time signals, the child's own PATH and ids, socket modes, the
//! environment tend keeps to itself, and tini's `-w`. Each test is named
//! after what broke and runs the static binary as PID 1.

use crate::harness::{exe, Fixture};

/// `tend -- sh -c 'kill -40 $$'` never exited: nix's waitpid could not
/// represent signal 40, returned EINVAL after the kernel had reaped the
/// child, and the exit was lost.
#[test]
fn main_command_killed_by_a_realtime_signal_exits_128_plus_n() {
    let fx = Fixture::new("rt-main", []);
    let mut t = fx.start(&["--", "sh", "-c", "kill -40 $$"]);
    let code = t.wait_exit();
    t.check_eq(code, 168, "exit code");
}

/// A service killed by a real-time signal stayed "up" forever: its exit
/// was lost, so it was never restarted.
#[test]
fn service_killed_by_a_realtime_signal_is_restarted() {
    let fx = Fixture::new(
        "rt-service",
        [exe(
            "services/rt/run",
            "echo $$ >> \"$T/runs\"\n\
             [ \"$(wc -l < \"$T/runs\")\" -lt 2 ] && kill -37 $$\n\
             exec sleep 1000\n",
        )],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("runs", 2);
    t.wait_stderr("the exit logged", |e| e.contains("killed by signal 37"));
    t.term_expect(0);
}
