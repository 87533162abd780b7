//! Unit-file text -> ordered directives, read the way systemd's config
//! parser reads it (systemd.syntax(7); `config_parse` in conf-parser.c),
//! and the layering of a unit with its drop-ins. Knows no directive's
//! meaning beyond "list or single" (see `layer`); owns no file I/O: the
//! caller reads the bytes (bounded) and hands over lossy UTF-8.
//!
//! The rules, as systemd applies them:
//! - a physical line ends at `\n`, `\r` or NUL; `\r\n` (any run of
//!   distinct end markers) is one end, as systemd's `read_line`;
//! - a line whose first non-blank character is `#` or `;` is a comment,
//!   also in the middle of a continuation (the comment is dropped and the
//!   continued line goes on after it);
//! - a line ending in an odd number of backslashes continues on the next:
//!   the last backslash becomes a space and the next line is appended as
//!   it is (its leading blanks kept);
//! - a logical line is trimmed of spaces, tabs, CR and LF; `[Name]` opens
//!   a section; `Key=Value` is split at the first `=`, both sides trimmed;
//!   a `#` after the start of a line is part of the value;
//! - a line without `=`, a key before any section, an empty key: ignored
//!   with a warning (systemd does the same); a broken section header, a
//!   line longer than 1 MiB: the file is refused.
//!
//! Work is linear in the input: each physical line is looked at once, a
//! continuation is appended (never rescanned) and capped at 1 MiB.

use std::collections::HashMap;

/// systemd's LONG_LINE_MAX: the longest physical or joined line (1 MiB).
pub const LINE_MAX: usize = 1 << 20;

/// One `Key=Value` assignment, where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub section: String,
    pub key: String,
    pub value: String,
    /// 1-based number of the first physical line of the assignment.
    pub line: usize,
    /// Index of its file in `Layered::files` (0 straight from `parse`).
    pub file: usize,
}

/// A problem at a line of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub what: String,
}

/// One parsed file: its assignments in order, and the lines that systemd
/// too would ignore with a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub directives: Vec<Directive>,
    pub warnings: Vec<Problem>,
}

/// Parses the text of one unit file or drop-in.
pub fn parse(text: &str) -> Result<Parsed, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Parsed::default();
    let mut section: Option<String> = None;
    // (first line, text so far) of a line continued with a backslash.
    let mut pending: Option<(usize, String)> = None;
    let mut last = 0;
    for (n, raw) in Lines::new(text) {
        last = n;
        if raw.len() > LINE_MAX {
            return Err(too_long(n));
        }
        if is_comment(raw) {
            continue;
        }
        let continues = trailing_backslashes(raw) % 2 == 1;
        let body = if continues {
            &raw[..raw.len() - 1]
        } else {
            raw
        };
        let (start, mut joined) = match pending.take() {
            Some((start, mut joined)) => {
                if joined.len() + body.len() > LINE_MAX {
                    return Err(too_long(start));
                }
                joined.push_str(body);
                (start, joined)
            }
            None if continues => (n, body.to_string()),
            None => {
                logical_line(n, raw, &mut section, &mut out)?;
                continue;
            }
        };
        if continues {
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            logical_line(start, &joined, &mut section, &mut out)?;
        }
    }
    if let Some((start, joined)) = pending {
        logical_line(start.min(last), &joined, &mut section, &mut out)?;
    }
    Ok(out)
}

fn too_long(line: usize) -> Problem {
    Problem {
        line,
        what: format!("line longer than {LINE_MAX} bytes"),
    }
}

/// systemd's WHITESPACE for unit files.
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_blank)
}

fn is_comment(raw: &str) -> bool {
    matches!(
        raw.trim_start_matches(is_blank).chars().next(),
        Some('#' | ';')
    )
}

fn trailing_backslashes(s: &str) -> usize {
    s.bytes().rev().take_while(|&b| b == b'\\').count()
}

/// One logical line: a section header, an assignment, or nothing.
fn logical_line(
    n: usize,
    line: &str,
    section: &mut Option<String>,
    out: &mut Parsed,
) -> Result<(), Problem> {
    let l = trim(line);
    if l.is_empty() || l.starts_with(['#', ';']) {
        return Ok(());
    }
    let warn = |out: &mut Parsed, what: &str| {
        out.warnings.push(Problem {
            line: n,
            what: what.to_string(),
        })
    };
    if let Some(rest) = l.strip_prefix('[') {
        *section = Some(section_name(n, l, rest)?);
        return Ok(());
    }
    let Some(section) = section else {
        warn(out, "assignment outside of a section, ignored");
        return Ok(());
    };
    match l.split_once('=') {
        None => warn(out, "missing '=', line ignored"),
        Some((k, _)) if trim(k).is_empty() => warn(out, "missing key before '=', line ignored"),
        Some((k, v)) => out.directives.push(Directive {
            section: section.clone(),
            key: trim(k).to_string(),
            value: trim(v).to_string(),
            line: n,
            file: 0,
        }),
    }
    Ok(())
}

