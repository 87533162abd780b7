//! The binary invoked as `systemctl` (SPEC §8): a client for the scripts
//! and habits that call systemctl. Unit commands become control requests
//! (unit names with or without `.service`); `enable`/`disable` link or
//! unlink a unit from the systemd unit dirs into the services dir, with or
//! without a running tend (a Dockerfile `RUN`).
//!
//! Exit codes as systemctl's: 0 ok; `is-active` and `status` 3 when a unit
//! is not active (4 for `status` of an unknown one); `is-failed` 1 when
//! none failed; 1 for every other failure, usage errors included.

use crate::ctl;
use crate::proto::Request;
use std::fs;
use std::path::{Path, PathBuf};

/// Where `enable` looks for a unit, in systemd's order of precedence.
const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

const USAGE: &str = "usage: systemctl [-q] [--now] [-p PROP] COMMAND [UNIT...]
commands (mapped onto tend ctl):
  start stop restart try-restart reload reload-or-restart UNIT...
  status [UNIT...]  list-units  is-active UNIT...  is-failed UNIT...
  show [-p MainPID,ActiveState,SubState,Id] UNIT...  daemon-reload
  enable [--now] UNIT...  disable [--now] UNIT...  (link into $TEND_SERVICES)";

pub fn run(args: &[String]) -> i32 {
    let (mut quiet, mut now) = (false, false);
    let mut props: Vec<String> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let prop = match a.as_str() {
            "-q" | "--quiet" => {
                quiet = true;
                continue;
            }
            "--now" => {
                now = true;
                continue;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "-p" | "--property" => match it.next() {
                Some(p) => p.as_str(),
                None => return usage("-p needs a property name"),
            },
            w => match w.strip_prefix("--property=") {
                Some(p) => p,
                // --no-pager, --no-block, --system, ...: nothing to do.
                None if w.starts_with('-') => continue,
                None => {
                    words.push(w);
                    continue;
                }
            },
        };
        props.extend(prop.split(',').map(str::to_string));
    }
    let Some((verb, units)) = words.split_first() else {
        return usage("no command given");
    };
    let names: Vec<String> = units
        .iter()
        .map(|u| u.strip_suffix(".service").unwrap_or(u).to_string())
        .collect();
    let needs_names = !matches!(*verb, "status" | "list-units" | "daemon-reload");
    if needs_names && names.is_empty() {
        return usage(&format!("{verb}: name at least one unit"));
    }
    let socket = ctl::default_socket();
    let send = |req: Request| match ctl::request(&socket, &req) {
        Ok((code, body)) => {
            match code {
                0 => print!("{body}"),
                _ => eprint!("{body}"),
            }
            code
        }
        Err(e) => {
            eprintln!("systemctl: {e}");
            1
        }
    };
    match *verb {
        "start" => send(Request::Up(names)),
        "stop" => send(Request::Down(names)),
        "restart" => send(Request::Restart(names)),
        "daemon-reload" => send(Request::Reload(Vec::new())),
        // The unit's reload signal (ReloadSignal=, or the one its
        // ExecReload=kill -SIG $MAINPID names; HUP by default).
        "reload" => send(Request::Reload(names)),
        "try-restart" | "reload-or-restart" | "try-reload-or-restart" => {
            let states = match states(&socket, &names) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            let (active, inactive): (Vec<_>, Vec<_>) = names
                .into_iter()
                .zip(states)
                .partition(|(_, (s, _))| active_state(s) == "active");
            let active: Vec<String> = active.into_iter().map(|(n, _)| n).collect();
            let inactive: Vec<String> = inactive.into_iter().map(|(n, _)| n).collect();
            let mut code = 0;
            if !active.is_empty() {
                code = match *verb {
                    "try-restart" => send(Request::Restart(active)),
                    _ => send(Request::Reload(active)),
                };
            }
            if *verb == "reload-or-restart" && !inactive.is_empty() && code == 0 {
                code = send(Request::Restart(inactive));
            }
            code
        }
        "status" | "list-units" => {
            let code = send(Request::Status {
                names: names.clone(),
                json: false,
            });
            match (code, names.is_empty()) {
                (0, false) => match states(&socket, &names) {
                    Ok(s) if s.iter().all(|(s, _)| active_state(s) == "active") => 0,
                    _ => 3,
                },
                (0, true) => 0,
                _ => 4,
            }
        }
        "is-active" | "is-failed" => {
            let states = match states(&socket, &names) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("systemctl: {e}");
                    vec![(String::new(), None); names.len()]
                }
            };
            let shown: Vec<&str> = states.iter().map(|(s, _)| active_state(s)).collect();
            if !quiet {
                for s in &shown {
                    println!("{s}");
                }
            }
            match *verb {
                "is-active" if shown.iter().all(|s| *s == "active") => 0,
                "is-active" => 3,
                _ if shown.contains(&"failed") => 0,
                _ => 1,
            }
        }
        "show" => {
            let states = match states(&socket, &names) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            if props.is_empty() {
                props = ["Id", "MainPID", "ActiveState", "SubState"]
                    .map(String::from)
                    .into();
            }
            for (i, (name, (state, pid))) in names.iter().zip(&states).enumerate() {
                if i > 0 {
                    println!();
                }
                for p in &props {
                    match p.as_str() {
                        "Id" => println!("Id={name}.service"),
                        "MainPID" => println!("MainPID={}", pid.unwrap_or(0)),
                        "ActiveState" => println!("ActiveState={}", active_state(state)),
                        "SubState" => println!("SubState={state}"),
                        _ => {}
                    }
                }
            }
            0
        }
        "enable" | "disable" => {
            let mut code = 0;
            for (unit, name) in units.iter().zip(&names) {
                // A name is joined to the services dir (and to the unit
                // dirs): `../x` or `/x` would link or unlink outside it.
                if !crate::spec::valid_name(name) {
                    eprintln!("systemctl: {unit:?}: bad unit name (allowed: letters, digits, . _ @ -, not first)");
                    code = 1;
                    continue;
                }
                let r = match *verb {
                    "enable" => enable(unit, name),
                    _ => disable(name),
                };
                if let Err(e) = r {
                    eprintln!("systemctl: {e}");
                    code = 1;
                }
            }
            match (code, now) {
                (0, true) => send(Request::Reload(Vec::new())),
                _ => code,
            }
        }
        other => usage(&format!("unknown command {other:?}")),
    }
}

