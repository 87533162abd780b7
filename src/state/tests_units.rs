//! The states units and daemons add: `pid-file` (run daemonizes, the
//! daemon is the main process), a stop command (ExecStop=), oneshots.

use super::tests::{svc, up, MS};
use super::*;
use crate::config::Restart as RestartPolicy;
use Action::*;
use Event::{RunExited, Start, Stop, Timer};

// ---- pid-file services: run daemonizes, the daemon is the main process ----

const TIMEOUT: Duration = Duration::from_millis(1000);

fn daemon_svc(f: impl FnOnce(&mut Policy)) -> Service {
    svc(|p| {
        p.pid_file = true;
        p.start_timeout = TIMEOUT;
        f(p);
    })
}

/// Started at t, `run` exited 0 at t + 10 ms: the pid file is being read.
fn daemonizing(s: &mut Service, t: Instant) {
    up(s, t);
    assert_eq!(s.step(RunExited(Exit::Code(0)), t + 10 * MS), vec![]);
    assert_eq!(s.deadline(), Some(t + 10 * MS), "read at once");
    assert_eq!(s.step(Timer, t + 10 * MS), vec![ReadPidFile]);
}

#[test]
fn pid_file_run_exiting_0_leaves_a_daemon_to_find_then_supervise() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|_| {});
    up(&mut s, t0);
    assert_eq!(
        (s.name_of_state(), s.ready, s.is_up()),
        ("starting", false, false)
    );
    assert_eq!(s.deadline(), Some(t0 + TIMEOUT), "run must exit within it");
    assert!(s.daemonizes(Exit::Code(0)) && !s.daemonizes(Exit::Code(1)));
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + 10 * MS), vec![]);
    assert_eq!(s.name_of_state(), "starting");
    assert!(s.has_process(), "the daemon may run, not found yet");
    // Read once every exit reaped with run's is known: at the Timer due now.
    assert_eq!(s.deadline(), Some(t0 + 10 * MS));
    assert_eq!(s.step(Timer, t0 + 10 * MS), vec![ReadPidFile]);
    // Not there yet: read again every PID_FILE_RETRY, no sooner.
    let retry = t0 + 10 * MS + PID_FILE_RETRY;
    assert_eq!(s.deadline(), Some(retry));
    assert_eq!(s.step(Timer, retry - MS), vec![]);
    assert_eq!(s.step(Timer, retry), vec![ReadPidFile]);
    assert_eq!(s.deadline(), Some(retry + PID_FILE_RETRY));
    assert_eq!(s.step(Event::Adopted, retry + MS), vec![]);
    assert_eq!((s.name_of_state(), s.ready, s.is_up()), ("up", true, true));
    assert_eq!(s.state, State::Up { since: t0 });
    assert_eq!(s.deadline(), None);
    // The daemon's exit is the service's: backoff, then a new run.
    assert_eq!(s.step(RunExited(Exit::Signal(9)), t0 + 2000 * MS), vec![]);
    assert_eq!(s.name_of_state(), "backoff");
    assert_eq!(s.step(Timer, t0 + 2100 * MS), vec![SpawnRun]);
    assert_eq!((s.is_up(), s.adopted, s.restarts), (false, false, 1));
}

#[test]
fn pid_file_daemon_stops_as_a_run_does() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.grace = 500 * MS);
    daemonizing(&mut s, t0);
    s.step(Event::Adopted, t0 + 20 * MS);
    assert_eq!(
        s.step(Stop, t0 + 30 * MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.step(Timer, t0 + 530 * MS), vec![Signal(libc::SIGKILL)]);
    assert_eq!(s.step(RunExited(Exit::Signal(9)), t0 + 531 * MS), vec![]);
    assert_eq!(s.state, State::Down);
}

#[test]
fn pid_file_run_failing_is_a_plain_failed_run() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.restart = RestartPolicy::OnFailure);
    up(&mut s, t0);
    assert_eq!(s.step(RunExited(Exit::Code(1)), t0), vec![]);
    assert_eq!(s.name_of_state(), "backoff");
}

