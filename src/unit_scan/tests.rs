//! The mapping of units onto services, directive by directive.

use super::*;
use crate::config::Restart;
use crate::spec::{MakeDir, Readiness};
use crate::unit_exec::{self, Mode};
use crate::unit_map::*;
use std::ffi::OsString;

#[test]
fn dependency_names() {
    assert_eq!(dep_service("db.service"), Some("db"));
    assert_eq!(dep_service("getty@tty1.service"), Some("getty@tty1"));
    assert_eq!(dep_service("network.target"), None);
    assert_eq!(dep_service("dbus.socket"), None);
    assert_eq!(dep_service("db"), Some("db"));
}

/// Maps a literal unit (no User=, no files, so no I/O).
fn map(text: &str) -> (Result<ServiceSpec, Vec<String>>, Vec<String>) {
    let parsed = vec![("/s/a.service".to_string(), parse::parse(text).unwrap())];
    let layered = parse::layer(&parsed, &common::kind);
    let u = service::service(&layered, &SpecContext::system("a.service")).unwrap();
    let grace = Duration::from_secs(5);
    let spec = to_spec(
        &u,
        &layered,
        "a",
        Path::new("/s/a.service"),
        grace,
        &mut Fnv::new(),
    );
    let mut ignored = u.unsupported.clone();
    noted(&u, &layered, &mut ignored);
    (spec, ignored)
}

#[test]
fn mapping() {
    let (s, ignored) = map("[Service]\nType=notify\nEnvironment=X=1 \"Y=a b\"\n\
         ExecStart=redis $Y ${X}x $$HOME\nRestart=on-abnormal\nRestartSec=2\n\
         ExecReload=/bin/kill -USR1 $MAINPID\nProtectSystem=full\nUMask=007\n\
         RuntimeDirectory=r/s\nRuntimeDirectoryMode=0700\n");
    let s = s.unwrap();
    assert_eq!(s.limits().umask, Some(0o007));
    let u = s.unit.as_deref().unwrap();
    assert_eq!((u.kind, u.description.as_str()), ("notify", ""));
    let argv: Vec<String> = s.argv.iter().map(|a| a.to_string_lossy().into()).collect();
    assert_eq!(argv[1..], ["a", "b", "1x", "$HOME"]);
    assert_eq!(s.readiness, Readiness::Notify);
    assert_eq!(s.cwd(), Path::new("/"));
    assert_eq!(s.policy.restart, Restart::OnFailure);
    assert_eq!(s.policy.delay, Duration::from_secs(2));
    assert_eq!(s.policy.delay_max, Duration::from_secs(2));
    assert_eq!(s.policy.grace, Duration::from_secs(5));
    assert_eq!(s.policy.reload_signal, libc::SIGUSR1);
    assert_eq!(s.policy.start_limit, Some((5, Duration::from_secs(10))));
    assert_eq!(
        u.dirs,
        [MakeDir {
            path: "/run/r/s".into(),
            mode: 0o700
        }]
    );
    assert!(s
        .env
        .contains(&("RUNTIME_DIRECTORY".into(), Some("/run/r/s".into()))));
    assert_eq!(ignored, ["ProtectSystem"]);

    let (s, _) = map("[Service]\nExecStart=/x\nTimeoutStopSec=0\nRestart=on-success\n");
    let s = s.unwrap();
    assert_eq!(s.policy.grace, NO_KILL);
    assert_eq!(
        s.policy.unit.restart_when,
        Some(crate::state::RestartWhen::OnSuccess)
    );
    assert_eq!(s.readiness, Readiness::None);
    let (s, _) =
        map("[Service]\nExecStart=/x\nTimeoutSec=7\nRestartSteps=3\nRestartMaxDelaySec=1min\n");
    let s = s.unwrap();
    assert_eq!(s.policy.grace, Duration::from_secs(7));
    assert_eq!(s.policy.delay_max, Duration::from_secs(60));

    let (e, _) = map("[Service]\nType=forking\nExecStart=/x\n");
    assert_eq!(
        e.unwrap_err(),
        ["/s/a.service:2: Type=forking: needs PIDFile= (tend cannot guess the main process)"]
    );
    let (s, _) = map("[Service]\nType=forking\nPIDFile=/run/x.pid\nExecStart=/x\n");
    assert_eq!(s.unwrap().pid_file, Some(PathBuf::from("/run/x.pid")));
}

