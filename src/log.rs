//! tend's own messages: one line each on stderr, `tend: LEVEL: message`
//! (`tend: message` at info level). No timestamps: the container runtime
//! adds them. A tiny `log::Log` rather than a logging dependency.
//!
//! Writing to stderr is one `write` of a preformatted line so lines from
//! tend never interleave mid-line with each other. Never blocking for
//! long: while the supervisor runs, lines are queued (at most `MAX_QUEUED`
//! bytes between two turns of its loop, the rest counted and dropped);
//! otherwise a stalled stderr gets `logs::FLUSH_LIMIT` per line.

use std::time::Instant;

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

/// Bytes of messages queued between two `take`s; more are dropped.
const MAX_QUEUED: usize = 64 * 1024;

/// Queued messages and how many were dropped since the last `take`.
struct Queue {
    bytes: Vec<u8>,
    dropped: u64,
}

/// While the supervisor runs, messages are queued here and written by its
/// loop when stderr is writable, so a stalled stderr never blocks PID 1.
static QUEUE: std::sync::Mutex<Option<Queue>> = std::sync::Mutex::new(None);

/// Turns queueing on or off (off: messages are written at once, and what
/// was queued is written now, within `logs::FLUSH_LIMIT`).
pub fn queue(on: bool) {
    let rest = match QUEUE.lock() {
        Ok(mut q) => match (on, q.is_some()) {
            (true, false) => {
                *q = Some(Queue {
                    bytes: Vec::new(),
                    dropped: 0,
                });
                None
            }
            (false, true) => q.take().map(Queue::into_bytes),
            _ => None,
        },
        Err(_) => None,
    };
    if let Some(rest) = rest {
        write_stderr(&rest);
    }
}

/// The messages queued since the last call.
pub fn take() -> Vec<u8> {
    match QUEUE.lock() {
        Ok(mut q) => q.take().map_or_else(Vec::new, |old| {
            *q = Some(Queue {
                bytes: Vec::new(),
                dropped: 0,
            });
            old.into_bytes()
        }),
        Err(_) => Vec::new(),
    }
}

impl Queue {
    /// The queued lines, then one line saying how many were dropped.
    fn into_bytes(mut self) -> Vec<u8> {
        if self.dropped > 0 {
            let note = format!(
                "tend: warning: {} messages dropped: stderr not read in time\n",
                self.dropped
            );
            self.bytes.extend_from_slice(note.as_bytes());
        }
        self.bytes
    }
}

fn write_stderr(bytes: &[u8]) {
    let deadline = Instant::now() + crate::logs::FLUSH_LIMIT;
    crate::logs::write_until(2, bytes, deadline);
}

impl log::Log for StderrLogger {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Messages carry names and text from outside (file names, unit
        // values): one line each, whatever they hold.
        let msg = record.args().to_string();
        let msg = one_line(&msg);
        let line = match record.level() {
            log::Level::Info => format!("tend: {msg}\n"),
            log::Level::Warn => format!("tend: warning: {msg}\n"),
            level => format!("tend: {}: {msg}\n", level.as_str().to_lowercase()),
        };
        if let Ok(mut q) = QUEUE.lock() {
            if let Some(q) = q.as_mut() {
                if q.bytes.len() + line.len() <= MAX_QUEUED {
                    q.bytes.extend_from_slice(line.as_bytes());
                } else {
                    q.dropped += 1;
                }
                return;
            }
        }
        // A failed write to stderr has nowhere to be reported; ignore it.
        write_stderr(line.as_bytes());
    }

    fn flush(&self) {}
}

/// `s` with every control character (a newline, an escape sequence that
/// would drive the reader's terminal, DEL, the C1 controls) written as
/// `\xNN` or `\u{NN}`, so one message stays one harmless line.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Installs the logger. Safe to call more than once.
pub fn init(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Parses a `--log-level` value.
pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
    Some(match s.to_ascii_lowercase().as_str() {
        "off" | "none" => log::LevelFilter::Off,
        "error" => log::LevelFilter::Error,
        "warn" | "warning" => log::LevelFilter::Warn,
        "info" => log::LevelFilter::Info,
        "debug" => log::LevelFilter::Debug,
        "trace" => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// One step more verbose (tini's `-v`).
pub fn louder(level: log::LevelFilter) -> log::LevelFilter {
    use log::LevelFilter::*;
    match level {
        Off => Error,
        Error => Warn,
        Warn => Info,
        Info => Debug,
        Debug | Trace => Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped() {
        for (raw, want) in [
            ("web: ready", "web: ready"),
            ("a\nb", "a\\x0ab"),
            ("\x1b[2Jx\x07", "\\x1b[2Jx\\x07"),
            ("tab\there\x7f", "tab\\x09here\\x7f"),
            ("c1\u{9b}", "c1\\x9b"),
            ("caf\u{e9} \u{fffd}", "caf\u{e9} \u{fffd}"),
        ] {
            assert_eq!(one_line(raw), want, "{raw:?}");
        }
    }
}
