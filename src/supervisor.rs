//! The event loop, and the only place that carries out actions. One turn:
//! wait (poll on the signalfd, timeout = nearest deadline), handle the
//! signals read, reap every exited child, fire due deadlines, advance the
//! run phase. Idle, it sleeps in poll with no timeout: zero wakeups.
//!
//! The life of each service is `state::Service`; this module maps pids to
//! services, spawns and signals, and sequences the phases of tend's own
//! life: init.d, services (each after the ones it names in `after` are
//! ready) and main command (once services are ready), shutdown (main
//! command, then services in reverse `after` order), finish.d, draining
//! leftover processes, exit. Readiness mechanics are in `ready`, output
//! pipes in `logs`, control verbs in `verbs`.

use crate::config::{signal_name, Options};
use crate::control::{Control, Incoming};
use crate::logs::{Output, Pipe};
use crate::proto::{self, Goal, Request};
use crate::ready::{self, NotifySocket};
use crate::scan::Readiness;
use crate::scan::{self, ServiceSpec};
use crate::state::{Action, Event, Exit, Service, State};
use crate::sys;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::SignalFd;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod verbs;

struct Svc {
    spec: ServiceSpec,
    sm: Service,
    run_pid: Option<i32>,
    finish_pid: Option<i32>,
    /// The pid of the last `run`, which is also its process group id.
    last_pid: i32,
    /// Gone from the services dir at a reload: dropped once down.
    removed: bool,
    /// `NAME | `, or empty when output is not prefixed.
    prefix: String,
    /// stdout and stderr pipes, kept for the service's whole life: to
    /// tend (prefixing) or, for stdout, to the `log/` service.
    out: Option<Pipe>,
    err: Option<Pipe>,
    /// Indexes of the services named in `after` (and of its logger).
    deps: Vec<usize>,
    /// For a logger: the index of the service it reads.
    feeds: Option<usize>,
    /// Has a logger reading its stdout.
    has_log: bool,
    /// Should start, but waits for its `after` services to be ready.
    held: bool,
    /// Shutdown has sent it `Event::Stop`.
    stop_sent: bool,
    /// Readiness: the notification-fd pipe of the current run.
    nfd: Option<OwnedFd>,
    notify: Option<NotifySocket>,
    /// Next tcp/command check, its interval, the connect in progress, and
    /// the check command running.
    probe_at: Option<Instant>,
    probe_every: Duration,
    tcp: Option<OwnedFd>,
    check_pid: Option<i32>,
    watchdog_at: Option<Instant>,
    /// The `listen` sockets, bound once and kept across restarts, so that
    /// connections wait in the backlog while the service restarts.
    sockets: Vec<OwnedFd>,
    /// `on-demand`: bound and waiting for the first connection.
    listening: bool,
}

#[derive(Clone, Copy)]
enum Owner {
    Run(usize),
    Finish(usize),
    Main,
    Script,
    /// A `ready = { command = ... }` check of service i.
    Check(usize),
}

/// What a pollfd is for.
#[derive(Clone, Copy)]
enum Token {
    Signals,
    Control,
    Out(usize),
    Err(usize),
    NotifyFd(usize),
    Notify(usize),
    Tcp(usize),
    /// A connection on a socket of an on-demand service that waits for one.
    Listen(usize),
    Stdout,
    Stderr,
}

/// A one-shot script of init.d or finish.d.
struct Scripts {
    list: Vec<PathBuf>,
    next: usize,
    pid: Option<i32>,
    kill_at: Option<Instant>,
}

