//! The event loop, and the only place that carries out actions. One turn:
//! wait (poll on the signalfd, timeout = nearest deadline), handle the
//! signals read, reap every exited child, fire due deadlines, advance the
//! run phase. Idle, it sleeps in poll with no timeout: zero wakeups.
//!
//! The life of each service is `state::Service`; this module maps pids to
//! services, spawns and signals, and sequences the phases of tend's own
//! life: init.d, services and main command, shutdown, finish.d, draining
//! leftover processes, exit.

use crate::config::{signal_name, Options};
use crate::control::{Control, Incoming};
use crate::proto::{self, Goal, Request};
use crate::scan::{self, ServiceSpec};
use crate::state::{Action, Event, Exit, Service, State};
use crate::sys;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::SignalFd;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Svc {
    spec: ServiceSpec,
    sm: Service,
    run_pid: Option<i32>,
    finish_pid: Option<i32>,
    /// The pid of the last `run`, which is also its process group id.
    last_pid: i32,
    /// Gone from the services dir at a reload: dropped once down.
    removed: bool,
}

#[derive(Clone, Copy)]
enum Owner {
    Run(usize),
    Finish(usize),
    Main,
    Script,
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
            pid: None,
            exit: None,
            kill_at: None,
        });
        let svcs = specs.into_iter().map(Svc::new).collect();
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
        }
    }

    /// Runs until everything is down; returns tend's exit code.
    pub fn run(mut self) -> i32 {
        match Control::bind(&self.opts.control) {
            Ok(c) => self.control = Some(c),
            Err(e) => log::warn!("control socket: {e}; tend ctl will not work"),
        }
        let mut fds = Vec::new();
        loop {
            let now = Instant::now();
            self.advance(now);
            self.check_waiters(now);
            if self.phase == Phase::Done {
                return self.exit_code();
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            fds.clear();
            fds.push(sys::pollfd(sys::raw(&self.sigfd), libc::POLLIN));
            if let Some(c) = &self.control {
                c.pollfds(&mut fds);
            }
            sys::poll(&mut fds, timeout);
            let now = Instant::now();
            for sig in sys::read_signals(&mut self.sigfd) {
                self.on_signal(sig, now);
            }
            self.reap(now);
            if let Some(c) = &mut self.control {
                let revents: Vec<libc::c_short> = fds[1..].iter().map(|p| p.revents).collect();
                let (incoming, gone) = c.service(&revents, now);
                self.waiters.retain(|w| !gone.contains(&w.conn));
                for req in incoming {
                    self.answer(req, now);
                }
            }
            self.fire_deadlines(Instant::now());
        }
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
        let svcs = self.svcs.iter().filter_map(|s| s.sm.deadline());
        let others = [
            self.main.as_ref().and_then(|m| m.kill_at),
            self.init.kill_at,
            self.finish.kill_at,
            self.drain_kill_at,
            self.control.as_ref().and_then(Control::deadline),
            self.waiters.iter().filter_map(|w| w.deadline).min(),
        ];
        svcs.chain(others.into_iter().flatten()).min()
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
                Phase::Running => return,
                Phase::StoppingMain => {
                    if self.main.as_ref().is_some_and(|m| m.pid.is_some()) {
                        return;
                    }
                    for i in 0..self.svcs.len() {
                        self.feed(i, Event::Stop, now);
                    }
                    self.phase = Phase::StoppingServices;
                }
                Phase::StoppingServices => {
                    if self.svcs.iter().any(|s| s.sm.has_process()) {
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
        for i in 0..self.svcs.len() {
            if !self.svcs[i].spec.down {
                self.feed(i, Event::Start, now);
            }
        }
        if let Some(m) = &mut self.main {
            let spawn = sys::Spawn {
                argv: &m.argv,
                cwd: None,
                env: &[],
                main: true,
                mask: &self.mask,
            };
            match sys::spawn(&spawn) {
                Ok(pid) => {
                    log::debug!("{}[{pid}]: started main command", m.argv[0]);
                    m.pid = Some(pid);
                    self.pids.insert(pid, Owner::Main);
                }
                Err(e) => {
                    log::error!("cannot run {}: {e}", m.argv[0]);
                    m.exit = Some(sys::exec_failure(&e));
                    self.shutdown(now);
                }
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
        let spawn = sys::Spawn {
            argv: &argv,
            cwd: None,
            env: &[],
            main: false,
            mask: &self.mask,
        };
        match sys::spawn(&spawn) {
            Ok(pid) => {
                log::debug!("{}[{pid}]: started", path.display());
                scripts.pid = Some(pid);
                // finish.d runs on the way down: each script gets the grace.
                scripts.kill_at = (!init).then(|| now + grace);
                self.pids.insert(pid, Owner::Script);
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
                    self.feed(i, Event::RunExited(exit), now);
                    let s = &self.svcs[i];
                    match s.sm.state {
                        State::Backoff { until } => log::info!(
                            "{}[{pid}]: {exit}, restarting in {}ms",
                            s.spec.name,
                            until.saturating_duration_since(now).as_millis()
                        ),
                        _ => log::info!("{}[{pid}]: {exit}", s.spec.name),
                    }
                }
                Some(Owner::Finish(i)) => {
                    self.svcs[i].finish_pid = None;
                    if exit != Exit::Code(0) {
                        log::debug!("{}: finish {exit}", self.svcs[i].spec.name);
                    }
                    self.feed(i, Event::FinishExited(exit), now);
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
            Action::SpawnRun => {
                let spawn = sys::Spawn {
                    argv: &s.spec.argv,
                    cwd: Some(&s.spec.dir),
                    env: &s.spec.env,
                    main: false,
                    mask: &self.mask,
                };
                match sys::spawn(&spawn) {
                    Ok(pid) => {
                        log::debug!("{}[{pid}]: started", s.spec.name);
                        s.run_pid = Some(pid);
                        s.last_pid = pid;
                        self.pids.insert(pid, Owner::Run(i));
                        None
                    }
                    Err(e) => {
                        log::error!("{}: cannot run {}: {e}", s.spec.name, s.spec.argv[0]);
                        Some(Event::RunExited(sys::exec_failure(&e)))
                    }
                }
            }
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
                let spawn = sys::Spawn {
                    argv: &argv,
                    cwd: Some(&s.spec.dir),
                    env: &s.spec.env,
                    main: false,
                    mask: &self.mask,
                };
                match sys::spawn(&spawn) {
                    Ok(pid) => {
                        s.finish_pid = Some(pid);
                        self.pids.insert(pid, Owner::Finish(i));
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
                self.feed(i, Event::Stop, now);
            }
        }
        for spec in specs {
            match self.svcs.iter().position(|s| s.spec.name == spec.name) {
                Some(i) if self.svcs[i].spec == spec && !self.svcs[i].removed => {}
                Some(i) => {
                    let s = &mut self.svcs[i];
                    let was_removed = std::mem::replace(&mut s.removed, false);
                    log::info!("{}: changed, restarting", spec.name);
                    s.sm.policy = spec.policy();
                    let down = spec.down;
                    s.spec = spec;
                    let event = if down {
                        Event::Stop
                    } else if was_removed && !s.sm.has_process() {
                        Event::Start
                    } else {
                        Event::Restart
                    };
                    self.feed(i, event, now);
                }
                None => {
                    log::info!("{}: new, starting", spec.name);
                    let down = spec.down;
                    self.svcs.push(Svc::new(spec));
                    if !down {
                        self.feed(self.svcs.len() - 1, Event::Start, now);
                    }
                }
            }
        }
    }
}

impl Supervisor {
    // ---- control verbs (SPEC §5) ---------------------------------------

    fn answer(&mut self, inc: Incoming, now: Instant) {
        let (code, body) = match inc.request {
            Err(e) => (2, e),
            Ok(req) => match self.verb(req, inc.id, now) {
                Some(reply) => reply,
                None => return, // a waiter answers later
            },
        };
        if let Some(c) = &mut self.control {
            c.reply(inc.id, code, &body);
        }
    }

    /// Indexes of the named services; an unknown name is an error.
    fn lookup(&self, names: &[String]) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|n| {
                self.svcs
                    .iter()
                    .position(|s| &s.spec.name == n && !s.removed)
                    .ok_or_else(|| format!("no service named {n:?}"))
            })
            .collect()
    }

    fn verb(&mut self, req: Request, conn: u64, now: Instant) -> Option<(i32, String)> {
        let running = self.phase == Phase::Running;
        let found = match &req {
            Request::Status { names, .. }
            | Request::Up(names)
            | Request::Down(names)
            | Request::Restart(names)
            | Request::Signal { names, .. }
            | Request::Wait { names, .. } => self.lookup(names),
            Request::Check | Request::Reload | Request::Shutdown => Ok(Vec::new()),
        };
        let idx = match found {
            Ok(idx) => idx,
            Err(e) => return Some((1, e)),
        };
        let event = match &req {
            Request::Up(_) => Some(Event::Start),
            Request::Down(_) => Some(Event::Stop),
            Request::Restart(_) => Some(Event::Restart),
            _ => None,
        };
        if let Some(ev) = event {
            if !running && ev != Event::Stop {
                return Some((1, "tend is shutting down".into()));
            }
            for i in idx {
                self.feed(i, ev, now);
            }
            return Some((0, String::new()));
        }
        Some(match req {
            Request::Status { json, .. } => {
                let all: Vec<usize> = if idx.is_empty() {
                    (0..self.svcs.len())
                        .filter(|&i| !self.svcs[i].removed)
                        .collect()
                } else {
                    idx
                };
                (0, self.status(&all, json, now))
            }
            Request::Signal { signal, .. } => {
                let mut missing = Vec::new();
                for i in idx {
                    match self.svcs[i].run_pid {
                        Some(pid) => sys::kill(-pid, signal),
                        None => missing.push(self.svcs[i].spec.name.clone()),
                    }
                }
                if missing.is_empty() {
                    (0, String::new())
                } else {
                    (1, format!("not running: {}", missing.join(", ")))
                }
            }
            Request::Wait {
                goal,
                names,
                timeout,
            } => {
                self.waiters.push(Waiter {
                    conn,
                    goal,
                    names,
                    deadline: timeout.map(|t| now + t),
                });
                return None;
            }
            Request::Check => self.check(),
            Request::Reload => {
                self.reload(now);
                (0, String::new())
            }
            Request::Shutdown => {
                self.on_signal(libc::SIGTERM, now);
                (0, String::new())
            }
            Request::Up(_) | Request::Down(_) | Request::Restart(_) => (0, String::new()),
        })
    }

    fn reached(&self, i: usize, goal: Goal) -> bool {
        let sm = &self.svcs[i].sm;
        match goal {
            Goal::Up => matches!(sm.state, State::Up { .. }),
            Goal::Ready => matches!(sm.state, State::Up { .. }) && sm.ready,
            Goal::Down => matches!(sm.state, State::Down | State::Failed),
        }
    }

    fn check_waiters(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.waiters.len() {
            let w = &self.waiters[i];
            let pending: Vec<String> = w
                .names
                .iter()
                .filter(|n| match self.lookup(std::slice::from_ref(n)) {
                    Ok(idx) => !self.reached(idx[0], w.goal),
                    Err(_) => true,
                })
                .cloned()
                .collect();
            let reply = if pending.is_empty() {
                Some((0, String::new()))
            } else if w.deadline.is_some_and(|d| d <= now) {
                Some((1, format!("timed out waiting for {}", pending.join(", "))))
            } else if self.phase == Phase::Done {
                Some((1, "tend exited".to_string()))
            } else {
                None
            };
            match reply {
                Some((code, body)) => {
                    let w = self.waiters.remove(i);
                    if let Some(c) = &mut self.control {
                        c.reply(w.conn, code, &body);
                    }
                }
                None => i += 1,
            }
        }
    }

    /// `check`: every service that should run is up, and ready if it has a
    /// readiness signal.
    fn check(&self) -> (i32, String) {
        let mut problems = Vec::new();
        if self.phase != Phase::Running {
            problems.push("tend is not running services (starting or shutting down)".to_string());
        }
        for s in self.svcs.iter().filter(|s| !s.removed && s.sm.want_up) {
            let state = s.sm.name_of_state();
            if !(matches!(s.sm.state, State::Up { .. }) && s.sm.ready) {
                problems.push(format!("{}: {state}", s.spec.name));
            }
        }
        if problems.is_empty() {
            (0, String::new())
        } else {
            (1, problems.join("\n"))
        }
    }

    fn status(&self, idx: &[usize], json: bool, now: Instant) -> String {
        let mut rows = Vec::new();
        for &i in idx {
            let s = &self.svcs[i];
            let uptime = match s.sm.state {
                State::Up { since } | State::Stopping { since, .. } => {
                    Some(now.saturating_duration_since(since))
                }
                _ => None,
            };
            rows.push((s, uptime));
        }
        if json {
            let items: Vec<String> = rows
                .iter()
                .map(|(s, up)| {
                    let last = match s.sm.last_exit {
                        None => "null".to_string(),
                        Some(Exit::Code(c)) => format!("{{\"code\":{c}}}"),
                        Some(Exit::Signal(n)) => format!("{{\"signal\":{n}}}"),
                    };
                    format!(
                        "{{\"name\":{},\"state\":\"{}\",\"pid\":{},\"ready\":{},\"restarts\":{},\"uptime_ms\":{},\"last_exit\":{last}}}",
                        proto::json_str(&s.spec.name),
                        s.sm.name_of_state(),
                        s.run_pid.map_or("null".to_string(), |p| p.to_string()),
                        s.sm.ready,
                        s.sm.restarts,
                        up.map_or(0, |d| d.as_millis()),
                    )
                })
                .collect();
            return format!("[{}]\n", items.join(","));
        }
        let mut table = vec![[
            "NAME".to_string(),
            "STATE".into(),
            "PID".into(),
            "UPTIME".into(),
            "RESTARTS".into(),
            "LAST EXIT".into(),
        ]];
        for (s, up) in rows {
            table.push([
                s.spec.name.clone(),
                s.sm.name_of_state().into(),
                s.run_pid.map_or("-".into(), |p| p.to_string()),
                up.map_or("-".into(), human),
                s.sm.restarts.to_string(),
                match s.sm.last_exit {
                    None => "-".into(),
                    Some(Exit::Code(c)) => format!("status {c}"),
                    Some(Exit::Signal(n)) => signal_name(n),
                },
            ]);
        }
        let mut widths = [0usize; 6];
        for row in &table {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        for row in &table {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// `3s`, `2m5s`, `1h2m`: uptime for people.
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

impl Svc {
    fn new(spec: ServiceSpec) -> Svc {
        Svc {
            sm: Service::new(spec.policy()),
            spec,
            run_pid: None,
            finish_pid: None,
            last_pid: 0,
            removed: false,
        }
    }
}
