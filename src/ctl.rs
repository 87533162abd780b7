//! The `tend ctl` / `tendctl` client: turns its arguments into one request
//! line (see `proto`), sends it on the control socket, prints the reply and
//! exits with the code the supervisor chose. Exit codes: 0 ok, 1 negative
//! answer, timeout or no supervisor, 2 usage.

use crate::proto::{self, Request};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: &str = "usage: tend ctl [--control PATH] VERB [ARGS...]
verbs:
  status [NAME...] [--json]
  up NAME...   down NAME...   restart NAME...
  signal SIG NAME...
  wait up|ready|down NAME... [--timeout DUR]
  reload [NAME...]   (no name: rescan the services dir)
  check   shutdown";

pub fn run(args: &[String]) -> i32 {
    let mut socket = default_socket();
    let mut words: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--control" {
            match it.next() {
                Some(p) => socket = p.into(),
                None => return usage("--control needs a path"),
            }
        } else if let Some(p) = a.strip_prefix("--control=") {
            socket = p.into();
        } else if a == "-h" || a == "--help" {
            println!("{USAGE}");
            return 0;
        } else {
            words.push(a);
        }
    }
    let req = match proto::parse_words(&words) {
        Ok(r) => r,
        Err(e) => return usage(&e),
    };
    match request(&socket, &req) {
        Ok((code, body)) => {
            if code == 0 {
                print!("{body}");
            } else {
                eprint!("{body}");
            }
            code
        }
        Err(e) => {
            eprintln!("tend ctl: {e}");
            1
        }
    }
}

/// The socket named by `TEND_CONTROL`, else the default.
pub fn default_socket() -> PathBuf {
    std::env::var_os("TEND_CONTROL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/tend/control.sock"))
}

/// Sends one request, returns the supervisor's exit code and text; the
/// error says what failed, naming the socket.
pub fn request(socket: &Path, req: &Request) -> Result<(i32, String), String> {
    // `wait` may legitimately take as long as its timeout.
    let read_timeout = match req {
        Request::Wait { timeout: None, .. } => None,
        Request::Wait {
            timeout: Some(t), ..
        } => Some(*t + Duration::from_secs(5)),
        _ => Some(Duration::from_secs(10)),
    };
    let shown = socket.display();
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("no supervisor at {shown}: {e}"))?;
    let _ = stream.set_read_timeout(read_timeout);
    stream
        .write_all(proto::encode(req).as_bytes())
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .map_err(|e| format!("{shown}: no reply: {e}"))?;
    proto::parse_reply(&reply).map_err(|e| format!("{shown}: {e}"))
}

fn usage(msg: &str) -> i32 {
    eprintln!("tend ctl: {msg}\n{USAGE}");
    2
}
