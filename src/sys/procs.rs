//! Children and other processes: reaping every exit, signalling a process
//! or group (by pidfd where the kernel has them: `Proc`), and finding every
//! descendant of tend in /proc for the last sweep of a shutdown.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// At most this many exits are reaped by one call of `reap`: orphans of a
/// fork bomb must not hold the loop. A caller that got this many calls it
/// again before it sleeps.
pub const REAP_BATCH: usize = 1024;

/// Reaps the children that have exited, at most `REAP_BATCH`: `(pid, wait
/// status)` of each exit (stop and continue reports, which reap nothing,
/// are left out). The bool is false when tend has no child left at all
/// (ECHILD). Each call walks every child of tend (`wait_consider_task`
/// on each): for orphans; tend's own children are reaped one at a time
/// through their pidfds where it has them (`Proc::reap`).
pub fn reap() -> (Vec<(i32, libc::c_int)>, bool) {
    let mut out = Vec::new();
    while out.len() < REAP_BATCH {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes one int to the pointer given.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                out.push((pid, status));
            }
            continue;
        }
        if pid == 0 {
            return (out, true);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            Errno::ECHILD => return (out, false),
            e => {
                log::error!("waitpid: {e}");
                return (out, true);
            }
        }
    }
    (out, true)
}

/// Whether children can be reaped one at a time through their pidfds
/// (`Proc::reap`): pidfds (Linux 5.3) and waitid's P_PIDFD (5.4), which a
/// seccomp profile may also refuse. Asked of tend's own pid, which is not
/// its child: ECHILD says the kernel understood.
pub fn pidfd_reaping() -> bool {
    Proc::open(std::process::id() as i32).is_ok_and(|me| me.reap() == Err(Errno::ECHILD))
}

/// Sends `sig` to every process tend is the ancestor of. As PID 1 that is
/// every other process of the namespace (kill(-1)); otherwise the
/// descendants found in /proc, so that a subreaper tend never signals
/// processes that are not its own. A pid read from /proc may be reaped and
/// reused before it is signalled: each is pinned with a pidfd and checked
/// again (same start time, parent still tend or one of its descendants)
/// before the signal goes through that pidfd.
pub fn kill_descendants(sig: i32) {
    let me = std::process::id() as i32;
    if me == 1 {
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        if unsafe { libc::kill(-1, sig) } != 0 && Errno::last() != Errno::ESRCH {
            log::warn!("kill(-1, {sig}): {}", Errno::last());
        }
        return;
    }
    signal_descendants(None, sig);
}

/// Sends `sig` to every descendant of tend in session `sid` (tend's own is
/// refused): what a daemon left behind, its workers or a helper it forked.
pub fn kill_session(sid: i32, sig: i32) {
    // SAFETY: getsid(2) takes a pid and touches no memory.
    if sid > 0 && sid != unsafe { libc::getsid(0) } {
        signal_descendants(Some(sid), sig);
    }
}

/// `kill_descendants` from /proc, of session `sid` only if given.
fn signal_descendants(sid: Option<i32>, sig: i32) {
    let me = std::process::id() as i32;
    let found = descendants(me);
    let ours = |ppid: i32| ppid == me || found.iter().any(|d| d.pid == ppid);
    let wanted = |d: &ProcStat| sid.is_none_or(|s| d.sid == s);
    for d in found.iter().filter(|d| wanted(d)) {
        let proc = match Proc::open(d.pid) {
            Ok(p) => p,
            Err(Errno::ESRCH) => continue,
            Err(e) => {
                log::warn!("pidfd_open({}): {e}", d.pid);
                continue;
            }
        };
        // Pinned now (a pidfd keeps the pid from reuse): is it still the
        // process that was found?
        match proc_stat(d.pid) {
            Some(now) if now.start == d.start && ours(now.ppid) && wanted(&now) => {}
            _ => continue,
        }
        if let Err(e) = proc.signal(sig) {
            if e != Errno::ESRCH {
                log::warn!("kill({}, {sig}): {e}", d.pid);
            }
        }
    }
}

/// One process as /proc/PID/stat shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ProcStat {
    pid: i32,
    ppid: i32,
    /// Session id.
    sid: i32,
    /// Start time in clock ticks after boot: a reused pid has another.
    start: u64,
}

/// At most this many processes are looked at in /proc: a fork bomb must
/// not make one wakeup of tend unbounded.
const MAX_PROCS: usize = 65536;

