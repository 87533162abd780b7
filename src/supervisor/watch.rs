//! What the loop waits on, kept up to date by change rather than rebuilt
//! every turn, so that one event costs the same with 10 or 1,000 services
//! (issue 14): the fds in an epoll set, the services' deadlines in a
//! min-heap, and a dirty list of the services whose fds or deadlines may have
//! changed since the last turn. Only those are looked at again (`sync`);
//! every path that changes a service's fds or timers goes through
//! `Supervisor::mark` (`feed` does).
//!
//! Output pipes whose queue is full (back-pressure) are parked: taken out
//! of the set when they are ready and their queue is full, put back once
//! it has room, so that a full queue costs nothing per idle service.
//!
//! Registrations are undone before their fd could be reused: within a
//! `sync`, every removal comes before any addition, and a service leaving
//! (`forget_all`) unwatches its fds while they are still open.

use super::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// epoll events taken in one wait: the rest stay ready for the next turn.
const BATCH: usize = 256;

/// What an fd of the epoll set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Signals,
    /// A control socket fd (the listener or a connection), by its number.
    Control(RawFd),
    Out(usize),
    Err(usize),
    NotifyFd(usize),
    Notify(usize),
    Tcp(usize),
    /// A connection on a socket of an on-demand service that waits for one.
    Listen(usize),
    Stdout,
    Stderr,
    /// The pidfd of a child, by its pid: readable once it has exited.
    Exit(i32),
}

impl Token {
    fn key(self) -> u64 {
        let (kind, n): (u64, usize) = match self {
            Token::Signals => (0, 0),
            Token::Control(fd) => (1, fd as usize),
            Token::Out(i) => (2, i),
            Token::Err(i) => (3, i),
            Token::NotifyFd(i) => (4, i),
            Token::Notify(i) => (5, i),
            Token::Tcp(i) => (6, i),
            Token::Listen(i) => (7, i),
            Token::Stdout => (8, 0),
            Token::Stderr => (9, 0),
            Token::Exit(pid) => (10, pid as usize),
        };
        kind << 32 | (n as u64 & 0xffff_ffff)
    }

    fn from_key(key: u64) -> Option<Token> {
        let n = (key & 0xffff_ffff) as usize;
        Some(match key >> 32 {
            0 => Token::Signals,
            1 => Token::Control(n as RawFd),
            2 => Token::Out(n),
            3 => Token::Err(n),
            4 => Token::NotifyFd(n),
            5 => Token::Notify(n),
            6 => Token::Tcp(n),
            7 => Token::Listen(n),
            8 => Token::Stdout,
            9 => Token::Stderr,
            10 => Token::Exit(n as i32),
            _ => return None,
        })
    }
}

/// What the epoll set holds for one service, and its deadline as filed.
#[derive(Default)]
pub(super) struct Watched {
    fds: Vec<RawFd>,
    timer: Option<Instant>,
    dirty: bool,
}

pub(super) struct Watch {
    epoll: sys::Epoll,
    ready: Vec<sys::Ready>,
    /// Services to look at again before the next wait.
    dirty: Vec<usize>,
    /// (deadline, service) of every service that has one, and stale
    /// entries (a deadline since changed: skipped when they come up, and
    /// dropped when the heap is rebuilt).
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Control fds registered: (fd, events, connection id).
    control: Vec<(RawFd, libc::c_short, u64)>,
    /// tend's stdout and stderr are watched for POLLOUT.
    outputs: [bool; 2],
    /// Output pipes not read while their queue is full: (service, stderr).
    parked: Vec<(usize, bool)>,
    /// Services whose main process is an adopted daemon (`pid-file`).
    pub adopted: Vec<usize>,
    /// A service's state, tend's phase or the main command changed: the
    /// work that looks at every service (starting held services, stopping
    /// in order, `wait`, the manager's summary) is due. Set by events;
    /// `begin_turn` moves it to `pending`, which that work answers; what
    /// the work itself changes is answered at the next turn, as ever.
    pub changed: bool,
    pending: bool,
}

impl Watch {
    pub fn new() -> nix::Result<Watch> {
        Ok(Watch {
            epoll: sys::Epoll::new()?,
            ready: vec![sys::Ready::empty(); BATCH],
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            control: Vec::new(),
            outputs: [false; 2],
            parked: Vec::new(),
            adopted: Vec::new(),
            changed: true,
            pending: false,
        })
    }

