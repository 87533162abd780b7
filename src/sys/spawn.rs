//! Starting a child the way posix_spawn does, but with what tend needs
//! between clone and exec: the signal mask and dispositions handed back, a
//! new session or process group, fds moved into place (stdio, the
//! notification-fd, listening sockets), the user switched, and the command
//! found on the child's own PATH.

use nix::sys::signal::SigSet;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};

/// How a child is set up between fork and exec.
pub struct Spawn<'a> {
    pub argv: &'a [OsString],
    pub cwd: Option<&'a std::path::Path>,
    pub env: &'a [(String, Option<OsString>)],
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
    pub user: Option<Creds<'a>>,
    /// Listening sockets, passed as fds 3, 4, ... with LISTEN_PID set to
    /// the child's pid (sd_listen_fds(3)); LISTEN_FDS and LISTEN_FDNAMES
    /// come in `env`.
    pub listen_fds: &'a [RawFd],
    /// A unit's `UMask=`, `Nice=` and `Limit*=`.
    pub limits: &'a Limits,
}

/// What a unit sets for its processes (systemd.exec(5)): plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    /// `(RLIMIT_*, soft, hard)`, `RLIM_INFINITY` for none.
    pub rlimits: Vec<(i32, u64, u64)>,
}

/// No limits: what a service dir's processes get.
pub static NO_LIMITS: Limits = Limits {
    umask: None,
    nice: None,
    rlimits: Vec::new(),
};

impl<'a> Spawn<'a> {
    pub fn new(argv: &'a [OsString], mask: &'a SigSet) -> Spawn<'a> {
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
            limits: &NO_LIMITS,
        }
    }
}