/// `*ExitStatus=` become the policy's unit rules (with systemd's clean
/// signals, but for a oneshot); none is noted any more.
#[test]
fn exit_statuses_map_onto_the_policy() {
    use crate::state::Exit::{Code, Signal};
    let (s, ignored) = map("[Service]\nExecStart=/x\nSuccessExitStatus=75 SIGUSR1\n\
         RestartPreventExitStatus=TEMPFAIL 3\nRestartForceExitStatus=SIGABRT\n");
    let u = s.unwrap().policy.unit;
    let (hup, int, term, pipe) = (libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGPIPE);
    let clean = [Signal(hup), Signal(int), Signal(term), Signal(pipe)];
    assert_eq!(u.success[..2], [Code(75), Signal(libc::SIGUSR1)]);
    assert_eq!(u.success[2..], clean);
    assert_eq!(u.prevent, [Code(75), Code(3)]);
    assert_eq!(u.force, [Signal(libc::SIGABRT)]);
    assert!(ignored.is_empty(), "{ignored:?}");
    let (s, _) = map("[Service]\nType=oneshot\nExecStart=/x\n");
    assert!(s.unwrap().policy.unit.success.is_empty());
    let (s, _) = map("[Service]\nExecStart=/x\n");
    assert_eq!(s.unwrap().policy.unit.success, clean);
}

/// `StandardOutput=`, `StandardError=`: files (stderr's `inherit`, the
/// default, follows stdout), `/dev/null`, or tend's output.
#[test]
fn standard_output_and_error_map_onto_files() {
    use crate::spec::OutFile;
    let f = |p: &str, append, truncate| {
        let path = PathBuf::from(p);
        Some(OutFile {
            path,
            append,
            truncate,
        })
    };
    let table = [
        ("", [None, None]),
        (
            "StandardOutput=journal\nStandardError=journal\n",
            [None, None],
        ),
        ("StandardOutput=inherit\n", [None, None]),
        (
            "StandardOutput=null\n",
            [f("/dev/null", false, false), f("/dev/null", false, false)],
        ),
        (
            "StandardOutput=file:/l/o\n",
            [f("/l/o", false, false), f("/l/o", false, false)],
        ),
        (
            "StandardOutput=append:/l/o\nStandardError=truncate:/l/e\n",
            [f("/l/o", true, false), f("/l/e", false, true)],
        ),
        (
            "StandardOutput=truncate:/l/o\nStandardError=journal\n",
            [f("/l/o", false, true), None],
        ),
        ("StandardError=null\n", [None, f("/dev/null", false, false)]),
    ];
    for (lines, want) in table {
        let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
        assert_eq!(s.unwrap().unit.unwrap().output, want, "{lines}");
        assert!(ignored.is_empty(), "{lines}: {ignored:?}");
    }
    let (s, ignored) = map("[Service]\nExecStart=/x\nStandardOutput=kmsg\n");
    assert_eq!(s.unwrap().unit.unwrap().output, [None, None]);
    assert_eq!(ignored, ["StandardOutput=kmsg"]);
}

#[test]
fn kill_mode_maps_onto_the_policy() {
    use crate::state::KillMode;
    let table = [
        ("", KillMode::Group),
        ("KillMode=control-group\n", KillMode::Group),
        ("KillMode=mixed\n", KillMode::Mixed),
        ("KillMode=process\n", KillMode::Process),
        ("KillMode=none\n", KillMode::None),
    ];
    for (line, want) in table {
        let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{line}"));
        assert_eq!(s.unwrap().policy.unit.kill_mode, want, "{line}");
        assert!(ignored.is_empty(), "{line}: {ignored:?}");
    }
}

