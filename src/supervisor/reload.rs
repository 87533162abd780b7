//! Reload (SIGHUP, `tend ctl reload`, SPEC §3): rescan the services dir,
//! start new services, stop removed ones, restart those whose files
//! changed, leave the rest alone.

use super::*;

impl Supervisor {
    pub(super) fn reload(&mut self, now: Instant) {
        if self.phase != Phase::Running {
            return;
        }
        // Said first, so that the scan's errors read as the reload's (and
        // are the ones dropped when stderr is not read in time).
        log::info!("reloading {}", self.opts.services.display());
        let scanned = match scan::scan_dirs(&self.opts.services, self.opts.grace) {
            Ok(r) => r,
            Err(e) => {
                log::error!("reload: {e}");
                return;
            }
        };
        for w in &scanned.warnings {
            log::warn!("{w}");
        }
        for e in &scanned.errors {
            log::error!("{e}");
        }
        let specs = scanned.specs;
        self.manager_reloading();
        for i in 0..self.svcs.len() {
            let s = &mut self.svcs[i];
            // A dir that is there but broken (a typo in service.toml) is not
            // a removal: the service runs on as it was, and says why.
            let broken = scanned.broken.iter().find(|(n, _)| n == s.dir_name());
            s.config_error = broken.map(|(_, e)| e.clone());
            if broken.is_some() && !s.removed {
                log::warn!("{}: keeps running on its previous definition", s.spec.name);
                continue;
            }
            if !specs.iter().any(|n| n.name == self.svcs[i].spec.name) && !self.svcs[i].removed {
                log::info!("{}: removed, stopping", self.svcs[i].spec.name);
                self.svcs[i].removed = true;
                self.svcs[i].order.held = false; // never started later
                self.svcs[i].sockets.close();
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
                    s.sm.policy.start_timeout = self.opts.ready_timeout;
                    if s.spec.listen != spec.listen {
                        s.sockets.unbind();
                    }
                    s.spec = spec;
                    if s.sm.has_process() {
                        log::info!("{}: changed, restarting", s.spec.name);
                        self.feed(i, Event::Restart, now);
                    } else if was_removed || s.sm.want_up || s.sockets.listening {
                        s.sockets.listening = false;
                        s.order.held = !s.spec.down;
                    }
                }
                None => {
                    log::info!("{}: new, starting", spec.name);
                    let mut s = Svc::new(spec, self.prefixing, self.opts.ready_timeout);
                    s.order.held = !s.spec.down;
                    self.svcs.push(s);
                }
            }
        }
        self.relink(now);
        self.mark_all();
        self.release_held(now);
    }

    /// Forgets the services a reload removed once nothing of theirs runs:
    /// their pipes, notify socket and slot go, so that reloads cannot leak
    /// fds or memory. Indexes after a dropped slot shift down by one.
    pub(super) fn drop_removed(&mut self) {
        let gone = |s: &Svc| {
            s.removed
                && !s.sm.has_process()
                && s.run_pid.is_none()
                && s.finish_pid.is_none()
                && s.stop_pid.is_none()
                && s.reload_pid.is_none()
                && s.post_pid.is_none()
                && s.probes.check_pid.is_none()
        };
        if !self.svcs.iter().any(gone) {
            return;
        }
        // Indexes shift: every service is filed again under its new one.
        self.forget_all();
        let mut i = 0;
        while i < self.svcs.len() {
            if !gone(&self.svcs[i]) {
                i += 1;
                continue;
            }
            let s = self.svcs.remove(i);
            log::debug!("{}: removed", s.spec.name);
            for owner in self.pids.owners_mut() {
                match owner {
                    Owner::Run(j) | Owner::Finish(j) | Owner::Check(j) | Owner::Helper(j)
                        if *j > i =>
                    {
                        *j -= 1
                    }
                    _ => {}
                }
            }
        }
        link(&mut self.svcs);
        self.mark_all();
    }
}
