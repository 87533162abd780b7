//! What the state machine is given: how a process ended (`Exit`) and a
//! service's restart and stop rules (`Policy`).

use crate::config::Restart;
use std::time::Duration;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// What a wait(2) status says: the exit code, or the signal that killed
    /// the child (any, 1 to 64: nix's waitpid failed with EINVAL on the
    /// real-time ones after the kernel had reaped the child, and the exit
    /// was lost). None for a stop or continue report.
    pub fn from_wait_status(status: i32) -> Option<Exit> {
        if libc::WIFEXITED(status) {
            Some(Exit::Code(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(Exit::Signal(libc::WTERMSIG(status)))
        } else {
            None
        }
    }

    /// A program that could not be executed: 127 when it was not found,
    /// 126 otherwise (as a shell and tini report it).
    pub fn exec_failure(err: &std::io::Error) -> Exit {
        match err.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Exit::Code(127),
            _ => Exit::Code(126),
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The first two arguments of `finish`: exit code (256 when killed by a
    /// signal, as s6) and signal number (0 when none).
    pub fn finish_args(self) -> (i32, i32) {
        match self {
            Exit::Code(c) => (c, 0),
            Exit::Signal(s) => (256, s),
        }
    }

    /// Shell convention: the code, or 128+N when killed by signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exited with status {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", crate::config::signal_name(s)),
        }
    }
}

/// What a service's files say about how to run it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub restart: Restart,
    pub delay: Duration,
    pub delay_max: Duration,
    pub stop_signal: i32,
    pub grace: Duration,
    pub has_finish: bool,
    /// The service says when it is ready (notification-fd, sd_notify, a
    /// check); without that it counts as ready once up.
    pub has_readiness: bool,
    /// `None`: no limit (`timeout-finish` 0).
    pub finish_timeout: Option<Duration>,
    /// `start-limit = "N/DUR"`: the (N+1)th start within DUR fails the
    /// service instead.
    pub start_limit: Option<(u32, Duration)>,
    /// `pid-file`: `run` daemonizes; the daemon is the main process.
    pub pid_file: bool,
    /// A stop command (a unit's `ExecStop=`) runs instead of sending the
    /// stop signal to a main process that is up; the signal follows at its
    /// exit if the main process is still there, SIGKILL at the grace.
    pub stop_command: bool,
    /// A unit's `Type=oneshot`: ready once `run` exited 0, never restarted
    /// after that; with `remain_after_exit` it then stays up.
    pub oneshot: bool,
    pub remain_after_exit: bool,
    /// With `pid_file`: the daemon must be found this long after the start
    /// (`--ready-timeout`), or the start failed.
    pub start_timeout: Duration,
    /// What only a unit sets; the defaults are tend's own behaviour.
    pub unit: Rules,
}

/// A unit's rules (SPEC §8) that a service dir has no word for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitRules {
    /// `SuccessExitStatus=`: exits that count as clean besides code 0.
    pub success: Vec<Exit>,
    /// `RestartPreventExitStatus=`: never restarted after these.
    pub prevent: Vec<Exit>,
    /// `RestartForceExitStatus=`: restarted after these, whatever
    /// `restart` says (`prevent` wins).
    pub force: Vec<Exit>,
    /// `KillMode=`: who gets the stop signal and the SIGKILL.
    pub kill_mode: KillMode,
    /// `TimeoutStartSec=`: replaces `start_timeout` when set.
    pub start_timeout: Option<Duration>,
    /// The start timeout also bounds readiness (and a oneshot's run): a
    /// unit not ready by then has failed to start, as in systemd.
    pub ready_bound: bool,
    /// `ExecStartPost=`: run once the unit is up and ready, which it is
    /// only once that exited 0.
    pub start_post: bool,
    /// `NotifyAccess=`: whose sd_notify datagrams count.
    pub notify_access: NotifyAccess,
    /// `Restart=` on-success, on-abnormal, on-abort, on-watchdog: which
    /// ends restart, in place of `restart` (None: `restart` decides).
    pub restart_when: Option<RestartWhen>,
    /// `PartOf=`: the services whose stop or restart (by `tend ctl` or
    /// systemctl) this one follows. The supervisor's, not the state
    /// machine's: it only rides along with the other rules.
    pub part_of: Vec<String>,
    /// `Requires=` and `BindsTo=`: the services whose stop or restart this
    /// one follows as it follows `part_of`'s, and whose automatic restart
    /// (`Restart=`) restarts it too, as systemd's does. The supervisor's,
    /// like `part_of`.
    pub requires: Vec<String>,
}

