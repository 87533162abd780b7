//! tend's runner for a unit's command lists (SPEC §8): `ExecStartPre=`
//! then `ExecStart=`, `ExecStop=`, `ExecReload=`, `ExecStopPost=`.
//!
//! The supervisor starts it like any `run`: the program is tend itself
//! (`/sbin/tend --unit-exec ...`), so no shell, no helper file, and
//! the supervisor's model stays one process per `run`/`finish`/helper.
//! The runner is an ordinary child of the service (its session, pipes,
//! user, environment, cwd), never PID 1: it runs each command in the
//! service's session and process group, one at a time, waits for it, and
//! in mode `exec` becomes the last one (ExecStart), so the main process keeps the runner's pid.
//! A stop signal to the service's group reaches the command that runs.
//! `$VAR`s are expanded here, at exec time with the final environment
//! (`$MAINPID` of ExecStop/ExecReload included), as systemd does.
//!
//! Arguments: `--unit-exec MODE N` then N commands, each `FLAGS PATH K
//! ARGV...` (FLAGS: `c` then `-` for ignore-failure and `$` for expand),
//! then whatever the caller appends (`finish`'s four arguments for
//! ExecStopPost).

use crate::state::Exit;
use crate::sys;
use crate::unit::exec::expand_env;
use std::ffi::OsString;

/// The hidden first argument that makes tend the runner.
pub const FLAG: &str = "--unit-exec";
/// Where the runner's program is: tend itself, as the child of a clone
/// sees it (no path lookup, no dependence on how tend was invoked).
pub const SELF: &str = "/proc/self/exe";

/// The runner's program: tend's own path, so that `ps` shows `tend` (not
/// `exe`) while it runs; `SELF` when that cannot be known or the file is
/// gone (replaced under a running tend).
pub fn program() -> OsString {
    match std::env::current_exe() {
        Ok(p) if p.is_file() => p.into_os_string(),
        _ => SELF.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each command but the last to completion, then exec the last.
    Exec,
    /// Each to completion; a failure without `-` ends the list with its
    /// status.
    All,
    /// As `All`, with `finish`'s arguments after the commands turned into
    /// `$SERVICE_RESULT`, `$EXIT_CODE`, `$EXIT_STATUS`; exits 0 or 1
    /// (never `finish`'s 125, "do not restart").
    Post,
}

/// One command, as `unit::exec::ExecCommand` says it, the program found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub path: String,
    pub argv: Vec<String>,
    pub ignore_failure: bool,
    pub expand: bool,
}

const MODES: [(Mode, &str); 3] = [
    (Mode::Exec, "exec"),
    (Mode::All, "all"),
    (Mode::Post, "post"),
];

/// The runner's argv for these commands.
pub fn encode(mode: Mode, cmds: &[Cmd]) -> Vec<OsString> {
    let m = MODES
        .iter()
        .find(|(x, _)| *x == mode)
        .map_or("all", |m| m.1);
    let mut out: Vec<OsString> = vec![program(), FLAG.into(), m.into()];
    out.push(cmds.len().to_string().into());
    for c in cmds {
        let mut flags = String::from("c");
        if c.ignore_failure {
            flags.push('-');
        }
        if c.expand {
            flags.push('$');
        }
        out.push(flags.into());
        out.push(c.path.clone().into());
        out.push(c.argv.len().to_string().into());
        out.extend(c.argv.iter().map(OsString::from));
    }
    out
}

/// The commands and what follows them, from the arguments after `FLAG`.
pub fn decode(args: &[String]) -> Option<(Mode, Vec<Cmd>, &[String])> {
    let mode = MODES
        .iter()
        .find(|m| Some(&m.1) == args.first().map(|a| a.as_str()).as_ref())?;
    let n: usize = args.get(1)?.parse().ok()?;
    let mut rest = args.get(2..)?;
    let mut cmds = Vec::new();
    for _ in 0..n {
        let [flags, path, k, tail @ ..] = rest else {
            return None;
        };
        let flags = flags.strip_prefix('c')?;
        let k: usize = k.parse().ok()?;
        let argv = tail.get(..k)?.to_vec();
        cmds.push(Cmd {
            path: path.clone(),
            argv,
            ignore_failure: flags.contains('-'),
            expand: flags.contains('$'),
        });
        rest = &tail[k..];
    }
    (!cmds.is_empty()).then_some((mode.0, cmds, rest))
}

