use super::*;
use crate::unit::common::kind;
use crate::unit::exec::Privileges;
use crate::unit::parse::{layer, parse, Parsed};
use crate::unit::process::{DirRoot, EnvironmentFile, ManagedDir, Output, WorkingDirectory};

const NGINX: &str = include_str!("testdata/nginx.service");
const REDIS: &str = include_str!("testdata/redis-server.service");

fn build(unit: &str, files: &[(&str, &str)]) -> Result<UnitService, Vec<String>> {
    let parsed: Vec<(String, Parsed)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), parse(t).expect("parses")))
        .collect();
    service(&layer(&parsed, &kind), &SpecContext::system(unit))
}

fn ok(text: &str) -> UnitService {
    build("a.service", &[("a.service", text)]).unwrap_or_else(|e| panic!("{e:?}"))
}

fn err(text: &str) -> Vec<String> {
    build("a.service", &[("a.service", text)]).expect_err("refused")
}

fn argv(c: &[ExecCommand]) -> Vec<Vec<&str>> {
    c.iter()
        .map(|c| c.argv.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn nginx_like_unit() {
    let s = build("nginx.service", &[("nginx.service", NGINX)]).unwrap();
    assert_eq!(s.service_type, ServiceType::Forking);
    assert_eq!(s.pid_file.as_deref(), Some("/run/nginx.pid"));
    assert_eq!(
        s.unit.description.as_deref(),
        Some("A high performance web server (nginx.service)")
    );
    assert_eq!(
        s.unit.after,
        vec![
            "network-online.target",
            "remote-fs.target",
            "nss-lookup.target"
        ]
    );
    assert_eq!(s.unit.wants, vec!["network-online.target"]);
    assert_eq!(
        argv(&s.exec_start),
        vec![vec![
            "/usr/sbin/nginx",
            "-g",
            "daemon on; master_process on;"
        ]]
    );
    assert_eq!(argv(&s.exec_start_pre)[0][1..3], ["-t", "-q"]);
    assert_eq!(argv(&s.exec_reload)[0].last(), Some(&"reload"));
    assert!(s.exec_stop[0].ignore_failure);
    assert_eq!(argv(&s.exec_stop)[0].last(), Some(&"/run/nginx.pid"));
    assert_eq!(s.timeout_stop, Some(Duration::from_secs(5)));
    assert_eq!(s.timeout_start, Some(Duration::from_secs(90)));
    assert_eq!(s.kill_mode, KillMode::Mixed);
    assert_eq!(s.restart, RestartPolicy::No);
    assert_eq!(s.unit.start_limit, Some((5, Duration::from_secs(10))));
    assert_eq!(s.install.wanted_by, vec!["multi-user.target"]);
    assert_eq!(
        s.unsupported,
        vec!["Documentation", "ConditionFileIsExecutable"]
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn redis_like_unit_lists_its_sandboxing() {
    let s = build("redis-server.service", &[("redis-server.service", REDIS)]).unwrap();
    assert_eq!(s.service_type, ServiceType::Notify);
    assert_eq!(s.notify_access, NotifyAccess::Main);
    assert_eq!(s.timeout_stop, None);
    assert_eq!(s.restart, RestartPolicy::Always);
    assert_eq!(
        (s.process.user.as_deref(), s.process.group.as_deref()),
        (Some("redis"), Some("redis"))
    );
    assert_eq!(s.process.umask, Some(0o007));
    assert_eq!(
        s.process.directories,
        vec![ManagedDir {
            root: DirRoot::Runtime,
            path: "redis".into(),
            mode: 0o2755
        }]
    );
    assert_eq!(s.process.limits.len(), 1);
    assert_eq!(
        (s.process.limits[0].resource, s.process.limits[0].soft),
        ("NOFILE", Some(65535))
    );
    assert_eq!(s.install.alias, vec!["redis.service"]);
    assert!(s.unsupported.len() >= 30, "{}", s.unsupported.len());
    for k in [
        "PrivateTmp",
        "ProtectSystem",
        "NoNewPrivileges",
        "SystemCallFilter",
        "ReadWritePaths",
    ] {
        assert!(s.unsupported.iter().any(|u| u == k), "{k}");
    }
    // Each directive once, however often it was written.
    let mut sorted = s.unsupported.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), s.unsupported.len());
}

#[test]
fn drop_ins_override_and_reset() {
    let s = build(
        "nginx.service",
        &[
            ("nginx.service", NGINX),
            (
                "nginx.service.d/10-fg.conf",
                "[Service]\nType=simple\nPIDFile=\nExecStartPre=\nExecStart=\nExecStart=/usr/sbin/nginx -g 'daemon off;'\n",
            ),
            ("nginx.service.d/20-env.conf", "[Service]\nEnvironment=A=1\n[Unit]\nAfter=\nAfter=db.service\n"),
        ],
    )
    .unwrap();
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.pid_file, None);
    assert!(s.exec_start_pre.is_empty());
    assert_eq!(
        argv(&s.exec_start),
        vec![vec!["/usr/sbin/nginx", "-g", "daemon off;"]]
    );
    assert_eq!(s.process.environment, vec![("A".into(), "1".into())]);
    assert_eq!(s.unit.after.last().map(String::as_str), Some("db.service"));
    assert_eq!(s.unit.after.len(), 4);
}

#[test]
fn type_and_timeout_defaults() {
    let s = ok("[Service]\nExecStart=/bin/x\n");
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.notify_access, NotifyAccess::None);
    let s = ok("[Service]\nType=oneshot\nExecStart=/bin/a\nExecStart=/bin/b ; /bin/c\nRemainAfterExit=yes\n");
    assert_eq!(s.service_type, ServiceType::Oneshot);
    assert_eq!(s.timeout_start, None);
    assert!(s.remain_after_exit);
    assert_eq!(argv(&s.exec_start).len(), 3);
    let s = ok("[Service]\nExecStart=/bin/x\nWatchdogSec=10\nTimeoutSec=20\nTimeoutStartSec=0\n");
    assert_eq!(s.notify_access, NotifyAccess::Main);
    assert_eq!(
        (s.timeout_start, s.timeout_stop),
        (None, Some(Duration::from_secs(20)))
    );
    assert_eq!(s.watchdog, Some(Duration::from_secs(10)));
}

