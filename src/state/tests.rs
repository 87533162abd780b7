//! Every (state, event) pair of `Service::step`, without a process.

use super::*;
use crate::config::Restart as RestartPolicy;
use Action::*;
use Event::{FinishExited, RunExited, Start, Stop, Timer};

pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn svc(f: impl FnOnce(&mut Policy)) -> Service {
    let mut p = Policy::default();
    f(&mut p);
    Service::new(p)
}

pub(super) fn up(s: &mut Service, t: Instant) {
    assert_eq!(s.step(Start, t), vec![SpawnRun]);
    assert_eq!(s.state, State::Up { since: t });
}

#[test]
fn decode_status_reads_every_signal_and_code() {
    // (raw wait status, what it says), as the kernel encodes them.
    let table = [
        (0x0000, Some(Exit::Code(0))),
        (0x0300, Some(Exit::Code(3))),
        (0xff00, Some(Exit::Code(255))),
        (9, Some(Exit::Signal(9))),
        (0x80 | 6, Some(Exit::Signal(6))), // core dumped
        (37, Some(Exit::Signal(37))),      // real-time: nix lost these
        (40, Some(Exit::Signal(40))),
        (64, Some(Exit::Signal(64))),
        (0x137f, None), // stopped by SIGSTOP
        (0xffff, None), // continued
    ];
    for (raw, want) in table {
        assert_eq!(Exit::from_wait_status(raw), want, "status {raw:#x}");
    }
}

#[test]
fn start_spawns_and_stop_signals_then_kills_at_grace() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.grace = 1000 * MS);
    up(&mut s, t0);
    assert_eq!(
        s.step(Stop, t0 + MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.name_of_state(), "stopping");
    assert_eq!(s.deadline(), Some(t0 + 1001 * MS));
    assert_eq!(s.step(Timer, t0 + 500 * MS), vec![]);
    assert_eq!(s.step(Timer, t0 + 1001 * MS), vec![Signal(libc::SIGKILL)]);
    assert!(s.killed);
    assert_eq!(s.deadline(), None);
    assert_eq!(s.step(RunExited(Exit::Signal(9)), t0 + 1002 * MS), vec![]);
    assert_eq!(s.state, State::Down);
    assert_eq!(s.last_exit, Some(Exit::Signal(9)));
}

#[test]
fn prompt_exit_on_stop_is_not_killed() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.stop_signal = libc::SIGQUIT);
    up(&mut s, t0);
    assert_eq!(
        s.step(Stop, t0),
        vec![Signal(libc::SIGQUIT), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + MS), vec![]);
    assert_eq!(s.state, State::Down);
    assert!(!s.killed);
}

#[test]
fn crash_loop_backs_off_doubling_to_the_max_and_resets_after_long_run() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.delay_max = 350 * MS);
    up(&mut s, t0);
    let mut t = t0;
    // Expected waits: 100, 200, 350 (capped), 350.
    for wait in [100, 200, 350, 350] {
        assert_eq!(s.step(RunExited(Exit::Code(1)), t), vec![]);
        assert_eq!(
            s.state,
            State::Backoff {
                until: t + wait * MS
            }
        );
        assert_eq!(s.step(Timer, t + (wait - 1) * MS), vec![]);
        t += wait * MS;
        assert_eq!(s.step(Timer, t), vec![SpawnRun]);
    }
    assert_eq!(s.restarts, 4);
    // Up for 10 s: the delay starts over.
    t += BACKOFF_RESET;
    s.step(RunExited(Exit::Code(1)), t);
    assert_eq!(
        s.state,
        State::Backoff {
            until: t + 100 * MS
        }
    );
}

