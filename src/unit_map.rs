//! A unit as tend runs it (SPEC §8): the typed `UnitService` of `unit`
//! mapped onto a `ServiceSpec`, directive by directive, as the table in
//! `unit`'s docs says; what tend does not carry out is named in the unit's
//! one warning line. `unit_scan` reads the files and calls `to_spec`.

use crate::config::{self, Restart};
use crate::scan::read_bounded;
use crate::spec::Fnv;
use crate::spec::{Helper, MakeDir, OutFile, PolicySpec, Readiness, ServiceSpec, UnitSpec};
use crate::state::{self, Exit, Rules, UnitRules};
use crate::sys::Limits;
use crate::unit::exec::{self, Privileges};
use crate::unit::process::{DirRoot, Output};
use crate::unit::service::{KillMode, RestartPolicy, ServiceType, UnitService};
use crate::unit::value::ExitStatusSet;
use crate::unit::{self, envfile, parse};
use crate::unit_exec::{self, Mode};
use crate::unit_scan::ENVIRONMENT_FILE_MAX;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `TimeoutStopSec=infinity` (or `0`), `SendSIGKILL=no`: tend's grace is a
/// duration, so "never" is a year (a container stop ends long before).
pub(crate) const NO_KILL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Where systemd looks up an `ExecStart=` program given by name alone.
pub(crate) const EXEC_SEARCH: [&str; 4] =
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"];

/// Each managed directory's root and variable (systemd.exec(5)).
pub(crate) const MANAGED_DIRS: [(DirRoot, &str, &str); 5] = [
    (DirRoot::Runtime, "RUNTIME_DIRECTORY", "/run"),
    (DirRoot::State, "STATE_DIRECTORY", "/var/lib"),
    (DirRoot::Cache, "CACHE_DIRECTORY", "/var/cache"),
    (DirRoot::Logs, "LOGS_DIRECTORY", "/var/log"),
    (DirRoot::Configuration, "CONFIGURATION_DIRECTORY", "/etc"),
];

/// Directives typed by `unit` that tend does not carry out yet: named in
/// the unit's warning line whenever they are set.
pub(crate) const NOT_YET: &[&str] = &[];

/// The unit as tend runs it (see the table in `unit`'s docs).
pub(crate) fn to_spec(
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

    // A oneshot's ExecStartPost= runs after its ExecStart=, in the runner.
    let post_cmds = match oneshot {
        true => u.exec_start_post.as_slice(),
        false => &[],
    };
    let alone = u.exec_start_pre.is_empty() && u.exec_start.len() == 1 && post_cmds.is_empty();
    let argv: Vec<OsString> = match alone {
        // ExecStartPre=: tend's runner runs them, then becomes ExecStart
        // (a oneshot's: runs each ExecStart= in order).
        false => {
            let pre = u.exec_start_pre.iter();
            let all: Vec<_> = pre.chain(&u.exec_start).chain(post_cmds).collect();
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
        RestartPolicy::Always => Restart::Always,
        // The finer ones: `restart_when` decides (see below).
        _ => Restart::OnFailure,
    };
    let restart_when = match u.restart {
        RestartPolicy::OnSuccess => Some(state::RestartWhen::OnSuccess),
        RestartPolicy::OnAbnormal => Some(state::RestartWhen::OnAbnormal),
        RestartPolicy::OnAbort => Some(state::RestartWhen::OnAbort),
        RestartPolicy::OnWatchdog => Some(state::RestartWhen::OnWatchdog),
        _ => None,
    };
    let delay = u.restart_sec;
    let delay_max = match (u.restart_steps, u.restart_max_delay) {
        (1.., Some(max)) if max > delay => max,
        _ => delay,
    };
    // systemd's default stop timeout is 90s; in a container tend's
    // `--grace` is the one that fits the runtime's own stop timeout.
    let set = |key: &str| {
        let keys = [key, "TimeoutSec"];
        layered
            .directives
            .iter()
            .any(|d| keys.contains(&d.key.as_str()))
    };
    let timeout_set = set("TimeoutStopSec");
    let grace = match (u.timeout_stop, u.send_sigkill) {
        (_, false) | (None, _) => NO_KILL,
        (Some(t), true) if timeout_set => t,
        (Some(_), true) => grace,
    };
    // StandardError=inherit (the default) follows StandardOutput=.
    let err = match &u.process.stderr {
        Output::Inherit => out_file(&u.process.stdout),
        e => out_file(e),
    };
    let watchdog = u.watchdog.filter(|_| readiness == Readiness::Notify);
    Ok(ServiceSpec {
        name: name.to_string(),
        dir: path.to_path_buf(),
        argv,
        finish,
        down: false,
        critical: false,
        user: user.map(Box::new),
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
            unit: Rules::from(UnitRules {
                // systemd counts these signals as clean too, but for a
                // oneshot.
                success: exits(&u.success_exit_status, !oneshot),
                prevent: exits(&u.restart_prevent_exit_status, false),
                force: exits(&u.restart_force_exit_status, false),
                // Unset: `--ready-timeout`, as `--grace` for TimeoutStopSec=.
                start_timeout: set("TimeoutStartSec").then(|| u.timeout_start.unwrap_or(NO_KILL)),
                ready_bound: !oneshot || set("TimeoutStartSec"),
                start_post: !oneshot && !u.exec_start_post.is_empty(),
                notify_access: match u.notify_access {
                    unit::service::NotifyAccess::Main => state::NotifyAccess::Main,
                    unit::service::NotifyAccess::None => state::NotifyAccess::None,
                    // `exec` (and its control processes): all, noted.
                    _ => state::NotifyAccess::All,
                },
                kill_mode: match u.kill_mode {
                    KillMode::ControlGroup => state::KillMode::Group,
                    KillMode::Mixed => state::KillMode::Mixed,
                    KillMode::Process => state::KillMode::Process,
                    KillMode::None => state::KillMode::None,
                },
                restart_when,
                part_of: services(&u.unit.part_of),
                requires: services(u.unit.requires.iter().chain(&u.unit.binds_to)),
            }),
        },
        unit: Some(Box::new(UnitSpec {
            description: description(u),
            kind: match u.service_type {
                ServiceType::Simple => "simple",
                ServiceType::Exec => "exec",
                ServiceType::Forking => "forking",
                ServiceType::Oneshot => "oneshot",
                ServiceType::Notify => "notify",
                ServiceType::NotifyReload => "notify-reload",
            },
            cwd,
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
            start_post: helper(&u.exec_start_post).filter(|_| !oneshot),
            output: [out_file(&u.process.stdout), err],
        })),
        fingerprint: 0,
    })
}

