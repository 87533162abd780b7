//! What a service is, once its dir (or unit) has been read and checked:
//! `ServiceSpec` and its parts. Plain data; `scan` builds it, `order`
//! checks the `after` graph, the supervisor runs it.

use crate::config::{self, Restart};
use crate::state::Policy;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Everything needed to run one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    /// The service dir, or the unit file (`SERVICES/NAME.service`): where
    /// the service is defined, as error lines name it.
    pub dir: PathBuf,
    /// `[dir/run]`, or `service.toml`'s `command`.
    pub argv: Vec<OsString>,
    /// `[dir/finish]`, or a unit's `ExecStopPost=` runner: `finish`'s
    /// four arguments are appended.
    pub finish: Option<Vec<OsString>>,
    /// A `down` file: not started automatically.
    pub down: bool,
    pub critical: bool,
    /// `user`: run as this user (and its groups).
    pub user: Option<Box<config::User>>,
    pub readiness: Readiness,
    /// `after`: start once these are ready, stop before them.
    pub after: Vec<String>,
    /// For a `log/` service: the service whose stdout it reads.
    pub logger_of: Option<String>,
    /// `listen`: sockets tend binds and passes as fds 3.. (LISTEN_FDS).
    pub listen: Vec<Listen>,
    /// `on-demand`: start on the first connection to a `listen` socket.
    pub on_demand: bool,
    /// `instances = N`: this dir is a template, run as NAME@1 .. NAME@N.
    pub instances: u32,
    /// For one instance of a template: the template's name.
    pub template: Option<String>,
    /// `watchdog`: with `ready = "notify"`, restart when WATCHDOG=1 stops.
    pub watchdog: Option<Duration>,
    /// Changes to tend's environment: `Some` sets, `None` unsets.
    pub env: Vec<(String, Option<OsString>)>,
    /// `pid-file`: `run` daemonizes; the pid this file names is then the
    /// service's main process.
    pub pid_file: Option<PathBuf>,
    pub policy: PolicySpec,
    /// What only a systemd unit defines; `None` for a service dir, which
    /// then costs one pointer for all of it.
    pub unit: Option<Box<UnitSpec>>,
    /// A hash of the contents of the service's files (all but `down`), so
    /// that a reload restarts a service whose `run` was edited.
    pub fingerprint: u64,
}

/// The parts of a service only a systemd unit has (SPEC §8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitSpec {
    /// `Description=` and `Type=`, for `tend ctl status`.
    pub description: String,
    pub kind: &'static str,
    /// `WorkingDirectory=` (`/` by default, as in systemd).
    pub cwd: PathBuf,
    /// Made before each start, owned by `User=` (`RuntimeDirectory=` and
    /// the like).
    pub dirs: Vec<MakeDir>,
    /// `ExecReload=`: what `reload NAME` runs, instead of sending the
    /// reload signal.
    pub reload_command: Option<Helper>,
    /// `ExecStop=`: run instead of sending the stop signal, which follows
    /// at its exit if the main process is still there.
    pub stop_command: Option<Helper>,
    /// `ExecStartPost=`: run once the main process is up and ready; the
    /// service is ready once it exited 0.
    pub start_post: Option<Helper>,
    /// `UMask=`, `Nice=`, `Limit*=`, for each of its processes.
    pub limits: crate::sys::Limits,
    /// `StandardOutput=`, `StandardError=`: files opened for each start as
    /// the processes' stdout, stderr; `None`: tend's output.
    pub output: [Option<OutFile>; 2],
}

/// FNV-1a, 64 bits: the fingerprint of a service's files (`ServiceSpec::
/// fingerprint`) and the hash in a long service's notify socket name.
/// Stable and cheap; not for anything an attacker must not collide.
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv::new()
    }
}

/// A command the supervisor runs for a service beside its main process
/// (`MAINPID` set), with the service's cwd, environment and output.
#[derive(Debug, Clone, PartialEq)]
pub struct Helper {
    pub argv: Vec<OsString>,
    /// `None`: as tend's user (a unit's `+`/`!` commands, or no `User=`).
    pub user: Option<config::User>,
}

/// A file a service writes its output to (`/dev/null` for `null`):
/// written from its start, or appended to, or truncated first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    pub path: PathBuf,
    pub append: bool,
    pub truncate: bool,
}