    pub fn begin_turn(&mut self) {
        self.pending = std::mem::take(&mut self.changed);
    }

    /// Something changed since the last turn, or during this one so far.
    pub fn any_change(&self) -> bool {
        self.pending || self.changed
    }

    pub fn watch_signals(&self, fd: RawFd) {
        self.epoll.watch(fd, libc::POLLIN, Token::Signals.key());
    }

    /// Watches the pidfd `fd` of child `pid` until `unwatch`, which must
    /// come before the pidfd is closed (`Supervisor::reap`).
    pub fn watch_exit(&self, fd: RawFd, pid: i32) -> nix::Result<()> {
        self.epoll
            .try_watch(fd, libc::POLLIN, Token::Exit(pid).key())
    }

    pub fn unwatch(&self, fd: RawFd) {
        self.epoll.unwatch(fd);
    }

    /// Waits (see `sys::Epoll::wait`); the tokens ready, with their events.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Vec<(Token, libc::c_short)> {
        let n = self.epoll.wait(&mut self.ready, timeout);
        self.ready[..n]
            .iter()
            .filter_map(|e| {
                Some((
                    Token::from_key(e.data())?,
                    e.events().bits() as libc::c_short,
                ))
            })
            .collect()
    }
}

impl Supervisor {
    /// The nearest service deadline (stale heap entries are dropped).
    pub(super) fn next_timer(&mut self) -> Option<Instant> {
        while let Some(&Reverse((t, i))) = self.watch.timers.peek() {
            if self.svcs.get(i).is_some_and(|s| s.watch.timer == Some(t)) {
                return Some(t);
            }
            self.watch.timers.pop();
        }
        None
    }

    /// Services whose deadline is at or before `now`, taken off the heap
    /// (`sync` files their next one).
    pub(super) fn due(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        while self.next_timer().is_some_and(|t| t <= now) {
            let Some(Reverse((_, i))) = self.watch.timers.pop() else {
                break;
            };
            self.svcs[i].watch.timer = None;
            due.push(i);
        }
        due
    }

    /// Service i's fds, deadlines or state may have changed: look at it
    /// again before the next wait.
    pub(super) fn mark(&mut self, i: usize) {
        self.watch.changed = true;
        if let Some(s) = self.svcs.get_mut(i) {
            if !std::mem::replace(&mut s.watch.dirty, true) {
                self.watch.dirty.push(i);
            }
        }
    }

    pub(super) fn mark_all(&mut self) {
        for i in 0..self.svcs.len() {
            self.mark(i);
        }
    }

    /// Before service indexes shift (a service leaves): unwatches every
    /// service's fds while they are still open and forgets every deadline;
    /// all are filed again, under their new indexes, at the next `sync`.
    pub(super) fn forget_all(&mut self) {
        for s in &mut self.svcs {
            for fd in s.watch.fds.drain(..) {
                self.watch.epoll.unwatch(fd);
            }
            s.watch.timer = None;
            s.watch.dirty = false;
        }
        self.watch.timers.clear();
        self.watch.dirty.clear();
        self.watch.parked.clear();
        self.watch.adopted.clear();
        self.watch.changed = true;
    }

