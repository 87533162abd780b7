//! tend's own children, by pid: what each is for (`Owner`) and a handle
//! to signal it by (`sys::Proc`, a pidfd where the kernel has them).
//! Every signal tend sends to a child or its group goes through here, and
//! only to a child that is tracked and not yet reaped: a pid that has been
//! reaped may already name another process.

use super::Owner;
use crate::sys;
use std::collections::HashMap;

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
