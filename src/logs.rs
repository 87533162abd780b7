//! Service output: each service's stdout and stderr come to tend through
//! pipes that tend owns for the service's whole life (so a restart loses
//! nothing), split into lines and prefixed `NAME | `, then queued for
//! tend's own stdout or stderr. Writing never blocks the loop: when tend's
//! output is a pipe, tend writes through a non-blocking description of its
//! own (`sys::reopen_pipe_nonblocking`) as much as the pipe takes, once a
//! turn; otherwise only when its fd is writable, one `PIPE_BUF` chunk at a
//! time. While a queue is over `HIGH_WATER`, tend stops reading the pipes
//! that feed it, so a slow reader back-pressures the services rather than
//! losing lines or stalling supervision.
//!
//! The hot path (issue 14): one big read a wakeup, straight into the
//! output's buffer; each line stays where it was read and is queued as a
//! piece of that buffer after a piece holding the prefix (one copy of the
//! prefix a read, not a line); a write gathers up to `GATHER` bytes of
//! pieces, 16 bytes a move, into one write(2), resuming inside a piece
//! where a partial write stopped. (writev(2) of the pieces themselves
//! copies nothing in tend but cost more: the kernel's copy starts anew,
//! slowly, for each of two short pieces a line.)
//!
//! Bounded everywhere, whatever the services do: one read takes at most
//! `READ_BUDGET` bytes and never more than the queue can take without
//! passing `QUEUE_CAP` (a prefix multiplies short lines) or its memory
//! `MEM_CAP` (a piece a line and a piece a prefix); the end of a run
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
        crate::sys::bytes_waiting(self.r.as_raw_fd()) > 0
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
    /// bytes read and whether reading may go on. The read lands straight
    /// in `out`'s buffer, after the prefix and the unfinished line.
    fn read_some(&mut self, prefix: &str, out: &mut Output, max: usize) -> (usize, bool) {
        let n = out.read_room(prefix.len()).min(max);
        if n == 0 {
            return (0, false);
        }
        let at = out.begin_read(prefix.as_bytes(), &self.partial);
        match crate::sys::read_append(self.r.as_raw_fd(), &mut out.buf, n) {
            Ok(0) => {
                out.buf.truncate(at);
                (0, false)
            }
            Ok(got) => {
                out.end_read(at, prefix.len(), &mut self.partial);
                out.enforce_cap();
                (got, true)
            }
            Err(e) => {
                out.buf.truncate(at);
                (
                    0,
                    matches!(e, nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR),
                )
            }
        }
    }

    /// Queues an unfinished last line (the service exited without a
    /// newline), with a newline added.
    pub fn flush_partial(&mut self, prefix: &str, out: &mut Output) {
        if !self.partial.is_empty() {
            out.compact();
            let at = out.buf.len();
            out.buf.extend_from_slice(prefix.as_bytes());
            out.buf.append(&mut self.partial);
            out.buf.push(b'\n');
            out.push_piece(at, out.buf.len() - at);
            out.enforce_cap();
        }
    }
}

/// Queues, as pieces of `buf` (no copy), every complete line of
/// `buf[raw..]`, each after the piece `prefix` (none when empty), and a
/// line longer than MAX_LINE cut (at a character boundary) into pieces,
/// each ended by a `NEWLINE` piece. Returns how many bytes of `buf[raw..]`
/// that took (the rest is an unfinished line of at most MAX_LINE bytes)
/// and how many bytes the pieces queued hold.
fn emit_lines(buf: &[u8], raw: usize, prefix: Piece, pieces: &mut Vec<Piece>) -> (usize, usize) {
    let bytes = &buf[raw..];
    let mut start = 0;
    let mut queued = 0;
    loop {
        let rest = &bytes[start..];
        let (end, next, cut) = match newline(&rest[..rest.len().min(MAX_LINE + 1)]) {
            Some(i) => (start + i + 1, start + i + 1, false),
            None if rest.len() > MAX_LINE => {
                let cut = utf8_cut(&rest[..MAX_LINE]);
                (start + cut, start + cut, true)
            }
            None => return (start, queued),
        };
        if prefix.len > 0 {
            pieces.push(prefix);
        }
        // The line with its newline, as it was read.
        pieces.push(Piece::of(raw + start, end - start));
        queued += prefix.len as usize + end - start;
        if cut {
            pieces.push(Piece::NEWLINE);
            queued += 1;
        }
        start = next;
    }
}

