//! Readiness: how tend learns that a service is ready (SPEC §2).
//! - s6 `notification-fd`: a fresh pipe per run, the write end on fd N of
//!   `run`; ready at the first newline (s6-supervise(8)).
//! - systemd `sd_notify`: a datagram socket per service, named in
//!   `$NOTIFY_SOCKET`; datagrams of `KEY=VALUE` lines: READY=1, STATUS=,
//!   WATCHDOG=1, STOPPING=1 (sd_notify(3)). MAINPID= is accepted and
//!   ignored: tend follows the process it started.
//! - a TCP connect, or a command exiting 0, tried again with a growing
//!   interval until it succeeds; never blocking the loop.

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// First retry interval of a tcp or command check; doubles up to `MAX_RETRY`.
pub const FIRST_RETRY: Duration = Duration::from_millis(20);
pub const MAX_RETRY: Duration = Duration::from_secs(1);
/// A check command or a connect that takes longer is abandoned (killed)
/// and tried again.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many sd_notify datagrams are read per service per wakeup.
pub const NOTICES_PER_WAKEUP: usize = 64;

/// What one sd_notify datagram says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notice {
    pub ready: bool,
    pub watchdog: bool,
    pub stopping: bool,
    pub status: Option<String>,
}

/// Parses one sd_notify datagram (newline-separated `KEY=VALUE`).
pub fn parse_notice(data: &[u8]) -> Notice {
    let mut n = Notice::default();
    for line in String::from_utf8_lossy(data).lines() {
        match line.split_once('=') {
            Some(("READY", "1")) => n.ready = true,
            Some(("WATCHDOG", "1")) => n.watchdog = true,
            Some(("STOPPING", "1")) => n.stopping = true,
            Some(("STATUS", s)) => n.status = Some(s.to_string()),
            _ => {}
        }
    }
    n
}

/// Counts newlines: has the service written its readiness line yet?
pub fn has_newline(data: &[u8]) -> bool {
    data.contains(&b'\n')
}

/// The file name part of a service's notify socket: `+` for `/` (which
/// cannot appear in a service name, so `x/log` and `x_log` differ), and a
/// long name cut to 24 bytes plus `~` and a hash of the whole: a unix
/// socket address holds at most 107 bytes, path or abstract.
pub fn socket_name(service: &str) -> String {
    let name = service.replace('/', "+");
    if name.len() <= 40 {
        return name;
    }
    // Stable, and enough to tell names apart.
    let mut hash = crate::spec::Fnv::new();
    hash.eat(name.as_bytes());
    let hash = hash.0;
    format!("{}~{hash:016x}", crate::spec::prefix_at_most(&name, 24))
}

/// The sd_notify socket of one service, kept across its restarts.
pub struct NotifySocket {
    /// The value of `$NOTIFY_SOCKET`: a path, or `@name` (abstract).
    pub address: String,
    /// The file to remove at the end, for a path.
    path: Option<PathBuf>,
    pub sock: UnixDatagram,
}

impl NotifySocket {
    /// Binds at `path`; where that is not writable (a read-only /run), at
    /// the abstract address `@tend-notify/RANDOM/NAME`, which sd_notify
    /// clients accept with its leading `@`. Random, not the pid: every
    /// container's tend is PID 1, and containers may share a network
    /// namespace (a Kubernetes pod), where abstract names live.
    /// `owner`: the service's uid and gid when it runs as another user,
    /// who must be able to send to the socket.
    pub fn bind(
        path: &Path,
        name: &str,
        owner: Option<(u32, u32)>,
    ) -> std::io::Result<NotifySocket> {
        let on_disk = || -> std::io::Result<UnixDatagram> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(path);
            let sock = UnixDatagram::bind(path)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
            }
            Ok(sock)
        };
        let (sock, address, file) = match on_disk() {
            Ok(sock) => (
                sock,
                path.to_string_lossy().into_owned(),
                Some(path.to_path_buf()),
            ),
            Err(_) => {
                use std::os::linux::net::SocketAddrExt;
                let abstract_name = format!("tend-notify/{:016x}/{name}", crate::sys::random_u64());
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name)?;
                (
                    UnixDatagram::bind_addr(&addr)?,
                    format!("@{abstract_name}"),
                    None,
                )
            }
        };
        sock.set_nonblocking(true)?;
        crate::sys::pass_credentials(&sock)?;
        Ok(NotifySocket {
            address,
            path: file,
            sock,
        })
    }

    /// The datagrams waiting, at most `NOTICES_PER_WAKEUP` (a flood must
    /// not hold the loop; poll reports the rest next turn), parsed, each
    /// with its sender's pid (see `sys::recv_with_pid`).
    pub fn read_some(&self) -> Vec<(Notice, Option<i32>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.len() < NOTICES_PER_WAKEUP {
            match crate::sys::recv_with_pid(self.fd(), &mut buf) {
                Ok((n, pid)) => out.push((parse_notice(&buf[..n]), pid)),
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Drops what is waiting (bounded by the socket's buffer), before a
    /// run starts: a READY=1 left by the previous run must not make the
    /// next one ready.
    pub fn discard_pending(&self) {
        let mut buf = [0u8; 64];
        for _ in 0..4096 {
            if self.sock.recv(&mut buf).is_err() {
                break;
            }
        }
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Resolves `HOST:PORT` where HOST is an IP address or `localhost`.
pub fn tcp_addr(spec: &str) -> Option<SocketAddr> {
    if let Ok(a) = spec.parse() {
        return Some(a);
    }
    let (host, port) = spec.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    match host {
        "localhost" => Some(SocketAddr::from(([127, 0, 0, 1], port))),
        h => h
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port)),
    }
}

/// Starts a non-blocking connect; poll the fd for POLLOUT, then ask
/// `connected`.
pub fn tcp_start(addr: SocketAddr) -> Option<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket::socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    let r = match addr {
        SocketAddr::V4(a) => socket::connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    };
    match r {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => Some(fd),
        Err(_) => None,
    }
}

/// After POLLOUT: did the connect succeed?
pub fn tcp_connected(fd: &OwnedFd) -> bool {
    socket::getsockopt(fd, socket::sockopt::SocketError).is_ok_and(|e| e == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices() {
        assert_eq!(
            parse_notice(b"READY=1\nSTATUS=serving 3 clients\n"),
            Notice {
                ready: true,
                status: Some("serving 3 clients".into()),
                ..Notice::default()
            }
        );
        assert!(parse_notice(b"WATCHDOG=1").watchdog);
        assert!(parse_notice(b"MAINPID=4\nSTOPPING=1").stopping);
        assert_eq!(parse_notice(b"READY=0\nbogus\n\xff"), Notice::default());
    }

    #[test]
    fn socket_names_fit_and_differ() {
        assert_eq!(socket_name("web"), "web");
        assert_eq!(socket_name("x/log"), "x+log");
        let a = socket_name(&"a".repeat(200));
        let b = socket_name(&format!("{}b", "a".repeat(199)));
        assert!(a.len() <= 41 && b.len() <= 41, "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a, socket_name(&"a".repeat(200)), "stable");
    }

    #[test]
    fn addresses() {
        assert_eq!(tcp_addr("127.0.0.1:80"), Some(([127, 0, 0, 1], 80).into()));
        assert_eq!(
            tcp_addr("localhost:8080"),
            Some(([127, 0, 0, 1], 8080).into())
        );
        assert_eq!(tcp_addr("[::1]:9").map(|a| a.port()), Some(9));
        assert_eq!(tcp_addr("example.com:80"), None);
        assert_eq!(tcp_addr("127.0.0.1"), None);
    }
}