/// `Description=` as `status` shows it: at most 256 bytes, so that no
/// unit makes every status reply large (systemd does not bound it).
fn description(u: &UnitService) -> String {
    const MAX: usize = 256;
    let d = u.unit.description.as_deref().unwrap_or_default();
    match crate::spec::prefix_at_most(d, MAX) {
        cut if cut.len() < d.len() => format!("{cut}..."),
        _ => d.to_string(),
    }
}

/// The file of `StandardOutput=`/`StandardError=`; `None` for the
/// journal and stdout's `inherit`: tend's (prefixed) output.
/// The services that dependency lines name: `NAME.service` (or a bare
/// `NAME`) is the service NAME; other unit types (`*.target`, ...) are none.
fn services<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|p| p.strip_suffix(".service").or(Some(p.as_str())))
        .filter(|p| !p.contains('.'))
        .map(str::to_string)
        .collect()
}

fn out_file(o: &Output) -> Option<OutFile> {
    let (path, append, truncate) = match o {
        Output::Journal | Output::Inherit => return None,
        Output::Null => ("/dev/null", false, false),
        Output::File(p) => (p.as_str(), false, false),
        Output::Append(p) => (p.as_str(), true, false),
        Output::Truncate(p) => (p.as_str(), false, true),
    };
    Some(OutFile {
        path: path.into(),
        append,
        truncate,
    })
}

/// `*ExitStatus=` as the state machine takes them; `clean`: with
/// SIGHUP, SIGINT, SIGTERM and SIGPIPE (systemd's clean signals).
fn exits(set: &ExitStatusSet, clean_too: bool) -> Vec<Exit> {
    let clean = [libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGPIPE];
    let clean = clean.iter().filter(|_| clean_too);
    (set.codes.iter().map(|&c| Exit::Code(c.into())))
        .chain(set.signals.iter().chain(clean).map(|&s| Exit::Signal(s)))
        .collect()
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
    // The libc crate types RLIMIT_* as u32 for x86_64 musl, i32 for aarch64.
    #[allow(clippy::unnecessary_cast)]
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
pub(crate) fn noted(u: &UnitService, layered: &parse::Layered, ignored: &mut Vec<String>) {
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
    if u.notify_access == unit::service::NotifyAccess::Exec {
        note("NotifyAccess=exec (as all)".into());
    }
    if u.remain_after_exit && u.service_type != ServiceType::Oneshot {
        note("RemainAfterExit (without Type=oneshot)".into());
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
pub(crate) fn group_id(g: &str, group: &str) -> Option<u32> {
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
