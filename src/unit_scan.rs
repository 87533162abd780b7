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
use crate::spec::{valid_name, Fnv, Listen, ListenAddr, ServiceSpec, SockKind};
use crate::unit::common::UnitSection;
use crate::unit::service::{self};
use crate::unit::socket::{self, SocketAddress, SocketKind, UnitSocket};
use crate::unit::{common, parse, spec::SpecContext};
use crate::unit_map::{noted, to_spec};
use std::collections::{HashMap, HashSet};
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
    // Hashed, and each unit checked again only when a name it requires
    // goes: a dir of 1,000 units with 200 Requires= each, in a chain that
    // ends at a missing one, took 86 s of PID 1's start (and of each
    // reload) when every skip rescanned every unit against every service.
    // How many services of the dir answer to each name (their own, and
    // their template's).
    let mut have: HashMap<String, usize> = HashMap::new();
    for s in out.specs.iter().chain(loaded.iter().map(|l| &l.spec)) {
        for n in std::iter::once(&s.name).chain(&s.template) {
            *have.entry(n.clone()).or_default() += 1;
        }
    }
    let mut needed_by: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, l) in loaded.iter().enumerate() {
        for r in l.unit.requires.iter().chain(&l.unit.binds_to) {
            if let Some(n) = dep_service(r) {
                needed_by.entry(n.to_string()).or_default().push(i);
            }
        }
    }
    // Repeat: a unit skipped for a missing Requires= may be required by
    // another.
    let mut skipped = vec![false; loaded.len()];
    let mut check: Vec<usize> = (0..loaded.len()).rev().collect();
    while let Some(i) = check.pop() {
        if skipped[i] {
            continue;
        }
        let l = &loaded[i];
        let missing = l
            .unit
            .requires
            .iter()
            .chain(&l.unit.binds_to)
            .find(|r| dep_service(r).is_some_and(|n| have.get(n).copied().unwrap_or(0) == 0));
        let Some(r) = missing else {
            continue;
        };
        skipped[i] = true;
        let e = format!(
            "{}: Requires={r}: no such service in the services dir (or it cannot start)",
            l.file
        );
        out.broken.push((l.spec.dir_name().to_string(), e.clone()));
        out.errors.push(e);
        for n in std::iter::once(&l.spec.name).chain(&l.spec.template) {
            let Some(count) = have.get_mut(n) else {
                continue;
            };
            *count = count.saturating_sub(1);
            if *count == 0 {
                check.extend(needed_by.get(n).into_iter().flatten());
            }
        }
    }
    let mut i = 0;
    loaded.retain(|_| {
        i += 1;
        !skipped[i - 1]
    });
    let present = |n: &str| have.get(n).is_some_and(|&c| c > 0);
    let mut before: HashMap<String, Vec<String>> = HashMap::new();
    for l in loaded.iter_mut() {
        let unit = std::mem::take(&mut l.unit);
        let lists = [
            ("After", &unit.after),
            ("Before", &unit.before),
            ("Requires", &unit.requires),
            ("BindsTo", &unit.binds_to),
            ("Wants", &unit.wants),
        ];
        for (key, list) in lists {
            for d in list {
                let there = dep_service(d).filter(|n| present(n));
                match (key, there) {
                    ("After", Some(n)) => l.spec.after.push(n.to_string()),
                    ("Before", Some(n)) => before
                        .entry(n.to_string())
                        .or_default()
                        .push(l.spec.name.clone()),
                    (_, Some(_)) => {}
                    (_, None) => l.ignored.push(format!("{key}={d}")),
                }
            }
        }
    }
    if before.is_empty() {
        return;
    }
    let specs = out
        .specs
        .iter_mut()
        .chain(loaded.iter_mut().map(|l| &mut l.spec));
    for s in specs {
        let mut seen: HashSet<String> = s.after.iter().cloned().collect();
        let keys: Vec<String> = std::iter::once(&s.name)
            .chain(&s.template)
            .cloned()
            .collect();
        for k in keys {
            for after in before.get(&k).into_iter().flatten() {
                if seen.insert(after.clone()) {
                    s.after.push(after.clone());
                }
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

#[cfg(test)]
mod tests;
