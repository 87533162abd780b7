//! The life of one service as a pure state machine: `Service::step` takes an
//! event and the current time and returns the actions to carry out. It knows
//! nothing of processes, pids or syscalls (the supervisor maps pids to
//! services and runs the actions), so every (state, event) pair is unit
//! tested below without forking anything.
//!
//! States (what `tend ctl status` shows):
//! - `down`: not running and not to be started;
//! - `up`: `run` is running;
//! - `stopping`: the stop signal was sent, SIGKILL follows at the grace;
//! - `finishing`: `finish` runs after `run` exited;
//! - `backoff`: waiting out the restart delay after a crash;
//! - `failed`: gave up for good (restart policy, or `finish` exited 125).

use crate::config::Restart;
use std::time::{Duration, Instant};

/// A service's up time after which its restart delay starts over.
pub const BACKOFF_RESET: Duration = Duration::from_secs(10);

/// `finish` exiting with this code means "do not restart" (s6).
pub const FINISH_NO_RESTART: i32 = 125;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The first two arguments of `finish`: exit code (256 when killed by a
    /// signal, as s6) and signal number (0 when none).
    pub fn finish_args(self) -> (i32, i32) {
        match self {
            Exit::Code(c) => (c, 0),
            Exit::Signal(s) => (256, s),
        }
    }

    /// Shell convention: the code, or 128+N when killed by signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", crate::config::signal_name(s)),
        }
    }
}

/// What a service's files say about how to run it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub restart: Restart,
    pub delay: Duration,
    pub delay_max: Duration,
    pub stop_signal: i32,
    pub grace: Duration,
    pub has_finish: bool,
    /// The service says when it is ready (notification-fd, sd_notify, a
    /// check); without that it counts as ready once up.
    pub has_readiness: bool,
    /// `None`: no limit (`timeout-finish` 0).
    pub finish_timeout: Option<Duration>,
    /// `start-limit = "N/DUR"`: the (N+1)th start within DUR fails the
    /// service instead.
    pub start_limit: Option<(u32, Duration)>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            restart: Restart::Always,
            delay: Duration::from_millis(100),
            delay_max: Duration::from_secs(30),
            stop_signal: libc::SIGTERM,
            grace: Duration::from_secs(5),
            has_finish: false,
            has_readiness: false,
            finish_timeout: Some(Duration::from_millis(5000)),
            start_limit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Down,
    Up {
        since: Instant,
    },
    Stopping {
        since: Instant,
        kill_at: Option<Instant>,
    },
    Finishing {
        kill_at: Option<Instant>,
    },
    Backoff {
        until: Instant,
    },
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Should run (at start, `ctl up`).
    Start,
    /// Should not run (shutdown, `ctl down`).
    Stop,
    /// Stop if running, then start at once (`ctl restart`).
    Restart,
    /// `run` ended; a failed exec is reported as 127 or 126.
    RunExited(Exit),
    /// `finish` ended; a failed exec likewise.
    FinishExited(Exit),
    /// The running `run` said it is ready.
    Ready,
    /// The deadline returned by `deadline()` may have passed.
    Timer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start `run` (the state is already `up`; report a failure to exec as
    /// `RunExited`).
    SpawnRun,
    /// Start `finish` with the arguments of this exit.
    SpawnFinish(Exit),
    /// Send this signal to `run`'s process group.
    Signal(i32),
    /// SIGKILL `finish`'s process group: it overran its time.
    KillFinish,
    /// Stopped for good after a failure: a critical service takes tend down.
    GaveUp,
    /// Stopped for good after success (restart policy `never`/`on-failure`).
    Completed,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub policy: Policy,
    pub state: State,
    pub want_up: bool,
    /// Times `run` was started again after it had exited.
    pub restarts: u32,
    pub last_exit: Option<Exit>,
    /// Up and ready (see `Policy::has_readiness`).
    pub ready: bool,
    /// The last stop needed SIGKILL (the service overran its grace).
    pub killed: bool,
    /// Restart as soon as `run` (and `finish`) exit, with no delay.
    restart_now: bool,
    /// The next restart delay.
    delay: Duration,
    /// How long the last run lasted.
    ran_for: Duration,
    /// Times of the last starts, for `start_limit` (at most N kept).
    starts: std::collections::VecDeque<Instant>,
    /// The last failure was `start_limit`'s doing.
    pub start_limited: bool,
}