#[test]
fn systemd_refusals() {
    let cases = [
        ("[Service]\nType=simple\n", "no ExecStart="),
        (
            "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n",
            "more than one",
        ),
        (
            "[Service]\nType=notify\nExecStart=/bin/a ; /bin/b\n",
            "more than one",
        ),
        ("[Unit]\nDescription=x\n", "no ExecStart= and no ExecStop="),
        (
            "[Service]\nType=oneshot\nExecStart=/bin/a\nRestart=always\n",
            "oneshot",
        ),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(e.iter().any(|e| e.contains(want)), "{text:?}: {e:?}");
    }
}

#[test]
fn errors_name_file_line_and_directive_all_at_once() {
    let e = err("[Service]\nExecStart=/bin/x\nRestart=sometimes\n\nRestartSec=soon\nUser=%H\n");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("a.service:3: Restart=sometimes: expected no,"),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("a.service:5: RestartSec=soon: bad time span"),
        "{}",
        e[1]
    );
    assert_eq!(e[2], "a.service:6: User=%H: unsupported specifier %H");
}

#[test]
fn exec_prefixes_and_specifiers() {
    let s = build(
        "worker@3.service",
        &[(
            "worker@.service",
            "[Service]\nExecStart=+/srv/%p --id %i\nExecStopPost=-!/bin/cleanup %I\n",
        )],
    )
    .unwrap();
    assert_eq!(argv(&s.exec_start), vec![vec!["/srv/worker", "--id", "3"]]);
    assert_eq!(s.exec_start[0].privileges, Privileges::Full);
    assert!(s.exec_stop_post[0].ignore_failure);
    assert_eq!(s.exec_stop_post[0].privileges, Privileges::KeepCredentials);
}

