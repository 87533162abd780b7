//! Services that daemonize (`pid-file`): `run` forks the daemon and exits 0,
//! and the daemon, reparented to tend, is the service's main process (its
//! pid in `status`, its exit the service's, its group and session what a
//! stop takes down); pid files that are missing, stale or late; a daemon
//! that exits before its pid file is read; and `tend ctl reload NAME`.
//! Debian's nginx with `daemon on` is the real-world case.

use std::path::Path;
use std::process::Command;

use crate::harness::{descendants_of, exe, file, skip, Fixture, Proc, Tend};
use crate::real_services::nginx_conf;

const NGINX: &str = "/usr/sbin/nginx";

/// `ctl status NAME` as (state, pid, restarts, last exit).
fn status(t: &mut Tend, name: &str) -> (String, String, String, String) {
    let out = t.ctl_ok(&["status", name]);
    let row: Vec<&str> = out
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if row.len() < 6 || row[0] != name {
        t.fail(format!("no status row for {name} in {out:?}"));
    }
    let field = |i: usize| row[i].to_string();
    (field(1), field(2), field(4), row[5..].join(" "))
}

/// Waits until `name`'s status has state `state` and a pid (that is not
/// `not`); returns the pid.
pub(crate) fn wait_up(t: &mut Tend, name: &str, state: &str, not: &str) -> String {
    let mut pid = String::new();
    t.wait_for(
        &format!("{name} {state} with a pid other than {not:?}"),
        |t| {
            let out = t.fixture().ctl(&["status", name]).out;
            let row: Vec<&str> = out
                .lines()
                .nth(1)
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let ok = row.len() >= 3 && row[1] == state && row[2] != "-" && row[2] != not;
            if ok {
                pid = row[2].to_string();
            }
            ok
        },
    );
    pid
}

