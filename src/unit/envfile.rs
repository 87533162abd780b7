//! `EnvironmentFile=` contents -> `(NAME, VALUE)` pairs, read as systemd
//! reads them (systemd.exec(5), "EnvironmentFile="; `load_env_file` in
//! systemd's env-file.c). Pure: the caller reads the file (bounded).
//!
//! - blank lines and lines whose first non-blank character is `#` or `;`
//!   are skipped;
//! - `NAME=VALUE`: blanks around NAME and before VALUE are dropped; a NAME
//!   that is not `[A-Za-z_][A-Za-z0-9_]*`, or a line without `=`, is
//!   skipped (systemd logs and skips it too);
//! - in VALUE, `'...'` is taken literally, `"..."` takes `\"`, `\\`, `` \` ``
//!   and `\$` as the character (any other backslash stays), both may span
//!   lines; outside quotes a backslash takes the next character as it is,
//!   a backslash at the end of a line joins the next, unquoted trailing
//!   blanks are dropped; `#` after the start is part of the value.

use super::exec::valid_env_name;

pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    loop {
        while chars.next_if(|&c| blank(c)).is_some() {}
        let Some(&first) = chars.peek() else {
            return out;
        };
        if first == '#' || first == ';' {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            continue;
        }
        let mut key = String::new();
        let mut assignment = false;
        for c in chars.by_ref() {
            match c {
                '=' => {
                    assignment = true;
                    break;
                }
                '\n' => break,
                c => key.push(c),
            }
        }
        if !assignment {
            continue;
        }
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let mut value = String::new();
        // The length of `value` without its unquoted trailing blanks.
        let mut keep = 0;
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '\n') => break,
                (None, '\'' | '"') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some('\''), c) => value.push(c),
                (_, '\\') => match chars.next() {
                    Some('\n') | None => {}
                    Some(n) if quote.is_some() && !"\"\\`$".contains(n) => {
                        value.push('\\');
                        value.push(n);
                    }
                    Some(n) => value.push(n),
                },
                (_, c) => value.push(c),
            }
            if quote.is_some() || !blank(c) {
                keep = value.len();
            }
        }
        value.truncate(keep);
        let key = key.trim_matches(blank);
        if valid_env_name(key) {
            out.push((key.to_string(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn env_files() {
        let pairs = |t: &str| -> Vec<(String, String)> { parse(t) };
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("A=1\nB = two words  \n", &[("A", "1"), ("B", "two words")]),
            ("# c\n ; c\n\n  C=3\r\n", &[("C", "3")]),
            ("D=\"x \\\"y\\\" \\$z \\n\"\n", &[("D", "x \"y\" $z \\n")]),
            (
                "E='a \\ b'\nF=\"multi\nline\"\n",
                &[("E", "a \\ b"), ("F", "multi\nline")],
            ),
            ("G=a\\\nb\nH=x\\ \n", &[("G", "ab"), ("H", "x ")]),
            ("I=v # not a comment\n", &[("I", "v # not a comment")]),
            ("bad-name=1\nno equals\n9X=1\nJ=\n", &[("J", "")]),
            ("K=\"unterminated", &[("K", "unterminated")]),
            ("L='  '\n", &[("L", "  ")]),
        ];
        for (text, want) in cases {
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(pairs(text), want, "{text:?}");
        }
    }
}