/// The index of the first newline in `bytes`: memchr(3) a word at a time
/// (the release build is optimised for size, so a byte loop stays one).
fn newline(bytes: &[u8]) -> Option<usize> {
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

/// One stretch of an output: `len` bytes of `Output::buf` from `start`,
/// or (`NEWLINE`) the newline that ends a cut line. Offsets, not
/// pointers: the buffer may move as it grows.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    start: u32,
    len: u32,
}

impl Piece {
    const NEWLINE: Piece = Piece {
        start: u32::MAX,
        len: 1,
    };

    /// Offsets fit: the buffer is bounded by `MEM_CAP`, far below 4 GiB.
    fn of(start: usize, len: usize) -> Piece {
        Piece {
            start: start as u32,
            len: len as u32,
        }
    }
}

/// Bytes waiting to be written to one of tend's own outputs.
///
/// What is read from the services' pipes stays where the read put it, in
/// `buf` (each read preceded by its service's prefix, and by the
/// unfinished line its previous read left); what is to be written is a
/// list of pieces of `buf`, in order (prefix, line, prefix, line, ...),
/// gathered only when written.
pub struct Output {
    /// Where the queue is written: `std` itself, or tend's own
    /// non-blocking description of it (`own`).
    pub fd: RawFd,
    /// 1 or 2: the output this is, by the number the world knows it by.
    std: RawFd,
    own: Option<OwnedFd>,
    /// The bytes the pieces point into.
    buf: Vec<u8>,
    /// What to write, in order; those before `next` are written, and the
    /// first `done` bytes of `pieces[next]`.
    pieces: Vec<Piece>,
    next: usize,
    done: usize,
    /// Bytes queued, not yet written: the pieces from `next` on, less
    /// `done`.
    pending: usize,
    /// Bytes dropped since the last notice.
    dropped: u64,
    /// The pieces of one write, gathered.
    staging: Vec<u8>,
}

/// The memory one output's `buf` and pieces never exceed (reads are
/// sized for it): each byte read adds at most one byte and two pieces
/// (a line of only a newline: its prefix and itself).
pub const MEM_CAP: usize = 2 * QUEUE_CAP;
const PIECE: usize = std::mem::size_of::<Piece>();

impl Output {
    /// Writes to `fd` as it is: only when poll says it is writable, one
    /// `CHUNK` at a time (it may block).
    pub fn new(fd: RawFd) -> Output {
        Output {
            fd,
            std: fd,
            own: None,
            buf: Vec::new(),
            pieces: Vec::new(),
            next: 0,
            done: 0,
            pending: 0,
            dropped: 0,
            staging: Vec::new(),
        }
    }

    /// tend's stdout (1) or stderr (2): through a non-blocking description
    /// of its own when it is a pipe, written as fast as the reader takes.
    pub fn std(fd: RawFd) -> Output {
        let mut out = Output::new(fd);
        if let Some(own) = crate::sys::reopen_pipe_nonblocking(fd) {
            out.fd = own.as_raw_fd();
            out.own = Some(own);
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
        self.pending
    }

    fn bytes(&self, p: Piece) -> &[u8] {
        if p == Piece::NEWLINE {
            return b"\n";
        }
        let start = p.start as usize;
        self.buf
            .get(start..start + p.len as usize)
            .unwrap_or_default()
    }

    /// Queues `buf[start..start + len]`.
    fn push_piece(&mut self, start: usize, len: usize) {
        if len > 0 {
            self.pieces.push(Piece::of(start, len));
            self.pending += len;
        }
    }

    /// What is queued, in one piece: for the last flush, and tests.
    fn unwritten(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.pending);
        for (k, &p) in self.pieces[self.next..].iter().enumerate() {
            let b = self.bytes(p);
            all.extend_from_slice(if k == 0 {
                &b[self.done.min(b.len())..]
            } else {
                b
            });
        }
        all
    }

