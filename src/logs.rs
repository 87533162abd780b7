//! Service output: each service's stdout and stderr come to tend through
//! pipes that tend owns for the service's whole life (so a restart loses
//! nothing), split into lines and prefixed `NAME | `, then queued for
//! tend's own stdout or stderr. Writing never blocks the loop: when tend's
//! output is a pipe, tend writes through a non-blocking description of its
//! own (`sys::reopen_pipe_nonblocking`) as much as the pipe takes, once a
//! turn; when it is a regular file or a device such as /dev/null, which
//! epoll cannot watch and which are always ready, all of it once a turn;
//! otherwise only when its fd is writable, one `PIPE_BUF` chunk at a time. While a queue is over `HIGH_WATER`, tend stops reading the pipes
//! that feed it, so a slow reader back-pressures the services rather than
//! losing lines or stalling supervision.
//!
//! The hot path (issue 14): one big read a wakeup, into a buffer kept
//! for it; each line copied once, prefixed, into the queue, 16 bytes a
//! move; no allocation per line; the queue is written from its head
//! without moving what is left. (musl's memcpy(3), which the release
//! build's opt-level "z" calls for every copy, starts slowly on each short
//! one; so does the kernel's copy for each piece of a writev(2), which
//! perf found costlier than these copies.)
//!
//! Bounded everywhere, whatever the services do: one read takes at most
//! `READ_BUDGET` bytes and never more than the queue can take without
//! passing `QUEUE_CAP` (a prefix multiplies short lines); the end of a run
//! takes only what is in the pipe at that moment (a process the run left
//! behind may write forever); what must still be dropped is counted and
//! said in one line. On the way out, a reader that takes nothing gets
//! `FLUSH_LIMIT`, then the rest is dropped: tend's exit never waits on it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A line longer than this is cut (at a UTF-8 character boundary) and
/// continued on a new prefixed line.
pub const MAX_LINE: usize = 8192;
/// Bytes queued for one output before tend stops reading its producers.
pub const HIGH_WATER: usize = 64 * 1024;
/// Bytes one queue never exceeds: what would is dropped and counted. Room
/// for a whole `READ_BUDGET` read of the worst input (every byte a newline,
/// each given a prefix) above `HIGH_WATER`, so that reads stay whole; the
/// queue only grows that far with such input or a stalled reader.
pub const QUEUE_CAP: usize = 16 * HIGH_WATER;
/// The most one read of a pipe takes (a pipe holds 64 KiB by default).
pub const READ_BUDGET: usize = 64 * 1024;
/// On the way out, how long a stalled reader of tend's output is waited for.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(1);
/// One write to a blocking fd: what a pipe that poll says is writable
/// takes without blocking.
const CHUNK: usize = 4096;
/// Writes to a non-blocking output in one turn, at most (each takes what
/// the pipe has room for).
const WRITES_PER_TURN: usize = 4;

/// A pipe whose both ends tend keeps: the service gets a copy of `w`
/// (as its stdout or stderr), tend reads `r` (or hands it to a logger).
pub struct Pipe {
    pub r: OwnedFd,
    /// None once closed at shutdown, so that a logger sees end of input.
    pub w: Option<OwnedFd>,
    /// Bytes of an unfinished line.
    partial: Vec<u8>,
}

impl Pipe {
    /// `for_tend`: tend reads it (non-blocking); otherwise a logger's
    /// stdin, left blocking as programs expect.
    pub fn new(for_tend: bool) -> std::io::Result<Pipe> {
        let (r, w) = crate::sys::pipe(for_tend)?;
        Ok(Pipe {
            r,
            w: Some(w),
            partial: Vec::new(),
        })
    }

    /// Bytes are waiting in the pipe.
    pub fn readable(&self) -> bool {
        self.waiting() > 0
    }

    /// How many bytes are waiting in the pipe.
    pub fn waiting(&self) -> usize {
        crate::sys::bytes_waiting(self.r.as_raw_fd())
    }

    /// One bounded read; its complete lines are queued on `out`. Returns
    /// false when the caller should stop reading this pipe for now: end of
    /// file, an error, or `out` has no room left (so a loop of
    /// `readable() && drain_into(..)` ends however fast the writer is).
    pub fn drain_into(&mut self, prefix: &str, out: &mut Output) -> bool {
        self.read_some(prefix, out, READ_BUDGET).1
    }

