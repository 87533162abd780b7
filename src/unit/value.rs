//! The value syntaxes of unit-file directives: booleans, time spans
//! (systemd.time(7)), file modes, nice levels, exit-status sets and the
//! `Limit*` rlimits (systemd.exec(5)). Pure functions, one-line errors.

use std::time::Duration;

/// systemd's parse_boolean.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        _ => Err(format!(
            "expected a boolean (yes/no), got {:?}",
            super::clip(s)
        )),
    }
}

const US: u64 = 1;
const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// The unit suffixes of systemd.time(7), in microseconds.
fn time_unit(u: &str) -> Option<u64> {
    Some(match u {
        "us" | "usec" | "µs" | "μs" => US,
        "ms" | "msec" => MS,
        "s" | "sec" | "second" | "seconds" => SEC,
        "m" | "min" | "minute" | "minutes" => MIN,
        "h" | "hr" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => 7 * DAY,
        "M" | "month" | "months" => 2_629_800 * SEC,
        "y" | "year" | "years" => 31_557_600 * SEC,
        _ => return None,
    })
}

/// A time span: `5s`, `1min 30s`, `2min200ms`, `1.5h`, a bare number in
/// `default` units (microseconds per unit); `None` for `infinity`.
pub fn parse_timespan(s: &str, default: u64) -> Result<Option<Duration>, String> {
    let bad = || {
        format!(
            "bad time span {:?} (write e.g. 90s, 1min 30s, 500ms, infinity)",
            super::clip(s)
        )
    };
    let t = super::parse::trim(s);
    if t == "infinity" {
        return Ok(None);
    }
    let mut rest = t;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let (n, after) = number(rest).ok_or_else(bad)?;
        let after = after.trim_start_matches(super::parse::is_blank);
        let len = after
            // The suffixes are ASCII but for µ (two code points): no
            // Unicode tables needed (2 KB of binary).
            .find(|c: char| !(c.is_ascii_alphabetic() || c == 'µ' || c == 'μ'))
            .unwrap_or(after.len());
        let unit = match &after[..len] {
            "" => default,
            u => time_unit(u).ok_or_else(bad)?,
        };
        let us = n.scale(unit).ok_or_else(bad)?;
        total = total.checked_add(us).ok_or_else(bad)?;
        rest = after[len..].trim_start_matches(super::parse::is_blank);
    }
    Ok(Some(Duration::from_micros(total)))
}

/// `*Sec=` directives: a bare number is seconds.
pub fn parse_sec(s: &str) -> Result<Option<Duration>, String> {
    parse_timespan(s, SEC)
}

/// A decimal number `12` or `1.5`, as whole and fraction digits.
struct Number<'a> {
    whole: u64,
    frac: &'a str,
}

impl Number<'_> {
    /// The number times `unit`, rounded down to a microsecond.
    fn scale(&self, unit: u64) -> Option<u64> {
        let mut v = self.whole.checked_mul(unit)?;
        let mut place = unit;
        for d in self.frac.bytes() {
            place /= 10;
            v = v.checked_add(u64::from(d - b'0') * place)?;
        }
        Some(v)
    }
}

fn number(s: &str) -> Option<(Number<'_>, &str)> {
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let w = digits(s);
    let (whole, rest) = s.split_at(w);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(r) => r.split_at(digits(r)),
        None => ("", rest),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole = match whole {
        "" => 0,
        w => w.parse().ok()?,
    };
    Some((Number { whole, frac }, rest))
}

/// An octal file mode (`0755`, `755`), at most `max`.
pub fn parse_mode(s: &str, max: u32) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= max && !s.starts_with(['+', '-']) => Ok(m),
        _ => Err(format!(
            "bad octal mode {:?} (at most {max:04o})",
            super::clip(s)
        )),
    }
}

/// `Nice=`: -20 to 19.
pub fn parse_nice(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(n) if (-20..=19).contains(&n) => Ok(n),
        _ => Err(format!("bad nice level {:?} (-20 to 19)", super::clip(s))),
    }
}

/// Exit codes and signals, as `SuccessExitStatus=` and the
/// `Restart*ExitStatus=` directives list them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitStatusSet {
    pub codes: Vec<u8>,
    pub signals: Vec<i32>,
}

/// The exit-status names systemd accepts (systemd.exec(5), "Process exit
/// codes": the generic, LSB and BSD ones).
const EXIT_NAMES: &[(&str, u8)] = &[
    ("SUCCESS", 0),
    ("FAILURE", 1),
    ("INVALIDARGUMENT", 2),
    ("NOTIMPLEMENTED", 3),
    ("NOPERMISSION", 4),
    ("NOTINSTALLED", 5),
    ("NOTCONFIGURED", 6),
    ("NOTRUNNING", 7),
    ("USAGE", 64),
    ("DATAERR", 65),
    ("NOINPUT", 66),
    ("NOUSER", 67),
    ("NOHOST", 68),
    ("UNAVAILABLE", 69),
    ("SOFTWARE", 70),
    ("OSERR", 71),
    ("OSFILE", 72),
    ("CANTCREAT", 73),
    ("IOERR", 74),
    ("TEMPFAIL", 75),
    ("PROTOCOL", 76),
    ("NOPERM", 77),
    ("CONFIG", 78),
];

