//! Hostile-input property tests (issue 9) for the pure parsers that read
//! what users and images put in a service dir: service.toml, durations,
//! signal names, envdir file contents, /etc/passwd and /etc/group. Random
//! and mutated inputs from a seeded generator, so a run is deterministic
//! and a failure names its case. What must hold: no input panics (PID 1
//! would abort), and every error is one line with no control characters.
//!
//! No processes: these run in well under a second in a debug build.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tend::{config, scan};

/// splitmix64: a few lines, good enough to spread test inputs, and the
/// same sequence on every run for a given seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// `1..=max` pieces of `from`, joined.
    fn text(&mut self, from: &[&str], max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.pick(from)).collect()
    }
}

/// Runs `f` on `input`; a panic fails the test naming the case, so that it
/// can be replayed.
fn no_panic<T>(what: &str, case: usize, input: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            let shown: String = input.chars().take(300).collect();
            panic!("{what}: case {case} panicked on {shown:?}");
        }
    }
}

fn one_line(what: &str, input: &str, e: &str) {
    assert!(
        !e.is_empty() && !e.chars().any(char::is_control),
        "{what}: error is not one clean line: {e:?} (input {input:?})"
    );
}

/// TOML's building blocks and tend's keys, plus what parsers trip on:
/// escapes, surrogates, huge numbers, dates, BOMs, NULs, CRs.
const TOML_PIECES: &[&str] = &[
    "command",
    "env",
    "ready",
    "instances",
    "restart",
    "user",
    "listen",
    "after",
    "stop-signal",
    "restart-delay",
    "on-demand",
    "watchdog",
    "critical",
    "tcp",
    "notify",
    "always",
    "=",
    " = ",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\\u",
    "\\uD800",
    "\\U0010FFFF",
    "\\U00110000",
    "\\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "#",
    "0x",
    "0o",
    "0b",
    "1",
    "0",
    "-",
    "+",
    "_",
    "inf",
    "nan",
    "1e400",
    "9223372036854775808",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "1979-05-27",
    "true",
    "false",
    "é",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "\u{2028}",
    "a",
    "\"a\"",
    "x.y",
];

const GOOD_TOML: &str = "command = [\"/bin/app\", \"-x\"]\n\
    critical = true\n\
    restart = \"on-failure\"\n\
    restart-delay = \"100ms\"\n\
    stop-signal = \"RTMIN+3\"\n\
    after = [\"db\"]\n\
    instances = 3\n\
    listen = [\"tcp:0.0.0.0:80#http\"]\n\
    ready = { command = [\"./check\", \"--quick\"] }\n\
    [env]\n\
    RUST_LOG = \"info\"\n\
    'quoted key' = '''multi\nline'''\n";

fn check_toml(case: usize, text: &str) {
    match no_panic("service.toml", case, text, || {
        config::parse_service_toml(text)
    }) {
        Ok(t) => {
            if let Some(n) = t.instances {
                assert!((1..=10_000).contains(&n), "instances {n} from {text:?}");
            }
        }
        Err(e) => one_line("service.toml", text, &e),
    }
}

