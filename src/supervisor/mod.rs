//! The event loop, and the only place that carries out actions. One turn:
//! advance the phase, wait (poll, timeout = nearest deadline), handle the
//! signals read, reap every exited child, serve the fds that are ready,
//! fire due deadlines. Idle, it sleeps in poll with no timeout: zero
//! wakeups.
//!
//! The life of each service is `state::Service` (pure); this module maps
//! pids to services, feeds events to the state machine and carries out the
//! actions it returns. Its rooms, one concern each:
//! - `phases`: tend's own life: init.d, services and main command,
//!   shutdown in order, finish.d, draining leftovers;
//! - `svc`: one service (`Svc`) and how its `run` is started;
//! - `ready`: readiness channels of a running service (notification-fd,
//!   sd_notify, tcp and command checks, watchdog);
//! - `sockets`: `listen` sockets and on-demand starts;
//! - `output`: stdout/stderr pipes, prefixing, loggers;
//! - `reload`: rescanning the services dir;
//! - `daemon`: `pid-file` services, whose daemon is found by its pid file;
//! - `helpers`: a unit's ExecStop= and ExecReload= commands;
//! - `verbs`: the control verbs.

use crate::config::signal_name;
use crate::control::{Control, Incoming};
use crate::logs::{Output, Pipe};
use crate::options::Options;
use crate::proto::{self, Goal, Request};
use crate::scan;
use crate::spec::{ListenAddr, Readiness, ServiceSpec};
use crate::state::{Action, Event, Exit, Service, State};
use crate::sys;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::SignalFd;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod children;
mod daemon;
mod helpers;
mod manager;
mod output;
mod phases;
mod ready;
mod reload;
mod sockets;
mod svc;
mod verbs;
mod watch;

use phases::{MainCmd, Phase, Scripts};
use svc::{link, Svc};
use watch::{Token, Watch};

#[derive(Clone, Copy)]
enum Owner {
    Run(usize),
    Finish(usize),
    Main,
    Script,
    /// A `ready = { command = ... }` check of service i.
    Check(usize),
    /// A unit's ExecStop= or ExecReload= of service i.
    Helper(usize),
}

pub struct Supervisor {
    opts: Options,
    mask: SigSet,
    sigfd: SignalFd,
    svcs: Vec<Svc>,
    pids: children::Children,
    main: Option<MainCmd>,
    phase: Phase,
    init: Scripts,
    finish: Scripts,
    init_failed: bool,
    /// A critical service failed for good: tend exits with its status.
    critical_exit: Option<i32>,
    /// QUIT without a main command: SIGKILL all, exit 131.
    quit: bool,
    /// Services that had to be SIGKILLed during shutdown.
    killed: Vec<String>,
    drain_kill_at: Option<Instant>,
    drain_started: bool,
    children_left: bool,
    /// The last reap stopped at its batch size: reap again before sleeping.
    reap_more: bool,
    control: Option<Control>,
    waiters: Vec<Waiter>,
    stdout: Output,
    stderr: Output,
    prefixing: bool,
    /// tend's own manager, when it gave tend a NOTIFY_SOCKET (SPEC §7).
    manager: Option<manager::Manager>,
    /// The sockets tend's manager handed it, by LISTEN_FDNAMES name, for
    /// services that claim them with `fd:NAME` (SPEC §7).
    inherited: Vec<(String, OwnedFd)>,
    /// Orphans reaped lately, for a daemon that exits before its pid file
    /// is read.
    reaped: daemon::Reaped,
    /// The epoll set, the services' deadlines, and what changed.
    watch: Watch,
    /// The phase the last turn ended in: a new one is a change.
    seen_phase: Phase,
    /// A SIGCHLD was read that calls for a walk.
    sigchld: bool,
    /// Children's exits are watched through their pidfds.
    pidfd_reaping: bool,
    /// A walk is due then: a SIGCHLD did not walk, and may have hidden an
    /// orphan's (see children.rs).
    sweep_at: Option<Instant>,
}