#[test]
fn pid_file_daemon_that_exited_before_it_was_found_is_the_services_exit() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.has_finish = true);
    daemonizing(&mut s, t0);
    assert_eq!(
        s.step(RunExited(Exit::Code(7)), t0 + 20 * MS),
        vec![SpawnFinish(Exit::Code(7))]
    );
    assert_eq!(s.last_exit, Some(Exit::Code(7)));
}

#[test]
fn pid_file_naming_no_daemon_by_the_start_timeout_is_a_failed_start() {
    // (restart policy, finish, actions at the timeout, state after)
    let cases = [
        (RestartPolicy::Always, false, vec![FailedStart], "backoff"),
        // run exited 0, but the start failed: not a success.
        (
            RestartPolicy::OnFailure,
            false,
            vec![FailedStart],
            "backoff",
        ),
        (
            RestartPolicy::Never,
            false,
            vec![FailedStart, GaveUp],
            "failed",
        ),
        (
            RestartPolicy::Always,
            true,
            vec![FailedStart, SpawnFinish(Exit::Code(0))],
            "finishing",
        ),
    ];
    for (policy, finish, actions, state) in cases {
        let t0 = Instant::now();
        let mut s = daemon_svc(|p| {
            p.restart = policy;
            p.has_finish = finish;
        });
        daemonizing(&mut s, t0);
        let mut t = t0 + 10 * MS;
        while s.deadline() < Some(t0 + TIMEOUT) {
            t = s.deadline().unwrap_or(t);
            assert_eq!(s.step(Timer, t), vec![ReadPidFile], "{policy:?}");
        }
        assert_eq!(s.deadline(), Some(t0 + TIMEOUT), "{policy:?}");
        assert_eq!(s.step(Timer, t0 + TIMEOUT), actions, "{policy:?}");
        assert_eq!(s.name_of_state(), state, "{policy:?}");
    }
    // The next start begins afresh.
    let t0 = Instant::now();
    let mut s = daemon_svc(|_| {});
    daemonizing(&mut s, t0);
    s.step(Timer, t0 + TIMEOUT);
    assert_eq!(s.step(Timer, t0 + TIMEOUT + 100 * MS), vec![SpawnRun]);
    assert_eq!(
        s.step(RunExited(Exit::Code(0)), t0 + TIMEOUT + 110 * MS),
        vec![]
    );
    assert_eq!(s.step(Timer, t0 + TIMEOUT + 110 * MS), vec![ReadPidFile]);
    s.step(Event::Adopted, t0 + TIMEOUT + 120 * MS);
    s.step(RunExited(Exit::Code(0)), t0 + TIMEOUT + 130 * MS);
    assert_eq!(s.name_of_state(), "backoff", "restart = always");
}

#[test]
fn pid_file_run_still_running_at_the_start_timeout_is_stopped_and_failed() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.restart = RestartPolicy::OnFailure);
    up(&mut s, t0);
    assert_eq!(s.step(Timer, t0 + TIMEOUT - MS), vec![]);
    assert_eq!(
        s.step(Timer, t0 + TIMEOUT),
        vec![FailedStart, Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.name_of_state(), "stopping");
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + TIMEOUT + MS), vec![]);
    assert_eq!(s.name_of_state(), "backoff", "a failure, whatever run said");
}

