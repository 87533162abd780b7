//! Service directory -> service specs (SPEC §2). Reads the files of each
//! `SERVICES/NAME/`, validates them, and reports every problem as one line
//! naming the path; a broken service is skipped, the others are returned.
//! Starts nothing.

use crate::config::{self, Restart};
use crate::order::check_order;
use crate::spec::{
    check_inherited, parse_listen, valid_name, Fnv, PolicySpec, Readiness, ServiceSpec,
};
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Caps on what tend reads from a service dir. SPEC §2's files are short
/// (one-liners and a service.toml of a few lines); a bigger one is a
/// mistake, and PID 1 must not spend its memory finding that out.
pub const SERVICE_TOML_MAX: u64 = 64 * 1024;
/// `notification-fd`, `timeout-finish`, `down-signal`.
pub const ONE_LINER_MAX: u64 = 4 * 1024;
/// One `env/` file (one variable; the kernel takes at most 128 KiB each).
pub const ENV_FILE_MAX: u64 = 64 * 1024;
/// Files in `env/`, and entries in one service dir.
pub const DIR_ENTRIES_MAX: usize = 1024;
/// `/etc/passwd` and `/etc/group`, read for `user`.
pub const ETC_FILE_MAX: u64 = 1024 * 1024;

/// Reads `path` whole if it is a regular file of at most `cap` bytes, else
/// a one-line error naming the path. A FIFO, a device or a symlink to one
/// is refused before it is opened (opening a FIFO blocks, reading
/// /dev/zero never ends, opening some devices has effects); the open is
/// O_NONBLOCK and the file checked again, in case it was swapped in
/// between; the read stops at `cap` + 1 bytes whatever the size said.
pub fn read_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let fail = |what: String| format!("{}: {what}", path.display());
    let regular = |m: &fs::Metadata| -> Result<(), String> {
        let t = m.file_type();
        let kind = match () {
            _ if t.is_file() => return Ok(()),
            _ if t.is_dir() => "a directory",
            _ if t.is_fifo() => "a FIFO",
            _ if t.is_char_device() => "a character device",
            _ if t.is_block_device() => "a block device",
            _ if t.is_socket() => "a socket",
            _ => "of an unknown type",
        };
        Err(fail(format!("not a regular file but {kind}")))
    };
    let too_big = || fail(format!("larger than {cap} bytes"));
    let meta = fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    regular(&meta)?;
    if meta.len() > cap {
        return Err(too_big());
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| fail(e.to_string()))?;
    regular(&file.metadata().map_err(|e| fail(e.to_string()))?)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}

/// `read_bounded`, as UTF-8 text.
fn read_text(path: &Path, cap: u64) -> Result<String, String> {
    String::from_utf8(read_bounded(path, cap)?)
        .map_err(|_| format!("{}: not UTF-8", path.display()))
}

/// /etc/passwd or /etc/group, bounded; a missing file is an empty one
/// (numeric ids still work), any other problem is said.
pub(crate) fn read_etc(path: &str) -> Result<String, String> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        _ => read_text(Path::new(path), ETC_FILE_MAX),
    }
}

/// What a service dir holds, read once: its entries with their metadata
/// (symlinks followed), so that scanning asks the kernel only about files
/// that exist (one getdents and a stat each, instead of an open that fails
/// for every optional file).
struct Listing {
    dir: PathBuf,
    entries: Vec<(String, fs::Metadata)>,
}

