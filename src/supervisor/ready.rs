//! A running service's readiness channel as the loop sees it (SPEC §2
//! `notification-fd`, `ready`, `watchdog`): the notification pipe of the
//! current run, the sd_notify socket, the tcp or command check with its
//! retry interval, and the watchdog deadline. The protocols themselves
//! (parsing datagrams, connecting) are `crate::ready`.

use super::*;
use crate::ready::{self as probe, NotifySocket};
use crate::state::NotifyAccess;

/// One service's readiness channels.
#[derive(Default)]
pub(super) struct Probes {
    /// The notification-fd pipe of the current run.
    pub nfd: Option<OwnedFd>,
    /// The sd_notify socket, kept across restarts.
    pub notify: Option<Box<NotifySocket>>,
    /// Next tcp/command check (or the time a running one is abandoned),
    /// and the interval to the one after.
    pub at: Option<Instant>,
    pub every: Duration,
    /// The connect in progress, and the check command running.
    pub tcp: Option<OwnedFd>,
    pub check_pid: Option<i32>,
    pub watchdog_at: Option<Instant>,
    /// A datagram from a process not the service's was refused this run
    /// (logged once per run).
    pub rejected: bool,
}

impl Probes {
    /// A run is about to start: sets up its channel. Adds NOTIFY_SOCKET
    /// and WATCHDOG_USEC to `env`; returns the notification pipe's write
    /// end, for the child.
    pub fn start_run(
        &mut self,
        spec: &ServiceSpec,
        control_dir: &Path,
        env: &mut Vec<(String, Option<OsString>)>,
        now: Instant,
    ) -> std::io::Result<Option<OwnedFd>> {
        match &spec.readiness {
            Readiness::None => {}
            Readiness::Fd(_) => {
                let (r, w) = sys::pipe(true)?;
                self.nfd = Some(r);
                return Ok(Some(w));
            }
            Readiness::Notify => {
                if self.notify.is_none() {
                    let name = probe::socket_name(&spec.name);
                    let path = control_dir.join("notify").join(format!("{name}.sock"));
                    let owner = spec.user.as_ref().map(|u| (u.uid, u.gid));
                    let bound = NotifySocket::bind(&path, &name, owner).map_err(|e| {
                        let msg = format!("{}: notify socket {}: {e}", spec.name, path.display());
                        std::io::Error::other(msg)
                    })?;
                    self.notify = Some(Box::new(bound));
                }
                if let Some(n) = &self.notify {
                    n.discard_pending();
                    env.push(("NOTIFY_SOCKET".into(), Some(n.address.clone().into())));
                }
                self.rejected = false;
                if let Some(w) = spec.watchdog {
                    // Armed once the service is ready (as systemd does), so
                    // a slow start is not mistaken for a hang.
                    env.push((
                        "WATCHDOG_USEC".into(),
                        Some(w.as_micros().to_string().into()),
                    ));
                }
            }
            Readiness::Tcp(_) | Readiness::Command(_) => {
                self.at = Some(now);
                self.every = probe::FIRST_RETRY;
            }
        }
        Ok(None)
    }

    /// The fds to wait on for service i.
    pub fn poll(&self, i: usize, add: &mut impl FnMut(RawFd, libc::c_short, Token)) {
        if let Some(fd) = &self.nfd {
            add(fd.as_raw_fd(), libc::POLLIN, Token::NotifyFd(i));
        }
        if let Some(n) = &self.notify {
            add(n.fd(), libc::POLLIN, Token::Notify(i));
        }
        if let Some(fd) = &self.tcp {
            add(fd.as_raw_fd(), libc::POLLOUT, Token::Tcp(i));
        }
    }

    /// `run` exited: its readiness channel and checks go with it. Returns
    /// the check command still running, for the caller to kill.
    pub fn end(&mut self) -> Option<i32> {
        self.nfd = None;
        self.tcp = None;
        self.at = None;
        self.watchdog_at = None;
        self.check_pid
    }