#[test]
fn pid_file_stop_or_restart_while_daemonizing() {
    let t0 = Instant::now();
    let grace = 200 * MS;
    // Stop: the daemon is looked for within the grace, then stopped.
    let mut s = daemon_svc(|p| p.grace = grace);
    daemonizing(&mut s, t0);
    assert_eq!(s.step(Stop, t0 + 20 * MS), vec![]);
    assert!(!s.want_up);
    assert_eq!(
        s.state,
        State::Daemonizing {
            since: t0,
            retry_at: t0 + 10 * MS + PID_FILE_RETRY,
            until: t0 + 20 * MS + grace
        }
    );
    assert_eq!(
        s.step(Event::Adopted, t0 + 30 * MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.step(RunExited(Exit::Signal(15)), t0 + 40 * MS), vec![]);
    assert_eq!(s.state, State::Down);

    // Stop, and no daemon within the grace: down (nothing to restart).
    let mut s = daemon_svc(|p| p.grace = grace);
    daemonizing(&mut s, t0);
    s.step(Stop, t0 + 20 * MS);
    assert_eq!(s.step(Timer, t0 + 20 * MS + grace), vec![FailedStart]);
    assert_eq!(s.state, State::Down);

    // Start again before it is found: it just carries on.
    let mut s = daemon_svc(|_| {});
    daemonizing(&mut s, t0);
    s.step(Stop, t0 + 20 * MS);
    assert_eq!(s.step(Start, t0 + 30 * MS), vec![]);
    assert_eq!(s.step(Event::Adopted, t0 + 40 * MS), vec![]);
    assert!(s.is_up());

    // Restart: once found, stopped, then started at once.
    let mut s = daemon_svc(|_| {});
    daemonizing(&mut s, t0);
    assert_eq!(s.step(Event::Restart, t0 + 20 * MS), vec![]);
    assert_eq!(
        s.step(Event::Adopted, t0 + 30 * MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(
        s.step(RunExited(Exit::Signal(15)), t0 + 40 * MS),
        vec![SpawnRun]
    );
}

#[test]
fn pid_file_with_a_readiness_signal_is_up_only_once_found() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.has_readiness = true);
    daemonizing(&mut s, t0);
    assert_eq!(s.step(Event::Ready, t0 + 20 * MS), vec![]);
    assert!(s.ready && !s.is_up());
    assert_eq!(s.name_of_state(), "starting");
    s.step(Event::Adopted, t0 + 30 * MS);
    assert_eq!(s.name_of_state(), "ready");

    // Without one, found means ready; adoption anywhere else is a bug that
    // PID 1 survives (a warning, nothing done).
    let mut s = daemon_svc(|_| {});
    if !cfg!(debug_assertions) {
        assert_eq!(s.step(Event::Adopted, t0), vec![]);
        assert_eq!(s.state, State::Down);
    }
    daemonizing(&mut s, t0);
    s.step(Event::Adopted, t0 + 20 * MS);
    assert!(s.ready);
}

#[test]
fn stop_command_runs_instead_of_the_signal_which_follows_its_exit() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.stop_command = true;
        p.grace = 1000 * MS;
    });
    up(&mut s, t0);
    assert_eq!(s.step(Stop, t0 + MS), vec![SpawnStopCommand]);
    assert_eq!(s.name_of_state(), "stopping");
    assert_eq!(
        s.deadline(),
        Some(t0 + 1001 * MS),
        "the grace counts from the stop"
    );
    // The main process still runs when the command is done: the signal.
    assert_eq!(
        s.step(Event::StopCommandExited, t0 + 10 * MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    assert_eq!(s.step(Timer, t0 + 1001 * MS), vec![Signal(libc::SIGKILL)]);
    assert_eq!(s.step(RunExited(Exit::Signal(9)), t0 + 1002 * MS), vec![]);
    assert_eq!(s.state, State::Down);

    // The command stopped it (nginx's ExecStop): nothing more is sent.
    up(&mut s, t0);
    assert_eq!(s.step(Event::Restart, t0 + MS), vec![SpawnStopCommand]);
    assert_eq!(
        s.step(RunExited(Exit::Code(0)), t0 + 2 * MS),
        vec![SpawnRun]
    );
    assert_eq!(s.step(Event::StopCommandExited, t0 + 3 * MS), vec![]);
    assert!(s.is_up());
    // A command that outlives the grace: SIGKILL all the same.
    assert_eq!(s.step(Stop, t0 + 4 * MS), vec![SpawnStopCommand]);
    assert_eq!(s.step(Timer, t0 + 1004 * MS), vec![Signal(libc::SIGKILL)]);
}

#[test]
fn stop_command_is_not_run_for_a_daemon_not_yet_found() {
    let t0 = Instant::now();
    let mut s = daemon_svc(|p| p.stop_command = true);
    up(&mut s, t0);
    // `run` still launching at the stop: the signal, as for any failed start.
    assert_eq!(
        s.step(Stop, t0 + MS),
        vec![Signal(libc::SIGTERM), Signal(libc::SIGCONT)]
    );
    let mut s = daemon_svc(|p| p.stop_command = true);
    daemonizing(&mut s, t0);
    assert_eq!(s.step(Event::Adopted, t0 + 2 * MS), vec![]);
    assert_eq!(s.step(Stop, t0 + 3 * MS), vec![SpawnStopCommand]);
}

#[test]
fn oneshot_is_ready_once_exited_0_then_down_and_never_restarted() {
    let t0 = Instant::now();
    let mut s = svc(|p| p.oneshot = true);
    up(&mut s, t0);
    assert!(!s.ready && !s.done, "not ready while it runs");
    assert_eq!(s.name_of_state(), "starting");
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + MS), vec![Completed]);
    assert_eq!((s.state, s.done, s.want_up), (State::Down, true, false));
    assert_eq!(s.deadline(), None, "no restart, whatever the policy");
    // A failure follows the restart policy, and is not done.
    up(&mut s, t0);
    assert!(!s.done);
    assert_eq!(s.step(RunExited(Exit::Code(1)), t0 + MS), vec![]);
    assert_eq!(s.name_of_state(), "backoff");
}

