//! systemd unit files (SPEC §8): one more front end describing services,
//! beside service dirs. Pure: text in, plain values out; no syscalls, no
//! file reads, no knowledge of the supervisor. The caller reads the unit
//! and its drop-ins (bounded, bytes -> lossy UTF-8) and maps the result
//! onto a `scan::ServiceSpec`.
//!
//! The layers, each table-tested on literals:
//! - `parse`: text -> `(section, key, value, line)` as systemd reads it,
//!   and `layer` for a unit plus its `NAME.service.d/*.conf` drop-ins;
//! - `common::kind` says which keys are lists (`Key=` resets them) and
//!   which accumulate (dependencies);
//! - `exec`: `Exec*=` lines -> argv with prefixes; `expand_env` for the
//!   `$VAR` expansion that systemd does at exec time;
//! - `spec`: `%` specifiers from a `SpecContext` of plain values;
//! - `value`: time spans, booleans, modes, exit statuses, rlimits;
//! - `service`, `process`, `socket`: the typed `UnitService` (with its
//!   `Process`) and `UnitSocket`, systemd's defaults filled in, every
//!   unsupported directive listed, errors as `FILE:LINE: Key=value: what`.
//!
//! ```text
//! let parsed = [(path, parse::parse(&text)?), (dropin, parse::parse(&t2)?)];
//! let layered = parse::layer(&parsed, &common::kind);
//! let svc = service::service(&layered, &spec::SpecContext::system("nginx.service"))?;
//! ```
//!
//! # How a unit maps onto tend's model (for the wiring step)
//!
//! A unit must end up as a `ServiceSpec` like any service dir, so that the
//! supervisor never learns where a service came from (STYLE.md). Where
//! tend's model has no field yet, the wiring adds one to the spec and the
//! state machine, not a branch in the loop.
//!
//! | unit | tend |
//! |---|---|
//! | `ExecStart=` (exactly one, except oneshot) | `argv`: `cmd.argv` after `exec::expand_env` with the service's final environment (skipped with `:`). With `@`, `cmd.path` is the program and `argv[0]` differs: the spec needs a program path beside argv. A bare name is looked up in systemd's fixed path (/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin). |
//! | `-` prefix | a non-zero exit of that command is not a failure |
//! | `+`, `!`, `!!` | that command runs as tend's user, not `User=` |
//! | `ExecStartPre=` | run in order before `argv`, each to completion; a failure (without `-`) is a failed start, which counts for backoff and `start-limit` |
//! | `ExecStartPost=` | `start_post` (a helper, `Action::SpawnStartPost`) once the service is up and ready, which it then is only once that exited 0; a failure is a failed start. A oneshot's: after its `ExecStart=`s in the runner |
//! | `ExecStop=` | run instead of sending the stop signal; what is left of the process group then gets `KillSignal=` at its exit, SIGKILL at `TimeoutStopSec=` |
//! | `ExecStopPost=` | run after every exit, as `finish` (no arguments; `$SERVICE_RESULT`, `$EXIT_CODE`, `$EXIT_STATUS` in its environment as systemd sets them) |
//! | `ExecReload=` | what `tend ctl reload NAME` runs (SPEC §5), instead of `reload-signal` |
//! | `Type=simple` | `Readiness::None`: ready once started |
//! | `Type=exec` | ready once the exec succeeded (the spawn's exec-status pipe) |
//! | `Type=notify` | `Readiness::Notify` (`NotifyAccess=`, `policy.unit.notify_access`, says which pids may send: the check is `supervisor::ready`'s) |
//! | `Type=notify-reload` | `Readiness::Notify`; reload sends `ReloadSignal=` (`reload_signal`, default HUP) |
//! | `Type=forking` + `PIDFile=` | `pid-file`: ready once `ExecStart` exited 0 and the file names a live pid. Without `PIDFile=` systemd guesses the main pid; tend cannot, so the wiring refuses or warns |
//! | `Type=oneshot` | ready (and `after` released) once every `ExecStart` exited 0, in order; with `RemainAfterExit=yes` it then stays `up` with no process, else it is `down` and not restarted |
//! | `Restart=` | `policy.restart`: `no` = never, `always`, `on-failure`; `on-success`, `on-abnormal`, `on-abort`, `on-watchdog`: `policy.unit.restart_when` |
//! | `SuccessExitStatus=` (counts as success; so do SIGHUP, SIGINT, SIGTERM, SIGPIPE but for a oneshot), `RestartPreventExitStatus=` (never restart), `RestartForceExitStatus=` (always restart) | `policy.unit` (`state::UnitRules`), decided in `Service::decide` |
//! | `RestartSec=` (100ms) | `restart-delay` |
//! | `RestartSteps=`, `RestartMaxDelaySec=` | `restart-delay-max`: with no steps systemd keeps `RestartSec` constant, so `delay_max = delay`; with steps it grows to the max (tend doubles, systemd interpolates geometrically over the steps) |
//! | `StartLimitBurst=` in `StartLimitIntervalSec=` | `start-limit = "N/DUR"`; systemd's default 5 in 10s applies unless the interval is 0 |
//! | `After=` | `after` (`NAME.service` -> `NAME`; `*.target` and units not in the services dir ignored with a note) |
//! | `Before=` | an `after` edge on the other service |
//! | `Requires=`, `BindsTo=` / `Wants=` | the named unit must / may be in the services dir (SPEC §8); `PartOf=` (and `Requires=`, `BindsTo=`): stopping or restarting that unit, by hand or by its `Restart=`, does the same to this one |
//! | `TimeoutStartSec=` (90s; none for oneshot) | `policy.unit.start_timeout` (unset: `--ready-timeout`), with `ready_bound`: how long readiness may take before the start counts as failed |
//! | `TimeoutStopSec=` (90s) | `stop-grace`; `None` = never SIGKILL; `SendSIGKILL=no` likewise |
//! | `WatchdogSec=` | `watchdog` |
//! | `KillMode=` | `policy.unit.kill_mode` (`state::KillMode`): `control-group` the process group; `mixed` the stop signal to the main process only (`Action::SignalMain`), SIGKILL to the group; `process` the main process only; `none` the stop signal to the main process, never SIGKILL |
//! | `KillSignal=` | `stop-signal` |
//! | `User=`, `Group=`, `SupplementaryGroups=` | `user` (`config::resolve_user`), `Group=` replacing the primary gid, the supplementary groups added; `HOME`, `USER`, `LOGNAME`, `SHELL` set |
//! | `WorkingDirectory=` | the cwd: systemd's default for a system unit is `/`, not the services dir; `~` is the home of `User=`; `-` tolerates a missing dir |
//! | `Environment=`, `EnvironmentFile=`, `UnsetEnvironment=` | `env`: tend's environment, then `Environment=` in order, then each file (it wins over `Environment=`; `-` tolerates a missing file; read bounded, in systemd's env-file syntax), then every `UnsetEnvironment=` name (or exact `NAME=VALUE`) removed |
//! | `UMask=` (0022), `Nice=`, `Limit*=` | applied in the child before exec (`sys`) |
//! | `RuntimeDirectory=` etc. with `*Mode=` (0755) | created under /run, /var/lib, /var/cache, /var/log, /etc before the start, owned by `User=`/`Group=`; a runtime dir removed after the stop; `$RUNTIME_DIRECTORY` etc. set |
//! | `StandardOutput=`/`StandardError=` | `journal`: tend's prefixed output; `null`: /dev/null; `file:` (written from the start, not truncated, as systemd), `append:`, `truncate:`: `spec.output`, opened by the supervisor at each start (a regular file or /dev/null only); stdout `inherit` is the journal; stderr `inherit` follows stdout |
//! | `NAME.socket` | `listen`, `on-demand = true`: a `Port(p)` stream is `tcp:[::]:p` (dual stack), `Inet` is `tcp:ADDR`, `Unix` is `unix:PATH`; datagram, seqpacket and abstract sockets need new `ListenAddr` kinds; `FileDescriptorName=` is the `#NAME`; `SocketMode=` and `Backlog=` need fields beside it |
//! | `Description=` | free text for `status` |
//! | `[Install]` | read by `systemctl enable` only |
//! | `unsupported` | one warning line per unit that lists them all |
//! | `warnings` | logged as they are (`FILE:LINE: what`) |
//!
//! Specifiers: the wiring passes `SpecContext::system(unit)` with tend's
//! own user (systemd's `%u %h ...` are the manager's user, not `User=`),
//! the unit name as instantiated (`NAME@INST.service`).

pub mod common;
pub mod envfile;
pub mod exec;
pub mod parse;
pub mod process;
pub mod service;
pub mod socket;
pub mod spec;
pub mod value;

/// User text quoted in an error, cut to a readable length (a hostile line
/// may be a megabyte long).
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