/// A directory made before a start: `mkdir -p`, then this mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeDir {
    pub path: PathBuf,
    pub mode: u32,
}

/// One `listen` entry: `tcp:HOST:PORT`, `unix:/PATH` or `fd:NAME`, with
/// an optional `#NAME` for LISTEN_FDNAMES (default: the service's name;
/// for `fd:NAME`, NAME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub addr: ListenAddr,
    pub name: String,
    /// A unit's `ListenDatagram=` (UDP, or a unix datagram socket) and
    /// `ListenSequentialPacket=`; a stream otherwise.
    pub kind: SockKind,
    /// A unix socket file's mode (a unit's `SocketMode=`; 0666).
    pub mode: u32,
    /// listen(2)'s backlog (a unit's `Backlog=`).
    pub backlog: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockKind {
    Stream,
    Datagram,
    SeqPacket,
}

impl Listen {
    /// A `listen` entry's socket: a stream, mode 0666, backlog 128.
    fn new(addr: ListenAddr, name: String) -> Listen {
        Listen {
            addr,
            name,
            kind: SockKind::Stream,
            mode: 0o666,
            backlog: 128,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// TCP, or UDP for a datagram socket.
    Tcp(std::net::SocketAddr),
    /// A path, or `@NAME` in the abstract namespace (from a unit).
    Unix(PathBuf),
    /// Every socket tend's own manager handed it under this name
    /// (LISTEN_FDNAMES; SPEC §7).
    Inherited(String),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "tcp:{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            ListenAddr::Inherited(n) => write!(f, "fd:{n}"),
        }
    }
}

/// The LISTEN_FDNAMES names of the sockets tend's manager handed it, set
/// once at startup (empty when none): what `fd:NAME` may name.
static INHERITED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

pub fn set_inherited_names(names: Vec<String>) {
    let _ = INHERITED.set(names);
}

/// `fd:NAME` entries must name a socket tend was handed: else an error
/// for the service that names what there is.
pub fn check_inherited(l: &Listen) -> Result<(), String> {
    let have: &[String] = INHERITED.get().map_or(&[], Vec::as_slice);
    match &l.addr {
        ListenAddr::Inherited(n) if !have.contains(n) => Err(format!(
            "fd:{n}: tend was handed no socket of that name (LISTEN_FDNAMES: {})",
            if have.is_empty() {
                "none".to_string()
            } else {
                have.join(":")
            }
        )),
        _ => Ok(()),
    }
}

/// Parses one `listen` entry for service `service`.
pub fn parse_listen(entry: &str, service: &str) -> Result<Listen, String> {
    let (addr, name) = match entry.split_once('#') {
        Some((a, n)) if !n.is_empty() && !n.contains(':') => (a, Some(n.to_string())),
        Some(_) => {
            return Err(format!(
                "{entry:?}: a name after # must be non-empty, without ':'"
            ))
        }
        None => (entry, None),
    };
    if let Some(n) = addr.strip_prefix("fd:") {
        if n.is_empty() || n.contains(':') {
            return Err(format!(
                "{entry:?}: expected fd:NAME, a LISTEN_FDNAMES name"
            ));
        }
        let name = name.unwrap_or_else(|| n.to_string());
        let addr = ListenAddr::Inherited(n.to_string());
        return Ok(Listen::new(addr, name));
    }
    let name = name.unwrap_or_else(|| service.to_string());
    let addr = if let Some(hp) = addr.strip_prefix("tcp:") {
        ListenAddr::Tcp(
            crate::ready::tcp_addr(hp)
                .ok_or_else(|| format!("{entry:?}: expected tcp:IP:PORT (or localhost:PORT)"))?,
        )
    } else if let Some(p) = addr.strip_prefix("unix:") {
        if !p.starts_with('/') {
            return Err(format!("{entry:?}: a unix socket path must be absolute"));
        }
        ListenAddr::Unix(PathBuf::from(p))
    } else {
        return Err(format!(
            "{entry:?}: expected tcp:HOST:PORT, unix:/PATH or fd:NAME"
        ));
    };
    Ok(Listen::new(addr, name))
}

/// How a service says it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// No signal: ready once up.
    None,
    /// s6 `notification-fd`: a newline written on this fd.
    Fd(i32),
    /// systemd `sd_notify`: READY=1 on `$NOTIFY_SOCKET`.
    Notify,
    /// A TCP connect to this address succeeds.
    Tcp(String),
    /// This command, run in the service dir, exits 0.
    Command(Vec<OsString>),
}

