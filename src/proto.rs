//! The control protocol, shared by the supervisor and `tend ctl`. Pure
//! encoding and decoding; the socket I/O is elsewhere.
//!
//! A request is one line, at most `MAX_REQUEST` bytes: the verb and its
//! arguments separated by single spaces (service names, signal names and
//! durations never contain spaces), ending in `\n`.
//! A reply is the client's exit code on a first line, then free text for
//! the client to print, then end of stream.
//!
//! ```text
//! > status web\n            < 0\nNAME  STATE  PID ...\n
//! > wait ready db 5000\n    < 1\ntimed out: db is starting\n
//! ```

use std::time::Duration;

pub const MAX_REQUEST: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Up,
    Ready,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status {
        names: Vec<String>,
        json: bool,
    },
    Up(Vec<String>),
    Down(Vec<String>),
    Restart(Vec<String>),
    Signal {
        signal: i32,
        names: Vec<String>,
    },
    Wait {
        goal: Goal,
        names: Vec<String>,
        timeout: Option<Duration>,
    },
    Check,
    /// No names: rescan the services dir. Names: reload those services in
    /// place (their `reload-signal` to their main process).
    Reload(Vec<String>),
    Shutdown,
}

fn names_of(words: &[&str], verb: &str) -> Result<Vec<String>, String> {
    if words.is_empty() {
        return Err(format!("{verb}: name at least one service"));
    }
    Ok(words.iter().map(|w| w.to_string()).collect())
}

/// Parses command-line words (`tend ctl status web --json`) or the words of
/// a request line; the same grammar serves both.
pub fn parse_words(words: &[&str]) -> Result<Request, String> {
    let (verb, rest) = words.split_first().ok_or("no verb given")?;
    Ok(match *verb {
        "status" => {
            let json = rest.contains(&"--json");
            let names = rest
                .iter()
                .filter(|w| **w != "--json")
                .map(|w| w.to_string())
                .collect();
            Request::Status { names, json }
        }
        "up" => Request::Up(names_of(rest, verb)?),
        "down" => Request::Down(names_of(rest, verb)?),
        "restart" => Request::Restart(names_of(rest, verb)?),
        "signal" => {
            let (sig, names) = rest.split_first().ok_or("signal: name a signal")?;
            Request::Signal {
                signal: crate::config::parse_signal(sig)?,
                names: names_of(names, verb)?,
            }
        }
        "wait" => {
            let (goal, rest) = rest.split_first().ok_or("wait: up, ready or down?")?;
            let goal = match *goal {
                "up" => Goal::Up,
                "ready" => Goal::Ready,
                "down" => Goal::Down,
                g => return Err(format!("wait: expected up, ready or down, got {g:?}")),
            };
            let mut names = Vec::new();
            let mut timeout = None;
            let mut it = rest.iter();
            while let Some(w) = it.next() {
                if *w == "--timeout" {
                    let v = it.next().ok_or("wait: --timeout needs a duration")?;
                    timeout = Some(crate::config::parse_duration(v)?);
                } else {
                    names.push(*w);
                }
            }
            Request::Wait {
                goal,
                names: names_of(&names, verb)?,
                timeout,
            }
        }
        "check" if rest.is_empty() => Request::Check,
        "reload" => Request::Reload(rest.iter().map(|w| w.to_string()).collect()),
        "shutdown" if rest.is_empty() => Request::Shutdown,
        "check" | "shutdown" => return Err(format!("{verb} takes no arguments")),
        v => return Err(format!("unknown verb {v:?}")),
    })
}

