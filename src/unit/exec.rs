//! `Exec*=` command lines -> argv, and the quoted word lists of other
//! directives, split the way systemd splits them (systemd.service(5),
//! "Command lines"; systemd.syntax(7), "Quoting"; `extract_first_word`
//! with UNQUOTE|CUNESCAPE and `config_parse_exec` in systemd's source).
//! Also the `$VAR`/`${VAR}` expansion systemd does at exec time, given the
//! final environment. Pure: no PATH search, no file is looked at.
//!
//! - Words are separated by spaces, tabs, CR, LF. `"..."` and `'...'` may
//!   open anywhere in a word and are removed; inside both, as outside, a
//!   backslash starts a C escape: `\a \b \f \n \r \t \v \\ \" \' \s`
//!   (space), `\xNN`, `\NNN` (octal), `\uNNNN`, `\UNNNNNNNN`. An escape of a
//!   NUL or an unknown one is kept as written, backslash included (systemd
//!   does the same after a warning). An unterminated quote is an error.
//! - A lone unquoted `;` ends one command and starts the next (systemd
//!   still accepts this; only `Type=oneshot` may use more than one), a lone
//!   `\;` is a `;` argument.
//! - The first word may start with the prefixes `-`, `@`, `:` and one of
//!   `+`, `!`, `!!`, in any order, each at most once.
//! - Specifiers (`%i`, ...) are expanded in each word after unquoting.

use super::spec::{self, SpecContext};

/// What `+`, `!` and `!!` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privileges {
    /// No prefix: run as `User=`/`Group=`.
    AsUser,
    /// `+`: with the manager's full privileges.
    Full,
    /// `!`: without changing user or group.
    KeepCredentials,
    /// `!!`: as `!` where the kernel has no ambient capabilities; systemd
    /// then lets the daemon drop privileges itself. tend treats it as `!`.
    AmbientOrKeep,
}

/// One command of an `Exec*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    /// The program: absolute, or a bare name that systemd looks up in a
    /// fixed path (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin).
    pub path: String,
    /// argv, argv[0] included (with `@`, the second word).
    pub argv: Vec<String>,
    /// `-`: a failure (exit status, or a missing program) is not one.
    pub ignore_failure: bool,
    pub privileges: Privileges,
    /// False with `:`: no `$VAR` expansion.
    pub expand_env: bool,
}

/// How a word is unquoted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// Backslash starts a C escape (else it quotes the next character).
    cunescape: bool,
    /// An unterminated quote ends the word instead of being an error.
    relax: bool,
}

/// Values in unit files.
pub(crate) const UNIT: Mode = Mode {
    cunescape: true,
    relax: false,
};
/// The value of a `$VAR` standing alone as a word.
const ENV_VALUE: Mode = Mode {
    cunescape: false,
    relax: true,
};

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(b: &[u8], pos: &mut usize) {
    while b.get(*pos).is_some_and(|&c| is_ws(c)) {
        *pos += 1;
    }
}

/// The next word at `pos`, unquoted; `None` at the end.
pub(crate) fn next_word(b: &[u8], pos: &mut usize, mode: Mode) -> Result<Option<Vec<u8>>, String> {
    skip_ws(b, pos);
    if *pos >= b.len() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    while let Some(&c) = b.get(*pos) {
        *pos += 1;
        match (quote, c) {
            (_, b'\\') => escape(b, pos, &mut out, quote.is_some(), mode)?,
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => out.push(c),
            (None, b'\'' | b'"') => quote = Some(c),
            (None, c) if is_ws(c) => return Ok(Some(out)),
            (None, c) => out.push(c),
        }
    }
    match quote.is_some() && !mode.relax {
        true => Err("unbalanced quoting".into()),
        false => Ok(Some(out)),
    }
}

