//! A layered `.service` unit -> `UnitService`: the directives SPEC §8
//! supports, typed, with systemd's defaults filled in; every other
//! directive named in `unsupported` (one warning per unit, never a
//! refusal); errors as `FILE:LINE: Key=value: what`, all of them at once.
//! Decides nothing about how tend runs the service (see `unit` docs).

use super::common::{Applied, Build, Install, UnitSection};
use super::exec::{self, ExecCommand};
use super::parse::{Directive, Layered};
use super::process::{Process, ProcessBuild};
use super::spec::SpecContext;
use super::value::{self, ExitStatusSet};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    Simple,
    Exec,
    Forking,
    Oneshot,
    Notify,
    /// `notify-reload`: notify, and reload is `ReloadSignal=` (SIGHUP).
    NotifyReload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    Always,
    OnSuccess,
    OnFailure,
    OnAbnormal,
    OnAbort,
    OnWatchdog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyAccess {
    None,
    Main,
    Exec,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    ControlGroup,
    Mixed,
    Process,
    None,
}

/// One `.service` unit, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitService {
    pub name: String,
    pub unit: UnitSection,
    pub service_type: ServiceType,
    pub remain_after_exit: bool,
    pub exec_start_pre: Vec<ExecCommand>,
    pub exec_start: Vec<ExecCommand>,
    pub exec_start_post: Vec<ExecCommand>,
    pub exec_reload: Vec<ExecCommand>,
    pub exec_stop: Vec<ExecCommand>,
    pub exec_stop_post: Vec<ExecCommand>,
    /// Absolute (a relative `PIDFile=` is under /run, as in systemd).
    pub pid_file: Option<String>,
    pub restart: RestartPolicy,
    pub restart_sec: Duration,
    pub restart_steps: u32,
    /// `None`: no maximum.
    pub restart_max_delay: Option<Duration>,
    pub success_exit_status: ExitStatusSet,
    pub restart_prevent_exit_status: ExitStatusSet,
    pub restart_force_exit_status: ExitStatusSet,
    /// `None`: no limit (`0` or `infinity`; oneshot's default).
    pub timeout_start: Option<Duration>,
    pub timeout_stop: Option<Duration>,
    pub watchdog: Option<Duration>,
    pub notify_access: NotifyAccess,
    pub kill_mode: KillMode,
    pub kill_signal: i32,
    pub reload_signal: i32,
    pub send_sigkill: bool,
    /// User, environment, directories, output (systemd.exec(5)).
    pub process: Process,
    pub install: Install,
    /// Directives (or `Key=value`s) seen and ignored, in order.
    pub unsupported: Vec<String>,
    /// `FILE:LINE: what` for what systemd too ignores with a warning.
    pub warnings: Vec<String>,
}

/// The fields whose default depends on others, until all are read.
#[derive(Default)]
struct Pending {
    service_type: Option<ServiceType>,
    notify_access: Option<NotifyAccess>,
    timeout_start: Option<Option<Duration>>,
    process: ProcessBuild,
}