impl Listing {
    fn read(dir: &Path) -> Result<Listing, String> {
        let rd = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut entries: Vec<(String, fs::Metadata)> = Vec::new();
        for (i, e) in rd.flatten().enumerate() {
            if i >= DIR_ENTRIES_MAX {
                return Err(format!(
                    "{}: more than {DIR_ENTRIES_MAX} entries",
                    dir.display()
                ));
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(m) = fs::metadata(e.path()) {
                entries.push((name, m));
            }
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Listing {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    fn get(&self, name: &str) -> Option<&fs::Metadata> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn is_executable(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    /// Reads a small control file (`timeout-finish`, `down-signal`, ...),
    /// trimmed: `Ok(None)` when absent.
    fn read_small(&self, name: &str) -> Result<Option<String>, String> {
        if !self.has(name) {
            return Ok(None);
        }
        read_text(&self.dir.join(name), ONE_LINER_MAX).map(|s| Some(s.trim().to_string()))
    }

    /// FNV-1a over the name, size, modification time, mode and inode of
    /// each file (not `down`, not subdirectories such as `log/` or `env/`,
    /// whose values are compared as part of the spec): an edit, a
    /// replacement or a chmod changes it. Metadata only: a `run` that is a
    /// 50 MB binary costs one stat, not a read.
    fn fingerprint(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut h = Fnv::new();
        for (name, m) in &self.entries {
            if !m.is_file() || name == "down" {
                continue;
            }
            h.eat(name.as_bytes());
            let fields = [
                m.len(),
                m.mtime() as u64,
                m.mtime_nsec() as u64,
                m.mode() as u64,
                m.ino(),
            ];
            for n in fields {
                h.eat(&n.to_le_bytes());
            }
        }
        h.0
    }
}

/// Scans `root`, returning the good services (the dirs sorted by name,
/// then the units) and one error line per problem. `Err` only when `root`
/// itself cannot be read.
pub fn scan(root: &Path, grace: Duration) -> Result<(Vec<ServiceSpec>, Vec<String>), String> {
    scan_dirs(root, grace).map(|s| (s.specs, s.errors))
}

/// What a scan found: the services, one error line per problem, and the
/// names of the service dirs that are there but broken (so that a reload
/// keeps such a service running on its old definition).
pub struct Scanned {
    pub specs: Vec<ServiceSpec>,
    pub errors: Vec<String>,
    /// (dir name, error) of each service dir that failed to load.
    pub broken: Vec<(String, String)>,
    /// Lines to warn about that skip nothing: the directives of each unit
    /// that tend ignores.
    pub warnings: Vec<String>,
}

pub fn scan_dirs(root: &Path, grace: Duration) -> Result<Scanned, String> {
    let entries = fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    // Absolute paths: `run` is started with the service dir as its cwd, so
    // a relative `--services` must not leak into the paths tend executes.
    let root = &std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let mut names: Vec<String> = Vec::new();
    let mut units: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // systemd units (SPEC §8): `NAME.service`, `NAME.socket` and their
        // drop-ins.
        if (name.ends_with(".service") || name.ends_with(".socket")) && !path.is_dir() {
            units.push(name);
            continue;
        }
        if !path.is_dir() || name.ends_with(".service.d") || name.ends_with(".socket.d") {
            continue;
        }
        if !valid_name(&name) {
            errors.push(format!(
                "{}: bad service name (allowed: letters, digits, . _ @ -, not first)",
                path.display()
            ));
            continue;
        }
        names.push(name);
    }
    names.sort_unstable();
    units.sort_unstable();
    let mut specs = Vec::new();
    let mut broken = Vec::new();
    for name in names {
        let dir = root.join(&name);
        let mut spec = match load(&dir, &name, grace) {
            Ok(spec) => spec,
            Err(e) => {
                broken.push((name, e.clone()));
                errors.push(e);
                continue;
            }
        };
        let log_dir = dir.join("log");
        let logger = match log_dir.is_dir() {
            false => None,
            true => match load(&log_dir, &format!("{name}/log"), grace) {
                Ok(logger) => Some(logger),
                Err(e) => {
                    broken.push((name.clone(), e.clone()));
                    errors.push(format!("{e} (so {name} is not started either)"));
                    continue;
                }
            },
        };
        // A template runs as NAME@1 .. NAME@N, each with $TEND_INSTANCE
        // (and its own logger, if the template has a log/).
        let copies: Vec<(String, Option<u32>)> = match spec.instances {
            0 => vec![(name.clone(), None)],
            n => (1..=n).map(|i| (format!("{name}@{i}"), Some(i))).collect(),
        };
        spec.instances = 0;
        for (instance, number) in copies {
            let mut one = spec.clone();
            one.name = instance.clone();
            if let Some(i) = number {
                one.template = Some(name.clone());
                one.env
                    .push(("TEND_INSTANCE".into(), Some(i.to_string().into())));
            }
            match &logger {
                // The logger runs before its service and stops after it.
                Some(l) => {
                    let mut l = l.clone();
                    l.name = format!("{instance}/log");
                    l.logger_of = Some(instance);
                    l.env.extend(
                        one.env
                            .iter()
                            .filter(|(k, _)| k == "TEND_INSTANCE")
                            .cloned(),
                    );
                    one.after.push(l.name.clone());
                    specs.push(one);
                    specs.push(l);
                }
                None => specs.push(one),
            }
        }
    }
    let mut scanned = Scanned {
        specs,
        errors,
        broken,
        warnings: Vec::new(),
    };
    crate::unit_scan::add_units(root, &units, grace, &mut scanned);
    let (specs, more) = check_order(std::mem::take(&mut scanned.specs));
    scanned.specs = specs;
    scanned.errors.extend(more);
    Ok(scanned)
}

/// Loads one service dir; the error names the file and the problem.
pub fn load(dir: &Path, name: &str, grace: Duration) -> Result<ServiceSpec, String> {
    let files = Listing::read(dir)?;
    let toml_path = dir.join("service.toml");
    let toml = match files.has("service.toml") {
        true => config::parse_service_toml(&read_text(&toml_path, SERVICE_TOML_MAX)?)
            .map_err(|e| format!("{}: {e}", toml_path.display()))?,
        false => config::ServiceToml::default(),
    };
    let bad = |key: &str, e: String| format!("{}: {key}: {e}", toml_path.display());
    let duration = |key: &str, v: &Option<String>, default: Duration| match v {
        Some(s) => config::parse_duration(s).map_err(|e| bad(key, e)),
        None => Ok(default),
    };

    let run = dir.join("run");
    let argv = match &toml.command {
        Some(cmd) if cmd.is_empty() || cmd[0].is_empty() => {
            return Err(bad("command", "must name a program".into()))
        }
        Some(cmd) => cmd.iter().map(OsString::from).collect(),
        None if files.is_executable("run") => vec![run.clone().into_os_string()],
        None if files.has("run") => return Err(format!("{}: not executable", run.display())),
        None => {
            return Err(format!(
                "{}: no run script and no command in service.toml",
                dir.display()
            ))
        }
    };

    let finish_path = dir.join("finish");
    let finish = if files.is_executable("finish") {
        Some(vec![finish_path.clone().into_os_string()])
    } else if files.has("finish") {
        return Err(format!("{}: not executable", finish_path.display()));
    } else {
        None
    };

    let tf_path = dir.join("timeout-finish");
    let finish_timeout = match files.read_small("timeout-finish")? {
        None => Some(Duration::from_millis(5000)),
        Some(s) => match s.parse::<u64>() {
            Ok(0) => None,
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                return Err(format!(
                    "{}: expected milliseconds, got {s:?}",
                    tf_path.display()
                ))
            }
        },
    };

    let ds_path = dir.join("down-signal");
    let down_signal = match files.read_small("down-signal")? {
        Some(s) => {
            Some(config::parse_signal(&s).map_err(|e| format!("{}: {e}", ds_path.display()))?)
        }
        None => None,
    };
    let stop_signal = match &toml.stop_signal {
        Some(s) => config::parse_signal(s).map_err(|e| bad("stop-signal", e))?,
        None => down_signal.unwrap_or(libc::SIGTERM),
    };

    let policy = PolicySpec {
        restart: toml.restart.unwrap_or(Restart::Always),
        delay: duration(
            "restart-delay",
            &toml.restart_delay,
            Duration::from_millis(100),
        )?,
        delay_max: duration(
            "restart-delay-max",
            &toml.restart_delay_max,
            Duration::from_secs(30),
        )?,
        stop_signal,
        grace: duration("stop-grace", &toml.stop_grace, grace)?,
        finish_timeout,
        start_limit: match &toml.start_limit {
            Some(s) => Some(config::parse_start_limit(s).map_err(|e| bad("start-limit", e))?),
            None => None,
        },
        reload_signal: match &toml.reload_signal {
            Some(s) => config::parse_signal(s).map_err(|e| bad("reload-signal", e))?,
            None => libc::SIGHUP,
        },
        oneshot: false,
        remain_after_exit: false,
        unit: Default::default(),
    };

    let user = match &toml.user {
        None => None,
        Some(u) => {
            let etc = |path: &str| read_etc(path).map_err(|e| bad("user", e));
            let (passwd, group) = (etc("/etc/passwd")?, etc("/etc/group")?);
            Some(config::resolve_user(u, &passwd, &group).map_err(|e| bad("user", e))?)
        }
    };
    // The user's HOME, USER and LOGNAME first: env/ and `env` may override.
    let mut env = Vec::new();
    if let Some(u) = &user {
        if let Some(h) = &u.home {
            env.push(("HOME".to_string(), Some(h.into())));
        }
        if let Some(n) = &u.name {
            env.push(("USER".to_string(), Some(n.into())));
            env.push(("LOGNAME".to_string(), Some(n.into())));
        }
    }
    if files.has("env") {
        env.extend(read_envdir(&dir.join("env"))?);
    }
    for (k, v) in toml.env.iter().flatten() {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(bad("env", format!("bad variable {k:?}")));
        }
        env.push((k.clone(), Some(v.into())));
    }

    let nfd_path = dir.join("notification-fd");
    let notification_fd = match files.read_small("notification-fd")? {
        None => None,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if (3..1024).contains(&n) => Some(n),
            _ => {
                return Err(format!(
                    "{}: expected a file descriptor number from 3 to 1023, got {text:?}",
                    nfd_path.display()
                ))
            }
        },
    };
    let readiness = match (&toml.ready, notification_fd) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: both notification-fd and ready are set; keep one",
                dir.display()
            ))
        }
        (None, Some(n)) => Readiness::Fd(n),
        (None, None) => Readiness::None,
        (Some(v), None) => parse_ready(v).map_err(|e| bad("ready", e))?,
    };
    let watchdog = match &toml.watchdog {
        None => None,
        Some(_) if readiness != Readiness::Notify => {
            return Err(bad("watchdog", "needs ready = \"notify\"".into()))
        }
        Some(w) => Some(config::parse_duration(w).map_err(|e| bad("watchdog", e))?),
    };

    // Keys whose features are not built yet: accepted so that a
    // service.toml written for a later tend still runs, but said.
    let listen = toml
        .listen
        .iter()
        .flatten()
        .map(|l| {
            let l = parse_listen(l, name).map_err(|e| bad("listen", e))?;
            check_inherited(&l).map_err(|e| bad("listen", e))?;
            Ok::<_, String>(l)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let on_demand = toml.on_demand.unwrap_or(false);
    if on_demand && listen.is_empty() {
        return Err(bad("on-demand", "needs listen".into()));
    }
    // The sockets are fds 3 .. 3+n: notification-fd must not be one of them.
    if let Some(n) = notification_fd {
        if listen.len() as i32 + 3 > n {
            return Err(format!(
                "{}: fd {n} is taken by the listen sockets (fds 3 to {})",
                nfd_path.display(),
                listen.len() + 2
            ));
        }
    }

    let pid_file = match &toml.pid_file {
        Some(p) if !p.starts_with('/') => {
            return Err(bad("pid-file", format!("{p:?} must be an absolute path")))
        }
        p => p.as_ref().map(PathBuf::from),
    };

    Ok(ServiceSpec {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        argv,
        finish,
        down: files.has("down"),
        critical: toml.critical.unwrap_or(false),
        user: user.map(Box::new),
        readiness,
        after: toml.after.unwrap_or_default(),
        logger_of: None,
        listen,
        on_demand,
        instances: toml.instances.unwrap_or(0),
        template: None,
        watchdog,
        env,
        policy,
        pid_file,
        unit: None,
        fingerprint: files.fingerprint(),
    })
}

/// Checks `ready`: a tcp address needs a port, a command a program.
fn parse_ready(v: &config::Ready) -> Result<Readiness, String> {
    match v {
        config::Ready::Notify => Ok(Readiness::Notify),
        config::Ready::Tcp(a) => match a.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => Ok(Readiness::Tcp(a.clone())),
            _ => Err(format!("tcp: expected HOST:PORT, got {a:?}")),
        },
        config::Ready::Command(config::Argv(argv)) => match argv.first() {
            Some(program) if !program.is_empty() => Ok(Readiness::Command(
                argv.iter().map(OsString::from).collect(),
            )),
            _ => Err("command: must name a program".into()),
        },
    }
}

