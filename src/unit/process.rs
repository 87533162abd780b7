//! The systemd.exec(5) settings of a `.service` unit that SPEC §8
//! supports: user and groups, working directory, environment, umask,
//! nice, rlimits, the managed directories, standard output and error.
//! Typed here; carried out by the wiring (it creates the directories,
//! reads the environment files, opens the output files).

use super::common::{Applied, Build};
use super::exec;
use super::parse::Directive;
use super::value::{self, Rlimit};

/// `StandardOutput=`/`StandardError=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Journal,
    /// stdout: a copy of stdin (/dev/null for a service); stderr: a copy
    /// of stdout.
    Inherit,
    Null,
    File(String),
    Append(String),
    Truncate(String),
}

/// `WorkingDirectory=`: `dir` is `None` for `~` (the home of `User=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingDirectory {
    pub dir: Option<String>,
    /// `-`: a missing directory is not an error.
    pub missing_ok: bool,
}

/// `EnvironmentFile=`, with `-`: a missing file is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentFile {
    pub path: String,
    pub missing_ok: bool,
}

/// Which of `RuntimeDirectory=` .. `ConfigurationDirectory=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirRoot {
    /// Under /run.
    Runtime,
    /// /var/lib.
    State,
    /// /var/cache.
    Cache,
    /// /var/log.
    Logs,
    /// /etc.
    Configuration,
}

const DIRS: [(&str, DirRoot); 5] = [
    ("Runtime", DirRoot::Runtime),
    ("State", DirRoot::State),
    ("Cache", DirRoot::Cache),
    ("Logs", DirRoot::Logs),
    ("Configuration", DirRoot::Configuration),
];

/// A directory to create, owned by `User=`/`Group=`, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedDir {
    pub root: DirRoot,
    pub path: String,
    pub mode: u32,
}

/// The process settings of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Vec<String>,
    pub working_directory: Option<WorkingDirectory>,
    /// `Environment=` in order (a later one of the same name wins).
    pub environment: Vec<(String, String)>,
    pub environment_files: Vec<EnvironmentFile>,
    pub unset_environment: Vec<String>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    /// At most one per resource: a later `Limit*=` replaces it.
    pub limits: Vec<Rlimit>,
    pub directories: Vec<ManagedDir>,
    pub stdout: Output,
    pub stderr: Output,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            working_directory: None,
            environment: Vec::new(),
            environment_files: Vec::new(),
            unset_environment: Vec::new(),
            umask: None,
            nice: None,
            limits: Vec::new(),
            directories: Vec::new(),
            stdout: Output::Journal,
            stderr: Output::Inherit,
        }
    }
}

/// A `Process` while its directives are read: the directories wait for
/// their `*DirectoryMode=`, which may come later.
#[derive(Default)]
pub(crate) struct ProcessBuild {
    process: Process,
    dirs: Vec<(DirRoot, String)>,
    dir_modes: [Option<u32>; 5],
}

impl ProcessBuild {
    /// The directory modes applied (0755 unless set).
    pub fn finish(mut self) -> Process {
        for (root, path) in self.dirs {
            let i = DIRS.iter().position(|(_, r)| *r == root).unwrap_or(0);
            let mode = self.dir_modes[i].unwrap_or(0o755);
            self.process
                .directories
                .push(ManagedDir { root, path, mode });
        }
        self.process
    }

    /// One `[Service]` directive, if it is a process setting.
    pub fn apply(&mut self, b: &mut Build, d: &Directive) -> Applied {
        let (s, v) = (&mut self.process, d.value.as_str());
        match d.key.as_str() {
            k if k.starts_with("Limit") && value::rlimit_resource(k).is_some() => {
                s.limits
                    .retain(|l| Some(l.resource) != value::rlimit_resource(k));
                s.limits.push(value::parse_rlimit(k, v)?);
            }
            "User" => s.user = Some(b.expand(v)?),
            "Group" => s.group = Some(b.expand(v)?),
            "SupplementaryGroups" => s.supplementary_groups.extend(b.words(v)?),
            "WorkingDirectory" => s.working_directory = Some(working_directory(&b.expand(v)?)?),
            "Environment" => {
                for w in b.words(v)? {
                    match w.split_once('=').filter(|(n, _)| exec::valid_env_name(n)) {
                        Some((n, val)) => s.environment.push((n.into(), val.into())),
                        None => {
                            let what = format!("invalid environment assignment {w:?}, ignored");
                            b.warnings.push(b.at(d, &what));
                        }
                    }
                }
            }
            "EnvironmentFile" => s.environment_files.push(environment_file(&b.expand(v)?)?),
            "UnsetEnvironment" => s.unset_environment.extend(b.words(v)?),
            "UMask" => s.umask = Some(value::parse_mode(v, 0o777)?),
            "Nice" => s.nice = Some(value::parse_nice(v)?),
            "StandardOutput" => s.stdout = output(b, &d.key, v)?,
            "StandardError" => s.stderr = output(b, &d.key, v)?,
            "StandardInput" if v == "null" => {}
            "StandardInput" => b.unsupported(&format!("StandardInput={v}")),
            k => return self.apply_dirs(b, k, v),
        }
        Ok(true)
    }