/// Sends `sig` to the process whose pid in tend's namespace is `ns_pid`.
fn kill_ns(t: &mut Tend, sig: &str, ns_pid: &str) {
    let Some(p) = t.find_ns_pid(ns_pid) else {
        t.fail(format!("no process {ns_pid} under tend to send {sig}"));
    };
    let ok = Command::new("kill")
        .args(["-s", sig, &p.pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    t.check(ok, format!("kill -s {sig} {}", p.pid));
}

/// The live (not zombie) process under tend (host pid `tend`) whose pid in
/// tend's namespace is `ns_pid`.
pub(crate) fn alive(tend: u32, ns_pid: &str) -> Option<Proc> {
    descendants_of(tend)
        .into_iter()
        .find(|p| p.state != 'Z' && p.ns_pid().as_deref() == Some(ns_pid))
}

fn wait_gone(t: &mut Tend, ns_pid: &str, what: &str) {
    let tend = t.pid();
    t.wait_for(&format!("{what} ({ns_pid}) to be gone"), |_| {
        alive(tend, ns_pid).is_none()
    });
}

/// A shell daemon started as Debian's nginx starts: `run` forks it, writes
/// its pid file and exits 0; only then (300 ms later) does the daemon call
/// setsid, so the group and session it had when tend found it are not the
/// ones it ends in. It leaves a `sleep` that ignores TERM in its session,
/// records the TERM it gets and keeps running.
const FORKING_RUN: &str = "echo $$ >> \"$T/starts\"\n\
                           ( sleep 0.3; exec setsid \"$T/daemon.sh\" ) &\n\
                           echo $! > \"$T/d.pid\"\n\
                           exit 0\n";
const DAEMON_SH: &str = "trap 'echo $$ >> \"$T/term\"' TERM\n\
                         (trap '' TERM; exec sleep 1000) &\n\
                         echo $! >> \"$T/children\"\n\
                         while :; do sleep 1; done\n";

#[test]
fn forked_daemon_is_the_main_process_and_its_session_goes_with_it() {
    let fx = Fixture::new(
        "daemon-forked",
        [
            exe("services/d/run", FORKING_RUN),
            exe("daemon.sh", DAEMON_SH),
        ],
    );
    fx.write(file(
        "services/d/service.toml",
        &format!(
            "pid-file = \"{}\"\nstop-grace = \"500ms\"\n",
            fx.arg("d.pid")
        ),
    ));
    let mut t = fx.start(&[]);
    let first = wait_up(&mut t, "d", "up", "-");
    let run1 = t.wait_file("starts");
    t.check_eq(
        t.fixture().read("d.pid").map(|p| p.trim().to_string()),
        Some(first.clone()),
        "status pid is the daemon's",
    );
    t.check(first != run1, "the daemon, not run, is the main process");
    let child1 = t.wait_file("children");

    // The daemon dies: that is the service's exit; the sleep it left in its
    // session is killed, and a new run starts a new daemon.
    kill_ns(&mut t, "KILL", &first);
    let second = wait_up(&mut t, "d", "up", &first);
    t.check_eq(fx.lines("starts").len(), 2, "runs started");
    wait_gone(&mut t, &child1, "the sleep the first daemon left");
    let (_, _, restarts, last) = status(&mut t, "d");
    t.check_eq(
        (restarts.as_str(), last.as_str()),
        ("1", "SIGKILL"),
        "restarts, last exit",
    );
    t.wait_stderr("the daemon's exit in the log", |l| {
        l.contains(&format!("d[{first}]: killed by SIGKILL"))
    });

    // Stop: the stop signal reaches the daemon's group as it is now (tend
    // found the daemon before its setsid); the daemon and its sleep outlive
    // it, and at the grace SIGKILL takes them down.
    let child2 = t.wait_lines("children", 2)[1].clone();
    t.ctl_ok(&["down", "d"]);
    t.wait_for("the daemon's TERM trap", |t| {
        t.fixture().lines("term").contains(&second)
    });
    t.wait_stderr("SIGKILL at the grace", |l| {
        l.contains(&format!(
            "d[{second}]: still running after its grace, SIGKILL"
        ))
    });
    wait_gone(&mut t, &second, "the second daemon");
    wait_gone(&mut t, &child2, "the sleep the second daemon left");
    t.wait_for("d down", |t| {
        t.fixture().ctl(&["status", "d"]).out.contains(" down ")
    });
    t.check(!t.stderr().contains("failed start"), "no failed start");
    t.term_expect(0);
}

#[test]
fn daemon_exiting_before_its_pid_file_is_read_is_the_services_exit() {
    // First start: the daemon writes its pid file and exits 7, and run
    // exits 0 only once tend has reaped it (its /proc entry is gone), so
    // the exit is in tend's memory of orphans before the file is read.
    // Second start: a daemon that stays.
    let fx = Fixture::new(
        "daemon-race",
        [
            exe(
                "services/race/run",
                "echo $$ >> \"$T/starts\"\n\
                 if [ \"$(wc -l < \"$T/starts\")\" = 1 ]; then\n\
                 \x20 ( setsid sh -c 'echo $$ > \"$0/race.pid\"; exit 7' \"$T\" & )\n\
                 \x20 while [ ! -s \"$T/race.pid\" ]; do sleep 0.01; done\n\
                 \x20 while [ -e \"/proc/$(cat \"$T/race.pid\")\" ]; do sleep 0.01; done\n\
                 \x20 echo \"$(cat \"$T/race.pid\")\" > \"$T/reaped\"\n\
                 \x20 exit 0\n\
                 fi\n\
                 ( setsid sh -c 'sleep 0.2; echo $$ > \"$0/race.pid.new\"; mv -f \"$0/race.pid.new\" \"$0/race.pid\"; exec sleep 1000' \"$T\" & )\n\
                 exit 0\n",
            ),
            exe(
                "services/race/finish",
                "echo \"$@\" >> \"$T/finish-args\"\n",
            ),
        ],
    );
    fx.write(file(
        "services/race/service.toml",
        &format!("pid-file = \"{}\"\n", fx.arg("race.pid")),
    ));
    let mut t = fx.start(&[]);
    let gone = t.wait_file("reaped");
    let args = t.wait_file("finish-args");
    t.check(
        args.starts_with("7 0 race "),
        format!("finish got {args:?}, expected the daemon's status 7"),
    );
    t.wait_stderr("the daemon's exit in the log", |l| {
        l.contains(&format!("race[{gone}]: daemon exited with status 7"))
    });
    let pid = wait_up(&mut t, "race", "up", &gone);
    t.check_eq(
        fx.read("race.pid").map(|p| p.trim().to_string()),
        Some(pid),
        "status pid of the second daemon",
    );
    let (_, _, restarts, last) = status(&mut t, "race");
    t.check_eq(
        (restarts.as_str(), last.as_str()),
        ("1", "status 7"),
        "restarts, last exit",
    );
    t.check(
        !t.stderr().contains("failed start"),
        "an exit before the read is not a failed start",
    );
    t.term_expect(0);
}

#[test]
fn missing_or_stale_pid_file_or_run_not_exiting_is_a_failed_start() {
    let fx = Fixture::new(
        "daemon-failed",
        [
            // No pid file ever: restarted after each failed start.
            exe(
                "services/nofile/run",
                "echo $$ >> \"$T/starts-nofile\"\nexit 0\n",
            ),
            // Its pid file names a process that is not tend's child (the
            // sleep of `other`, whose run is its parent).
            exe("services/stale/run", "exit 0\n"),
            exe(
                "services/other/run",
                "sleep 1000 &\necho $! > \"$T/other.pid\"\nwait\n",
            ),
            // run never exits: stopped at the start timeout, and failed.
            exe(
                "services/hang/run",
                "echo $$ > \"$T/hang\"\nexec sleep 1000\n",
            ),
            // A relative pid-file is an error naming the file.
            exe("services/relative/run", "exit 0\n"),
            file("services/relative/service.toml", "pid-file = \"x.pid\"\n"),
        ],
    );
    let toml = |svc: &str, pid: &str, more: &str| {
        file(
            &format!("services/{svc}/service.toml"),
            &format!("pid-file = \"{}\"\n{more}", fx.arg(pid)),
        )
    };
    fx.write(toml("nofile", "never.pid", ""));
    fx.write(toml(
        "stale",
        "other.pid",
        "restart = \"never\"\nafter = [\"other\"]\n",
    ));
    fx.write(toml("hang", "hang.pid", "restart = \"never\"\n"));
    let mut t = fx.start(&["--ready-timeout", "500ms"]);
    t.wait_stderr("the relative pid-file named", |l| {
        l.contains("services/relative/service.toml: pid-file: \"x.pid\" must be an absolute path")
    });
    let never = fx.arg("never.pid");
    t.wait_stderr("nofile's failed start", |l| {
        l.starts_with("tend: error: nofile: no daemon within 500ms (")
            && l.contains(&never)
            && l.ends_with("): failed start")
    });
    t.wait_lines("starts-nofile", 2);
    let stale = format!(
        "({}: names no child of tend): failed start",
        fx.arg("other.pid")
    );
    t.wait_stderr("stale's failed start", |l| l.contains(&stale));
    t.wait_stderr("hang's failed start", |l| {
        l.contains("hang: no daemon within 500ms (run has not exited): failed start")
    });
    for svc in ["stale", "hang"] {
        t.wait_for(&format!("{svc} failed"), |t| {
            t.fixture().ctl(&["status", svc]).out.contains(" failed ")
        });
    }
    let hang = t.wait_file("hang");
    wait_gone(&mut t, &hang, "hang's run");
    let (state, ..) = status(&mut t, "other");
    t.check_eq(
        state.as_str(),
        "up",
        "the process the stale file named is untouched",
    );
    t.term_expect(0);
}

#[test]
fn ctl_reload_name_signals_the_main_process_and_bare_reload_rescans() {
    let trapper = |name: &str, sig: &str| {
        format!(
            "trap 'echo {sig} >> \"$T/reloads-{name}\"' {sig}\n\
             echo $$ > \"$T/up-{name}\"\n\
             while :; do sleep 1 & wait; done\n"
        )
    };
    let fx = Fixture::new(
        "ctl-reload-name",
        [
            exe("services/plain/run", &trapper("plain", "HUP")),
            // With a member of its group that records USR1 and USR2.
            exe(
                "services/usr/run",
                &format!(
                    "(trap 'echo USR1 >> \"$T/member\"' USR1\n\
                     trap 'echo USR2 >> \"$T/member\"' USR2\n\
                     while :; do sleep 1; done) &\n\
                     trap : USR2\n{}",
                    trapper("usr", "USR1")
                ),
            ),
            file("services/usr/service.toml", "reload-signal = \"USR1\"\n"),
            exe("services/off/run", "exec sleep 1000\n"),
            file("services/off/down", ""),
        ],
    );
    let mut t = fx.start(&[]);
    let plain = t.wait_file("up-plain");
    let usr = t.wait_file("up-usr");
    t.ctl_ok(&["reload", "plain", "usr"]);
    let got = (t.wait_file("reloads-plain"), t.wait_file("reloads-usr"));
    t.check_eq(got, ("HUP".into(), "USR1".into()), "signals received");
    // The reload went to the main process only: the USR2 sent to usr's
    // group after it is the first signal its other member records (had it
    // got USR1, that would come first: it was sent first, and a shell runs
    // pending traps in signal order).
    t.ctl_ok(&["signal", "USR2", "usr"]);
    t.wait_for("USR2 in the member's record", |t| {
        t.fixture().lines("member").iter().any(|l| l == "USR2")
    });
    t.check_eq(
        fx.lines("member"),
        vec!["USR2".to_string()],
        "signals of usr's group member",
    );
    for (name, pid) in [("plain", &plain), ("usr", &usr)] {
        let (state, now, restarts, _) = status(&mut t, name);
        t.check_eq(
            (state.as_str(), &now, restarts.as_str()),
            ("up", pid, "0"),
            "reloaded in place",
        );
    }

    let r = t.ctl(&["reload", "nosuch"]);
    t.check(
        r.code == 1 && r.err.contains("no service named \"nosuch\""),
        format!("{r}"),
    );
    let r = t.ctl(&["reload", "plain", "off"]);
    t.check(r.code == 1 && r.err.contains("not up: off"), format!("{r}"));
    t.check(!t.stderr().contains("reloading"), "reload NAME rescanned");

    // No name: a rescan, as before.
    fx.write(exe(
        "services/new/run",
        "echo $$ > \"$T/up-new\"\nexec sleep 1000\n",
    ));
    t.ctl_ok(&["reload"]);
    t.wait_file("up-new");
    t.term_expect(0);
}

pub(crate) fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut out = String::new();
    if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let _ = s.read_to_string(&mut out);
    }
    out
}

