//! systemd units in the services dir (SPEC §8) -> `ServiceSpec`s, beside
//! the service dirs `scan` reads: `NAME.service` (a file, or a link to
//! e.g. /lib/systemd/system/NAME.service) is the service NAME, with the
//! drop-ins `NAME.service.d/*.conf` beside it or beside the link's target;
//! `NAME@INST.service` is an instance of the template `NAME@.service`.
//!
//! The I/O edge of `unit` (which is pure): reads each file bounded (regular
//! files only), the environment files, /etc/passwd and /etc/group, then
//! maps the typed `UnitService` onto a `ServiceSpec` as the table in
//! `unit`'s docs says. A broken unit is one error line `FILE:LINE: what`
//! and is skipped; every directive tend does not carry out is named in one
//! warning line per unit. Starts nothing, creates nothing.

use crate::config::{self, Restart};
use crate::scan::{read_bounded, Scanned, DIR_ENTRIES_MAX};
use crate::spec::{
    valid_name, Helper, Listen, ListenAddr, MakeDir, PolicySpec, Readiness, ServiceSpec, SockKind,
};
use crate::sys::Limits;
use crate::unit::common::UnitSection;
use crate::unit::exec::{self, Privileges};
use crate::unit::process::{DirRoot, Output};
use crate::unit::service::{self, KillMode, RestartPolicy, ServiceType, UnitService};
use crate::unit::socket::{self, SocketAddress, SocketKind, UnitSocket};
use crate::unit::{common, envfile, parse, spec::SpecContext};
use crate::unit_exec::{self, Mode};
use std::ffi::OsString;
use std::fs;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A unit file or drop-in; systemd's own limit for one is 1 MiB per line,
/// real units are a few KiB.
pub const UNIT_FILE_MAX: u64 = 256 * 1024;
/// Drop-ins of one unit, all dirs together: each is read whole, so PID 1
/// bounds how many.
pub const DROPINS_MAX: usize = 256;
/// One `EnvironmentFile=`.
pub const ENVIRONMENT_FILE_MAX: u64 = 256 * 1024;
/// `TimeoutStopSec=infinity` (or `0`), `SendSIGKILL=no`: tend's grace is a
/// duration, so "never" is a year (a container stop ends long before).
const NO_KILL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Where systemd looks up an `ExecStart=` program given by name alone.
const EXEC_SEARCH: [&str; 4] = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"];

/// Each managed directory's root and variable (systemd.exec(5)).
const MANAGED_DIRS: [(DirRoot, &str, &str); 5] = [
    (DirRoot::Runtime, "RUNTIME_DIRECTORY", "/run"),
    (DirRoot::State, "STATE_DIRECTORY", "/var/lib"),
    (DirRoot::Cache, "CACHE_DIRECTORY", "/var/cache"),
    (DirRoot::Logs, "LOGS_DIRECTORY", "/var/log"),
    (DirRoot::Configuration, "CONFIGURATION_DIRECTORY", "/etc"),
];

/// Directives typed by `unit` that tend does not carry out yet: named in
/// the unit's warning line whenever they are set.
const NOT_YET: &[&str] = &[
    "ExecStartPost",
    "TimeoutStartSec",
    "NotifyAccess",
    "RestartPreventExitStatus",
    "RestartForceExitStatus",
    "SuccessExitStatus",
    "PartOf",
];

/// A unit loaded and mapped, waiting for its dependencies to be resolved
/// against every service of the dir.
struct Loaded {
    spec: ServiceSpec,
    /// The unit file, for messages.
    file: String,
    unit: UnitSection,
    ignored: Vec<String>,
    /// `FILE:LINE: what` for lines systemd too would skip with a warning.
    warnings: Vec<String>,
}

/// Adds the units among `files` (names in `root` ending `.service` or
/// `.socket`) to `out`, after the service dirs are in it (a unit may order
/// itself after one, and must not take a dir's name).
pub(crate) fn add_units(root: &Path, files: &[String], grace: Duration, out: &mut Scanned) {
    let mut loaded: Vec<Loaded> = Vec::new();
    for file in files {
        let path = root.join(file);
        let shown = path.display().to_string();
        let Some(name) = file.strip_suffix(".service") else {
            // A socket is read with its service (`load`).
            if let Some(name) = file.strip_suffix(".socket") {
                if !files.contains(&format!("{name}.service")) {
                    let why = format!("no {name}.service beside it, ignored");
                    out.warnings.push(format!("{shown}: {why}"));
                }
            }
            continue;
        };
        // A template runs only through its instances' links.
        if name.ends_with('@') {
            continue;
        }
        let clash = out.specs.iter().any(|s| s.dir_name() == name);
        let error = match () {
            _ if !valid_name(name) => Some(format!(
                "{shown}: bad service name (allowed: letters, digits, . _ @ -, not first)"
            )),
            _ if clash => Some(format!(
                "{shown}: the service dir {name}/ has the same name; keep one"
            )),
            _ => None,
        };
        let result = match error {
            Some(e) => Err(vec![e]),
            None => load(root, file, name, grace),
        };
        match result {
            Ok(l) => loaded.push(l),
            Err(errors) => {
                let dir_name = name.split_once('@').map_or(name, |(p, _)| p);
                out.broken.push((dir_name.to_string(), errors.join("; ")));
                out.errors.extend(errors);
            }
        }
    }
    resolve_deps(&mut loaded, out);
    for l in loaded {
        out.warnings.extend(l.warnings);
        if !l.ignored.is_empty() {
            out.warnings
                .push(format!("{}: ignored: {}", l.file, l.ignored.join(", ")));
        }
        out.specs.push(l.spec);
    }
}