    /// Frees what is written: all of it when the queue is empty (the
    /// usual case); otherwise the bytes before the first one a piece
    /// still needs, once they are as many as the bytes to keep (so each
    /// byte is moved at most about once).
    fn compact(&mut self) {
        if self.next == self.pieces.len() {
            self.buf.clear();
            self.pieces.clear();
            self.next = 0;
            self.done = 0;
            // Give back what a burst took, beyond what a turn needs.
            self.buf.shrink_to(4 * HIGH_WATER);
            self.pieces.shrink_to(HIGH_WATER / PIECE);
            return;
        }
        if self.next >= 1024 && 2 * self.next >= self.pieces.len() {
            self.pieces.drain(..self.next);
            self.next = 0;
        }
        if self.buf.len() < 2 * HIGH_WATER {
            return;
        }
        let live = &self.pieces[self.next..];
        let floor = live
            .iter()
            .filter(|&&p| p != Piece::NEWLINE)
            .map(|p| p.start as usize)
            .min()
            .unwrap_or(self.buf.len());
        if floor >= self.buf.len() - floor {
            self.buf.drain(..floor);
            for p in &mut self.pieces[self.next..] {
                if *p != Piece::NEWLINE {
                    p.start -= floor as u32;
                }
            }
        }
    }

    /// How many bytes one read of a pipe may take so that its lines, each
    /// prefixed with `prefix_len` bytes (worst case: every byte a newline),
    /// plus a cut unfinished line, still fit under `QUEUE_CAP`, and the
    /// buffer and pieces under `MEM_CAP`.
    fn read_room(&self, prefix_len: usize) -> usize {
        let reserved = self.pending + MAX_LINE + 2 * (prefix_len + 2);
        let bytes = QUEUE_CAP.saturating_sub(reserved) / (prefix_len + 2);
        let used =
            self.buf.len() + (self.pieces.len() - self.next + 4) * PIECE + prefix_len + MAX_LINE;
        let memory = MEM_CAP.saturating_sub(used) / (1 + 2 * PIECE);
        bytes.min(memory).min(READ_BUDGET)
    }

    /// Before a read: appends the prefix and the unfinished line the
    /// previous read left, so that the read lands right after them and
    /// every line of it is one piece. Returns where the prefix is.
    fn begin_read(&mut self, prefix: &[u8], partial: &[u8]) -> usize {
        self.compact();
        let at = self.buf.len();
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(partial);
        at
    }

    /// After a read: queues the complete lines of the unfinished line and
    /// what was read (from `at + prefix_len` on), each after the prefix at
    /// `at`; the rest becomes the unfinished line again, and leaves `buf`.
    fn end_read(&mut self, at: usize, prefix_len: usize, partial: &mut Vec<u8>) {
        let raw = at + prefix_len;
        let prefix = Piece::of(at, prefix_len);
        let (used, queued) = emit_lines(&self.buf, raw, prefix, &mut self.pieces);
        self.pending += queued;
        partial.clear();
        partial.extend_from_slice(&self.buf[raw + used..]);
        self.buf.truncate(if used == 0 { at } else { raw + used });
    }

    /// Cuts the queue back to `QUEUE_CAP` at a line end, counting what
    /// goes (never the piece being written). `read_room` makes this a
    /// last resort.
    fn enforce_cap(&mut self) {
        if self.pending <= QUEUE_CAP {
            return;
        }
        while self.pieces.len() > self.next + 1 {
            let last = self.pieces[self.pieces.len() - 1];
            if self.pending <= QUEUE_CAP && self.bytes(last).ends_with(b"\n") {
                break;
            }
            self.pieces.pop();
            self.pending -= last.len as usize;
            self.dropped += last.len as u64;
        }
    }