    /// The end of a run: takes what is in the pipe now, no more (a process
    /// the run left behind may keep writing), and no more than `out` has
    /// room for (the rest stays in the pipe, read later as usual). When
    /// all of it was taken, an unfinished last line is ended there rather
    /// than glued to the next run's first line.
    pub fn drain_pending(&mut self, prefix: &str, out: &mut Output) {
        let mut left = crate::sys::bytes_waiting(self.r.as_raw_fd());
        while left > 0 {
            match self.read_some(prefix, out, left) {
                (n @ 1.., true) => left = left.saturating_sub(n),
                _ => break,
            }
        }
        if left == 0 {
            self.flush_partial(prefix, out);
        }
    }

    /// Reads at most `max` bytes (and what `out` can take); returns the
    /// bytes read and whether reading may go on.
    fn read_some(&mut self, prefix: &str, out: &mut Output, max: usize) -> (usize, bool) {
        let n = out.read_room(prefix.len()).min(max);
        if n == 0 {
            return (0, false);
        }
        // Read straight into a buffer kept for it (no zeroing a read).
        let mut buf = std::mem::take(&mut out.read_buf);
        buf.clear();
        let r = match crate::sys::read_append(self.r.as_raw_fd(), &mut buf, n) {
            Ok(0) => (0, false),
            Ok(got) => {
                out.compact();
                split_lines(&mut self.partial, &buf, prefix, &mut out.queue);
                out.enforce_cap();
                (got, true)
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => (0, true),
            Err(_) => (0, false),
        };
        out.read_buf = buf;
        r
    }

    /// Queues an unfinished last line (the service exited without a
    /// newline), with a newline added.
    pub fn flush_partial(&mut self, prefix: &str, out: &mut Output) {
        if !self.partial.is_empty() {
            out.compact();
            out.queue.put(prefix.as_bytes());
            out.queue.put(&self.partial);
            out.queue.put(b"\n");
            self.partial.clear();
            out.enforce_cap();
        }
    }
}

/// Appends the complete lines of `partial` + `data` to `out`, each with
/// `prefix`; keeps the unfinished rest in `partial`. Each byte of `data` is
/// copied once, into `out`, unless it ends or continues an unfinished line.
pub fn split_lines(partial: &mut Vec<u8>, data: &[u8], prefix: &str, out: &mut Queue) {
    // The prefix with room for a 16-byte move past its end.
    let mut padded = Vec::with_capacity(prefix.len() + 16);
    padded.extend_from_slice(prefix.as_bytes());
    padded.resize(prefix.len() + 16, 0);
    let prefix = Prefix(&padded, prefix.len());
    let mut data = data;
    if !partial.is_empty() {
        // Only the bytes that decide the unfinished line join it: up to
        // its newline, or enough to cut it at MAX_LINE.
        let look = data.len().min((MAX_LINE + 1).saturating_sub(partial.len()));
        let take = newline(&data[..look]).map_or(look, |i| i + 1);
        partial.extend_from_slice(&data[..take]);
        data = &data[take..];
        let done = emit_lines(partial, prefix, out);
        partial.drain(..done);
        if !partial.is_empty() {
            // A cut left the start of the next line there (or `data` is
            // used up): go on from it, the slow way; rare.
            partial.extend_from_slice(data);
            let done = emit_lines(partial, prefix, out);
            partial.drain(..done);
            return;
        }
    }
    let done = emit_lines(data, prefix, out);
    partial.extend_from_slice(&data[done..]);
}

/// A prefix (its first `.1` bytes) and 16 bytes of room after it.
#[derive(Clone, Copy)]
struct Prefix<'a>(&'a [u8], usize);

/// Appends every complete line of `bytes` to `out`, each with `prefix`,
/// and a line longer than MAX_LINE cut (at a character boundary) into
/// pieces; returns how many bytes that took (the rest is an unfinished
/// line of at most MAX_LINE bytes).
fn emit_lines(bytes: &[u8], prefix: Prefix, out: &mut Queue) -> usize {
    let mut start = 0;
    loop {
        let rest = &bytes[start..];
        let (end, next) = match newline(&rest[..rest.len().min(MAX_LINE + 1)]) {
            Some(i) => (start + i, start + i + 1),
            None if rest.len() > MAX_LINE => {
                let cut = utf8_cut(&rest[..MAX_LINE]);
                (start + cut, start + cut)
            }
            None => return start,
        };
        out.put_from(prefix.0, 0, prefix.1);
        match bytes.get(end) {
            // The line with its newline, in one copy.
            Some(b'\n') => out.put_from(bytes, start, end + 1 - start),
            _ => {
                out.put_from(bytes, start, end - start);
                out.put(b"\n");
            }
        }
        start = next;
    }
}

