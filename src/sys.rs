//! The only home of syscalls: signal masks and the signalfd, spawning
//! children (mask handed back, new session or process group, fds moved,
//! the command found on the child's own PATH), reaping, killing (by pidfd
//! where the kernel has them: `Proc`), polling, PID-1 and subreaper setup.
//! Each function does one thing and reports errors; policy lives in the
//! supervisor.

use crate::state::Exit;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Blocks every catchable signal (they are read from a signalfd instead)
/// and returns the mask tend inherited, to be handed back to children.
pub fn block_signals() -> nix::Result<SigSet> {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))?;
    Ok(old)
}

/// A non-blocking signalfd for every signal that `block_signals` blocked.
pub fn signal_fd() -> nix::Result<SignalFd> {
    let mut all = SigSet::all();
    all.remove(Signal::SIGKILL);
    all.remove(Signal::SIGSTOP);
    SignalFd::with_flags(&all, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
}

/// One signal read from the signalfd.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub signo: i32,
    /// Raised by tend's own doing: a write to a closed pipe (SIGPIPE), a
    /// file size or CPU limit (SIGXFSZ, SIGXCPU). The kernel sends these
    /// as from tend itself (si_pid is tend's pid) or as SI_KERNEL; they
    /// are not the user's to forward.
    pub self_inflicted: bool,
}

/// Drains the signalfd: the signals received, in order.
pub fn read_signals(fd: &mut SignalFd) -> Vec<Received> {
    let me = std::process::id();
    let mut out = Vec::new();
    while let Ok(Some(info)) = fd.read_signal() {
        let signo = info.ssi_signo as i32;
        let own = matches!(signo, libc::SIGPIPE | libc::SIGXFSZ | libc::SIGXCPU)
            && (info.ssi_pid == me || info.ssi_code == libc::SI_KERNEL);
        out.push(Received {
            signo,
            self_inflicted: own,
        });
    }
    out
}

/// How a child is set up between fork and exec.
pub struct Spawn<'a> {
    pub argv: &'a [String],
    pub cwd: Option<&'a std::path::Path>,
    pub env: &'a [(String, Option<String>)],
    /// Services and scripts: a session of their own (setsid), stdin from
    /// /dev/null. The main command: a process group of its own, tend's
    /// stdin, and the terminal's foreground when stdin is one.
    pub main: bool,
    pub mask: &'a SigSet,
    /// Replacements for stdin, stdout, stderr (a logger's pipe, or tend's
    /// log pipes); None keeps the default.
    pub stdio: [Option<RawFd>; 3],
    /// `(fd, n)`: `fd` appears as fd `n` in the child (notification-fd).
    pub extra_fd: Option<(RawFd, i32)>,
    /// Run as this user (`user` in service.toml).
    pub user: Option<&'a crate::config::User>,
    /// Listening sockets, passed as fds 3, 4, ... with LISTEN_PID set to
    /// the child's pid (sd_listen_fds(3)); LISTEN_FDS and LISTEN_FDNAMES
    /// come in `env`.
    pub listen_fds: &'a [RawFd],
}

impl<'a> Spawn<'a> {
    pub fn new(argv: &'a [String], mask: &'a SigSet) -> Spawn<'a> {
        Spawn {
            argv,
            cwd: None,
            env: &[],
            main: false,
            mask,
            stdio: [None; 3],
            extra_fd: None,
            user: None,
            listen_fds: &[],
        }
    }
}

/// Exit status for a program that could not be executed: 127 when it was
/// not found, 126 otherwise (as a shell and tini report it).
pub fn exec_failure(err: &std::io::Error) -> Exit {
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Exit::Code(127),
        _ => Exit::Code(126),
    }
}

/// A child just started: its pid and, when its exec failed, why (the
/// child has then exited 127 or 126, to be reaped like any other).
pub struct Child {
    pub pid: i32,
    pub exec_err: Option<std::io::Error>,
}

