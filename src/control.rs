//! The control socket's I/O: a non-blocking unix stream listener and its
//! connections. A connection sends one request line and gets one reply,
//! then is closed; `wait` requests stay open until the supervisor answers.
//!
//! Nothing here blocks, and no client can lock the others out:
//! - a request must arrive in full within `READ_BY`, a reply must be taken
//!   within `WRITE_BY`, else the connection is closed;
//! - at most `MAX_CONNS` connections are open; a newcomer always gets in,
//!   by closing the oldest connection that is still sending its request,
//!   else the oldest whose reply is not taken, else the oldest `wait`
//!   (told so, and reported to the supervisor as gone), so `check` and
//!   `status` are served however many idle or waiting clients there are;
//! - each wakeup accepts at most `ACCEPTS_PER_WAKEUP` connections and reads
//!   at most one buffer from each;
//! - when accept(2) fails for want of file descriptors, the connection
//!   stays queued and the listener stays readable: to not spin, tend frees
//!   an fd by closing a connection as above, or accepts with a reserve fd
//!   and closes at once, or stops polling the listener for `FD_BACKOFF`.
//!   One warning per episode, not one per wakeup.

use crate::proto;
use crate::sys;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a client has to send its whole request (`tend ctl` sends it at
/// once after connecting).
pub const READ_BY: Duration = Duration::from_secs(2);
/// How long a client has to take its reply.
const WRITE_BY: Duration = Duration::from_secs(10);
/// Connections open at once; a newcomer closes the oldest idle one.
pub const MAX_CONNS: usize = 64;
/// Connections accepted in one wakeup; the rest wait for the next.
const ACCEPTS_PER_WAKEUP: usize = 16;
/// How long the listener is left alone when no fd can be had for a client.
const FD_BACKOFF: Duration = Duration::from_millis(250);
/// At most one warning about refused users per this interval.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// One read from a client per wakeup.
const READ_CHUNK: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Sending its request. Evicted first.
    Reading,
    /// Its reply is queued and not yet taken.
    Writing,
    /// A request was read; the supervisor owes the reply (`wait`).
    Waiting,
}

struct Conn {
    id: u64,
    stream: UnixStream,
    stage: Stage,
    input: Vec<u8>,
    output: Vec<u8>,
    /// When it entered its stage: the oldest is evicted first.
    since: Instant,
    /// When it is closed (Reading: answered "timed out"); none for Waiting.
    deadline: Option<Instant>,
    closed: bool,
}

impl Conn {
    /// Queues `reply` and writes what the socket takes at once (most
    /// replies fit its buffer).
    fn send(&mut self, reply: Vec<u8>, now: Instant) {
        self.output = reply;
        self.stage = Stage::Writing;
        self.since = now;
        self.deadline = Some(now + WRITE_BY);
        self.write_some();
    }