#[test]
fn oneshot_remaining_after_exit_is_up_with_no_process() {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.oneshot = true;
        p.remain_after_exit = true;
    });
    up(&mut s, t0);
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + MS), vec![]);
    assert_eq!(s.state, State::Remaining { since: t0 + MS });
    assert!(s.is_up() && s.ready && s.done && !s.has_process());
    assert_eq!(s.name_of_state(), "up");
    assert_eq!(s.step(Start, t0 + 2 * MS), vec![]);
    assert_eq!(s.step(Timer, t0 + 2 * MS), vec![]);
    // Restart runs it again; stop makes it down, with no signal to send.
    assert_eq!(s.step(Event::Restart, t0 + 3 * MS), vec![SpawnRun]);
    assert_eq!(s.restarts, 1);
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + 4 * MS), vec![]);
    assert_eq!(s.step(Stop, t0 + 5 * MS), vec![]);
    assert_eq!((s.state, s.want_up, s.done), (State::Down, false, false));

    // With ExecStop=: stopping until it exits (bounded by the grace).
    let mut s = svc(|p| {
        p.oneshot = true;
        p.remain_after_exit = true;
        p.stop_command = true;
        p.grace = 1000 * MS;
    });
    up(&mut s, t0);
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + MS), vec![]);
    assert_eq!(s.step(Stop, t0 + 2 * MS), vec![SpawnStopCommand]);
    assert_eq!(s.name_of_state(), "stopping");
    assert!(s.has_process());
    assert_eq!(s.step(Timer, t0 + 1002 * MS), vec![Signal(libc::SIGKILL)]);
    assert_eq!(s.step(Event::StopCommandExited, t0 + 1003 * MS), vec![]);
    assert_eq!(s.state, State::Down);
    up(&mut s, t0);
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + MS), vec![]);
    assert_eq!(s.step(Event::Restart, t0 + 2 * MS), vec![SpawnStopCommand]);
    assert_eq!(
        s.step(Event::StopCommandExited, t0 + 3 * MS),
        vec![SpawnRun]
    );
}

// ---- a unit's exit statuses ----

/// After `exit`, what a service with `restart` and the unit's rules does.
fn after_exit(restart: RestartPolicy, rules: &UnitRules, exit: Exit) -> (State, Vec<Action>) {
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.restart = restart;
        p.unit = rules.clone().into();
    });
    up(&mut s, t0);
    let actions = s.step(RunExited(exit), t0 + MS);
    (s.state, actions)
}