/// What the child needs between clone and exec, all built beforehand: the
/// child runs on a borrowed stack in tend's memory and may only read this
/// and make async-signal-safe calls.
struct ChildPlan {
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// The paths to execve, in order: the command itself when it holds a
    /// '/', else each directory of the child's PATH joined with it (what
    /// execvp(3) would try, but with the child's PATH, not tend's).
    exec_paths: Vec<*const libc::c_char>,
    cwd: Option<std::ffi::CString>,
    main: bool,
    mask: libc::sigset_t,
    /// The ids to switch to; each None when tend already has it.
    ids: Ids,
    /// `(source, target)` fds to put in place: stdio replacements, the
    /// notification-fd pipe and the listening sockets. The child overwrites
    /// each source with its temporary copy.
    moves: Vec<(RawFd, i32)>,
    /// An fd number above every target, where the temporaries go.
    above: i32,
    /// The `LISTEN_PID=` entry of envp, whose digits the child writes.
    listen_pid: Option<*mut u8>,
    /// Written by the child when it fails before or at exec.
    errno: i32,
}

/// The credentials a child switches to, each only when it differs from
/// tend's own: a tend that is not root can then still run a service whose
/// `user` is itself, and root gets exactly the gid and groups asked for.
#[derive(Debug, Default, PartialEq)]
struct Ids {
    groups: Option<Vec<libc::gid_t>>,
    gid: Option<u32>,
    uid: Option<u32>,
}

impl Ids {
    /// What must change to run as `u`, given tend's (real, effective,
    /// saved) uid and gid and its supplementary groups.
    fn to_switch(u: &crate::config::User, uids: [u32; 3], gids: [u32; 3], groups: &[u32]) -> Ids {
        let mut want = u.groups.clone();
        want.sort_unstable();
        want.dedup();
        let mut have = groups.to_vec();
        have.sort_unstable();
        have.dedup();
        Ids {
            groups: (want != have).then_some(u.groups.clone()),
            gid: (gids != [u.gid; 3]).then_some(u.gid),
            uid: (uids != [u.uid; 3]).then_some(u.uid),
        }
    }

    /// The same, against tend's credentials now.
    fn for_user(u: &crate::config::User) -> Ids {
        let (mut r, mut e, mut s) = (0, 0, 0);
        // SAFETY: getresuid writes one uid to each pointer given.
        unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
        let uids = [r, e, s];
        // SAFETY: getresgid writes one gid to each pointer given.
        unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
        let gids = [r, e, s];
        // Unknown groups: assume they differ (the switch then sets them).
        let groups = nix::unistd::getgroups()
            .map(|g| g.iter().map(|g| g.as_raw()).collect())
            .unwrap_or_else(|_| vec![u32::MAX]);
        Ids::to_switch(u, uids, gids, &groups)
    }
}

