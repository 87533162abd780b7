//! A service's `listen` sockets (SPEC §2 socket activation): bound once
//! and kept across restarts, so that connections wait in the backlog while
//! the service restarts; passed as fds 3.. with LISTEN_FDS and
//! LISTEN_FDNAMES (sd_listen_fds(3)); with `on-demand`, watched by tend
//! until the first connection starts the service.

use super::*;

#[derive(Default)]
pub(super) struct Sockets {
    pub fds: Vec<OwnedFd>,
    /// `on-demand`: bound and waiting for the first connection.
    pub listening: bool,
}

impl Sockets {
    /// Binds the `listen` sockets on first use.
    pub fn ensure(&mut self, spec: &ServiceSpec) -> std::io::Result<()> {
        if self.fds.len() == spec.listen.len() {
            return Ok(());
        }
        let owner = spec.user.as_ref().map(|u| (u.uid, u.gid));
        let mut bound = Vec::new();
        for l in &spec.listen {
            let bind = match &l.addr {
                ListenAddr::Tcp(a) => sys::Bind::Tcp(*a),
                ListenAddr::Unix(p) => sys::Bind::Unix(p),
            };
            let fd = sys::listen_socket(bind, owner).map_err(|e| {
                std::io::Error::other(format!("{}: listen {}: {e}", spec.name, l.addr))
            })?;
            bound.push(fd);
        }
        self.fds = bound;
        Ok(())
    }

    /// LISTEN_FDS and LISTEN_FDNAMES for a run (LISTEN_PID is written by
    /// the child itself: see `sys::spawn`).
    pub fn add_env(&self, spec: &ServiceSpec, env: &mut Vec<(String, Option<OsString>)>) {
        if self.fds.is_empty() {
            return;
        }
        let names: Vec<&str> = spec.listen.iter().map(|l| l.name.as_str()).collect();
        env.push(("LISTEN_FDS".into(), Some(self.fds.len().to_string().into())));
        env.push(("LISTEN_FDNAMES".into(), Some(names.join(":").into())));
    }

    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.fds.iter().map(|f| f.as_raw_fd()).collect()
    }

    /// While waiting for the first connection: the sockets to watch.
    pub fn poll(&self, i: usize, add: &mut impl FnMut(RawFd, libc::c_short, Token)) {
        if self.listening {
            for fd in &self.fds {
                add(fd.as_raw_fd(), libc::POLLIN, Token::Listen(i));
            }
        }
    }

    /// Closes tend's copies (the ports are freed once the service's copies
    /// are gone too) and stops waiting for connections.
    pub fn close(&mut self) {
        self.listening = false;
        self.fds.clear();
    }
}

impl Supervisor {
    /// A connection waits on a socket of on-demand service i.
    pub(super) fn on_first_connection(&mut self, i: usize, now: Instant) {
        if std::mem::take(&mut self.svcs[i].sockets.listening) {
            log::info!("{}: first connection, starting", self.svcs[i].spec.name);
            self.feed(i, Event::Start, now);
        }
    }

    /// An on-demand service is due to start: bind its sockets and wait for
    /// a connection. False when binding failed (it is then started at once,
    /// which retries).
    pub(super) fn start_listening(&mut self, i: usize) -> bool {
        let s = &mut self.svcs[i];
        match s.sockets.ensure(&s.spec) {
            Ok(()) => {
                s.sockets.listening = true;
                true
            }
            Err(e) => {
                log::error!("{e}");
                false
            }
        }
    }
}
