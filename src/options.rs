//! The command line (SPEC §1): options with their environment fallbacks,
//! tini's flags, and the `ctl` subcommand. Pure: strings in, `Invocation`
//! or a one-line error out.

use crate::config::{parse_duration, parse_signal};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// What to do, as decided by the command line.
#[derive(Debug)]
pub enum Invocation {
    Supervise(Box<Options>),
    Ctl(Vec<String>),
    /// `tend verify [--services DIR]`: scan, report, start nothing.
    Verify(Box<Options>),
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
    /// Bytes as given: arguments need not be UTF-8 (`main` puts the
    /// originals back here).
    pub command: Vec<OsString>,
}

pub const USAGE: &str = "usage: tend [OPTIONS] [--] [COMMAND [ARGS...]]
       tend ctl VERB [ARGS...]
       tend verify [--services DIR]   check services and units, start nothing
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
    // The supervisor's own options (and environment), so that verify reads
    // exactly the dir the supervisor would.
    if args.first().map(String::as_str) == Some("verify") {
        return match parse_args(&args[1..], env)? {
            Invocation::Supervise(o) if o.command.is_empty() => Ok(Invocation::Verify(o)),
            Invocation::Help => Ok(Invocation::Help),
            Invocation::Version => Ok(Invocation::Version),
            _ => Err("verify takes options only, e.g. --services DIR".into()),
        };
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
    o.command = args[i.min(args.len())..]
        .iter()
        .map(OsString::from)
        .collect();
    Ok(Invocation::Supervise(Box::new(o)))
}

#[cfg(test)]
mod tests {
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
    fn command_starts_at_first_word() {
        let o = parse(&["--grace", "2s", "nginx", "-g", "daemon off;"]).unwrap();
        assert_eq!(o.grace, Duration::from_secs(2));
        assert_eq!(o.command, ["nginx", "-g", "daemon off;"]);
        let o = parse(&["-g", "--", "-weird", "--grace"]).unwrap();
        assert!(o.group);
        assert_eq!(o.command, ["-weird", "--grace"]);
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
    fn verify_is_a_subcommand() {
        let env = |k: &str| (k == "TEND_SERVICES").then(|| "/env".to_string());
        match parse_args(&args(&["verify"]), &env).unwrap() {
            Invocation::Verify(o) => assert_eq!(o.services, PathBuf::from("/env")),
            other => panic!("{other:?}"),
        }
        match parse_args(&args(&["verify", "--services", "/s"]), &env).unwrap() {
            Invocation::Verify(o) => assert_eq!(o.services, PathBuf::from("/s")),
            other => panic!("{other:?}"),
        }
        for bad in [
            &["verify", "cmd"][..],
            &["verify", "ctl"],
            &["verify", "--nope"],
        ] {
            assert!(parse_args(&args(bad), &env).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ctl_is_a_subcommand() {
        match parse_args(&args(&["ctl", "status", "--json"]), &|_| None).unwrap() {
            Invocation::Ctl(a) => assert_eq!(a, args(&["status", "--json"])),
            other => panic!("{other:?}"),
        }
    }
}