/// The child side of `spawn`: set up, exec; on failure record errno and
/// exit 127 (not found) or 126.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the ChildPlan that `spawn` keeps alive and does not
    // touch until this child has exec'd or exited (CLONE_VFORK).
    unsafe {
        let plan = &mut *(arg as *mut ChildPlan);
        let fail = |plan: &mut ChildPlan| -> ! {
            let e = *libc::__errno_location();
            plan.errno = if e == 0 { libc::EINVAL } else { e };
            let code = if e == libc::ENOENT || e == libc::ENOTDIR {
                127
            } else {
                126
            };
            libc::_exit(code)
        };
        // Every signal is still blocked (tend blocks them all), so
        // tcsetpgrp from a background group raises no SIGTTOU.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL); // the Rust runtime ignored it
        if plan.main {
            if libc::setpgid(0, 0) != 0 {
                fail(plan);
            }
            if libc::isatty(0) == 1 {
                // Best effort: a terminal owned by another session refuses.
                libc::tcsetpgrp(0, libc::getpid());
            }
        } else if libc::setsid() < 0 {
            fail(plan);
        }
        // Two passes, so that no dup2 lands on a source not yet copied,
        // whatever the numbers (a source may be another move's target, e.g.
        // a listening socket that tend holds as fd 5 with notification-fd
        // 5): every source to a fresh fd above all targets, then each into
        // place. dup2 clears close-on-exec; the temporaries keep it.
        for m in plan.moves.iter_mut() {
            m.0 = libc::fcntl(m.0, libc::F_DUPFD_CLOEXEC, plan.above);
            if m.0 < 0 {
                fail(plan);
            }
        }
        for &(tmp, target) in plan.moves.iter() {
            if libc::dup2(tmp, target) < 0 {
                fail(plan);
            }
        }
        if let Some(digits) = plan.listen_pid {
            write_decimal(digits, libc::getpid());
        }
        if let Some(dir) = &plan.cwd {
            if libc::chdir(dir.as_ptr()) != 0 {
                fail(plan);
            }
        }
        // Raw syscalls: libc's set*id wrappers synchronise every thread of
        // the process, and this child shares tend's memory. Groups first,
        // then gid, then uid: after that, no way back.
        if let Some(groups) = &plan.ids.groups {
            if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
                fail(plan);
            }
        }
        if let Some(gid) = plan.ids.gid {
            if libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0 {
                fail(plan);
            }
        }
        if let Some(uid) = plan.ids.uid {
            if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
                fail(plan);
            }
        }
        libc::sigprocmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
        // execvp(3)'s rules over the paths found before clone: a path that
        // is not there is skipped, one that may not be executed is
        // remembered (EACCES, 126, when nothing else runs), any other error
        // ends the search.
        let mut err = libc::ENOENT;
        let mut denied = false;
        for &path in plan.exec_paths.iter() {
            libc::execve(path, plan.argv.as_ptr(), plan.envp.as_ptr());
            err = *libc::__errno_location();
            match err {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR => {}
                _ => break,
            }
        }
        if denied && matches!(err, libc::EACCES | libc::ENOENT | libc::ENOTDIR) {
            err = libc::EACCES;
        }
        *libc::__errno_location() = err;
        fail(plan)
    }
}

