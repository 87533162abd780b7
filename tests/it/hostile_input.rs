//! Hostile-input property tests (issue 9) for the pure parsers that read
//! what users and images put in a service dir: service.toml, durations,
//! signal names, envdir file contents, /etc/passwd and /etc/group, and what
//! comes in from processes: control requests and replies, sd_notify
//! datagrams. Random and mutated inputs from a seeded generator, so a run
//! is deterministic and a failure names its case. What must hold: no input panics (PID 1
//! would abort), and every error is one line with no control characters.
//!
//! No processes: these run in well under a second in a debug build.

use std::panic::{catch_unwind, AssertUnwindSafe};

use tend::{config, proto, ready, scan};

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

/// Words of control requests, and what a decoder trips on.
const REQUEST_PIECES: &[&[u8]] = &[
    b"status",
    b"up",
    b"down",
    b"restart",
    b"signal",
    b"wait",
    b"ready",
    b"check",
    b"reload",
    b"shutdown",
    b"--json",
    b"--timeout",
    b"web",
    b"db@2",
    b"x/log",
    b"HUP",
    b"SIGRTMIN+3",
    b"RTMAX-99",
    b"64",
    b"65",
    b"-1",
    b"250ms",
    b"2s",
    b"18446744073709551615s",
    b"99999999999999999999ms",
    b" ",
    b"  ",
    b"\t",
    b"\n",
    b"\r",
    b"\0",
    b"\x1b[2J",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\xe2\x80\xa8",
    b"\"",
    b"\\",
];

/// Valid request lines, as `tend ctl` sends them, to mutate.
const GOOD_REQUESTS: &[&str] = &[
    "status",
    "status web db --json",
    "up web",
    "down a b",
    "restart x@1",
    "signal USR1 web",
    "signal RTMIN+3 web",
    "wait ready db --timeout 2s",
    "wait down db",
    "check",
    "reload",
    "shutdown",
];

/// Random bytes from `pieces`, up to `max` of them.
fn bytes_of(rng: &mut Rng, pieces: &[&[u8]], max: usize) -> Vec<u8> {
    let n = 1 + rng.below(max);
    (0..n)
        .flat_map(|_| pieces[rng.below(pieces.len())].iter().copied())
        .collect()
}

/// `good` with 1 to 6 byte-level edits: insert a piece or a random byte,
/// delete a range, duplicate a range, flip a bit.
fn mutate(rng: &mut Rng, good: &[u8], pieces: &[&[u8]]) -> Vec<u8> {
    let mut b = good.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(b.len() + 1);
        let end = (at + rng.below(8)).min(b.len());
        match rng.below(5) {
            0 => drop(b.splice(at..at, pieces[rng.below(pieces.len())].iter().copied())),
            1 => b.insert(at, rng.next() as u8),
            2 => drop(b.drain(at..end)),
            3 => {
                let copy = b[at..end].to_vec();
                b.splice(at..at, copy);
            }
            _ if at < b.len() => b[at] ^= 1 << rng.below(8),
            _ => {}
        }
    }
    b
}

/// What must hold of the control decoder on `line` (up to its first
/// newline, as the socket code hands it over): no panic; an error is one
/// clean line (it goes back to the client, and into the log); a request
/// re-encodes to a line no longer than the input allows and decodes to
/// itself, as `tend ctl` would send it.
/// Returns whether it decoded.
fn check_request(case: usize, line: &[u8]) -> bool {
    let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
    let shown = String::from_utf8_lossy(line).into_owned();
    match no_panic("request", case, &shown, || proto::decode(line)) {
        Err(e) => {
            one_line("request", &shown, &e);
            false
        }
        Ok(req) => {
            let again = no_panic("encode", case, &shown, || proto::encode(&req));
            assert!(
                again.len() <= line.len() + 32 && again.len() <= proto::MAX_REQUEST + 32,
                "case {case}: {shown:?} re-encodes to {} bytes",
                again.len()
            );
            let back = no_panic("re-decode", case, &again, || {
                proto::decode(again.strip_suffix('\n').unwrap_or(&again).as_bytes())
            });
            assert_eq!(back, Ok(req), "case {case}: {shown:?} -> {again:?}");
            true
        }
    }
}

