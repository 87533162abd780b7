//! A service's `listen` sockets (SPEC §2 socket activation): bound once
//! and kept across restarts, so that connections wait in the backlog while
//! the service restarts; passed as fds 3.. with LISTEN_FDS and
//! LISTEN_FDNAMES (sd_listen_fds(3)); with `on-demand`, watched by tend
//! until the first connection starts the service.

use super::*;
use crate::spec::SockKind;

#[derive(Default)]
pub(super) struct Sockets {
    pub fds: Vec<OwnedFd>,
    /// The LISTEN_FDNAMES name of each fd.
    names: Vec<String>,
    bound: bool,
    /// `on-demand`: bound and waiting for the first connection.
    pub listening: bool,
}

impl Sockets {
    /// Binds the `listen` sockets on first use; `fd:NAME` entries take a
    /// copy of every socket of that name among `inherited` (SPEC §7).
    pub fn ensure(
        &mut self,
        spec: &ServiceSpec,
        inherited: &[(String, OwnedFd)],
    ) -> std::io::Result<()> {
        if self.bound {
            return Ok(());
        }
        let owner = spec.user.as_ref().map(|u| (u.uid, u.gid));
        let (mut fds, mut names) = (Vec::new(), Vec::new());
        for l in &spec.listen {
            let fail = |e: std::io::Error| {
                std::io::Error::other(format!("{}: listen {}: {e}", spec.name, l.addr))
            };
            let bind = match &l.addr {
                ListenAddr::Tcp(a) => sys::Bind::Tcp(*a),
                ListenAddr::Unix(p) => sys::Bind::Unix(p),
                ListenAddr::Inherited(want) => {
                    for (_, fd) in inherited.iter().filter(|(n, _)| n == want) {
                        fds.push(fd.try_clone().map_err(fail)?);
                        names.push(l.name.clone());
                    }
                    continue;
                }
            };
            let ty = match l.kind {
                SockKind::Stream => libc::SOCK_STREAM,
                SockKind::Datagram => libc::SOCK_DGRAM,
                SockKind::SeqPacket => libc::SOCK_SEQPACKET,
            };
            let open = |b| sys::listen_socket(b, ty, l.mode, l.backlog, owner);
            let fd = match (open(bind), bind) {
                // `[::]:PORT` (a unit's bare port) on a kernel without
                // IPv6: every IPv4 address, as systemd falls back.
                (Err(e), sys::Bind::Tcp(a))
                    if e.raw_os_error() == Some(libc::EAFNOSUPPORT) && a.ip().is_unspecified() =>
                {
                    open(sys::Bind::Tcp(
                        (std::net::Ipv4Addr::UNSPECIFIED, a.port()).into(),
                    ))
                }
                (r, _) => r,
            };
            fds.push(fd.map_err(fail)?);
            names.push(l.name.clone());
        }
        (self.fds, self.names, self.bound) = (fds, names, true);
        Ok(())
    }

    /// LISTEN_FDS and LISTEN_FDNAMES for a run (LISTEN_PID is written by
    /// the child itself: see `sys::spawn`).
    pub fn add_env(&self, env: &mut Vec<(String, Option<OsString>)>) {
        if self.fds.is_empty() {
            return;
        }
        env.push(("LISTEN_FDS".into(), Some(self.fds.len().to_string().into())));
        env.push(("LISTEN_FDNAMES".into(), Some(self.names.join(":").into())));
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
        self.unbind();
    }

    /// Drops tend's copies; the next start binds (or claims) anew.
    pub fn unbind(&mut self) {
        self.bound = false;
        self.fds.clear();
        self.names.clear();
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
        self.mark(i);
        let s = &mut self.svcs[i];
        match s.sockets.ensure(&s.spec, &self.inherited) {
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
