//! Low fd numbers kept free for the fds a child is given, so that the
//! child copies only the bottom of tend's fd table (issue 14).
//!
//! A child made by plain clone gets a copy of tend's whole fd table: with
//! 1,000 services that is about 5,000 fds (output pipes, notify sockets,
//! pidfds), each copied (`dup_fd`, in tend's time) and then closed again
//! by the exec, since all are close-on-exec (in the child's time, but tend
//! waits for that exec: CLONE_VFORK). Instead the child shares tend's
//! table (CLONE_FILES) and its first call is
//! `close_range(first, ~0, CLOSE_RANGE_UNSHARE)` (Linux >= 5.9), which
//! gives it a table of its own holding only the fds below `first`.
//!
//! The fds to pass must then sit below `first`: tend reserves a few
//! numbers at startup, above every fd it inherited (those are passed on as
//! before) and fills them with /dev/null, close-on-exec. Just before a
//! clone it puts each fd to pass on a slot (dup3, close-on-exec: only the
//! child's own dup2 to the target number clears it), and just after it
//! puts /dev/null back, so that no pipe end stays open in tend through a
//! slot. Until the child has unshared, it touches no fd: the table is
//! tend's.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// Slots reserved: three stdio, a notification-fd and four listening
/// sockets. A child that needs more is started with a full copy.
pub const SLOTS: usize = 8;

/// Above this inherited fd, no slots: each child would copy at least
/// that many entries anyway.
const MAX_INHERITED: RawFd = 1024;

pub struct Slots {
    /// The reserved numbers, ascending.
    fds: [RawFd; SLOTS],
    /// /dev/null, what an idle slot holds.
    filler: OwnedFd,
}

/// The slots, once reserved; a lock, since tests spawn from many threads
/// (tend itself has one).
static RESERVED: Mutex<Option<Slots>> = Mutex::new(None);

/// The highest fd open now, from /proc/self/fd, else by asking each of the
/// first 1,024 numbers.
fn highest_open() -> RawFd {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        return dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
            .max()
            .unwrap_or(2);
    }
    // SAFETY: F_GETFD on a number only reads its flags, or fails (EBADF).
    (0..1024)
        .rev()
        .find(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .unwrap_or(2)
}

/// Reserves the slots, above every fd open now; call early, before tend
/// opens its own fds, so that they are low. False (nothing reserved:
/// every child gets a full copy of the table, as before) when the kernel
/// has no `close_range` with `CLOSE_RANGE_UNSHARE` (Linux < 5.9, or a
/// seccomp profile that refuses it) or the fds cannot be had.
pub fn reserve() -> bool {
    // Probe: an empty range, and no flag, so that this closes nothing and
    // never unshares a table (tests call it from one of many threads).
    // CLOSE_RANGE_UNSHARE came with the call (5.9); a child for which it
    // fails all the same falls back to a full copy.
    // SAFETY: close_range(2) on the range [~0, ~0] closes no fd tend has.
    let r = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, 0) };
    if r != 0 {
        log::debug!(
            "close_range: {}; children copy tend's whole fd table",
            std::io::Error::last_os_error()
        );
        return false;
    }
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return false;
    };
    let filler = OwnedFd::from(null);
    // An fd inherited at a high number would put the slots, and the
    // bottom of the table each child copies, above it: not worth it.
    let highest = highest_open();
    if highest >= MAX_INHERITED {
        log::debug!("fd {highest} inherited; children copy tend's whole fd table");
        return false;
    }
    let mut fds = [-1; SLOTS];
    let mut min = highest + 1;
    for slot in fds.iter_mut() {
        // SAFETY: F_DUPFD_CLOEXEC makes a new fd at or above `min` of an
        // fd tend owns; the number is kept in `fds` for good.
        let fd = unsafe { libc::fcntl(filler.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
        if fd < 0 {
            release(&fds);
            return false;
        }
        *slot = fd;
        min = fd + 1;
    }
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    match reserved.as_ref() {
        Some(_) => release(&fds),
        None => *reserved = Some(Slots { fds, filler }),
    }
    true
}

fn release(fds: &[RawFd]) {
    for &fd in fds.iter().filter(|&&fd| fd >= 0) {
        // SAFETY: fds this module made and nothing else holds.
        unsafe { libc::close(fd) };
    }
}

/// The slots in use for one clone: `take` puts the sources on them, drop
/// puts /dev/null back. Holds the lock until then.
pub struct Taken {
    guard: std::sync::MutexGuard<'static, Option<Slots>>,
    used: usize,
}

impl Taken {
    /// Puts `moves`' sources on the slots and rewrites them to name the
    /// slots; None (nothing changed) when there are no slots or too few,
    /// or a dup3 failed: the child then gets a full copy.
    pub fn take(moves: &mut [(RawFd, i32)]) -> Option<Taken> {
        let guard = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
        let slots = guard.as_ref()?;
        if moves.len() > SLOTS {
            return None;
        }
        let fds = slots.fds;
        let mut taken = Taken { guard, used: 0 };
        for (k, m) in moves.iter().enumerate() {
            // SAFETY: dup3(2) onto a slot this module owns: it closes the
            // /dev/null there and puts a close-on-exec copy of the source.
            if unsafe { libc::dup3(m.0, fds[k], libc::O_CLOEXEC) } < 0 {
                return None; // drop puts back the slots done so far
            }
            taken.used = k + 1;
        }
        for (k, m) in moves.iter_mut().enumerate() {
            m.0 = fds[k];
        }
        Some(taken)
    }

    /// The child's `first`: every fd below it is copied into its own table.
    /// Above the lowest slot, so that the fds tend inherited are passed on.
    pub fn first(&self) -> RawFd {
        match (self.guard.as_ref(), self.used) {
            (Some(s), 0) => s.fds[0],
            (Some(s), n) => s.fds[n - 1] + 1,
            (None, _) => 3,
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let Some(slots) = self.guard.as_mut() else {
            return;
        };
        for k in 0..self.used {
            let fd = slots.fds[k];
            // SAFETY: dup3(2) onto a slot this module owns: what the clone
            // was given there is closed, /dev/null takes its place.
            if unsafe { libc::dup3(slots.filler.as_raw_fd(), fd, libc::O_CLOEXEC) } < 0 {
                // Never leave a pipe end open through a slot: close them
                // all and give them up (full copies from now on).
                log::error!(
                    "fd {fd}: {}; children copy tend's whole fd table from now on",
                    std::io::Error::last_os_error()
                );
                release(&slots.fds);
                *self.guard = None;
                return;
            }
        }
    }
}