/// nginx's workers: the live children of its master (namespace pid
/// `master`), as host pids.
pub(crate) fn workers(tend: u32, master: &str) -> Vec<u32> {
    let Some(m) = alive(tend, master) else {
        return Vec::new();
    };
    descendants_of(tend)
        .into_iter()
        .filter(|p| p.ppid == m.pid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

#[test]
fn nginx_daemon_on_is_supervised_through_its_pid_file() {
    if !Path::new(NGINX).is_file() {
        if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
            panic!("TEND_IT_NO_SKIP is set, but {NGINX} is not installed");
        }
        skip(format!("not installed: {NGINX}"));
        return;
    }
    let port = crate::harness::free_port();
    let fx = Fixture::new(
        "nginx-daemon-on",
        [
            exe(
                "services/nginx/run",
                &format!(
                    "mkdir -p \"$T/nginx/tmp\"\n\
                     exec {NGINX} -e stderr -p \"$T/nginx/\" -c \"$T/nginx/nginx.conf\"\n"
                ),
            ),
            file("nginx/html/index.html", "nginx daemonized under tend\n"),
        ],
    );
    let pid_file = fx.arg("nginx/nginx.pid");
    fx.write(file(
        "nginx/nginx.conf",
        &nginx_conf(
            port,
            &format!("daemon on;\nworker_processes 2;\npid {pid_file};\n"),
            "off",
        ),
    ));
    // QUIT: nginx's graceful stop.
    fx.write(file(
        "services/nginx/service.toml",
        &format!("pid-file = \"{pid_file}\"\nstop-signal = \"QUIT\"\n"),
    ));
    let mut t = fx.start(&["--grace", "10s"]);
    let master = wait_up(&mut t, "nginx", "up", "-");
    t.check_eq(
        fx.read("nginx/nginx.pid").map(|p| p.trim().to_string()),
        Some(master.clone()),
        "status pid is the master's, from nginx.pid",
    );
    t.wait_for("nginx serving", |_| {
        http_get(port).contains("nginx daemonized under tend")
    });

    // kill -9 of the master: the service's exit; its workers (which would
    // keep the port) are killed, and nginx is started again.
    let tend = t.pid();
    t.wait_for("nginx's 2 workers", |_| workers(tend, &master).len() == 2);
    let old_workers = workers(tend, &master);
    kill_ns(&mut t, "KILL", &master);
    let master2 = wait_up(&mut t, "nginx", "up", &master);
    t.wait_for("the old workers gone", |_| {
        old_workers
            .iter()
            .all(|&w| crate::harness::proc_stat(w).is_none_or(|p| p.state == 'Z'))
    });
    t.wait_for("nginx serving again", |_| {
        http_get(port).contains("nginx daemonized under tend")
    });
    let (_, _, restarts, last) = status(&mut t, "nginx");
    t.check_eq(
        (restarts.as_str(), last.as_str()),
        ("1", "SIGKILL"),
        "restarts, last exit",
    );

    // ctl reload: HUP to the master, which starts new workers and keeps
    // its pid.
    t.wait_for("the new master's 2 workers", |_| {
        workers(tend, &master2).len() == 2
    });
    let before = workers(tend, &master2);
    t.ctl_ok(&["reload", "nginx"]);
    t.wait_stderr("nginx's reload", |l| {
        l.contains("signal 1 (SIGHUP) received")
    });
    t.wait_for("new workers only", |_| {
        let now = workers(tend, &master2);
        !now.is_empty() && now.iter().all(|w| !before.contains(w))
    });
    let (state, now, restarts, _) = status(&mut t, "nginx");
    t.check_eq(
        (state.as_str(), now.as_str(), restarts.as_str()),
        ("up", master2.as_str(), "1"),
        "after the reload: same master",
    );
    t.check(
        http_get(port).contains("nginx daemonized under tend"),
        "serving after reload",
    );

    // TERM to tend: QUIT to nginx's group, a graceful stop, no SIGKILL.
    t.term_expect(0);
    let err = t.stderr();
    let said = |s: &str| err.lines().any(|l| l.contains("[notice]") && l.contains(s));
    t.check(said("signal 3 (SIGQUIT) received"), "nginx got no SIGQUIT");
    t.check(said("exited with code 0"), "nginx's workers did not exit 0");
    t.check(
        !err.contains("after its grace"),
        "tend had to SIGKILL something",
    );
    t.check(!err.contains("failed start"), "a failed start");
}