/// A byte offset in `s` on a char boundary.
fn boundary(rng: &mut Rng, s: &str) -> usize {
    let mut i = rng.below(s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn service_toml_reader_survives_random_documents() {
    let mut rng = Rng(0x7e4d_0001);
    for case in 0..3000 {
        let text = rng.text(TOML_PIECES, 40);
        check_toml(case, &text);
    }
}

#[test]
fn service_toml_reader_survives_mutated_documents() {
    let mut rng = Rng(0x7e4d_0002);
    check_toml(0, GOOD_TOML);
    assert!(config::parse_service_toml(GOOD_TOML).is_ok());
    for case in 1..3000 {
        let mut text = GOOD_TOML.to_string();
        for _ in 0..1 + rng.below(6) {
            let at = boundary(&mut rng, &text);
            match rng.below(3) {
                0 => text.insert_str(at, rng.pick(TOML_PIECES)),
                1 => {
                    let end = boundary(&mut rng, &text).max(at);
                    text.replace_range(at..end, "");
                }
                _ => {
                    let end = boundary(&mut rng, &text).max(at);
                    let copy = text[at..end].to_string();
                    text.insert_str(at, &copy);
                }
            }
        }
        check_toml(case, &text);
    }
}

/// Issue 9: nesting of every kind TOML has, mixed, deep enough that an
/// unbounded recursive parser would overflow a 2 MiB test-thread stack.
#[test]
fn service_toml_reader_survives_deep_nesting() {
    let openers = ["[", "{ a = ", "[{ a = ", "[ [", "{a.b.c = "];
    let mut rng = Rng(0x7e4d_0003);
    for case in 0..60 {
        let key = rng.pick(&["command", "env", "ready", "env.x", "after"]);
        let depth = 1 + rng.below(20_000);
        let mut text = format!("{key} = ");
        for _ in 0..depth {
            text.push_str(rng.pick(&openers));
        }
        if rng.below(2) == 0 {
            text.push_str(&rng.text(&["]", "}", "1", "\"x\"", ","], depth.min(5000)));
        }
        check_toml(case, &text);
    }
    for (case, text) in [
        format!("[{}]", "a.".repeat(30_000) + "a"),
        format!("{} = 1", "a.".repeat(30_000) + "a"),
        format!("[[{}]]", "env.".repeat(30_000) + "e"),
    ]
    .iter()
    .enumerate()
    {
        check_toml(case, text);
    }
}

#[test]
fn durations_survive_random_text() {
    let pieces = &[
        "0",
        "1",
        "5",
        "9",
        "250",
        "18446744073709551615",
        "99999999999999999999",
        "ms",
        "s",
        "m",
        "h",
        "d",
        " ",
        "\t",
        "+",
        "-",
        ".",
        "_",
        "é",
        "\u{0}",
        "\n",
        "µs",
    ];
    let mut rng = Rng(0x7e4d_0004);
    for case in 0..20_000 {
        let text = rng.text(pieces, 6);
        match no_panic("duration", case, &text, || config::parse_duration(&text)) {
            Ok(d) => assert!(d.as_millis() <= u64::MAX as u128, "{text:?}"),
            Err(e) => one_line("duration", &text, &e),
        }
    }
}

#[test]
fn signal_names_survive_random_text() {
    let pieces = &[
        "SIG",
        "sig",
        "TERM",
        "HUP",
        "RTMIN",
        "RTMAX",
        "RT",
        "MIN",
        "+",
        "-",
        "0",
        "3",
        "9",
        "30",
        "64",
        "65",
        "99999999999",
        " ",
        "\t",
        "é",
        "\u{0}",
        "\n",
        "KILL",
        "IOT",
    ];
    let mut rng = Rng(0x7e4d_0005);
    for case in 0..20_000 {
        let text = rng.text(pieces, 5);
        match no_panic("signal", case, &text, || config::parse_signal(&text)) {
            Ok(n) => {
                assert!((1..=64).contains(&n), "{text:?} gave {n}");
                let name = config::signal_name(n);
                assert!(!name.chars().any(char::is_control), "{name:?}");
            }
            Err(e) => one_line("signal", &text, &e),
        }
    }
}

#[test]
fn envdir_values_survive_random_bytes() {
    let pieces: &[&[u8]] = &[
        b"a",
        b"=",
        b" ",
        b"\t",
        b"\n",
        b"\r",
        b"\0",
        b"\xff",
        b"\xc3\xa9",
        b"\xe2\x80",
        b"x\n",
    ];
    let mut rng = Rng(0x7e4d_0006);
    for case in 0..20_000 {
        let n = rng.below(12);
        let bytes: Vec<u8> = (0..n)
            .flat_map(|_| pieces[rng.below(pieces.len())].iter().copied())
            .collect();
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let value = no_panic("envdir", case, &shown, || scan::envdir_value(&bytes));
        match value {
            None => assert!(bytes.is_empty(), "{bytes:?} unset the variable"),
            Some(v) => {
                let v = std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str());
                assert!(!v.contains(&0), "{bytes:?} gave a NUL");
                assert!(
                    !v.ends_with(b" ") && !v.ends_with(b"\t"),
                    "{bytes:?} gave {v:?}"
                );
            }
        }
    }
}

#[test]
fn user_lookup_survives_random_passwd_and_group() {
    let pieces = &[
        "root",
        "www",
        ":",
        "::",
        "x",
        "0",
        "33",
        "-1",
        "4294967296",
        "/home",
        ",",
        "\n",
        " ",
        "é",
        "\u{0}",
    ];
    let mut rng = Rng(0x7e4d_0007);
    for case in 0..5000 {
        let passwd = rng.text(pieces, 30);
        let group = rng.text(pieces, 30);
        let spec = rng.text(&["root", "www", "0", "33", ":", "5", "x", ""], 3);
        let input = format!("{spec:?} / {passwd:?} / {group:?}");
        let got = no_panic("user", case, &input, || {
            config::resolve_user(&spec, &passwd, &group)
        });
        if let Err(e) = got {
            one_line("user", &input, &e);
        }
    }
}
