//! What the supervisor and `tend ctl` ask of a service without changing
//! it: the state it shows, whether it is up, its next deadline.

use super::*;

impl Service {
    pub fn name_of_state(&self) -> &'static str {
        match self.state {
            State::Down => "down",
            State::Up { .. } if !self.is_up() || self.policy.oneshot || self.posting => "starting",
            State::Remaining { .. } => "up",
            State::Up { .. } if !self.policy.has_readiness => "up",
            State::Up { .. } if self.ready => "ready",
            State::Up { .. } | State::Daemonizing { .. } => "starting",
            State::Stopping { .. } => "stopping",
            State::Finishing { .. } => "finishing",
            State::Backoff { .. } => "backoff",
            State::Failed => "failed",
        }
    }

    /// The main process runs: `run`, or for a `pid-file` service the
    /// daemon, once found.
    pub fn is_up(&self) -> bool {
        match self.state {
            State::Up { .. } => self.adopted || !self.policy.pid_file,
            State::Remaining { .. } => true,
            _ => false,
        }
    }

    /// `run` of a `pid-file` service, not yet exited.
    pub(super) fn launching(&self) -> bool {
        matches!(self.state, State::Up { .. }) && self.policy.pid_file && !self.adopted
    }

    /// Still starting, bounded by the start timeout: `run` of a `pid-file`
    /// service, or a unit not ready yet (`UnitRules::ready_bound`).
    pub(super) fn starting(&self) -> bool {
        let unit = self.policy.unit.ready_bound && !self.ready;
        self.launching() || (unit && matches!(self.state, State::Up { .. }))
    }

    /// `start_timeout`, or a unit's `TimeoutStartSec=`.
    pub fn start_timeout(&self) -> Duration {
        (self.policy.unit.start_timeout).unwrap_or(self.policy.start_timeout)
    }

    /// This exit of `run` leaves a daemon to find (the service goes on).
    pub fn daemonizes(&self, exit: Exit) -> bool {
        self.launching() && exit.success()
    }

    /// True while a `run` or `finish` process of this service exists (or,
    /// daemonizing, may).
    pub fn has_process(&self) -> bool {
        matches!(
            self.state,
            State::Up { .. }
                | State::Stopping { .. }
                | State::Finishing { .. }
                | State::Daemonizing { .. }
        )
    }

    /// When `Timer` should next be delivered.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Stopping { kill_at, .. } => kill_at,
            State::Finishing { kill_at } => kill_at,
            State::Backoff { until } => Some(until),
            State::Up { since } if self.starting() => Some(since + self.start_timeout()),
            // Never after `until` (see `step`).
            State::Daemonizing { retry_at, .. } => Some(retry_at),
            State::Down | State::Up { .. } | State::Failed | State::Remaining { .. } => None,
        }
    }
}