/// `[Name]`: systemd refuses the file for a header without its `]` or
/// with control characters, quotes or backslashes in the name.
fn section_name(n: usize, line: &str, rest: &str) -> Result<String, Problem> {
    let bad = |what: &str| Problem {
        line: n,
        what: format!("{what} {:?}", crate::unit::clip(line)),
    };
    let name = rest
        .strip_suffix(']')
        .ok_or_else(|| bad("invalid section header"))?;
    if name.chars().any(|c| c.is_control() || "\\\"'".contains(c)) {
        return Err(bad("bad characters in section header"));
    }
    Ok(name.to_string())
}

/// Physical lines with their 1-based numbers (see the module docs for the
/// end markers).
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    n: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, pos: 0, n: 0 }
    }
}

fn eol_kind(b: u8) -> u8 {
    match b {
        b'\n' => 1,
        b'\r' => 2,
        0 => 4,
        _ => 0,
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let bytes = self.text.as_bytes();
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        let end = bytes[start..]
            .iter()
            .position(|&b| eol_kind(b) != 0)
            .map_or(bytes.len(), |i| start + i);
        // Eat the end marker: a run of distinct kinds ("\r\n") is one.
        let mut seen = 0;
        let mut p = end;
        while let Some(&b) = bytes.get(p) {
            let k = eol_kind(b);
            if k == 0 || seen & k != 0 {
                break;
            }
            seen |= k;
            p += 1;
        }
        self.pos = p;
        self.n += 1;
        // The markers are ASCII, so both ends are char boundaries.
        Some((self.n, &self.text[start..end]))
    }
}

/// How an assignment combines with earlier ones of the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The last assignment wins; `Key=` sets the default again.
    Single,
    /// Assignments accumulate; `Key=` drops every earlier assignment of
    /// each key in the same reset group (e.g. all `Listen*` of a socket).
    List(&'static str),
    /// Assignments accumulate; `Key=` does nothing (unit dependencies,
    /// which systemd cannot take back in a drop-in).
    Accumulate,
}

/// A unit with its drop-ins applied: the surviving assignments in the
/// order they were written, each naming its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layered {
    pub files: Vec<String>,
    pub directives: Vec<Directive>,
    /// `FILE:LINE: what` for the lines each file's parse ignored.
    pub warnings: Vec<String>,
}

impl Layered {
    /// `FILE:LINE: what` for an assignment.
    pub fn at(&self, d: &Directive, what: &str) -> String {
        let file = self.files.get(d.file).map_or("?", String::as_str);
        format!("{file}:{}: {what}", d.line)
    }
}

/// Layers files in the order given (the unit, then its `*.conf` drop-ins
/// sorted by name), as systemd loads a unit: `kind(section, key)` says
/// how each key combines. Linear: each assignment is kept or dropped once.
pub fn layer(files: &[(String, Parsed)], kind: &dyn Fn(&str, &str) -> Kind) -> Layered {
    let mut slots: Vec<Option<Directive>> = Vec::new();
    // (section, key or reset group, is a list) -> live indices in `slots`.
    let mut live: HashMap<(String, String, bool), Vec<usize>> = HashMap::new();
    let mut out = Layered::default();
    for (i, (name, parsed)) in files.iter().enumerate() {
        out.files.push(name.clone());
        for w in &parsed.warnings {
            out.warnings.push(format!("{name}:{}: {}", w.line, w.what));
        }
        for d in &parsed.directives {
            let d = Directive {
                file: i,
                ..d.clone()
            };
            let (group, is_list) = match kind(&d.section, &d.key) {
                Kind::Accumulate if d.value.is_empty() => continue,
                Kind::Accumulate => {
                    slots.push(Some(d));
                    continue;
                }
                Kind::List(g) => (g.to_string(), true),
                Kind::Single => (d.key.clone(), false),
            };
            let alive = live.entry((d.section.clone(), group, is_list)).or_default();
            // A single value replaces the earlier one; an empty list
            // assignment drops the earlier ones and is not kept itself.
            if !is_list || d.value.is_empty() {
                for j in alive.drain(..) {
                    slots[j] = None;
                }
            }
            if !is_list || !d.value.is_empty() {
                alive.push(slots.len());
                slots.push(Some(d));
            }
        }
    }
    out.directives = slots.into_iter().flatten().collect();
    out
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