/// The index of the first newline in `bytes`, 16 bytes a step with SSE2
/// (part of every x86-64; the release build is optimised for size, so
/// nothing is vectorised for us), the rest a word at a time.
#[cfg(target_arch = "x86_64")]
fn newline(bytes: &[u8]) -> Option<usize> {
    // SAFETY: SSE2 is part of the x86-64 baseline: every CPU this code
    // runs on has it (the build enables it already).
    unsafe { newline_sse2(bytes) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn newline_sse2(bytes: &[u8]) -> Option<usize> {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set1_epi8, _mm_set_epi64x};
    let nl = _mm_set1_epi8(b'\n' as i8);
    let mut blocks = bytes.chunks_exact(16);
    let mut at = 0;
    for b in &mut blocks {
        let x = <[u8; 16]>::try_from(b).map_or(0, u128::from_le_bytes);
        let v = _mm_set_epi64x((x >> 64) as i64, x as i64);
        let hits = _mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize);
        }
        at += 16;
    }
    newline_words(blocks.remainder()).map(|i| at + i)
}

#[cfg(not(target_arch = "x86_64"))]
fn newline(bytes: &[u8]) -> Option<usize> {
    newline_words(bytes)
}

/// The index of the first newline in `bytes`: memchr(3) a word at a time
/// (the release build is optimised for size, so a byte loop stays one).
fn newline_words(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ NL;
        // Some byte of x is zero exactly when this is non-zero; its lowest
        // set bit is in the first such byte.
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// The largest length <= bytes.len() that does not split a UTF-8
/// character (bytes that are not UTF-8 are cut anywhere).
fn utf8_cut(bytes: &[u8]) -> usize {
    let n = bytes.len();
    // Back up over at most 3 continuation bytes to a character start.
    for back in 0..4.min(n) {
        let i = n - back;
        if i < n && bytes[i] & 0xC0 != 0x80 {
            // bytes[i] starts a character: does it end within the slice?
            let len = match bytes[i] {
                b if !(0x80..0xF8).contains(&b) => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                b if b >= 0xC0 => 2,
                _ => 1,
            };
            return if i + len > n { i } else { n };
        }
    }
    n
}

/// Bytes waiting to be written to one of tend's own outputs.
pub struct Output {
    /// Where the queue is written: `std` itself, or tend's own
    /// non-blocking description of it (`own`).
    pub fd: RawFd,
    /// 1 or 2: the output this is, by the number the world knows it by.
    std: RawFd,
    own: Option<OwnedFd>,
    /// `fd` cannot be watched (epoll refuses a regular file or /dev/null)
    /// and is always ready: written each turn, as much as it takes.
    always_ready: bool,
    /// Bytes queued; those before `head` are written already.
    pub queue: Queue,
    head: usize,
    /// Bytes dropped since the last notice.
    dropped: u64,
    /// The last write failed (no reader, a full disk): said once, and no
    /// notice of what is dropped until a write succeeds again, since a
    /// notice on a failing stderr would fail in turn, and queue another.
    failing: bool,
    /// Where a read of a pipe lands, kept from one read to the next.
    read_buf: Vec<u8>,
}

/// The bytes of a queue: `bytes[..end]`. Past `end`, `bytes` is room
/// for the next copies and a 16-byte move's overshoot, zeroed once, when
/// it grows: a copy never zeroes first.
#[derive(Default)]
pub struct Queue {
    bytes: Vec<u8>,
    end: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.end
    }

    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.end]
    }

    /// Appends `src`.
    pub fn put(&mut self, src: &[u8]) {
        self.put_from(src, 0, src.len());
    }

    /// Appends `from[start..start + len]`; the bytes after it in `from`,
    /// up to 15, may be read (and are overwritten by the next copy).
    fn put_from(&mut self, from: &[u8], start: usize, len: usize) {
        let need = self.end + len + 16;
        if self.bytes.len() < need {
            self.bytes.resize(need, 0);
        }
        copy_fast(&mut self.bytes[self.end..], from, start, len);
        self.end += len;
    }

    /// Empties it, giving back what a burst took beyond what a turn needs.
    fn clear(&mut self) {
        self.end = 0;
        if self.bytes.len() > 4 * HIGH_WATER {
            self.bytes.truncate(4 * HIGH_WATER);
            self.bytes.shrink_to_fit();
        }
    }

    /// Drops the first `n` bytes.
    fn drop_front(&mut self, n: usize) {
        self.bytes.copy_within(n..self.end, 0);
        self.end -= n;
    }

    fn truncate(&mut self, len: usize) {
        self.end = self.end.min(len);
    }
}