#[test]
fn start_limit_fails_the_n_plus_first_start_within_the_window() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.start_limit = Some((3, 10_000 * MS));
        p.delay_max = 100 * MS;
    });
    up(&mut s, t0);
    let mut t = t0;
    for _ in 0..2 {
        s.step(RunExited(Exit::Code(1)), t);
        t += 100 * MS;
        assert_eq!(s.step(Timer, t), vec![SpawnRun]);
    }
    s.step(RunExited(Exit::Code(1)), t);
    t += 100 * MS;
    assert_eq!(s.step(Timer, t), vec![GaveUp], "the 4th start in 10s");
    assert_eq!(s.state, State::Failed);
    assert!(s.start_limited);
    // `ctl up` clears it.
    assert_eq!(s.step(Start, t), vec![SpawnRun]);
    assert!(!s.start_limited);
}

#[test]
fn start_limit_counts_only_starts_within_the_window() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.start_limit = Some((2, 1000 * MS)));
    up(&mut s, t0);
    let mut t = t0;
    // One start every 600 ms: never 3 within a second.
    for _ in 0..10 {
        s.step(RunExited(Exit::Code(1)), t + 500 * MS);
        t += 600 * MS;
        assert_eq!(s.step(Event::Restart, t), vec![SpawnRun]);
    }
}

#[test]
fn restart_policies() {
    // (policy, exit, state after, actions)
    let cases = [
        (RestartPolicy::Always, Exit::Code(0), "backoff", vec![]),
        (RestartPolicy::Always, Exit::Signal(9), "backoff", vec![]),
        (
            RestartPolicy::OnFailure,
            Exit::Code(0),
            "down",
            vec![Completed],
        ),
        (RestartPolicy::OnFailure, Exit::Code(2), "backoff", vec![]),
        (
            RestartPolicy::OnFailure,
            Exit::Signal(15),
            "backoff",
            vec![],
        ),
        (RestartPolicy::Never, Exit::Code(0), "down", vec![Completed]),
        (RestartPolicy::Never, Exit::Code(1), "failed", vec![GaveUp]),
    ];
    for (policy, exit, state, actions) in cases {
        let t0 = Instant::now();
        let mut s = svc(|p| p.restart = policy);
        up(&mut s, t0);
        assert_eq!(s.step(RunExited(exit), t0), actions, "{policy:?} {exit:?}");
        assert_eq!(s.name_of_state(), state, "{policy:?} {exit:?}");
    }
}

#[test]
fn finish_runs_after_run_and_125_means_no_restart() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.has_finish = true);
    up(&mut s, t0);
    assert_eq!(
        s.step(RunExited(Exit::Code(3)), t0),
        vec![SpawnFinish(Exit::Code(3))]
    );
    assert_eq!(s.name_of_state(), "finishing");
    assert_eq!(s.deadline(), Some(t0 + 5000 * MS));
    assert_eq!(s.step(FinishExited(Exit::Code(0)), t0 + MS), vec![]);
    assert_eq!(s.name_of_state(), "backoff");
    s.step(Timer, t0 + 200 * MS);
    s.step(RunExited(Exit::Code(3)), t0 + 300 * MS);
    assert_eq!(
        s.step(FinishExited(Exit::Code(125)), t0 + 301 * MS),
        vec![GaveUp]
    );
    assert_eq!(s.state, State::Failed);
}

#[test]
fn hung_finish_is_killed_and_does_not_block_restart() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.has_finish = true;
        p.finish_timeout = Some(500 * MS);
    });
    up(&mut s, t0);
    s.step(RunExited(Exit::Signal(9)), t0);
    assert_eq!(s.step(Timer, t0 + 499 * MS), vec![]);
    assert_eq!(s.step(Timer, t0 + 500 * MS), vec![KillFinish]);
    assert_eq!(s.step(FinishExited(Exit::Signal(9)), t0 + 501 * MS), vec![]);
    assert_eq!(s.name_of_state(), "backoff");
}

