//! The phases of tend's own life (SPEC §1, §3, §6): init.d, then the
//! services (each once the ones it names in `after` are ready) and the main
//! command (once services are ready), then shutdown (main command first,
//! services in reverse `after` order), finish.d, and draining whatever
//! processes are left. `advance` moves from one phase to the next; it is
//! called at the top of every turn of the loop.

use super::*;

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub(super) enum Phase {
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

/// The one-shot scripts of init.d or finish.d, run one at a time.
pub(super) struct Scripts {
    pub list: Vec<PathBuf>,
    pub next: usize,
    pub pid: Option<i32>,
    pub kill_at: Option<Instant>,
}

impl Scripts {
    pub fn load(dir: &Path) -> Scripts {
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
        list.sort_unstable();
        Scripts {
            list,
            next: 0,
            pid: None,
            kill_at: None,
        }
    }
}

/// The main command (SPEC §1 modes).
pub(super) struct MainCmd {
    pub argv: Vec<OsString>,
    /// Not started yet: start when services are ready, or at this time.
    pub start_by: Option<Instant>,
    pub pid: Option<i32>,
    pub exit: Option<Exit>,
    pub kill_at: Option<Instant>,
}

impl Supervisor {
    /// The work that looks at every service runs only when something
    /// changed (`watch.changed`): a new phase is a change.
    pub(super) fn advance(&mut self, now: Instant) {
        loop {
            let before = self.phase;
            if self.phase != self.seen_phase {
                self.seen_phase = self.phase;
                self.watch.changed = true;
            }
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
                    let main_due = self
                        .main
                        .as_ref()
                        .and_then(|m| m.start_by)
                        .is_some_and(|by| by <= now);
                    if self.watch.any_change() || main_due {
                        self.release_held(now);
                        self.maybe_start_main(now);
                    }
                    // A main command that could not be started (clone
                    // failed: EAGAIN at the process limit) has begun the
                    // shutdown: go on with it now, nothing else will wake
                    // the loop.
                    if self.phase == before {
                        return;
                    }
                }
                Phase::StoppingMain => {
                    if self.main.as_ref().is_some_and(|m| m.pid.is_some()) {
                        return;
                    }
                    self.phase = Phase::StoppingServices;
                }
                Phase::StoppingServices => {
                    if !self.watch.any_change() {
                        return;
                    }
                    self.stop_in_order(now);
                    if self
                        .svcs
                        .iter()
                        .any(|s| !s.order.stop_sent || s.sm.has_process())
                    {
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
                        // Exits reaped by their pidfds walk nothing: know
                        // whether anything is left.
                        self.reap(now, &[], true);
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
                        self.reap(now, &[], true);
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
            s.order.held = !s.spec.down;
        }
        self.release_held(now);
        if let Some(m) = &mut self.main {
            m.start_by = Some(now + self.opts.ready_timeout);
        }
    }

    /// Starts the services that wait only for services now ready.
    pub(super) fn release_held(&mut self, now: Instant) {
        // A start can make a service ready at once (no readiness signal),
        // which releases its dependents: repeat until nothing changes.
        loop {
            let ready: Vec<usize> = (0..self.svcs.len())
                .filter(|&i| {
                    let s = &self.svcs[i];
                    s.order.held && s.order.deps.iter().all(|&d| self.svcs[d].is_ready())
                })
                .collect();
            if ready.is_empty() {
                return;
            }
            for i in ready {
                self.svcs[i].order.held = false;
                // On demand: bound now, started on the first connection.
                if self.svcs[i].spec.on_demand && self.start_listening(i) {
                    continue;
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
            .filter(|s| (s.order.held || s.sm.want_up) && !s.removed && !s.is_ready())
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
                log::debug!(
                    "{}[{pid}]: started main command",
                    m.argv[0].to_string_lossy()
                );
                m.pid = Some(pid);
                self.watch.changed = true;
                let what = format!("cannot run {}", m.argv[0].to_string_lossy());
                self.track(child, Owner::Main, what);
            }
            Err(e) => {
                log::error!("cannot run {}: {e}", m.argv[0].to_string_lossy());
                m.exit = Some(Exit::exec_failure(&e));
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
                    !self.svcs[i].order.stop_sent
                        && self.svcs.iter().all(|o| {
                            !o.order.deps.contains(&i) || (o.order.stop_sent && !o.sm.has_process())
                        })
                })
                .collect();
            if stoppable.is_empty() {
                return;
            }
            for i in stoppable {
                let s = &mut self.svcs[i];
                s.order.stop_sent = true;
                s.order.held = false;
                s.sockets.listening = false;
                if let Some(p) = s.pipes.feeds {
                    self.svcs[i].sm.policy.stop_signal = 0;
                    if let Some(pipe) = &mut self.svcs[p].pipes.stdout {
                        pipe.w = None;
                    }
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
        let argv = [path.clone().into_os_string()];
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

    /// An init.d or finish.d script exited.
    pub(super) fn script_exited(&mut self, pid: i32, exit: Exit) {
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

    /// Begins an orderly shutdown (SPEC §3): main command first, then the
    /// services, then finish.d.
    pub(super) fn shutdown(&mut self, now: Instant) {
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
                    self.pids.signal_group(pid, libc::SIGTERM);
                    self.init.kill_at = Some(now + self.opts.grace);
                }
            }
            Phase::Running => self.phase = Phase::StoppingMain,
            _ => {}
        }
    }

    /// A shutdown tend decides on itself: the main command, if running, is
    /// sent SIGTERM and killed at the grace.
    pub(super) fn stop_everything(&mut self, now: Instant) {
        if let Some(m) = &mut self.main {
            if let Some(pid) = m.pid {
                if self.opts.group {
                    self.pids.signal_group(pid, libc::SIGTERM);
                } else {
                    self.pids.signal(pid, libc::SIGTERM);
                }
                m.kill_at = Some(now + self.opts.grace);
            }
        }
        self.shutdown(now);
    }

    /// SIGQUIT with no main command (SPEC §3): immediate shutdown. Every
    /// service is stopped with SIGKILL and not restarted, its `finish` is
    /// skipped, init.d and finish.d are abandoned, every other process is
    /// SIGKILLed, and tend exits 131 once nothing is left.
    pub(super) fn quit(&mut self, now: Instant) {
        log::info!("got SIGQUIT, killing everything");
        self.quit = true;
        self.init.next = self.init.list.len();
        self.finish.next = self.finish.list.len();
        for i in 0..self.svcs.len() {
            let s = &mut self.svcs[i];
            s.order.held = false;
            s.order.stop_sent = true;
            s.sockets.listening = false;
            s.sm.policy.stop_signal = libc::SIGKILL;
            s.sm.policy.has_finish = false;
            self.feed(i, Event::Stop, now);
        }
        sys::kill_descendants(libc::SIGKILL);
        self.phase = Phase::Draining;
        self.drain_started = true;
        self.drain_kill_at = None;
    }
}
