//! Service output: each service's stdout and stderr come to tend through
//! pipes that tend owns for the service's whole life (so a restart loses
//! nothing), split into lines and prefixed `NAME | `, then queued for
//! tend's own stdout or stderr. Writing never blocks the loop: a queue is
//! written only when poll says its fd is writable, one `PIPE_BUF` chunk at
//! a time; while a queue is over `HIGH_WATER`, tend stops reading the
//! pipes that feed it, so a slow reader back-pressures the services rather
//! than losing lines or stalling supervision.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A line longer than this is cut (at a UTF-8 character boundary) and
/// continued on a new prefixed line.
pub const MAX_LINE: usize = 8192;
/// Bytes queued for one output before tend stops reading its producers.
pub const HIGH_WATER: usize = 64 * 1024;
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

    /// Reads what is there and queues its complete lines on `out`.
    /// Returns false at end of file or error.
    pub fn drain_into(&mut self, prefix: &str, out: &mut Output) -> bool {
        let mut buf = [0u8; 16 * 1024];
        match nix::unistd::read(&self.r, &mut buf) {
            Ok(0) => false,
            Ok(n) => {
                split_lines(&mut self.partial, &buf[..n], prefix, &mut out.queue);
                true
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => true,
            Err(_) => false,
        }
    }

    /// Queues an unfinished last line (the service exited without a
    /// newline), with a newline added.
    pub fn flush_partial(&mut self, prefix: &str, out: &mut Output) {
        if !self.partial.is_empty() {
            out.queue.extend_from_slice(prefix.as_bytes());
            out.queue.append(&mut self.partial);
            out.queue.push(b'\n');
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
}

impl Output {
    pub fn new(fd: RawFd) -> Output {
        Output {
            fd,
            queue: Vec::new(),
        }
    }

    /// Queues tend's own messages, unless the queue is far over its
    /// limit (stderr not read at all): then they are dropped.
    pub fn push_own(&mut self, bytes: Vec<u8>) {
        if self.queue.len() < 16 * HIGH_WATER {
            self.queue.extend_from_slice(&bytes);
        }
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
            Err(_) => self.queue.clear(),
        }
    }

    /// Writes everything, blocking: only on the way out of tend.
    pub fn flush_blocking(&mut self) {
        while let Ok(written @ 1..) = crate::sys::write_fd(self.fd, &self.queue) {
            self.queue.drain(..written);
        }
    }
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

    #[test]
    fn utf8_cuts() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("a€".as_bytes()), 4);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_cut(&[0xff, 0xff]), 2);
    }
}