    pub fn retry(&mut self, now: Instant) {
        self.at = Some(now + self.every);
        self.every = (self.every * 2).min(probe::MAX_RETRY);
    }
}

/// Whether an sd_notify datagram from `sender` speaks for the run `run`:
/// its main process, a process of its session (`run` started one), or one
/// below it. 0, a process outside tend's pid namespace, is not. A sender
/// already gone cannot be checked and is believed: `systemd-notify` and
/// `socat` send and exit, and their parent reaps them at once. A unit's
/// `NotifyAccess=main` takes only `run`, `none` nothing.
fn sent_by_service(run: i32, sender: Option<i32>, access: NotifyAccess) -> bool {
    match sender {
        _ if access == NotifyAccess::None => false,
        None => true,
        Some(p) if p == run => true,
        Some(_) if access == NotifyAccess::Main => false,
        Some(0) => false,
        Some(p) => match sys::session_of(p) {
            Some(sid) if sid == run => true,
            Some(_) => sys::descends_from(p, run).unwrap_or(true),
            None => true,
        },
    }
}

impl Supervisor {
    pub(super) fn became_ready(&mut self, i: usize, now: Instant) {
        if self.svcs[i].sm.ready {
            return;
        }
        self.feed(i, Event::Ready, now);
        let s = &mut self.svcs[i];
        if s.sm.ready {
            log::info!("{}: ready", s.spec.name);
            if let Some(w) = s.spec.watchdog {
                s.probes.watchdog_at = Some(now + w);
            }
        }
    }

