//! Under a service manager (SPEC §7 upward): when tend itself was given a
//! NOTIFY_SOCKET (systemd, `podman run --sdnotify=container`, Quadlet), it
//! tells its manager what its own services tell it: READY=1 once init.d is
//! done, every service that should run is up and ready and the main
//! command has started; STATUS= when the summary changes; RELOADING=1 and
//! READY=1 around a reload; STOPPING=1 when shutdown begins; EXIT_STATUS=
//! before exit; WATCHDOG=1 at half of WATCHDOG_USEC while the loop runs.
//! Sends never block: a manager that does not read loses datagrams, and
//! tend goes on.

use super::*;
use std::os::unix::net::UnixDatagram;

pub(super) struct Manager {
    sock: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
    ready_sent: bool,
    stopping_sent: bool,
    status: String,
    watchdog_every: Option<Duration>,
    pub watchdog_at: Option<Instant>,
}

impl Manager {
    /// From tend's own environment; None without NOTIFY_SOCKET (or with
    /// one that cannot be used, said once).
    pub fn from_env(now: Instant) -> Option<Manager> {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|v| !v.is_empty())?;
        let made = || -> std::io::Result<Manager> {
            use std::os::linux::net::SocketAddrExt;
            let addr = match target.strip_prefix('@') {
                Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name)?,
                None => std::os::unix::net::SocketAddr::from_pathname(&target)?,
            };
            let every = watchdog_every();
            let sock = UnixDatagram::unbound()?;
            sock.set_nonblocking(true)?;
            Ok(Manager {
                sock,
                addr,
                ready_sent: false,
                stopping_sent: false,
                status: String::new(),
                watchdog_every: every,
                watchdog_at: every.map(|w| now + w),
            })
        };
        match made() {
            Ok(m) => Some(m),
            Err(e) => {
                log::warn!("NOTIFY_SOCKET={target}: {e}; not notifying the manager");
                None
            }
        }
    }

    fn send(&self, msg: &str) {
        if let Err(e) = self.sock.send_to_addr(msg.as_bytes(), &self.addr) {
            log::debug!("notify manager: {e}");
        }
    }
}

/// Half of WATCHDOG_USEC, when the watchdog is meant for tend:
/// WATCHDOG_PID unset or tend's own pid.
fn watchdog_every() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

impl Supervisor {
    /// After every turn of the loop: what the manager should hear now.
    pub(super) fn tell_manager(&mut self) {
        if self.manager.is_none() {
            return;
        }
        let stopping = !matches!(self.phase, Phase::Init | Phase::Running);
        let (ready, status) = if stopping {
            (false, "stopping".to_string())
        } else {
            self.summary()
        };
        let Some(m) = &mut self.manager else { return };
        if stopping {
            if !m.stopping_sent {
                m.stopping_sent = true;
                m.status = status;
                m.send(&format!("STOPPING=1\nSTATUS={}", m.status));
            }
            return;
        }
        if ready && !m.ready_sent {
            m.ready_sent = true;
            m.status = status;
            m.send(&format!("READY=1\nSTATUS={}", m.status));
        } else if status != m.status {
            m.status = status;
            m.send(&format!("STATUS={}", m.status));
        }
    }

    /// Whether tend is ready as a whole, and the STATUS= line saying so
    /// (`3/4 ready; waiting for db`).
    fn summary(&self) -> (bool, String) {
        if self.phase == Phase::Init {
            return (false, "running init.d".to_string());
        }
        let (mut total, mut ready) = (0, 0);
        let mut waiting = None;
        for s in self.svcs.iter().filter(|s| s.should_run()) {
            total += 1;
            // An on-demand service waiting for its first connection is as
            // ready as it gets.
            if s.up_and_ready() || s.sockets.listening {
                ready += 1;
            } else if waiting.is_none() {
                waiting = Some(s.spec.name.as_str());
            }
        }
        let main_started = self
            .main
            .as_ref()
            .is_none_or(|m| m.pid.is_some() || m.exit.is_some());
        match (waiting, main_started) {
            (Some(w), _) => (false, format!("{ready}/{total} ready; waiting for {w}")),
            (None, false) => (
                false,
                format!("{total}/{total} ready; starting the main command"),
            ),
            (None, true) => (true, format!("{total}/{total} ready")),
        }
    }

    /// A reload begins: the manager hears RELOADING=1, then READY=1 again
    /// once everything is up and ready.
    pub(super) fn manager_reloading(&mut self) {
        if let Some(m) = &mut self.manager {
            m.ready_sent = false;
            m.send(&format!(
                "RELOADING=1\nMONOTONIC_USEC={}",
                sys::monotonic_usec()
            ));
        }
    }

    pub(super) fn manager_exit(&self, code: i32) {
        if let Some(m) = &self.manager {
            m.send(&format!("EXIT_STATUS={code}"));
        }
    }

    pub(super) fn manager_watchdog(&mut self, now: Instant) {
        if let Some(m) = &mut self.manager {
            if let (Some(at), Some(every)) = (m.watchdog_at, m.watchdog_every) {
                if at <= now {
                    m.send("WATCHDOG=1");
                    m.watchdog_at = Some(now + every);
                }
            }
        }
    }
}