#[test]
fn success_prevent_and_force_exit_statuses_decide_the_restart() {
    use RestartPolicy::{Always, Never, OnFailure};
    let backoff = |st: &State| matches!(st, State::Backoff { .. });
    let rules = UnitRules {
        success: vec![Exit::Code(75), Exit::Signal(libc::SIGTERM)],
        prevent: vec![Exit::Code(3), Exit::Code(75)],
        force: vec![Exit::Code(3), Exit::Code(0), Exit::Signal(libc::SIGUSR1)],
        ..UnitRules::default()
    };
    let (done, gave_up) = (
        (State::Down, vec![Completed]),
        (State::Failed, vec![GaveUp]),
    );
    // (restart, exit, backoff?, else the end state and actions)
    let table = [
        // SuccessExitStatus=: clean for on-failure, and not a failure for no.
        (OnFailure, Exit::Signal(libc::SIGTERM), false, &done),
        (Never, Exit::Signal(libc::SIGTERM), false, &done),
        (OnFailure, Exit::Code(1), true, &done),
        (Never, Exit::Code(1), false, &gave_up),
        // RestartPreventExitStatus= wins over Always and over force; a
        // prevented clean status is done, a failure failed.
        (Always, Exit::Code(75), false, &done),
        (Always, Exit::Code(3), false, &gave_up),
        (OnFailure, Exit::Code(3), false, &gave_up),
        // RestartForceExitStatus=: even with Restart=no, even on success.
        (Never, Exit::Code(0), true, &done),
        (Never, Exit::Signal(libc::SIGUSR1), true, &done),
        (OnFailure, Exit::Code(0), true, &done),
        (Always, Exit::Code(0), true, &done),
    ];
    for (restart, exit, restarts, end) in table {
        let (state, actions) = after_exit(restart, &rules, exit);
        match restarts {
            true => assert!(backoff(&state), "{restart:?} {exit:?}: {state:?}"),
            false => assert_eq!((state, actions), end.clone(), "{restart:?} {exit:?}"),
        }
    }
    // Without rules: tend's own behaviour (a signal is a failure).
    let none = UnitRules::default();
    assert!(backoff(
        &after_exit(OnFailure, &none, Exit::Signal(libc::SIGTERM)).0
    ));
    assert_eq!(
        after_exit(Never, &none, Exit::Signal(libc::SIGTERM)),
        gave_up
    );
    // Restart=on-success, on-abnormal, on-abort, on-watchdog: by how it
    // ended (a clean signal is in `success` for units).
    use crate::state::RestartWhen::{OnAbnormal, OnAbort, OnSuccess, OnWatchdog};
    let when = |w| UnitRules {
        success: vec![Exit::Signal(libc::SIGTERM)],
        restart_when: Some(w),
        ..UnitRules::default()
    };
    for (w, exit, restarts) in [
        (OnSuccess, Exit::Code(0), true),
        (OnSuccess, Exit::Signal(libc::SIGTERM), true),
        (OnSuccess, Exit::Code(1), false),
        (OnSuccess, Exit::Signal(libc::SIGSEGV), false),
        (OnAbnormal, Exit::Code(0), false),
        (OnAbnormal, Exit::Code(1), false),
        (OnAbnormal, Exit::Signal(libc::SIGSEGV), true),
        (OnAbnormal, Exit::Signal(libc::SIGTERM), false),
        (OnAbort, Exit::Code(1), false),
        (OnAbort, Exit::Signal(libc::SIGABRT), true),
        (OnWatchdog, Exit::Code(1), false),
        (OnWatchdog, Exit::Signal(libc::SIGSEGV), false),
    ] {
        let (state, _) = after_exit(OnFailure, &when(w), exit);
        assert_eq!(backoff(&state), restarts, "{w:?} {exit:?}: {state:?}");
    }
    // A oneshot's success status: done, its dependents released.
    let t0 = Instant::now();
    let mut s = svc(|p| {
        p.oneshot = true;
        p.restart = Never;
        p.unit.success = vec![Exit::Code(2)];
    });
    up(&mut s, t0);
    assert_eq!(s.step(RunExited(Exit::Code(2)), t0 + MS), vec![Completed]);
    assert!(s.done);
}

// ---- KillMode= ----