    pub(super) fn on_notification_fd(&mut self, i: usize, now: Instant) {
        let Some(fd) = &self.svcs[i].probes.nfd else {
            return;
        };
        let mut buf = [0u8; 512];
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) if n > 0 && !probe::has_newline(&buf[..n]) => {}
            Err(nix::errno::Errno::EAGAIN) => {}
            Ok(n) => {
                // A newline: ready. End of file first: it never will be.
                self.svcs[i].probes.nfd = None;
                if n > 0 {
                    self.became_ready(i, now);
                }
            }
            Err(_) => self.svcs[i].probes.nfd = None,
        }
    }

    pub(super) fn on_notify(&mut self, i: usize, now: Instant) {
        let Some(n) = &self.svcs[i].probes.notify else {
            return;
        };
        for (notice, sender) in n.read_some() {
            let s = &mut self.svcs[i];
            let Some(run) = s.run_pid else { continue };
            let access = s.sm.policy.unit.notify_access;
            if !sent_by_service(run, sender, access) {
                if !s.probes.rejected {
                    s.probes.rejected = true;
                    let why = match access {
                        NotifyAccess::Main => "not the main process (NotifyAccess=main)",
                        NotifyAccess::None => "NotifyAccess=none",
                        NotifyAccess::All => "not one of the service's processes",
                    };
                    log::warn!(
                        "{}: sd_notify from pid {} ignored: {why}",
                        s.spec.name,
                        sender.unwrap_or(0)
                    );
                }
                continue;
            }
            if let Some(status) = &notice.status {
                log::debug!("{}: status: {status}", s.spec.name);
            }
            if notice.watchdog {
                if let Some(w) = s.spec.watchdog {
                    s.probes.watchdog_at = Some(now + w);
                }
            }
            if notice.stopping {
                log::debug!("{}: stopping", s.spec.name);
            }
            if notice.ready {
                self.became_ready(i, now);
            }
        }
    }

    pub(super) fn on_tcp(&mut self, i: usize, now: Instant) {
        let p = &mut self.svcs[i].probes;
        let Some(fd) = p.tcp.take() else { return };
        if probe::tcp_connected(&fd) {
            p.at = None;
            self.became_ready(i, now);
        } else {
            p.retry(now);
        }
    }

    /// The check command of service i exited (`reap` has forgotten its
    /// pid).
    pub(super) fn check_exited(&mut self, i: usize, exit: Exit, now: Instant) {
        let s = &mut self.svcs[i];
        if s.run_pid.is_none() {
            return;
        }
        if exit.success() {
            s.probes.at = None;
            self.became_ready(i, now);
        } else {
            s.probes.retry(now);
        }
    }

    /// Due probe and watchdog deadlines of service i.
    pub(super) fn fire_probes(&mut self, i: usize, now: Instant) {
        let s = &mut self.svcs[i];
        if s.run_pid.is_some() && s.probes.at.is_some_and(|t| t <= now) {
            // Due: a check to start, or one that overran PROBE_TIMEOUT.
            if let Some(pid) = s.probes.check_pid {
                log::warn!(
                    "{}: readiness check still running after {}ms, killing it",
                    s.spec.name,
                    probe::PROBE_TIMEOUT.as_millis()
                );
                self.pids.signal_group(pid, libc::SIGKILL);
                s.probes.at = None; // its exit schedules the next try
            } else if s.probes.tcp.take().is_some() {
                s.probes.retry(now);
            } else {
                self.probe(i, now);
            }
        }
        let s = &mut self.svcs[i];
        if s.probes.watchdog_at.is_some_and(|t| t <= now) {
            s.probes.watchdog_at = None;
            // Only a service that should be up is restarted: one being
            // stopped (ctl down, shutdown) must not come back.
            if !(s.sm.want_up && matches!(s.sm.state, State::Up { .. })) {
                return;
            }
            log::warn!(
                "{}: no WATCHDOG=1 within {}ms, stopping it",
                s.spec.name,
                s.spec.watchdog.unwrap_or_default().as_millis()
            );
            self.feed(i, Event::WatchdogExpired, now);
        }
    }

    /// Runs one tcp or command readiness check of service i.
    fn probe(&mut self, i: usize, now: Instant) {
        let s = &mut self.svcs[i];
        match &s.spec.readiness {
            Readiness::Tcp(addr) => match probe::tcp_addr(addr).and_then(probe::tcp_start) {
                Some(fd) => {
                    s.probes.tcp = Some(fd);
                    s.probes.at = Some(now + probe::PROBE_TIMEOUT);
                }
                None => s.probes.retry(now),
            },
            Readiness::Command(argv) => {
                let mut spawn = sys::Spawn::new(argv, &self.mask);
                spawn.cwd = Some(s.spec.cwd());
                spawn.env = &s.spec.env;
                spawn.user = s.spec.user.as_deref().map(svc::creds);
                match sys::spawn(&spawn) {
                    Ok(child) => {
                        s.probes.check_pid = Some(child.pid);
                        s.probes.at = Some(now + probe::PROBE_TIMEOUT);
                        let what = format!(
                            "{}: cannot run check {}",
                            s.spec.name,
                            argv[0].to_string_lossy()
                        );
                        self.track(child, Owner::Check(i), what);
                    }
                    Err(e) => {
                        log::warn!(
                            "{}: cannot run check {}: {e}",
                            s.spec.name,
                            argv[0].to_string_lossy()
                        );
                        s.probes.retry(now);
                    }
                }
            }
            Readiness::None | Readiness::Fd(_) | Readiness::Notify => s.probes.at = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers that need no look-up in /proc.
    #[test]
    fn notify_access_decides_whose_datagrams_count() {
        use NotifyAccess::{All, Main, None as Nobody};
        let me = std::process::id() as i32;
        let table = [
            (All, Some(10), true),
            (All, None, true),
            (All, Some(0), false),
            (Main, Some(10), true),
            (Main, None, true),
            (Main, Some(me), false),
            (Main, Some(0), false),
            (Nobody, Some(10), false),
            (Nobody, None, false),
        ];
        for (access, sender, want) in table {
            assert_eq!(
                sent_by_service(10, sender, access),
                want,
                "{access:?} {sender:?}"
            );
        }
        // A process below the main one counts for All only: this test's
        // own pid descends from its parent.
        let parent = std::os::unix::process::parent_id() as i32;
        assert!(sent_by_service(parent, Some(me), All));
        assert!(!sent_by_service(parent, Some(me), Main));
    }
}
