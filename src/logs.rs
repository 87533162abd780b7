//! Service output: each service's stdout and stderr come to tend through
//! pipes that tend owns for the service's whole life (so a restart loses
//! nothing), split into lines and prefixed `NAME | `, then queued for
//! tend's own stdout or stderr. Writing never blocks the loop: a queue is
//! written only when poll says its fd is writable, one `PIPE_BUF` chunk at
//! a time; while a queue is over `HIGH_WATER`, tend stops reading the
//! pipes that feed it, so a slow reader back-pressures the services rather
//! than losing lines or stalling supervision.
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
/// Bytes one queue never exceeds: what would is dropped and counted.
pub const QUEUE_CAP: usize = 4 * HIGH_WATER;
/// The most one read of a pipe takes.
pub const READ_BUDGET: usize = 16 * 1024;
/// On the way out, how long a stalled reader of tend's output is waited for.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(1);
/// One write: what a pipe that poll says is writable takes without blocking.
const CHUNK: usize = 4096;

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
    /// bytes read and whether reading may go on.
    fn read_some(&mut self, prefix: &str, out: &mut Output, max: usize) -> (usize, bool) {
        let n = out.read_room(prefix.len()).min(max);
        if n == 0 {
            return (0, false);
        }
        let mut buf = [0u8; READ_BUDGET];
        match nix::unistd::read(&self.r, &mut buf[..n]) {
            Ok(0) => (0, false),
            Ok(got) => {
                split_lines(&mut self.partial, &buf[..got], prefix, &mut out.queue);
                out.enforce_cap();
                (got, true)
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => (0, true),
            Err(_) => (0, false),
        }
    }

    /// Queues an unfinished last line (the service exited without a
    /// newline), with a newline added.
    pub fn flush_partial(&mut self, prefix: &str, out: &mut Output) {
        if !self.partial.is_empty() {
            out.queue.extend_from_slice(prefix.as_bytes());
            out.queue.append(&mut self.partial);
            out.queue.push(b'\n');
            out.enforce_cap();
        }
    }
}

/// Appends the complete lines of `partial` + `data` to `out`, each with
/// `prefix`; keeps the unfinished rest in `partial`.
pub fn split_lines(partial: &mut Vec<u8>, data: &[u8], prefix: &str, out: &mut Vec<u8>) {
    partial.extend_from_slice(data);
    let mut start = 0;
    loop {
        let rest = &partial[start..];
        let (end, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= MAX_LINE => (start + i, start + i + 1),
            _ if rest.len() > MAX_LINE => {
                let cut = utf8_cut(&rest[..MAX_LINE]);
                (start + cut, start + cut)
            }
            _ => break,
        };
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(&partial[start..end]);
        out.push(b'\n');
        start = next;
    }
    partial.drain(..start);
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
    pub fd: RawFd,
    pub queue: Vec<u8>,
    /// Bytes dropped since the last notice.
    dropped: u64,
}

impl Output {
    pub fn new(fd: RawFd) -> Output {
        Output {
            fd,
            queue: Vec::new(),
            dropped: 0,
        }
    }

    fn name(&self) -> String {
        match self.fd {
            1 => "stdout".to_string(),
            2 => "stderr".to_string(),
            fd => format!("fd {fd}"),
        }
    }

    /// How many bytes one read of a pipe may take so that its lines, each
    /// prefixed with `prefix_len` bytes (worst case: every byte a newline),
    /// plus a cut unfinished line, still fit under `QUEUE_CAP`.
    fn read_room(&self, prefix_len: usize) -> usize {
        let reserved = self.queue.len() + MAX_LINE + 2 * (prefix_len + 2);
        (QUEUE_CAP.saturating_sub(reserved) / (prefix_len + 2)).min(READ_BUDGET)
    }

    /// Cuts the queue back to `QUEUE_CAP` at a line end, counting what
    /// goes. `read_room` makes this a last resort.
    fn enforce_cap(&mut self) {
        if self.queue.len() <= QUEUE_CAP {
            return;
        }
        let keep = self.queue[..QUEUE_CAP]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        self.dropped += (self.queue.len() - keep) as u64;
        self.queue.truncate(keep);
    }

    /// Queues tend's own messages, unless that would pass the cap (stderr
    /// not read at all): then they are dropped, and counted.
    pub fn push_own(&mut self, bytes: Vec<u8>) {
        if self.queue.len() + bytes.len() <= QUEUE_CAP {
            self.queue.extend_from_slice(&bytes);
        } else {
            self.dropped += bytes.len() as u64;
        }
    }