/// TimeoutStartSec= (or TimeoutSec=) replaces `--ready-timeout`, which
/// bounds a unit's readiness too; none for a oneshot unless set.
#[test]
fn timeout_start_maps_onto_the_policy() {
    let year = Some(NO_KILL);
    let table = [
        ("", None, true),
        ("TimeoutStartSec=7\n", Some(Duration::from_secs(7)), true),
        ("TimeoutSec=2min\n", Some(Duration::from_secs(120)), true),
        ("TimeoutStartSec=infinity\n", year, true),
        ("TimeoutStartSec=0\n", year, true),
        ("Type=oneshot\n", None, false),
        (
            "Type=oneshot\nTimeoutStartSec=3\n",
            Some(Duration::from_secs(3)),
            true,
        ),
    ];
    for (lines, timeout, bound) in table {
        let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
        let u = s.unwrap().policy.unit;
        assert_eq!(
            (u.start_timeout, u.ready_bound),
            (timeout, bound),
            "{lines}"
        );
        assert!(ignored.is_empty(), "{lines}: {ignored:?}");
    }
}

/// ExecStartPost=: a helper run once ready; a oneshot's run after its
/// ExecStart= lines by the runner.
#[test]
fn exec_start_post_maps_onto_a_helper() {
    let (s, ignored) = map("[Service]\nExecStart=/x\nExecStartPost=-/bin/p 1\n");
    let s = s.unwrap();
    assert!(
        s.policy.unit.start_post && ignored.is_empty(),
        "{ignored:?}"
    );
    let argv: Vec<String> = (s.unit.unwrap().start_post.unwrap().argv.iter())
        .map(|a| a.to_string_lossy().into())
        .collect();
    let (mode, cmds, _) = unit_exec::decode(&argv[2..]).unwrap();
    assert_eq!((mode, cmds[0].path.as_str()), (Mode::All, "/bin/p"));
    assert!(cmds[0].ignore_failure);
    assert_eq!(s.argv, [OsString::from("/x")]);

    let (s, _) = map("[Service]\nType=oneshot\nExecStart=/x\nExecStartPost=/y\n");
    let s = s.unwrap();
    assert!(s.unit.as_ref().unwrap().start_post.is_none() && !s.policy.unit.start_post);
    let argv: Vec<String> = s.argv.iter().map(|a| a.to_string_lossy().into()).collect();
    let (mode, cmds, _) = unit_exec::decode(&argv[2..]).unwrap();
    let paths: Vec<&str> = cmds.iter().map(|c| c.path.as_str()).collect();
    assert_eq!((mode, paths), (Mode::Exec, vec!["/x", "/y"]));
}

/// NotifyAccess=, with systemd's default (main for notify types and a
/// watchdog, else none); exec is taken as all, and noted.
#[test]
fn notify_access_maps_onto_the_policy() {
    use crate::state::NotifyAccess::*;
    let table = [
        ("Type=notify\n", Main, &[][..]),
        ("Type=notify\nNotifyAccess=all\n", All, &[]),
        ("Type=notify\nNotifyAccess=none\n", None, &[]),
        (
            "Type=notify\nNotifyAccess=exec\n",
            All,
            &["NotifyAccess=exec (as all)"],
        ),
        ("", None, &[]),
        ("NotifyAccess=main\n", Main, &[]),
    ];
    for (lines, want, notes) in table {
        let (s, ignored) = map(&format!("[Service]\nExecStart=/x\n{lines}"));
        assert_eq!(s.unwrap().policy.unit.notify_access, want, "{lines}");
        assert_eq!(ignored, notes, "{lines}");
    }
}