#[test]
fn finish_on_the_way_down_is_bounded_by_the_grace() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.has_finish = true;
        p.finish_timeout = None;
        p.grace = 2000 * MS;
    });
    up(&mut s, t0);
    s.step(Stop, t0);
    s.step(RunExited(Exit::Code(0)), t0 + 10 * MS);
    assert_eq!(s.deadline(), Some(t0 + 2010 * MS));
    assert_eq!(s.step(FinishExited(Exit::Code(0)), t0 + 20 * MS), vec![]);
    assert_eq!(s.state, State::Down);
}

#[test]
fn stop_during_backoff_and_finish() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.has_finish = true;
        p.grace = 1000 * MS;
    });
    up(&mut s, t0);
    s.step(RunExited(Exit::Code(1)), t0);
    assert_eq!(s.deadline(), Some(t0 + 5000 * MS));
    // finish's own timeout is cut down to the grace from the stop.
    assert_eq!(s.step(Stop, t0 + MS), vec![]);
    assert_eq!(s.deadline(), Some(t0 + 1001 * MS));
    s.step(FinishExited(Exit::Code(0)), t0 + 2 * MS);
    assert_eq!(s.state, State::Down);

    let mut s = svc(|_| {});
    up(&mut s, t0);
    s.step(RunExited(Exit::Code(1)), t0);
    assert_eq!(s.step(Stop, t0 + MS), vec![]);
    assert_eq!(s.state, State::Down);
    assert_eq!(s.step(Timer, t0 + 10_000 * MS), vec![]);
}

#[test]
fn restart_stops_then_starts_at_once() {
    let t0 = Instant::now();
    let mut s = svc(|_| {});
    up(&mut s, t0);
    assert_eq!(
        s.step(Event::Restart, t0),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.step(RunExited(Exit::Signal(15)), t0 + MS), vec![SpawnRun]);
    assert_eq!(s.restarts, 1);
    // Restart during backoff skips the wait.
    s.step(RunExited(Exit::Code(1)), t0 + 2 * MS);
    assert_eq!(s.step(Event::Restart, t0 + 3 * MS), vec![SpawnRun]);
}

#[test]
fn start_while_stopping_comes_back_without_delay() {
    let t0 = Instant::now();
    let mut s = svc(|_| {});
    up(&mut s, t0);
    s.step(Stop, t0);
    assert_eq!(s.step(Start, t0 + MS), vec![]);
    assert_eq!(
        s.step(RunExited(Exit::Code(0)), t0 + 2 * MS),
        vec![SpawnRun]
    );
}

#[test]
fn kill_signal_as_stop_signal_sends_no_cont() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.stop_signal = libc::SIGKILL);
    up(&mut s, t0);
    assert_eq!(s.step(Stop, t0), vec![Signal(libc::SIGKILL)]);
}

#[test]
fn readiness() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.has_readiness = true);
    up(&mut s, t0);
    assert_eq!((s.name_of_state(), s.ready), ("starting", false));
    assert_eq!(s.step(Event::Ready, t0), vec![]);
    assert_eq!((s.name_of_state(), s.ready), ("ready", true));
    s.step(RunExited(Exit::Code(1)), t0);
    assert!(!s.ready);
    assert_eq!(s.step(Event::Ready, t0), vec![]);
    assert!(!s.ready, "readiness after exit is ignored");
    s.step(Timer, t0 + 100 * MS);
    assert_eq!((s.name_of_state(), s.ready), ("starting", false));

    let mut plain = svc(|_| {});
    up(&mut plain, t0);
    assert_eq!((plain.name_of_state(), plain.ready), ("up", true));
}

#[test]
fn exit_conversions() {
    assert_eq!(Exit::Code(3).finish_args(), (3, 0));
    assert_eq!(Exit::Signal(9).finish_args(), (256, 9));
    assert_eq!(Exit::Signal(9).shell_code(), 137);
    assert_eq!(Exit::Code(7).shell_code(), 7);
    assert_eq!(Exit::Code(1).to_string(), "exited with status 1");
    assert_eq!(Exit::Signal(15).to_string(), "killed by SIGTERM");
}