/// An s6 envdir: each file NAME sets NAME to its first line, trailing
/// spaces and tabs trimmed, NUL bytes turned to newlines; an empty file
/// unsets NAME.
fn read_envdir(dir: &Path) -> Result<Vec<(String, Option<OsString>)>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut vars = Vec::new();
    for (i, entry) in entries.flatten().enumerate() {
        if i >= DIR_ENTRIES_MAX {
            return Err(format!(
                "{}: more than {DIR_ENTRIES_MAX} entries",
                dir.display()
            ));
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if name.contains('=') {
            return Err(format!("{}: bad variable name", path.display()));
        }
        let bytes = read_bounded(&path, ENV_FILE_MAX)?;
        vars.push((name, envdir_value(&bytes)));
    }
    vars.sort_unstable();
    Ok(vars)
}

/// The value an envdir file's contents set: `None` (unset) when empty.
/// Bytes, not text: a value need not be UTF-8, and is passed on as it is.
pub fn envdir_value(bytes: &[u8]) -> Option<OsString> {
    if bytes.is_empty() {
        return None;
    }
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    let value = line[..end]
        .iter()
        .map(|&b| if b == 0 { b'\n' } else { b })
        .collect();
    Some(OsString::from_vec(value))
}

#[cfg(test)]
mod tests;
