//! One supervised service as the loop sees it: its spec, its pure state
//! machine (`state::Service`), the pids it runs, and one small struct per
//! concern: `Order` (the `after` graph and the hold before start),
//! `output::Pipes`, `ready::Probes` and `sockets::Sockets`. Also how `run`
//! is started with all of them wired in.

use super::daemon::Daemon;
use super::output::Pipes;
use super::ready::Probes;
use super::sockets::Sockets;
use super::*;
use crate::spec::OutFile;

pub(super) struct Svc {
    pub spec: ServiceSpec,
    pub sm: Service,
    /// The main process: `run`, or the daemon it left (`pid-file`).
    pub run_pid: Option<i32>,
    pub finish_pid: Option<i32>,
    /// A unit's ExecStop= and ExecReload= while they run.
    pub stop_pid: Option<i32>,
    pub reload_pid: Option<i32>,
    /// When a running ExecReload= has overrun its start timeout.
    pub reload_until: Option<Instant>,
    /// A unit's ExecStartPost= while it runs.
    pub post_pid: Option<i32>,
    /// The last `run`'s pid, which is its process group (it is a session
    /// leader); or the daemon's pid.
    pub last_pid: i32,
    /// Gone from the services dir at a reload: dropped once down.
    pub removed: bool,
    /// Its dir is broken since the last reload: it runs on its old
    /// definition, and `check` fails with this error.
    pub config_error: Option<String>,
    pub order: Order,
    pub pipes: Pipes,
    pub probes: Probes,
    pub sockets: Sockets,
    pub daemon: Daemon,
    /// What the loop's epoll set and timers hold for it.
    pub watch: super::watch::Watched,
}

/// Where a service stands in the start and stop order.
#[derive(Default)]
pub(super) struct Order {
    /// Indexes of the services named in `after` (and of its logger).
    pub deps: Vec<usize>,
    /// Should start, but waits for its `after` services to be ready.
    pub held: bool,
    /// Shutdown has sent it `Event::Stop`.
    pub stop_sent: bool,
}

impl Svc {
    /// The name of the service dir it comes from: `web` for `web`,
    /// `web@2` and `web/log`.
    pub fn dir_name(&self) -> &str {
        let name = self.spec.name.split('/').next().unwrap_or_default();
        self.spec.template.as_deref().unwrap_or(name)
    }

    /// `start_timeout`: `--ready-timeout`, the time a `pid-file` service
    /// has to start its daemon (SPEC §6).
    pub fn new(spec: ServiceSpec, prefixing: bool, start_timeout: Duration) -> Svc {
        let mut sm = Service::new(spec.policy());
        sm.policy.start_timeout = start_timeout;
        Svc {
            sm,
            pipes: Pipes::new(&spec, prefixing),
            spec,
            run_pid: None,
            finish_pid: None,
            stop_pid: None,
            reload_pid: None,
            reload_until: None,
            post_pid: None,
            last_pid: 0,
            removed: false,
            config_error: None,
            order: Order::default(),
            probes: Probes::default(),
            sockets: Sockets::default(),
            daemon: Daemon::default(),
            watch: Default::default(),
        }
    }

    /// For the exit log line: `, restarting in 200ms` when in backoff.
    pub fn next_step(&self, now: Instant) -> String {
        match self.sm.state {
            State::Backoff { until } => format!(
                ", restarting in {}ms",
                until.saturating_duration_since(now).as_millis()
            ),
            _ => String::new(),
        }
    }

    /// The next deadline of any kind: the state machine's, a readiness
    /// check's, the watchdog's, a reload's.
    pub fn due(&self) -> Option<Instant> {
        [
            self.sm.deadline(),
            self.probes.at,
            self.probes.watchdog_at,
            self.reload_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The process group of the main process: `run`'s, or the daemon's as
    /// it is now (safe to signal while the daemon is unreaped: it is in it).
    pub fn group(&self) -> i32 {
        let daemon = self.run_pid.filter(|_| self.sm.adopted);
        let group = daemon.and_then(sys::ids).map(|ids| ids.0);
        group.filter(|&g| g > 0).unwrap_or(self.last_pid)
    }

    /// Whether the service should be running now (not removed, and wanted
    /// up or held for its `after` services): what `check` and the
    /// manager's READY=1 wait for.
    pub fn should_run(&self) -> bool {
        !self.removed && (self.sm.want_up || self.order.held)
    }

    /// Up and ready, as `check` and the manager's READY=1 count it.
    pub fn up_and_ready(&self) -> bool {
        self.sm.is_up() && self.sm.ready
    }

    /// The state `tend ctl` shows: a service waiting for its `after`
    /// services is `starting`.
    pub fn state_name(&self) -> &'static str {
        if self.order.held {
            "starting"
        } else if self.sockets.listening {
            "listening"
        } else {
            self.sm.name_of_state()
        }
    }

    /// Ready for whoever runs `after` it: up and ready, an on-demand
    /// service whose sockets are bound (connections wait in the backlog),
    /// or a oneshot that exited 0.
    pub fn is_ready(&self) -> bool {
        self.sockets.listening || self.sm.is_up() && self.sm.ready || self.sm.done
    }
}

/// Resolves `after` names (and loggers) to indexes. `scan::check_order`
/// has dropped unknown names and cycles; a name gone at a reload is skipped.
/// The credentials `sys::spawn` switches a service's processes to.
pub(super) fn creds(u: &crate::config::User) -> sys::Creds<'_> {
    sys::Creds {
        uid: u.uid,
        gid: u.gid,
        groups: &u.groups,
    }
}

