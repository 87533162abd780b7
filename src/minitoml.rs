//! The part of TOML that `service.toml` uses, parsed by hand: comments,
//! `key = value` with bare, quoted and dotted keys, `[table]` headers,
//! basic and literal strings (also multi-line), integers, booleans, arrays
//! (over several lines, trailing comma allowed) and inline tables. Floats
//! and dates are refused: no tend key takes one.
//!
//! Why not the `toml` crate: with serde it was about a sixth of the static
//! binary, for a file of a dozen keys. Errors here are one line, with the
//! line number. Pure: parses a `&str`.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Value>),
    Table(Table),
}

/// Keys in file order, each with the line it was set on.
pub type Table = Vec<(String, usize, Value)>;

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
}

type R<T> = Result<T, String>;

/// Parses a document into its top-level table.
pub fn parse(text: &str) -> R<Table> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        line: 1,
    };
    let mut root: Table = Vec::new();
    // The path of the current `[table]` header.
    let mut current: Vec<String> = Vec::new();
    let mut headers: Vec<Vec<String>> = Vec::new();
    loop {
        p.skip_blank_lines();
        let Some(c) = p.peek() else { break };
        if c == b'[' {
            p.i += 1;
            if p.peek() == Some(b'[') {
                return Err(p.err("arrays of tables ([[...]]) are not supported"));
            }
            p.skip_spaces();
            let path = p.key_path()?;
            p.skip_spaces();
            p.expect(b']')?;
            let line = p.line;
            let t = table_at(&mut root, &path, line, true).map_err(|e| p.err(&e))?;
            if !t.is_empty() || headers.contains(&path) {
                return Err(p.err(&format!("table [{}] defined twice", path.join("."))));
            }
            headers.push(path.clone());
            current = path;
        } else {
            p.key_value(&mut root, &current)?;
        }
        p.end_of_line()?;
    }
    Ok(root)
}

fn insert(t: &mut Table, key: &str, line: usize, value: Value) -> Result<(), String> {
    if t.iter().any(|(k, _, _)| k == key) {
        return Err(format!("key {key:?} set twice"));
    }
    t.push((key.to_string(), line, value));
    Ok(())
}