#[test]
fn environment_and_process_settings() {
    let s = ok(concat!(
        "[Service]\nExecStart=/bin/x\n",
        "Environment=A=1 \"B=two words\" C=\nEnvironment='D=%n' bad-name=1\n",
        "EnvironmentFile=-/etc/default/x\nEnvironmentFile=/etc/x.env\n",
        "UnsetEnvironment=HOME TERM\nSupplementaryGroups=adm video\n",
        "WorkingDirectory=-~\nNice=-5\nKillSignal=SIGINT\nSendSIGKILL=no\n",
        "SuccessExitStatus=143 SIGTERM\nRestartPreventExitStatus=TEMPFAIL\n",
        "StandardOutput=append:/var/log/x.log\nStandardError=null\nStandardInput=tty\n",
        "Type=dbus\nLimitCORE=infinity\nLimitCORE=0\n",
    ));
    let env: Vec<(&str, &str)> = s
        .process
        .environment
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        env,
        vec![
            ("A", "1"),
            ("B", "two words"),
            ("C", ""),
            ("D", "a.service")
        ]
    );
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].starts_with("a.service:4: invalid environment"));
    assert_eq!(
        s.process.environment_files,
        vec![
            EnvironmentFile {
                path: "/etc/default/x".into(),
                missing_ok: true
            },
            EnvironmentFile {
                path: "/etc/x.env".into(),
                missing_ok: false
            },
        ]
    );
    assert_eq!(s.process.unset_environment, vec!["HOME", "TERM"]);
    assert_eq!(s.process.supplementary_groups, vec!["adm", "video"]);
    assert_eq!(
        s.process.working_directory,
        Some(WorkingDirectory {
            dir: None,
            missing_ok: true
        })
    );
    assert_eq!(
        (s.process.nice, s.kill_signal, s.send_sigkill),
        (Some(-5), libc::SIGINT, false)
    );
    assert_eq!(s.success_exit_status.codes, vec![143]);
    assert_eq!(s.success_exit_status.signals, vec![libc::SIGTERM]);
    assert_eq!(s.restart_prevent_exit_status.codes, vec![75]);
    assert_eq!(
        (s.process.stdout.clone(), s.process.stderr.clone()),
        (Output::Append("/var/log/x.log".into()), Output::Null)
    );
    assert_eq!(s.unsupported, vec!["StandardInput=tty", "Type=dbus"]);
    assert_eq!(s.service_type, ServiceType::Simple);
    assert_eq!(s.process.limits.len(), 1);
    assert_eq!(s.process.limits[0].soft, Some(0));
}

#[test]
fn start_limits_and_relative_paths() {
    let s = ok("[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/x\nPIDFile=x.pid\n");
    assert_eq!(s.unit.start_limit, None);
    assert_eq!(s.pid_file.as_deref(), Some("/run/x.pid"));
    let s = ok("[Service]\nStartLimitBurst=3\nStartLimitInterval=1min\nExecStart=/bin/x\n");
    assert_eq!(s.unit.start_limit, Some((3, Duration::from_secs(60))));
    let e = err("[Service]\nExecStart=/bin/x\nStateDirectory=../x\nWorkingDirectory=rel\nEnvironmentFile=e\n");
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn unknown_sections_and_extensions() {
    let s = ok("[Service]\nExecStart=/bin/x\nX-Mine=1\n[X-Tool]\nA=1\n[Socket]\nListenStream=80\n[Socket]\nBacklog=1\n");
    assert!(s.unsupported.is_empty());
    assert_eq!(
        s.warnings,
        vec!["a.service:7: unknown section [Socket], ignored"]
    );
}

#[test]
fn arbitrary_text_gives_values_or_errors_never_a_panic() {
    // A fixed pseudo-random walk over the characters that matter to the
    // parsers, fed through every layer.
    let alphabet: Vec<char> = "[]=\\\"' \t\n\r\0;#%$@-+!:{}/.0123456789xuUsnN\u{e9}"
        .chars()
        .collect();
    let keys = [
        "ExecStart=",
        "Environment=",
        "TimeoutSec=",
        "LimitNOFILE=",
        "User=",
        "StandardOutput=file:",
        "SuccessExitStatus=",
        "WorkingDirectory=",
        "ListenStream=",
        "RuntimeDirectory=",
        "After=",
        "Type=",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for _ in 0..2000 {
        let mut text = String::from("[Service]\n");
        for _ in 0..(next() % 6) {
            text.push_str(keys[next() % keys.len()]);
            for _ in 0..(next() % 24) {
                text.push(alphabet[next() % alphabet.len()]);
            }
            text.push('\n');
        }
        if let Ok(p) = parse(&text) {
            let l = layer(&[("w@.service".to_string(), p)], &kind);
            let _ = service(&l, &SpecContext::system("w@x.service"));
        }
        if let Ok(p) = parse(&text.replace("[Service]", "[Socket]")) {
            let l = layer(&[("w.socket".to_string(), p)], &kind);
            let _ = crate::unit::socket::socket(&l, &SpecContext::system("w.socket"));
        }
    }
}
