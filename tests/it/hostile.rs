//! Hostile clients and unlucky resources (issue 9): the control socket, the
//! output pipes and tend's own stdout, each pushed past its limit. tend must
//! stay responsive, bounded in memory and CPU, and able to stop.

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{exe, file, polite, proc_stat, Fixture};

/// True once process `pid` has blocked writing to a full pipe.
fn blocked_on_pipe(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pipe_write"))
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
        let mut s = t.connect();
        s.write_all(b"wait down a\n").expect("send wait");
        held.push(s);
    }
    for _ in 0..100 {
        held.push(t.connect());
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
    let limit = t.fd_count() + 4;
    let lim = format!("--nofile={limit}:{limit}");
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &lim])
        .status()
        .is_ok_and(|s| s.success());
    t.check(ok, format!("prlimit --pid {pid} {lim} failed"));

    let held: Vec<UnixStream> = (0..60).map(|_| t.connect()).collect();
    // tend evicts idle clients when accept() fails, so its fd count does not
    // stay at the limit: the warning is what says it ran out.
    t.wait_stderr("tend to run out of fds", |e| e.contains("cannot accept"));
    let cpu = t.cpu_over(Duration::from_secs(1));
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

/// Symptom (#4): a `run` that leaves a writer behind (`yes &`) and exits
/// kept tend draining its pipe forever: no signals, no reaping, no control,
/// and the output queue grew by 113 MB a second.
#[test]
fn output_of_a_dead_run_is_drained_within_bounds() {
    // A 200-byte name makes each 2-byte line of `yes` a 203-byte prefixed
    // line: tend reads slower than `yes` writes, so the pipe never empties.
    let name = "l".repeat(200);
    let fx = Fixture::new(
        "leftover-writer",
        [
            exe(
                &format!("services/{name}/run"),
                "yes &\nsleep 0.3\necho $! > \"$T/yes-pid\"\nexit 0\n",
            ),
            file(
                &format!("services/{name}/service.toml"),
                "restart = \"never\"\n",
            ),
        ],
    );
    let mut t = fx.start(&["--log-prefix"]);
    // Nobody reads tend's stdout: its queue cannot drain either.
    t.hold_stdout(true);
    t.wait_file("yes-pid");
    let start = Instant::now();
    let mut peak = 0;
    while start.elapsed() < Duration::from_secs(2) {
        peak = peak.max(t.rss_kib());
        if peak > 20 * 1024 {
            t.fail(format!("tend's RSS reached {peak} KiB"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!("a left-behind `yes` on a dead run's stdout: tend's peak RSS {peak} KiB over 2 s");
    let r = t.ctl(&["status"]);
    t.check(
        r.code == 0 && r.out.contains(&name) && r.took < Duration::from_secs(3),
        format!("status while a left-behind writer floods: {r}"),
    );
    let sent = t.signal("TERM");
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code");
    t.check_secs(sent.elapsed(), 0.0, 10.0, "stop with a left-behind writer");
}

/// Symptom (#13): with tend's stdout a pipe nobody reads, tend blocked in
/// its final write once every child was gone, and never exited.
#[test]
fn shutdown_is_bounded_when_stdout_is_not_read() {
    let fx = Fixture::new(
        "stalled-stdout",
        [exe(
            "services/chatty/run",
            "echo $$ > \"$T/pid-chatty\"\nexec yes\n",
        )],
    );
    // Prefixed: the service writes into tend's pipe, tend queues it.
    let mut t = fx.start(&["--log-prefix"]);
    t.hold_stdout(true);
    let pid = t.pid();
    let ns_pid = t.wait_file("pid-chatty");
    let yes = match t.find_ns_pid(&ns_pid) {
        Some(p) => p.pid,
        None => t.fail("the chatty service is not running"),
    };
    // `yes` blocks once tend stopped reading it: tend's queue is full, so
    // is the pipe to us.
    t.wait_for("the chatty service to block on its pipe", |_| {
        blocked_on_pipe(yes)
    });
    let sent = t.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_stat(pid).is_some_and(|p| p.state != 'Z') {
        if Instant::now() > deadline {
            t.fail("tend did not exit within 10 s of TERM with its stdout stalled");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    eprintln!(
        "stalled stdout: tend exited {:.3}s after TERM",
        took.as_secs_f64()
    );
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code");
    t.check(
        t.stderr().contains("dropped") && t.stderr().contains("bytes of output to stdout"),
        "no notice of the output dropped at exit",
    );
}
