//! tend's own messages: one line each on stderr, `tend: LEVEL: message`
//! (`tend: message` at info level). No timestamps: the container runtime
//! adds them. A tiny `log::Log` rather than a logging dependency.
//!
//! Writing to stderr is one `write` of a preformatted line so lines from
//! tend never interleave mid-line with each other.

use std::io::Write;

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

/// While the supervisor runs, messages are queued here and written by its
/// loop when stderr is writable, so a stalled stderr never blocks PID 1.
static QUEUE: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);

/// Turns queueing on or off (off: messages are written at once).
pub fn queue(on: bool) {
    if let Ok(mut q) = QUEUE.lock() {
        match (on, q.is_some()) {
            (true, false) => *q = Some(Vec::new()),
            (false, true) => {
                if let Some(rest) = q.take() {
                    let _ = std::io::stderr().write_all(&rest);
                }
            }
            _ => {}
        }
    }
}

/// The messages queued since the last call.
pub fn take() -> Vec<u8> {
    match QUEUE.lock() {
        Ok(mut q) => q.as_mut().map(std::mem::take).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = match record.level() {
            log::Level::Info => format!("tend: {}\n", record.args()),
            log::Level::Warn => format!("tend: warning: {}\n", record.args()),
            level => format!(
                "tend: {}: {}\n",
                level.as_str().to_lowercase(),
                record.args()
            ),
        };
        if let Ok(mut q) = QUEUE.lock() {
            if let Some(q) = q.as_mut() {
                q.extend_from_slice(line.as_bytes());
                return;
            }
        }
        // A failed write to stderr has nowhere to be reported; ignore it.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
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