#[test]
fn control_requests_survive_random_bytes() {
    let mut rng = Rng(0x7e4d_0008);
    for case in 0..20_000 {
        let line = bytes_of(&mut rng, REQUEST_PIECES, 12);
        check_request(case, &line);
    }
    // At and past the size limit the socket code allows.
    let long = b"status ".repeat(proto::MAX_REQUEST / 7 + 1);
    check_request(0, &long[..proto::MAX_REQUEST]);
    check_request(1, &[b'x'; proto::MAX_REQUEST]);
}

#[test]
fn control_requests_survive_mutation() {
    let mut rng = Rng(0x7e4d_0009);
    let mut decoded = 0;
    for case in 0..20_000 {
        let good = GOOD_REQUESTS[rng.below(GOOD_REQUESTS.len())].as_bytes();
        let line = mutate(&mut rng, good, REQUEST_PIECES);
        decoded += usize::from(check_request(case, &line));
    }
    // Else the round trip above would hardly be exercised.
    assert!(decoded > 1000, "only {decoded} of 20,000 mutants decoded");
    eprintln!("control requests: {decoded} of 20,000 mutants decoded and round-tripped");
}

#[test]
fn control_replies_survive_random_bytes() {
    let mut rng = Rng(0x7e4d_000a);
    let pieces: &[&[u8]] = &[
        b"0",
        b"1",
        b"2",
        b"-",
        b"99999999999",
        b"\n",
        b" ",
        b"\xff",
        b"ok",
    ];
    for case in 0..10_000 {
        let bytes = bytes_of(&mut rng, pieces, 8);
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        if let Ok((_, body)) = no_panic("reply", case, &shown, || proto::parse_reply(&bytes)) {
            assert!(body.len() <= 3 * bytes.len(), "{shown:?} gave {body:?}");
        }
    }
}

/// sd_notify's keys, values and what a datagram parser trips on.
const NOTICE_PIECES: &[&[u8]] = &[
    b"READY=1",
    b"READY=0",
    b"READY",
    b"WATCHDOG=1",
    b"WATCHDOG=trigger",
    b"STOPPING=1",
    b"STATUS=",
    b"STATUS=serving",
    b"MAINPID=4",
    b"RELOADING=1",
    b"=",
    b"==",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b" ",
    b"1",
];

/// What must hold of the sd_notify parser: no panic, a status no longer
/// than the datagram (each invalid byte may become U+FFFD, 3 bytes), and
/// READY only from a `READY=1` line.
fn check_notice(case: usize, data: &[u8]) {
    let shown = String::from_utf8_lossy(data).into_owned();
    let n = no_panic("notice", case, &shown, || ready::parse_notice(data));
    if let Some(s) = &n.status {
        assert!(s.len() <= 3 * data.len(), "{shown:?} gave status {s:?}");
    }
    if n.ready {
        assert!(
            data.windows(7).any(|w| w == b"READY=1"),
            "{shown:?} made the service ready"
        );
    }
}

#[test]
fn notify_datagrams_survive_random_bytes() {
    let mut rng = Rng(0x7e4d_000b);
    for case in 0..20_000 {
        let data = bytes_of(&mut rng, NOTICE_PIECES, 10);
        check_notice(case, &data);
    }
    // The largest datagram tend reads, in one piece.
    check_notice(0, &[b'\xff'; 4096]);
    check_notice(1, &b"STATUS=".repeat(600));
}

#[test]
fn notify_datagrams_survive_mutation() {
    let mut rng = Rng(0x7e4d_000c);
    let good: &[&[u8]] = &[
        b"READY=1\nSTATUS=serving 3 clients\n",
        b"WATCHDOG=1",
        b"MAINPID=4\nSTOPPING=1",
        b"STATUS=4/5 ready; waiting for db\nREADY=1",
    ];
    for case in 0..20_000 {
        let pick = good[rng.below(good.len())];
        let data = mutate(&mut rng, pick, NOTICE_PIECES);
        check_notice(case, &data);
    }
}