pub(super) fn link(svcs: &mut [Svc]) {
    let names: Vec<String> = svcs.iter().map(|s| s.spec.name.clone()).collect();
    for s in svcs.iter_mut() {
        s.order.deps = s
            .spec
            .after
            .iter()
            .filter_map(|a| names.iter().position(|n| n == a))
            .collect();
        s.pipes.feeds = s
            .spec
            .logger_of
            .as_ref()
            .and_then(|p| names.iter().position(|n| n == p));
    }
    for s in svcs.iter_mut() {
        s.pipes.has_log = false;
    }
    for i in 0..svcs.len() {
        // A logger a reload removed no longer counts, though it may still
        // be stopping: its service's stdout goes back to tend.
        if let Some(p) = svcs[i].pipes.feeds.filter(|_| !svcs[i].removed) {
            svcs[p].pipes.has_log = true;
        }
    }
}

/// A unit's output files for a start (stderr shares stdout's when they
/// are the same file); an error names the service and the file.
fn open_outputs(spec: &ServiceSpec) -> std::io::Result<[Option<OwnedFd>; 2]> {
    let Some(unit) = &spec.unit else {
        return Ok([None, None]);
    };
    let mode = 0o666 & !unit.limits.umask.unwrap_or(0o022);
    let open = |f: &OutFile| {
        sys::open_output(&f.path, f.append, f.truncate, mode).map_err(|e| {
            let what = format!("{}: cannot open {}: {e}", spec.name, f.path.display());
            std::io::Error::other(what)
        })
    };
    let out = unit.output[0].as_ref().map(open).transpose()?;
    let err = match (&unit.output, &out) {
        ([Some(a), Some(b)], Some(fd)) if a == b => Some(fd.try_clone()?),
        ([_, e], _) => e.as_ref().map(open).transpose()?,
    };
    Ok([out, err])
}

impl Supervisor {
    /// Starts `run` of service i with its pipes, sockets and readiness
    /// channel.
    pub(super) fn spawn_run(&mut self, i: usize, now: Instant) -> std::io::Result<sys::Child> {
        if let Some(p) = self.svcs[i].pipes.feeds {
            self.svcs[p].pipes.ensure()?;
            self.mark(p);
        }
        let control_dir = self.control_dir();
        let s = &mut self.svcs[i];
        let owner = s.spec.user.as_ref().map(|u| (u.uid, u.gid));
        for d in s.spec.unit.iter().flat_map(|u| &u.dirs) {
            sys::make_dir(&d.path, d.mode, owner).map_err(|e| {
                let what = format!("{}: cannot make {}: {e}", s.spec.name, d.path.display());
                std::io::Error::other(what)
            })?;
        }
        s.pipes.ensure()?;
        s.pipes.files = open_outputs(&s.spec)?;
        s.sockets.ensure(&s.spec, &self.inherited)?;
        let mut env = s.spec.env.clone();
        s.sockets.add_env(&mut env);
        let nfd_w = s.probes.start_run(&s.spec, &control_dir, &mut env, now)?;
        let logger_in = s
            .pipes
            .feeds
            .and_then(|p| self.svcs[p].pipes.stdout.as_ref())
            .map(|p| p.r.as_raw_fd());
        let s = &self.svcs[i];
        let mut spawn = sys::Spawn::new(&s.spec.argv, &self.mask);
        spawn.cwd = Some(s.spec.cwd());
        spawn.env = &env;
        spawn.user = s.spec.user.as_deref().map(svc::creds);
        let listen_fds = s.sockets.raw_fds();
        spawn.listen_fds = &listen_fds;
        spawn.limits = s.spec.limits();
        spawn.stdio = [logger_in, s.pipes.out_w(), s.pipes.err_w()];
        if let (Readiness::Fd(n), Some(w)) = (&s.spec.readiness, &nfd_w) {
            spawn.extra_fd = Some((w.as_raw_fd(), *n));
        }
        let child = sys::spawn(&spawn)?;
        let pid = child.pid;
        log::debug!("{}[{pid}]: started", s.spec.name);
        let s = &mut self.svcs[i];
        s.run_pid = Some(pid);
        s.last_pid = pid;
        if s.spec.pid_file.is_some() {
            s.daemon = Daemon {
                run_start: sys::start_time(pid),
                ..Daemon::default()
            };
        }
        Ok(child)
    }

    /// `Action::SignalMain`: `sig` to service i's main process only.
    pub(super) fn signal_main(&mut self, i: usize, sig: i32) -> Option<Event> {
        let s = &self.svcs[i];
        if let Some(pid) = s.run_pid {
            if sig == libc::SIGKILL {
                log::warn!(
                    "{}[{pid}]: still running after its grace, SIGKILL",
                    s.spec.name
                );
            }
            self.pids.signal(pid, sig);
        }
        None
    }

    /// Where per-service files (notify sockets) go: beside the control
    /// socket.
    fn control_dir(&self) -> PathBuf {
        self.opts
            .control
            .parent()
            .unwrap_or(Path::new("/run/tend"))
            .to_path_buf()
    }

    /// Remembers whose child this is; a failed exec (the child has exited
    /// 127 or 126 and will be reaped as usual) is logged with `what`.
    pub(super) fn track(&mut self, child: sys::Child, owner: Owner, what: String) {
        if let Some(e) = &child.exec_err {
            log::error!("{what}: {e}");
        }
        self.insert_child(child.pid, owner);
    }
}
