//! The only home of syscalls and of `unsafe`. This file: signal masks and
//! the signalfd, listening sockets, pipes, polling, PID-1 and subreaper
//! setup; `spawn`: starting children; `procs`: reaping, killing (by pidfd
//! where the kernel has them) and walking /proc. Each function does one
//! thing and reports errors; policy lives in the supervisor. Nothing here
//! knows tend's domain types: callers pass plain values.

mod exec;
mod procs;
mod spawn;

pub use exec::*;
pub use procs::*;
pub use spawn::*;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// `mkdir -p PATH`, then PATH owned by `owner` (uid, gid) with `mode`,
/// as systemd makes a unit's `RuntimeDirectory=` (systemd.exec(5)). A
/// symlink at PATH is refused: chown and chmod would follow it.
pub fn make_dir(
    path: &std::path::Path,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)?;
    if !std::fs::symlink_metadata(path)?.is_dir() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Opens a service's output file (a unit's `StandardOutput=file:` and the
/// like) for writing, close-on-exec: created with `mode` when missing; it
/// must be a regular file or /dev/null (never a FIFO that would block, a
/// terminal or a device).
pub fn open_output(
    path: &std::path::Path,
    append: bool,
    truncate: bool,
    mode: u32,
) -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(truncate)
        .mode(mode)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let m = f.metadata()?;
    let null = m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3);
    if !m.is_file() && !null {
        return Err(std::io::Error::other("not a regular file or /dev/null"));
    }
    // Non-blocking only for the open: the child gets a plain file.
    let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
    Ok(f.into())
}

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
    /// SIGCHLD from the kernel: the child it reports on (exited, killed,
    /// stopped or continued). Not queued: others may have merged into it.
    pub child: Option<i32>,
}

/// Drains the signalfd: the signals received, in order.
pub fn read_signals(fd: &mut SignalFd) -> Vec<Received> {
    let me = std::process::id();
    let mut out = Vec::new();
    while let Ok(Some(info)) = fd.read_signal() {
        let signo = info.ssi_signo as i32;
        let own = matches!(signo, libc::SIGPIPE | libc::SIGXFSZ | libc::SIGXCPU)
            && (info.ssi_pid == me || info.ssi_code == libc::SI_KERNEL);
        let child = (signo == libc::SIGCHLD
            && matches!(
                info.ssi_code,
                libc::CLD_EXITED
                    | libc::CLD_KILLED
                    | libc::CLD_DUMPED
                    | libc::CLD_STOPPED
                    | libc::CLD_TRAPPED
                    | libc::CLD_CONTINUED
            ))
        .then_some(info.ssi_pid as i32);
        out.push(Received {
            signo,
            self_inflicted: own,
            child,
        });
    }
    out
}

/// Where a listening socket is bound.
#[derive(Clone, Copy)]
pub enum Bind<'a> {
    Tcp(std::net::SocketAddr),
    Unix(&'a std::path::Path),
}

/// A listening socket for `listen` (close-on-exec in tend; the child gets
/// it by dup2): `sock_type` is `SOCK_STREAM`, `SOCK_DGRAM` (UDP for an IP
/// address) or `SOCK_SEQPACKET`. A unix path starting with `@` is in the
/// abstract namespace. A stale unix socket file is replaced; the new one
/// gets `mode`, and `owner` chowns it for a service that runs as another
/// user. `backlog` is listen(2)'s (not for datagrams).
pub fn listen_socket(
    addr: Bind,
    sock_type: i32,
    mode: u32,
    backlog: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{
        self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr,
    };
    use std::net::SocketAddr::{V4, V6};
    let family = match addr {
        Bind::Tcp(V4(_)) => AddressFamily::Inet,
        Bind::Tcp(V6(_)) => AddressFamily::Inet6,
        Bind::Unix(_) => AddressFamily::Unix,
    };
    let ty = match sock_type {
        libc::SOCK_DGRAM => SockType::Datagram,
        libc::SOCK_SEQPACKET => SockType::SeqPacket,
        _ => SockType::Stream,
    };
    let fd = socket::socket(family, ty, SockFlag::SOCK_CLOEXEC, None)?;
    match addr {
        Bind::Tcp(a) => {
            socket::setsockopt(&fd, socket::sockopt::ReuseAddr, &true)?;
            match a {
                V4(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn::from(a))?,
                V6(a) => socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(a))?,
            }
        }
        Bind::Unix(path) => {
            use std::os::unix::ffi::OsStrExt;
            use std::os::unix::fs::{FileTypeExt, PermissionsExt};
            if let Some(name) = path.as_os_str().as_bytes().strip_prefix(b"@") {
                socket::bind(fd.as_raw_fd(), &UnixAddr::new_abstract(name)?)?;
            } else {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                // Only a stale socket is replaced: a regular file (or
                // anything else) at that path is the user's mistake, not
                // tend's to delete.
                match std::fs::symlink_metadata(path) {
                    Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
                    _ => {}
                }
                socket::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
                }
                // bind(2) leaves the mode to the umask (0755 under 022,
                // which other users cannot connect to).
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
        }
    }
    if ty != SockType::Datagram {
        let n = i32::try_from(backlog).unwrap_or(i32::MAX);
        socket::listen(
            &fd,
            socket::Backlog::new(n).unwrap_or(socket::Backlog::MAXCONN),
        )?;
    }
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