#[test]
fn kill_mode_says_who_gets_the_stop_signal_and_sigkill() {
    use Action::SignalMain;
    let (term, cont, kill) = (libc::SIGTERM, libc::SIGCONT, libc::SIGKILL);
    let table = [
        (
            KillMode::Group,
            [Signal(term), Signal(cont)],
            vec![Signal(kill)],
        ),
        (
            KillMode::Mixed,
            [SignalMain(term), SignalMain(cont)],
            vec![Signal(kill)],
        ),
        (
            KillMode::Process,
            [SignalMain(term), SignalMain(cont)],
            vec![SignalMain(kill)],
        ),
        (KillMode::None, [SignalMain(term), SignalMain(cont)], vec![]),
    ];
    let t0 = Instant::now();
    for (mode, stop, at_grace) in table {
        let mut s = svc(|p| {
            p.unit.kill_mode = mode;
            p.grace = 1000 * MS;
        });
        up(&mut s, t0);
        assert_eq!(s.step(Stop, t0 + MS), stop, "{mode:?}");
        assert_eq!(s.step(Timer, t0 + 1001 * MS), at_grace, "{mode:?}");
        assert_eq!(s.killed, !at_grace.is_empty(), "{mode:?}");
        assert_eq!((s.name_of_state(), s.deadline()), ("stopping", None));
        assert_eq!(
            s.step(RunExited(Exit::Signal(kill)), t0 + 1002 * MS),
            vec![]
        );
        assert_eq!(s.state, State::Down, "{mode:?}");
    }
    // After an ExecStop=, what is left gets the signal the same way.
    let mut s = svc(|p| {
        p.unit.kill_mode = KillMode::Process;
        p.stop_command = true;
    });
    up(&mut s, t0);
    assert_eq!(s.step(Stop, t0 + MS), vec![SpawnStopCommand]);
    assert_eq!(
        s.step(Event::StopCommandExited, t0 + 2 * MS),
        vec![SignalMain(term), SignalMain(cont)]
    );
}

// ---- TimeoutStartSec= ----

#[test]
fn a_unit_not_ready_within_its_start_timeout_failed_to_start() {
    let t0 = Instant::now();
    let (term, cont) = (libc::SIGTERM, libc::SIGCONT);
    let unit = |p: &mut Policy| {
        p.has_readiness = true;
        p.restart = RestartPolicy::OnFailure;
        p.unit.ready_bound = true;
        p.unit.start_timeout = Some(500 * MS);
    };
    let mut s = svc(unit);
    up(&mut s, t0);
    assert_eq!(s.deadline(), Some(t0 + 500 * MS));
    assert_eq!(s.step(Timer, t0 + 499 * MS), vec![]);
    assert_eq!(
        s.step(Timer, t0 + 500 * MS),
        vec![FailedStart, Signal(term), Signal(cont)]
    );
    // It exits 0 on TERM: still a failure, restarted by on-failure.
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + 510 * MS), vec![]);
    assert!(matches!(s.state, State::Backoff { .. }));
    // Ready in time: no deadline any more.
    let mut s = svc(unit);
    up(&mut s, t0);
    assert_eq!(s.step(Event::Ready, t0 + 100 * MS), vec![]);
    assert_eq!(s.deadline(), None);
    // Without a bound (a service dir): readiness may take its time.
    let mut s = svc(|p| p.has_readiness = true);
    up(&mut s, t0);
    assert_eq!(s.deadline(), None);
    // Unset (`None`): the supervisor's start_timeout, also for a pid file.
    let mut s = svc(|p| {
        unit(p);
        p.unit.start_timeout = None;
        p.start_timeout = TIMEOUT;
    });
    up(&mut s, t0);
    assert_eq!(s.deadline(), Some(t0 + TIMEOUT));
    let mut s = daemon_svc(|p| p.unit.start_timeout = Some(200 * MS));
    up(&mut s, t0);
    assert_eq!(s.deadline(), Some(t0 + 200 * MS));
    assert_eq!(s.start_timeout(), 200 * MS);
}

// ---- ExecStartPost= ----

