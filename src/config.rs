//! Parsing of everything the user writes: command-line options (with their
//! environment fallbacks), durations, signal names and `service.toml`.
//! Pure: functions take strings and return values or a one-line error; no
//! file is opened here (see `scan` for that).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
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
        let message = one_line(e.message());
        match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("line {line}, column {column}: {message}")
            }
            None => message,
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

/// A message that quotes the user's text may hold newlines or control
/// characters: escape them, so that an error stays one line.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
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

/// What to do, as decided by the command line.
#[derive(Debug)]
pub enum Invocation {
    Supervise(Box<Options>),
    Ctl(Vec<String>),
    Help,
    Version,
}

/// The supervisor's options (SPEC §1).
#[derive(Debug, Clone)]
pub struct Options {
    pub services: PathBuf,
    /// The services dir was named by the user (a missing one is an error).
    pub services_explicit: bool,
    pub init_dir: PathBuf,
    pub finish_dir: PathBuf,
    pub grace: Duration,
    pub ready_timeout: Duration,
    pub control: PathBuf,
    pub log_prefix: Option<bool>,
    pub log_level: Option<log::LevelFilter>,
    /// Count of `-v` flags (tini).
    pub verbosity: u8,
    /// tini `-g`: forwarded signals go to the main command's process group.
    pub group: bool,
    /// tini `-e`: exit codes of the main command mapped to 0.
    pub ok_codes: Vec<i32>,
    /// tini `-p`: signal tend receives when its parent dies.
    pub parent_death: Option<i32>,
    /// tini `-w`: warn on each reaped zombie.
    pub warn_zombies: bool,
    pub command: Vec<String>,
}

pub const USAGE: &str = "usage: tend [OPTIONS] [--] [COMMAND [ARGS...]]
       tend ctl VERB [ARGS...]
options:
  --services DIR       service directories (default /etc/tend/services)
  --init-dir DIR       one-shot scripts run before services (default /etc/tend/init.d)
  --finish-dir DIR     one-shot scripts run after services (default /etc/tend/finish.d)
  --grace DUR          stop signal to SIGKILL on shutdown (default 5s)
  --ready-timeout DUR  wait for readiness before the main command (default 30s)
  --control PATH       control socket (default /run/tend/control.sock)
  --log-prefix, --no-log-prefix
  --log-level LVL      error, warn, info, debug, trace (default info)
  -g -e CODE -p SIG -w -s -v   tini's flags, with tini's meaning
  -h, --help           this text;  --version";

fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{name}: expected on or off, got {v:?}")),
    }
}