/// The user a child runs as: uid, primary gid, supplementary groups.
#[derive(Clone, Copy)]
pub struct Creds<'a> {
    pub uid: u32,
    pub gid: u32,
    pub groups: &'a [u32],
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
    /// The fd limit tend inherited, given back to the child when tend
    /// raised its own (`raise_nofile`).
    nofile: Option<libc::rlimit>,
    /// `Spawn::limits`, applied before the user switch (raising a hard
    /// limit or lowering nice needs root).
    umask: Option<libc::mode_t>,
    nice: Option<i32>,
    rlimits: Vec<(i32, libc::rlimit)>,
    /// `(source, target)` fds to put in place: stdio replacements, the
    /// notification-fd pipe and the listening sockets. The child overwrites
    /// each source with its temporary copy.
    moves: Vec<(RawFd, i32)>,
    /// An fd number above every target, where the temporaries go.
    above: i32,
    /// The child shares tend's fd table (CLONE_FILES) and must first make
    /// its own of the fds below this number (`slots`); None: it has a full
    /// copy already.
    unshare_below: Option<i32>,
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
    fn to_switch(u: Creds, uids: [u32; 3], gids: [u32; 3], groups: &[u32]) -> Ids {
        let mut want = u.groups.to_vec();
        want.sort_unstable();
        want.dedup();
        let mut have = groups.to_vec();
        have.sort_unstable();
        have.dedup();
        Ids {
            groups: (want != have).then(|| u.groups.to_vec()),
            gid: (gids != [u.gid; 3]).then_some(u.gid),
            uid: (uids != [u.uid; 3]).then_some(u.uid),
        }
    }

    /// The same, against tend's credentials now.
    fn for_user(u: Creds) -> Ids {
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
        // Until this unshare the fd table is tend's: nothing before it
        // may open, close or move an fd.
        if let Some(first) = plan.unshare_below {
            let range = (first as libc::c_uint, libc::c_uint::MAX);
            let flags = libc::CLOSE_RANGE_UNSHARE;
            // A full copy when close_range fails after all (tend probed it
            // at startup); when even that fails, exit, touching nothing.
            if libc::syscall(libc::SYS_close_range, range.0, range.1, flags) != 0
                && libc::unshare(libc::CLONE_FILES) != 0
            {
                let e = *libc::__errno_location();
                plan.errno = if e == 0 { libc::EINVAL } else { e };
                libc::_exit(126)
            }
        }
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
        if let Some(m) = plan.umask {
            libc::umask(m);
        }
        // Best effort, as the limits below: a container without
        // CAP_SYS_NICE runs the service at tend's priority.
        if let Some(n) = plan.nice {
            libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, n);
        }
        // The raw syscall: musl's setrlimit synchronises every thread. A
        // limit above the hard one the container allows (no
        // CAP_SYS_RESOURCE) is clamped to it.
        for (res, lim) in plan.rlimits.iter_mut() {
            let none = std::ptr::null_mut::<libc::rlimit>();
            if libc::syscall(libc::SYS_prlimit64, 0, *res, &*lim, none) == 0 {
                continue;
            }
            let mut old = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                *res,
                std::ptr::null::<libc::rlimit>(),
                &mut old,
            );
            lim.rlim_cur = lim.rlim_cur.min(old.rlim_max);
            lim.rlim_max = lim.rlim_max.min(old.rlim_max);
            if libc::syscall(libc::SYS_prlimit64, 0, *res, &*lim, none) != 0 {
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
        if let Some(lim) = &plan.nofile {
            // The raw syscall: musl's setrlimit synchronises every thread.
            let none = std::ptr::null_mut::<libc::rlimit>();
            libc::syscall(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, lim, none);
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

/// The fd limit tend started with, when `raise_nofile` changed it.
static INHERITED_NOFILE: std::sync::OnceLock<libc::rlimit> = std::sync::OnceLock::new();

/// The most fds tend asks for: a kernel's `nr_open` default.
const NOFILE_WANTED: libc::rlim_t = 1 << 20;

/// Raises tend's soft fd limit to its hard limit (at most 2^20): each
/// service holds a few fds in tend (output pipes, notify socket, pidfd),
/// and a soft limit of 1024 (containerd 2's default) would stop a few
/// hundred services short. Children get the inherited limit back, as
/// systemd does for its services: a program using select(2) breaks on an
/// fd above 1023. Returns (old soft, new soft) when it changed anything.
pub fn raise_nofile() -> Option<(libc::rlim_t, libc::rlim_t)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit to the pointer given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let want = lim.rlim_max.min(NOFILE_WANTED);
    if want <= lim.rlim_cur {
        return None;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit; tend has one thread here.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return None;
    }
    let _ = INHERITED_NOFILE.set(lim);
    Some((lim.rlim_cur, want))
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
    // A later change of the same variable wins (service.toml over env/
    // over the user's HOME). A map, not a scan per entry: a service with
    // 20,000 env/ files took seconds of PID 1's time.
    let mut last_at: std::collections::HashMap<&[u8], usize> =
        std::collections::HashMap::with_capacity(s.env.len());
    for (i, (k, _)) in s.env.iter().enumerate() {
        last_at.insert(k.as_bytes(), i);
    }
    let changed = |entry: &CString| last_at.contains_key(env_name(entry.as_bytes()));
    let last: Vec<&(String, Option<OsString>)> = s
        .env
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| last_at.get(k.as_bytes()) == Some(i))
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
    let mut moves: Vec<(RawFd, i32)> = stdio
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
    // The sources on tend's low slots, the child to copy only those (and
    // below): see `slots`. Put back when `slots` drops, after the clone.
    let slots = slots::Taken::take(&mut moves);
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
        unshare_below: slots.as_ref().map(slots::Taken::first),
        listen_pid: listen_pid_ptr,
        mask: *s.mask.as_ref(),
        ids: s.user.map(Ids::for_user).unwrap_or_default(),
        // A unit's LimitNOFILE= wins over the limit tend inherited. (The
        // cast: RLIMIT_* is u32 on x86_64 musl, i32 on aarch64.)
        #[allow(clippy::unnecessary_cast)]
        nofile: INHERITED_NOFILE.get().copied().filter(|_| {
            !s.limits
                .rlimits
                .iter()
                .any(|r| r.0 == libc::RLIMIT_NOFILE as i32)
        }),
        umask: s.limits.umask.map(|m| m as libc::mode_t),
        nice: s.limits.nice,
        rlimits: (s.limits.rlimits.iter())
            .map(|&(r, soft, hard)| {
                let lim = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                (r, lim)
            })
            .collect(),
        errno: 0,
    };
    let mut stack = vec![0u8; CHILD_STACK];
    // The stack grows down: pass its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    // qemu-user refuses CLONE_FILES beside CLONE_VM|CLONE_VFORK (EINVAL):
    // then every child gets a copy of the table, as on old kernels. The
    // plan is the same either way: in a copy, the child's close_range
    // only closes early what its exec would close.
    static NO_SHARED_TABLE: AtomicBool = AtomicBool::new(false);
    let mut pid = -1;
    for files in [libc::CLONE_FILES, 0] {
        if files != 0 && (plan.unshare_below.is_none() || NO_SHARED_TABLE.load(Relaxed)) {
            continue;
        }
        // SAFETY: child_main only reads `plan` and writes its errno and
        // moves; `plan`, `stack` and everything they point to outlive the
        // call, because CLONE_VFORK suspends tend until the child has
        // exec'd or exited. With CLONE_FILES the child shares tend's fd
        // table only until its first call, which makes its own, and tend
        // is suspended till then.
        pid = unsafe {
            libc::clone(
                child_main,
                top as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD,
                (&mut plan as *mut ChildPlan).cast(),
            )
        };
        if pid >= 0 || files == 0 || nix::errno::Errno::last() != nix::errno::Errno::EINVAL {
            break;
        }
        NO_SHARED_TABLE.store(true, Relaxed);
    }
    drop(slots);
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let errno = plan.errno;
    Ok(Child {
        pid,
        exec_err: (errno != 0).then(|| std::io::Error::from_raw_os_error(errno)),
    })
}

mod slots;
pub use slots::reserve as reserve_low_fds;

#[cfg(test)]
mod tests;