impl UnitService {
    fn new(name: &str) -> UnitService {
        UnitService {
            name: name.to_string(),
            unit: UnitSection::default(),
            service_type: ServiceType::Simple,
            remain_after_exit: false,
            exec_start_pre: Vec::new(),
            exec_start: Vec::new(),
            exec_start_post: Vec::new(),
            exec_reload: Vec::new(),
            exec_stop: Vec::new(),
            exec_stop_post: Vec::new(),
            pid_file: None,
            restart: RestartPolicy::No,
            restart_sec: Duration::from_millis(100),
            restart_steps: 0,
            restart_max_delay: None,
            success_exit_status: ExitStatusSet::default(),
            restart_prevent_exit_status: ExitStatusSet::default(),
            restart_force_exit_status: ExitStatusSet::default(),
            timeout_start: Some(Duration::from_secs(90)),
            timeout_stop: Some(Duration::from_secs(90)),
            watchdog: None,
            notify_access: NotifyAccess::None,
            kill_mode: KillMode::ControlGroup,
            kill_signal: libc::SIGTERM,
            reload_signal: libc::SIGHUP,
            send_sigkill: true,
            process: Process::default(),
            install: Install::default(),
            unsupported: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Builds the service `ctx.unit` from its layered files.
pub fn service(layered: &Layered, ctx: &SpecContext) -> Result<UnitService, Vec<String>> {
    let mut s = UnitService::new(&ctx.unit);
    let mut p = Pending::default();
    let mut b = Build::new(layered, ctx);
    b.each(&["Unit", "Service", "Install"], &mut |b, d| {
        let v = d.value.as_str();
        match (d.section.as_str(), d.key.as_str()) {
            ("Unit", k) => b.apply_unit(k, v),
            ("Install", k) => b.apply_install(k, v),
            (
                "Service",
                k @ ("StartLimitIntervalSec" | "StartLimitInterval" | "StartLimitBurst"),
            ) => b.apply_unit(k, v),
            ("Service", _) => apply(&mut s, &mut p, b, d),
            _ => Ok(false),
        }
    });
    finish(&mut s, p, &mut b);
    (s.unit, s.install, s.unsupported, s.warnings) = b.done()?;
    Ok(s)
}

/// One `[Service]` directive.
fn apply(s: &mut UnitService, p: &mut Pending, b: &mut Build, d: &Directive) -> Applied {
    let v = d.value.as_str();
    let sec = |v: &str| value::parse_sec(v).map(|t| t.filter(|d| !d.is_zero()));
    match d.key.as_str() {
        k if k.starts_with("Exec") => return apply_exec(s, b, k, v),
        "Type" => p.service_type = Some(service_type(b, v)?),
        "RemainAfterExit" => s.remain_after_exit = value::parse_bool(v)?,
        "PIDFile" => s.pid_file = Some(pid_file(&b.expand(v)?)),
        "Restart" => s.restart = keyword(v, RESTART)?,
        "RestartSec" => s.restart_sec = value::parse_sec(v)?.ok_or("must be finite")?,
        "RestartSteps" => s.restart_steps = v.parse().map_err(|_| "expected a count")?,
        "RestartMaxDelaySec" => s.restart_max_delay = value::parse_sec(v)?,
        "SuccessExitStatus" => s.success_exit_status.add(v)?,
        "RestartPreventExitStatus" => s.restart_prevent_exit_status.add(v)?,
        "RestartForceExitStatus" => s.restart_force_exit_status.add(v)?,
        "TimeoutStartSec" => p.timeout_start = Some(sec(v)?),
        "TimeoutStopSec" => s.timeout_stop = sec(v)?,
        "TimeoutSec" => {
            p.timeout_start = Some(sec(v)?);
            s.timeout_stop = sec(v)?;
        }
        "WatchdogSec" => s.watchdog = sec(v)?,
        "NotifyAccess" => p.notify_access = Some(keyword(v, NOTIFY_ACCESS)?),
        "KillMode" => s.kill_mode = keyword(v, KILL_MODE)?,
        "KillSignal" => s.kill_signal = crate::config::parse_signal(v)?,
        "ReloadSignal" => s.reload_signal = crate::config::parse_signal(v)?,
        "SendSIGKILL" => s.send_sigkill = value::parse_bool(v)?,
        _ => return p.process.apply(b, d),
    }
    Ok(true)
}

fn apply_exec(s: &mut UnitService, b: &mut Build, key: &str, v: &str) -> Applied {
    let list = match key {
        "ExecStartPre" => &mut s.exec_start_pre,
        "ExecStart" => &mut s.exec_start,
        "ExecStartPost" => &mut s.exec_start_post,
        "ExecReload" => &mut s.exec_reload,
        "ExecStop" => &mut s.exec_stop,
        "ExecStopPost" => &mut s.exec_stop_post,
        _ => return Ok(false),
    };
    list.extend(exec::parse_exec(v, b.ctx)?);
    Ok(true)
}

/// systemd's defaults that depend on other directives, and the checks
/// systemd makes before it accepts a service.
fn finish(s: &mut UnitService, p: Pending, b: &mut Build) {
    let t = p.service_type.unwrap_or(match s.exec_start.is_empty() {
        true => ServiceType::Oneshot,
        false => ServiceType::Simple,
    });
    s.service_type = t;
    let notify = matches!(t, ServiceType::Notify | ServiceType::NotifyReload);
    s.notify_access = p
        .notify_access
        .unwrap_or(match notify || s.watchdog.is_some() {
            true => NotifyAccess::Main,
            false => NotifyAccess::None,
        });
    s.timeout_start = p.timeout_start.unwrap_or(match t {
        ServiceType::Oneshot => None,
        _ => s.timeout_start,
    });
    s.process = p.process.finish();
    let name = b
        .layered
        .files
        .first()
        .map_or("?", String::as_str)
        .to_string();
    let mut refuse = |what: &str| b.errors.push(format!("{name}: {what}"));
    match (t, s.exec_start.len()) {
        (ServiceType::Oneshot, 0) if s.exec_stop.is_empty() => {
            refuse("no ExecStart= and no ExecStop=")
        }
        (ServiceType::Oneshot, _) => {}
        (_, 0) => refuse("no ExecStart=, which only Type=oneshot may lack"),
        (_, 1) => {}
        (_, _) => refuse("more than one ExecStart= command, which only Type=oneshot allows"),
    }
    if t == ServiceType::Oneshot
        && matches!(s.restart, RestartPolicy::Always | RestartPolicy::OnSuccess)
    {
        refuse("Restart=always and on-success are not allowed for Type=oneshot");
    }
}

fn service_type(b: &mut Build, v: &str) -> Result<ServiceType, String> {
    Ok(match v {
        "simple" => ServiceType::Simple,
        "exec" => ServiceType::Exec,
        "forking" => ServiceType::Forking,
        "oneshot" => ServiceType::Oneshot,
        "notify" => ServiceType::Notify,
        "notify-reload" => ServiceType::NotifyReload,
        // Run as simple: there is no D-Bus to wait for, nor jobs to idle on.
        "dbus" | "idle" => {
            b.unsupported(&format!("Type={v}"));
            ServiceType::Simple
        }
        _ => return Err("expected simple, exec, forking, oneshot, notify, notify-reload".into()),
    })
}

const RESTART: &[(&str, RestartPolicy)] = &[
    ("no", RestartPolicy::No),
    ("always", RestartPolicy::Always),
    ("on-success", RestartPolicy::OnSuccess),
    ("on-failure", RestartPolicy::OnFailure),
    ("on-abnormal", RestartPolicy::OnAbnormal),
    ("on-abort", RestartPolicy::OnAbort),
    ("on-watchdog", RestartPolicy::OnWatchdog),
];

const NOTIFY_ACCESS: &[(&str, NotifyAccess)] = &[
    ("none", NotifyAccess::None),
    ("main", NotifyAccess::Main),
    ("exec", NotifyAccess::Exec),
    ("all", NotifyAccess::All),
];

const KILL_MODE: &[(&str, KillMode)] = &[
    ("control-group", KillMode::ControlGroup),
    ("mixed", KillMode::Mixed),
    ("process", KillMode::Process),
    ("none", KillMode::None),
];

/// One of the words of `table`; the error lists them.
fn keyword<T: Copy>(v: &str, table: &[(&str, T)]) -> Result<T, String> {
    match table.iter().find(|(k, _)| *k == v) {
        Some((_, t)) => Ok(*t),
        None => {
            let words: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
            Err(format!("expected {}", words.join(", ")))
        }
    }
}

fn pid_file(v: &str) -> String {
    match v.starts_with('/') {
        true => v.to_string(),
        false => format!("/run/{v}"),
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