    /// Brings the epoll set and the timers up to date with the services
    /// marked since the last call, tend's output queues and the control
    /// socket's connections. Removals first, then additions.
    pub(super) fn sync(&mut self) {
        let dirty = std::mem::take(&mut self.watch.dirty);
        let epoll = &self.watch.epoll;
        for &i in &dirty {
            for fd in self.svcs[i].watch.fds.drain(..) {
                epoll.unwatch(fd);
            }
        }
        let mut control = Vec::new();
        if let Some(c) = &self.control {
            c.interest(&mut control);
        }
        for old in &self.watch.control {
            if !control.contains(old) {
                epoll.unwatch(old.0);
            }
        }
        let queued = [self.stdout.wants_poll(), self.stderr.wants_poll()];
        let fds = [self.stdout.fd, self.stderr.fd];
        for k in 0..2 {
            if self.watch.outputs[k] && !queued[k] {
                epoll.unwatch(fds[k]);
            }
        }
        // Additions.
        for &i in &dirty {
            let s = &mut self.svcs[i];
            s.watch.dirty = false;
            let mut fds = std::mem::take(&mut s.watch.fds);
            let mut add = |fd: RawFd, events: libc::c_short, t: Token| {
                epoll.watch(fd, events, t.key());
                fds.push(fd);
            };
            s.pipes.poll(i, &mut add);
            s.probes.poll(i, &mut add);
            s.sockets.poll(i, &mut add);
            s.watch.fds = fds;
            let due = s.due();
            if due != s.watch.timer {
                if let Some(t) = due {
                    self.watch.timers.push(Reverse((t, i)));
                }
                s.watch.timer = due;
            }
            let adopted = &mut self.watch.adopted;
            match (s.sm.adopted, adopted.iter().position(|&a| a == i)) {
                (true, None) => adopted.push(i),
                (false, Some(k)) => drop(adopted.swap_remove(k)),
                _ => {}
            }
        }
        // Stale entries outnumber the live ones: rebuild (amortized O(1)).
        if self.watch.timers.len() > 2 * self.svcs.len() + 64 {
            self.watch.timers = (0..self.svcs.len())
                .filter_map(|i| Some(Reverse((self.svcs[i].watch.timer?, i))))
                .collect();
        }
        for new in &control {
            if !self.watch.control.contains(new) && new.0 >= 0 {
                epoll.watch(new.0, new.1, Token::Control(new.0).key());
            }
        }
        self.watch.control = control;
        let tokens = [Token::Stdout, Token::Stderr];
        for k in 0..2 {
            if queued[k] && !self.watch.outputs[k] {
                epoll.watch(fds[k], libc::POLLOUT, tokens[k].key());
            }
        }
        self.watch.outputs = queued;
        self.unpark();
        #[cfg(debug_assertions)]
        self.check_watch();
    }

    /// Output of service i is waiting but its queue is full: the pipe
    /// stays quiet until `unpark`.
    pub(super) fn park(&mut self, i: usize, stderr: bool) {
        let s = &self.svcs[i];
        let pipe = if stderr {
            &s.pipes.stderr
        } else {
            &s.pipes.stdout
        };
        if let Some(p) = pipe {
            // Out of the set rather than quiet in it: a hangup is reported
            // whatever the events asked for.
            self.watch.epoll.unwatch(p.r.as_raw_fd());
            if !self.watch.parked.contains(&(i, stderr)) {
                self.watch.parked.push((i, stderr));
            }
        }
    }

    /// Parked pipes whose queue has room again are watched again.
    fn unpark(&mut self) {
        if self.watch.parked.is_empty() {
            return;
        }
        let room = [!self.stdout.full(), !self.stderr.full()];
        let parked = std::mem::take(&mut self.watch.parked);
        for (i, stderr) in parked {
            if !room[stderr as usize] {
                self.watch.parked.push((i, stderr));
                continue;
            }
            let Some(s) = self.svcs.get(i) else { continue };
            let (pipe, t) = match stderr {
                true => (s.pipes.stderr.as_ref(), Token::Err(i)),
                false => (
                    s.pipes.stdout.as_ref().filter(|_| s.pipes.reads_out()),
                    Token::Out(i),
                ),
            };
            if let Some(p) = pipe {
                self.watch
                    .epoll
                    .watch(p.r.as_raw_fd(), libc::POLLIN, t.key());
            }
        }
    }

    /// Debug builds: what `sync` filed is what a full rebuild would file
    /// (a path that changes a service without `mark` shows here).
    #[cfg(debug_assertions)]
    fn check_watch(&self) {
        for (i, s) in self.svcs.iter().enumerate() {
            let mut want = Vec::new();
            let mut add = |fd: RawFd, _: libc::c_short, _: Token| want.push(fd);
            s.pipes.poll(i, &mut add);
            s.probes.poll(i, &mut add);
            s.sockets.poll(i, &mut add);
            let due = s.due();
            debug_assert_eq!(want, s.watch.fds, "{}: fds not synced", s.spec.name);
            debug_assert_eq!(due, s.watch.timer, "{}: timer not synced", s.spec.name);
        }
    }
}