    /// Queues tend's own messages, unless that would pass the cap (stderr
    /// not read at all): then they are dropped, and counted.
    pub fn push_own(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.pending + bytes.len() <= QUEUE_CAP {
            self.compact();
            let at = self.buf.len();
            self.buf.extend_from_slice(&bytes);
            self.push_piece(at, bytes.len());
        } else {
            self.dropped += bytes.len() as u64;
        }
    }

    pub fn full(&self) -> bool {
        self.pending >= HIGH_WATER
    }

    /// Writes what can be written without waiting for poll: with tend's
    /// own non-blocking description, as much as the pipe takes; with a
    /// blocking fd, nothing.
    pub fn write_now(&mut self) {
        if self.own.is_some() && self.pending > 0 {
            self.write_some();
        }
    }

    /// One write(2) of at most `max` bytes (and `GATHER`), the pieces
    /// gathered from where the last write stopped (which may be inside a
    /// piece). Returns the bytes written and the bytes offered.
    fn write_pieces(&mut self, max: usize) -> Result<(usize, usize), nix::errno::Errno> {
        let max = max.min(GATHER);
        // Room for the last 16-byte move's overshoot; as big as the
        // biggest write so far, at most GATHER + 16.
        if self.staging.len() < max + 16 {
            self.staging.resize(max + 16, 0);
        }
        let mut offered = 0;
        for (k, &p) in self.pieces[self.next..].iter().enumerate() {
            let (from, mut start, mut len): (&[u8], usize, usize) = if p == Piece::NEWLINE {
                (b"\n", 0, 1)
            } else {
                (&self.buf, p.start as usize, p.len as usize)
            };
            if k == 0 {
                let skip = self.done.min(len);
                start += skip;
                len -= skip;
            }
            let len = len.min(max - offered);
            copy_fast(&mut self.staging[offered..], from, start, len);
            offered += len;
            if offered == max {
                break;
            }
        }
        let written = crate::sys::write_fd(self.fd, &self.staging[..offered])?;
        self.advance(written);
        Ok((written, offered))
    }

    /// Marks `n` more bytes written.
    fn advance(&mut self, mut n: usize) {
        self.pending = self.pending.saturating_sub(n);
        while n > 0 && self.next < self.pieces.len() {
            let left = (self.pieces[self.next].len as usize).saturating_sub(self.done);
            if n < left {
                self.done += n;
                return;
            }
            n -= left;
            self.next += 1;
            self.done = 0;
        }
    }

    /// Writes after poll said the fd is writable: a blocking fd one
    /// `CHUNK`; a non-blocking one as much as it takes.
    pub fn write_some(&mut self) {
        let writes = if self.own.is_some() {
            WRITES_PER_TURN
        } else {
            1
        };
        for _ in 0..writes {
            let n = match self.own {
                Some(_) => self.pending,
                None => self.pending.min(CHUNK),
            };
            if n == 0 {
                break;
            }
            match self.write_pieces(n) {
                Ok((written, offered)) => {
                    if written < offered {
                        break; // the pipe is full
                    }
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => break,
                // Nobody reads our output any more: drop it rather than
                // stopping every service that writes.
                Err(_) => {
                    self.dropped += self.pending as u64;
                    self.next = self.pieces.len();
                    self.done = 0;
                    self.pending = 0;
                    break;
                }
            }
        }
        self.compact();
        // Once the reader caught up, say what it missed (one line).
        if self.dropped > 0 && !self.full() {
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

    /// `flush_blocking` with the deadline given; returns the bytes dropped.
    pub fn flush_until(&mut self, deadline: Instant) -> u64 {
        let bytes = self.unwritten();
        let written = write_until(self.fd, &bytes, deadline);
        let dropped = self.dropped + (bytes.len() - written) as u64;
        self.next = self.pieces.len();
        self.pending = 0;
        self.compact();
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

/// The most one write gathers.
const GATHER: usize = 64 * 1024;

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