/// After a backslash at `pos - 1`.
fn escape(
    b: &[u8],
    pos: &mut usize,
    out: &mut Vec<u8>,
    quoted: bool,
    mode: Mode,
) -> Result<(), String> {
    let Some(&c) = b.get(*pos) else {
        if quoted && !mode.relax {
            return Err("unbalanced quoting".into());
        }
        if mode.cunescape {
            out.push(b'\\');
        }
        return Ok(());
    };
    if !mode.cunescape {
        out.push(c);
        *pos += 1;
        return Ok(());
    }
    match cunescape_one(&b[*pos..]) {
        Some((bytes, used)) => {
            out.extend_from_slice(&bytes);
            *pos += used;
        }
        None => {
            out.extend_from_slice(&[b'\\', c]);
            *pos += 1;
        }
    }
    Ok(())
}

/// One C escape after its backslash: (bytes, input bytes used), or `None`
/// when unknown or a NUL.
fn cunescape_one(b: &[u8]) -> Option<(Vec<u8>, usize)> {
    let simple = match b.first()? {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b's' => Some(b' '),
        c @ (b'\\' | b'"' | b'\'') => Some(*c),
        _ => None,
    };
    if let Some(byte) = simple {
        return Some((vec![byte], 1));
    }
    let digits = |n: usize, radix: u32| -> Option<u32> {
        let s = std::str::from_utf8(b.get(1..1 + n)?).ok()?;
        match s.chars().all(|c| c.is_digit(radix)) {
            true => u32::from_str_radix(s, radix).ok(),
            false => None,
        }
    };
    let (value, used, is_byte) = match b[0] {
        b'x' => (digits(2, 16)?, 3, true),
        b'u' => (digits(4, 16)?, 5, false),
        b'U' => (digits(8, 16)?, 9, false),
        b'0'..=b'7' => {
            let s = std::str::from_utf8(b.get(..3)?).ok()?;
            let v = u32::from_str_radix(s, 8).ok()?;
            (v, 3, true)
        }
        _ => return None,
    };
    match (value, is_byte) {
        (0, _) => None,
        (1..=255, true) => Some((vec![value as u8], used)),
        (_, true) => None,
        (_, false) => {
            let c = char::from_u32(value)?;
            Some((c.to_string().into_bytes(), used))
        }
    }
}

fn utf8(word: Vec<u8>) -> Result<String, String> {
    String::from_utf8(word).map_err(|e| {
        format!(
            "escapes make an invalid UTF-8 word {:?}",
            String::from_utf8_lossy(e.as_bytes())
        )
    })
}

/// Splits a value into unquoted, unescaped words (Environment=,
/// After=, ...), without specifiers.
pub fn split_words(value: &str) -> Result<Vec<String>, String> {
    let b = value.as_bytes();
    let mut pos = 0;
    let mut words = Vec::new();
    while let Some(w) = next_word(b, &mut pos, UNIT)? {
        words.push(utf8(w)?);
    }
    Ok(words)
}

/// Parses the value of one `Exec*=` line (not empty: an empty one resets
/// the list, see `parse::layer`) into its commands.
pub fn parse_exec(value: &str, ctx: &SpecContext) -> Result<Vec<ExecCommand>, String> {
    let b = value.as_bytes();
    let mut pos = 0;
    let mut commands = Vec::new();
    while let Some(first) = next_word(b, &mut pos, UNIT)? {
        if first == b";" {
            continue;
        }
        let first = utf8(first)?;
        let (mut cmd, argv0_next) = prefixes(&first);
        let rest = std::mem::take(&mut cmd.path);
        cmd.path = spec::expand(&rest, ctx)?;
        check_path(&cmd.path)?;
        if !argv0_next {
            cmd.argv.push(cmd.path.clone());
        }
        arguments(b, &mut pos, ctx, &mut cmd.argv)?;
        if cmd.argv.is_empty() {
            return Err(format!("{first:?}: no argv[0] after '@'"));
        }
        commands.push(cmd);
    }
    Ok(commands)
}