/// Writes `n` in decimal at `at`, then a NUL, into room for 10 digits.
///
/// # Safety
/// `at` must point to 11 writable bytes.
unsafe fn write_decimal(at: *mut u8, mut n: i32) {
    let mut buf = [0u8; 10];
    let mut len = 0;
    loop {
        buf[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 || len == buf.len() {
            break;
        }
    }
    for i in 0..len {
        *at.add(i) = buf[len - 1 - i];
    }
    *at.add(len) = 0;
}

/// Bytes of stack for the child between clone and exec (it only makes
/// syscalls; paths are built beforehand).
const CHILD_STACK: usize = 32 * 1024;

/// Variables of tend's own environment that no child gets (SPEC §7): they
/// speak of tend's manager (its notify socket, the sockets and watchdog it
/// gave tend) or set tend's own options. A service gets its own notify
/// socket and sockets from the supervisor, in `Spawn::env`.
fn is_tends_own(name: &[u8]) -> bool {
    matches!(
        name,
        b"NOTIFY_SOCKET"
            | b"LISTEN_FDS"
            | b"LISTEN_PID"
            | b"LISTEN_FDNAMES"
            | b"WATCHDOG_USEC"
            | b"WATCHDOG_PID"
    ) || name.starts_with(b"TEND_")
}

/// The variable name of a `NAME=value` entry.
fn env_name(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or_default()
}

/// execvp(3)'s search path when PATH is unset (musl's, as the static
/// binary's execvp used).
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/bin:/usr/bin";

/// At most this many PATH entries are tried (the rest are dropped with a
/// warning): a hostile PATH must not make tend build megabytes of paths.
const MAX_PATH_ENTRIES: usize = 256;

/// The paths execvp(3) would try for `cmd` with `path` as PATH (None:
/// unset), in order: `cmd` itself when it holds a '/', else each entry
/// joined with it (an empty entry is the current directory). Entries too
/// long for the kernel to take are skipped, as execvp skips them.
fn exec_candidates(cmd: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if cmd.contains(&b'/') {
        return vec![cmd.to_vec()];
    }
    if cmd.is_empty() {
        return Vec::new();
    }
    let path = path.unwrap_or(DEFAULT_PATH);
    let entries = path.split(|&b| b == b':');
    let n = entries.clone().count();
    if n > MAX_PATH_ENTRIES {
        log::warn!(
            "PATH has {n} entries: only the first {MAX_PATH_ENTRIES} are searched for {}",
            String::from_utf8_lossy(cmd)
        );
    }
    entries
        .take(MAX_PATH_ENTRIES)
        .filter(|dir| dir.len() + 1 + cmd.len() < libc::PATH_MAX as usize)
        .map(|dir| match dir {
            b"" => cmd.to_vec(),
            _ => [dir, b"/", cmd].concat(),
        })
        .collect()
}

/// Starts a child the way posix_spawn does: clone(CLONE_VM | CLONE_VFORK)
/// shares tend's memory until the exec, so there are no page tables to copy
/// and no copy-on-write faults after, and tend resumes once the child has
/// exec'd, knowing whether the exec failed.
pub fn spawn(s: &Spawn) -> std::io::Result<Child> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstr =
        |b: &[u8]| CString::new(b).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL));
    if s.argv.is_empty() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    let argv: Vec<CString> = s
        .argv
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    // tend's environment (read once: it does not change) without what is
    // tend's own, with the service's changes applied.
    static BASE_ENV: std::sync::OnceLock<Vec<CString>> = std::sync::OnceLock::new();
    let base = BASE_ENV.get_or_init(|| {
        std::env::vars_os()
            .filter(|(k, _)| !is_tends_own(k.as_bytes()))
            .filter_map(|(k, v)| CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).ok())
            .collect()
    });
    let changed = |entry: &CString| {
        let name = env_name(entry.as_bytes());
        s.env.iter().any(|(k, _)| k.as_bytes() == name)
    };
    // A later change of the same variable wins (service.toml over env/
    // over the user's HOME).
    let last: Vec<&(String, Option<String>)> = s
        .env
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| !s.env[i + 1..].iter().any(|(k2, _)| k2 == k))
        .map(|(_, e)| e)
        .collect();
    let extra_env: Vec<CString> = last
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        })
        .collect::<Result<_, _>>()?;
    // The command is searched on the child's PATH (its own, else tend's),
    // not on tend's: execvpe(3) would read tend's.
    let path = match last.iter().find(|(k, _)| k == "PATH") {
        Some((_, v)) => v.as_ref().map(|v| v.as_bytes()),
        None => base
            .iter()
            .find(|e| env_name(e.as_bytes()) == b"PATH")
            .map(|e| &e.as_bytes()[5..]),
    };
    let exec_paths: Vec<CString> = exec_candidates(argv[0].as_bytes(), path)
        .into_iter()
        .map(|p| cstr(&p))
        .collect::<Result<_, _>>()?;
    // LISTEN_PID is the child's own pid, known only in the child: room for
    // it is made here, the digits are written there.
    let mut listen_pid_entry: Vec<u8> = b"LISTEN_PID=\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let listen_pid_ptr = (!s.listen_fds.is_empty()).then(|| {
        // SAFETY: 11 bytes of room follow the 11 bytes of "LISTEN_PID=".
        unsafe { listen_pid_entry.as_mut_ptr().add(11) }
    });
    static DEVNULL: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    let devnull = if s.main {
        None
    } else {
        DEVNULL
            .get_or_init(|| std::fs::File::open("/dev/null").ok())
            .as_ref()
    };
    let stdio = [
        s.stdio[0].or(devnull.map(|f| f.as_raw_fd())),
        s.stdio[1],
        s.stdio[2],
    ];
    let moves: Vec<(RawFd, i32)> = stdio
        .iter()
        .enumerate()
        .filter_map(|(n, fd)| fd.map(|fd| (fd, n as i32)))
        .chain(s.extra_fd)
        .chain(
            s.listen_fds
                .iter()
                .enumerate()
                .map(|(i, &fd)| (fd, 3 + i as i32)),
        )
        .collect();
    let above = moves.iter().map(|&(_, t)| t).max().unwrap_or(2) + 1;
    let mut plan = ChildPlan {
        argv: argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([std::ptr::null()])
            .collect(),
        envp: base
            .iter()
            .filter(|e| !changed(e))
            .chain(&extra_env)
            .map(|e| e.as_ptr())
            .chain(listen_pid_ptr.map(|_| listen_pid_entry.as_ptr().cast()))
            .chain([std::ptr::null()])
            .collect(),
        exec_paths: exec_paths.iter().map(|p| p.as_ptr()).collect(),
        cwd: match s.cwd {
            Some(d) => Some(cstr(d.as_os_str().as_bytes())?),
            None => None,
        },
        main: s.main,
        moves,
        above,
        listen_pid: listen_pid_ptr,
        mask: *s.mask.as_ref(),
        ids: s.user.map(Ids::for_user).unwrap_or_default(),
        errno: 0,
    };
    let mut stack = vec![0u8; CHILD_STACK];
    // The stack grows down: pass its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
    // SAFETY: child_main only reads `plan` and writes its errno and moves;
    // `plan`, `stack` and everything they point to outlive the call,
    // because CLONE_VFORK suspends tend until the child has exec'd or
    // exited.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut plan as *mut ChildPlan).cast(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let errno = plan.errno;
    Ok(Child {
        pid,
        exec_err: (errno != 0).then(|| std::io::Error::from_raw_os_error(errno)),
    })
}

