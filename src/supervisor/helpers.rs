//! A unit's helper commands (SPEC §5, §8): `ExecStop=` when the state
//! machine asks for it (`Action::SpawnStopCommand`), `ExecReload=` on
//! `reload NAME`. Each is started beside the main process, with the
//! service's cwd, environment and output and `MAINPID` set, in a session
//! of its own (so that the stop signal to the main group spares it); the
//! end of a stop command goes back to the state machine.

use super::*;

impl Supervisor {
    /// Starts service i's stop (`stop`) or reload command; false when it
    /// could not be started (said in the log).
    pub(super) fn spawn_helper(&mut self, i: usize, stop: bool) -> bool {
        let s = &self.svcs[i];
        let helper = match stop {
            true => s.spec.stop_command.as_ref(),
            false => s.spec.reload_command.as_ref(),
        };
        let Some(helper) = helper else {
            return false;
        };
        let what = if stop { "ExecStop" } else { "ExecReload" };
        let mut env = s.spec.env.clone();
        if let Some(pid) = s.run_pid {
            env.push(("MAINPID".into(), Some(pid.to_string().into())));
        }
        let mut spawn = sys::Spawn::new(&helper.argv, &self.mask);
        spawn.cwd = Some(s.spec.cwd());
        spawn.env = &env;
        spawn.user = helper.user.as_ref().map(svc::creds);
        spawn.limits = &s.spec.limits;
        spawn.stdio = [None, s.pipes.out_w(), s.pipes.err_w()];
        match sys::spawn(&spawn) {
            Ok(child) => {
                let pid = child.pid;
                log::debug!("{}[{pid}]: {what} started", s.spec.name);
                let s = &mut self.svcs[i];
                match stop {
                    true => s.stop_pid = Some(pid),
                    false => s.reload_pid = Some(pid),
                }
                let msg = format!("{}: cannot run {what}", s.spec.name);
                self.track(child, Owner::Helper(i), msg);
                true
            }
            Err(e) => {
                log::error!("{}: cannot run {what}: {e}", s.spec.name);
                false
            }
        }
    }

    /// A helper of service i has exited.
    pub(super) fn helper_exited(&mut self, i: usize, pid: i32, exit: Exit, now: Instant) {
        let s = &mut self.svcs[i];
        let stop = s.stop_pid == Some(pid);
        match stop {
            true => s.stop_pid = None,
            false => s.reload_pid = None,
        }
        let what = if stop { "ExecStop" } else { "ExecReload" };
        match exit.success() {
            true => log::debug!("{}[{pid}]: {what} {exit}", s.spec.name),
            false => log::warn!("{}[{pid}]: {what} {exit}", s.spec.name),
        }
        if stop {
            self.feed(i, Event::StopCommandExited, now);
        }
    }
}