/// Debian's nginx.service: ExecStartPre= runs through tend's runner,
/// which then becomes ExecStart=; ExecStop= and ExecReload= are
/// helpers; KillMode=mixed is carried out, nothing is noted.
#[test]
fn command_lists_go_through_the_runner() {
    let (s, ignored) = map("[Service]\nType=forking\nPIDFile=/run/nginx.pid\n\
         ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'\n\
         ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'\n\
         ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload\n\
         ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid\n\
         ExecStopPost=/bin/echo $SERVICE_RESULT\nTimeoutStopSec=5\nKillMode=mixed\n");
    let s = s.unwrap();
    let args = |v: &[OsString]| -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    };
    let argv = args(&s.argv);
    assert_eq!(s.argv[..2], [unit_exec::program(), unit_exec::FLAG.into()]);
    let (mode, cmds, rest) = unit_exec::decode(&argv[2..]).unwrap();
    assert_eq!((mode, cmds.len(), rest.len()), (Mode::Exec, 2, 0));
    assert_eq!(cmds[0].argv[1..3], ["-t", "-q"]);
    assert_eq!(cmds[1].argv[1..], ["-g", "daemon on; master_process on;"]);
    assert!(cmds[1].expand && !cmds[1].ignore_failure);
    let u = s.unit.as_deref().unwrap();
    let stop = args(&u.stop_command.as_ref().unwrap().argv);
    let (mode, cmds, _) = unit_exec::decode(&stop[2..]).unwrap();
    assert_eq!(mode, Mode::All);
    assert_eq!(cmds[0].path, "/sbin/start-stop-daemon");
    assert!(cmds[0].ignore_failure);
    let reload = args(&u.reload_command.as_ref().unwrap().argv);
    assert_eq!(reload.last().map(String::as_str), Some("reload"));
    let post = args(s.finish.as_ref().unwrap());
    let (mode, cmds, _) = unit_exec::decode(&post[2..]).unwrap();
    assert_eq!(
        (mode, cmds[0].argv[1].as_str()),
        (Mode::Post, "$SERVICE_RESULT")
    );
    assert_eq!(s.policy.finish_timeout, Some(Duration::from_secs(5)));
    assert!(s.policy().stop_command);
    assert_eq!(s.policy.unit.kill_mode, crate::state::KillMode::Mixed);
    assert!(ignored.is_empty(), "{ignored:?}");

    // The usual `kill -HUP $MAINPID` stays a signal, with no runner.
    let (s, _) = map("[Service]\nExecStart=/x\nExecReload=/bin/kill -HUP $MAINPID\n");
    let s = s.unwrap();
    assert_eq!((&s.unit.unwrap().reload_command, s.argv.len()), (&None, 1));
}

#[test]
fn socket_units_become_listen_entries() {
    let text = "[Socket]\nListenStream=80\nListenStream=127.0.0.1:8080\n\
         ListenDatagram=/run/a.dgram\nListenSequentialPacket=@seq\n\
         FileDescriptorName=web\nSocketMode=0600\nBacklog=16\nNoDelay=yes\n";
    let parsed = vec![("/s/a.socket".to_string(), parse::parse(text).unwrap())];
    let layered = parse::layer(&parsed, &common::kind);
    let sock = socket::socket(&layered, &SpecContext::system("a.socket")).unwrap();
    let mut spec = map("[Service]\nExecStart=/x\n").0.unwrap();
    let mut ignored = Vec::new();
    add_socket(&sock, &mut spec, &mut ignored).unwrap();
    assert!(spec.on_demand);
    let got: Vec<_> = (spec.listen.iter())
        .map(|l| {
            (
                l.addr.to_string(),
                l.kind,
                l.name.as_str(),
                l.mode,
                l.backlog,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("tcp:[::]:80".into(), SockKind::Stream, "web", 0o600, 16),
            (
                "tcp:127.0.0.1:8080".into(),
                SockKind::Stream,
                "web",
                0o600,
                16
            ),
            (
                "unix:/run/a.dgram".into(),
                SockKind::Datagram,
                "web",
                0o600,
                16
            ),
            ("unix:@seq".into(), SockKind::SeqPacket, "web", 0o600, 16),
        ]
    );
    assert_eq!(ignored, ["NoDelay (in a.socket)"]);
}

#[test]
fn group_ids() {
    let group = "root:x:0:\nredis:x:106:\n";
    assert_eq!(group_id("redis", group), Some(106));
    assert_eq!(group_id("42", group), Some(42));
    assert_eq!(group_id("nope", group), None);
}

#[test]
fn description_and_type_are_kept_for_status_and_bounded() {
    let (s, _) = map("[Unit]\nDescription=Key-value store\n[Service]\nType=exec\nExecStart=/x\n");
    let u = s.unwrap().unit.unwrap();
    assert_eq!(
        (u.kind, u.description.as_str()),
        ("exec", "Key-value store")
    );
    let long = "é".repeat(1000);
    let (s, _) = map(&format!(
        "[Unit]\nDescription=x{long}\n[Service]\nExecStart=/x\n"
    ));
    let d = s.unwrap().unit.unwrap().description;
    assert!(
        d.len() <= 259 && d.starts_with("xé") && d.ends_with("é..."),
        "{d}"
    );
}