/// The table at `path` below `root`, created as needed.
fn table_at<'t>(
    root: &'t mut Table,
    path: &[String],
    line: usize,
    header: bool,
) -> R<&'t mut Table> {
    let mut t = root;
    for (n, key) in path.iter().enumerate() {
        let pos = match t.iter().position(|(k, _, _)| k == key) {
            Some(pos) => pos,
            None => {
                t.push((key.clone(), line, Value::Table(Vec::new())));
                t.len() - 1
            }
        };
        t = match &mut t[pos].2 {
            Value::Table(inner) => inner,
            _ if header && n + 1 == path.len() => {
                return Err(format!("{key:?} is already a value"))
            }
            _ => return Err(format!("{key:?} is not a table")),
        };
    }
    Ok(t)
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        format!("line {}: {msg}", self.line)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some(b'#') {
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.i += 1;
            }
        }
    }

    /// Spaces, comments and newlines (between statements and in arrays).
    fn skip_blank_lines(&mut self) {
        loop {
            self.skip_spaces();
            self.skip_comment();
            match self.peek() {
                Some(b'\n') => {
                    self.bump();
                }
                Some(b'\r') if self.s.get(self.i + 1) == Some(&b'\n') => {
                    self.i += 1;
                }
                _ => return,
            }
        }
    }

    fn end_of_line(&mut self) -> R<()> {
        self.skip_spaces();
        self.skip_comment();
        if self.peek() == Some(b'\r') {
            self.i += 1;
        }
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.err("unexpected text after the value")),
        }
    }

    /// `key = value`, stored in `into` under the table path `prefix`.
    fn key_value(&mut self, into: &mut Table, prefix: &[String]) -> R<()> {
        let line = self.line;
        let path = self.key_path()?;
        self.skip_spaces();
        self.expect(b'=')?;
        self.skip_spaces();
        let value = self.value()?;
        let (last, parents) = path.split_last().ok_or_else(|| self.err("empty key"))?;
        let full: Vec<String> = prefix.iter().chain(parents).cloned().collect();
        let t = table_at(into, &full, line, false).map_err(|e| self.err(&e))?;
        insert(t, last, line, value).map_err(|e| format!("line {line}: {e}"))
    }

    fn key_path(&mut self) -> R<Vec<String>> {
        let mut path = vec![self.key()?];
        loop {
            self.skip_spaces();
            if self.peek() != Some(b'.') {
                return Ok(path);
            }
            self.i += 1;
            self.skip_spaces();
            path.push(self.key()?);
        }
    }

    fn key(&mut self) -> R<String> {
        match self.peek() {
            Some(b'"') => self.basic_string(),
            Some(b'\'') => self.literal_string(),
            _ => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                {
                    self.i += 1;
                }
                if start == self.i {
                    return Err(self.err("expected a key"));
                }
                Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
        }
    }

    fn value(&mut self) -> R<Value> {
        match self.peek() {
            Some(b'"') => self.basic_string().map(Value::Str),
            Some(b'\'') => self.literal_string().map(Value::Str),
            Some(b'[') => self.array(),
            Some(b'{') => self.inline_table(),
            Some(b't' | b'f') => {
                let word = self.word();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => Err(self.err(&format!("expected a value, got {word:?}"))),
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => {
                let word = self.word();
                let digits: String = word.chars().filter(|&c| c != '_').collect();
                digits.parse::<i64>().map(Value::Int).map_err(|_| {
                    self.err(&format!(
                        "unsupported value {word:?} (floats and dates are not used by tend)"
                    ))
                })
            }
            Some(_) => {
                let word = self.word();
                Err(self.err(&format!("expected a value, got {word:?}")))
            }
            None => Err(self.err("expected a value, found the end")),
        }
    }

    /// A run of characters up to a delimiter (for numbers and booleans).
    fn word(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if !b" \t\r\n,]}#".contains(&c)) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn array(&mut self) -> R<Value> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        loop {
            self.skip_blank_lines();
            if self.peek() == Some(b']') {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_blank_lines();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                _ => return Err(self.err("expected ',' or ']' in the array")),
            }
        }
    }

    fn inline_table(&mut self) -> R<Value> {
        self.expect(b'{')?;
        let mut t: Table = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.skip_spaces();
            self.key_value(&mut t, &[])?;
            self.skip_spaces();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.err("expected ',' or '}' in the inline table")),
            }
        }
    }

    fn starts_with(&self, pat: &[u8]) -> bool {
        self.s[self.i..].starts_with(pat)
    }

    fn basic_string(&mut self) -> R<String> {
        let multi = self.starts_with(b"\"\"\"");
        self.i += if multi { 3 } else { 1 };
        if multi && self.peek() == Some(b'\n') {
            self.bump(); // a newline right after the opening quotes is trimmed
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            if multi && self.starts_with(b"\"\"\"") {
                self.i += 3;
                break;
            }
            if !multi && self.peek() == Some(b'\n') {
                return Err(self.err("newline in a string"));
            }
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') if !multi => break,
                Some(b'\\') => {
                    let esc = self.bump().ok_or_else(|| self.err("unterminated string"))?;
                    match esc {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'e' => out.push(27),
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'u' | b'U' => {
                            let n = if esc == b'u' { 4 } else { 8 };
                            let hex = self.s.get(self.i..self.i + n).unwrap_or_default();
                            let c = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("bad unicode escape"))?;
                            self.i += n;
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        b'\n' | b' ' | b'\t' | b'\r' if multi => {
                            // A line-ending backslash trims the following blanks.
                            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                                self.bump();
                            }
                        }
                        other => return Err(self.err(&format!("bad escape \\{}", other as char))),
                    }
                }
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn literal_string(&mut self) -> R<String> {
        let multi = self.starts_with(b"'''");
        self.i += if multi { 3 } else { 1 };
        if multi && self.peek() == Some(b'\n') {
            self.bump();
        }
        let start = self.i;
        loop {
            if !multi && self.peek() == Some(b'\n') {
                return Err(self.err("newline in a string"));
            }
            if multi && self.starts_with(b"'''") {
                let s = &self.s[start..self.i];
                self.i += 3;
                return String::from_utf8(s.to_vec()).map_err(|_| self.err("string is not UTF-8"));
            }
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(b'\'') if !multi => {
                    let s = &self.s[start..self.i - 1];
                    return String::from_utf8(s.to_vec())
                        .map_err(|_| self.err("string is not UTF-8"));
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Value::{Array, Bool, Int, Str};
    use super::{parse, Value};

    fn get<'a>(t: &'a super::Table, key: &str) -> &'a Value {
        &t.iter().find(|(k, _, _)| k == key).unwrap().2
    }

    #[test]
    fn values() {
        let t = parse(
            "# comment\n\
             command = [\"/usr/sbin/nginx\", \"-g\", 'daemon off;']  # trailing\n\
             critical = true\n\
             n = -1_000\n\
             \"quoted key\" = \"a\\tb\\u00e9\\\"\"\n\
             env = { RUST_LOG = \"info\", B = '' }\n\
             list = [\n  1,\n  2, # two\n]\n\
             ready.tcp = \"127.0.0.1:80\"\n",
        )
        .unwrap();
        assert_eq!(
            get(&t, "command"),
            &Array(vec![
                Str("/usr/sbin/nginx".into()),
                Str("-g".into()),
                Str("daemon off;".into())
            ])
        );
        assert_eq!(get(&t, "critical"), &Bool(true));
        assert_eq!(get(&t, "n"), &Int(-1000));
        assert_eq!(get(&t, "quoted key"), &Str("a\tbé\"".into()));
        assert_eq!(
            get(&t, "env"),
            &Value::Table(vec![
                ("RUST_LOG".into(), 6, Str("info".into())),
                ("B".into(), 6, Str("".into()))
            ])
        );
        assert_eq!(get(&t, "list"), &Array(vec![Int(1), Int(2)]));
        assert_eq!(
            get(&t, "ready"),
            &Value::Table(vec![("tcp".into(), 11, Str("127.0.0.1:80".into()))])
        );
        assert_eq!(t[1].1, 3, "line of critical");
    }

    #[test]
    fn tables_and_multiline_strings() {
        let t = parse("a = 1\n[env]\nX = \"\"\"\none\ntwo\"\"\"\nY = '''\\raw'''\n[ready]\ncommand = \"./check\"\n")
            .unwrap();
        let Value::Table(env) = get(&t, "env") else {
            panic!()
        };
        assert_eq!(get(env, "X"), &Str("one\ntwo".into()));
        assert_eq!(get(env, "Y"), &Str("\\raw".into()));
        let Value::Table(ready) = get(&t, "ready") else {
            panic!()
        };
        assert_eq!(get(ready, "command"), &Str("./check".into()));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("a = 1\nb = \n", "line 2"),
            ("a = 1\na = 2\n", "line 2: key \"a\" set twice"),
            ("x = 1.5\n", "floats"),
            ("x = 1979-05-27\n", "dates"),
            ("x = \"open\n", "line 1"),
            ("x = [1, 2\n", "expected"),
            ("x = 1 y = 2\n", "unexpected text"),
            ("[[t]]\n", "arrays of tables"),
            ("[t]\n[t]\n", "defined twice"),
            ("a = 1\na.b = 2\n", "not a table"),
            ("x = \"\\q\"\n", "bad escape"),
            ("= 1\n", "expected a key"),
            ("x = yes\n", "expected a value, got \"yes\""),
            ("x = tru\n", "got \"tru\""),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn empty_and_crlf() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("\n# only a comment\n").unwrap(), vec![]);
        assert_eq!(parse("a = true\r\nb = false\r\n").unwrap().len(), 2);
    }
}
