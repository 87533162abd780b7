//! tend's own messages: one line each on stderr, `tend: LEVEL: message`
//! (`tend: message` at info level). No timestamps: the container runtime
//! adds them. A tiny `log::Log` rather than a logging dependency.
//!
//! Writing to stderr is one `write` of a preformatted line so lines from
//! tend never interleave mid-line with each other.

use std::io::Write;

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

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