/// A `tend ctl wait` in progress.
struct Waiter {
    conn: u64,
    goal: Goal,
    names: Vec<String>,
    deadline: Option<Instant>,
}

impl Supervisor {
    pub fn new(
        opts: Options,
        specs: Vec<ServiceSpec>,
        mut inherited: Vec<(String, OwnedFd)>,
        mask: SigSet,
        sigfd: SignalFd,
    ) -> Self {
        let main = (!opts.command.is_empty()).then(|| MainCmd {
            argv: opts.command.clone(),
            start_by: None,
            pid: None,
            exit: None,
            kill_at: None,
        });
        // Prefixes are on when more than one service (loggers not counted)
        // writes to tend's output.
        let producers = specs.iter().filter(|s| s.logger_of.is_none()).count();
        let prefixing = opts.log_prefix.unwrap_or(producers > 1);
        // Sockets from tend's manager that no service claims are closed.
        inherited.retain(|(name, fd)| {
            let claimed = specs
                .iter()
                .flat_map(|s| &s.listen)
                .any(|l| matches!(&l.addr, ListenAddr::Inherited(n) if n == name));
            if !claimed {
                let n = fd.as_raw_fd();
                log::warn!("fd {n} ({name}) from tend's manager: no service claims it, closing");
            }
            claimed
        });
        let mut svcs: Vec<Svc> = specs
            .into_iter()
            .map(|s| Svc::new(s, prefixing, opts.ready_timeout))
            .collect();
        link(&mut svcs);
        let watch = match Watch::new() {
            Ok(w) => w,
            Err(e) => {
                // Without epoll (a kernel without it) there is no loop.
                log::error!("epoll: {e}");
                sys::exit_now(1);
            }
        };
        Supervisor {
            init: Scripts::load(&opts.init_dir),
            finish: Scripts::load(&opts.finish_dir),
            opts,
            mask,
            sigfd,
            svcs,
            pids: children::Children::default(),
            main,
            phase: Phase::Init,
            init_failed: false,
            critical_exit: None,
            quit: false,
            killed: Vec::new(),
            drain_kill_at: None,
            drain_started: false,
            children_left: true,
            reap_more: false,
            control: None,
            waiters: Vec::new(),
            stdout: Output::std(1),
            stderr: Output::std(2),
            prefixing,
            manager: manager::Manager::from_env(Instant::now()),
            inherited,
            reaped: daemon::Reaped::default(),
            watch,
            seen_phase: Phase::Init,
            sigchld: true,
            pidfd_reaping: false,
            sweep_at: None,
        }
    }