#[test]
fn start_post_runs_once_ready_and_its_failure_is_a_failed_start() {
    let t0 = Instant::now();
    let (term, cont) = (libc::SIGTERM, libc::SIGCONT);
    // Ready at once (simple): the start-post follows the spawn.
    let mut s = svc(|p| p.unit.start_post = true);
    assert_eq!(s.step(Start, t0), vec![SpawnRun, Action::SpawnStartPost]);
    assert_eq!((s.name_of_state(), s.ready), ("starting", false));
    assert_eq!(s.step(Event::StartPostExited(true), t0 + MS), vec![]);
    assert_eq!((s.name_of_state(), s.ready), ("up", true));
    // Notify: after READY=1, once; failing, the unit is stopped and
    // restarted as after a failure.
    let mut s = svc(|p| {
        p.unit.start_post = true;
        p.has_readiness = true;
        p.restart = RestartPolicy::OnFailure;
    });
    up(&mut s, t0);
    assert_eq!(s.step(Event::Ready, t0 + MS), vec![Action::SpawnStartPost]);
    assert_eq!(s.step(Event::Ready, t0 + 2 * MS), vec![], "once");
    assert!(!s.ready);
    assert_eq!(
        s.step(Event::StartPostExited(false), t0 + 3 * MS),
        vec![Signal(term), Signal(cont)]
    );
    assert_eq!(s.step(RunExited(Exit::Code(0)), t0 + 4 * MS), vec![]);
    assert!(matches!(s.state, State::Backoff { .. }), "{:?}", s.state);
    // A pid-file daemon: once found.
    let mut s = daemon_svc(|p| p.unit.start_post = true);
    daemonizing(&mut s, t0);
    assert_eq!(
        s.step(Event::Adopted, t0 + 20 * MS),
        vec![Action::SpawnStartPost]
    );
    assert_eq!(s.step(Event::StartPostExited(true), t0 + 30 * MS), vec![]);
    assert!(s.ready && s.is_up());
    // Its end after the main process's changes nothing.
    let mut s = svc(|p| p.unit.start_post = true);
    s.step(Start, t0);
    s.step(Stop, t0 + MS);
    assert_eq!(s.step(Event::StartPostExited(false), t0 + 2 * MS), vec![]);
    assert_eq!(s.step(RunExited(Exit::Signal(term)), t0 + 3 * MS), vec![]);
    assert_eq!(s.state, State::Down);
}

// ---- WatchdogSec= and Restart= ----

#[test]
fn a_units_watchdog_failure_restarts_only_as_its_restart_says() {
    use crate::state::RestartWhen::{OnAbnormal, OnAbort, OnSuccess, OnWatchdog};
    use RestartPolicy::{Always, Never, OnFailure};
    let term = libc::SIGTERM;
    // (Restart=, as restart and restart_when; restarted?): systemd's
    // table, watchdog column.
    let table = [
        (Never, None, false),
        (Always, None, true),
        (OnFailure, None, true),
        (OnFailure, Some(OnSuccess), false),
        (OnFailure, Some(OnAbnormal), true),
        (OnFailure, Some(OnAbort), false),
        (OnFailure, Some(OnWatchdog), true),
    ];
    for (restart, when, restarts) in table {
        let t0 = Instant::now();
        let mut s = svc(|p| {
            p.restart = restart;
            // A clean TERM is a success for units: the watchdog still
            // makes this run a failure.
            p.unit.success = vec![Exit::Signal(term)];
            p.unit.restart_when = when;
        });
        up(&mut s, t0);
        let stop = s.step(Event::WatchdogExpired, t0 + MS);
        assert_eq!(stop, vec![Signal(term), Signal(libc::SIGCONT)]);
        let end = s.step(RunExited(Exit::Signal(term)), t0 + 2 * MS);
        match restarts {
            true => assert!(
                matches!(s.state, State::Backoff { .. }) && end.is_empty(),
                "{restart:?} {when:?}: {:?}",
                s.state
            ),
            false => assert_eq!(
                (s.state, end),
                (State::Failed, vec![GaveUp]),
                "{restart:?} {when:?}"
            ),
        }
    }
    // A service dir restarts at once, whatever its `restart`; a watchdog
    // after `ctl down` does nothing.
    let t0 = Instant::now();
    let mut s = svc(|p| p.restart = Never);
    up(&mut s, t0);
    assert!(!s.step(Event::WatchdogExpired, t0 + MS).is_empty());
    assert_eq!(
        s.step(RunExited(Exit::Signal(term)), t0 + 2 * MS),
        vec![SpawnRun]
    );
    assert_eq!(s.step(Stop, t0 + 3 * MS).len(), 2);
    assert_eq!(s.step(Event::WatchdogExpired, t0 + 4 * MS), vec![]);
}
