//! `pid-file` services (SPEC §2, §6): `run` daemonizes and exits 0, and the
//! daemon, reparented to tend (as PID 1 or subreaper), is the service's
//! main process from then on. This room reads the pid file and decides
//! whether the pid it names is that daemon, remembers the orphans reaped
//! lately (a daemon may exit before its pid file is read), and takes down
//! what a daemon left in its session when it exits. The timers (read again,
//! give up at the start timeout) are the state machine's.

use super::*;

/// A pid file holds one pid: a few bytes, read bounded all the same.
const PID_FILE_MAX: u64 = 64;

/// Orphans remembered. A daemon's exit is looked up within a turn or one
/// `PID_FILE_RETRY` of its reap; more orphans than this in that time only
/// make the start fail at its timeout instead.
const REAPED_MAX: usize = 64;

/// What tend knows of one service's daemon.
#[derive(Default)]
pub(super) struct Daemon {
    /// When the current `run` started (clock ticks after boot, from /proc):
    /// its daemon cannot have started before.
    pub run_start: Option<u64>,
    /// The adopted daemon's session, read again at every turn of the loop
    /// (see `Supervisor::reap`): what it leaves there is SIGKILLed at its
    /// exit.
    pub sid: Option<i32>,
    /// Why the last read of the pid file named no daemon (the path, then
    /// the problem), for the failed start's log line.
    pub why: String,
}

/// Orphans reaped lately: (pid, exit, when reaped), oldest first.
#[derive(Default)]
pub(super) struct Reaped(Vec<(i32, Exit, Instant)>);

impl Reaped {
    pub fn push(&mut self, pid: i32, exit: Exit, now: Instant) {
        if self.0.len() >= REAPED_MAX {
            self.0.remove(0);
        }
        self.0.push((pid, exit, now));
    }

    /// How `pid` ended, if it was reaped as an orphan at or after `since`
    /// (an older entry is another process that had the number before).
    fn find(&self, pid: i32, since: Instant) -> Option<Exit> {
        let (_, exit, _) = self.0.iter().rev().find(|e| e.0 == pid && e.2 >= since)?;
        Some(*exit)
    }
}

/// The pid a pid file holds (a decimal number, blanks around it allowed).
fn parse_pid(bytes: &[u8]) -> Option<i32> {
    let pid = std::str::from_utf8(bytes).ok()?.trim().parse().ok()?;
    (pid > 0).then_some(pid)
}

impl Supervisor {
    /// `Action::ReadPidFile` of service i: the event it answers, if any.
    pub(super) fn read_pid_file(&mut self, i: usize) -> Option<Event> {
        let s = &mut self.svcs[i];
        let (State::Daemonizing { since, .. }, Some(path)) = (s.sm.state, &s.spec.pid_file) else {
            return None;
        };
        let pid = scan::read_bounded(path, PID_FILE_MAX).map(|b| parse_pid(&b));
        let problem = match pid {
            Err(e) => {
                s.daemon.why = e;
                return None;
            }
            Ok(None) => "holds no pid",
            Ok(Some(pid)) => {
                // Exited before the file was read: its exit is the
                // service's, not a stale file.
                if let Some(exit) = self.reaped.find(pid, since) {
                    log::info!("{}[{pid}]: daemon {exit}", s.spec.name);
                    return Some(Event::RunExited(exit));
                }
                match sys::child_ids(pid) {
                    _ if self.pids.contains(pid) => "names another of tend's processes",
                    None => "names no child of tend",
                    Some((_, sid)) => match (s.daemon.run_start, sys::start_time(pid)) {
                        (Some(run), Some(daemon)) if daemon < run => {
                            "names a process older than run"
                        }
                        _ => {
                            log::info!("{}[{pid}]: daemon from {}", s.spec.name, path.display());
                            s.run_pid = Some(pid);
                            s.last_pid = pid;
                            s.daemon.sid = Some(sid);
                            self.insert_child(pid, Owner::Run(i));
                            return Some(Event::Adopted);
                        }
                    },
                }
            }
        };
        s.daemon.why = format!("{}: {problem}", path.display());
        None
    }

    /// `Action::FailedStart` of service i: says why.
    pub(super) fn failed_start(&self, i: usize) {
        let s = &self.svcs[i];
        let (name, ms) = (&s.spec.name, s.sm.start_timeout().as_millis());
        let why = match s.run_pid {
            _ if s.spec.pid_file.is_none() || s.sm.adopted => {
                return log::error!("{name}: not ready within {ms}ms: failed start");
            }
            Some(_) => "run has not exited",
            None => &s.daemon.why,
        };
        log::error!("{name}: no daemon within {ms}ms ({why}): failed start");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_contents() {
        for (text, pid) in [
            (&b"42\n"[..], Some(42)),
            (b" 7 ", Some(7)),
            (b"", None),
            (b"0\n", None),
            (b"-5\n", None),
            (b"12 13\n", None),
            (b"99999999999\n", None),
            (b"\xff", None),
        ] {
            assert_eq!(parse_pid(text), pid, "{text:?}");
        }
    }

    #[test]
    fn reaped_orphans_are_bounded_and_found_only_since_the_start() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let mut r = Reaped::default();
        r.push(10, Exit::Code(3), t0);
        assert_eq!(r.find(10, t0), Some(Exit::Code(3)));
        assert_eq!(r.find(10, later), None, "reaped before this start");
        r.push(10, Exit::Signal(9), later);
        assert_eq!(r.find(10, later), Some(Exit::Signal(9)), "the latest");
        for pid in 100..100 + REAPED_MAX as i32 {
            r.push(pid, Exit::Code(0), later);
        }
        assert_eq!(r.0.len(), REAPED_MAX);
        assert_eq!(r.find(10, t0), None, "forgotten");
    }
}