    /// `RuntimeDirectory=` .. `ConfigurationDirectory=` and their `*Mode=`.
    fn apply_dirs(&mut self, b: &mut Build, key: &str, v: &str) -> Applied {
        for (i, (name, root)) in DIRS.iter().enumerate() {
            let Some(rest) = key.strip_prefix(name) else {
                continue;
            };
            match rest {
                "Directory" => {
                    for w in b.words(v)? {
                        self.dirs.push((*root, managed_dir_path(b, key, &w)?));
                    }
                }
                "DirectoryMode" => self.dir_modes[i] = Some(value::parse_mode(v, 0o7777)?),
                _ => return Ok(false),
            }
            return Ok(true);
        }
        Ok(false)
    }
}

/// A relative path without `..`; of `a:b` (a symlink b to a, systemd
/// 250) only `a` is kept, and the rest is reported.
fn managed_dir_path(b: &mut Build, key: &str, w: &str) -> Result<String, String> {
    let (path, link) = w.split_once(':').unwrap_or((w, ""));
    if !link.is_empty() {
        b.unsupported(&format!("{key}={w}"));
    }
    let path = path.trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!(
            "{path:?}: expected a relative path without . or .."
        ));
    }
    Ok(path.to_string())
}

/// `journal`, `inherit`, `null`, `file:PATH`, `append:PATH`,
/// `truncate:PATH`; the other
/// systemd targets (kmsg, tty, socket, ...) go to the journal, that is
/// tend's output, and are reported.
fn output(b: &mut Build, key: &str, v: &str) -> Result<Output, String> {
    let path = |p: &str| match p.starts_with('/') {
        true => b.expand(p),
        false => Err(format!("{p:?}: expected an absolute path")),
    };
    if let Some(p) = v.strip_prefix("file:") {
        return Ok(Output::File(path(p)?));
    }
    if let Some(p) = v.strip_prefix("append:") {
        return Ok(Output::Append(path(p)?));
    }
    if let Some(p) = v.strip_prefix("truncate:") {
        return Ok(Output::Truncate(path(p)?));
    }
    Ok(match v {
        "journal" => Output::Journal,
        "inherit" => Output::Inherit,
        "null" => Output::Null,
        _ => {
            b.unsupported(&format!("{key}={v}"));
            Output::Journal
        }
    })
}

fn working_directory(v: &str) -> Result<WorkingDirectory, String> {
    let (missing_ok, dir) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let dir = match dir {
        "~" => None,
        d if d.starts_with('/') => Some(d.to_string()),
        _ => return Err("expected an absolute path or ~".into()),
    };
    Ok(WorkingDirectory { dir, missing_ok })
}

fn environment_file(v: &str) -> Result<EnvironmentFile, String> {
    let (missing_ok, path) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    match path.starts_with('/') {
        true => Ok(EnvironmentFile {
            path: path.to_string(),
            missing_ok,
        }),
        false => Err("expected an absolute path".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_directories() {
        let w = |v| working_directory(v).map(|w| (w.dir, w.missing_ok));
        assert_eq!(w("/srv"), Ok((Some("/srv".into()), false)));
        assert_eq!(w("-/srv"), Ok((Some("/srv".into()), true)));
        assert_eq!(w("~"), Ok((None, false)));
        assert!(w("srv").is_err());
        assert!(w("-").is_err());
    }

    #[test]
    fn environment_files() {
        assert_eq!(environment_file("-/etc/x").map(|e| e.missing_ok), Ok(true));
        assert!(environment_file("x").is_err());
    }
}