impl ExitStatusSet {
    /// Adds the words of one assignment (`0 75 SIGTERM TEMPFAIL`).
    pub fn add(&mut self, value: &str) -> Result<(), String> {
        for w in value
            .split(super::parse::is_blank)
            .filter(|w| !w.is_empty())
        {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                match w.parse::<u8>() {
                    Ok(c) => self.codes.push(c),
                    Err(_) => return Err(format!("exit status {w:?} out of range 0-255")),
                }
            } else if let Some((_, c)) = EXIT_NAMES.iter().find(|(n, _)| *n == w) {
                self.codes.push(*c);
            } else {
                let sig = crate::config::parse_signal(w)
                    .map_err(|_| format!("{:?} is no exit status or signal", super::clip(w)))?;
                self.signals.push(sig);
            }
        }
        Ok(())
    }
}

/// One `Limit*=`: soft and hard value, `None` for infinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    /// The resource as in `RLIMIT_*`: `NOFILE`, `CORE`, ...
    pub resource: &'static str,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The rlimits systemd.exec(5) knows, and how each value is written.
const RLIMITS: &[(&str, Unit)] = &[
    ("CPU", Unit::Seconds),
    ("FSIZE", Unit::Bytes),
    ("DATA", Unit::Bytes),
    ("STACK", Unit::Bytes),
    ("CORE", Unit::Bytes),
    ("RSS", Unit::Bytes),
    ("NOFILE", Unit::Count),
    ("AS", Unit::Bytes),
    ("NPROC", Unit::Count),
    ("MEMLOCK", Unit::Bytes),
    ("LOCKS", Unit::Count),
    ("SIGPENDING", Unit::Count),
    ("MSGQUEUE", Unit::Bytes),
    ("NICE", Unit::Nice),
    ("RTPRIO", Unit::Count),
    ("RTTIME", Unit::Micros),
];

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Bytes,
    Seconds,
    Micros,
    Nice,
}

/// The resource of a `Limit*` key, if systemd knows it.
pub fn rlimit_resource(key: &str) -> Option<&'static str> {
    let name = key.strip_prefix("Limit")?;
    RLIMITS.iter().find(|(r, _)| *r == name).map(|(r, _)| *r)
}

/// `LimitNOFILE=1024:4096`, `LimitCORE=infinity`, `LimitAS=4G`: one value
/// sets both soft and hard.
pub fn parse_rlimit(key: &str, value: &str) -> Result<Rlimit, String> {
    let (resource, unit) = RLIMITS
        .iter()
        .find(|(r, _)| Some(*r) == key.strip_prefix("Limit"))
        .copied()
        .ok_or_else(|| format!("unknown resource limit {key}"))?;
    let (soft, hard) = value.split_once(':').unwrap_or((value, value));
    let soft = rlimit_value(soft, unit)?;
    let hard = rlimit_value(hard, unit)?;
    if let (Some(s), Some(h)) = (soft, hard) {
        if s > h {
            return Err(format!("soft limit {s} above hard limit {h}"));
        }
    }
    Ok(Rlimit {
        resource,
        soft,
        hard,
    })
}

fn rlimit_value(s: &str, unit: Unit) -> Result<Option<u64>, String> {
    let bad = || format!("bad limit value {:?}", super::clip(s));
    if s == "infinity" {
        return Ok(None);
    }
    let v = match unit {
        Unit::Count => s.parse::<u64>().ok(),
        Unit::Bytes => parse_size(s),
        // Whole seconds, rounded up (as systemd's rlimit_parse_sec).
        Unit::Seconds => parse_sec(s)?.map(|d| d.as_micros().div_ceil(1_000_000) as u64),
        Unit::Micros => parse_timespan(s, US)?.map(|d| d.as_micros() as u64),
        // A signed value is a nice level (rlimit 20 - nice); else raw.
        Unit::Nice => match s.starts_with(['+', '-']) {
            true => parse_nice(s).ok().map(|n| (20 - n) as u64),
            false => s.parse::<u64>().ok().filter(|&n| n <= 40),
        },
    };
    v.map(Some).ok_or_else(bad)
}

/// Bytes with an optional 1024-based suffix: `512`, `4K`, `1.5G`.
fn parse_size(s: &str) -> Option<u64> {
    let (n, rest) = number(s)?;
    let mult: u64 = match rest {
        "" | "B" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        "P" => 1 << 50,
        "E" => 1 << 60,
        _ => return None,
    };
    n.scale(mult)
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