/// Reads the prefixes off the first word: the command with `path` set to
/// the rest of the word, and whether `@` asks for argv[0] from the next.
fn prefixes(first: &str) -> (ExecCommand, bool) {
    let mut cmd = ExecCommand {
        path: String::new(),
        argv: Vec::new(),
        ignore_failure: false,
        privileges: Privileges::AsUser,
        expand_env: true,
    };
    let mut argv0 = false;
    let mut rest = first;
    while let Some(c) = rest.chars().next() {
        match (c, cmd.privileges) {
            ('-', _) if !cmd.ignore_failure => cmd.ignore_failure = true,
            ('@', _) if !argv0 => argv0 = true,
            (':', _) if cmd.expand_env => cmd.expand_env = false,
            ('+', Privileges::AsUser) => cmd.privileges = Privileges::Full,
            ('!', Privileges::AsUser) => cmd.privileges = Privileges::KeepCredentials,
            ('!', Privileges::KeepCredentials) => cmd.privileges = Privileges::AmbientOrKeep,
            _ => break,
        }
        rest = &rest[1..];
    }
    cmd.path = rest.to_string();
    (cmd, argv0)
}

/// The checks systemd makes of the program's name.
fn check_path(path: &str) -> Result<(), String> {
    let bad = |what: &str| Err(format!("{what}: {:?}", super::clip(path)));
    if path.is_empty() {
        return bad("empty program name");
    }
    if path.chars().any(|c| c.is_control() || "\\\"'".contains(c)) {
        return bad("program name with special characters");
    }
    if path.ends_with('/') {
        return bad("program path names a directory");
    }
    let valid = match path.starts_with('/') {
        true => path.len() < 4096 && path.split('/').all(|c| c.len() <= 255),
        false => !path.contains('/') && path != "." && path != ".." && path.len() <= 255,
    };
    match valid {
        true => Ok(()),
        false => bad("neither an absolute path nor a program name"),
    }
}

/// The words after the first, up to a lone `;` or the end.
fn arguments(
    b: &[u8],
    pos: &mut usize,
    ctx: &SpecContext,
    argv: &mut Vec<String>,
) -> Result<(), String> {
    loop {
        skip_ws(b, pos);
        let at = |i: usize| b.get(i).copied();
        let ends_word = |i: usize| at(i).is_none_or(is_ws);
        if at(*pos) == Some(b';') && ends_word(*pos + 1) {
            *pos += 1;
            return Ok(());
        }
        if at(*pos) == Some(b'\\') && at(*pos + 1) == Some(b';') && ends_word(*pos + 2) {
            *pos += 2;
            argv.push(";".into());
            continue;
        }
        match next_word(b, pos, UNIT)? {
            Some(w) => argv.push(spec::expand(&utf8(w)?, ctx)?),
            None => return Ok(()),
        }
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, as systemd's env_name_is_valid.
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// systemd's exec-time expansion of an argv (not for commands with `:`):
/// a word that is exactly `$NAME` becomes the value split at whitespace
/// (quotes in it honoured; zero words when unset); `${NAME}` anywhere in a
/// word becomes the value as one piece (empty when unset); `$$` is `$`;
/// anything else (`$NAME` inside a word, `${NAME:-x}`) stays as written.
pub fn expand_env(argv: &[String], lookup: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    for word in argv {
        let whole = word
            .strip_prefix('$')
            .filter(|n| !n.starts_with(['{', '$']));
        match whole {
            Some(name) => {
                let value = valid_env_name(name).then(|| lookup(name)).flatten();
                let value = value.unwrap_or_default();
                let (b, mut pos) = (value.as_bytes(), 0);
                while let Ok(Some(w)) = next_word(b, &mut pos, ENV_VALUE) {
                    out.push(String::from_utf8_lossy(&w).into_owned());
                }
            }
            None => out.push(expand_braced(word, lookup)),
        }
    }
    out
}

fn expand_braced(word: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(more) = after.strip_prefix('$') {
            out.push('$');
            rest = more;
        } else if let Some(inner) = after.strip_prefix('{') {
            match inner.find(['}', ':']) {
                Some(j) if inner[j..].starts_with('}') => {
                    let name = &inner[..j];
                    if valid_env_name(name) {
                        out.push_str(&lookup(name).unwrap_or_default());
                    }
                    rest = &inner[j + 1..];
                }
                // `${NAME:...`: systemd leaves it as written, and goes on
                // after the colon; unterminated: as written to the end.
                Some(j) => {
                    out.push_str(&rest[i..i + 2 + j + 1]);
                    rest = &inner[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
