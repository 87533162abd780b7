//! The control socket's I/O: a non-blocking unix stream listener and its
//! connections. A connection sends one request line and gets one reply,
//! then is closed; `wait` requests stay open until the supervisor answers.
//! Nothing here blocks: reads and writes happen only when poll says so, a
//! request longer than `proto::MAX_REQUEST` or slower than `IDLE` is
//! answered with an error, and no connection can hurt the supervisor.

use crate::proto;
use crate::sys;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a client has to send its request.
const IDLE: Duration = Duration::from_secs(10);
/// Connections served at once; more are refused.
const MAX_CONNS: usize = 64;

struct Conn {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// A request was read; the supervisor owes (or gave) the reply.
    answered: bool,
    replied: bool,
    read_by: Instant,
}

pub struct Control {
    path: PathBuf,
    listener: UnixListener,
    conns: Vec<Conn>,
    next_id: u64,
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
        let listener = UnixListener::bind(path).map_err(|e| format!("{shown}: {e}"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{shown}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok(Control {
            path: path.to_path_buf(),
            listener,
            conns: Vec::new(),
            next_id: 1,
        })
    }

    /// The fds to poll: the listener, then each connection.
    pub fn pollfds(&self, out: &mut Vec<libc::pollfd>) {
        out.push(sys::pollfd(self.listener.as_raw_fd(), libc::POLLIN));
        for c in &self.conns {
            let events = if !c.output.is_empty() {
                libc::POLLOUT
            } else {
                libc::POLLIN
            };
            out.push(sys::pollfd(c.stream.as_raw_fd(), events));
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .filter(|c| !c.answered)
            .map(|c| c.read_by)
            .min()
    }

    /// Handles poll results (in the order of `pollfds`); returns the
    /// requests read in full, and the ids of connections that went away.
    pub fn service(
        &mut self,
        revents: &[libc::c_short],
        now: Instant,
    ) -> (Vec<Incoming>, Vec<u64>) {
        let mut incoming = Vec::new();
        let mut gone = Vec::new();
        let listener_ready = revents.first().is_some_and(|r| *r != 0);
        for (c, &rev) in self.conns.iter_mut().zip(revents.iter().skip(1)) {
            if rev == 0 {
                if !c.answered && c.read_by <= now {
                    c.answered = true;
                    c.output = proto::reply(2, "request timed out");
                    c.replied = true;
                }
                continue;
            }
            if !c.output.is_empty() {
                match c.stream.write(&c.output) {
                    Ok(n) => drop(c.output.drain(..n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => c.output.clear(),
                }
                continue;
            }
            let mut buf = [0u8; 1024];
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    if c.answered && !c.replied {
                        gone.push(c.id); // a waiting client hung up
                    }
                    c.replied = true;
                    c.answered = true;
                }
                Ok(n) if !c.answered => {
                    c.input.extend_from_slice(&buf[..n]);
                    if let Some(end) = c.input.iter().position(|&b| b == b'\n') {
                        c.answered = true;
                        incoming.push(Incoming {
                            id: c.id,
                            request: proto::decode(&c.input[..end]),
                        });
                    } else if c.input.len() > proto::MAX_REQUEST {
                        c.answered = true;
                        c.replied = true;
                        c.output = proto::reply(2, "request too long");
                    }
                }
                Ok(_) => {} // bytes after the request line are ignored
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    c.answered = true;
                    c.replied = true;
                }
            }
        }
        // A connection is closed once its reply is fully written.
        self.conns.retain(|c| !(c.replied && c.output.is_empty()));
        if listener_ready {
            self.accept(now);
        }
        (incoming, gone)
    }

    fn accept(&mut self, now: Instant) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            let uid = sys::peer_uid(&stream);
            let me = sys::my_uid();
            // Root may always talk to tend; anyone else only as tend's user.
            let refusal = match uid {
                Some(u) if u == me || u == 0 => None,
                Some(u) => Some(format!("refused: uid {u} is not tend's user")),
                None => Some("refused: no peer credentials".to_string()),
            };
            let refusal = refusal.or_else(|| {
                (self.conns.len() >= MAX_CONNS).then(|| "refused: too many clients".to_string())
            });
            if let Some(msg) = &refusal {
                log::warn!("control: {msg}");
            }
            self.next_id += 1;
            self.conns.push(Conn {
                id: self.next_id,
                stream,
                input: Vec::new(),
                answered: refusal.is_some(),
                replied: refusal.is_some(),
                output: refusal.map(|m| proto::reply(1, &m)).unwrap_or_default(),
                read_by: now + IDLE,
            });
        }
    }

    /// Queues the reply to connection `id` (no-op if it is gone).
    pub fn reply(&mut self, id: u64, code: i32, body: &str) {
        if let Some(c) = self.conns.iter_mut().find(|c| c.id == id) {
            c.output = proto::reply(code, body);
            c.replied = true;
            // Most replies fit the socket buffer: write at once.
            if let Ok(n) = c.stream.write(&c.output) {
                c.output.drain(..n);
            }
        }
        self.conns.retain(|c| !(c.replied && c.output.is_empty()));
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