/// Parses the command line (without argv[0]); `env` looks up the
/// environment so that tests can pass their own.
pub fn parse_args(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation, String> {
    if args.first().map(String::as_str) == Some("ctl") {
        return Ok(Invocation::Ctl(args[1..].to_vec()));
    }
    let mut o = Options {
        services: PathBuf::from("/etc/tend/services"),
        services_explicit: false,
        init_dir: PathBuf::from("/etc/tend/init.d"),
        finish_dir: PathBuf::from("/etc/tend/finish.d"),
        grace: Duration::from_secs(5),
        ready_timeout: Duration::from_secs(30),
        control: PathBuf::from("/run/tend/control.sock"),
        log_prefix: None,
        log_level: None,
        verbosity: 0,
        group: false,
        ok_codes: Vec::new(),
        parent_death: None,
        warn_zombies: false,
        command: Vec::new(),
    };
    // Environment first, so that the command line overrides it.
    if let Some(v) = env("TEND_SERVICES") {
        o.services = v.into();
        o.services_explicit = true;
    }
    if let Some(v) = env("TEND_INIT_DIR") {
        o.init_dir = v.into();
    }
    if let Some(v) = env("TEND_FINISH_DIR") {
        o.finish_dir = v.into();
    }
    if let Some(v) = env("TEND_GRACE") {
        o.grace = parse_duration(&v).map_err(|e| format!("TEND_GRACE: {e}"))?;
    }
    if let Some(v) = env("TEND_READY_TIMEOUT") {
        o.ready_timeout = parse_duration(&v).map_err(|e| format!("TEND_READY_TIMEOUT: {e}"))?;
    }
    if let Some(v) = env("TEND_CONTROL") {
        o.control = v.into();
    }
    if let Some(v) = env("TEND_LOG_PREFIX") {
        o.log_prefix = Some(parse_bool("TEND_LOG_PREFIX", &v)?);
    }
    if let Some(v) = env("TEND_LOG_LEVEL") {
        o.log_level =
            Some(crate::log::parse_level(&v).ok_or(format!("TEND_LOG_LEVEL: bad level {v:?}"))?);
    }
    if env("TINI_KILL_PROCESS_GROUP").is_some() {
        o.group = true;
    }

    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            // The first word that is not an option starts the main command
            // (Docker appends CMD to ENTRYPOINT).
            i -= 1;
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or(format!("--{name} needs a value"))?;
                i += 1;
                Ok(v)
            };
            match name {
                "services" => {
                    o.services = value()?.into();
                    o.services_explicit = true;
                }
                "init-dir" => o.init_dir = value()?.into(),
                "finish-dir" => o.finish_dir = value()?.into(),
                "grace" => {
                    o.grace = parse_duration(&value()?).map_err(|e| format!("--grace: {e}"))?
                }
                "ready-timeout" => {
                    o.ready_timeout =
                        parse_duration(&value()?).map_err(|e| format!("--ready-timeout: {e}"))?
                }
                "control" => o.control = value()?.into(),
                "log-prefix" => o.log_prefix = Some(true),
                "no-log-prefix" => o.log_prefix = Some(false),
                "log-level" => {
                    let v = value()?;
                    o.log_level = Some(
                        crate::log::parse_level(&v)
                            .ok_or(format!("--log-level: bad level {v:?}"))?,
                    )
                }
                "help" => return Ok(Invocation::Help),
                "version" => return Ok(Invocation::Version),
                _ => return Err(format!("unknown option --{name}")),
            }
            continue;
        }
        // A cluster of tini-style short flags: -sg, -vvv, -e 143, -e143.
        let flags: Vec<char> = arg[1..].chars().collect();
        let mut k = 0;
        while k < flags.len() {
            let f = flags[k];
            k += 1;
            match f {
                's' => {} // tend always reaps: as PID 1, or as a child subreaper
                'g' => o.group = true,
                'w' => o.warn_zombies = true,
                'v' => o.verbosity = o.verbosity.saturating_add(1),
                'h' => return Ok(Invocation::Help),
                'l' => return Ok(Invocation::Version),
                'e' | 'p' => {
                    let v: String = if k < flags.len() {
                        let rest = flags[k..].iter().collect();
                        k = flags.len();
                        rest
                    } else {
                        let v = args.get(i).cloned().ok_or(format!("-{f} needs a value"))?;
                        i += 1;
                        v
                    };
                    if f == 'e' {
                        let code: i32 = v
                            .parse()
                            .ok()
                            .filter(|c| (0..=255).contains(c))
                            .ok_or(format!("-e: bad exit code {v:?}"))?;
                        o.ok_codes.push(code);
                    } else {
                        o.parent_death = Some(parse_signal(&v).map_err(|e| format!("-p: {e}"))?);
                    }
                }
                _ => return Err(format!("unknown option -{f}")),
            }
        }
    }
    o.command = args[i.min(args.len())..].to_vec();
    Ok(Invocation::Supervise(Box::new(o)))
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

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn parse(s: &[&str]) -> Result<Options, String> {
        match parse_args(&args(s), &|_| None)? {
            Invocation::Supervise(o) => Ok(*o),
            other => Err(format!("not supervise: {other:?}")),
        }
    }

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
    fn command_starts_at_first_word() {
        let o = parse(&["--grace", "2s", "nginx", "-g", "daemon off;"]).unwrap();
        assert_eq!(o.grace, Duration::from_secs(2));
        assert_eq!(o.command, args(&["nginx", "-g", "daemon off;"]));
        let o = parse(&["-g", "--", "-weird", "--grace"]).unwrap();
        assert!(o.group);
        assert_eq!(o.command, args(&["-weird", "--grace"]));
    }

    #[test]
    fn tini_flags() {
        let o = parse(&[
            "-sgw", "-vv", "-e", "143", "-e3", "-p", "SIGKILL", "--", "x",
        ])
        .unwrap();
        assert!(o.group && o.warn_zombies);
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.ok_codes, vec![143, 3]);
        assert_eq!(o.parent_death, Some(9));
    }

    #[test]
    fn bad_options() {
        for bad in [
            &["--nope"][..],
            &["--grace"],
            &["--grace", "soon"],
            &["-e", "300"],
            &["-x"],
            &["-p"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn environment_and_override() {
        let env = |k: &str| match k {
            "TEND_GRACE" => Some("9s".to_string()),
            "TEND_SERVICES" => Some("/srv".to_string()),
            "TINI_KILL_PROCESS_GROUP" => Some("1".to_string()),
            _ => None,
        };
        let Invocation::Supervise(o) = parse_args(&args(&["--grace=1s"]), &env).unwrap() else {
            panic!()
        };
        assert_eq!(o.grace, Duration::from_secs(1));
        assert_eq!(o.services, PathBuf::from("/srv"));
        assert!(o.services_explicit && o.group);
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

    #[test]
    fn ctl_is_a_subcommand() {
        match parse_args(&args(&["ctl", "status", "--json"]), &|_| None).unwrap() {
            Invocation::Ctl(a) => assert_eq!(a, args(&["status", "--json"])),
            other => panic!("{other:?}"),
        }
    }
}
