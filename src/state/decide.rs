//! After an exit (and its `finish`): restart, back off, or give up; and
//! how a stop is sent (signal, stop command, KillMode).

use super::*;

impl Service {
    /// The stop signal to the main process's group, or with a `KillMode`
    /// other than `Group` to the main process (then SIGCONT).
    pub(super) fn stop_signal(&self) -> Vec<Action> {
        let sig = self.policy.stop_signal;
        let to = match self.policy.unit.kill_mode {
            KillMode::Group => Action::Signal,
            _ => Action::SignalMain,
        };
        if sig == 0 {
            // A logger at shutdown: it stops at end of input (see supervisor).
            Vec::new()
        } else if sig == libc::SIGKILL || sig == libc::SIGCONT {
            vec![to(sig)]
        } else {
            // A stopped process acts on its stop signal only once continued.
            vec![to(sig), to(libc::SIGCONT)]
        }
    }

    /// `run` (and `finish`, if any) have exited: what next.
    pub(super) fn decide(&mut self, finish_code: Option<i32>, now: Instant) -> Vec<Action> {
        if !self.want_up {
            self.state = State::Down;
            return Vec::new();
        }
        if finish_code == Some(FINISH_NO_RESTART) {
            self.state = State::Failed;
            return vec![Action::GaveUp];
        }
        if self.restart_now {
            self.restart_now = false;
            self.restarts += 1;
            return self.spawn(now);
        }
        let failed = self.failed_start || self.failed_watchdog;
        let exit = self.last_exit.filter(|_| !failed);
        let rules = &self.policy.unit;
        let listed = |l: &[Exit]| exit.is_some_and(|e| l.contains(&e));
        let success = exit.is_some_and(Exit::success) || listed(&rules.success);
        if self.policy.oneshot && success {
            // Done: never restarted; up for good with remain_after_exit.
            self.done = true;
            if self.policy.remain_after_exit {
                self.state = State::Remaining { since: now };
                self.ready = true;
                return Vec::new();
            }
            self.state = State::Down;
            self.want_up = false;
            return vec![Action::Completed];
        }
        let unclean_signal = !success && matches!(exit, Some(Exit::Signal(_)));
        let restart = match (self.policy.unit.restart_when, self.policy.restart) {
            // systemd's watchdog column: always, on-failure, on-abnormal,
            // on-watchdog.
            (Some(RestartWhen::OnAbnormal | RestartWhen::OnWatchdog), _)
                if self.failed_watchdog =>
            {
                true
            }
            (Some(_), _) if self.failed_watchdog => false,
            (Some(RestartWhen::OnSuccess), _) => success,
            (Some(RestartWhen::OnAbnormal), _) => unclean_signal || self.failed_start,
            (Some(RestartWhen::OnAbort), _) => unclean_signal,
            (Some(RestartWhen::OnWatchdog), _) => false,
            (None, Restart::Always) => true,
            (None, Restart::OnFailure) => !success,
            (None, Restart::Never) => false,
        };
        match (
            !listed(&rules.prevent) && (restart || listed(&rules.force)),
            success,
        ) {
            (false, true) => {
                self.state = State::Down;
                self.want_up = false;
                vec![Action::Completed]
            }
            (false, false) => {
                self.state = State::Failed;
                vec![Action::GaveUp]
            }
            (true, _) => {
                if self.ran_for >= BACKOFF_RESET {
                    self.delay = self.policy.delay;
                }
                let wait = self.delay;
                self.delay = (self.delay * 2).min(self.policy.delay_max);
                self.state = State::Backoff { until: now + wait };
                Vec::new()
            }
        }
    }
}