fn usage(msg: &str) -> i32 {
    eprintln!("systemctl: {msg}\n{USAGE}");
    1
}

fn fail(e: &str) -> i32 {
    eprintln!("systemctl: {e}");
    1
}

/// systemd's ActiveState for a tend state.
fn active_state(state: &str) -> &'static str {
    match state {
        "up" | "ready" => "active",
        "starting" | "backoff" => "activating",
        "stopping" | "finishing" => "deactivating",
        "failed" => "failed",
        _ => "inactive",
    }
}

/// (tend state, pid) of each name, from `status`'s table; an unknown name
/// has the empty state.
fn states(socket: &Path, names: &[String]) -> Result<Vec<(String, Option<u32>)>, String> {
    let all = Request::Status {
        names: Vec::new(),
        json: false,
    };
    let (_, table) = ctl::request(socket, &all)?;
    Ok(names
        .iter()
        .map(|n| {
            let row = table.lines().skip(1).find_map(|l| {
                let mut cols = l.split_whitespace();
                (cols.next() == Some(n)).then(|| (cols.next(), cols.next()))
            });
            match row {
                Some((state, pid)) => (
                    state.unwrap_or("").to_string(),
                    pid.and_then(|p| p.parse().ok()),
                ),
                None => (String::new(), None),
            }
        })
        .collect())
}

/// `$TEND_SERVICES`, else tend's default.
fn services_dir() -> PathBuf {
    std::env::var_os("TEND_SERVICES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/tend/services"))
}

/// Links `NAME.service` (or, for an instance, the template
/// `PREFIX@.service`) from the first unit dir that has it.
fn enable(unit: &str, name: &str) -> Result<(), String> {
    let file = format!("{name}.service");
    let link = services_dir().join(&file);
    if fs::symlink_metadata(&link).is_ok() {
        return Ok(());
    }
    let mut candidates = vec![file.clone()];
    if let Some((prefix, _)) = name.split_once('@') {
        candidates.push(format!("{prefix}@.service"));
    }
    let target = candidates
        .iter()
        .flat_map(|c| UNIT_DIRS.iter().map(move |d| Path::new(d).join(c)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "unit file {unit} does not exist in {}",
                UNIT_DIRS.join(", ")
            )
        })?;
    if let Some(dir) = link.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::os::unix::fs::symlink(&target, &link).map_err(|e| format!("{}: {e}", link.display()))?;
    println!(
        "Created symlink {} \u{2192} {}.",
        link.display(),
        target.display()
    );
    Ok(())
}

/// Removes the link `enable` made; a unit file that is not a link is left
/// alone (it was put there by hand).
fn disable(name: &str) -> Result<(), String> {
    let link = services_dir().join(format!("{name}.service"));
    match fs::symlink_metadata(&link) {
        Err(_) => Ok(()),
        Ok(m) if !m.file_type().is_symlink() => Err(format!(
            "{}: not a link, left alone (remove it by hand)",
            link.display()
        )),
        Ok(_) => {
            fs::remove_file(&link).map_err(|e| format!("{}: {e}", link.display()))?;
            println!("Removed \"{}\".", link.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::active_state;

    #[test]
    fn active_states() {
        for (tend, systemd) in [
            ("up", "active"),
            ("ready", "active"),
            ("starting", "activating"),
            ("backoff", "activating"),
            ("stopping", "deactivating"),
            ("failed", "failed"),
            ("down", "inactive"),
            ("", "inactive"),
        ] {
            assert_eq!(active_state(tend), systemd, "{tend}");
        }
    }
}