impl Service {
    pub fn new(policy: Policy) -> Service {
        let delay = policy.delay;
        Service {
            policy,
            state: State::Down,
            want_up: false,
            restarts: 0,
            last_exit: None,
            ready: false,
            killed: false,
            restart_now: false,
            delay,
            ran_for: Duration::ZERO,
            starts: std::collections::VecDeque::new(),
            start_limited: false,
        }
    }

    pub fn name_of_state(&self) -> &'static str {
        match self.state {
            State::Down => "down",
            State::Up { .. } if !self.policy.has_readiness => "up",
            State::Up { .. } if self.ready => "ready",
            State::Up { .. } => "starting",
            State::Stopping { .. } => "stopping",
            State::Finishing { .. } => "finishing",
            State::Backoff { .. } => "backoff",
            State::Failed => "failed",
        }
    }

    /// True while a `run` or `finish` process of this service exists.
    pub fn has_process(&self) -> bool {
        matches!(
            self.state,
            State::Up { .. } | State::Stopping { .. } | State::Finishing { .. }
        )
    }

    /// When `Timer` should next be delivered.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Stopping { kill_at, .. } => kill_at,
            State::Finishing { kill_at } => kill_at,
            State::Backoff { until } => Some(until),
            State::Down | State::Up { .. } | State::Failed => None,
        }
    }

    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        use Event::*;
        use State::*;
        match (self.state, event) {
            (Down | Failed, Start | Restart) => {
                // An explicit start (boot, `ctl up`, `ctl restart`) clears
                // the start budget.
                self.want_up = true;
                self.delay = self.policy.delay;
                self.starts.clear();
                self.start_limited = false;
                self.spawn(now)
            }
            (Backoff { .. }, Start) => Vec::new(),
            (Backoff { .. }, Restart) => {
                self.restarts += 1;
                self.spawn(now)
            }
            (Up { .. } | Stopping { .. } | Finishing { .. }, Start) => {
                // Already running; after a stop in progress, come back at once.
                if !self.want_up {
                    self.want_up = true;
                    self.restart_now = true;
                }
                Vec::new()
            }
            (Up { since }, Restart) => {
                self.want_up = true;
                self.restart_now = true;
                self.stop(since, now)
            }
            (Stopping { .. } | Finishing { .. }, Restart) => {
                self.want_up = true;
                self.restart_now = true;
                Vec::new()
            }
            (Up { since }, Stop) => {
                self.want_up = false;
                self.restart_now = false;
                self.stop(since, now)
            }
            (Stopping { .. }, Stop) => {
                self.want_up = false;
                self.restart_now = false;
                Vec::new()
            }
            (Finishing { kill_at }, Stop) => {
                // finish goes on, but within the grace from now.
                self.want_up = false;
                self.restart_now = false;
                let bound = now + self.policy.grace;
                self.state = Finishing {
                    kill_at: Some(kill_at.map_or(bound, |k| k.min(bound))),
                };
                Vec::new()
            }
            (Backoff { .. }, Stop) => {
                self.want_up = false;
                self.state = Down;
                Vec::new()
            }
            (Down | Failed, Stop) => {
                self.want_up = false;
                Vec::new()
            }
            (Up { since } | Stopping { since, .. }, RunExited(exit)) => {
                self.last_exit = Some(exit);
                self.ready = false;
                self.ran_for = now.saturating_duration_since(since);
                if self.policy.has_finish {
                    let mut limit = self.policy.finish_timeout;
                    if !self.want_up {
                        // On the way down, finish gets no more than the grace.
                        let g = self.policy.grace;
                        limit = Some(limit.map_or(g, |t| t.min(g)));
                    }
                    self.state = Finishing {
                        kill_at: limit.map(|t| now + t),
                    };
                    vec![Action::SpawnFinish(exit)]
                } else {
                    self.decide(None, now)
                }
            }
            (Finishing { .. }, FinishExited(exit)) => {
                let code = match exit {
                    Exit::Code(c) => Some(c),
                    Exit::Signal(_) => None,
                };
                self.decide(code, now)
            }
            (
                Stopping {
                    since,
                    kill_at: Some(t),
                },
                Timer,
            ) if t <= now => {
                self.killed = true;
                self.state = Stopping {
                    since,
                    kill_at: None,
                };
                vec![Action::Signal(libc::SIGKILL)]
            }
            (Finishing { kill_at: Some(t) }, Timer) if t <= now => {
                self.state = Finishing { kill_at: None };
                vec![Action::KillFinish]
            }
            (Backoff { until }, Timer) if until <= now => {
                self.restarts += 1;
                self.spawn(now)
            }
            (Up { .. }, Ready) => {
                self.ready = true;
                Vec::new()
            }
            (Down | Failed | Backoff { .. } | Stopping { .. } | Finishing { .. }, Ready) => {
                Vec::new() // too late: readiness of a process that is going
            }
            (Up { .. } | Stopping { .. } | Finishing { .. } | Backoff { .. }, Timer) => Vec::new(),
            (Down | Failed, Timer) => Vec::new(),
            (Down | Failed | Backoff { .. } | Finishing { .. }, RunExited(_))
            | (Down | Failed | Backoff { .. } | Up { .. } | Stopping { .. }, FinishExited(_)) => {
                // The supervisor maps pids to services, so this means a bug
                // there; PID 1 must not die of it.
                debug_assert!(false, "{event:?} in {:?}", self.state);
                log::warn!("ignoring {event:?} in state {:?}", self.state);
                Vec::new()
            }
        }
    }

    fn spawn(&mut self, now: Instant) -> Vec<Action> {
        if let Some((n, window)) = self.policy.start_limit {
            while self
                .starts
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= window)
            {
                self.starts.pop_front();
            }
            if self.starts.len() >= n as usize {
                self.state = State::Failed;
                self.start_limited = true;
                return vec![Action::GaveUp];
            }
            self.starts.push_back(now);
        }
        self.state = State::Up { since: now };
        self.ready = !self.policy.has_readiness;
        self.killed = false;
        vec![Action::SpawnRun]
    }

    fn stop(&mut self, since: Instant, now: Instant) -> Vec<Action> {
        self.killed = false;
        self.state = State::Stopping {
            since,
            kill_at: Some(now + self.policy.grace),
        };
        let sig = self.policy.stop_signal;
        if sig == 0 {
            // A logger at shutdown: it stops at end of input (see supervisor).
            Vec::new()
        } else if sig == libc::SIGKILL || sig == libc::SIGCONT {
            vec![Action::Signal(sig)]
        } else {
            // A stopped process acts on its stop signal only once continued.
            vec![Action::Signal(sig), Action::Signal(libc::SIGCONT)]
        }
    }

    /// `run` (and `finish`, if any) have exited: what next.
    fn decide(&mut self, finish_code: Option<i32>, now: Instant) -> Vec<Action> {
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
        let success = self.last_exit.is_some_and(Exit::success);
        match (self.policy.restart, success) {
            (Restart::Never | Restart::OnFailure, true) => {
                self.state = State::Down;
                self.want_up = false;
                vec![Action::Completed]
            }
            (Restart::Never, false) => {
                self.state = State::Failed;
                vec![Action::GaveUp]
            }
            (Restart::Always, _) | (Restart::OnFailure, false) => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Restart as RestartPolicy;
    use Action::*;
    use Event::{FinishExited, RunExited, Start, Stop, Timer};

    const MS: Duration = Duration::from_millis(1);

    fn svc(f: impl FnOnce(&mut Policy)) -> Service {
        let mut p = Policy::default();
        f(&mut p);
        Service::new(p)
    }

    fn up(s: &mut Service, t: Instant) {
        assert_eq!(s.step(Start, t), vec![SpawnRun]);
        assert_eq!(s.state, State::Up { since: t });
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
}
