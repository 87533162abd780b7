//! Parsing of what the user writes in a service: durations, signal names,
//! `service.toml` and `user` (the command line is `options`).
//! Pure: functions take strings and return values or a one-line error; no
//! file is opened here (see `scan` for that).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Parses `250ms`, `5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (write e.g. 250ms, 5s, 2m)"))?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("bad duration {s:?} (write e.g. 250ms, 5s, 2m)")),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("duration {s:?} is too long"))
}

/// The first real-time signal as glibc's `kill -l`, systemd and SPEC §3
/// number them (RTMIN+3 = 37). Not `libc::SIGRTMIN()`: musl reserves one
/// more signal and says 35.
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// Parses `TERM`, `SIGTERM`, `term`, `15`, `RTMIN+3` or `SIGRTMAX-2`.
/// `start-limit = "N/DUR"`: at most N starts within DUR (N ≥ 1, DUR > 0).
pub fn parse_start_limit(s: &str) -> Result<(u32, Duration), String> {
    let bad = || format!("{s:?}: expected STARTS/DURATION, e.g. \"5/60s\"");
    let (n, d) = s.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let d = parse_duration(d.trim())?;
    if n == 0 || d.is_zero() {
        return Err(bad());
    }
    Ok((n, d))
}

pub fn parse_signal(s: &str) -> Result<i32, String> {
    let t = s.trim();
    let bad = || format!("bad signal name {t:?}");
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<i32>() {
            Ok(n) if (1..=RTMAX).contains(&n) => Ok(n),
            _ => Err(bad()),
        };
    }
    let up = t.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if bare.starts_with("RT") {
        return realtime_signal(bare).ok_or_else(bad);
    }
    // nix's table names the classic signals 1–31 (its enum cannot hold the
    // real-time ones, hence the lines above).
    format!("SIG{bare}")
        .parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N`, within 34–64.
fn realtime_signal(bare: &str) -> Option<i32> {
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(sign)?;
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let n = if let Some(rest) = bare.strip_prefix("RTMIN") {
        RTMIN + offset(rest, '+')?
    } else {
        RTMAX - offset(bare.strip_prefix("RTMAX")?, '-')?
    };
    (RTMIN..=RTMAX).contains(&n).then_some(n)
}

/// `SIGTERM` for 15, `SIGRTMIN+3` for 37; the number for 32 and 33, which
/// have no name (the C library keeps them).
pub fn signal_name(n: i32) -> String {
    if (RTMIN..=RTMAX).contains(&n) {
        return format!("SIGRTMIN+{}", n - RTMIN);
    }
    match nix::sys::signal::Signal::try_from(n) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => format!("signal {n}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

/// `service.toml` as written (SPEC §2). Durations and signals stay strings
/// here so that their errors can name the key; `scan` validates them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceToml {
    pub command: Option<Vec<String>>,
    pub critical: Option<bool>,
    pub restart: Option<Restart>,
    pub restart_delay: Option<String>,
    pub restart_delay_max: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace: Option<String>,
    pub after: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub ready: Option<Ready>,
    pub watchdog: Option<String>,
    pub listen: Option<Vec<String>>,
    pub on_demand: Option<bool>,
    #[serde(default, deserialize_with = "instance_count")]
    pub instances: Option<u32>,
    pub start_limit: Option<String>,
    pub reload_signal: Option<String>,
    pub pid_file: Option<String>,
}

/// `ready = "notify"`, `{ tcp = "HOST:PORT" }` or `{ command = ... }`: a
/// string is a unit variant, a one-key table a variant with a value (the
/// toml crate's enum encoding). `scan` checks the values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ready {
    Notify,
    Tcp(String),
    Command(Argv),
}

/// A command: one string (run as one program, no shell) or an argv array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Argv, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Argv;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Argv, E> {
                Ok(Argv(vec![s.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element()? {
                    argv.push(arg);
                }
                Ok(Argv(argv))
            }
        }
        d.deserialize_any(V)
    }
}

/// `instances`: 1 to 10000 (a bound, so that a typo cannot fork a million).
fn instance_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(n) if (1..=10_000).contains(&n) => Ok(Some(n)),
        _ => Err(de::Error::custom(format!(
            "instances: expected a count from 1 to 10000, got {n}"
        ))),
    }
}

/// Parses the text of a `service.toml` with the toml crate (which bounds
/// nesting, so no input can exhaust the stack). The error is one line:
/// `line L, column C: problem`. Unknown keys are errors.
pub fn parse_service_toml(text: &str) -> Result<ServiceToml, String> {
    toml::from_str(text).map_err(|e| {
        // It may quote the user's text: one line, whatever that holds.
        let message = crate::log::one_line(e.message());
        match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("line {line}, column {column}: {message}")
            }
            None => message.into_owned(),
        }
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Count characters, not bytes: UTF-8 continuation bytes start with 10.
    let column = 1 + before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| b & 0xc0 != 0x80)
        .count();
    (line, column)
}

/// A user to run a service as (`user` in service.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Option<String>,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those of /etc/group that list the user.
    pub groups: Vec<u32>,
    pub home: Option<String>,
}

/// Resolves `user = "NAME"`, `"UID"` or `"UID:GID"` against the texts of
/// /etc/passwd and /etc/group. A name must be in passwd; a number need not
/// be (as `docker run --user 1000:1000`), and then has no home or groups.
///
/// Hand-written rather than nix's `User::from_name` and `getgrouplist`:
/// `scan` reads both files through its bounded regular-file reader (musl's
/// getpwnam would read a FIFO or a huge file unbounded from PID 1, then
/// ask nscd over a socket), and a pure function is table-tested on texts.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<User, String> {
    // passwd: name:password:uid:gid:gecos:home:shell
    let entries = passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7).then(|| {
            (
                f[0],
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
                f[5],
            )
        })
    });
    let (uid_text, gid_text) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let found = match uid_text.parse::<u32>() {
        Ok(uid) => entries
            .filter(|e| e.1 == Some(uid))
            .map(|(n, _, g, h)| (Some(n), uid, g, Some(h)))
            .next()
            .unwrap_or((None, uid, None, None)),
        Err(_) => entries
            .filter(|e| e.0 == uid_text)
            .find_map(|(n, u, g, h)| Some((Some(n), u?, g, Some(h))))
            .ok_or_else(|| format!("no user named {uid_text:?} in /etc/passwd"))?,
    };
    let (name, uid, passwd_gid, home) = found;
    let gid = match gid_text {
        Some(g) => g
            .parse::<u32>()
            .map_err(|_| format!("bad group id {g:?}"))?,
        None => passwd_gid.unwrap_or(uid),
    };
    // group: name:password:gid:member,member
    let mut groups = vec![gid];
    if let Some(name) = name {
        for l in group.lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(g) = f[2].parse::<u32>() {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
        }
    }
    Ok(User {
        name: name.map(str::to_string),
        uid,
        gid,
        groups,
        home: home.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_limits() {
        use super::parse_start_limit as p;
        use std::time::Duration;
        assert_eq!(p("5/60s"), Ok((5, Duration::from_secs(60))));
        assert_eq!(p("3 / 10s"), Ok((3, Duration::from_secs(10))));
        for bad in ["", "5", "/60s", "0/60s", "5/0s", "x/1s", "5/1x", "-1/1s"] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
    }

    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("250ms", 250),
            ("5s", 5000),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("7", 7000),
            ("0ms", 0),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "s", "5 s", "1.5s", "-1s", "5d", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn signals() {
        for (text, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("hup", 1),
            ("9", 9),
            ("USR2", 12),
        ] {
            assert_eq!(parse_signal(text), Ok(n), "{text}");
        }
        for (text, n) in [
            ("RTMIN", 34),
            ("RTMIN+3", 37),
            ("SIGRTMIN+3", 37),
            ("rtmax", 64),
            ("SIGRTMAX-2", 62),
            ("RTMIN+30", 64),
            ("40", 40),
        ] {
            assert_eq!(parse_signal(text), Ok(n), "{text}");
        }
        for bad in [
            "",
            "TERMINATE",
            "0",
            "65",
            "SIG",
            "-1",
            "+5",
            "RTMIN+31",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+",
            "RTMIN++3",
            "RTMIN+003",
            "RT",
            "SIGSIGTERM",
            "TERM\0",
            "é",
            "RTMINé",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(32), "signal 32");
        assert_eq!(signal_name(0), "signal 0");
        // Every name tend prints, it reads back.
        for n in (1..=31).chain(34..=64) {
            assert_eq!(parse_signal(&signal_name(n)), Ok(n), "{n}");
        }
    }

    #[test]
    fn service_toml_keys() {
        let t = parse_service_toml(
            "command = [\"/bin/app\", \"-x\"]\ncritical = true\nrestart = \"on-failure\"\n\
             stop-grace = \"3s\"\nenv = { A = \"1\" }\n",
        )
        .unwrap();
        assert_eq!(t.command.unwrap(), vec!["/bin/app", "-x"]);
        assert_eq!(t.critical, Some(true));
        assert_eq!(t.restart, Some(Restart::OnFailure));
        assert_eq!(t.stop_grace.as_deref(), Some("3s"));
        assert_eq!(t.env.unwrap()["A"], "1");
    }

    #[test]
    fn service_toml_ready_and_instances() {
        let ready = |text: &str| parse_service_toml(text).map(|t| t.ready);
        assert_eq!(ready("ready = \"notify\""), Ok(Some(Ready::Notify)));
        assert_eq!(
            ready("ready = { tcp = \"127.0.0.1:80\" }"),
            Ok(Some(Ready::Tcp("127.0.0.1:80".into())))
        );
        assert_eq!(
            ready("ready = { command = \"./check\" }"),
            Ok(Some(Ready::Command(Argv(vec!["./check".into()]))))
        );
        assert_eq!(
            ready("[ready]\ncommand = [\"a\", \"b\"]"),
            Ok(Some(Ready::Command(Argv(vec!["a".into(), "b".into()]))))
        );
        for bad in [
            "ready = \"tcp\"",
            "ready = { tcp = 1 }",
            "ready = { command = [1] }",
            "ready = { tcp = \"a:1\", command = \"x\" }",
            "ready = true",
        ] {
            assert!(ready(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_service_toml("instances = 4").unwrap().instances,
            Some(4)
        );
        for bad in ["0", "10001", "-1", "99999999999", "\"4\"", "4.0"] {
            let e = parse_service_toml(&format!("instances = {bad}")).unwrap_err();
            assert!(e.starts_with("line 1, column 13: "), "{bad}: {e}");
        }
    }

    /// TOML the hand-written parser refused or accepted wrongly (issue 10)
    /// now reads as the TOML spec says.
    #[test]
    fn service_toml_is_toml() {
        let t = parse_service_toml(
            "instances = 0x10\ncommand = [\"\"\"a\"\"\"\", '''b''']\n[env]\nA = \"1\"\n",
        )
        .unwrap();
        assert_eq!(t.instances, Some(16));
        assert_eq!(t.command.unwrap(), vec!["a\"", "b"]);
        assert_eq!(t.env.unwrap()["A"], "1");
        for bad in [
            "command = [\"\\u+041\"]",
            "instances = 01",
            "user = \"a\u{1}b\"",
            "env = { A = \"1\", A = \"2\" }",
            "[env]\nA.x = \"1\"",
        ] {
            assert!(parse_service_toml(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn service_toml_errors_are_one_line_and_name_the_key() {
        let e = parse_service_toml("critical = true\nbogus = 1\n").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        assert!(e.starts_with("line 2, column 1: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = parse_service_toml("restart = \"sometimes\"\n").unwrap_err();
        assert!(e.contains("sometimes"), "{e}");
        assert!(e.starts_with("line 1, column 11: "), "{e}");
        let e = parse_service_toml("critical = \n").unwrap_err();
        assert!(e.starts_with("line 1, "), "{e}");
        // A quoted value with a newline in it stays on one line.
        let e = parse_service_toml("restart = \"a\\nb\\u0000\"").unwrap_err();
        assert!(!e.chars().any(char::is_control), "{e:?}");
        // Columns count characters, not bytes.
        let e = parse_service_toml("user = \"é\"\néé = 1").unwrap_err();
        assert!(e.starts_with("line 2, column 1: "), "{e}");
        let e = parse_service_toml("env = { \"é\" = \"x\", B = 1 }").unwrap_err();
        assert!(e.starts_with("line 1, column 24: "), "{e}");
    }

    /// Issue 9: `command = ` then 50,000 `[` overflowed the stack and
    /// killed PID 1. Every way TOML nests must end in an error.
    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 50_000;
        for text in [
            format!("command = {}", "[".repeat(n)),
            format!("command = {}{}", "[".repeat(n), "]".repeat(n)),
            format!("env = {}", "{ a = ".repeat(n)),
            format!("env = {}1{}", "{ a = ".repeat(n), "}".repeat(n)),
            format!("env.{} = \"x\"", "a.".repeat(n)),
            format!("[env{}]", ".a".repeat(n)),
            format!("[[env{}]]", ".a".repeat(n)),
            format!("ready = {}", "[{a=".repeat(n)),
        ] {
            let e = parse_service_toml(&text).unwrap_err();
            assert!(!e.contains('\n') && e.len() < 1000, "{e}");
        }
    }

    #[test]
    fn users() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\nbroken\n";
        let group = "root:x:0:\nwww-data:x:33:\nadm:x:4:syslog,www-data\nweb:x:900:www-data\n";
        let u = resolve_user("www-data", passwd, group).unwrap();
        assert_eq!((u.uid, u.gid), (33, 33));
        assert_eq!(u.groups, vec![33, 4, 900]);
        assert_eq!(u.home.as_deref(), Some("/var/www"));
        assert_eq!(u.name.as_deref(), Some("www-data"));
        let u = resolve_user("33", passwd, group).unwrap();
        assert_eq!(u.name.as_deref(), Some("www-data"));
        let u = resolve_user("1000:1000", passwd, group).unwrap();
        assert_eq!((u.uid, u.gid, u.name, u.home), (1000, 1000, None, None));
        assert_eq!(u.groups, vec![1000]);
        assert_eq!(resolve_user("0:5", passwd, group).unwrap().gid, 5);
        assert!(resolve_user("nobody", passwd, group)
            .unwrap_err()
            .contains("nobody"));
        assert!(resolve_user("1:x", passwd, group).is_err());
    }
}