    /// Runs until everything is down; returns tend's exit code.
    pub fn run(mut self) -> i32 {
        match Control::bind(&self.opts.control) {
            Ok(c) => self.control = Some(c),
            Err(e) => log::warn!("control socket: {e}; tend ctl will not work"),
        }
        crate::log::queue(true);
        self.pidfd_reaping = sys::pidfd_reaping();
        if !self.pidfd_reaping {
            log::debug!("no pidfds to reap by: every exit walks every child");
        }
        self.watch.watch_signals(sys::raw(&self.sigfd));
        self.mark_all();
        loop {
            let now = Instant::now();
            self.watch.begin_turn();
            self.advance(now);
            if self.watch.any_change() {
                self.drop_removed();
                self.tell_manager();
            }
            self.check_waiters(now);
            if self.phase == Phase::Done {
                break;
            }
            self.stderr.push_own(crate::log::take());
            self.stdout.write_now();
            self.stderr.write_now();
            self.sync();
            let timeout = match self.reap_more {
                true => Some(Duration::ZERO),
                false => self
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(now)),
            };
            let ready = self.watch.wait(timeout);
            let now = Instant::now();
            // The children whose pidfds say they exited (see children.rs).
            let mut exited: Vec<i32> = (ready.iter())
                .filter_map(|&(t, _)| match t {
                    Token::Exit(pid) => Some(pid),
                    _ => None,
                })
                .collect();
            if ready.iter().any(|&(t, _)| t == Token::Signals) {
                for sig in sys::read_signals(&mut self.sigfd) {
                    self.watch.changed = true;
                    if sig.signo == libc::SIGCHLD {
                        match sig.child.filter(|&pid| self.pids.reaps_alone(pid)) {
                            Some(pid) => {
                                // Its pidfd may turn readable after this wait.
                                exited.push(pid);
                                let sweep = now + children::SWEEP;
                                self.sweep_at = Some(self.sweep_at.map_or(sweep, |t| t.min(sweep)));
                            }
                            None => self.sigchld = true,
                        }
                    }
                    if sig.self_inflicted {
                        log::debug!("ignoring {} tend caused itself", signal_name(sig.signo));
                    } else {
                        self.on_signal(sig.signo, now);
                    }
                }
            }
            // A walk (waitpid(-1) looks at every child of tend) only for a
            // SIGCHLD from a process that is not a child watched by its
            // pidfd, or when a sweep is due; in the last phase at every
            // exit, so that `children_left` is up to date.
            exited.sort_unstable();
            exited.dedup();
            let walk = std::mem::take(&mut self.sigchld)
                || self.reap_more
                || self.sweep_at.is_some_and(|t| t <= now)
                || (!exited.is_empty() && self.phase == Phase::Draining);
            if walk || !exited.is_empty() {
                self.reap(now, &exited, walk);
            }
            self.on_events(&ready, now);
            // What this turn read goes out now: left for the next turn's
            // write, it would be watched for POLLOUT by this sync and
            // unwatched by the next (two epoll_ctl a turn).
            self.stdout.write_now();
            self.stderr.write_now();
            // Deadlines changed by this turn's events are filed first.
            self.sync();
            self.fire_deadlines(Instant::now());
        }
        let code = self.exit_code();
        self.manager_exit(code);
        crate::log::queue(false);
        self.flush_output();
        code
    }

    fn on_events(&mut self, ready: &[(Token, libc::c_short)], now: Instant) {
        let mut control = Vec::new();
        for &(t, events) in ready {
            match t {
                Token::Signals | Token::Exit(_) => {}
                Token::Control(fd) => control.push((fd, events)),
                Token::Out(i) => self.on_output(i, false),
                Token::Err(i) => self.on_output(i, true),
                Token::NotifyFd(i) => self.on_notification_fd(i, now),
                Token::Notify(i) => self.on_notify(i, now),
                Token::Tcp(i) => self.on_tcp(i, now),
                Token::Listen(i) => self.on_first_connection(i, now),
                Token::Stdout => self.stdout.write_some(),
                Token::Stderr => self.stderr.write_some(),
            }
            if let Token::NotifyFd(i) | Token::Notify(i) | Token::Tcp(i) | Token::Listen(i) = t {
                self.mark(i);
            }
        }
        if let Some(c) = &mut self.control {
            // The events in the order the control socket lists its fds.
            let mut fds = Vec::new();
            c.interest(&mut fds);
            let revents: Vec<libc::c_short> = fds
                .iter()
                .map(|&(fd, _, _)| {
                    control
                        .iter()
                        .find(|&&(f, _)| f == fd && fd >= 0)
                        .map_or(0, |&(_, e)| e)
                })
                .collect();
            let (incoming, gone) = c.service(&revents, now);
            if !gone.is_empty() {
                self.waiters.retain(|w| !gone.contains(&w.conn));
            }
            for req in incoming {
                self.answer(req, now);
            }
        }
    }

    fn exit_code(&self) -> i32 {
        if self.quit {
            return 128 + libc::SIGQUIT;
        }
        if let Some(code) = self.critical_exit {
            return code;
        }
        if self.init_failed {
            return 1;
        }
        if let Some(exit) = self.main.as_ref().and_then(|m| m.exit) {
            let code = exit.shell_code();
            return if self.opts.ok_codes.contains(&code) {
                0
            } else {
                code
            };
        }
        if self.killed.is_empty() {
            0
        } else {
            log::warn!("had to SIGKILL {} after the grace", self.killed.join(", "));
            1
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let others = [
            self.next_timer(),
            self.main.as_ref().and_then(|m| m.kill_at),
            self.main
                .as_ref()
                .and_then(|m| m.start_by.filter(|_| m.pid.is_none())),
            self.init.kill_at,
            self.finish.kill_at,
            self.drain_kill_at,
            self.control.as_ref().and_then(Control::deadline),
            self.waiters.iter().filter_map(|w| w.deadline).min(),
            self.manager.as_ref().and_then(|m| m.watchdog_at),
            self.sweep_at,
        ];
        others.into_iter().flatten().min()
    }

    // ---- events -------------------------------------------------------

    fn on_signal(&mut self, sig: i32, now: Instant) {
        let main_pid = self.main.as_ref().and_then(|m| m.pid);
        // SIGRTMIN+3 as glibc numbers it: systemd's halt, the STOPSIGNAL of
        // images built for systemd (SPEC §3), an orderly shutdown as TERM.
        const SYSTEMD_HALT: i32 = 37;
        let stop = matches!(sig, libc::SIGTERM | libc::SIGINT | SYSTEMD_HALT);
        match (sig, main_pid) {
            (libc::SIGCHLD, _) => {} // reaped after every wakeup
            (_, Some(pid)) => {
                // With a main command every signal goes to it (as tini);
                // TERM/INT stop the services once it has exited.
                log::debug!("forwarding {} to the main command", signal_name(sig));
                if self.opts.group {
                    self.pids.signal_group(pid, sig);
                } else {
                    self.pids.signal(pid, sig);
                }
                if stop {
                    self.shutdown(now);
                }
            }
            (_, None) if stop => {
                log::info!("got {}, stopping", signal_name(sig));
                self.shutdown(now);
            }
            (libc::SIGQUIT, None) if self.main.is_none() => self.quit(now),
            (libc::SIGHUP, None) if self.main.is_none() => self.reload(now),
            (_, None) => {
                if self.main.is_some() {
                    return; // main command gone: we are on the way down
                }
                for s in &self.svcs {
                    if let Some(pid) = s.run_pid {
                        self.pids.signal(pid, sig);
                    }
                }
            }
        }
    }

    fn fire_deadlines(&mut self, now: Instant) {
        self.manager_watchdog(now);
        for i in self.due(now) {
            self.mark(i);
            if self.svcs[i].sm.deadline().is_some_and(|d| d <= now) {
                self.feed(i, Event::Timer, now);
            }
            self.fire_probes(i, now);
            self.fire_reload_timeout(i, now);
        }
        if let Some(m) = &mut self.main {
            if let (Some(pid), Some(t)) = (m.pid, m.kill_at) {
                if t <= now {
                    self.pids.signal_group(pid, libc::SIGKILL);
                    m.kill_at = None;
                }
            }
        }
        for scripts in [&mut self.init, &mut self.finish] {
            if let (Some(pid), Some(t)) = (scripts.pid, scripts.kill_at) {
                if t <= now {
                    log::warn!(
                        "{}: still running after the grace, killing it",
                        scripts.list[scripts.next - 1].display()
                    );
                    self.pids.signal_group(pid, libc::SIGKILL);
                    scripts.kill_at = None;
                }
            }
        }
        if self.drain_kill_at.is_some_and(|t| t <= now) {
            log::warn!("processes left after the grace, sending SIGKILL");
            sys::kill_descendants(libc::SIGKILL);
            self.drain_kill_at = None;
        }
    }

    /// Steps service `i` and carries out its actions.
    fn feed(&mut self, i: usize, event: Event, now: Instant) {
        self.mark(i);
        let restarts = self.svcs[i].sm.restarts;
        let mut queue = vec![event];
        while let Some(ev) = queue.pop() {
            for action in self.svcs[i].sm.step(ev, now) {
                if let Some(next) = self.act(i, action, now) {
                    queue.push(next);
                }
            }
        }
        // The backoff's timer started it again: an automatic restart
        // (`Restart=`), which systemd carries to the units that require
        // this one (service.c: service_enter_restart, a start job in
        // JOB_RESTART_DEPENDENCIES mode).
        if event == Event::Timer && self.svcs[i].sm.restarts > restarts {
            let name = self.svcs[i].spec.name.clone();
            self.follow(&[name], true, now);
        }
    }

    /// The services that follow the stop or restart of `names`: units
    /// whose `PartOf=`, `Requires=` or `BindsTo=` names one of them, and in
    /// turn those that follow these. Each running one is stopped; for a
    /// restart it is also held, to start again once its `after` services
    /// are ready (the restarted one among them when it has `After=` it).
    /// As systemd propagates stop and restart jobs (its PROPAGATE_STOP and
    /// PROPAGATE_RESTART atoms of RequiredBy=, BoundBy=, ConsistsOf=), for
    /// `tend ctl down`/`restart` and for an automatic restart alike.
    fn follow(&mut self, names: &[String], restart: bool, now: Instant) {
        let mut seen: Vec<usize> = (0..self.svcs.len())
            .filter(|&j| names.contains(&self.svcs[j].spec.name))
            .collect();
        let mut names = names.to_vec();
        while let Some(name) = names.pop() {
            let followers: Vec<usize> = (0..self.svcs.len())
                .filter(|&j| {
                    let s = &self.svcs[j];
                    let rules = &s.sm.policy.unit;
                    !seen.contains(&j)
                        && !s.removed
                        && (rules.requires.contains(&name) || rules.part_of.contains(&name))
                })
                .collect();
            for j in followers {
                seen.push(j);
                let s = &mut self.svcs[j];
                names.push(s.spec.name.clone());
                if !s.sm.want_up && !s.order.held {
                    continue; // not running: a restart leaves it so
                }
                log::info!(
                    "{}: {} with {name}",
                    s.spec.name,
                    if restart { "restarting" } else { "stopping" }
                );
                s.order.held = restart;
                s.sockets.listening = false;
                self.feed(j, Event::Stop, now);
            }
        }
    }

    /// Carries out one action; an event to feed back when it failed at once.
    fn act(&mut self, i: usize, action: Action, now: Instant) -> Option<Event> {
        let s = &mut self.svcs[i];
        match action {
            Action::SpawnRun => match self.spawn_run(i, now) {
                Ok(child) => {
                    let s = &self.svcs[i];
                    let what = format!(
                        "{}: cannot run {}",
                        s.spec.name,
                        s.spec.argv[0].to_string_lossy()
                    );
                    self.track(child, Owner::Run(i), what);
                    None
                }
                Err(e) => {
                    let s = &self.svcs[i];
                    if e.kind() == std::io::ErrorKind::Other {
                        log::error!("{e}"); // says itself what failed
                    } else {
                        log::error!(
                            "{}: cannot run {}: {e}",
                            s.spec.name,
                            s.spec.argv[0].to_string_lossy()
                        );
                    }
                    Some(Event::RunExited(Exit::exec_failure(&e)))
                }
            },
            Action::SpawnFinish(exit) => {
                let mut argv = s.spec.finish.clone()?;
                let path = PathBuf::from(argv.first()?);
                let (code, sig) = exit.finish_args();
                // The run process's pid is its process group id (setsid).
                let pgid = s.last_pid;
                argv.extend([
                    code.to_string().into(),
                    sig.to_string().into(),
                    s.spec.name.clone().into(),
                    pgid.to_string().into(),
                ]);
                let mut spawn = sys::Spawn::new(&argv, &self.mask);
                spawn.cwd = Some(s.spec.cwd());
                spawn.env = &s.spec.env;
                spawn.user = s.spec.user.as_deref().map(svc::creds);
                spawn.limits = s.spec.limits();
                // finish writes where run writes (prefixed, or to the logger).
                spawn.stdio = [None, s.pipes.out_w(), s.pipes.err_w()];
                match sys::spawn(&spawn) {
                    Ok(child) => {
                        s.finish_pid = Some(child.pid);
                        let what = format!("{}: cannot run {}", s.spec.name, path.display());
                        self.track(child, Owner::Finish(i), what);
                        None
                    }
                    Err(e) => {
                        log::error!("{}: cannot run {}: {e}", s.spec.name, path.display());
                        Some(Event::FinishExited(Exit::exec_failure(&e)))
                    }
                }
            }
            Action::Signal(sig) => {
                // A stop command (ExecStop=) that outlived the grace too.
                if let Some(stop) = s.stop_pid.filter(|_| sig == libc::SIGKILL) {
                    self.pids.signal_group(stop, sig);
                }
                // A reload still running stops with the service (systemd
                // stops a unit's control process first), else it outlives
                // it in its own session.
                if let Some(reload) = s.reload_pid {
                    self.pids.signal_group(reload, sig);
                }
                if let Some(pid) = s.run_pid {
                    if sig == libc::SIGKILL && !self.quit {
                        log::warn!(
                            "{}[{pid}]: still running after its grace, SIGKILL",
                            s.spec.name
                        );
                        if self.phase != Phase::Running {
                            self.killed.push(s.spec.name.clone());
                        }
                    }
                    self.pids.signal_pgid(pid, s.group(), sig);
                    // A daemon at the grace: it, and all in its session.
                    if sig == libc::SIGKILL && s.sm.adopted {
                        self.pids.signal(pid, sig);
                        if let Some((_, sid)) = sys::ids(pid) {
                            sys::kill_session(sid, sig);
                        }
                    }
                }
                None
            }
            Action::SignalMain(sig) => self.signal_main(i, sig),
            Action::KillFinish => {
                if let Some(pid) = s.finish_pid {
                    log::warn!("{}: finish overran its timeout, SIGKILL", s.spec.name);
                    self.pids.signal_group(pid, libc::SIGKILL);
                }
                None
            }
            Action::GaveUp => {
                match s.sm.policy.start_limit.filter(|_| s.sm.start_limited) {
                    Some((n, window)) => log::error!(
                        "{}: {n} starts within {}ms (start-limit), failed",
                        s.spec.name,
                        window.as_millis()
                    ),
                    None => log::error!("{}: not restarting", s.spec.name),
                }
                if s.spec.critical {
                    // Its own status (SPEC §4), so that `docker run` and
                    // Kubernetes see why the container ended; a run that
                    // exited 0 (its finish said 125) still reads as a failure.
                    let code = match s.sm.last_exit.map_or(1, Exit::shell_code) {
                        0 => 1,
                        c => c,
                    };
                    log::error!(
                        "{}: critical service failed, shutting down with status {code}",
                        s.spec.name
                    );
                    self.critical_exit = Some(code);
                    self.stop_everything(now);
                }
                None
            }
            Action::ReadPidFile => self.read_pid_file(i),
            Action::FailedStart => {
                self.failed_start(i);
                None
            }
            Action::SpawnStartPost => self.spawn_start_post(i),
            Action::SpawnStopCommand => {
                (!self.spawn_helper(i, true)).then_some(Event::StopCommandExited)
            }
            Action::Completed => {
                log::info!("{}: done", s.spec.name);
                if s.spec.critical {
                    log::info!("{}: critical service is done, shutting down", s.spec.name);
                    self.stop_everything(now);
                }
                None
            }
        }
    }
}
