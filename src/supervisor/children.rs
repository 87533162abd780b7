//! tend's own children, by pid: what each is for (`Owner`) and a handle
//! to signal it by (`sys::Proc`, a pidfd where the kernel has them).
//! Every signal tend sends to a child or its group goes through here, and
//! only to a child that is tracked and not yet reaped: a pid that has been
//! reaped may already name another process.
//!
//! Reaping (issue 14): a waitpid(-1) walks every child of tend, so that
//! with 1,000 services each exit cost 1,000 looks. So each child's pidfd is
//! in the epoll set (`Token::Exit`), readable once it has exited, and that
//! child alone is reaped then (`Proc::reap`). A SIGCHLD that names such a
//! child needs no walk; one that names another process (an orphan, a child
//! with no pidfd, a `kill -CHLD`) walks. But SIGCHLD is not queued: an
//! orphan that exits while a child's SIGCHLD is pending raises none of its
//! own. So a SIGCHLD that did not walk makes a walk due within `SWEEP`,
//! which bounds how long such an orphan stays a zombie. The kernel hands
//! each exit out once, whichever way it is reaped: none is handled twice.

use super::Owner;
use crate::state::{Event, Exit};
use crate::sys;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// The longest an orphan whose SIGCHLD merged with another stays a zombie.
pub(super) const SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

struct Tracked {
    owner: Owner,
    /// None once reaped (the entry itself goes when its exit is handled).
    proc: Option<sys::Proc>,
    /// Its pidfd is in the epoll set: its exit needs no walk.
    watched: bool,
}

#[derive(Default)]
pub(super) struct Children {
    map: HashMap<i32, Tracked>,
}

impl Children {
    /// Tracks a child `spawn` just started (not reaped yet: only tend
    /// reaps its children, on this one thread).
    pub fn insert(&mut self, pid: i32, owner: Owner) -> Option<&sys::Proc> {
        let proc = sys::Proc::open(pid).ok();
        let t = self.map.entry(pid).insert_entry(Tracked {
            owner,
            proc,
            watched: false,
        });
        t.into_mut().proc.as_ref()
    }

    /// The exit of `pid` is watched through its pidfd from now on.
    pub fn watched(&mut self, pid: i32) {
        if let Some(t) = self.map.get_mut(&pid) {
            t.watched = true;
        }
    }

    /// `pid` is an unreaped child whose exit its pidfd reports.
    pub fn reaps_alone(&self, pid: i32) -> bool {
        self.map
            .get(&pid)
            .is_some_and(|t| t.watched && t.proc.is_some())
    }

    pub fn get(&self, pid: i32) -> Option<Owner> {
        self.map.get(&pid).map(|t| t.owner)
    }

    /// `pid` was reaped: nothing may be sent to it or its group any more.
    /// Its handle, for the caller to unwatch its pidfd and drop.
    pub fn reaped(&mut self, pid: i32) -> Option<sys::Proc> {
        let t = self.map.get_mut(&pid)?;
        t.watched = false;
        t.proc.take()
    }

    /// Reaps the child `pid` through its pidfd, if it is tracked, not
    /// reaped yet, and has exited: its wait status.
    pub fn reap_one(&self, pid: i32) -> Option<libc::c_int> {
        let p = self.map.get(&pid)?.proc.as_ref()?;
        match p.reap() {
            Ok(status) => status,
            Err(e) => {
                // ECHILD: reaped by a walk already.
                if e != nix::errno::Errno::ECHILD {
                    log::warn!("waitid({pid}): {e}");
                }
                None
            }
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
    /// Tracks a child of tend (one it started, or a daemon it adopted)
    /// and, when it can, watches its exit through its pidfd.
    pub(super) fn insert_child(&mut self, pid: i32, owner: Owner) {
        // A child: no walk has seen the last of them.
        self.children_left = true;
        let proc = self.pids.insert(pid, owner);
        let Some(fd) = proc
            .and_then(sys::Proc::pidfd)
            .filter(|_| self.pidfd_reaping)
        else {
            return;
        };
        match self.watch.watch_exit(fd.as_raw_fd(), pid) {
            Ok(()) => self.pids.watched(pid),
            // Its SIGCHLD walks, as before.
            Err(e) => log::debug!("epoll: not watching the exit of {pid}: {e}"),
        }
    }

    /// Reaps after a SIGCHLD (a walk of every child) and the children
    /// whose pidfds epoll found readable (`exited`), then handles each
    /// exit.
    pub(super) fn reap(&mut self, now: Instant, exited: &[i32], walk: bool) {
        // A daemon may setsid after it was found: its session is read
        // before every reap, so last as a zombie (which keeps it until
        // reaped), so that what it leaves there goes with it.
        for &i in &self.watch.adopted {
            let s = &mut self.svcs[i];
            if let Some((_, sid)) = s.run_pid.filter(|_| s.sm.adopted).and_then(sys::ids) {
                s.daemon.sid = Some(sid);
            }
        }
        let mut statuses = Vec::new();
        if walk {
            self.sweep_at = None;
            let (walked, left) = sys::reap();
            self.children_left = left;
            self.reap_more = walked.len() >= sys::REAP_BATCH;
            statuses = walked;
        }
        for &pid in exited {
            // Not one the walk reaped: that pid may be another's by now.
            if statuses.iter().all(|&(p, _)| p != pid) {
                if let Some(st) = self.pids.reap_one(pid) {
                    statuses.push((pid, st));
                }
            }
        }
        let exits: Vec<(i32, Exit)> = statuses
            .into_iter()
            .filter_map(|(pid, st)| Some((pid, Exit::from_wait_status(st)?)))
            .collect();
        // First forget every pid of this batch (the handlers below rely on
        // it), so that handling one exit
        // (a run's end kills its check's group; a critical failure signals
        // the main command) never signals a pid reaped in the same batch,
        // which the kernel may already have given to a new process.
        if !exits.is_empty() {
            self.watch.changed = true;
        }
        for &(pid, exit) in &exits {
            if let Some(fd) = self.pids.reaped(pid).as_ref().and_then(sys::Proc::pidfd) {
                self.watch.unwatch(fd.as_raw_fd());
            }
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