impl Scripts {
    fn load(dir: &Path) -> Scripts {
        let mut list = Vec::new();
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let name = e.file_name();
                    if name.to_string_lossy().starts_with('.') || !e.path().is_file() {
                        continue;
                    }
                    list.push(e.path());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::error!("{}: {e}", dir.display()),
        }
        list.sort();
        Scripts {
            list,
            next: 0,
            pid: None,
            kill_at: None,
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Phase {
    Init,
    Running,
    /// Waiting for the main command to exit before stopping services.
    StoppingMain,
    StoppingServices,
    FinishD,
    /// Every service is down: TERM, then KILL, to what is left.
    Draining,
    Done,
}

struct MainCmd {
    argv: Vec<String>,
    /// Not started yet: start when services are ready, or at this time.
    start_by: Option<Instant>,
    pid: Option<i32>,
    exit: Option<Exit>,
    kill_at: Option<Instant>,
}

pub struct Supervisor {
    opts: Options,
    mask: SigSet,
    sigfd: SignalFd,
    svcs: Vec<Svc>,
    pids: HashMap<i32, Owner>,
    main: Option<MainCmd>,
    phase: Phase,
    init: Scripts,
    finish: Scripts,
    init_failed: bool,
    critical_failed: bool,
    /// QUIT without a main command: SIGKILL all, exit 131.
    quit: bool,
    /// Services that had to be SIGKILLed during shutdown.
    killed: Vec<String>,
    drain_kill_at: Option<Instant>,
    drain_started: bool,
    children_left: bool,
    control: Option<Control>,
    waiters: Vec<Waiter>,
    stdout: Output,
    stderr: Output,
    prefixing: bool,
}

/// A `tend ctl wait` in progress.
struct Waiter {
    conn: u64,
    goal: Goal,
    names: Vec<String>,
    deadline: Option<Instant>,
}

impl Supervisor {
    pub fn new(opts: Options, specs: Vec<ServiceSpec>, mask: SigSet, sigfd: SignalFd) -> Self {
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
        let mut svcs: Vec<Svc> = specs.into_iter().map(|s| Svc::new(s, prefixing)).collect();
        link(&mut svcs);
        Supervisor {
            init: Scripts::load(&opts.init_dir),
            finish: Scripts::load(&opts.finish_dir),
            opts,
            mask,
            sigfd,
            svcs,
            pids: HashMap::new(),
            main,
            phase: Phase::Init,
            init_failed: false,
            critical_failed: false,
            quit: false,
            killed: Vec::new(),
            drain_kill_at: None,
            drain_started: false,
            children_left: true,
            control: None,
            waiters: Vec::new(),
            stdout: Output::new(1),
            stderr: Output::new(2),
            prefixing,
        }
    }

    /// Runs until everything is down; returns tend's exit code.
    pub fn run(mut self) -> i32 {
        match Control::bind(&self.opts.control) {
            Ok(c) => self.control = Some(c),
            Err(e) => log::warn!("control socket: {e}; tend ctl will not work"),
        }
        crate::log::queue(true);
        let mut fds = Vec::new();
        let mut tokens = Vec::new();
        loop {
            let now = Instant::now();
            self.advance(now);
            self.check_waiters(now);
            if self.phase == Phase::Done {
                break;
            }
            self.stderr.push_own(crate::log::take());
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            self.pollfds(&mut fds, &mut tokens);
            sys::poll(&mut fds, timeout);
            let now = Instant::now();
            for sig in sys::read_signals(&mut self.sigfd) {
                self.on_signal(sig, now);
            }
            self.reap(now);
            self.on_events(&fds, &tokens, now);
            self.fire_deadlines(Instant::now());
        }
        let code = self.exit_code();
        crate::log::queue(false);
        self.flush_output();
        code
    }

    /// The fds to wait on this turn, each with what it is for.
    fn pollfds(&self, fds: &mut Vec<libc::pollfd>, tokens: &mut Vec<Token>) {
        fds.clear();
        tokens.clear();
        let mut add = |fd: i32, events: libc::c_short, t: Token| {
            fds.push(sys::pollfd(fd, events));
            tokens.push(t);
        };
        add(sys::raw(&self.sigfd), libc::POLLIN, Token::Signals);
        for (i, s) in self.svcs.iter().enumerate() {
            // A logger reads `out` itself; tend reads only prefixed pipes,
            // and only while their output queue has room (back-pressure).
            if let Some(p) = s.out.as_ref().filter(|_| s.reads_out()) {
                if !self.stdout.full() {
                    add(p.r.as_raw_fd(), libc::POLLIN, Token::Out(i));
                }
            }
            if let Some(p) = &s.err {
                if !self.stderr.full() {
                    add(p.r.as_raw_fd(), libc::POLLIN, Token::Err(i));
                }
            }
            if let Some(fd) = &s.nfd {
                add(fd.as_raw_fd(), libc::POLLIN, Token::NotifyFd(i));
            }
            if let Some(n) = &s.notify {
                add(n.fd(), libc::POLLIN, Token::Notify(i));
            }
            if let Some(fd) = &s.tcp {
                add(fd.as_raw_fd(), libc::POLLOUT, Token::Tcp(i));
            }
            if s.listening {
                for fd in &s.sockets {
                    add(fd.as_raw_fd(), libc::POLLIN, Token::Listen(i));
                }
            }
        }
        if !self.stdout.queue.is_empty() {
            add(1, libc::POLLOUT, Token::Stdout);
        }
        if !self.stderr.queue.is_empty() {
            add(2, libc::POLLOUT, Token::Stderr);
        }
        if let Some(c) = &self.control {
            let start = fds.len();
            c.pollfds(fds);
            tokens.resize(fds.len(), Token::Control);
            debug_assert!(tokens[start..].iter().all(|t| matches!(t, Token::Control)));
        }
    }

    fn on_events(&mut self, fds: &[libc::pollfd], tokens: &[Token], now: Instant) {
        let mut control_revents = Vec::new();
        for (p, &t) in fds.iter().zip(tokens) {
            if let Token::Control = t {
                control_revents.push(p.revents);
                continue;
            }
            if p.revents == 0 {
                continue;
            }
            match t {
                Token::Signals | Token::Control => {}
                Token::Out(i) => {
                    let s = &mut self.svcs[i];
                    if let Some(pipe) = &mut s.out {
                        pipe.drain_into(&s.prefix, &mut self.stdout);
                    }
                }
                Token::Err(i) => {
                    let s = &mut self.svcs[i];
                    if let Some(pipe) = &mut s.err {
                        pipe.drain_into(&s.prefix, &mut self.stderr);
                    }
                }
                Token::NotifyFd(i) => self.on_notification_fd(i, now),
                Token::Notify(i) => self.on_notify(i, now),
                Token::Tcp(i) => self.on_tcp(i, now),
                Token::Listen(i) => {
                    if std::mem::take(&mut self.svcs[i].listening) {
                        log::info!("{}: first connection, starting", self.svcs[i].spec.name);
                        self.feed(i, Event::Start, now);
                    }
                }
                Token::Stdout => self.stdout.write_some(),
                Token::Stderr => self.stderr.write_some(),
            }
        }
        if let Some(c) = &mut self.control {
            let (incoming, gone) = c.service(&control_revents, now);
            self.waiters.retain(|w| !gone.contains(&w.conn));
            for req in incoming {
                self.answer(req, now);
            }
        }
    }

    /// `run` of service i exited: what it wrote is in its pipes; take it,
    /// and end an unfinished last line there rather than glue it to the
    /// next run's first line.
    fn end_of_run_output(&mut self, i: usize) {
        let s = &mut self.svcs[i];
        if s.reads_out() {
            if let Some(p) = &mut s.out {
                while p.readable() && p.drain_into(&s.prefix, &mut self.stdout) {}
                p.flush_partial(&s.prefix, &mut self.stdout);
            }
        }
        if let Some(p) = &mut s.err {
            while p.readable() && p.drain_into(&s.prefix, &mut self.stderr) {}
            p.flush_partial(&s.prefix, &mut self.stderr);
        }
    }

    /// On the way out: read what services left in their pipes, then write
    /// everything queued, blocking (nothing else is left to do).
    fn flush_output(&mut self) {
        for i in 0..self.svcs.len() {
            self.end_of_run_output(i);
        }
        self.stderr.push_own(crate::log::take());
        self.stdout.flush_blocking();
        self.stderr.flush_blocking();
    }

    fn exit_code(&self) -> i32 {
        if self.quit {
            return 128 + libc::SIGQUIT;
        }
        if self.critical_failed || self.init_failed {
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

    fn next_deadline(&self) -> Option<Instant> {
        let svcs = self
            .svcs
            .iter()
            .flat_map(|s| [s.sm.deadline(), s.probe_at, s.watchdog_at]);
        let others = [
            self.main.as_ref().and_then(|m| m.kill_at),
            self.main
                .as_ref()
                .and_then(|m| m.start_by.filter(|_| m.pid.is_none())),
            self.init.kill_at,
            self.finish.kill_at,
            self.drain_kill_at,
            self.control.as_ref().and_then(Control::deadline),
            self.waiters.iter().filter_map(|w| w.deadline).min(),
        ];
        svcs.chain(others).flatten().min()
    }

    // ---- phases -------------------------------------------------------

    fn advance(&mut self, now: Instant) {
        loop {
            let before = self.phase;
            match self.phase {
                Phase::Init => {
                    if self.init.pid.is_some() {
                        return;
                    }
                    if self.init_failed {
                        self.phase = Phase::FinishD;
                    } else if self.init.next < self.init.list.len() {
                        self.run_script(true, now);
                    } else {
                        self.start_all(now);
                        self.phase = Phase::Running;
                    }
                }
                Phase::Running => {
                    self.release_held(now);
                    self.maybe_start_main(now);
                    return;
                }
                Phase::StoppingMain => {
                    if self.main.as_ref().is_some_and(|m| m.pid.is_some()) {
                        return;
                    }
                    self.phase = Phase::StoppingServices;
                }
                Phase::StoppingServices => {
                    self.stop_in_order(now);
                    if self.svcs.iter().any(|s| !s.stop_sent || s.sm.has_process()) {
                        return;
                    }
                    self.phase = Phase::FinishD;
                }
                Phase::FinishD => {
                    if self.finish.pid.is_some() {
                        return;
                    }
                    if self.finish.next < self.finish.list.len() {
                        self.run_script(false, now);
                    } else {
                        self.phase = Phase::Draining;
                    }
                }
                Phase::Draining => {
                    if !self.children_left {
                        self.phase = Phase::Done;
                    } else if !self.drain_started {
                        self.drain_started = true;
                        log::debug!("sending SIGTERM to leftover processes");
                        sys::kill_descendants(libc::SIGTERM);
                        sys::kill_descendants(libc::SIGCONT);
                        self.drain_kill_at = Some(now + self.opts.grace);
                        // Reap at once: what was already dead is gone now.
                        self.reap(now);
                        continue;
                    } else {
                        return;
                    }
                }
                Phase::Done => return,
            }
            if self.phase == before && self.phase != Phase::Init && self.phase != Phase::FinishD {
                return;
            }
        }
    }

    fn start_all(&mut self, now: Instant) {
        for s in &mut self.svcs {
            s.held = !s.spec.down;
        }
        self.release_held(now);
        if let Some(m) = &mut self.main {
            m.start_by = Some(now + self.opts.ready_timeout);
        }
    }

    /// Starts the services that wait only for services now ready.
    fn release_held(&mut self, now: Instant) {
        // A start can make a service ready at once (no readiness signal),
        // which releases its dependents: repeat until nothing changes.
        loop {
            let ready: Vec<usize> = (0..self.svcs.len())
                .filter(|&i| {
                    let s = &self.svcs[i];
                    s.held && s.deps.iter().all(|&d| self.svcs[d].is_ready())
                })
                .collect();
            if ready.is_empty() {
                return;
            }
            for i in ready {
                self.svcs[i].held = false;
                if self.svcs[i].spec.on_demand {
                    // Bound now, started on the first connection.
                    match self.svcs[i].ensure_sockets() {
                        Ok(()) => {
                            self.svcs[i].listening = true;
                            continue;
                        }
                        Err(e) => log::error!("{e}"), // started now, to retry
                    }
                }
                self.feed(i, Event::Start, now);
            }
        }
    }

    /// Starts the main command once every service that should run is
    /// ready, or at `--ready-timeout` with a warning naming the others.
    fn maybe_start_main(&mut self, now: Instant) {
        let Some(by) = self.main.as_ref().and_then(|m| m.start_by) else {
            return;
        };
        let waiting: Vec<&str> = self
            .svcs
            .iter()
            .filter(|s| (s.held || s.sm.want_up) && !s.removed && !s.is_ready())
            .map(|s| s.spec.name.as_str())
            .collect();
        if !waiting.is_empty() {
            if now < by {
                return;
            }
            log::warn!(
                "starting the main command although not ready after {}ms: {}",
                self.opts.ready_timeout.as_millis(),
                waiting.join(", ")
            );
        }
        let Some(m) = &mut self.main else { return };
        m.start_by = None;
        let mut spawn = sys::Spawn::new(&m.argv, &self.mask);
        spawn.main = true;
        match sys::spawn(&spawn) {
            Ok(child) => {
                let pid = child.pid;
                log::debug!("{}[{pid}]: started main command", m.argv[0]);
                m.pid = Some(pid);
                let what = format!("cannot run {}", m.argv[0]);
                self.track(child, Owner::Main, what);
            }
            Err(e) => {
                log::error!("cannot run {}: {e}", m.argv[0]);
                m.exit = Some(sys::exec_failure(&e));
                self.shutdown(now);
            }
        }
    }

    /// Shutdown order: a service is stopped once every service that runs
    /// after it is down. A logger is stopped last, by closing its input: it
    /// exits at end of input, so it writes every line its service wrote.
    fn stop_in_order(&mut self, now: Instant) {
        loop {
            let stoppable: Vec<usize> = (0..self.svcs.len())
                .filter(|&i| {
                    !self.svcs[i].stop_sent
                        && self
                            .svcs
                            .iter()
                            .all(|o| !o.deps.contains(&i) || (o.stop_sent && !o.sm.has_process()))
                })
                .collect();
            if stoppable.is_empty() {
                return;
            }
            for i in stoppable {
                self.svcs[i].stop_sent = true;
                self.svcs[i].held = false;
                self.svcs[i].listening = false;
                if let Some(p) = self.svcs[i].feeds {
                    if let Some(pipe) = &mut self.svcs[p].out {
                        pipe.w = None;
                    }
                    self.svcs[i].sm.policy.stop_signal = 0;
                }
                self.feed(i, Event::Stop, now);
            }
        }
    }

    /// Starts the next init.d (`init`) or finish.d script.
    fn run_script(&mut self, init: bool, now: Instant) {
        let grace = self.opts.grace;
        let scripts = if init {
            &mut self.init
        } else {
            &mut self.finish
        };
        let path = scripts.list[scripts.next].clone();
        scripts.next += 1;
        let argv = [path.to_string_lossy().into_owned()];
        match sys::spawn(&sys::Spawn::new(&argv, &self.mask)) {
            Ok(child) => {
                log::debug!("{}[{}]: started", path.display(), child.pid);
                scripts.pid = Some(child.pid);
                // finish.d runs on the way down: each script gets the grace.
                scripts.kill_at = (!init).then(|| now + grace);
                self.track(
                    child,
                    Owner::Script,
                    format!("cannot run {}", path.display()),
                );
            }
            Err(e) => {
                log::error!("cannot run {}: {e}", path.display());
                if init {
                    self.init_failed = true;
                }
            }
        }
    }

    /// Begins an orderly shutdown (SPEC §3): main command first, then the
    /// services, then finish.d.
    fn shutdown(&mut self, now: Instant) {
        // A main command still waiting for readiness never starts now.
        if let Some(m) = &mut self.main {
            m.start_by = None;
        }
        match self.phase {
            Phase::Init => {
                // Stop the init sequence: no service starts.
                self.init.next = self.init.list.len();
                self.init_failed = true;
                if let Some(pid) = self.init.pid {
                    sys::kill(-pid, libc::SIGTERM);
                    self.init.kill_at = Some(now + self.opts.grace);
                }
            }
            Phase::Running => self.phase = Phase::StoppingMain,
            _ => {}
        }
    }

    // ---- events -------------------------------------------------------

    fn on_signal(&mut self, sig: i32, now: Instant) {
        let main_pid = self.main.as_ref().and_then(|m| m.pid);
        match (sig, main_pid) {
            (libc::SIGCHLD, _) => {} // reaped after every wakeup
            (_, Some(pid)) => {
                // With a main command every signal goes to it (as tini);
                // TERM/INT stop the services once it has exited.
                log::debug!("forwarding {} to the main command", signal_name(sig));
                sys::kill(if self.opts.group { -pid } else { pid }, sig);
                if sig == libc::SIGTERM || sig == libc::SIGINT {
                    self.shutdown(now);
                }
            }
            (libc::SIGTERM | libc::SIGINT, None) => {
                log::info!("got {}, stopping", signal_name(sig));
                self.shutdown(now);
            }
            (libc::SIGQUIT, None) if self.main.is_none() => {
                log::info!("got SIGQUIT, killing everything");
                self.quit = true;
                for s in &self.svcs {
                    if let Some(pid) = s.run_pid {
                        sys::kill(-pid, libc::SIGKILL);
                    }
                }
                sys::kill_descendants(libc::SIGKILL);
                self.phase = Phase::Draining;
                self.drain_started = true;
                self.drain_kill_at = None;
            }
            (libc::SIGHUP, None) if self.main.is_none() => self.reload(now),
            (_, None) => {
                if self.main.is_some() {
                    return; // main command gone: we are on the way down
                }
                for s in &self.svcs {
                    if let Some(pid) = s.run_pid {
                        sys::kill(pid, sig);
                    }
                }
            }
        }
    }

    fn reap(&mut self, now: Instant) {
        let (exits, left) = sys::reap();
        self.children_left = left;
        for (pid, exit) in exits {
            match self.pids.remove(&pid) {
                Some(Owner::Run(i)) => {
                    self.svcs[i].run_pid = None;
                    self.svcs[i].end_probes();
                    self.end_of_run_output(i);
                    self.feed(i, Event::RunExited(exit), now);
                    let s = &self.svcs[i];
                    log::info!("{}[{pid}]: {exit}{}", s.spec.name, s.next_step(now));
                }
                Some(Owner::Finish(i)) => {
                    self.svcs[i].finish_pid = None;
                    self.feed(i, Event::FinishExited(exit), now);
                    let s = &self.svcs[i];
                    if exit != Exit::Code(0) || !s.next_step(now).is_empty() {
                        log::info!("{}: finish {exit}{}", s.spec.name, s.next_step(now));
                    }
                }
                Some(Owner::Main) => {
                    if let Some(m) = &mut self.main {
                        log::info!("main command {}[{pid}]: {exit}", m.argv[0]);
                        m.pid = None;
                        m.exit = Some(exit);
                        m.kill_at = None;
                    }
                    self.shutdown(now);
                }
                Some(Owner::Script) => self.script_exited(pid, exit),
                Some(Owner::Check(i)) => {
                    let s = &mut self.svcs[i];
                    s.check_pid = None;
                    if s.run_pid.is_none() {
                        continue;
                    }
                    if exit.success() {
                        s.probe_at = None;
                        self.became_ready(i, now);
                    } else {
                        s.retry_probe(now);
                    }
                }
                None => {
                    if self.opts.warn_zombies {
                        log::warn!("reaped zombie process {pid}");
                    }
                }
            }
        }
    }

    fn script_exited(&mut self, pid: i32, exit: Exit) {
        for (init, scripts) in [(true, &mut self.init), (false, &mut self.finish)] {
            if scripts.pid != Some(pid) {
                continue;
            }
            scripts.pid = None;
            scripts.kill_at = None;
            let path = scripts.list[scripts.next - 1].display();
            if exit.success() {
                log::debug!("{path}: done");
            } else if init {
                log::error!("{path}: {exit}; not starting services");
                self.init_failed = true;
            } else {
                log::warn!("{path}: {exit}");
            }
        }
    }

    fn fire_deadlines(&mut self, now: Instant) {
        for i in 0..self.svcs.len() {
            if self.svcs[i].sm.deadline().is_some_and(|d| d <= now) {
                self.feed(i, Event::Timer, now);
            }
            let s = &mut self.svcs[i];
            if s.run_pid.is_some() && s.probe_at.is_some_and(|t| t <= now) {
                // Due: a check to start, or one that overran PROBE_TIMEOUT.
                if let Some(pid) = s.check_pid {
                    log::warn!(
                        "{}: readiness check still running after {}ms, killing it",
                        s.spec.name,
                        ready::PROBE_TIMEOUT.as_millis()
                    );
                    sys::kill(-pid, libc::SIGKILL);
                    s.probe_at = None; // its exit schedules the next try
                } else if s.tcp.take().is_some() {
                    s.retry_probe(now);
                } else {
                    self.probe(i, now);
                }
            }
            if self.svcs[i].watchdog_at.is_some_and(|t| t <= now) {
                self.svcs[i].watchdog_at = None;
                log::warn!(
                    "{}: no WATCHDOG=1 within {}ms, restarting",
                    self.svcs[i].spec.name,
                    self.svcs[i].spec.watchdog.unwrap_or_default().as_millis()
                );
                self.feed(i, Event::Restart, now);
            }
        }
        if let Some(m) = &mut self.main {
            if let (Some(pid), Some(t)) = (m.pid, m.kill_at) {
                if t <= now {
                    sys::kill(-pid, libc::SIGKILL);
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
                    sys::kill(-pid, libc::SIGKILL);
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
        let mut queue = vec![event];
        while let Some(ev) = queue.pop() {
            for action in self.svcs[i].sm.step(ev, now) {
                if let Some(next) = self.act(i, action, now) {
                    queue.push(next);
                }
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
                    let what = format!("{}: cannot run {}", s.spec.name, s.spec.argv[0]);
                    self.track(child, Owner::Run(i), what);
                    None
                }
                Err(e) => {
                    let s = &self.svcs[i];
                    if e.kind() == std::io::ErrorKind::Other {
                        log::error!("{e}"); // says itself what failed
                    } else {
                        log::error!("{}: cannot run {}: {e}", s.spec.name, s.spec.argv[0]);
                    }
                    Some(Event::RunExited(sys::exec_failure(&e)))
                }
            },
            Action::SpawnFinish(exit) => {
                let path = s.spec.finish.clone()?;
                let (code, sig) = exit.finish_args();
                // The run process's pid is its process group id (setsid).
                let pgid = s.last_pid;
                let argv = [
                    path.to_string_lossy().into_owned(),
                    code.to_string(),
                    sig.to_string(),
                    s.spec.name.clone(),
                    pgid.to_string(),
                ];
                let mut spawn = sys::Spawn::new(&argv, &self.mask);
                spawn.cwd = Some(&s.spec.dir);
                spawn.env = &s.spec.env;
                spawn.user = s.spec.user.as_ref();
                // finish writes where run writes (prefixed, or to the logger).
                spawn.stdio = [None, s.out_w(), s.err_w()];
                match sys::spawn(&spawn) {
                    Ok(child) => {
                        s.finish_pid = Some(child.pid);
                        let what = format!("{}: cannot run {}", s.spec.name, path.display());
                        self.track(child, Owner::Finish(i), what);
                        None
                    }
                    Err(e) => {
                        log::error!("{}: cannot run {}: {e}", s.spec.name, path.display());
                        Some(Event::FinishExited(sys::exec_failure(&e)))
                    }
                }
            }
            Action::Signal(sig) => {
                if let Some(pid) = s.run_pid {
                    if sig == libc::SIGKILL {
                        log::warn!(
                            "{}[{pid}]: still running after its grace, SIGKILL",
                            s.spec.name
                        );
                        if self.phase != Phase::Running {
                            self.killed.push(s.spec.name.clone());
                        }
                    }
                    sys::kill(-pid, sig);
                }
                None
            }
            Action::KillFinish => {
                if let Some(pid) = s.finish_pid {
                    log::warn!("{}: finish overran its timeout, SIGKILL", s.spec.name);
                    sys::kill(-pid, libc::SIGKILL);
                }
                None
            }
            Action::GaveUp => {
                log::error!("{}: not restarting", s.spec.name);
                if s.spec.critical {
                    log::error!("{}: critical service failed, shutting down", s.spec.name);
                    self.critical_failed = true;
                    self.stop_everything(now);
                }
                None
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

    /// A shutdown tend decides on itself: the main command, if running, is
    /// sent SIGTERM and killed at the grace.
    fn stop_everything(&mut self, now: Instant) {
        if let Some(m) = &mut self.main {
            if let Some(pid) = m.pid {
                let target = if self.opts.group { -pid } else { pid };
                sys::kill(target, libc::SIGTERM);
                m.kill_at = Some(now + self.opts.grace);
            }
        }
        self.shutdown(now);
    }

    /// SIGHUP / `reload`: rescan; start new services, stop removed ones,
    /// restart those whose files changed, leave the rest alone.
    fn reload(&mut self, now: Instant) {
        if self.phase != Phase::Running {
            return;
        }
        let (specs, errors) = match scan::scan(&self.opts.services, self.opts.grace) {
            Ok(r) => r,
            Err(e) => {
                log::error!("reload: {e}");
                return;
            }
        };
        for e in errors {
            log::error!("{e}");
        }
        log::info!("reloading {}", self.opts.services.display());
        for i in 0..self.svcs.len() {
            if !specs.iter().any(|n| n.name == self.svcs[i].spec.name) && !self.svcs[i].removed {
                log::info!("{}: removed, stopping", self.svcs[i].spec.name);
                self.svcs[i].removed = true;
                self.svcs[i].listening = false;
                self.svcs[i].sockets.clear(); // tend's copies: the ports are freed once it exits
                self.feed(i, Event::Stop, now);
            }
        }
        for spec in specs {
            match self.svcs.iter().position(|s| s.spec.name == spec.name) {
                // A `down` file only says whether to start at boot: adding
                // or removing it leaves a running service alone.
                Some(i) if self.svcs[i].spec.same_but_down(&spec) && !self.svcs[i].removed => {
                    self.svcs[i].spec.down = spec.down;
                }
                Some(i) => {
                    let s = &mut self.svcs[i];
                    let was_removed = std::mem::replace(&mut s.removed, false);
                    s.sm.policy = spec.policy();
                    if s.spec.listen != spec.listen {
                        s.sockets.clear();
                    }
                    s.spec = spec;
                    if s.sm.has_process() {
                        log::info!("{}: changed, restarting", s.spec.name);
                        self.feed(i, Event::Restart, now);
                    } else if was_removed || s.sm.want_up || s.listening {
                        s.listening = false;
                        s.held = !s.spec.down;
                    }
                }
                None => {
                    log::info!("{}: new, starting", spec.name);
                    let mut s = Svc::new(spec, self.prefixing);
                    s.held = !s.spec.down;
                    self.svcs.push(s);
                }
            }
        }
        link(&mut self.svcs);
        self.release_held(now);
    }
}

impl Supervisor {
    // ---- spawning and readiness ----------------------------------------

    /// Starts `run` of service i with its pipes and readiness channel.
    fn spawn_run(&mut self, i: usize, now: Instant) -> std::io::Result<sys::Child> {
        let control_dir = self
            .opts
            .control
            .parent()
            .unwrap_or(Path::new("/run/tend"))
            .to_path_buf();
        if let Some(p) = self.svcs[i].feeds {
            self.svcs[p].ensure_pipes()?;
        }
        let s = &mut self.svcs[i];
        s.ensure_pipes()?;
        s.ensure_sockets()?;
        let mut env = s.spec.env.clone();
        if !s.sockets.is_empty() {
            let names: Vec<&str> = s.spec.listen.iter().map(|l| l.name.as_str()).collect();
            env.push(("LISTEN_FDS".into(), Some(s.sockets.len().to_string())));
            env.push(("LISTEN_FDNAMES".into(), Some(names.join(":"))));
        }
        let mut nfd_w = None;
        match &s.spec.readiness {
            Readiness::None => {}
            Readiness::Fd(_) => {
                let (r, w) = sys::pipe(true)?;
                s.nfd = Some(r);
                nfd_w = Some(w);
            }
            Readiness::Notify => {
                if s.notify.is_none() {
                    let name = s.spec.name.replace('/', "_");
                    let path = control_dir.join("notify").join(format!("{name}.sock"));
                    let owner = s.spec.user.as_ref().map(|u| (u.uid, u.gid));
                    let bound = NotifySocket::bind(&path, &name, owner).map_err(|e| {
                        let msg = format!("{}: notify socket {}: {e}", s.spec.name, path.display());
                        std::io::Error::other(msg)
                    })?;
                    s.notify = Some(bound);
                }
                if let Some(n) = &s.notify {
                    env.push(("NOTIFY_SOCKET".into(), Some(n.address.clone())));
                }
                if let Some(w) = s.spec.watchdog {
                    env.push(("WATCHDOG_USEC".into(), Some(w.as_micros().to_string())));
                    s.watchdog_at = Some(now + w);
                }
            }
            Readiness::Tcp(_) | Readiness::Command(_) => {
                s.probe_at = Some(now);
                s.probe_every = ready::FIRST_RETRY;
            }
        }
        let feeds_from = s.feeds;
        let logger_in = feeds_from
            .and_then(|p| self.svcs[p].out.as_ref())
            .map(|p| p.r.as_raw_fd());
        let s = &self.svcs[i];
        let mut spawn = sys::Spawn::new(&s.spec.argv, &self.mask);
        spawn.cwd = Some(&s.spec.dir);
        spawn.env = &env;
        spawn.user = s.spec.user.as_ref();
        let listen_fds: Vec<i32> = s.sockets.iter().map(|f| f.as_raw_fd()).collect();
        spawn.listen_fds = &listen_fds;
        spawn.stdio = [
            logger_in,
            s.out
                .as_ref()
                .and_then(|p| p.w.as_ref())
                .map(|w| w.as_raw_fd()),
            s.err
                .as_ref()
                .and_then(|p| p.w.as_ref())
                .map(|w| w.as_raw_fd()),
        ];
        if let (Readiness::Fd(n), Some(w)) = (&s.spec.readiness, &nfd_w) {
            spawn.extra_fd = Some((w.as_raw_fd(), *n));
        }
        let child = sys::spawn(&spawn)?;
        let pid = child.pid;
        log::debug!("{}[{pid}]: started", s.spec.name);
        let s = &mut self.svcs[i];
        s.run_pid = Some(pid);
        s.last_pid = pid;
        Ok(child)
    }

    /// Remembers whose child this is; a failed exec (the child has exited
    /// 127 or 126 and will be reaped as usual) is logged with `what`.
    fn track(&mut self, child: sys::Child, owner: Owner, what: String) {
        if let Some(e) = &child.exec_err {
            log::error!("{what}: {e}");
        }
        self.pids.insert(child.pid, owner);
    }

    fn became_ready(&mut self, i: usize, now: Instant) {
        if self.svcs[i].sm.ready {
            return;
        }
        self.feed(i, Event::Ready, now);
        if self.svcs[i].sm.ready {
            log::info!("{}: ready", self.svcs[i].spec.name);
        }
    }

    fn on_notification_fd(&mut self, i: usize, now: Instant) {
        let Some(fd) = &self.svcs[i].nfd else { return };
        let mut buf = [0u8; 512];
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) if n > 0 && !ready::has_newline(&buf[..n]) => {}
            Err(nix::errno::Errno::EAGAIN) => {}
            Ok(n) => {
                // A newline: ready. End of file first: it never will be.
                self.svcs[i].nfd = None;
                if n > 0 {
                    self.became_ready(i, now);
                }
            }
            Err(_) => self.svcs[i].nfd = None,
        }
    }

    fn on_notify(&mut self, i: usize, now: Instant) {
        let Some(n) = &self.svcs[i].notify else {
            return;
        };
        for notice in n.read_all() {
            let s = &mut self.svcs[i];
            if s.run_pid.is_none() {
                continue;
            }
            if let Some(status) = &notice.status {
                log::debug!("{}: status: {status}", s.spec.name);
            }
            if notice.watchdog {
                if let Some(w) = s.spec.watchdog {
                    s.watchdog_at = Some(now + w);
                }
            }
            if notice.stopping {
                log::debug!("{}: stopping", s.spec.name);
            }
            if notice.ready {
                self.became_ready(i, now);
            }
        }
    }

    fn on_tcp(&mut self, i: usize, now: Instant) {
        let s = &mut self.svcs[i];
        let Some(fd) = s.tcp.take() else { return };
        if ready::tcp_connected(&fd) {
            s.probe_at = None;
            self.became_ready(i, now);
        } else {
            s.retry_probe(now);
        }
    }

    /// Runs one tcp or command readiness check of service i.
    fn probe(&mut self, i: usize, now: Instant) {
        let s = &mut self.svcs[i];
        match &s.spec.readiness {
            Readiness::Tcp(addr) => match ready::tcp_addr(addr).and_then(ready::tcp_start) {
                Some(fd) => {
                    s.tcp = Some(fd);
                    s.probe_at = Some(now + ready::PROBE_TIMEOUT);
                }
                None => s.retry_probe(now),
            },
            Readiness::Command(argv) => {
                let mut spawn = sys::Spawn::new(argv, &self.mask);
                spawn.cwd = Some(&s.spec.dir);
                spawn.env = &s.spec.env;
                spawn.user = s.spec.user.as_ref();
                match sys::spawn(&spawn) {
                    Ok(child) => {
                        s.check_pid = Some(child.pid);
                        s.probe_at = Some(now + ready::PROBE_TIMEOUT);
                        let what = format!("{}: cannot run check {}", s.spec.name, argv[0]);
                        self.track(child, Owner::Check(i), what);
                    }
                    Err(e) => {
                        log::warn!("{}: cannot run check {}: {e}", s.spec.name, argv[0]);
                        s.retry_probe(now);
                    }
                }
            }
            Readiness::None | Readiness::Fd(_) | Readiness::Notify => s.probe_at = None,
        }
    }
}

/// Resolves `after` names (and loggers) to indexes. `scan::check_order`
/// has dropped unknown names and cycles; a name gone at a reload is skipped.
fn link(svcs: &mut [Svc]) {
    let names: Vec<String> = svcs.iter().map(|s| s.spec.name.clone()).collect();
    for s in svcs.iter_mut() {
        s.deps = s
            .spec
            .after
            .iter()
            .filter_map(|a| names.iter().position(|n| n == a))
            .collect();
        s.feeds = s
            .spec
            .logger_of
            .as_ref()
            .and_then(|p| names.iter().position(|n| n == p));
    }
    for i in 0..svcs.len() {
        if let Some(p) = svcs[i].feeds {
            svcs[p].has_log = true;
        }
    }
}

impl Svc {
    fn new(spec: ServiceSpec, prefixing: bool) -> Svc {
        // Loggers write where they like, unprefixed.
        let prefix = if prefixing && spec.logger_of.is_none() {
            format!("{} | ", spec.name)
        } else {
            String::new()
        };
        Svc {
            sm: Service::new(spec.policy()),
            spec,
            run_pid: None,
            finish_pid: None,
            last_pid: 0,
            removed: false,
            prefix,
            out: None,
            err: None,
            deps: Vec::new(),
            feeds: None,
            has_log: false,
            held: false,
            stop_sent: false,
            nfd: None,
            notify: None,
            probe_at: None,
            probe_every: ready::FIRST_RETRY,
            tcp: None,
            check_pid: None,
            watchdog_at: None,
            sockets: Vec::new(),
            listening: false,
        }
    }

    /// tend itself reads this service's stdout (to prefix it).
    fn reads_out(&self) -> bool {
        !self.prefix.is_empty() && !self.has_log
    }

    /// Creates the output pipes on first use: stdout when prefixed or
    /// feeding a logger, stderr when prefixed.
    fn ensure_pipes(&mut self) -> std::io::Result<()> {
        if self.out.is_none() && (!self.prefix.is_empty() || self.has_log) {
            self.out = Some(Pipe::new(!self.has_log)?);
        }
        if self.err.is_none() && !self.prefix.is_empty() {
            self.err = Some(Pipe::new(true)?);
        }
        Ok(())
    }

    /// Binds the `listen` sockets on first use.
    fn ensure_sockets(&mut self) -> std::io::Result<()> {
        if self.sockets.len() == self.spec.listen.len() {
            return Ok(());
        }
        let owner = self.spec.user.as_ref().map(|u| (u.uid, u.gid));
        let mut bound = Vec::new();
        for l in &self.spec.listen {
            let fd = sys::listen_socket(&l.addr, owner).map_err(|e| {
                std::io::Error::other(format!("{}: listen {}: {e}", self.spec.name, l.addr))
            })?;
            bound.push(fd);
        }
        self.sockets = bound;
        Ok(())
    }

    fn out_w(&self) -> Option<std::os::fd::RawFd> {
        self.out.as_ref()?.w.as_ref().map(|w| w.as_raw_fd())
    }

    fn err_w(&self) -> Option<std::os::fd::RawFd> {
        self.err.as_ref()?.w.as_ref().map(|w| w.as_raw_fd())
    }

    /// For the exit log line: `, restarting in 200ms` when in backoff.
    fn next_step(&self, now: Instant) -> String {
        match self.sm.state {
            State::Backoff { until } => format!(
                ", restarting in {}ms",
                until.saturating_duration_since(now).as_millis()
            ),
            _ => String::new(),
        }
    }

    /// The state `tend ctl` shows: a service waiting for its `after`
    /// services is `starting`.
    fn state_name(&self) -> &'static str {
        if self.held {
            "starting"
        } else if self.listening {
            "listening"
        } else {
            self.sm.name_of_state()
        }
    }

    /// Ready for whoever runs `after` it: up and ready, or an on-demand
    /// service whose sockets are bound (connections wait in the backlog).
    fn is_ready(&self) -> bool {
        self.listening || matches!(self.sm.state, State::Up { .. }) && self.sm.ready
    }

    /// `run` exited: its readiness channel and checks go with it.
    fn end_probes(&mut self) {
        self.nfd = None;
        self.tcp = None;
        self.probe_at = None;
        self.watchdog_at = None;
        if let Some(pid) = self.check_pid {
            sys::kill(-pid, libc::SIGKILL);
        }
    }

    fn retry_probe(&mut self, now: Instant) {
        self.probe_at = Some(now + self.probe_every);
        self.probe_every = (self.probe_every * 2).min(ready::MAX_RETRY);
    }
}