/// A service dir's: none of a unit's rules.
static NO_RULES: UnitRules = UnitRules {
    success: Vec::new(),
    prevent: Vec::new(),
    force: Vec::new(),
    kill_mode: KillMode::Group,
    start_timeout: None,
    ready_bound: false,
    start_post: false,
    notify_access: NotifyAccess::All,
    restart_when: None,
    part_of: Vec::new(),
    requires: Vec::new(),
};

/// `UnitRules` behind a pointer that is null for a service dir, which
/// reads `NO_RULES`: a thousand service dirs do not carry a
/// thousand copies of rules they never set.
#[derive(Debug, Clone, Default)]
pub struct Rules(Option<Box<UnitRules>>);

impl Rules {
    /// Set from a unit (or by a test), not a service dir's defaults.
    pub fn is_unit(&self) -> bool {
        self.0.is_some()
    }
}

impl std::ops::Deref for Rules {
    type Target = UnitRules;
    fn deref(&self) -> &UnitRules {
        self.0.as_deref().unwrap_or(&NO_RULES)
    }
}

impl std::ops::DerefMut for Rules {
    fn deref_mut(&mut self) -> &mut UnitRules {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<UnitRules> for Rules {
    fn from(r: UnitRules) -> Rules {
        Rules(Some(Box::new(r)))
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Rules) -> bool {
        **self == **other
    }
}

impl Eq for Rules {}

/// systemd's finer `Restart=` values, by how the service ended: a clean
/// exit (code 0, `SuccessExitStatus=`, or a clean signal), an unclean
/// signal, or a start that timed out. A watchdog timeout restarts with
/// on-abnormal and on-watchdog only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartWhen {
    OnSuccess,
    /// Unclean signal or timeout.
    OnAbnormal,
    /// Unclean signal only.
    OnAbort,
    /// Only the watchdog's own restart.
    OnWatchdog,
}

/// `All`: any process of the service (tend's own check); `Main`: the
/// main process only; `None`: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NotifyAccess {
    #[default]
    All,
    Main,
    None,
}

/// Who a stop signals: `Group` the process group (tend's own way, a
/// unit's `control-group`); `Mixed` the main process, SIGKILL the group;
/// `Process` only the main process, SIGKILL too; `None` the main process,
/// never SIGKILL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KillMode {
    #[default]
    Group,
    Mixed,
    Process,
    None,
}

/// How often a pid file that does not name the daemon yet is read again.
pub const PID_FILE_RETRY: Duration = Duration::from_millis(50);

impl Default for Policy {
    fn default() -> Self {
        Policy {
            restart: Restart::Always,
            delay: Duration::from_millis(100),
            delay_max: Duration::from_secs(30),
            stop_signal: libc::SIGTERM,
            grace: Duration::from_secs(5),
            has_finish: false,
            has_readiness: false,
            finish_timeout: Some(Duration::from_millis(5000)),
            start_limit: None,
            pid_file: false,
            stop_command: false,
            oneshot: false,
            remain_after_exit: false,
            start_timeout: Duration::from_secs(30),
            unit: Rules::default(),
        }
    }
}

#[cfg(test)]
#[test]
fn a_service_dir_reads_the_default_rules() {
    assert_eq!(*Rules::default(), UnitRules::default());
    assert_eq!(NO_RULES, UnitRules::default());
    let mut r = Rules::default();
    let rules: &mut UnitRules = &mut r;
    rules.start_post = true;
    assert!(r.start_post && r != Rules::default());
}