/// The `state::Policy` parts that come from files, kept comparable.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub restart: Restart,
    pub delay: Duration,
    pub delay_max: Duration,
    pub stop_signal: i32,
    pub grace: Duration,
    pub finish_timeout: Option<Duration>,
    /// `start-limit`: (N, DUR).
    pub start_limit: Option<(u32, Duration)>,
    /// `reload-signal`: what `tend ctl reload NAME` sends (default HUP).
    pub reload_signal: i32,
    /// A unit's `Type=oneshot`, and its `RemainAfterExit=`.
    pub oneshot: bool,
    pub remain_after_exit: bool,
    /// A unit's exit statuses (and, later, its other rules).
    pub unit: crate::state::Rules,
}

impl ServiceSpec {
    /// The working directory of the service's processes: the service
    /// dir, or a unit's `WorkingDirectory=`.
    pub fn cwd(&self) -> &std::path::Path {
        self.unit.as_ref().map_or(&self.dir, |u| &u.cwd)
    }

    /// A unit's `UMask=`, `Nice=` and `Limit*=`; none for a service dir.
    pub fn limits(&self) -> &crate::sys::Limits {
        self.unit
            .as_ref()
            .map_or(&crate::sys::NO_LIMITS, |u| &u.limits)
    }

    /// Equal apart from the `down` file.
    pub fn same_but_down(&self, other: &ServiceSpec) -> bool {
        let mut a = self.clone();
        a.down = other.down;
        a == *other
    }

    pub fn policy(&self) -> Policy {
        let p = &self.policy;
        Policy {
            restart: p.restart,
            delay: p.delay,
            delay_max: p.delay_max,
            stop_signal: p.stop_signal,
            grace: p.grace,
            has_finish: self.finish.is_some(),
            has_readiness: self.readiness != Readiness::None,
            finish_timeout: p.finish_timeout,
            start_limit: p.start_limit,
            pid_file: self.pid_file.is_some(),
            stop_command: self.unit.as_ref().is_some_and(|u| u.stop_command.is_some()),
            oneshot: p.oneshot,
            remain_after_exit: p.remain_after_exit,
            unit: p.unit.clone(),
            ..Policy::default()
        }
    }
}

/// The longest start of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn prefix_at_most(s: &str, max: usize) -> &str {
    let end = (0..=max.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[..end]
}

/// `[A-Za-z0-9][A-Za-z0-9._@-]*`
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["web", "a", "php-fpm", "x.y", "getty@tty1", "A_1"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "-x", "_x", "a b", "a/b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn prefixes_end_on_a_character() {
        assert_eq!(prefix_at_most("abc", 10), "abc");
        assert_eq!(prefix_at_most("abc", 2), "ab");
        assert_eq!(prefix_at_most("aé", 2), "a");
        assert_eq!(prefix_at_most("é", 1), "");
    }

    #[test]
    fn listen_entries() {
        let l = parse_listen("tcp:0.0.0.0:80#http", "web").unwrap();
        assert_eq!(l.addr, ListenAddr::Tcp(([0, 0, 0, 0], 80).into()));
        assert_eq!(l.name, "http");
        let l = parse_listen("unix:/run/app.sock", "app").unwrap();
        assert_eq!(l.addr, ListenAddr::Unix("/run/app.sock".into()));
        assert_eq!(l.name, "app");
        assert_eq!(l.addr.to_string(), "unix:/run/app.sock");
        let l = parse_listen("fd:web", "app").unwrap();
        assert_eq!(l.addr, ListenAddr::Inherited("web".into()));
        assert_eq!(
            (l.name.as_str(), l.addr.to_string()),
            ("web", "fd:web".into())
        );
        assert_eq!(parse_listen("fd:web#http", "app").unwrap().name, "http");
        for bad in [
            "fd:",
            "fd:a:b",
            "80",
            "tcp:80",
            "tcp:host:80",
            "unix:rel.sock",
            "udp:1.2.3.4:5",
            "tcp:[::1]:9#",
            "tcp:[::1]:9#a:b",
        ] {
            assert!(parse_listen(bad, "x").is_err(), "{bad:?} accepted");
        }
    }
}