/// One read(2) of at most `n` bytes from a raw fd, appended to `buf`
/// straight from the kernel (no zeroing, no copy).
pub fn read_append(fd: RawFd, buf: &mut Vec<u8>, n: usize) -> Result<usize, Errno> {
    buf.reserve(n);
    let spare = buf.spare_capacity_mut();
    let n = n.min(spare.len());
    // SAFETY: read(2) writes at most n bytes, and the spare capacity holds
    // at least n.
    let r = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), n) };
    if r < 0 {
        return Err(Errno::last());
    }
    let got = (r as usize).min(n);
    // SAFETY: the read initialised the first `got` bytes past the length,
    // within the capacity.
    unsafe { buf.set_len(buf.len() + got) };
    Ok(got)
}

/// A private, non-blocking, close-on-exec description of the pipe (or
/// FIFO) at `fd`, opened anew through /proc/self/fd: O_NONBLOCK set on it
/// leaves alone the description tend inherited, which unprefixed services
/// write to and the container runtime may share. None for anything but a
/// pipe (a file opened anew would have an offset of its own; a terminal or
/// a socket is left as it is), and when it cannot be opened (no /proc, no
/// reader left, not permitted): the caller then writes to `fd` itself.
pub fn reopen_pipe_nonblocking(fd: RawFd) -> Option<OwnedFd> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::{fstat, Mode, SFlag};
    // SAFETY: fstat only reads the fd number (tend's stdout or stderr,
    // open for tend's whole life).
    let st = fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }).ok()?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
        return None;
    }
    let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    nix::fcntl::open(format!("/proc/self/fd/{fd}").as_str(), flags, Mode::empty()).ok()
}