#[cfg(test)]
impl From<Vec<u8>> for Queue {
    fn from(bytes: Vec<u8>) -> Queue {
        Queue {
            end: bytes.len(),
            bytes,
        }
    }
}

impl Output {
    /// Writes to `fd` as it is: only when poll says it is writable, one
    /// `CHUNK` at a time (it may block).
    pub fn new(fd: RawFd) -> Output {
        Output {
            fd,
            std: fd,
            own: None,
            always_ready: false,
            queue: Queue::default(),
            head: 0,
            dropped: 0,
            failing: false,
            read_buf: Vec::new(),
        }
    }

    /// tend's stdout (1) or stderr (2): through a non-blocking description
    /// of its own when it is a pipe, written as fast as the reader takes.
    pub fn std(fd: RawFd) -> Output {
        let mut out = Output::new(fd);
        if let Some(own) = crate::sys::reopen_pipe_nonblocking(fd) {
            out.fd = own.as_raw_fd();
            out.own = Some(own);
        } else {
            out.always_ready = crate::sys::epoll_refuses(fd);
        }
        out
    }

    fn name(&self) -> String {
        match self.std {
            1 => "stdout".to_string(),
            2 => "stderr".to_string(),
            fd => format!("fd {fd}"),
        }
    }

    /// Bytes queued, not yet written.
    pub fn pending(&self) -> usize {
        self.queue.len() - self.head
    }

    /// Drops what is written from the front of the queue, before it grows.
    fn compact(&mut self) {
        if self.head == self.queue.len() {
            self.queue.clear();
            self.head = 0;
        } else if self.head >= HIGH_WATER {
            self.queue.drop_front(self.head);
            self.head = 0;
        }
    }

    /// How many bytes one read of a pipe may take so that its lines, each
    /// prefixed with `prefix_len` bytes (worst case: every byte a newline),
    /// plus a cut unfinished line, still fit under `QUEUE_CAP`.
    fn read_room(&self, prefix_len: usize) -> usize {
        let reserved = self.pending() + MAX_LINE + 2 * (prefix_len + 2);
        (QUEUE_CAP.saturating_sub(reserved) / (prefix_len + 2)).min(READ_BUDGET)
    }

    /// Cuts the queue back to `QUEUE_CAP` at a line end, counting what
    /// goes. `read_room` makes this a last resort.
    fn enforce_cap(&mut self) {
        if self.pending() <= QUEUE_CAP {
            return;
        }
        let keep = self.queue.as_slice()[self.head..self.head + QUEUE_CAP]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        self.dropped += (self.pending() - keep) as u64;
        self.queue.truncate(self.head + keep);
    }

    /// Queues tend's own messages, unless that would pass the cap (stderr
    /// not read at all): then they are dropped, and counted.
    pub fn push_own(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.pending() + bytes.len() <= QUEUE_CAP {
            self.compact();
            self.queue.put(&bytes);
        } else {
            self.dropped += bytes.len() as u64;
        }
    }

    pub fn full(&self) -> bool {
        self.pending() >= HIGH_WATER
    }

    /// Writes what can be written without waiting for poll: with tend's
    /// own non-blocking description, as much as the pipe takes; to an fd
    /// that cannot be watched (a regular file), all of it; with another
    /// blocking fd, nothing.
    pub fn write_now(&mut self) {
        if (self.own.is_some() || self.always_ready) && self.pending() > 0 {
            self.write_some();
        }
    }

    /// Bytes are queued for an fd that the loop must watch for POLLOUT.
    pub fn wants_poll(&self) -> bool {
        self.pending() > 0 && self.fd >= 0 && !self.always_ready
    }