    /// Bytes queued, not yet written.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    pub fn full(&self) -> bool {
        self.queue.len() >= HIGH_WATER
    }

    /// One write, after poll said the fd is writable.
    pub fn write_some(&mut self) {
        let n = self.queue.len().min(CHUNK);
        match crate::sys::write_fd(self.fd, &self.queue[..n]) {
            Ok(written) => drop(self.queue.drain(..written)),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            // Nobody reads our output any more: drop it rather than
            // stopping every service that writes.
            Err(_) => {
                self.dropped += self.queue.len() as u64;
                self.queue.clear();
            }
        }
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
        let written = write_until(self.fd, &self.queue, deadline);
        let dropped = self.dropped + (self.queue.len() - written) as u64;
        self.queue.clear();
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
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> (String, Vec<u8>) {
        let mut partial = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            split_lines(&mut partial, c, "web | ", &mut out);
        }
        (String::from_utf8(out).unwrap(), partial)
    }

    #[test]
    fn lines_are_prefixed_across_reads() {
        let (out, rest) = split(&[b"one\ntw", b"o\n\nthr", b"ee"]);
        assert_eq!(out, "web | one\nweb | two\nweb | \n");
        assert_eq!(rest, b"three");
    }

    #[test]
    fn long_lines_are_cut_at_char_boundaries() {
        // 8191 ASCII bytes then a 3-byte character straddling the limit.
        let mut line = vec![b'a'; MAX_LINE - 1];
        line.extend_from_slice("€".as_bytes());
        line.extend_from_slice(b"tail\n");
        let (out, rest) = split(&[&line]);
        assert!(rest.is_empty());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), "web | ".len() + MAX_LINE - 1);
        assert_eq!(lines[1], "web | €tail");
    }

    /// Writes as much of `bytes` as the pipe takes without blocking.
    fn fill(p: &Pipe, bytes: &[u8]) -> usize {
        let w = p.w.as_ref().unwrap();
        nix::fcntl::fcntl(
            w,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        nix::unistd::write(w, bytes).unwrap_or(0)
    }

    // Symptom (#4): the supervisor's end-of-run loop `while readable() &&
    // drain_into()` never ended while a left-behind process kept the pipe
    // full, and the queue grew by 113 MB a second.
    #[test]
    fn a_pipe_that_never_empties_cannot_grow_a_queue_past_its_cap() {
        let mut p = Pipe::new(true).unwrap();
        let mut out = Output::new(-1);
        let prefix = "x".repeat(200) + " | ";
        let lines = b"y\n".repeat(READ_BUDGET / 2);
        let mut turns = 0;
        loop {
            fill(&p, &lines); // a writer that always keeps up
            if !(p.readable() && p.drain_into(&prefix, &mut out)) {
                break;
            }
            turns += 1;
            assert!(turns < 1000, "the loop does not end");
        }
        assert!(out.queue.len() <= QUEUE_CAP, "{} queued", out.queue.len());
        assert_eq!(out.dropped, 0, "room is checked before reading");
    }

    #[test]
    fn drain_pending_takes_what_is_there_and_ends_the_last_line() {
        let mut p = Pipe::new(true).unwrap();
        let mut out = Output::new(-1);
        fill(&p, b"one\ntwo");
        p.drain_pending("a | ", &mut out);
        assert_eq!(out.queue, b"a | one\na | two\n");
        assert!(!p.readable());
        // Without room, nothing is read and nothing is lost.
        out.queue = vec![b'q'; QUEUE_CAP];
        fill(&p, b"three\n");
        p.drain_pending("a | ", &mut out);
        assert!(p.readable());
        assert_eq!(out.queue.len(), QUEUE_CAP);
    }

    #[test]
    fn the_cap_holds_and_drops_are_counted() {
        let mut out = Output::new(-1);
        out.push_own(vec![b'm'; QUEUE_CAP - 10]);
        out.push_own(b"0123456789abc\n".to_vec());
        assert_eq!(out.queue.len(), QUEUE_CAP - 10);
        assert_eq!(out.dropped, 14);
        let mut over = Output::new(-1);
        over.queue = b"line\n".repeat(QUEUE_CAP / 5 + 10);
        over.enforce_cap();
        assert!(over.queue.len() <= QUEUE_CAP && over.queue.ends_with(b"\n"));
        assert_eq!(over.dropped as usize, 50);
    }

    // Symptom (#13): tend's last write to a pipe nobody read blocked its
    // exit forever.
    #[test]
    fn the_final_flush_gives_up_at_its_deadline() {
        let (r, w) = crate::sys::pipe(false).unwrap();
        let mut out = Output::new(w.as_raw_fd());
        out.queue = vec![b'z'; 1 << 20]; // more than a pipe holds
        let start = Instant::now();
        let dropped = out.flush_until(start + Duration::from_millis(200));
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(dropped > 0 && dropped < 1 << 20, "{dropped}");
        assert!(out.queue.is_empty());
        drop(r);
    }

    #[test]
    fn utf8_cuts() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("a€".as_bytes()), 4);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_cut(&[0xff, 0xff]), 2);
    }
}