/// What a wait(2) status says: the exit code, or the signal that killed
/// the child (any, 1 to 64: nix's waitpid failed with EINVAL on the
/// real-time ones after the kernel had reaped the child, and the exit was
/// lost). None for a stop or continue report, which reaps nothing.
pub fn decode_status(status: libc::c_int) -> Option<Exit> {
    if libc::WIFEXITED(status) {
        Some(Exit::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Exit::Signal(libc::WTERMSIG(status)))
    } else {
        None
    }
}

/// Reaps every child that has exited. The bool is false when tend has no
/// child left at all (ECHILD). Each turn of the loop reaps one child (or
/// consumes one stop report), so it ends.
pub fn reap() -> (Vec<(i32, Exit)>, bool) {
    let mut out = Vec::new();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes one int to the pointer given.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            if let Some(exit) = decode_status(status) {
                out.push((pid, exit));
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
}

/// Sends `sig` to a process (`pid` > 0) or a process group (`pid` < -1).
/// A process already gone is not an error. 0 and -1 are refused: they
/// would signal tend's own group or every process (a pid that was never
/// set must not become that).
pub fn kill(pid: i32, sig: i32) {
    if pid == 0 || pid == -1 || pid == i32::MIN {
        debug_assert!(false, "kill({pid}, {sig})");
        log::warn!("refused to send signal {sig} to pid {pid}");
        return;
    }
    // SAFETY: kill(2) takes plain integers and has no memory effects.
    let r = unsafe { libc::kill(pid, sig) };
    if r != 0 {
        let e = Errno::last();
        if e != Errno::ESRCH {
            log::warn!("kill({pid}, {sig}): {e}");
        }
    }
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
    let found = descendants(me);
    let ours = |ppid: i32| ppid == me || found.iter().any(|d| d.pid == ppid);
    for d in &found {
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
            Some(now) if now.start == d.start && ours(now.ppid) => {}
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
    // After comm: state(3) ppid(4) ... starttime(22).
    let ppid = fields.nth(1)?.parse().ok()?;
    let start = fields.nth(17)?.parse().ok()?;
    Some(ProcStat { pid, ppid, start })
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

/// A listening stream socket for `listen` (close-on-exec in tend; the
/// child gets it by dup2). A stale unix socket file is replaced; the new
/// one is mode 0666 (as systemd's SocketMode), and `owner` chowns it for a
/// service that runs as another user.
pub fn listen_socket(
    addr: &crate::scan::ListenAddr,
    owner: Option<(u32, u32)>,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use crate::scan::ListenAddr;
    use nix::sys::socket::{
        self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr,
    };
    let family = match addr {
        ListenAddr::Tcp(std::net::SocketAddr::V4(_)) => AddressFamily::Inet,
        ListenAddr::Tcp(std::net::SocketAddr::V6(_)) => AddressFamily::Inet6,
        ListenAddr::Unix(_) => AddressFamily::Unix,
    };
    let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    match addr {
        ListenAddr::Tcp(a) => {
            socket::setsockopt(&fd, socket::sockopt::ReuseAddr, &true)?;
            match a {
                std::net::SocketAddr::V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(*a))?,
                std::net::SocketAddr::V6(a) => {
                    socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(*a))?
                }
            }
        }
        ListenAddr::Unix(path) => {
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Only a stale socket is replaced: a regular file (or anything
            // else) at that path is the user's mistake, not tend's to delete.
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
                _ => {}
            }
            socket::bind(fd.as_raw_fd(), &UnixAddr::new(path.as_path())?)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
            }
            // bind(2) leaves the mode to the umask (0755 under 022, which
            // other users cannot connect to); systemd's SocketMode default
            // is 0666.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        }
    }
    socket::listen(
        &fd,
        socket::Backlog::new(128).unwrap_or(socket::Backlog::MAXCONN),
    )?;
    Ok(fd)
}

/// A close-on-exec pipe `(read, write)`; with `nonblocking_read` the read
/// end, which only tend reads, does not block (the write end, given to a
/// child, stays blocking as programs expect).
pub fn pipe(nonblocking_read: bool) -> nix::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    if nonblocking_read {
        set_nonblocking(&r, true)?;
    }
    Ok((r, w))
}

