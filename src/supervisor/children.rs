//! tend's own children, by pid: what each is for (`Owner`) and a handle
//! to signal it by (`sys::Proc`, a pidfd where the kernel has them).
//! Every signal tend sends to a child or its group goes through here, and
//! only to a child that is tracked and not yet reaped: a pid that has been
//! reaped may already name another process.

use super::Owner;
use crate::state::{Event, Exit};
use crate::sys;
use std::collections::HashMap;
use std::time::Instant;

struct Tracked {
    owner: Owner,
    /// None once reaped (the entry itself goes when its exit is handled).
    proc: Option<sys::Proc>,
}

#[derive(Default)]
pub(super) struct Children {
    map: HashMap<i32, Tracked>,
}

impl Children {
    /// Tracks a child `spawn` just started (not reaped yet: only tend
    /// reaps its children, on this one thread).
    pub fn insert(&mut self, pid: i32, owner: Owner) {
        let proc = sys::Proc::open(pid).ok();
        self.map.insert(pid, Tracked { owner, proc });
    }

    pub fn get(&self, pid: i32) -> Option<Owner> {
        self.map.get(&pid).map(|t| t.owner)
    }

    /// `pid` was reaped: nothing may be sent to it or its group any more.
    pub fn reaped(&mut self, pid: i32) {
        if let Some(t) = self.map.get_mut(&pid) {
            t.proc = None;
        }
    }

    pub fn remove(&mut self, pid: i32) -> Option<Owner> {
        self.map.remove(&pid).map(|t| t.owner)
    }

    pub fn owners_mut(&mut self) -> impl Iterator<Item = &mut Owner> {
        self.map.values_mut().map(|t| &mut t.owner)
    }

    fn live(&self, pid: i32) -> Option<&sys::Proc> {
        let p = self.map.get(&pid).and_then(|t| t.proc.as_ref());
        if p.is_none() {
            log::debug!("not signalling {pid}: not a live child of tend");
        }
        p
    }

    /// Sends `sig` to the child `pid`.
    pub fn signal(&self, pid: i32, sig: i32) {
        if let Some(p) = self.live(pid) {
            let _ = p.signal(sig);
        }
    }

    /// Sends `sig` to process group `pgid`, which the child `pid` is in
    /// (a daemon's group need not be its pid), while `pid` is unreaped.
    pub fn signal_pgid(&self, pid: i32, pgid: i32, sig: i32) {
        if let Some(p) = self.live(pid) {
            let _ = p.signal_pgid(pgid, sig);
        }
    }

    pub fn contains(&self, pid: i32) -> bool {
        self.map.contains_key(&pid)
    }

    /// Sends `sig` to the process group the child `pid` leads.
    pub fn signal_group(&self, pid: i32, sig: i32) {
        if let Some(p) = self.live(pid) {
            let _ = p.signal_group(sig);
        }
    }
}

/// Reaping: every exit handled once, in two passes (see `reap`).
impl super::Supervisor {
    pub(super) fn reap(&mut self, now: Instant) {
        // A daemon may setsid after it was found: its session is read
        // before every reap, so last as a zombie (which keeps it until
        // reaped), so that what it leaves there goes with it.
        for &i in &self.watch.adopted {
            let s = &mut self.svcs[i];
            if let Some((_, sid)) = s.run_pid.filter(|_| s.sm.adopted).and_then(sys::ids) {
                s.daemon.sid = Some(sid);
            }
        }
        let (statuses, left) = sys::reap();
        let statuses_len = statuses.len();
        let exits: Vec<(i32, Exit)> = statuses
            .into_iter()
            .filter_map(|(pid, st)| Some((pid, Exit::from_wait_status(st)?)))
            .collect();
        self.children_left = left;
        self.reap_more = statuses_len >= sys::REAP_BATCH;
        // First forget every pid of this batch (the handlers below rely on
        // it), so that handling one exit
        // (a run's end kills its check's group; a critical failure signals
        // the main command) never signals a pid reaped in the same batch,
        // which the kernel may already have given to a new process.
        if !exits.is_empty() {
            self.watch.changed = true;
        }
        for &(pid, exit) in &exits {
            self.pids.reaped(pid);
            if let Some(Owner::Run(i) | Owner::Finish(i) | Owner::Check(i) | Owner::Helper(i)) =
                self.pids.get(pid)
            {
                self.mark(i);
            }
            match self.pids.get(pid) {
                Some(Owner::Run(i)) => self.svcs[i].run_pid = None,
                Some(Owner::Finish(i)) => self.svcs[i].finish_pid = None,
                Some(Owner::Check(i)) => self.svcs[i].probes.check_pid = None,
                Some(Owner::Main) => {
                    if let Some(m) = &mut self.main {
                        m.pid = None;
                    }
                }
                Some(Owner::Script | Owner::Helper(_)) => {}
                None => self.reaped.push(pid, exit, now),
            }
        }
        for (pid, exit) in exits {
            match self.pids.remove(pid) {
                Some(Owner::Run(i)) => {
                    let s = &mut self.svcs[i];
                    // A `run` that daemonized leaves its readiness channel
                    // to the daemon; a daemon takes what it left with it.
                    if !s.sm.daemonizes(exit) {
                        if let Some(check) = s.probes.end() {
                            self.pids.signal_group(check, libc::SIGKILL);
                        }
                    }
                    if let Some(sid) = s.daemon.sid.take() {
                        sys::kill_session(sid, libc::SIGKILL);
                    }
                    self.end_of_run_output(i);
                    self.feed(i, Event::RunExited(exit), now);
                    let s = &self.svcs[i];
                    log::info!("{}[{pid}]: {exit}{}", s.spec.name, s.next_step(now));
                }
                Some(Owner::Finish(i)) => {
                    self.feed(i, Event::FinishExited(exit), now);
                    let s = &self.svcs[i];
                    if exit != Exit::Code(0) || !s.next_step(now).is_empty() {
                        log::info!("{}: finish {exit}{}", s.spec.name, s.next_step(now));
                    }
                }
                Some(Owner::Main) => {
                    if let Some(m) = &mut self.main {
                        log::info!(
                            "main command {}[{pid}]: {exit}",
                            m.argv[0].to_string_lossy()
                        );
                        m.exit = Some(exit);
                        m.kill_at = None;
                    }
                    self.shutdown(now);
                }
                Some(Owner::Script) => self.script_exited(pid, exit),
                Some(Owner::Check(i)) => self.check_exited(i, exit, now),
                Some(Owner::Helper(i)) => self.helper_exited(i, pid, exit, now),
                None => {
                    if self.opts.warn_zombies {
                        log::warn!("reaped zombie process {pid}");
                    }
                }
            }
        }
    }
}