    fn write_some(&mut self) {
        match self.stream.write(&self.output) {
            Ok(n) => drop(self.output.drain(..n)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.output.clear(),
        }
        if self.output.is_empty() {
            self.closed = true;
        }
    }
}

pub struct Control {
    path: PathBuf,
    listener: UnixListener,
    conns: Vec<Conn>,
    next_id: u64,
    /// An fd kept to be closed when accept(2) runs out of fds, so that the
    /// client at the head of the queue can be accepted and closed.
    reserve: Option<OwnedFd>,
    /// The listener is not polled before this (fds exhausted).
    paused_until: Option<Instant>,
    /// In an fd-exhaustion episode (warned once).
    starved: bool,
    /// In a too-many-clients episode (warned once).
    crowded: bool,
    refused_unlogged: u64,
    refusal_logged_at: Option<Instant>,
}

/// A request the supervisor must answer with `Control::reply`.
pub struct Incoming {
    pub id: u64,
    pub request: Result<proto::Request, String>,
}

impl Control {
    /// Binds the socket at `path`, mode 0600. A stale socket left by a dead
    /// tend is replaced; a live one is an error.
    pub fn bind(path: &Path) -> Result<Control, String> {
        let shown = path.display();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!("{shown}: another tend is listening there"));
            }
            let _ = std::fs::remove_file(path);
        }
        // Made under a name of its own, listening and mode 0600, then
        // renamed into place: a client that sees the path can connect (no
        // ECONNREFUSED between bind and listen, no moment at the umask's
        // mode). A path too long for the extra name is bound in place.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".new");
        let tmp = std::path::PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let (listener, at) = match UnixListener::bind(&tmp) {
            Ok(l) => (l, tmp.as_path()),
            Err(_) => (
                UnixListener::bind(path).map_err(|e| format!("{shown}: {e}"))?,
                path,
            ),
        };
        let placed =
            std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o600)).and_then(|()| {
                match at == path {
                    true => Ok(()),
                    false => std::fs::rename(at, path),
                }
            });
        if let Err(e) = placed {
            let _ = std::fs::remove_file(at);
            return Err(format!("{shown}: {e}"));
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{shown}: {e}"))?;
        let reserve = listener.as_fd().try_clone_to_owned().ok();
        Ok(Control {
            path: path.to_path_buf(),
            listener,
            conns: Vec::new(),
            next_id: 1,
            reserve,
            paused_until: None,
            starved: false,
            crowded: false,
            refused_unlogged: 0,
            refusal_logged_at: None,
        })
    }

    /// The fds to wait on, in the order `service` takes their events: the
    /// listener (fd -1 while accepting is paused), then each connection;
    /// each with its poll events and an id that a new connection on a
    /// reused fd number does not share (the listener's is 0).
    pub fn interest(&self, out: &mut Vec<(RawFd, libc::c_short, u64)>) {
        let listening = self.paused_until.is_none();
        let fd = if listening {
            self.listener.as_raw_fd()
        } else {
            -1
        };
        out.push((fd, libc::POLLIN, 0));
        for c in &self.conns {
            let events = match c.stage {
                Stage::Reading => libc::POLLIN,
                Stage::Writing => libc::POLLOUT,
                // Only its hangup matters: bytes sent after the request
                // must not wake the loop.
                Stage::Waiting => libc::POLLRDHUP,
            };
            out.push((c.stream.as_raw_fd(), events, c.id));
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .filter_map(|c| c.deadline)
            .chain(self.paused_until)
            .min()
    }

    /// Handles poll results (in the order of `interest`) and deadlines;
    /// returns the requests read in full, and the ids of waiting
    /// connections that went away (hung up, or closed to make room).
    pub fn service(
        &mut self,
        revents: &[libc::c_short],
        now: Instant,
    ) -> (Vec<Incoming>, Vec<u64>) {
        let mut incoming = Vec::new();
        let mut gone = Vec::new();
        let listener_ready = revents.first().is_some_and(|r| *r != 0);
        for (c, &rev) in self.conns.iter_mut().zip(revents.iter().skip(1)) {
            if rev != 0 {
                serve(c, rev, &mut incoming, &mut gone, now);
            }
            if !c.closed && c.deadline.is_some_and(|d| d <= now) {
                match c.stage {
                    Stage::Reading => c.send(proto::reply(2, "request timed out"), now),
                    Stage::Writing | Stage::Waiting => c.closed = true,
                }
            }
        }
        self.conns.retain(|c| !c.closed);
        if self.paused_until.is_some_and(|t| t <= now) {
            self.paused_until = None;
        }
        if listener_ready {
            self.accept(now, &mut gone);
        }
        if self.crowded && self.conns.len() < MAX_CONNS / 2 {
            self.crowded = false;
        }
        (incoming, gone)
    }

    fn accept(&mut self, now: Instant, gone: &mut Vec<u64>) {
        // The episode ends with a wakeup whose accepts all had an fd free.
        let mut short = false;
        let mut admitted = false;
        for _ in 0..ACCEPTS_PER_WAKEUP {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    admitted = true;
                    self.admit(stream, now, gone);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ECONNABORTED)) => {}
                Err(e) => {
                    let out_of_fds = matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    );
                    short = true;
                    if !std::mem::replace(&mut self.starved, true) {
                        log::warn!(
                            "control: cannot accept clients: {e}; closing the oldest idle ones"
                        );
                    }
                    if out_of_fds && (self.evict(now, gone) || self.refuse_with_reserve()) {
                        continue;
                    }
                    // Nothing to free: leave the queue alone for a while
                    // rather than wake at once, forever.
                    self.paused_until = Some(now + FD_BACKOFF);
                    break;
                }
            }
        }
        if admitted && !short && std::mem::take(&mut self.starved) {
            log::info!("control: file descriptors available again");
        }
    }

    /// Closes the reserve fd, accepts the client at the head of the queue
    /// into it, tells it why and closes it. False when no reserve is left.
    fn refuse_with_reserve(&mut self) -> bool {
        if self.reserve.take().is_none() {
            return false;
        }
        if let Ok((mut s, _)) = self.listener.accept() {
            let _ = s.set_nonblocking(true);
            let _ = s.write(&proto::reply(1, "tend is out of file descriptors"));
        }
        self.reserve = self.listener.as_fd().try_clone_to_owned().ok();
        true
    }

    fn admit(&mut self, stream: UnixStream, now: Instant, gone: &mut Vec<u64>) {
        let _ = stream.set_nonblocking(true);
        let uid = sys::peer_uid(&stream);
        let me = sys::my_uid();
        // Root may always talk to tend; anyone else only as tend's user.
        let refusal = match uid {
            Some(u) if u == me || u == 0 => None,
            Some(u) => Some(format!("refused: uid {u} is not tend's user")),
            None => Some("refused: no peer credentials".to_string()),
        };
        if let Some(msg) = &refusal {
            self.log_refusal(msg, now);
        }
        if self.conns.len() >= MAX_CONNS {
            if !std::mem::replace(&mut self.crowded, true) {
                log::warn!("control: {MAX_CONNS} clients connected; closing the oldest idle ones");
            }
            self.evict(now, gone);
        }
        self.next_id += 1;
        let mut c = Conn {
            id: self.next_id,
            stream,
            stage: Stage::Reading,
            input: Vec::new(),
            output: Vec::new(),
            since: now,
            deadline: Some(now + READ_BY),
            closed: false,
        };
        if let Some(msg) = refusal {
            c.send(proto::reply(1, &msg), now);
        }
        if !c.closed {
            self.conns.push(c);
        }
    }

    /// A warning for the first refused client, then at most one (with a
    /// count) per `REFUSAL_LOG_EVERY`: another user cannot flood stderr.
    fn log_refusal(&mut self, msg: &str, now: Instant) {
        self.refused_unlogged += 1;
        if self
            .refusal_logged_at
            .is_some_and(|t| now.duration_since(t) < REFUSAL_LOG_EVERY)
        {
            return;
        }
        let n = std::mem::take(&mut self.refused_unlogged);
        if n > 1 {
            log::warn!("control: {msg} ({n} clients refused since the last warning)");
        } else {
            log::warn!("control: {msg}");
        }
        self.refusal_logged_at = Some(now);
    }

    /// Closes the connection that matters least: the oldest still sending
    /// its request, else the oldest not taking its reply, else the oldest
    /// `wait` (told so; its id goes to `gone`). False when there is none.
    fn evict(&mut self, now: Instant, gone: &mut Vec<u64>) -> bool {
        let Some(i) = (0..self.conns.len()).min_by_key(|&i| {
            let c = &self.conns[i];
            (c.stage, c.since)
        }) else {
            return false;
        };
        let mut c = self.conns.swap_remove(i);
        log::debug!(
            "control: closing client {} ({:?}) to make room",
            c.id,
            c.stage
        );
        if c.stage == Stage::Waiting {
            gone.push(c.id);
            c.send(proto::reply(1, "dropped: too many control clients"), now);
        }
        true
    }

    /// Queues the reply to connection `id` (no-op if it is gone).
    pub fn reply(&mut self, id: u64, code: i32, body: &str) {
        let now = Instant::now();
        if let Some(c) = self.conns.iter_mut().find(|c| c.id == id) {
            c.send(proto::reply(code, body), now);
        }
        self.conns.retain(|c| !c.closed);
    }
}

