//! Hostile clients and unlucky resources (issue 9): the control socket, the
//! output pipes and tend's own stdout, each pushed past its limit. tend must
//! stay responsive, bounded in memory and CPU, and able to stop.

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::harness::{exe, polite, Fixture, Tend};

/// Open fds of process `pid`, from the host's /proc.
fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// CPU time tend uses over `window`, while the test does nothing.
fn cpu_over(t: &mut Tend, window: Duration) -> Duration {
    let before = t.cpu_time();
    thread::sleep(window);
    t.cpu_time().saturating_sub(before)
}

fn connect(t: &Tend) -> UnixStream {
    let path = t.fixture().path("control.sock");
    UnixStream::connect(&path).unwrap_or_else(|e| t.fail(format!("connect: {e}")))
}

/// Symptom (#24): 64 idle control clients, or `wait`s with no timeout,
/// locked every other client out, and `tend ctl check` (the HEALTHCHECK)
/// failed with "too many clients".
#[test]
fn idle_and_waiting_clients_do_not_lock_out_check() {
    let fx = Fixture::new("crowd", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.ctl_ok(&["wait", "up", "a"]);
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut s = connect(&t);
        s.write_all(b"wait down a\n").expect("send wait");
        held.push(s);
    }
    for _ in 0..100 {
        held.push(connect(&t));
    }
    for verb in ["check", "status"] {
        let r = t.ctl(&[verb]);
        t.check(
            r.code == 0 && r.took < Duration::from_secs(3),
            format!("with 164 idle or waiting clients held open: {r}"),
        );
    }
    drop(held);
    t.ctl_ok(&["check"]);
    t.term_expect(0);
}

/// Symptom (#7): out of fds, accept() failed with EMFILE, the client stayed
/// queued, and poll woke tend at once, forever: 100% CPU.
#[test]
fn fd_exhaustion_does_not_spin_and_check_recovers() {
    let fx = Fixture::new("emfile", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.ctl_ok(&["status"]);
    let pid = t.pid();
    // Room for a handful of clients, no more.
    let limit = fd_count(pid) + 4;
    let lim = format!("--nofile={limit}:{limit}");
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &lim])
        .status()
        .is_ok_and(|s| s.success());
    t.check(ok, format!("prlimit --pid {pid} {lim} failed"));

    let held: Vec<UnixStream> = (0..60).map(|_| connect(&t)).collect();
    t.wait_for("tend to run out of fds", |_| fd_count(pid) >= limit);
    let cpu = cpu_over(&mut t, Duration::from_secs(1));
    eprintln!("out of fds, 60 clients queued: tend used {cpu:?} of CPU in 1 s");
    t.check(
        cpu < Duration::from_millis(250),
        format!("tend spins while out of fds: {cpu:?} of CPU in 1 s"),
    );
    drop(held);
    let r = t.ctl(&["check"]);
    t.check(
        r.code == 0 && r.took < Duration::from_secs(5),
        format!("check once the clients left: {r}"),
    );
    let warnings = t
        .stderr()
        .lines()
        .filter(|l| l.contains("cannot accept"))
        .count();
    t.check(
        warnings <= 2,
        format!("{warnings} warnings about accept: one per episode expected"),
    );
    t.term_expect(0);
}
