//! A unit's helper commands (SPEC §5, §8): `ExecStop=` when the state
//! machine asks for it (`Action::SpawnStopCommand`), `ExecStartPost=` once
//! the service is up and ready (`Action::SpawnStartPost`), `ExecReload=` on
//! `reload NAME`. Each is started beside the main process, with the
//! service's cwd, environment and output and `MAINPID` set, in a session
//! of its own (so that the stop signal to the main group spares it); the
//! end of a stop command or a start-post goes back to the state machine.

use super::*;

/// Which helper of a service.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Stop,
    Reload,
    StartPost,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Stop => "ExecStop",
            Kind::Reload => "ExecReload",
            Kind::StartPost => "ExecStartPost",
        }
    }
}

impl Supervisor {
    /// Starts service i's stop (`stop`) or reload command; false when it
    /// could not be started (said in the log).
    pub(super) fn spawn_helper(&mut self, i: usize, stop: bool) -> bool {
        self.spawn_kind(i, if stop { Kind::Stop } else { Kind::Reload })
    }

    /// `Action::SpawnStartPost`: a start-post that cannot be started has
    /// failed.
    pub(super) fn spawn_start_post(&mut self, i: usize) -> Option<Event> {
        let ok = self.svcs[i].run_pid.is_some() && self.spawn_kind(i, Kind::StartPost);
        (!ok).then_some(Event::StartPostExited(false))
    }

    fn spawn_kind(&mut self, i: usize, kind: Kind) -> bool {
        let s = &self.svcs[i];
        let helper = s.spec.unit.as_ref().and_then(|u| match kind {
            Kind::Stop => u.stop_command.as_ref(),
            Kind::Reload => u.reload_command.as_ref(),
            Kind::StartPost => u.start_post.as_ref(),
        });
        let Some(helper) = helper else {
            return false;
        };
        let what = kind.what();
        let mut env = s.spec.env.clone();
        if let Some(pid) = s.run_pid {
            env.push(("MAINPID".into(), Some(pid.to_string().into())));
        }
        let mut spawn = sys::Spawn::new(&helper.argv, &self.mask);
        spawn.cwd = Some(s.spec.cwd());
        spawn.env = &env;
        spawn.user = helper.user.as_ref().map(svc::creds);
        spawn.limits = s.spec.limits();
        spawn.stdio = [None, s.pipes.out_w(), s.pipes.err_w()];
        match sys::spawn(&spawn) {
            Ok(child) => {
                let pid = child.pid;
                log::debug!("{}[{pid}]: {what} started", s.spec.name);
                let s = &mut self.svcs[i];
                *match kind {
                    Kind::Stop => &mut s.stop_pid,
                    Kind::Reload => &mut s.reload_pid,
                    Kind::StartPost => &mut s.post_pid,
                } = Some(pid);
                if kind == Kind::Reload {
                    // As systemd, TimeoutStartSec= bounds a reload too.
                    s.reload_until = Instant::now().checked_add(s.sm.start_timeout());
                }
                let msg = format!("{}: cannot run {what}", s.spec.name);
                self.track(child, Owner::Helper(i), msg);
                self.mark(i);
                true
            }
            Err(e) => {
                log::error!("{}: cannot run {what}: {e}", s.spec.name);
                false
            }
        }
    }

    /// A reload of service i that overran its time: SIGKILL to it and
    /// what it started (its own group), as systemd kills a reload that
    /// timed out; the service itself goes on.
    pub(super) fn fire_reload_timeout(&mut self, i: usize, now: Instant) {
        let s = &mut self.svcs[i];
        if s.reload_until.is_none_or(|t| t > now) {
            return;
        }
        s.reload_until = None;
        if let Some(pid) = s.reload_pid {
            log::warn!(
                "{}[{pid}]: {} still running after {}ms, SIGKILL",
                s.spec.name,
                Kind::Reload.what(),
                s.sm.start_timeout().as_millis()
            );
            self.pids.signal_group(pid, libc::SIGKILL);
        }
    }

    /// A helper of service i has exited.
    pub(super) fn helper_exited(&mut self, i: usize, pid: i32, exit: Exit, now: Instant) {
        let s = &mut self.svcs[i];
        let kind = if s.stop_pid == Some(pid) {
            s.stop_pid = None;
            Kind::Stop
        } else if s.post_pid == Some(pid) {
            s.post_pid = None;
            Kind::StartPost
        } else {
            s.reload_pid = None;
            s.reload_until = None;
            Kind::Reload
        };
        let what = kind.what();
        match exit.success() {
            true => log::debug!("{}[{pid}]: {what} {exit}", s.spec.name),
            false if kind == Kind::StartPost => {
                log::error!("{}[{pid}]: {what} {exit}: failed start", s.spec.name)
            }
            false => log::warn!("{}[{pid}]: {what} {exit}", s.spec.name),
        }
        match kind {
            Kind::Stop => self.feed(i, Event::StopCommandExited, now),
            Kind::StartPost => self.feed(i, Event::StartPostExited(exit.success()), now),
            Kind::Reload => {}
        }
    }
}