/// Reads /proc/PID/stat (at most 1 KiB; the line is a few hundred bytes).
fn proc_stat(pid: i32) -> Option<ProcStat> {
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = f.read(&mut buf).ok()?;
    parse_stat(pid, &buf[..n])
}

/// "pid (comm) state ppid ... starttime(22nd field) ...": comm may hold
/// spaces and ')', so fields are counted after the last ')'.
fn parse_stat(pid: i32, stat: &[u8]) -> Option<ProcStat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_whitespace();
    // After comm: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
    let ppid = fields.nth(1)?.parse().ok()?;
    let sid = fields.nth(1)?.parse().ok()?;
    let start = fields.nth(15)?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        sid,
        start,
    })
}

/// Whether `pid` is `root` or below it, following parents at most 64
/// levels up; None when `pid` (or a parent on the way) is gone.
pub fn descends_from(mut pid: i32, root: i32) -> Option<bool> {
    for _ in 0..64 {
        if pid == root {
            return Some(true);
        }
        if pid <= 1 {
            return Some(false);
        }
        pid = proc_stat(pid)?.ppid;
    }
    Some(false)
}

/// Every process below `root`, parents before their children.
fn descendants(root: i32) -> Vec<ProcStat> {
    let mut all: Vec<ProcStat> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten().take(MAX_PROCS) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(st) = proc_stat(pid) {
                all.push(st);
            }
        }
    }
    // Children of each parent; the walk marks each process once, so a
    // cycle (pids reused while /proc was read) cannot make it loop.
    all.sort_unstable_by_key(|p| p.ppid);
    let children = |ppid: i32| {
        let from = all.partition_point(|p| p.ppid < ppid);
        all[from..].iter().take_while(move |p| p.ppid == ppid)
    };
    let mut seen = std::collections::HashSet::from([root]);
    let mut found: Vec<ProcStat> = Vec::new();
    let mut parents = vec![root];
    while let Some(p) = parents.pop() {
        for c in children(p) {
            if seen.insert(c.pid) {
                found.push(*c);
                parents.push(c.pid);
            }
        }
    }
    found
}

/// The process group and session of `pid` when it is an unreaped child of
/// tend (an orphan it adopted, as PID 1 or subreaper); None for any other
/// process. waitid(WNOWAIT) reaps nothing and answers ECHILD for a pid that
/// is not tend's child; and a child's pid is not reused before tend reaps
/// it, so what is found stays true until then.
pub fn child_ids(pid: i32) -> Option<(i32, i32)> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: siginfo_t is plain data, for waitid to fill.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid(2) writes one siginfo_t to the pointer given.
    if unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) } != 0 {
        return None;
    }
    ids(pid)
}

/// The process group and session of `pid` now (a zombie keeps its own
/// until reaped). A daemon may call setsid after it wrote its pid file (or
/// after its parent wrote it, as Debian's nginx does): ask again before
/// relying on them. A 0 is a real answer: the group or session leader is
/// outside tend's pid namespace (`unshare --pid --fork` run from a shell);
/// only -1 is a failure.
pub fn ids(pid: i32) -> Option<(i32, i32)> {
    // SAFETY: getpgid(2) and getsid(2) take a pid and touch no memory.
    let ids = unsafe { (libc::getpgid(pid), libc::getsid(pid)) };
    (ids.0 >= 0 && ids.1 >= 0).then_some(ids)
}

/// When `pid` started, in clock ticks after boot, if /proc says.
pub fn start_time(pid: i32) -> Option<u64> {
    proc_stat(pid).map(|p| p.start)
}

/// A process that tend signals without ever hitting a reused pid.
///
/// A pid names whatever process has that number *now*: once a child is
/// reaped its number can go to a new process, and a kill(pid) meant for
/// the old one hits the new one. A pidfd (pidfd_open(2), Linux ≥ 5.3)
/// names the process itself: once it is reaped, pidfd_send_signal(2) fails
/// with ESRCH, and while the pidfd is open the number is not reused.
///
/// Use: open it right after `spawn` returns (`Proc::open(child.pid)`): the
/// child cannot have been reaped yet, since only tend reaps its children
/// and tend has one thread. Keep it beside the pid, signal through it, and
/// drop it when `reap` reports that pid. Without pidfds (ENOSYS on an old
/// kernel, EPERM from an old container seccomp profile) it holds no fd and
/// falls back to kill(pid), which is as safe only as long as the owner
/// drops the `Proc` when the pid is reaped, never later.
#[derive(Debug)]
pub struct Proc {
    pid: i32,
    fd: Option<OwnedFd>,
}