/// Sets or clears O_NONBLOCK on an fd: a pipe's read end that tend reads
/// must not block; one handed to a logger must (programs expect it).
pub fn set_nonblocking(fd: &impl std::os::fd::AsFd, on: bool) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    let flags = if on {
        flags | OFlag::O_NONBLOCK
    } else {
        flags - OFlag::O_NONBLOCK
    };
    fcntl(fd, FcntlArg::F_SETFL(flags)).map(drop)
}

/// One write(2) to a raw fd (tend's own stdout or stderr).
pub fn write_fd(fd: RawFd, bytes: &[u8]) -> Result<usize, Errno> {
    // SAFETY: writes from a live buffer of bytes.len() bytes.
    let r = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// How many bytes wait to be read in a pipe or socket (FIONREAD).
pub fn bytes_waiting(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer given.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if r == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// 64 random bits from the kernel (getrandom), for names that must not
/// collide between tends; the clock when that fails.
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // The raw syscall, not libc's getrandom(): in the static non-PIE musl
    // build that symbol resolved to a null weak reference and tend died of
    // SIGSEGV on its first call.
    // SAFETY: getrandom(2) writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            buf.as_mut_ptr(),
            buf.len(),
            libc::GRND_NONBLOCK,
        )
    };
    if n == 8 {
        u64::from_ne_bytes(buf)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

/// Ends tend at once with `code`, running nothing more of its own (the
/// panic policy: state may be half-updated).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// Makes tend the reaper of orphans below it when it is not PID 1.
pub fn set_child_subreaper() -> nix::Result<()> {
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// tini's `-p`: tend gets `sig` when its parent dies.
pub fn set_parent_death_signal(sig: i32) -> nix::Result<()> {
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Waits until one of `fds` has an event or `timeout` passes (None: no
/// timeout); `revents` is filled in.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) {
    let ms = match timeout {
        None => -1,
        // Round up so that a deadline is not woken for 1 ms early, in a loop.
        Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
    };
    // SAFETY: fds is a valid, exclusively borrowed array of fds.len() pollfds.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        for p in fds.iter_mut() {
            p.revents = 0;
        }
    }
}

pub fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// The uid of the process at the other end of a unix socket.
pub fn peer_uid(fd: &impl std::os::fd::AsFd) -> Option<u32> {
    nix::sys::socket::getsockopt(fd, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

pub fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

pub fn raw(fd: &SignalFd) -> RawFd {
    fd.as_raw_fd()
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
            match Errno::last() {
                Errno::ENOSYS | Errno::EPERM => {}
                e => return Err(e),
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
        self.signal(0)?;
        // SAFETY: kill(2) takes plain integers and has no memory effects.
        Errno::result(unsafe { libc::kill(-self.pid, sig) }).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Read};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    #[test]
    fn decode_status_reads_every_signal_and_code() {
        // (raw wait status, what it says), as the kernel encodes them.
        let table = [
            (0x0000, Some(Exit::Code(0))),
            (0x0300, Some(Exit::Code(3))),
            (0xff00, Some(Exit::Code(255))),
            (9, Some(Exit::Signal(9))),
            (0x80 | 6, Some(Exit::Signal(6))), // core dumped
            (37, Some(Exit::Signal(37))),      // real-time: nix lost these
            (40, Some(Exit::Signal(40))),
            (64, Some(Exit::Signal(64))),
            (0x137f, None), // stopped by SIGSTOP
            (0xffff, None), // continued
        ];
        for (raw, want) in table {
            assert_eq!(decode_status(raw), want, "status {raw:#x}");
        }
    }

    #[test]
    fn exec_candidates_follow_execvp() {
        let c = |cmd: &str, path: Option<&str>| -> Vec<String> {
            exec_candidates(cmd.as_bytes(), path.map(str::as_bytes))
                .into_iter()
                .map(|p| String::from_utf8(p).unwrap())
                .collect()
        };
        assert_eq!(c("/bin/sh", Some("/x")), ["/bin/sh"]);
        assert_eq!(c("./run", Some("/x")), ["./run"]);
        assert_eq!(c("sh", Some("/a:/b/")), ["/a/sh", "/b//sh"]);
        assert_eq!(c("sh", Some("/a::/b")), ["/a/sh", "sh", "/b/sh"]);
        assert_eq!(
            c("sh", None),
            ["/usr/local/bin/sh", "/bin/sh", "/usr/bin/sh"]
        );
        assert!(c("", Some("/a")).is_empty());
        let long = format!("/{}", "d".repeat(5000));
        assert_eq!(c("sh", Some(&format!("{long}:/a"))), ["/a/sh"]);
        let many = vec!["/a"; 10_000].join(":");
        assert_eq!(c("sh", Some(&many)).len(), MAX_PATH_ENTRIES);
    }

    #[test]
    fn ids_switch_whatever_differs() {
        let user = |uid, gid, groups: &[u32]| crate::config::User {
            name: None,
            uid,
            gid,
            groups: groups.to_vec(),
            home: None,
        };
        // `user = "0:5"` as root: the uid is tend's, the gid is not.
        assert_eq!(
            Ids::to_switch(&user(0, 5, &[5]), [0; 3], [0; 3], &[0]),
            Ids {
                groups: Some(vec![5]),
                gid: Some(5),
                uid: None
            }
        );
        // Already exactly that user (tend not root): nothing to do.
        assert_eq!(
            Ids::to_switch(
                &user(1000, 1000, &[1000, 27]),
                [1000; 3],
                [1000; 3],
                &[27, 1000]
            ),
            Ids::default()
        );
        // Another user: everything.
        assert_eq!(
            Ids::to_switch(&user(65534, 65534, &[65534]), [0; 3], [0; 3], &[0]),
            Ids {
                groups: Some(vec![65534]),
                gid: Some(65534),
                uid: Some(65534)
            }
        );
        // A saved uid of root left behind would be a way back: switch.
        assert_eq!(
            Ids::to_switch(&user(1000, 1000, &[]), [1000, 1000, 0], [1000; 3], &[]).uid,
            Some(1000)
        );
    }

    #[test]
    fn parse_stat_counts_fields_after_the_last_paren() {
        let line = b"42 (a) b) c) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(
            parse_stat(42, line),
            Some(ProcStat {
                pid: 42,
                ppid: 7,
                start: 123456
            })
        );
        assert_eq!(parse_stat(1, b"garbage"), None);
        assert_eq!(parse_stat(1, b"1 (x) S"), None);
    }

    /// Waits for `pid` (a child spawned by `spawn`, not by Command) and
    /// decodes its status.
    fn wait_pid(pid: i32) -> Exit {
        let mut status = 0;
        // SAFETY: waitpid writes one int to the pointer given.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid, "waitpid: {}", Errno::last());
        decode_status(status).expect("an exit")
    }

    /// `fd` moved to a free number at or above `min`.
    fn fd_at_least(fd: OwnedFd, min: i32) -> OwnedFd {
        let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min)).unwrap();
        // SAFETY: a new fd that nothing else owns.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(moved) }
    }

    /// notification-fd equal to the number a listen socket has in tend:
    /// the pipe's dup2 used to close the socket before it was moved, and
    /// the child got the pipe on fd 3.
    #[test]
    fn moves_survive_a_source_that_is_another_moves_target() {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        let sock = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        let sock = fd_at_least(sock, 200);
        let (_nr, nw) = pipe(false).unwrap();
        let (out_r, out_w) = pipe(false).unwrap();
        let n = sock.as_raw_fd();
        let script = format!(
            "for f in 3 {n}; do stat -L -c %F /proc/$$/fd/$f; done; \
             [ -e /proc/$$/fd/{} ] && echo leaked",
            n + 1
        );
        let argv = ["/bin/sh".to_string(), "-c".into(), script];
        let mask = SigSet::empty();
        let mut s = Spawn::new(&argv, &mask);
        s.stdio = [None, Some(out_w.as_raw_fd()), None];
        s.extra_fd = Some((nw.as_raw_fd(), n));
        let listen = [n];
        s.listen_fds = &listen;
        let child = spawn(&s).unwrap();
        assert!(child.exec_err.is_none());
        drop(out_w);
        let mut out = String::new();
        std::fs::File::from(out_r).read_to_string(&mut out).unwrap();
        assert_eq!(wait_pid(child.pid), Exit::Code(1));
        assert_eq!(out, "socket\nfifo\n", "fd 3, then fd {n}");
    }

    #[test]
    fn spawn_reports_127_and_126_on_the_childs_path() {
        let dir = std::env::temp_dir().join(format!("tend-sys-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("tend-unit-cmd");
        std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
        let mask = SigSet::empty();
        let run = |cmd: &str, path: &str| {
            let argv = [cmd.to_string()];
            let env = [("PATH".to_string(), Some(path.to_string()))];
            let mut s = Spawn::new(&argv, &mask);
            s.env = &env;
            let child = spawn(&s).unwrap();
            let err = child.exec_err.map(|e| e.raw_os_error());
            (wait_pid(child.pid), err)
        };
        let d = dir.display().to_string();
        assert_eq!(
            run("tend-unit-cmd", &d),
            (Exit::Code(126), Some(Some(libc::EACCES)))
        );
        assert_eq!(
            run("tend-unit-none", &d),
            (Exit::Code(127), Some(Some(libc::ENOENT)))
        );
        // The child's PATH, not the test's: `true` is found only there.
        assert_eq!(
            run("true", &format!("{d}:/bin:/usr/bin")),
            (Exit::Code(0), None)
        );
        assert_eq!(run("true", &d).0, Exit::Code(127));
        std::fs::remove_dir_all(&dir).unwrap();
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
    fn kill_refuses_pids_that_mean_everyone() {
        // Only the refusal is checked: a debug build asserts, so run the
        // check in the release sense by catching the panic.
        for pid in [0, -1] {
            let r = std::panic::catch_unwind(|| kill(pid, 0));
            assert!(r.is_err() || !cfg!(debug_assertions));
        }
    }
}