/// `$SERVICE_RESULT`, `$EXIT_CODE`, `$EXIT_STATUS` as systemd sets them
/// for ExecStopPost=, from `finish`'s exit code and signal arguments.
pub fn post_env(code: &str, sig: &str) -> [(&'static str, String); 3] {
    match sig.parse::<i32>() {
        Ok(s) if s > 0 => {
            let name = crate::config::signal_name(s);
            let name = name.strip_prefix("SIG").unwrap_or(&name).to_string();
            [
                ("SERVICE_RESULT", "signal".into()),
                ("EXIT_CODE", "killed".into()),
                ("EXIT_STATUS", name),
            ]
        }
        _ => [
            (
                "SERVICE_RESULT",
                if code == "0" { "success" } else { "exit-code" }.into(),
            ),
            ("EXIT_CODE", "exited".into()),
            ("EXIT_STATUS", code.to_string()),
        ],
    }
}

/// `tend --unit-exec ...`: the runner's exit code.
pub fn run(args: &[String]) -> i32 {
    let Some((mode, cmds, rest)) = decode(args) else {
        eprintln!("tend: {FLAG}: bad arguments (tend's own, not for use by hand)");
        return 2;
    };
    if mode == Mode::Post {
        if let [code, sig, ..] = rest {
            for (k, v) in post_env(code, sig) {
                std::env::set_var(k, v);
            }
        }
    }
    let argv_of = |c: &Cmd| -> Vec<OsString> {
        let argv = match c.expand {
            true => expand_env(&c.argv, &|k| std::env::var(k).ok()),
            false => c.argv.clone(),
        };
        argv.into_iter().map(OsString::from).collect()
    };
    let last = cmds.len() - 1;
    for (i, c) in cmds.iter().enumerate() {
        let argv = argv_of(c);
        if mode == Mode::Exec && i == last {
            let e = sys::exec(c.path.as_ref(), &argv);
            eprintln!("tend: cannot run {}: {e}", c.path);
            return Exit::exec_failure(&e).shell_code();
        }
        let exit = match sys::run_and_wait(c.path.as_ref(), &argv) {
            Ok(status) => Exit::from_wait_status(status).unwrap_or(Exit::Code(1)),
            Err(e) => {
                eprintln!("tend: cannot run {}: {e}", c.path);
                Exit::exec_failure(&e)
            }
        };
        if exit.success() || c.ignore_failure {
            continue;
        }
        eprintln!("tend: {}: {exit}", c.path);
        return match mode {
            Mode::Post => 1,
            Mode::Exec | Mode::All => exit.shell_code(),
        };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(path: &str, argv: &[&str], ignore: bool, expand: bool) -> Cmd {
        Cmd {
            path: path.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            ignore_failure: ignore,
            expand,
        }
    }

    #[test]
    fn encode_then_decode() {
        let cmds = [
            cmd("/usr/sbin/nginx", &["nginx", "-t", "-q"], false, true),
            cmd("/bin/x", &["x0"], true, false),
            cmd("/bin/e", &[], true, true),
        ];
        for mode in [Mode::Exec, Mode::All, Mode::Post] {
            let enc = encode(mode, &cmds);
            assert_eq!(enc[..2], [program(), FLAG.into()]);
            let mut args: Vec<String> = enc[2..]
                .iter()
                .map(|a| a.to_string_lossy().into())
                .collect();
            let (m, got, rest) = decode(&args).unwrap();
            assert_eq!((m, got.as_slice(), rest.len()), (mode, &cmds[..], 0));
            args.extend(["1".to_string(), "0".into()]);
            assert_eq!(decode(&args).unwrap().2, ["1", "0"]);
        }
        for bad in [
            &[][..],
            &["exec"],
            &["nope", "1", "c", "/x", "0"],
            &["all", "0"],
            &["all", "1", "c", "/x", "2", "a"],
            &["all", "1", "x", "/x", "0"],
            &["all", "2", "c", "/x", "0"],
        ] {
            let args: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(decode(&args).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn stop_post_environment() {
        let got = post_env("0", "0");
        assert_eq!(got[0].1, "success");
        assert_eq!((got[1].1.as_str(), got[2].1.as_str()), ("exited", "0"));
        assert_eq!(post_env("3", "0")[0].1, "exit-code");
        let got = post_env("256", "15");
        assert_eq!(got[0].1, "signal");
        assert_eq!((got[1].1.as_str(), got[2].1.as_str()), ("killed", "TERM"));
    }
}
