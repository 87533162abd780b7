//! What happens when a service's `run` exits: `finish` with s6's arguments,
//! its exit 125 and its timeout, restart policies, exec failures, backoff of
//! a crash loop, and a critical service that fails for good.

use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{exe, file, polite, Entry, Fixture};

#[test]
fn finish_gets_code_signal_name_pgid_and_125_stops_restarts() {
    let fx = Fixture::new(
        "finish-args",
        [
            // First run exits 3, the second is killed by signal 9, the third
            // exits 4, which its finish answers with 125.
            exe(
                "services/flaky/run",
                "echo $$ >> \"$T/starts\"\n\
                 n=$(wc -l < \"$T/starts\")\n\
                 case $n in\n\
                 1) exit 3 ;;\n\
                 2) kill -9 $$ ;;\n\
                 esac\n\
                 exit 4\n",
            ),
            exe(
                "services/flaky/finish",
                "echo \"$@\" >> \"$T/finish-args\"\n\
                 [ \"$1\" = 4 ] && exit 125\n\
                 exit 0\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    let args = t.wait_lines("finish-args", 3);
    let starts = fx.lines("starts");
    t.check_eq(starts.len(), 3, "starts when the third finish ran");
    // run is started in a new session, so its pgid is its pid.
    let want = vec![
        format!("3 0 flaky {}", starts[0]),
        format!("256 9 flaky {}", starts[1]),
        format!("4 0 flaky {}", starts[2]),
    ];
    t.check_eq(args, want, "finish arguments (CODE SIGNAL NAME PGID)");

    // The next restart would come within ~0.4s of backoff.
    thread::sleep(Duration::from_millis(1500));
    t.check_eq(
        fx.lines("starts").len(),
        3,
        "starts after finish exited 125",
    );
    t.term_expect(0);
}

#[test]
fn hung_finish_is_killed_at_timeout_finish_and_service_restarts() {
    let fx = Fixture::new(
        "finish-timeout",
        [
            exe("services/slow/run", "echo $$ >> \"$T/starts\"\nexit 0\n"),
            exe(
                "services/slow/finish",
                "echo $$ >> \"$T/finishes\"\nexec sleep 1000\n",
            ),
            file("services/slow/timeout-finish", "500\n"),
        ],
    );
    let mut t = fx.start(&["--grace", "1s"]);
    let finish_pid = t.wait_file("finishes");
    let hung = Instant::now();
    t.wait_lines("starts", 2);
    t.check_secs(
        hung.elapsed(),
        0.3,
        4.0,
        "restart after a finish hung past 500ms",
    );
    let alive = t.find_ns_pid(&finish_pid);
    t.check(
        alive.is_none(),
        format!("the hung finish is still running: {alive:?}"),
    );
    t.signal("TERM");
    // A finish may be hanging again: shutdown bounds it by --grace 1s.
    t.wait_exit();
}

#[test]
fn exec_failure_counts_as_127_or_126_for_finish() {
    let fx = Fixture::new(
        "exec-failure",
        [
            file(
                "services/ghost/service.toml",
                "command = [\"/nonexistent/ghost\"]\n",
            ),
            exe(
                "services/ghost/finish",
                "echo \"$@\" >> \"$T/finish-ghost\"\nexit 125\n",
            ),
            // Exists but is not executable: execve fails with EACCES.
            file(
                "services/noexec/service.toml",
                "command = [\"/etc/passwd\"]\n",
            ),
            exe(
                "services/noexec/finish",
                "echo \"$@\" >> \"$T/finish-noexec\"\nexit 125\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    let ghost = t.wait_file("finish-ghost");
    let noexec = t.wait_file("finish-noexec");
    t.check(
        ghost.starts_with("127 0 ghost"),
        format!("finish of a missing command got {ghost:?}, expected \"127 0 ghost PGID\""),
    );
    t.check(
        noexec.starts_with("126 0 noexec"),
        format!(
            "finish of a non-executable command got {noexec:?}, expected \"126 0 noexec PGID\""
        ),
    );
    // The exit codes are checked everywhere, the log line natively only.
    if !crate::harness::emulated(crate::harness::NO_EXEC_ERRNO) {
        t.wait_stderr("a log line naming /nonexistent/ghost", |l| {
            l.contains("/nonexistent/ghost")
        });
    }
    t.term_expect(0);
}

#[test]
fn restart_policies_always_on_failure_never() {
    let count_then = |name: &str, body: &str| {
        format!(
            "echo $$ >> \"$T/starts-{name}\"\n\
             n=$(wc -l < \"$T/starts-{name}\")\n\
             {body}\n"
        )
    };
    let fx = Fixture::new(
        "restart-policy",
        [
            // Restarted after exit 0, then stays up.
            exe(
                "services/always/run",
                &count_then("always", "[ $n -ge 2 ] && { sleep 1000 & wait; }\nexit 0"),
            ),
            // Restarted after exit 1, not after exit 0.
            exe(
                "services/onfail/run",
                &count_then("onfail", "[ $n -ge 2 ] && exit 0\nexit 1"),
            ),
            file("services/onfail/service.toml", "restart = \"on-failure\"\n"),
            // Never restarted, even after a failure.
            exe("services/never/run", &count_then("never", "exit 1")),
            file("services/never/service.toml", "restart = \"never\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("starts-always", 2);
    t.wait_lines("starts-onfail", 2);
    t.wait_lines("starts-never", 1);
    // Another restart would come within ~0.2s of backoff.
    thread::sleep(Duration::from_millis(1500));
    t.check_eq(
        fx.lines("starts-always").len(),
        2,
        "starts of restart=always",
    );
    t.check_eq(
        fx.lines("starts-onfail").len(),
        2,
        "starts of restart=on-failure",
    );
    t.check_eq(fx.lines("starts-never").len(), 1, "starts of restart=never");
    t.term_expect(0);
}

#[test]
fn crash_loop_backs_off_and_costs_little_cpu() {
    let fx = Fixture::new(
        "crash-loop",
        [exe(
            "services/crash/run",
            "echo $$ >> \"$T/starts\"\nexit 1\n",
        )],
    );
    let mut t = fx.start(&[]);
    t.wait_file("starts");
    let first = Instant::now();
    // The measuring window itself: a sleep is the point here.
    thread::sleep(Duration::from_secs(3) - first.elapsed().min(Duration::from_secs(3)));
    let n = fx.lines("starts").len();
    let cpu = t.cpu_time();
    // Delays 100ms, 200ms, 400ms, 800ms, 1.6s: starts at 0, 0.1, 0.3, 0.7,
    // 1.5s (and 3.1s), so 5 in the window; without backoff, hundreds.
    t.check(
        (4..=9).contains(&n),
        format!("{n} starts in 3s of a crash loop, expected 4..=9 (backoff from 100ms, doubling)"),
    );
    t.check(
        cpu < Duration::from_millis(500),
        format!("tend used {cpu:?} of CPU in a 3s crash loop"),
    );
    t.term_expect(0);
}

#[test]
fn critical_service_failing_for_good_shuts_down_with_its_status() {
    let fx = Fixture::new(
        "critical-fails",
        [
            exe(
                "services/core/run",
                "while [ ! -e \"$T/up-other\" ]; do sleep 0.05; done\nexit 3\n",
            ),
            file(
                "services/core/service.toml",
                "critical = true\nrestart = \"never\"\n",
            ),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("up-other");
    let code = t.wait_exit();
    t.check_eq(code, 3, "exit code after a critical service failed");
    t.check(fx.exists("term-other"), "the other service got no SIGTERM");
    let named = t
        .stderr()
        .lines()
        .any(|l| l.contains("core") && l.contains("critical"));
    t.check(
        named,
        "no log line names the failed critical service \"core\"",
    );
}

// tend exits with a failed critical service's own status: 128+N when a
// signal killed it, whatever the main command said.
#[test]
fn critical_service_killed_by_sigsegv_makes_tend_exit_139() {
    let fx = Fixture::new(
        "critical-segv",
        [
            exe(
                "services/core/run",
                "while [ ! -e \"$T/go\" ]; do sleep 0.02; done\nkill -SEGV $$\n",
            ),
            file(
                "services/core/service.toml",
                "critical = true\nrestart = \"never\"\n",
            ),
        ],
    );
    let go = fx.arg("go");
    let mut t = fx.start(&["--", "sh", "-c", "touch \"$0\"; sleep 1000", &go]);
    let code = t.wait_exit();
    t.check_eq(
        code,
        139,
        "exit code after a critical service died of SIGSEGV",
    );
}

/// A `run` that logs its start to `$T/start-NAME` and exits 4 at once.
fn crash_loop_run(name: &str) -> Entry {
    exe(
        &format!("services/{name}/run"),
        &format!("echo $$ >> \"$T/start-{name}\"\nexit 4\n"),
    )
}

/// A start budget of 3 per 10 s with quick restarts, plus `extra` keys.
fn crash_loop_toml(name: &str, extra: &str) -> Entry {
    file(
        &format!("services/{name}/service.toml"),
        &format!("start-limit = \"3/10s\"\nrestart-delay = \"20ms\"\n{extra}"),
    )
}

// start-limit = "3/10s" on a crash loop: exactly 3 starts, then `failed`;
// a critical service then takes tend down with its own status.
#[test]
fn start_limit_fails_a_crash_loop_after_exactly_n_starts() {
    let fx = Fixture::new(
        "start-limit",
        [
            crash_loop_run("loop"),
            crash_loop_toml("loop", ""),
            exe(
                "services/crit/run",
                "echo $$ >> \"$T/start-crit\"\nexit 5\n",
            ),
            crash_loop_toml("crit", "critical = true\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let code = t.wait_exit();
    t.check_eq(code, 5, "exit code: the critical service's own status");
    t.check_eq(fx.lines("start-crit").len(), 3, "starts of crit");
    let err = t.stderr();
    t.check(
        err.contains("crit: 3 starts within 10000ms (start-limit), failed"),
        "no log line says crit hit its start-limit",
    );
}

#[test]
fn start_limit_failed_service_shows_failed_and_ctl_up_clears_it() {
    let fx = Fixture::new(
        "start-limit-up",
        [
            crash_loop_run("loop"),
            crash_loop_toml("loop", ""),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_for("loop to fail", |t| {
        t.fixture().ctl(&["status", "loop"]).out.contains("failed")
    });
    t.check_eq(fx.lines("start-loop").len(), 3, "starts before failing");
    t.ctl_ok(&["up", "loop"]);
    t.wait_lines("start-loop", 6);
    t.wait_for("loop to fail again", |t| {
        t.fixture().ctl(&["status", "loop"]).out.contains("failed")
    });
    t.check_eq(fx.lines("start-loop").len(), 6, "starts after ctl up");
    t.term_expect(0);
}
