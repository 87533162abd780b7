//! The life of one service as a pure state machine: `Service::step` takes an
//! event and the current time and returns the actions to carry out. It knows
//! nothing of processes, pids or syscalls (the supervisor maps pids to
//! services and runs the actions), so every (state, event) pair is unit
//! tested below without forking anything.
//!
//! States (what `tend ctl status` shows):
//! - `down`: not running and not to be started;
//! - `up`: `run` is running (for a `pid-file` service: the daemon it
//!   left, once found; `starting` until then);
//! - `daemonizing` (shown `starting`): `run` of a `pid-file` service exited
//!   0, and its pid file is read until it names the daemon;
//! - `stopping`: the stop signal was sent, SIGKILL follows at the grace;
//! - `finishing`: `finish` runs after `run` exited;
//! - `backoff`: waiting out the restart delay after a crash;
//! - `failed`: gave up for good (restart policy, or `finish` exited 125);
//! - `remaining` (shown `up`): a oneshot with `remain_after_exit` exited
//!   0 and counts as up and ready with no process.

use crate::config::Restart;
use std::time::{Duration, Instant};

mod decide;
mod policy;
mod queries;
pub use policy::{
    Exit, KillMode, NotifyAccess, Policy, RestartWhen, Rules, UnitRules, PID_FILE_RETRY,
};

/// A service's up time after which its restart delay starts over.
pub const BACKOFF_RESET: Duration = Duration::from_secs(10);