    /// Writes after poll said the fd is writable: a blocking fd one
    /// `CHUNK`; a non-blocking one as much as it takes.
    pub fn write_some(&mut self) {
        let writes = if self.own.is_some() || self.always_ready {
            WRITES_PER_TURN
        } else {
            1
        };
        for _ in 0..writes {
            let n = match self.own.is_some() || self.always_ready {
                true => self.pending(),
                false => self.pending().min(CHUNK),
            };
            if n == 0 {
                break;
            }
            match crate::sys::write_fd(self.fd, &self.queue.as_slice()[self.head..self.head + n]) {
                Ok(written) => {
                    self.head += written;
                    self.failing &= written == 0;
                    // A pipe is full; a file took what it could, and the
                    // next write says why (ENOSPC, EFBIG).
                    if (written < n && !self.always_ready) || written == 0 {
                        break;
                    }
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => break,
                // Nobody reads our output any more: drop it rather than
                // stopping every service that writes.
                Err(e) => {
                    self.dropped += self.pending() as u64;
                    self.head = self.queue.len();
                    if !std::mem::replace(&mut self.failing, true) {
                        log::warn!(
                            "cannot write to {}: {e}; dropping its output until it takes it again",
                            self.name()
                        );
                    }
                    break;
                }
            }
        }
        self.compact();
        // Once the reader caught up, say what it missed (one line).
        if self.dropped > 0 && !self.full() && !self.failing {
            let n = std::mem::take(&mut self.dropped);
            log::warn!(
                "dropped {n} bytes of output to {}: not read in time",
                self.name()
            );
        }
    }

    /// On the way out of tend: writes what the reader takes within
    /// `FLUSH_LIMIT`, then drops the rest, saying so on stderr if that
    /// takes it at once. Never blocks past the limit.
    pub fn flush_blocking(&mut self) {
        self.flush_until(Instant::now() + FLUSH_LIMIT);
    }

    /// On the way out, between reads of the pipes: writes what the reader
    /// takes by `deadline` and keeps the rest queued; true when all of it
    /// was written.
    pub fn write_by(&mut self, deadline: Instant) -> bool {
        let written = write_until(self.fd, &self.queue.as_slice()[self.head..], deadline);
        self.head += written;
        self.compact();
        self.pending() == 0
    }

    /// Counts `n` bytes dropped before they were queued (left in a pipe).
    pub fn count_dropped(&mut self, n: usize) {
        self.dropped += n as u64;
    }

    /// `flush_blocking` with the deadline given; returns the bytes dropped.
    pub fn flush_until(&mut self, deadline: Instant) -> u64 {
        let written = write_until(self.fd, &self.queue.as_slice()[self.head..], deadline);
        let dropped = self.dropped + (self.pending() - written) as u64;
        self.queue.clear();
        self.head = 0;
        self.dropped = 0;
        if dropped > 0 {
            let line = format!(
                "tend: warning: dropped {dropped} bytes of output to {}: not read in time\n",
                self.name()
            );
            write_until(2, line.as_bytes(), Instant::now());
        }
        dropped
    }
}

/// Copies `from[start..start + len]` to the start of `dst`, 16 bytes a
/// move (musl's memcpy(3), which opt-level "z" calls for every copy,
/// starts slowly on short ones: `rep movs`). The last move may take up to
/// 15 bytes past the end, from `from` and into `dst`, where they are
/// (bytes past the end of `from` are copied one at a time).
fn copy_fast(dst: &mut [u8], from: &[u8], start: usize, len: usize) {
    let mut i = 0;
    while i < len {
        let d = dst
            .get_mut(i..i + 16)
            .and_then(|d| <&mut [u8; 16]>::try_from(d).ok());
        let s = from
            .get(start + i..start + i + 16)
            .and_then(|s| <&[u8; 16]>::try_from(s).ok());
        match (d, s) {
            (Some(d), Some(s)) => *d = *s,
            _ => {
                let s = from.get(start + i..start + len).unwrap_or_default();
                for (d, s) in dst[i..].iter_mut().zip(s) {
                    *d = *s;
                }
                return;
            }
        }
        i += 16;
    }
}

/// Writes `bytes` to `fd` (blocking or not) one `CHUNK` at a time, each
/// only after poll(2) says the fd is writable, until all is written or
/// `deadline` passes (a deadline already past still writes what the fd
/// takes at once). Returns the bytes written. For tend's own output when
/// the loop cannot queue it: at exit, and before or after the loop.
pub fn write_until(fd: RawFd, bytes: &[u8], deadline: Instant) -> usize {
    let mut done = 0;
    while done < bytes.len() {
        let mut fds = [crate::sys::pollfd(fd, libc::POLLOUT)];
        let left = deadline.saturating_duration_since(Instant::now());
        crate::sys::poll(&mut fds, Some(left));
        if fds[0].revents & libc::POLLOUT == 0 {
            if fds[0].revents != 0 || Instant::now() >= deadline {
                break; // an error, a hangup, or time is up
            }
            continue; // interrupted
        }
        let end = bytes.len().min(done + CHUNK);
        match crate::sys::write_fd(fd, &bytes[done..end]) {
            Ok(n @ 1..) => done += n,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Ok(0) | Err(_) => break,
        }
        if Instant::now() >= deadline && done < bytes.len() {
            break;
        }
    }
    done
}

#[cfg(test)]
mod tests;