impl Proc {
    /// Tracks `pid`, which must be tend's own unreaped child (or, for a
    /// process that is not, one just checked to be the right one: the
    /// pidfd then pins it). ESRCH when there is no such process.
    pub fn open(pid: i32) -> Result<Proc, Errno> {
        Proc::open_with(pid, true)
    }

    fn open_with(pid: i32, use_pidfd: bool) -> Result<Proc, Errno> {
        if pid <= 0 {
            return Err(Errno::EINVAL);
        }
        if use_pidfd {
            // SAFETY: pidfd_open(2) takes a pid and flags and returns a
            // new fd (always close-on-exec) or -1.
            let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if r >= 0 {
                // SAFETY: r is a new fd that nothing else owns.
                let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(r as RawFd) };
                return Ok(Proc { pid, fd: Some(fd) });
            }
            // No pidfd (ENOSYS on an old kernel, EPERM from an old seccomp
            // profile, EMFILE when out of fds): track the pid alone.
            if Errno::last() == Errno::ESRCH {
                return Err(Errno::ESRCH);
            }
        }
        // SAFETY: kill(2) with signal 0 only checks that the pid exists.
        Errno::result(unsafe { libc::kill(pid, 0) })?;
        Ok(Proc { pid, fd: None })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd, when there is one: poll(2) sees it readable once the
    /// process has exited.
    pub fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Reaps this process if it has exited, through its pidfd
    /// (waitid(P_PIDFD), Linux 5.4), which looks at this child alone: its
    /// wait status, as waitpid gives it; None while it runs. ECHILD once
    /// reaped (the kernel hands out each exit once), or when it is not
    /// tend's child; EINVAL without a pidfd.
    pub fn reap(&self) -> Result<Option<libc::c_int>, Errno> {
        let Some(fd) = &self.fd else {
            return Err(Errno::EINVAL);
        };
        // SAFETY: siginfo_t is plain data, for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG;
        loop {
            // SAFETY: waitid(2) writes one siginfo_t to the pointer given.
            let r = unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    fd.as_raw_fd() as libc::id_t,
                    &mut info,
                    flags,
                )
            };
            match Errno::result(r) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        // SAFETY: waitid filled `info` for a child (or left it zeroed,
        // si_pid 0, when none had exited): its pid and status are set.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        // The wait status waitpid(2) would have given.
        Ok(Some(match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_DUMPED => (status & 0x7f) | 0x80,
            _ => status & 0x7f,
        }))
    }

    /// Sends `sig` to this process (0: only check that it is unreaped).
    /// ESRCH once it has been reaped; a zombie still takes (and ignores)
    /// signals.
    pub fn signal(&self, sig: i32) -> Result<(), Errno> {
        if let Some(fd) = &self.fd {
            // SAFETY: pidfd_send_signal(2) takes an fd, a signal, a null
            // siginfo (filled as kill(2) fills it) and flags 0.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if r == 0 {
                return Ok(());
            }
            match Errno::last() {
                Errno::ENOSYS => {}
                e => return Err(e),
            }
        }
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        Errno::result(unsafe { libc::kill(self.pid, sig) }).map(drop)
    }

    /// Sends `sig` to the process group this process leads (`spawn` makes
    /// every child a group leader: setsid, or setpgid for the main
    /// command).
    ///
    /// There is no pidfd for a group: this is kill(-pid), safe only while
    /// the leader is unreaped, since the group id is the leader's pid and
    /// that number cannot be reused while the leader exists, even as a
    /// zombie. So it first checks the leader (ESRCH once reaped; then
    /// nothing is sent), and nothing can reap it between that check and
    /// the kill: only tend reaps its children, on its one thread. Processes
    /// left in a group whose leader is reaped are reached with
    /// `kill_descendants`, never by the old group id.
    pub fn signal_group(&self, sig: i32) -> Result<(), Errno> {
        self.signal_pgid(self.pid, sig)
    }

    /// Sends `sig` to process group `pgid`, one this process is in (read
    /// just before), as `signal_group` does: only while this process is
    /// unreaped, which keeps the group id from reuse.
    pub fn signal_pgid(&self, pgid: i32, sig: i32) -> Result<(), Errno> {
        if pgid <= 1 {
            return Err(Errno::EINVAL);
        }
        self.signal(0)?;
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        Errno::result(unsafe { libc::kill(-pgid, sig) }).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{poll, pollfd};
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    #[test]
    fn parse_stat_counts_fields_after_the_last_paren() {
        let line = b"42 (a) b) c) S 7 42 43 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(
            parse_stat(42, line),
            Some(ProcStat {
                pid: 42,
                ppid: 7,
                sid: 43,
                start: 123456
            })
        );
        assert_eq!(parse_stat(1, b"garbage"), None);
        assert_eq!(parse_stat(1, b"1 (x) S"), None);
    }

    /// `sleep 1000` in a process group of its own, with its pid and, from
    /// `sh`, the pid of a background member of the group.
    fn group_with_member() -> (std::process::Child, i32) {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 1000 & echo $!; exec sleep 1000"])
            .process_group(0)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (child, line.trim().parse().unwrap())
    }

    /// Waits, bounded, until `p` has exited (its pidfd turns readable).
    fn wait_gone(p: &Proc) {
        let fd = p.pidfd().expect("a pidfd (Linux >= 5.3)");
        let mut fds = [pollfd(fd.as_raw_fd(), libc::POLLIN)];
        poll(&mut fds, Some(Duration::from_secs(20)));
        assert!(fds[0].revents & libc::POLLIN != 0, "{} still runs", p.pid);
    }

    #[test]
    fn proc_signals_its_live_child() {
        for use_pidfd in [true, false] {
            let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
            let p = Proc::open_with(child.id() as i32, use_pidfd).unwrap();
            assert_eq!(p.pidfd().is_some(), use_pidfd);
            p.signal(libc::SIGTERM).unwrap();
            let status = child.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGTERM));
        }
    }

    #[test]
    fn proc_never_signals_a_reaped_child() {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let p = Proc::open(child.id() as i32).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // Reaped: whatever now has that pid (the pidfd keeps the number
        // from reuse, but without it a new process could), nothing is sent.
        assert_eq!(p.signal(libc::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(p.signal_group(libc::SIGKILL), Err(Errno::ESRCH));
        assert_eq!(Proc::open(child.id() as i32).err(), Some(Errno::ESRCH));
    }

    #[test]
    fn proc_signals_the_group_while_the_leader_is_unreaped() {
        let (mut leader, member) = group_with_member();
        let p = Proc::open(leader.id() as i32).unwrap();
        let m = Proc::open(member).unwrap();
        // The leader exits first: a zombie, unreaped, still holds the
        // group id, so its group may still be signalled.
        p.signal(libc::SIGKILL).unwrap();
        wait_gone(&p);
        p.signal(0).expect("a zombie takes signals until reaped");
        p.signal_group(libc::SIGKILL).unwrap();
        wait_gone(&m);
        leader.wait().unwrap();
        assert_eq!(p.signal_group(libc::SIGKILL), Err(Errno::ESRCH));
    }

    #[test]
    // The children are reaped through their pidfds, which is the test.
    #[allow(clippy::zombie_processes)]
    fn proc_reaps_its_child_once_with_its_status() {
        let wait_status = |p: &Proc| loop {
            match p.reap() {
                Ok(Some(st)) => return st,
                Ok(None) => wait_gone(p),
                Err(e) => panic!("reap {}: {e}", p.pid),
            }
        };
        let code = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let p = Proc::open(code.id() as i32).unwrap();
        let st = wait_status(&p);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 7, "{st:#x}");
        assert_eq!(p.reap(), Err(Errno::ECHILD), "reaped once");
        let sleep = Command::new("sleep").arg("1000").spawn().unwrap();
        let p = Proc::open(sleep.id() as i32).unwrap();
        assert_eq!(p.reap(), Ok(None), "still running");
        p.signal(libc::SIGKILL).unwrap();
        let st = wait_status(&p);
        assert!(libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL);
        assert!(pidfd_reaping());
    }

    #[test]
    fn child_ids_knows_only_children() {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        let me = std::process::id() as i32;
        // SAFETY: getpgid(2) and getsid(2) take a pid and touch no memory.
        let mine = unsafe { (libc::getpgid(0), libc::getsid(0)) };
        assert_eq!(child_ids(pid), Some(mine));
        assert!(start_time(pid) >= start_time(me));
        assert_eq!(child_ids(me), None, "tend is not its own child");
        assert_eq!(child_ids(1), None);
        child.kill().unwrap();
        // Exited, not yet reaped: still a child, and waitid reaped nothing.
        let p = Proc::open(pid).unwrap();
        wait_gone(&p);
        assert!(child_ids(pid).is_some());
        child.wait().unwrap();
        assert_eq!(child_ids(pid), None);
    }
}
