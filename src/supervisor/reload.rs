//! Reload (SIGHUP, `tend ctl reload`, SPEC §3): rescan the services dir,
//! start new services, stop removed ones, restart those whose files
//! changed, leave the rest alone.

use super::*;

impl Supervisor {
    pub(super) fn reload(&mut self, now: Instant) {
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
                    if s.spec.listen != spec.listen {
                        s.sockets.fds.clear();
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
                    let mut s = Svc::new(spec, self.prefixing);
                    s.order.held = !s.spec.down;
                    self.svcs.push(s);
                }
            }
        }
        link(&mut self.svcs);
        self.release_held(now);
    }
}