/// One connection's poll result: at most one read or one write.
fn serve(
    c: &mut Conn,
    rev: libc::c_short,
    incoming: &mut Vec<Incoming>,
    gone: &mut Vec<u64>,
    now: Instant,
) {
    match c.stage {
        Stage::Writing => {
            if rev & libc::POLLOUT != 0 {
                c.write_some();
            } else {
                c.closed = true; // error or hangup: nobody takes the reply
            }
        }
        Stage::Waiting => {
            // A waiting client hung up (POLLRDHUP, POLLHUP or POLLERR).
            gone.push(c.id);
            c.closed = true;
        }
        Stage::Reading => {
            let mut buf = [0u8; READ_CHUNK];
            match c.stream.read(&mut buf) {
                Ok(0) => c.closed = true,
                Ok(n) => {
                    c.input.extend_from_slice(&buf[..n]);
                    match c.input.iter().position(|&b| b == b'\n') {
                        Some(end) if end <= proto::MAX_REQUEST => {
                            c.stage = Stage::Waiting;
                            c.since = now;
                            c.deadline = None;
                            incoming.push(Incoming {
                                id: c.id,
                                request: proto::decode(&c.input[..end]),
                            });
                            c.input = Vec::new();
                        }
                        _ if c.input.len() > proto::MAX_REQUEST => {
                            c.input = Vec::new();
                            c.send(proto::reply(2, "request too long"), now);
                        }
                        _ => {}
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => c.closed = true,
            }
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket appears at its path already listening and 0600, with
    /// nothing left beside it; a live one is not taken over.
    #[test]
    fn bind_places_a_listening_0600_socket() {
        let dir = std::env::temp_dir().join(format!("tend-control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("c.sock");
        let c = Control::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(UnixStream::connect(&path).is_ok());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["c.sock"]);
        assert!(Control::bind(&path).is_err(), "took over a live socket");
        drop(c);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
