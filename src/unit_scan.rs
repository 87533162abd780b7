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

use crate::scan::{read_bounded, Scanned, DIR_ENTRIES_MAX};
use crate::spec::{valid_name, Listen, ListenAddr, ServiceSpec, SockKind};
use crate::unit::common::UnitSection;
use crate::unit::service::{self};
use crate::unit::socket::{self, SocketAddress, SocketKind, UnitSocket};
use crate::unit::{common, parse, spec::SpecContext};
use crate::unit_map::{noted, to_spec};
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

/// FNV-1a, as `scan` fingerprints a service dir.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }

    pub(crate) fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Restart;
    use crate::spec::{MakeDir, Readiness};
    use crate::unit_exec::{self, Mode};
    use crate::unit_map::*;
    use std::ffi::OsString;

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

    /// `*ExitStatus=` become the policy's unit rules (with systemd's clean
    /// signals, but for a oneshot); none is noted any more.
    #[test]
    fn exit_statuses_map_onto_the_policy() {
        use crate::state::Exit::{Code, Signal};
        let (s, ignored) = map("[Service]\nExecStart=/x\nSuccessExitStatus=75 SIGUSR1\n\
             RestartPreventExitStatus=TEMPFAIL 3\nRestartForceExitStatus=SIGABRT\n");
        let u = s.unwrap().policy.unit;
        let (hup, int, term, pipe) = (libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGPIPE);
        let clean = [Signal(hup), Signal(int), Signal(term), Signal(pipe)];
        assert_eq!(u.success[..2], [Code(75), Signal(libc::SIGUSR1)]);
        assert_eq!(u.success[2..], clean);
        assert_eq!(u.prevent, [Code(75), Code(3)]);
        assert_eq!(u.force, [Signal(libc::SIGABRT)]);
        assert!(ignored.is_empty(), "{ignored:?}");
        let (s, _) = map("[Service]\nType=oneshot\nExecStart=/x\n");
        assert!(s.unwrap().policy.unit.success.is_empty());
        let (s, _) = map("[Service]\nExecStart=/x\n");
        assert_eq!(s.unwrap().policy.unit.success, clean);
    }

    /// `StandardOutput=`, `StandardError=`: files (stderr's `inherit`, the
    /// default, follows stdout), `/dev/null`, or tend's output.
    #[test]
    fn standard_output_and_error_map_onto_files() {
        use crate::spec::OutFile;
        let f = |p: &str, append, truncate| {
            let path = PathBuf::from(p);
            Some(OutFile {
                path,
                append,
                truncate,
            })
        };
        let table = [
            ("", [None, None]),
            (
                "StandardOutput=journal\nStandardError=journal\n",
                [None, None],
            ),
            ("StandardOutput=inherit\n", [None, None]),
            (
                "StandardOutput=null\n",
                [f("/dev/null", false, false), f("/dev/null", false, false)],
            ),
            (
                "StandardOutput=file:/l/o\n",
                [f("/l/o", false, false), f("/l/o", false, false)],
            ),
            (
                "StandardOutput=append:/l/o\nStandardError=truncate:/l/e\n",
                [f("/l/o", true, false), f("/l/e", false, true)],
            ),
            (
                "StandardOutput=truncate:/l/o\nStandardError=journal\n",
                [f("/l/o", false, true), None],
            ),
            ("StandardError=null\n", [None, f("/dev/null", false, false)]),
        ];
        for (lines, want) in table {
            let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
            assert_eq!(s.unwrap().output, want, "{lines}");
            assert!(ignored.is_empty(), "{lines}: {ignored:?}");
        }
        let (s, ignored) = map("[Service]\nExecStart=/x\nStandardOutput=kmsg\n");
        assert_eq!(s.unwrap().output, [None, None]);
        assert_eq!(ignored, ["StandardOutput=kmsg"]);
    }

    #[test]
    fn kill_mode_maps_onto_the_policy() {
        use crate::state::KillMode;
        let table = [
            ("", KillMode::Group),
            ("KillMode=control-group\n", KillMode::Group),
            ("KillMode=mixed\n", KillMode::Mixed),
            ("KillMode=process\n", KillMode::Process),
            ("KillMode=none\n", KillMode::None),
        ];
        for (line, want) in table {
            let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{line}"));
            assert_eq!(s.unwrap().policy.unit.kill_mode, want, "{line}");
            assert!(ignored.is_empty(), "{line}: {ignored:?}");
        }
    }

    /// TimeoutStartSec= (or TimeoutSec=) replaces `--ready-timeout`, which
    /// bounds a unit's readiness too; none for a oneshot unless set.
    #[test]
    fn timeout_start_maps_onto_the_policy() {
        let year = Some(NO_KILL);
        let table = [
            ("", None, true),
            ("TimeoutStartSec=7\n", Some(Duration::from_secs(7)), true),
            ("TimeoutSec=2min\n", Some(Duration::from_secs(120)), true),
            ("TimeoutStartSec=infinity\n", year, true),
            ("TimeoutStartSec=0\n", year, true),
            ("Type=oneshot\n", None, false),
            (
                "Type=oneshot\nTimeoutStartSec=3\n",
                Some(Duration::from_secs(3)),
                true,
            ),
        ];
        for (lines, timeout, bound) in table {
            let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
            let u = s.unwrap().policy.unit;
            assert_eq!(
                (u.start_timeout, u.ready_bound),
                (timeout, bound),
                "{lines}"
            );
            assert!(ignored.is_empty(), "{lines}: {ignored:?}");
        }
    }

    /// ExecStartPost=: a helper run once ready; a oneshot's run after its
    /// ExecStart= lines by the runner.
    #[test]
    fn exec_start_post_maps_onto_a_helper() {
        let (s, ignored) = map("[Service]\nExecStart=/x\nExecStartPost=-/bin/p 1\n");
        let s = s.unwrap();
        assert!(
            s.policy.unit.start_post && ignored.is_empty(),
            "{ignored:?}"
        );
        let argv: Vec<String> = (s.start_post.unwrap().argv.iter())
            .map(|a| a.to_string_lossy().into())
            .collect();
        let (mode, cmds, _) = unit_exec::decode(&argv[2..]).unwrap();
        assert_eq!((mode, cmds[0].path.as_str()), (Mode::All, "/bin/p"));
        assert!(cmds[0].ignore_failure);
        assert_eq!(s.argv, [OsString::from("/x")]);

        let (s, _) = map("[Service]\nType=oneshot\nExecStart=/x\nExecStartPost=/y\n");
        let s = s.unwrap();
        assert!(s.start_post.is_none() && !s.policy.unit.start_post);
        let argv: Vec<String> = s.argv.iter().map(|a| a.to_string_lossy().into()).collect();
        let (mode, cmds, _) = unit_exec::decode(&argv[2..]).unwrap();
        let paths: Vec<&str> = cmds.iter().map(|c| c.path.as_str()).collect();
        assert_eq!((mode, paths), (Mode::Exec, vec!["/x", "/y"]));
    }

    /// NotifyAccess=, with systemd's default (main for notify types and a
    /// watchdog, else none); exec is taken as all, and noted.
    #[test]
    fn notify_access_maps_onto_the_policy() {
        use crate::state::NotifyAccess::*;
        let table = [
            ("Type=notify\n", Main, &[][..]),
            ("Type=notify\nNotifyAccess=all\n", All, &[]),
            ("Type=notify\nNotifyAccess=none\n", None, &[]),
            (
                "Type=notify\nNotifyAccess=exec\n",
                All,
                &["NotifyAccess=exec (as all)"],
            ),
            ("", None, &[]),
            ("NotifyAccess=main\n", Main, &[]),
        ];
        for (lines, want, notes) in table {
            let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
            assert_eq!(s.unwrap().policy.unit.notify_access, want, "{lines}");
            assert_eq!(ignored, notes, "{lines}");
        }
    }

    /// Debian's nginx.service: ExecStartPre= runs through tend's runner,
    /// which then becomes ExecStart=; ExecStop= and ExecReload= are
    /// helpers; KillMode=mixed is carried out, nothing is noted.
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
        assert_eq!(s.policy.unit.kill_mode, crate::state::KillMode::Mixed);
        assert!(ignored.is_empty(), "{ignored:?}");

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