/// `ServiceSpec::dir_name` for a spec not yet in a supervisor.
trait DirName {
    fn dir_name(&self) -> &str;
}

impl DirName for ServiceSpec {
    fn dir_name(&self) -> &str {
        let name = self.name.split('/').next().unwrap_or_default();
        self.template.as_deref().unwrap_or(name)
    }
}

/// What a dependency names: a service of the dir, or something else.
fn dep_service(unit: &str) -> Option<&str> {
    match unit.rsplit_once('.') {
        Some((stem, "service")) => Some(stem),
        Some((_, "target" | "socket" | "mount" | "path" | "timer" | "slice" | "scope"))
        | Some((_, "device" | "swap" | "automount")) => None,
        _ => Some(unit),
    }
}

/// After/Before become `after` edges between services of the dir (Before
/// on the other service); Requires/BindsTo must name a service that runs,
/// else this unit is skipped; the rest is noted in the warning line.
fn resolve_deps(loaded: &mut Vec<Loaded>, out: &mut Scanned) {
    // Repeat: a unit skipped for a missing Requires= may be required by
    // another.
    loop {
        let exists = |n: &str, loaded: &[Loaded]| {
            let is = |s: &ServiceSpec| s.name == n || s.template.as_deref() == Some(n);
            out.specs.iter().any(is) || loaded.iter().any(|l| is(&l.spec))
        };
        let missing = (0..loaded.len()).find_map(|i| {
            let u = &loaded[i].unit;
            u.requires.iter().chain(&u.binds_to).find_map(|r| {
                let n = dep_service(r)?;
                (!exists(n, loaded)).then(|| (i, r.clone()))
            })
        });
        let Some((i, r)) = missing else {
            break;
        };
        let l = loaded.remove(i);
        let e = format!(
            "{}: Requires={r}: no such service in the services dir (or it cannot start)",
            l.file
        );
        out.broken.push((l.spec.dir_name().to_string(), e.clone()));
        out.errors.push(e);
    }
    let mut before: Vec<(String, String)> = Vec::new();
    for i in 0..loaded.len() {
        let unit = std::mem::take(&mut loaded[i].unit);
        let lists = [
            ("After", &unit.after),
            ("Before", &unit.before),
            ("Requires", &unit.requires),
            ("BindsTo", &unit.binds_to),
            ("Wants", &unit.wants),
        ];
        for (key, list) in lists {
            for d in list {
                let there = dep_service(d).filter(|n| {
                    let is = |s: &ServiceSpec| s.name == *n || s.template.as_deref() == Some(n);
                    out.specs.iter().any(is) || loaded.iter().any(|l| is(&l.spec))
                });
                let l = &mut loaded[i];
                match (key, there) {
                    ("After", Some(n)) => l.spec.after.push(n.to_string()),
                    ("Before", Some(n)) => before.push((n.to_string(), l.spec.name.clone())),
                    (_, Some(_)) => {}
                    (_, None) => l.ignored.push(format!("{key}={d}")),
                }
            }
        }
    }
    for (svc, after) in before {
        let is = |s: &ServiceSpec| s.name == svc || s.template.as_deref() == Some(&svc);
        let specs = out
            .specs
            .iter_mut()
            .chain(loaded.iter_mut().map(|l| &mut l.spec));
        for s in specs.filter(|s| is(s)) {
            if !s.after.contains(&after) {
                s.after.push(after.clone());
            }
        }
    }
}

/// Reads one unit file (`NAME.service`, `NAME.socket`) with its drop-ins,
/// layered; its bytes go into `fingerprint`.
fn read_unit(
    root: &Path,
    file: &str,
    name: &str,
    fingerprint: &mut Fnv,
) -> Result<parse::Layered, Vec<String>> {
    let path = root.join(file);
    let mut texts: Vec<(String, String)> = vec![(path.display().to_string(), read_text(&path)?)];
    for d in dropins(root, file, name, &path)? {
        texts.push((d.display().to_string(), read_text(&d)?));
    }
    let mut parsed = Vec::with_capacity(texts.len());
    for (f, text) in &texts {
        fingerprint.eat(f.as_bytes());
        fingerprint.eat(text.as_bytes());
        match parse::parse(text) {
            Ok(p) => parsed.push((f.clone(), p)),
            Err(p) => return Err(vec![format!("{f}:{}: {}", p.line, p.what)]),
        }
    }
    Ok(parse::layer(&parsed, &common::kind))
}