/// `finish` exiting with this code means "do not restart" (s6).
pub const FINISH_NO_RESTART: i32 = 125;

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
    /// `run` of a `pid-file` service exited 0: the pid file is read at
    /// `retry_at`, and the start has failed if no daemon is found by `until`.
    Daemonizing {
        since: Instant,
        retry_at: Instant,
        until: Instant,
    },
    /// A oneshot with `remain_after_exit` that exited 0: up, no process.
    Remaining {
        since: Instant,
    },
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
    /// The pid file names the daemon, alive and tend's child: it is the
    /// main process from now on (its exit is a `RunExited`).
    Adopted,
    /// The deadline returned by `deadline()` may have passed.
    Timer,
    /// The stop command has exited (or could not be started).
    StopCommandExited,
    /// A unit's `ExecStartPost=` has exited: 0 (true), or not.
    StartPostExited(bool),
    /// No WATCHDOG=1 in time: a service dir restarts; a unit is stopped
    /// and its `Restart=` decides, as systemd's watchdog failure.
    WatchdogExpired,
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
    /// Send this signal to the main process only (`KillMode=`).
    SignalMain(i32),
    /// SIGKILL `finish`'s process group: it overran its time.
    KillFinish,
    /// Stopped for good after a failure: a critical service takes tend down.
    GaveUp,
    /// Stopped for good after success (restart policy `never`/`on-failure`).
    Completed,
    /// Read the pid file: answer `Adopted`, `RunExited` (the daemon it
    /// names has exited already), or nothing (not yet: read again later).
    ReadPidFile,
    /// No daemon (or a unit not ready) within the start timeout: log it
    /// (the restart follows).
    FailedStart,
    /// Start the stop command (report its end as `StopCommandExited`).
    SpawnStopCommand,
    /// Start a unit's `ExecStartPost=` (report its end as
    /// `StartPostExited`).
    SpawnStartPost,
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
    /// With `pid_file`: the main process is the daemon, no longer `run`.
    pub adopted: bool,
    /// The last start failed (no daemon in time), whatever `run` exited with.
    failed_start: bool,
    /// The last run was stopped for its watchdog, whatever it exited with.
    failed_watchdog: bool,
    /// A oneshot's `run` exited 0: dependents may start (it is `down`, or
    /// `remaining`).
    pub done: bool,
    /// A unit's `ExecStartPost=` runs: ready once it exited 0.
    posting: bool,
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
            adopted: false,
            failed_start: false,
            failed_watchdog: false,
            done: false,
            posting: false,
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
            (Daemonizing { .. }, Start) => {
                self.want_up = true;
                Vec::new()
            }
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
            (Up { since }, WatchdogExpired) if self.want_up => {
                if !self.policy.unit.is_unit() {
                    return self.step(Restart, now);
                }
                self.failed_watchdog = true;
                self.stop(since, now)
            }
            (Stopping { .. } | Finishing { .. } | Daemonizing { .. }, Restart) => {
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
            (
                Daemonizing {
                    since,
                    retry_at,
                    until,
                },
                Stop,
            ) => {
                // Once found, the daemon is stopped; it is looked for
                // within the grace from now.
                self.want_up = false;
                self.restart_now = false;
                let until = until.min(now + self.policy.grace);
                self.state = Daemonizing {
                    since,
                    retry_at: retry_at.min(until),
                    until,
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
            (Up { since }, RunExited(exit)) if self.daemonizes(exit) => {
                // Read at the `Timer` due now: once every exit reaped with
                // this one is known (the daemon's may be among them).
                self.state = Daemonizing {
                    since,
                    retry_at: now,
                    until: since + self.start_timeout(),
                };
                Vec::new()
            }
            (
                Up { since } | Stopping { since, .. } | Daemonizing { since, .. },
                RunExited(exit),
            ) => self.ended(exit, since, now),
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
                self.state = Stopping {
                    since,
                    kill_at: None,
                };
                let kill = libc::SIGKILL;
                self.killed = self.policy.unit.kill_mode != KillMode::None;
                match self.policy.unit.kill_mode {
                    KillMode::Group | KillMode::Mixed => vec![Action::Signal(kill)],
                    KillMode::Process => vec![Action::SignalMain(kill)],
                    KillMode::None => Vec::new(),
                }
            }
            (Finishing { kill_at: Some(t) }, Timer) if t <= now => {
                self.state = Finishing { kill_at: None };
                vec![Action::KillFinish]
            }
            (Up { since }, Timer) if self.starting() && since + self.start_timeout() <= now => {
                // `run` was to daemonize and exit 0 by now, or a unit
                // was to be ready.
                self.failed_start = true;
                let mut actions = vec![Action::FailedStart];
                actions.extend(self.stop(since, now));
                actions
            }
            (Daemonizing { since, until, .. }, Timer) if until <= now => {
                self.failed_start = true;
                let mut actions = vec![Action::FailedStart];
                actions.extend(self.ended(Exit::Code(0), since, now));
                actions
            }
            (
                Daemonizing {
                    since,
                    retry_at,
                    until,
                },
                Timer,
            ) if retry_at <= now => {
                self.state = Daemonizing {
                    since,
                    retry_at: (now + PID_FILE_RETRY).min(until),
                    until,
                };
                vec![Action::ReadPidFile]
            }
            (Daemonizing { since, .. }, Adopted) => {
                self.state = Up { since };
                self.adopted = true;
                match self.want_up && !self.restart_now {
                    true if !self.policy.has_readiness => self.now_ready(),
                    true => Vec::new(),
                    false => self.stop(since, now),
                }
            }
            (Backoff { until }, Timer) if until <= now => {
                self.restarts += 1;
                self.spawn(now)
            }
            (Remaining { .. }, Start) => {
                self.want_up = true;
                Vec::new()
            }
            (Remaining { since }, Stop | Restart) => {
                self.want_up = event == Restart;
                self.restart_now = event == Restart;
                self.ready = false;
                match self.policy.stop_command {
                    // Stopping with no process: until the command exits.
                    true => {
                        self.state = Stopping {
                            since,
                            kill_at: Some(now + self.policy.grace),
                        };
                        vec![Action::SpawnStopCommand]
                    }
                    false => self.after_remaining(now),
                }
            }
            (Stopping { .. }, StopCommandExited) if self.done => self.after_remaining(now),
            (Stopping { .. }, StopCommandExited) => self.stop_signal(),
            // The main process went first: nothing left to signal.
            (_, StopCommandExited) => Vec::new(),
            (Up { .. }, Ready) if !self.ready && !self.posting => self.now_ready(),
            (Up { .. } | Daemonizing { .. }, Ready) => {
                self.ready |= !self.posting;
                Vec::new()
            }
            (Up { .. }, StartPostExited(true)) if self.posting => {
                self.posting = false;
                self.ready = true;
                Vec::new()
            }
            (Up { since }, StartPostExited(false)) if self.posting => {
                // As systemd: a failed start, stopped.
                self.posting = false;
                self.failed_start = true;
                self.stop(since, now)
            }
            // Too late: the main process went first.
            (_, StartPostExited(_)) => Vec::new(),
            // Only a run that should be up is stopped for its watchdog.
            (_, WatchdogExpired) => Vec::new(),
            (Down | Failed | Backoff { .. } | Stopping { .. } | Finishing { .. }, Ready) => {
                Vec::new() // too late: readiness of a process that is going
            }
            (
                Up { .. }
                | Stopping { .. }
                | Finishing { .. }
                | Backoff { .. }
                | Daemonizing { .. },
                Timer,
            ) => Vec::new(),
            (Down | Failed | Remaining { .. }, Timer | Ready) => Vec::new(),
            (
                Down | Failed | Backoff { .. } | Finishing { .. } | Remaining { .. },
                RunExited(_),
            )
            | (
                Down
                | Failed
                | Backoff { .. }
                | Up { .. }
                | Stopping { .. }
                | Daemonizing { .. }
                | Remaining { .. },
                FinishExited(_),
            )
            | (
                Down
                | Failed
                | Backoff { .. }
                | Up { .. }
                | Stopping { .. }
                | Finishing { .. }
                | Remaining { .. },
                Adopted,
            ) => {
                // The supervisor maps pids to services, so this means a bug
                // there; PID 1 must not die of it.
                debug_assert!(false, "{event:?} in {:?}", self.state);
                log::warn!("ignoring {event:?} in state {:?}", self.state);
                Vec::new()
            }
        }
    }

    /// The main process (`run`, or the daemon) ended: `finish`, or what next.
    fn ended(&mut self, exit: Exit, since: Instant, now: Instant) -> Vec<Action> {
        self.last_exit = Some(exit);
        self.ready = false;
        self.posting = false;
        self.ran_for = now.saturating_duration_since(since);
        if self.policy.has_finish {
            let mut limit = self.policy.finish_timeout;
            if !self.want_up {
                // On the way down, finish gets no more than the grace.
                let g = self.policy.grace;
                limit = Some(limit.map_or(g, |t| t.min(g)));
            }
            self.state = State::Finishing {
                kill_at: limit.map(|t| now + t),
            };
            vec![Action::SpawnFinish(exit)]
        } else {
            self.decide(None, now)
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
        self.ready = false;
        self.posting = false;
        self.done = false;
        self.killed = false;
        self.adopted = false;
        self.failed_start = false;
        self.failed_watchdog = false;
        let mut actions = vec![Action::SpawnRun];
        // A daemon is ready once found (as systemd's Type=forking), a
        // oneshot once it exited 0.
        if !self.policy.has_readiness && !self.policy.pid_file && !self.policy.oneshot {
            actions.extend(self.now_ready());
        }
        actions
    }

    /// The main process is up and ready, or with `ExecStartPost=` will be
    /// once that exited 0.
    fn now_ready(&mut self) -> Vec<Action> {
        self.posting = self.policy.unit.start_post;
        self.ready = !self.posting;
        match self.posting {
            true => vec![Action::SpawnStartPost],
            false => Vec::new(),
        }
    }

    fn stop(&mut self, since: Instant, now: Instant) -> Vec<Action> {
        // Only a main process that started (as systemd: not a failed start).
        let command = self.policy.stop_command && self.is_up();
        self.killed = false;
        self.state = State::Stopping {
            since,
            kill_at: Some(now + self.policy.grace),
        };
        match command {
            true => vec![Action::SpawnStopCommand],
            false => self.stop_signal(),
        }
    }

    /// A oneshot that remained is stopped (its stop command, if any, has
    /// exited): down, or started again for a restart.
    fn after_remaining(&mut self, now: Instant) -> Vec<Action> {
        self.done = false;
        if self.want_up && std::mem::take(&mut self.restart_now) {
            self.restarts += 1;
            return self.spawn(now);
        }
        self.want_up = false;
        self.state = State::Down;
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_units;