/// epoll(7) refuses `fd` (EPERM): a regular file, a directory, or a
/// device without poll support such as /dev/null or /dev/full. poll(2)
/// calls these always ready; an epoll set cannot hold them at all.
pub fn epoll_refuses(fd: RawFd) -> bool {
    match Epoll::new() {
        Ok(e) => e.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLOUT as u32, 0) == Err(Errno::EPERM),
        Err(_) => false,
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
        let e = Errno::last();
        if e != Errno::EINTR {
            // EINVAL (more fds than RLIMIT_NOFILE) or ENOMEM would fail
            // again at once: log it, and pause so that PID 1 does not spin.
            log::error!("poll over {} fds: {e}", fds.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An epoll set (epoll(7)), level-triggered: the loop's fds are registered
/// when they appear and removed when they go, so that a wait costs the
/// same whatever the number of services (poll(2) walks every fd it is
/// given, every time). Event bits are poll's (POLLIN = EPOLLIN, ...).
pub struct Epoll(nix::sys::epoll::Epoll);

/// One fd reported ready: the key it was registered with and its events.
pub type Ready = nix::sys::epoll::EpollEvent;

impl Epoll {
    pub fn new() -> nix::Result<Epoll> {
        use nix::sys::epoll::EpollCreateFlags;
        nix::sys::epoll::Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map(Epoll)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> nix::Result<()> {
        let mut ev = libc::epoll_event { events, u64: key };
        // SAFETY: epoll_ctl reads one epoll_event from a live local; a
        // closed fd number is refused by the kernel (EBADF), not used.
        let r = unsafe { libc::epoll_ctl(self.0 .0.as_raw_fd(), op, fd, &mut ev) };
        Errno::result(r).map(drop)
    }

    /// Watches `fd` for `events` (poll bits; 0: registered but quiet),
    /// reported with `key`; an fd already in the set gets the new ones.
    pub fn watch(&self, fd: RawFd, events: i16, key: u64) {
        if let Err(e) = self.try_watch(fd, events, key) {
            log::error!("epoll: cannot watch fd {fd}: {e}");
        }
    }

    /// `watch`, for a caller that has something to do when it fails.
    pub fn try_watch(&self, fd: RawFd, events: i16, key: u64) -> nix::Result<()> {
        let events = events as u16 as u32;
        match self.ctl(libc::EPOLL_CTL_ADD, fd, events, key) {
            Err(Errno::EEXIST) => self.ctl(libc::EPOLL_CTL_MOD, fd, events, key),
            r => r,
        }
    }

    /// Stops watching `fd`. One that is closed already left the set by
    /// itself (ENOENT, EBADF).
    pub fn unwatch(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// Waits until an fd is ready or `timeout` passes (None: no timeout);
    /// returns how many of `out` were filled (at most its length).
    pub fn wait(&self, out: &mut [Ready], timeout: Option<Duration>) -> usize {
        let ms = match timeout {
            None => -1,
            // Round up so that a deadline is not woken for 1 ms early, in a loop.
            Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
        };
        let ms = nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX);
        match self.0.wait(out, ms) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => {
                // Would fail again at once: log it, and pause so that PID 1
                // does not spin.
                log::error!("epoll_wait: {e}");
                std::thread::sleep(Duration::from_millis(100));
                0
            }
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

/// The sockets tend's own manager handed it (sd_listen_fds(3)): with
/// `LISTEN_PID` equal to tend's pid, fds 3 .. 3+`LISTEN_FDS`-1, named by
/// `LISTEN_FDNAMES` (`unknown` where it says nothing). Each is made
/// close-on-exec: a child gets one only when it claims it. Call before
/// anything opens an fd. At most 1,024 are taken.
pub fn take_listen_fds() -> Vec<(String, OwnedFd)> {
    let var = |k: &str| std::env::var(k).ok();
    let me = std::process::id().to_string();
    if var("LISTEN_PID").as_deref() != Some(me.as_str()) {
        return Vec::new();
    }
    let n: i32 = var("LISTEN_FDS").and_then(|n| n.parse().ok()).unwrap_or(0);
    let names = var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':');
    let mut out = Vec::new();
    for fd in 3..3 + n.clamp(0, 1024) {
        let name = names.next().filter(|s| !s.is_empty()).unwrap_or("unknown");
        // SAFETY: F_SETFD sets close-on-exec on an fd number, or fails
        // with EBADF when nothing is open there; no memory is touched.
        let open = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0;
        if open {
            // SAFETY: the manager handed this fd to tend; nothing else in
            // tend owns it.
            let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            out.push((name.to_string(), owned));
        }
    }
    out
}

/// CLOCK_MONOTONIC in microseconds, as systemd's MONOTONIC_USEC= wants it.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the pointer given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Turns on SO_PASSCRED: every datagram then carries its sender's pid.
pub fn pass_credentials(fd: &impl std::os::fd::AsFd) -> nix::Result<()> {
    nix::sys::socket::setsockopt(fd, nix::sys::socket::sockopt::PassCred, &true)
}

/// Receives one datagram without blocking, with its sender's pid as
/// tend's pid namespace sees it: 0 when the sender is not visible there,
/// None when no credentials came (SO_PASSCRED off). File descriptors sent
/// along (SCM_RIGHTS) are closed, never kept: a sender must not be able
/// to fill tend's fd table.
pub fn recv_with_pid(fd: RawFd, buf: &mut [u8]) -> Result<(usize, Option<i32>), Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for exactly one SCM_CREDENTIALS message (CMSG_SPACE of a ucred
    // is 32 bytes), 8-byte aligned: fds sent along do not fit, and the
    // kernel closes them itself.
    let mut control = [0u64; 4];
    // SAFETY: a msghdr is plain data; all zeroes is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
    // SAFETY: msg points at a live iovec over `buf` and at `control`, with
    // their lengths; recvmsg writes within them.
    let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
    if n < 0 {
        return Err(Errno::last());
    }
    let mut pid = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just
    // filled, within msg_controllen; every read is bounded by cmsg_len.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let len = (*c).cmsg_len as usize;
            let head = libc::CMSG_LEN(0) as usize;
            let data = libc::CMSG_DATA(c);
            if (*c).cmsg_level == libc::SOL_SOCKET {
                if (*c).cmsg_type == libc::SCM_CREDENTIALS
                    && len >= head + std::mem::size_of::<libc::ucred>()
                {
                    let cred: libc::ucred = std::ptr::read_unaligned(data.cast());
                    pid = Some(cred.pid);
                } else if (*c).cmsg_type == libc::SCM_RIGHTS {
                    let count = len.saturating_sub(head) / std::mem::size_of::<libc::c_int>();
                    for k in 0..count {
                        libc::close(std::ptr::read_unaligned(data.cast::<libc::c_int>().add(k)));
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, pid))
}

/// The session `pid` belongs to; None once it is gone.
pub fn session_of(pid: i32) -> Option<i32> {
    nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid)))
        .ok()
        .map(|s| s.as_raw())
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