/// Reads one unit with its drop-ins (and its `NAME.socket`, if any) and
/// maps it.
fn load(root: &Path, file: &str, name: &str, grace: Duration) -> Result<Loaded, Vec<String>> {
    let path = root.join(file);
    let mut fingerprint = Fnv::new();
    let layered = read_unit(root, file, name, &mut fingerprint)?;
    let ctx = SpecContext::system(file);
    let u = service::service(&layered, &ctx)?;
    let mut spec = to_spec(&u, &layered, name, &path, grace, &mut fingerprint)?;
    let mut ignored = u.unsupported.clone();
    noted(&u, &layered, &mut ignored);
    let mut warnings = u.warnings.clone();
    let socket_file = format!("{name}.socket");
    if fs::symlink_metadata(root.join(&socket_file)).is_ok() {
        let layered = read_unit(root, &socket_file, name, &mut fingerprint)?;
        let sock = socket::socket(&layered, &SpecContext::system(&socket_file))?;
        add_socket(&sock, &mut spec, &mut ignored)
            .map_err(|e| vec![format!("{}: {e}", root.join(&socket_file).display())])?;
        warnings.extend(sock.warnings);
    }
    spec.fingerprint = fingerprint.0;
    Ok(Loaded {
        spec,
        file: path.display().to_string(),
        unit: u.unit,
        ignored,
        warnings,
    })
}