/// The request line sent on the socket.
pub fn encode(req: &Request) -> String {
    let mut w: Vec<String> = Vec::new();
    let names = |w: &mut Vec<String>, n: &[String]| w.extend(n.iter().cloned());
    match req {
        Request::Status { names: n, json } => {
            w.push("status".into());
            names(&mut w, n);
            if *json {
                w.push("--json".into());
            }
        }
        Request::Up(n) => {
            w.push("up".into());
            names(&mut w, n);
        }
        Request::Down(n) => {
            w.push("down".into());
            names(&mut w, n);
        }
        Request::Restart(n) => {
            w.push("restart".into());
            names(&mut w, n);
        }
        Request::Signal { signal, names: n } => {
            w.push("signal".into());
            w.push(signal.to_string());
            names(&mut w, n);
        }
        Request::Wait {
            goal,
            names: n,
            timeout,
        } => {
            w.push("wait".into());
            w.push(
                match goal {
                    Goal::Up => "up",
                    Goal::Ready => "ready",
                    Goal::Down => "down",
                }
                .into(),
            );
            names(&mut w, n);
            if let Some(t) = timeout {
                w.push("--timeout".into());
                w.push(format!("{}ms", t.as_millis()));
            }
        }
        Request::Check => w.push("check".into()),
        Request::Reload(n) => {
            w.push("reload".into());
            names(&mut w, n);
        }
        Request::Shutdown => w.push("shutdown".into()),
    }
    let mut line = w.join(" ");
    line.push('\n');
    line
}

/// Decodes a request line as received (without its newline).
pub fn decode(line: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(line).map_err(|_| "request is not UTF-8".to_string())?;
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    parse_words(&words)
}

/// A reply on the wire.
pub fn reply(code: i32, body: &str) -> Vec<u8> {
    let mut out = format!("{code}\n").into_bytes();
    out.extend_from_slice(body.as_bytes());
    if !body.is_empty() && !body.ends_with('\n') {
        out.push(b'\n');
    }
    out
}

/// Splits a received reply into exit code and body.
pub fn parse_reply(bytes: &[u8]) -> Result<(i32, String), String> {
    let text = String::from_utf8_lossy(bytes);
    let (code, body) = text.split_once('\n').ok_or("truncated reply")?;
    let code = code.trim().parse().map_err(|_| "malformed reply")?;
    Ok((code, body.to_string()))
}

/// Escapes a string for JSON (names are plain, but be exact).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Result<Request, String> {
        parse_words(&s.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn round_trip() {
        let reqs = [
            "status",
            "status web db --json",
            "up web",
            "down a b",
            "restart x",
            "signal HUP web",
            "wait ready db --timeout 2s",
            "wait down db",
            "check",
            "reload",
            "reload web db",
            "shutdown",
        ];
        for r in reqs {
            let req = words(r).unwrap_or_else(|e| panic!("{r}: {e}"));
            let line = encode(&req);
            assert!(line.ends_with('\n') && line.len() < MAX_REQUEST);
            assert_eq!(decode(line.trim_end().as_bytes()), Ok(req), "{r}");
        }
    }

    #[test]
    fn parsed_values() {
        assert_eq!(words("reload"), Ok(Request::Reload(vec![])));
        assert_eq!(words("reload web"), Ok(Request::Reload(vec!["web".into()])));
        assert_eq!(
            words("signal USR1 a b"),
            Ok(Request::Signal {
                signal: 10,
                names: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            words("wait up x --timeout 250ms"),
            Ok(Request::Wait {
                goal: Goal::Up,
                names: vec!["x".into()],
                timeout: Some(Duration::from_millis(250))
            })
        );
    }

    #[test]
    fn bad_requests() {
        for bad in [
            "",
            "up",
            "bogus",
            "signal",
            "signal NOPE web",
            "wait",
            "wait sideways x",
            "wait up",
            "wait up x --timeout",
            "wait up x --timeout soon",
            "check now",
            "shutdown now",
        ] {
            assert!(words(bad).is_err(), "{bad:?} accepted");
        }
        assert!(decode(b"\xff\xfe").is_err());
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(&reply(1, "no")), Ok((1, "no\n".into())));
        assert_eq!(parse_reply(&reply(0, "")), Ok((0, "".into())));
        assert!(parse_reply(b"zero\n").is_err());
        assert!(parse_reply(b"").is_err());
        assert_eq!(json_str("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
    }
}