/// `NAME.socket` beside `NAME.service`: its sockets are the service's
/// `listen`, and the service starts on the first connection (SPEC §8).
fn add_socket(
    sock: &UnitSocket,
    spec: &mut ServiceSpec,
    ignored: &mut Vec<String>,
) -> Result<(), String> {
    for l in &sock.listen {
        let kind = match l.kind {
            SocketKind::Stream => SockKind::Stream,
            SocketKind::Datagram => SockKind::Datagram,
            SocketKind::SequentialPacket => SockKind::SeqPacket,
        };
        let addr = match &l.address {
            // Every address, IPv6 and IPv4, as systemd binds it.
            SocketAddress::Port(p) => ListenAddr::Tcp((Ipv6Addr::UNSPECIFIED, *p).into()),
            SocketAddress::Inet(a) => ListenAddr::Tcp(*a),
            SocketAddress::Unix(p) => ListenAddr::Unix(PathBuf::from(p)),
            SocketAddress::Abstract(n) => ListenAddr::Unix(PathBuf::from(format!("@{n}"))),
        };
        spec.listen.push(Listen {
            addr,
            name: sock.fd_name.clone(),
            kind,
            mode: sock.socket_mode,
            backlog: sock.backlog,
        });
    }
    spec.on_demand = true;
    for u in &sock.unsupported {
        ignored.push(format!("{u} (in {})", sock.name));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, Vec<String>> {
    let bytes = read_bounded(path, UNIT_FILE_MAX).map_err(|e| vec![e])?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The `*.conf` drop-ins of a unit, in name order: from `FILE.d/` (and the
/// template's `PREFIX@.service.d/`) beside the unit in the services dir,
/// then beside the link's target; of two with the same name, the one in
/// the services dir.
fn dropins(root: &Path, file: &str, name: &str, path: &Path) -> Result<Vec<PathBuf>, Vec<String>> {
    let mut names = vec![file.to_string()];
    if let Some((prefix, _)) = name.split_once('@') {
        let ext = file.rsplit('.').next().unwrap_or("service");
        names.push(format!("{prefix}@.{ext}"));
    }
    let mut dirs: Vec<PathBuf> = names.iter().map(|n| root.join(format!("{n}.d"))).collect();
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(target) = fs::canonicalize(path) {
            if let (Some(parent), Some(tname)) = (target.parent(), target.file_name()) {
                let tname = tname.to_string_lossy();
                for n in [tname.as_ref()]
                    .into_iter()
                    .chain(names.iter().map(|n| n.as_str()))
                {
                    let d = parent.join(format!("{n}.d"));
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
            }
        }
    }
    let mut confs: Vec<String> = Vec::new();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in &dirs {
        let Ok(rd) = fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten().take(DIR_ENTRIES_MAX) {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".conf") && !n.starts_with('.') && !confs.contains(&n) {
                if confs.len() == DROPINS_MAX {
                    let at = path.display();
                    return Err(vec![format!("{at}: more than {DROPINS_MAX} drop-ins")]);
                }
                found.push((n.clone(), e.path()));
                confs.push(n);
            }
        }
    }
    confs.sort_unstable();
    Ok(confs
        .iter()
        .filter_map(|n| found.iter().find(|(f, _)| f == n).map(|(_, p)| p.clone()))
        .collect())
}

/// The unit as tend runs it (see the table in `unit`'s docs).
fn to_spec(
    u: &UnitService,
    layered: &parse::Layered,
    name: &str,
    path: &Path,
    grace: Duration,
    fingerprint: &mut Fnv,
) -> Result<ServiceSpec, Vec<String>> {
    // `FILE:LINE: Key=...: what` at the last assignment of `key`.
    let at = |key: &str, what: &str| -> Vec<String> {
        let d = layered.directives.iter().rev().find(|d| d.key == key);
        vec![match d {
            Some(d) => layered.at(d, &format!("{key}={}: {what}", d.value)),
            None => format!("{}: {what}", path.display()),
        }]
    };
    let readiness = match u.service_type {
        ServiceType::Simple | ServiceType::Exec | ServiceType::Oneshot => Readiness::None,
        ServiceType::Notify | ServiceType::NotifyReload => Readiness::Notify,
        // Ready once ExecStart exited 0 and PIDFile= names a live pid: the
        // `pid-file` machinery.
        ServiceType::Forking if u.pid_file.is_some() => Readiness::None,
        ServiceType::Forking => {
            return Err(at(
                "Type",
                "needs PIDFile= (tend cannot guess the main process)",
            ))
        }
    };
    let oneshot = u.service_type == ServiceType::Oneshot;
    let cmd = match u.exec_start.as_slice() {
        [one] => one,
        // A oneshot runs each in order (tend's runner, below).
        [first, ..] if oneshot => first,
        [] => {
            return Err(at(
                "ExecStop",
                "a oneshot without ExecStart=: not supported yet",
            ))
        }
        _ => {
            return Err(at(
                "ExecStart",
                "more than one ExecStart= (only Type=oneshot may have several)",
            ))
        }
    };

    // `User=`, for the commands without `+`/`!`.
    let as_user = match &u.process.user {
        Some(name) => {
            let (passwd, group) = (etc("/etc/passwd")?, etc("/etc/group")?);
            let mut user =
                config::resolve_user(name, &passwd, &group).map_err(|e| at("User", &e))?;
            if let Some(g) = &u.process.group {
                let gid = group_id(g, &group).ok_or_else(|| at("Group", "no such group"))?;
                user.gid = gid;
                match user.groups.first_mut() {
                    Some(primary) => *primary = gid,
                    None => user.groups.push(gid),
                }
            }
            for g in &u.process.supplementary_groups {
                let gid = group_id(g, &group)
                    .ok_or_else(|| at("SupplementaryGroups", &format!("no group {g:?}")))?;
                if !user.groups.contains(&gid) {
                    user.groups.push(gid);
                }
            }
            Some(user)
        }
        None => None,
    };
    let user = as_user
        .clone()
        .filter(|_| cmd.privileges == Privileges::AsUser);

    // The environment, in systemd's order: the user's, Environment=, the
    // files (they win), UnsetEnvironment=.
    let mut env: Vec<(String, Option<OsString>)> = Vec::new();
    if let Some(user) = &user {
        if let Some(h) = &user.home {
            env.push(("HOME".into(), Some(h.into())));
        }
        if let Some(n) = &user.name {
            env.push(("USER".into(), Some(n.into())));
            env.push(("LOGNAME".into(), Some(n.into())));
        }
    }
    for (k, v) in &u.process.environment {
        env.push((k.clone(), Some(v.into())));
    }
    for f in &u.process.environment_files {
        let p = Path::new(&f.path);
        if f.missing_ok && fs::symlink_metadata(p).is_err() {
            continue;
        }
        let bytes = read_bounded(p, ENVIRONMENT_FILE_MAX).map_err(|e| at("EnvironmentFile", &e))?;
        fingerprint.eat(&bytes);
        for (k, v) in envfile::parse(&String::from_utf8_lossy(&bytes)) {
            env.push((k, Some(v.into())));
        }
    }
    let value_of = |env: &[(String, Option<OsString>)], k: &str| -> Option<String> {
        match env.iter().rev().find(|(n, _)| n == k) {
            Some((_, v)) => v.as_ref().map(|v| v.to_string_lossy().into_owned()),
            None => std::env::var(k).ok(),
        }
    };
    for w in &u.process.unset_environment {
        match w.split_once('=') {
            Some((k, v)) if value_of(&env, k).as_deref() == Some(v) => {
                env.push((k.to_string(), None))
            }
            Some(_) => {}
            None => env.push((w.clone(), None)),
        }
    }

    // RuntimeDirectory= and the like: made before each start, named in
    // $RUNTIME_DIRECTORY etc. (colon-separated, as systemd).
    let mut dirs: Vec<MakeDir> = Vec::new();
    for (root, var, under) in MANAGED_DIRS {
        let paths: Vec<String> = (u.process.directories.iter())
            .filter(|d| d.root == root)
            .map(|d| {
                let path = format!("{under}/{}", d.path);
                dirs.push(MakeDir {
                    path: PathBuf::from(&path),
                    mode: d.mode,
                });
                path
            })
            .collect();
        if !paths.is_empty() {
            env.push((var.into(), Some(paths.join(":").into())));
        }
    }

    let argv: Vec<OsString> = match u.exec_start_pre.is_empty() && u.exec_start.len() == 1 {
        // ExecStartPre=: tend's runner runs them, then becomes ExecStart
        // (a oneshot's: runs each ExecStart= in order).
        false => {
            let all: Vec<_> = u.exec_start_pre.iter().chain(&u.exec_start).collect();
            unit_exec::encode(Mode::Exec, &runner_cmds(&all))
        }
        true => {
            let mut argv: Vec<String> = match cmd.expand_env {
                true => exec::expand_env(&cmd.argv, &|k| value_of(&env, k)),
                false => cmd.argv.clone(),
            };
            // `@`: tend execs argv[0], so the program takes argv[0]'s place.
            let program = find_program(&cmd.path);
            match argv.first_mut() {
                Some(a0) => *a0 = program,
                None => argv.push(program),
            }
            argv.into_iter().map(OsString::from).collect()
        }
    };
    // ExecStop=, ExecReload=: run by the supervisor beside the main
    // process; ExecStopPost=: as `finish`, after every exit.
    let helper = |cmds: &[exec::ExecCommand]| -> Option<Helper> {
        let all: Vec<_> = cmds.iter().collect();
        let any_as_user = cmds.iter().any(|c| c.privileges == Privileges::AsUser);
        (!all.is_empty()).then(|| Helper {
            argv: unit_exec::encode(Mode::All, &runner_cmds(&all)),
            user: as_user.clone().filter(|_| any_as_user),
        })
    };
    let reload_command = match kill_line(u) {
        Some(_) => None,
        None => helper(&u.exec_reload),
    };
    let stop_command = helper(&u.exec_stop);
    let post: Vec<_> = u.exec_stop_post.iter().collect();
    let finish = (!post.is_empty()).then(|| unit_exec::encode(Mode::Post, &runner_cmds(&post)));

    let cwd = match &u.process.working_directory {
        None => PathBuf::from("/"),
        Some(w) => {
            let home = user.as_ref().and_then(|u| u.home.clone());
            let dir = PathBuf::from(w.dir.clone().or(home).unwrap_or_else(|| "/root".into()));
            match w.missing_ok && !dir.is_dir() {
                true => PathBuf::from("/"),
                false => dir,
            }
        }
    };

    let restart = match u.restart {
        RestartPolicy::No => Restart::Never,
        RestartPolicy::Always | RestartPolicy::OnSuccess => Restart::Always,
        RestartPolicy::OnFailure
        | RestartPolicy::OnAbnormal
        | RestartPolicy::OnAbort
        | RestartPolicy::OnWatchdog => Restart::OnFailure,
    };
    let delay = u.restart_sec;
    let delay_max = match (u.restart_steps, u.restart_max_delay) {
        (1.., Some(max)) if max > delay => max,
        _ => delay,
    };
    // systemd's default stop timeout is 90s; in a container tend's
    // `--grace` is the one that fits the runtime's own stop timeout.
    let timeout_set = layered
        .directives
        .iter()
        .any(|d| d.key == "TimeoutStopSec" || d.key == "TimeoutSec");
    let grace = match (u.timeout_stop, u.send_sigkill) {
        (_, false) | (None, _) => NO_KILL,
        (Some(t), true) if timeout_set => t,
        (Some(_), true) => grace,
    };
    let watchdog = u.watchdog.filter(|_| readiness == Readiness::Notify);
    Ok(ServiceSpec {
        name: name.to_string(),
        dir: path.to_path_buf(),
        cwd: Some(cwd),
        argv,
        finish,
        down: false,
        critical: false,
        user,
        readiness,
        after: Vec::new(),
        logger_of: None,
        listen: Vec::new(),
        on_demand: false,
        instances: 0,
        template: name.split_once('@').map(|(p, _)| p.to_string()),
        watchdog,
        env,
        pid_file: u
            .pid_file
            .as_ref()
            .filter(|_| u.service_type == ServiceType::Forking)
            .map(PathBuf::from),
        policy: PolicySpec {
            restart,
            delay,
            delay_max,
            stop_signal: u.kill_signal,
            grace,
            // ExecStopPost= has TimeoutStopSec= (`finish` while stopping
            // gets no more than the grace anyway).
            finish_timeout: Some(grace),
            start_limit: u.unit.start_limit,
            reload_signal: reload_signal(u),
            oneshot,
            remain_after_exit: oneshot && u.remain_after_exit,
        },
        dirs,
        limits: Limits {
            umask: u.process.umask,
            nice: u.process.nice,
            rlimits: (u.process.limits.iter())
                .filter_map(|l| {
                    let inf = |v: Option<u64>| v.unwrap_or(libc::RLIM_INFINITY);
                    Some((rlimit_number(l.resource)?, inf(l.soft), inf(l.hard)))
                })
                .collect(),
        },
        reload_command,
        stop_command,
        fingerprint: 0,
    })
}

/// The program of an `Exec*=` command: as written when absolute, else
/// found in systemd's fixed path (as written when nowhere).
fn find_program(path: &str) -> String {
    match path.starts_with('/') {
        true => path.to_string(),
        false => EXEC_SEARCH
            .iter()
            .map(|d| format!("{d}/{path}"))
            .find(|p| Path::new(p).is_file())
            .unwrap_or_else(|| path.to_string()),
    }
}

/// `RLIMIT_*` of a `Limit*=` resource name.
fn rlimit_number(resource: &str) -> Option<i32> {
    use libc::*;
    let all = [
        ("CPU", RLIMIT_CPU),
        ("FSIZE", RLIMIT_FSIZE),
        ("DATA", RLIMIT_DATA),
        ("STACK", RLIMIT_STACK),
        ("CORE", RLIMIT_CORE),
        ("RSS", RLIMIT_RSS),
        ("NOFILE", RLIMIT_NOFILE),
        ("AS", RLIMIT_AS),
        ("NPROC", RLIMIT_NPROC),
        ("MEMLOCK", RLIMIT_MEMLOCK),
        ("LOCKS", RLIMIT_LOCKS),
        ("SIGPENDING", RLIMIT_SIGPENDING),
        ("MSGQUEUE", RLIMIT_MSGQUEUE),
        ("NICE", RLIMIT_NICE),
        ("RTPRIO", RLIMIT_RTPRIO),
        ("RTTIME", RLIMIT_RTTIME),
    ];
    let (_, r) = all.into_iter().find(|(n, _)| *n == resource)?;
    Some(r as i32)
}

/// Commands as tend's runner takes them (`unit_exec`).
fn runner_cmds(cmds: &[&exec::ExecCommand]) -> Vec<unit_exec::Cmd> {
    cmds.iter()
        .map(|c| unit_exec::Cmd {
            path: find_program(&c.path),
            argv: c.argv.clone(),
            ignore_failure: c.ignore_failure,
            expand: c.expand_env,
        })
        .collect()
}

/// `ExecReload=kill -HUP $MAINPID` (the usual line) is `reload-signal`.
fn kill_line(u: &UnitService) -> Option<i32> {
    let [cmd] = u.exec_reload.as_slice() else {
        return None;
    };
    let sig = match cmd.argv.get(1..)? {
        [flag, sig, pid] if flag == "-s" && pid == "$MAINPID" => sig.as_str(),
        [sig, pid] if pid == "$MAINPID" => sig.strip_prefix('-')?,
        _ => return None,
    };
    let prog = cmd.path.rsplit('/').next();
    (prog == Some("kill")).then(|| config::parse_signal(sig).ok())?
}

fn reload_signal(u: &UnitService) -> i32 {
    kill_line(u).unwrap_or(u.reload_signal)
}

/// What the unit sets that the mapping leaves out or approximates.
fn noted(u: &UnitService, layered: &parse::Layered, ignored: &mut Vec<String>) {
    let mut note = |s: String| {
        if !ignored.contains(&s) {
            ignored.push(s);
        }
    };
    for d in &layered.directives {
        let k = d.key.as_str();
        if NOT_YET.contains(&k) {
            note(k.to_string());
        }
    }
    if u.service_type != ServiceType::Forking && u.pid_file.is_some() {
        note("PIDFile".into());
    }
    // `+`/`!` on some commands of a list and not on others: the list runs
    // as `User=` (ExecStartPre= as ExecStart= does).
    if u.process.user.is_some() {
        let main = u
            .exec_start
            .first()
            .map(|c| c.privileges == Privileges::AsUser);
        let lists = [
            ("ExecStartPre", &u.exec_start_pre),
            ("ExecStop", &u.exec_stop),
            ("ExecReload", &u.exec_reload),
            ("ExecStopPost", &u.exec_stop_post),
        ];
        for (key, list) in lists {
            let as_user: Vec<bool> = (list.iter())
                .map(|c| c.privileges == Privileges::AsUser)
                .collect();
            let mixed = match key {
                "ExecStartPre" => as_user.iter().any(|&a| Some(a) != main),
                _ => as_user.contains(&true) && as_user.contains(&false),
            };
            if mixed {
                note(format!("{key}=+ (runs with the other lines' user)"));
            }
        }
    }
    if u.remain_after_exit && u.service_type != ServiceType::Oneshot {
        note("RemainAfterExit (without Type=oneshot)".into());
    }
    let approx = match u.restart {
        RestartPolicy::OnSuccess => "Restart=on-success (as always)",
        RestartPolicy::OnAbnormal => "Restart=on-abnormal (as on-failure)",
        RestartPolicy::OnAbort => "Restart=on-abort (as on-failure)",
        RestartPolicy::OnWatchdog => "Restart=on-watchdog (as on-failure)",
        _ => "",
    };
    if !approx.is_empty() {
        note(approx.into());
    }
    if u.kill_mode != KillMode::ControlGroup {
        note("KillMode".into());
    }
    if u.process.stdout != Output::Journal {
        note("StandardOutput".into());
    }
    if !matches!(u.process.stderr, Output::Journal | Output::Inherit) {
        note("StandardError".into());
    }
    if u.watchdog.is_some()
        && !matches!(
            u.service_type,
            ServiceType::Notify | ServiceType::NotifyReload
        )
    {
        note("WatchdogSec (needs Type=notify)".into());
    }
    match u.exec_start.first() {
        Some(c) if c.ignore_failure => note("ExecStart=- (a failure still counts)".into()),
        Some(c) if c.argv.first() != Some(&c.path) => {
            note("ExecStart=@ (argv[0] is the program)".into())
        }
        _ => {}
    }
}

/// A group's id, by name (from /etc/group's text) or number.
fn group_id(g: &str, group: &str) -> Option<u32> {
    if let Ok(n) = g.parse::<u32>() {
        return Some(n);
    }
    group.lines().find_map(|l| {
        let mut f = l.split(':');
        match (f.next(), f.next(), f.next()) {
            (Some(n), Some(_), Some(id)) if n == g => id.parse().ok(),
            _ => None,
        }
    })
}

fn etc(path: &str) -> Result<String, Vec<String>> {
    crate::scan::read_etc(path).map_err(|e| vec![e])
}

/// FNV-1a, as `scan` fingerprints a service dir.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }

    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names() {
        assert_eq!(dep_service("db.service"), Some("db"));
        assert_eq!(dep_service("getty@tty1.service"), Some("getty@tty1"));
        assert_eq!(dep_service("network.target"), None);
        assert_eq!(dep_service("dbus.socket"), None);
        assert_eq!(dep_service("db"), Some("db"));
    }

    /// Maps a literal unit (no User=, no files, so no I/O).
    fn map(text: &str) -> (Result<ServiceSpec, Vec<String>>, Vec<String>) {
        let parsed = vec![("/s/a.service".to_string(), parse::parse(text).unwrap())];
        let layered = parse::layer(&parsed, &common::kind);
        let u = service::service(&layered, &SpecContext::system("a.service")).unwrap();
        let grace = Duration::from_secs(5);
        let spec = to_spec(
            &u,
            &layered,
            "a",
            Path::new("/s/a.service"),
            grace,
            &mut Fnv::new(),
        );
        let mut ignored = u.unsupported.clone();
        noted(&u, &layered, &mut ignored);
        (spec, ignored)
    }

    #[test]
    fn mapping() {
        let (s, ignored) = map("[Service]\nType=notify\nEnvironment=X=1 \"Y=a b\"\n\
             ExecStart=redis $Y ${X}x $$HOME\nRestart=on-abnormal\nRestartSec=2\n\
             ExecReload=/bin/kill -USR1 $MAINPID\nProtectSystem=full\nUMask=007\n\
             RuntimeDirectory=r/s\nRuntimeDirectoryMode=0700\n");
        let s = s.unwrap();
        assert_eq!(s.limits.umask, Some(0o007));
        let argv: Vec<String> = s.argv.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(argv[1..], ["a", "b", "1x", "$HOME"]);
        assert_eq!(s.readiness, Readiness::Notify);
        assert_eq!(s.cwd.as_deref(), Some(Path::new("/")));
        assert_eq!(s.policy.restart, Restart::OnFailure);
        assert_eq!(s.policy.delay, Duration::from_secs(2));
        assert_eq!(s.policy.delay_max, Duration::from_secs(2));
        assert_eq!(s.policy.grace, Duration::from_secs(5));
        assert_eq!(s.policy.reload_signal, libc::SIGUSR1);
        assert_eq!(s.policy.start_limit, Some((5, Duration::from_secs(10))));
        assert_eq!(
            s.dirs,
            [MakeDir {
                path: "/run/r/s".into(),
                mode: 0o700
            }]
        );
        assert!(s
            .env
            .contains(&("RUNTIME_DIRECTORY".into(), Some("/run/r/s".into()))));
        assert_eq!(
            ignored,
            ["ProtectSystem", "Restart=on-abnormal (as on-failure)"]
        );

        let (s, _) = map("[Service]\nExecStart=/x\nTimeoutStopSec=0\nRestart=on-success\n");
        let s = s.unwrap();
        assert_eq!(s.policy.grace, NO_KILL);
        assert_eq!(s.policy.restart, Restart::Always);
        assert_eq!(s.readiness, Readiness::None);
        let (s, _) =
            map("[Service]\nExecStart=/x\nTimeoutSec=7\nRestartSteps=3\nRestartMaxDelaySec=1min\n");
        let s = s.unwrap();
        assert_eq!(s.policy.grace, Duration::from_secs(7));
        assert_eq!(s.policy.delay_max, Duration::from_secs(60));

        let (e, _) = map("[Service]\nType=forking\nExecStart=/x\n");
        assert_eq!(
            e.unwrap_err(),
            ["/s/a.service:2: Type=forking: needs PIDFile= (tend cannot guess the main process)"]
        );
        let (s, _) = map("[Service]\nType=forking\nPIDFile=/run/x.pid\nExecStart=/x\n");
        assert_eq!(s.unwrap().pid_file, Some(PathBuf::from("/run/x.pid")));
    }

    /// Debian's nginx.service: ExecStartPre= runs through tend's runner,
    /// which then becomes ExecStart=; ExecStop= and ExecReload= are
    /// helpers; only KillMode=mixed is approximated.
    #[test]
    fn command_lists_go_through_the_runner() {
        let (s, ignored) = map("[Service]\nType=forking\nPIDFile=/run/nginx.pid\n\
             ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'\n\
             ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\n\
             ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload\n\
             ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid\n\
             ExecStopPost=/bin/echo $SERVICE_RESULT\nTimeoutStopSec=5\nKillMode=mixed\n");
        let s = s.unwrap();
        let args = |v: &[OsString]| -> Vec<String> {
            v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
        };
        let argv = args(&s.argv);
        assert_eq!(s.argv[..2], [unit_exec::program(), unit_exec::FLAG.into()]);
        let (mode, cmds, rest) = unit_exec::decode(&argv[2..]).unwrap();
        assert_eq!((mode, cmds.len(), rest.len()), (Mode::Exec, 2, 0));
        assert_eq!(cmds[0].argv[1..3], ["-t", "-q"]);
        assert_eq!(cmds[1].argv[1..], ["-g", "daemon on; master_process on;"]);
        assert!(cmds[1].expand && !cmds[1].ignore_failure);
        let stop = args(&s.stop_command.as_ref().unwrap().argv);
        let (mode, cmds, _) = unit_exec::decode(&stop[2..]).unwrap();
        assert_eq!(mode, Mode::All);
        assert_eq!(cmds[0].path, "/sbin/start-stop-daemon");
        assert!(cmds[0].ignore_failure);
        let reload = args(&s.reload_command.as_ref().unwrap().argv);
        assert_eq!(reload.last().map(String::as_str), Some("reload"));
        let post = args(s.finish.as_ref().unwrap());
        let (mode, cmds, _) = unit_exec::decode(&post[2..]).unwrap();
        assert_eq!(
            (mode, cmds[0].argv[1].as_str()),
            (Mode::Post, "$SERVICE_RESULT")
        );
        assert_eq!(s.policy.finish_timeout, Some(Duration::from_secs(5)));
        assert!(s.policy().stop_command);
        assert_eq!(ignored, ["KillMode"]);

        // The usual `kill -HUP $MAINPID` stays a signal, with no runner.
        let (s, _) = map("[Service]\nExecStart=/x\nExecReload=/bin/kill -HUP $MAINPID\n");
        let s = s.unwrap();
        assert_eq!((s.reload_command, s.argv.len()), (None, 1));
    }

    #[test]
    fn socket_units_become_listen_entries() {
        let text = "[Socket]\nListenStream=80\nListenStream=127.0.0.1:8080\n\
             ListenDatagram=/run/a.dgram\nListenSequentialPacket=@seq\n\
             FileDescriptorName=web\nSocketMode=0600\nBacklog=16\nNoDelay=yes\n";
        let parsed = vec![("/s/a.socket".to_string(), parse::parse(text).unwrap())];
        let layered = parse::layer(&parsed, &common::kind);
        let sock = socket::socket(&layered, &SpecContext::system("a.socket")).unwrap();
        let mut spec = map("[Service]\nExecStart=/x\n").0.unwrap();
        let mut ignored = Vec::new();
        add_socket(&sock, &mut spec, &mut ignored).unwrap();
        assert!(spec.on_demand);
        let got: Vec<_> = (spec.listen.iter())
            .map(|l| {
                (
                    l.addr.to_string(),
                    l.kind,
                    l.name.as_str(),
                    l.mode,
                    l.backlog,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("tcp:[::]:80".into(), SockKind::Stream, "web", 0o600, 16),
                (
                    "tcp:127.0.0.1:8080".into(),
                    SockKind::Stream,
                    "web",
                    0o600,
                    16
                ),
                (
                    "unix:/run/a.dgram".into(),
                    SockKind::Datagram,
                    "web",
                    0o600,
                    16
                ),
                ("unix:@seq".into(), SockKind::SeqPacket, "web", 0o600, 16),
            ]
        );
        assert_eq!(ignored, ["NoDelay (in a.socket)"]);
    }

    #[test]
    fn group_ids() {
        let group = "root:x:0:\nredis:x:106:\n";
        assert_eq!(group_id("redis", group), Some(106));
        assert_eq!(group_id("42", group), Some(42));
        assert_eq!(group_id("nope", group), None);
    }
}
