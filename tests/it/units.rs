//! systemd unit files in the services dir (SPEC §8): Debian's own
//! redis-server.service run unchanged through a symlink, templates and
//! their instances, drop-ins, the environment and user a unit asks for,
//! a broken unit skipped while the rest run, and `tend verify`.

use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::harness::{descendants_of, file, skip, tend_bin, Fixture};
use crate::real_services::nginx_conf;

mod combined;

const REDIS_UNIT: &str = "/lib/systemd/system/redis-server.service";

/// A unit whose service writes `WHAT` (shell words, expanded by sh) into
/// the marker `$T/NAME`, then idles until stopped.
fn marker_unit(fx: &Fixture, marker: &str, what: &str, extra: &str) -> String {
    let t = fx.arg("");
    format!(
        "[Unit]\nDescription=test\n\n[Service]\n{extra}\
         ExecStart=/bin/sh -c 'echo {what} > {t}/{marker}; exec sleep 1000'\n"
    )
}

/// Debian's redis-server.service, linked unchanged into the services dir:
/// Type=notify (ready on redis's own READY=1), User=redis, the sandboxing
/// directives named in one warning line, and redis answers PING.
#[test]
fn debian_redis_unit_runs_unchanged() {
    if !Path::new(REDIS_UNIT).is_file() || !Path::new("/usr/bin/redis-server").is_file() {
        let why = "redis-server (and its unit) not installed";
        if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
            panic!("TEND_IT_NO_SKIP is set, but {why}");
        }
        return skip(why);
    }
    // The unit is run as shipped, so redis takes its configured port.
    if TcpStream::connect(("127.0.0.1", 6379)).is_ok() {
        panic!("something already listens on 127.0.0.1:6379, which the unit's redis.conf takes");
    }
    // RuntimeDirectory=redis (mode 2755) is tend's to make: start without
    // it, as systemd leaves the system after a stop.
    let _ = std::fs::remove_dir_all("/run/redis");
    let fx = Fixture::new("unit-redis", []);
    symlink(REDIS_UNIT, fx.path("services/redis-server.service")).expect("symlink");
    let mut t = fx.start(&["--grace", "10s"]);
    // Only the notify socket says this: a service without readiness is
    // ready once up, without the line.
    t.wait_stderr("redis ready through sd_notify", |l| {
        l == "tend: redis-server: ready"
    });
    let pong = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "ping"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| t.fail(format!("redis-cli: {e}")));
    t.check_eq(pong.as_str(), "PONG", "redis-cli ping");

    let err = t.stderr();
    let ignored: Vec<&str> = err.lines().filter(|l| l.contains(": ignored: ")).collect();
    t.check_eq(ignored.len(), 1, "warning lines listing ignored directives");
    let line = ignored.first().copied().unwrap_or_default();
    for d in [
        "ProtectSystem",
        "PrivateTmp",
        "NoNewPrivileges",
        "SystemCallFilter",
    ] {
        t.check(line.contains(d), format!("{d} not named in {line:?}"));
    }
    t.check(
        line.starts_with("tend: warning: ") && line.contains("redis-server.service: ignored: "),
        format!("warning line names the unit: {line:?}"),
    );
    t.check(!err.contains("error"), "an error was logged");

    // User=redis, Group=redis.
    let pid = t.pid();
    let redis = descendants_of(pid)
        .into_iter()
        .find(|p| p.comm.starts_with("redis-server"))
        .unwrap_or_else(|| t.fail("no redis-server process under tend"));
    let status = std::fs::read_to_string(format!("/proc/{}/status", redis.pid)).unwrap_or_default();
    let id = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string()
    };
    let want = |name: &str, file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .and_then(|l| l.split(':').nth(2))
            .unwrap_or("?")
            .to_string()
    };
    t.check_eq(id("Uid:"), want("redis", "/etc/passwd"), "redis's uid");
    t.check_eq(id("Gid:"), want("redis", "/etc/group"), "redis's gid");

    use std::os::unix::fs::MetadataExt;
    let run =
        std::fs::metadata("/run/redis").unwrap_or_else(|e| t.fail(format!("/run/redis: {e}")));
    t.check_eq(
        run.uid().to_string(),
        want("redis", "/etc/passwd"),
        "/run/redis's owner",
    );
    t.check_eq(run.mode() & 0o7777, 0o2755, "/run/redis's mode");
    // redis.conf puts its pid file there.
    t.wait_for("redis's pid file in /run/redis", |_| {
        Path::new("/run/redis/redis-server.pid").exists()
    });

    t.term_expect(0);
    t.check(!t.stderr().contains("SIGKILL"), "tend had to SIGKILL redis");
}

/// `NAME@.service` with two `NAME@INST.service` links: two services, each
/// with its own `%i`.
#[test]
fn template_unit_runs_each_instance() {
    let fx = Fixture::new("unit-template", []);
    let t = fx.arg("");
    fx.write(file(
        "services/echo@.service",
        &format!(
            "[Unit]\nDescription=Echo %i\n[Service]\n\
             ExecStart=/bin/sh -c 'echo %i %n > {t}/inst-%i; exec sleep 1000'\n"
        ),
    ));
    for i in ["a", "b"] {
        symlink(
            "echo@.service",
            fx.path(&format!("services/echo@{i}.service")),
        )
        .expect("symlink");
    }
    let mut t = fx.start(&[]);
    for i in ["a", "b"] {
        let got = t.wait_file(&format!("inst-{i}"));
        t.check_eq(got, format!("{i} echo@{i}.service"), "%i %n");
    }
    let status = t.ctl_ok(&["status"]);
    for name in ["echo@a", "echo@b"] {
        t.check(
            status.lines().any(|l| l.starts_with(&format!("{name} "))),
            format!("{name} missing from status:\n{status}"),
        );
    }
    t.check(
        !status.contains("echo@ "),
        format!("the template itself runs:\n{status}"),
    );
    // A unit's Type= and Description= (specifiers expanded), in text and
    // JSON.
    t.check(
        status.contains("\necho@b: Type=simple, Description=Echo b\n"),
        format!("no Type and Description:\n{status}"),
    );
    let json = t.ctl_ok(&["status", "echo@a", "--json"]);
    t.check(
        json.contains(r#""unit":{"type":"simple","description":"Echo a"}"#),
        format!("no unit in JSON: {json}"),
    );
    t.term_expect(0);
}

/// Drop-ins beside the link's target and beside the link, applied in name
/// order: `ExecStart=` resets the list and the later one runs, with the
/// environment the other drop-in set.
#[test]
fn dropins_override_exec_start() {
    let fx = Fixture::new("unit-dropin", []);
    let unit = marker_unit(&fx, "which", "original", "");
    fx.write(file("lib/web.service", &unit));
    fx.write(file(
        "lib/web.service.d/10-env.conf",
        "[Service]\nEnvironment=WHO=target-dropin\n",
    ));
    let t = fx.arg("");
    fx.write(file(
        "services/web.service.d/20-exec.conf",
        &format!(
            "[Service]\nExecStart=\nExecStart=/bin/sh -c 'echo \"$WHO\" > {t}/which; exec sleep 1000'\n"
        ),
    ));
    symlink(fx.path("lib/web.service"), fx.path("services/web.service")).expect("symlink");
    let mut t = fx.start(&[]);
    let got = t.wait_file("which");
    t.check_eq(got.as_str(), "target-dropin", "the command that ran");
    t.term_expect(0);
}

/// Environment=, EnvironmentFile= (quotes, comments, a `-` file that is
/// missing), WorkingDirectory= and User= reach the process.
#[test]
fn unit_environment_user_and_working_directory() {
    let fx = Fixture::new("unit-env", []);
    fx.write(file(
        "env",
        "# a comment\nFROM_FILE=\"two words\"\nOVERRIDDEN=file\n",
    ));
    std::fs::create_dir_all(fx.path("work")).expect("mkdir");
    let extra = format!(
        "User=nobody\nEnvironment=\"A=one two\" OVERRIDDEN=unit\n\
         EnvironmentFile={}\nEnvironmentFile=-/nonexistent/env\nWorkingDirectory={}\n",
        fx.arg("env"),
        fx.arg("work")
    );
    // The marker is written by nobody: let it.
    let out = fx.path("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    let unit = marker_unit(
        &fx,
        "out/env",
        "\"$A|$FROM_FILE|$OVERRIDDEN|$(id -un)|$(pwd)|$USER\"",
        &extra,
    );
    fx.write(file("services/env.service", &unit));
    let mut t = fx.start(&[]);
    let want = format!("one two|two words|file|nobody|{}|nobody", fx.arg("work"));
    let got = t.wait_file("out/env");
    t.check_eq(got, want, "what the service saw");
    t.term_expect(0);
}

/// A unit with a syntax error and one that Requires= an absent unit are
/// each skipped with one line naming the file; the others, a service dir
/// among them, run.
#[test]
fn broken_units_are_skipped_and_the_rest_run() {
    let fx = Fixture::new("unit-broken", []);
    let good = marker_unit(&fx, "up-good", "good", "");
    fx.write(file("services/good.service", &good));
    fx.write(file(
        "services/bad.service",
        "[Unit]\nDescription=x\n[Service\nExecStart=/bin/true\n",
    ));
    let needs = marker_unit(&fx, "up-needs", "needs", "");
    fx.write(file(
        "services/needs.service",
        &format!("[Unit]\nRequires=absent.service\n{needs}"),
    ));
    fx.write(file(
        "services/dir/service.toml",
        &format!(
            "command = [\"/bin/sh\", \"-c\", \"echo dir > {}/up-dir; exec sleep 1000\"]\n",
            fx.arg("")
        ),
    ));
    let mut t = fx.start(&[]);
    t.wait_file("up-good");
    t.wait_file("up-dir");
    let bad = fx.arg("services/bad.service");
    t.wait_stderr("the syntax error with its line", |l| {
        l == format!("tend: error: {bad}:3: invalid section header \"[Service\"")
    });
    t.wait_stderr("the missing Requires=", |l| {
        l.starts_with("tend: error: ") && l.contains("needs.service: Requires=absent.service")
    });
    let status = t.ctl_ok(&["status"]);
    t.check(
        !status.contains("bad ") && !status.contains("needs "),
        format!("a broken unit runs:\n{status}"),
    );
    t.check(!fx.exists("up-needs"), "needs.service ran");
    t.term_expect(0);
}

/// Runs `tend verify --services DIR` (not under a namespace: it starts
/// nothing).
fn verify(fx: &Fixture) -> (i32, String) {
    let out = Command::new(tend_bin())
        .args(["verify", "--services", &fx.arg("services")])
        .output()
        .expect("run tend verify");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn verify_exit_codes_on_good_and_bad_dirs() {
    let fx = Fixture::new("unit-verify", []);
    let good = marker_unit(&fx, "started", "x", "PrivateTmp=yes\nProtectSystem=full\n");
    fx.write(file("services/good.service", &good));
    let (code, out) = verify(&fx);
    assert_eq!(code, 0, "verify on a good dir:\n{out}");
    let unit = fx.arg("services/good.service");
    assert!(
        out.contains(&format!(
            "warning: {unit}: ignored: PrivateTmp, ProtectSystem"
        )),
        "no ignored line in:\n{out}"
    );
    assert!(!fx.exists("started"), "verify started the service");

    fx.write(file(
        "services/bad.service",
        "[Service]\nExecStart=/bin/true\nRestartSec=soon\n",
    ));
    let (code, out) = verify(&fx);
    assert_eq!(code, 1, "verify on a dir with a broken unit:\n{out}");
    let bad = fx.arg("services/bad.service");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("error: {bad}:3: RestartSec=soon: "))),
        "no FILE:LINE error in:\n{out}"
    );
    assert!(out.contains("1 services would run, 1 problems"), "{out}");
}

/// Runs the binary under the name `systemctl` (a symlink in the fixture),
/// against this fixture's tend and services dir.
pub fn systemctl(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let link = fx.path("bin/systemctl");
    if !link.exists() {
        std::fs::create_dir_all(fx.path("bin")).expect("mkdir bin");
        symlink(tend_bin(), &link).expect("symlink systemctl");
    }
    let out = Command::new(&link)
        .args(args)
        .env("TEND_CONTROL", fx.path("control.sock"))
        .env("TEND_SERVICES", fx.path("services"))
        .output()
        .expect("run systemctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `systemctl` verbs map onto the control verbs, with systemctl's exit
/// codes: is-active 0/3, is-failed 1, show -p MainPID, stop and start.
#[test]
fn systemctl_front_end_controls_units() {
    let fx = Fixture::new("unit-systemctl", []);
    // `$$` is systemd's escape for `$`: sh gets `$$`, its pid.
    let unit = marker_unit(&fx, "up-web", "$$$$", "");
    fx.write(file("services/web.service", &unit));
    let mut t = fx.start(&[]);
    let pid = t.wait_file("up-web");
    let r = systemctl(&fx, &["is-active", "web.service"]);
    t.check_eq((r.0, r.1.as_str()), (0, "active\n"), "is-active while up");
    let r = systemctl(&fx, &["show", "-p", "MainPID", "web"]);
    t.check_eq(r.1, format!("MainPID={pid}\n"), "show -p MainPID");
    let r = systemctl(&fx, &["is-failed", "web"]);
    t.check_eq(r.0, 1, "is-failed of a running unit");

    let r = systemctl(&fx, &["stop", "web.service"]);
    t.check_eq(r.0, 0, "stop");
    // While it stops it is `deactivating`, which exits 3 too.
    t.wait_for("web inactive", |_| {
        systemctl(&fx, &["is-active", "web"]) == (3, "inactive\n".into(), String::new())
    });
    let r = systemctl(&fx, &["is-active", "nope"]);
    t.check_eq(
        (r.0, r.1.as_str()),
        (3, "inactive\n"),
        "is-active of no unit",
    );

    fx.remove("up-web");
    let r = systemctl(&fx, &["start", "web"]);
    t.check_eq(r.0, 0, "start");
    t.wait_file("up-web");
    let r = systemctl(&fx, &["frobnicate", "web"]);
    t.check_eq(r.0, 1, "an unknown command");
    t.term_expect(0);
}

/// `systemctl enable` links a unit from /lib/systemd/system into the
/// services dir without a running tend; `disable` removes the link.
#[test]
fn systemctl_enable_and_disable_link_units() {
    if !Path::new(REDIS_UNIT).is_file() {
        return skip("redis-server's unit is not installed");
    }
    let fx = Fixture::new("unit-enable", []);
    let link = fx.path("services/redis-server.service");
    let r = systemctl(&fx, &["enable", "redis-server"]);
    assert_eq!(r.0, 0, "enable: {r:?}");
    assert_eq!(
        std::fs::read_link(&link).ok().as_deref(),
        Some(Path::new(REDIS_UNIT)),
        "enable: {r:?}"
    );
    let r = systemctl(&fx, &["enable", "no-such-unit.service"]);
    assert_eq!(r.0, 1, "enable of a missing unit: {r:?}");
    assert!(r.2.contains("no-such-unit.service does not exist"), "{r:?}");
    let r = systemctl(&fx, &["disable", "redis-server.service"]);
    assert_eq!(r.0, 0, "disable: {r:?}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link left: {r:?}"
    );
}

/// ExecStartPre= lines run in order before ExecStart= (a `-` failure
/// tolerated, a plain one failing the start), ExecReload= on `ctl reload
/// NAME` and ExecStop= on `ctl down` with $MAINPID, ExecStopPost= after the
/// exit with systemd's $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS.
#[test]
fn exec_lists_run_around_the_main_process() {
    let fx = Fixture::new("unit-exec-lists", []);
    let log = fx.arg("log");
    let sh = |what: &str| format!("/bin/sh -c 'echo \"{what}\" >> {log}'");
    let unit = format!(
        "[Service]\nEnvironment=X=envx\n\
         ExecStartPre={}\nExecStartPre=-/bin/false\nExecStartPre={}\n\
         ExecStart=/bin/sh -c 'echo \"main $$$$\" >> {log}; exec sleep 1000'\n\
         ExecReload={}\n\
         ExecStop=/bin/sh -c 'echo \"stop $MAINPID\" >> {log}; kill $MAINPID'\n\
         ExecStopPost={}\n",
        sh("pre1"),
        sh("pre2 $X"),
        sh("reload $MAINPID"),
        sh("post $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS"),
    );
    fx.write(file("services/web.service", &unit));
    let bad = marker_unit(&fx, "up-bad", "bad", "ExecStartPre=/bin/false\n");
    fx.write(file("services/bad.service", &bad));
    let mut t = fx.start(&[]);
    let lines = t.wait_lines("log", 3);
    let pid = lines[2].strip_prefix("main ").unwrap_or("?").to_string();
    t.check_eq(
        lines[..2].to_vec(),
        vec!["pre1".to_string(), "pre2 envx".into()],
        "ExecStartPre= in order, `-/bin/false` tolerated",
    );
    t.ctl_ok(&["reload", "web"]);
    let reload = t.wait_lines("log", 4).swap_remove(3);
    t.check_eq(reload, format!("reload {pid}"), "ExecReload=");
    t.ctl_ok(&["down", "web"]);
    let lines = t.wait_lines("log", 6);
    t.check_eq(
        lines[4..].to_vec(),
        vec![format!("stop {pid}"), "post signal killed TERM".into()],
        "ExecStop= then ExecStopPost=",
    );
    t.wait_stderr("the failed ExecStartPre=", |l| {
        l.contains("/bin/false: exited with status 1")
    });
    let status = t.ctl_ok(&["status", "bad"]);
    t.check(
        status.contains("failed"),
        format!("bad is not failed:\n{status}"),
    );
    t.check(
        !fx.exists("up-bad"),
        "ExecStart= ran after a failed ExecStartPre=",
    );
    t.term_expect(0);
    t.check(!t.stderr().contains("SIGKILL"), "tend had to SIGKILL");
}

const NGINX_UNIT: &str = "/lib/systemd/system/nginx.service";

/// Debian's nginx.service, linked unchanged (Type=forking, PIDFile=
/// /run/nginx.pid, ExecStartPre= `nginx -t`, ExecReload= `nginx -s
/// reload`, ExecStop= start-stop-daemon --retry QUIT/5): a drop-in only
/// adds `-c` to its three nginx lines, for a test config on a free port
/// whose pid file is still /run/nginx.pid. It serves; `systemctl reload`
/// gives new workers under the same master; TERM stops it gracefully
/// through ExecStop= (QUIT), with no SIGKILL.
#[test]
fn debian_nginx_unit_runs_unchanged() {
    use crate::daemons::{http_get, wait_up, workers};
    if !Path::new(NGINX_UNIT).is_file() || !Path::new("/usr/sbin/nginx").is_file() {
        let why = "nginx (and its unit) not installed";
        if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
            panic!("TEND_IT_NO_SKIP is set, but {why}");
        }
        return skip(why);
    }
    // The unit's PIDFile= and ExecStop= name /run/nginx.pid.
    if let Ok(pid) = std::fs::read_to_string("/run/nginx.pid") {
        if Path::new(&format!("/proc/{}", pid.trim())).exists() {
            panic!("/run/nginx.pid names a running process: an nginx runs here already");
        }
        let _ = std::fs::remove_file("/run/nginx.pid");
    }
    let port = crate::harness::free_port();
    let fx = Fixture::new(
        "unit-nginx",
        [file("nginx/html/index.html", "Debian's unit under tend\n")],
    );
    std::fs::create_dir_all(fx.path("nginx/tmp")).expect("mkdir");
    fx.write(file(
        "nginx/nginx.conf",
        &nginx_conf(port, "worker_processes 2;\npid /run/nginx.pid;\n", "off"),
    ));
    let c = format!("-p {} -c {}", fx.arg("nginx/"), fx.arg("nginx/nginx.conf"));
    let g = "-g 'daemon on; master_process on;'";
    let t = fx.arg("");
    fx.write(file(
        "services/nginx.service.d/test.conf",
        &format!(
            "[Service]\nExecStartPre=\nExecStartPre=/usr/sbin/nginx -t -q {g} {c}\n\
             ExecStartPre=/bin/sh -c 'echo checked > {t}/pre'\n\
             ExecStart=\nExecStart=/usr/sbin/nginx {g} {c}\n\
             ExecReload=\nExecReload=/usr/sbin/nginx {g} {c} -s reload\n"
        ),
    ));
    symlink(NGINX_UNIT, fx.path("services/nginx.service")).expect("symlink");
    let mut t = fx.start(&["--grace", "10s"]);
    let master = wait_up(&mut t, "nginx", "up", "-");
    t.check(fx.exists("pre"), "ExecStartPre= did not run");
    t.check_eq(
        std::fs::read_to_string("/run/nginx.pid")
            .ok()
            .map(|p| p.trim().to_string()),
        Some(master.clone()),
        "status pid is the master's, from PIDFile=",
    );
    t.wait_for("nginx serving", |_| {
        http_get(port).contains("Debian's unit under tend")
    });

    let tend = t.pid();
    t.wait_for("nginx's 2 workers", |_| workers(tend, &master).len() == 2);
    let before = workers(tend, &master);
    let r = systemctl(&fx, &["reload", "nginx.service"]);
    t.check_eq(r.0, 0, "systemctl reload");
    t.wait_for("new workers only", |_| {
        let now = workers(tend, &master);
        now.len() == 2 && now.iter().all(|w| !before.contains(w))
    });
    let again = wait_up(&mut t, "nginx", "up", "-");
    t.check_eq(again, master, "the master after the reload");
    t.check(
        http_get(port).contains("Debian's unit under tend"),
        "serving after the reload",
    );

    t.term_expect(0);
    let err = t.stderr();
    let said = |s: &str| err.lines().any(|l| l.contains("[notice]") && l.contains(s));
    t.check(said("signal 3 (SIGQUIT) received"), "nginx got no SIGQUIT");
    t.check(
        !said("signal 15 (SIGTERM)"),
        "nginx got SIGTERM: ExecStop= did not stop it",
    );
    t.check(!err.contains("SIGKILL"), "tend had to SIGKILL");
    t.check(!err.contains("tend: error"), format!("an error:\n{err}"));
}

/// `NAME.socket` beside `NAME.service`: tend binds its ListenStream=s (a
/// bare port on every address, a unix path with SocketMode=), names them
/// FileDescriptorName=, and starts the service on the first connection.
#[test]
fn socket_unit_starts_its_service_on_the_first_connection() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let port = crate::harness::free_port();
    let fx = Fixture::new("unit-socket", [file("serve.py", crate::sockets::SERVE_PY)]);
    let sock = fx.arg("run/lazy.sock");
    fx.write(file(
        "services/lazy.socket",
        &format!(
            "[Socket]\nListenStream={port}\nListenStream={sock}\nSocketMode=0600\n\
             FileDescriptorName=web\nBacklog=16\n"
        ),
    ));
    let t = fx.arg("");
    fx.write(file(
        "services/lazy.service",
        &format!(
            "[Unit]\nRequires=lazy.socket\n[Service]\n\
             ExecStart=/bin/sh -c 'echo $LISTEN_FDS $LISTEN_FDNAMES > {t}/env; \
             exec python3 {t}/serve.py lazy'\n"
        ),
    ));
    let mut t = fx.start(&[]);
    t.wait_for("the unix socket", |_| Path::new(&sock).exists());
    let mode = std::fs::metadata(&sock).map(|m| m.permissions().mode() & 0o777);
    t.check_eq(mode.ok(), Some(0o600), "SocketMode=");
    std::thread::sleep(std::time::Duration::from_millis(200));
    t.check(!fx.exists("env"), "lazy started before any connection");
    let status = t.ctl_ok(&["status", "lazy"]);
    t.check(status.contains("listening"), format!("status: {status}"));
    let mut c = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    t.check_eq(
        reply.as_str(),
        "lazy web\n",
        "reply to the first connection",
    );
    let env = t.wait_file("env");
    t.check_eq(env.as_str(), "2 web:web", "LISTEN_FDS, LISTEN_FDNAMES");
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect over IPv4");
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    t.check_eq(reply.as_str(), "lazy web\n", "reply on the bare port");
    t.check(!t.stderr().contains("error"), "an error was logged");
    t.term_expect(0);
}

/// Type=oneshot: a unit ordered After= it starts only once it exited 0
/// (its two ExecStart= lines ran in order); without RemainAfterExit= it is
/// then down (inactive) and not restarted, with RemainAfterExit=yes up
/// (active) with no process.
#[test]
fn oneshot_units_gate_their_dependents_and_may_remain() {
    let fx = Fixture::new("unit-oneshot", []);
    let log = fx.arg("log");
    fx.write(file(
        "services/setup.service",
        &format!(
            "[Service]\nType=oneshot\n\
             ExecStart=/bin/sh -c 'echo setup1 >> {log}; sleep 0.3'\n\
             ExecStart=/bin/sh -c 'echo setup2 >> {log}'\n"
        ),
    ));
    fx.write(file(
        "services/keep.service",
        &format!(
            "[Service]\nType=oneshot\nRemainAfterExit=yes\n\
             ExecStart=/bin/sh -c 'echo keep >> {log}'\n"
        ),
    ));
    fx.write(file(
        "services/app.service",
        &format!(
            "[Unit]\nAfter=setup.service keep.service\n[Service]\n\
             ExecStart=/bin/sh -c 'echo app >> {log}; exec sleep 1000'\n"
        ),
    ));
    let mut t = fx.start(&[]);
    let lines = t.wait_lines("log", 4);
    let at = |w: &str| lines.iter().position(|l| l == w);
    t.check(
        at("setup1") < at("setup2") && at("setup2") < at("app") && at("keep") < at("app"),
        format!("app started before the oneshots were done: {lines:?}"),
    );
    let r = systemctl(&fx, &["is-active", "setup", "keep", "app"]);
    t.check_eq(
        r.1.as_str(),
        "inactive\nactive\nactive\n",
        "is-active: setup done, keep remains",
    );
    let status = t.ctl_ok(&["status", "keep"]);
    t.check(
        status
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains(" up ") && l.contains(" - ")),
        format!("keep is not up with no pid:\n{status}"),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    t.check_eq(fx.lines("log").len(), 4, "a oneshot ran again");
    t.term_expect(0);
}

/// UMask=, Nice= and Limit*= reach the service's processes.
#[test]
fn umask_nice_and_limits_apply_to_the_service() {
    let fx = Fixture::new(
        "unit-limits",
        [crate::harness::exe(
            "show",
            "echo \"$(umask) $(cut -d ' ' -f 19 /proc/$$/stat) $(ulimit -Sn) $(ulimit -Hn) $(ulimit -c)\" \
             > \"$T/seen\"\nexec sleep 1000\n",
        )],
    );
    fx.write(file(
        "services/lim.service",
        &format!(
            "[Service]\nUMask=0027\nNice=7\nLimitNOFILE=1000:2000\nLimitCORE=0\nExecStart={}\n",
            fx.arg("show")
        ),
    ));
    let mut t = fx.start(&[]);
    let seen = t.wait_file("seen");
    t.check_eq(
        seen.as_str(),
        "0027 7 1000 2000 0",
        "umask nice nofile core",
    );
    t.check(!t.stderr().contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// SuccessExitStatus=, RestartPreventExitStatus=, RestartForceExitStatus=:
/// a listed success is not restarted by Restart=on-failure, a prevented
/// status stops Restart=always (failed), a forced one restarts Restart=no.
#[test]
fn exit_statuses_decide_the_restart() {
    let fx = Fixture::new("unit-exit-status", []);
    let unit = |name: &str, extra: &str, script: &str| {
        let log = fx.arg(name);
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\n{extra}RestartSec=50ms\n\
                 ExecStart=/bin/sh -c 'echo run >> {log}; {script}'\n"
            ),
        ));
    };
    unit(
        "ok",
        "Restart=on-failure\nSuccessExitStatus=42 SIGUSR1\n",
        "exit 42",
    );
    unit(
        "stop",
        "Restart=always\nRestartPreventExitStatus=TEMPFAIL\n",
        "exit 75",
    );
    let force = "Restart=no\nRestartForceExitStatus=7\n";
    let n = fx.arg("force");
    unit(
        "force",
        force,
        &format!("[ $(wc -l < {n}) -lt 3 ] && exit 7; exit 0"),
    );
    let mut t = fx.start(&[]);
    t.wait_lines("force", 3);
    std::thread::sleep(std::time::Duration::from_millis(400));
    for (name, runs) in [("ok", 1), ("stop", 1), ("force", 3)] {
        t.check_eq(fx.lines(name).len(), runs, &format!("runs of {name}"));
    }
    let r = systemctl(&fx, &["is-active", "ok", "stop", "force"]);
    t.check_eq(
        r.1.as_str(),
        "inactive\nfailed\ninactive\n",
        "is-active: ok done, stop failed, force done",
    );
    t.check(!t.stderr().contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// Restart= on-success, on-abnormal, on-abort as systemd: by how the unit
/// ended. Each unit runs three times at most (a counter in its log).
#[test]
fn restart_values_follow_how_the_unit_ended() {
    let fx = Fixture::new("unit-restart-when", []);
    let unit = |name: &str, restart: &str, ending: &str| {
        let log = fx.arg(name);
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\nRestart={restart}\nRestartSec=50ms\n\
                 ExecStart=/bin/sh -c 'echo run >> {log}; \
                 [ $(wc -l < {log}) -ge 3 ] && exec sleep 1000; {ending}'\n"
            ),
        ));
    };
    // (name, Restart=, how each run ends, runs expected); `$$$$` is the
    // shell's `$$` once the Exec line's own `$$` escape is read.
    let cases = [
        ("succ-clean", "on-success", "exit 0", 3),
        ("succ-fail", "on-success", "exit 1", 1),
        ("abn-code", "on-abnormal", "exit 1", 1),
        ("abn-signal", "on-abnormal", "kill -SEGV $$$$", 3),
        ("abort-signal", "on-abort", "kill -ABRT $$$$", 3),
        ("abort-term", "on-abort", "kill -TERM $$$$", 1),
        ("wd-code", "on-watchdog", "exit 1", 1),
    ];
    for (name, restart, ending, _) in cases {
        unit(name, restart, ending);
    }
    let mut t = fx.start(&[]);
    for (name, _, _, runs) in cases {
        if runs == 3 {
            t.wait_lines(name, 3);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    for (name, restart, ending, runs) in cases {
        t.check_eq(
            fx.lines(name).len(),
            runs,
            &format!("runs of {name} (Restart={restart}, {ending})"),
        );
    }
    t.check(
        !t.stderr().contains("Restart="),
        format!(
            "a Restart= value was noted as approximated:\n{}",
            t.stderr()
        ),
    );
    t.term_expect(0);
}

/// PartOf=: stopping or restarting the unit it names does the same to it;
/// starting that unit does not start it, and nothing flows the other way.
#[test]
fn part_of_follows_stop_and_restart() {
    let fx = Fixture::new("unit-part-of", []);
    let unit = |name: &str, extra: &str| {
        let log = fx.arg(name);
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Unit]\n{extra}[Service]\nRestart=no\n\
                 ExecStart=/bin/sh -c 'echo run >> {log}; exec sleep 1000'\n"
            ),
        ));
    };
    unit("main", "");
    unit("part", "PartOf=main.service\n");
    let mut t = fx.start(&[]);
    t.wait_lines("main", 1);
    t.wait_lines("part", 1);
    t.ctl_ok(&["restart", "main"]);
    t.wait_lines("main", 2);
    t.wait_lines("part", 2);
    t.ctl_ok(&["restart", "part"]);
    t.wait_lines("part", 3);
    t.ctl_ok(&["wait", "up", "main", "part", "--timeout", "5s"]);
    t.check_eq(fx.lines("main").len(), 2, "main restarted with its part");
    t.ctl_ok(&["down", "main"]);
    t.ctl_ok(&["wait", "down", "main", "part", "--timeout", "5s"]);
    t.ctl_ok(&["up", "main"]);
    t.ctl_ok(&["wait", "up", "main", "--timeout", "5s"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = systemctl(&fx, &["is-active", "part"]);
    t.check_eq(r.1.as_str(), "inactive\n", "part after `up main`");
    t.check(
        !t.stderr().contains("PartOf"),
        "PartOf= was noted as ignored",
    );
    t.term_expect(0);
}

/// Requires=: stopping or restarting the unit it names does the same to
/// it, and so does that unit's automatic restart (systemd restarts the
/// units that require a unit it restarts); with After= the restart's
/// start waits for the new one to be ready. Wants= follows none of it.
#[test]
fn requires_follows_stop_restart_and_automatic_restart() {
    let fx = Fixture::new("unit-requires", []);
    let log = fx.arg("log");
    let unit = |name: &str, extra: &str| {
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Unit]\n{extra}[Service]\n\
                 ExecStart=/bin/sh -c 'echo {name} >> {log}; exec sleep 1000'\n"
            ),
        ));
    };
    // db is ready only once its ExecStartPost= has logged, 300 ms in.
    unit(
        "db",
        &format!(
            "[Service]\nRestart=always\nRestartSec=100ms\n\
             ExecStartPost=/bin/sh -c 'sleep 0.3; echo db-ready >> {log}'\n"
        ),
    );
    unit("app", "Requires=db.service\nAfter=db.service\n");
    unit("side", "Wants=db.service\nAfter=db.service\n");
    let mut t = fx.start(&[]);
    let first = t.wait_lines("log", 4);
    let ends = |lines: &[String]| lines[lines.len() - 3..].to_vec();
    t.check_eq(
        first[..2].to_vec(),
        vec!["db".to_string(), "db-ready".into()],
        "start",
    );

    // An automatic restart (db killed, Restart=always) restarts app.
    t.ctl_ok(&["signal", "KILL", "db"]);
    let lines = t.wait_lines("log", 7);
    let want = vec!["db".to_string(), "db-ready".into(), "app".into()];
    t.check_eq(ends(&lines), want.clone(), "after db's automatic restart");
    // An explicit restart too.
    t.ctl_ok(&["restart", "db"]);
    let lines = t.wait_lines("log", 10);
    t.check_eq(ends(&lines), want, "after `restart db`");
    t.check_eq(
        lines.iter().filter(|l| *l == "side").count(),
        1,
        "times side (Wants=) started",
    );
    // A stop stops app; side stays.
    t.ctl_ok(&["down", "db"]);
    t.ctl_ok(&["wait", "down", "db", "app", "--timeout", "5s"]);
    let r = systemctl(&fx, &["is-active", "side"]);
    t.check_eq(r.1.as_str(), "active\n", "side after `down db`");
    t.term_expect(0);
}

/// StandardOutput=, StandardError=: a file (stderr follows stdout by
/// default) created 0644, append: and truncate:, null, the journal (tend's
/// output); a file that cannot be opened, a FIFO (which would block tend)
/// or a device is one error line for that service while the rest run.
#[test]
fn standard_output_and_error_go_to_files() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(
        "unit-output",
        [file("app", "old\n"), file("trunc", "stale line\n")],
    );
    let status = Command::new("mkfifo").arg(fx.path("fifo")).status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        panic!("mkfifo failed: {status:?}");
    }
    let unit = |name: &str, lines: &str, say: &str| {
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\n{lines}\
                 ExecStart=/bin/sh -c 'echo {say}-out; echo {say}-err >&2; exec sleep 1000'\n"
            ),
        ));
    };
    let t_ = fx.arg("");
    unit("one", &format!("StandardOutput=file:{t_}/out\n"), "one");
    let two = format!("StandardOutput=append:{t_}/app\nStandardError=truncate:{t_}/trunc\n");
    unit("two", &two, "two");
    unit("quiet", "StandardOutput=null\n", "quiet");
    unit("jour", "StandardOutput=journal\n", "jour");
    unit("bad", &format!("StandardOutput=file:{t_}/nodir/x\n"), "bad");
    unit("fifo", &format!("StandardError=file:{t_}/fifo\n"), "fifo");
    unit("dev", "StandardError=file:/dev/zero\n", "dev");
    let mut t = fx.start(&[]);
    t.wait_lines("out", 2);
    t.wait_lines("app", 2);
    t.wait_lines("trunc", 1);
    t.wait_for("jour's output", |t| t.stdout().contains("jour-out"));
    t.wait_stderr("dev refused", |l| l.contains("dev: cannot open"));
    t.wait_stderr("fifo refused", |l| l.contains("fifo: cannot open"));
    t.check_eq(
        fx.lines("out"),
        vec!["one-out".into(), "one-err".into()],
        "out",
    );
    t.check_eq(fx.lines("app"), vec!["old".into(), "two-out".into()], "app");
    t.check_eq(fx.lines("trunc"), vec!["two-err".into()], "trunc");
    let mode = std::fs::metadata(fx.path("out")).map(|m| m.permissions().mode() & 0o777);
    t.check_eq(mode.ok(), Some(0o644), "mode of a created file");
    let (out, err) = (t.stdout(), t.stderr());
    t.check(
        !out.contains("quiet") && !err.contains("quiet"),
        "null was shown",
    );
    t.check(err.contains("jour-err"), "jour's stderr is not tend's");
    for (name, what) in [
        ("bad", "nodir/x: No such file"),
        ("fifo", "fifo: No such device or address"),
        ("dev", "/dev/zero: not a regular file or /dev/null"),
    ] {
        let lines: Vec<&str> = (err.lines())
            .filter(|l| l.contains(&format!("{name}: cannot open")))
            .collect();
        t.check(
            lines.len() == 1 && lines[0].contains(what),
            format!("{name}: one error line with {what:?}: {lines:?}"),
        );
    }
    t.check(!err.contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// KillMode=: a main process that outlives TERM by 0.5 s and a child in
/// its group that exits on TERM, stopped with a 300 ms grace:
/// control-group signals both, SIGKILL at the grace; mixed signals the
/// main process, SIGKILL to both; process signals and kills the main
/// process only; none signals it only, never a SIGKILL.
#[test]
fn kill_mode_chooses_who_is_signalled_and_killed() {
    let fx = Fixture::new(
        "unit-killmode",
        [crate::harness::exe(
            "svc",
            "export T; name=$1\n\
             sh -c 'trap \"echo $0 child TERM >> $T/log; exit 0\" TERM; while :; do sleep 0.05; done' \"$name\" &\n\
             echo $! > \"$T/$name.child\"\n\
             trap 'echo \"$name main TERM\" >> \"$T/log\"; sleep 0.5; echo \"$name main done\" >> \"$T/log\"; exit 0' TERM\n\
             echo \"$name up\" >> \"$T/log\"\n\
             while :; do sleep 0.05; done\n",
        )],
    );
    let modes = ["control-group", "mixed", "process", "none"];
    for m in modes {
        fx.write(file(
            &format!("services/{m}.service"),
            &format!(
                "[Service]\nKillMode={m}\nTimeoutStopSec=300ms\nExecStart={} {m}\n",
                fx.arg("svc")
            ),
        ));
    }
    let mut t = fx.start(&[]);
    t.wait_lines("log", 4);
    for m in modes {
        t.wait_file(&format!("{m}.child"));
    }
    t.ctl_ok(&["down", "control-group", "mixed", "process", "none"]);
    let mut wait = vec!["wait", "down", "--timeout", "5s"];
    wait.extend(modes);
    t.ctl_ok(&wait);
    let log = fx.lines("log");
    let has = |l: String| log.contains(&l);
    // (mode, child got TERM, main outlived the grace, child still alive)
    let want = [
        ("control-group", true, false, false),
        ("mixed", false, false, false),
        ("process", false, false, true),
        ("none", false, true, true),
    ];
    for (m, child_term, main_done, child_alive) in want {
        let child = fx.read(&format!("{m}.child")).unwrap_or_default();
        let seen = (
            has(format!("{m} main TERM")),
            has(format!("{m} child TERM")),
            has(format!("{m} main done")),
            t.find_ns_pid(child.trim()).is_some(),
        );
        t.check_eq(
            seen,
            (true, child_term, main_done, child_alive),
            &format!("{m}: (main TERM, child TERM, main done, child alive)"),
        );
    }
    t.check(!t.stderr().contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// TimeoutStartSec=: a Type=notify unit that never sends READY=1 has
/// failed to start at its timeout (stopped, then Restart= decides), where
/// a service dir's readiness may take its time.
#[test]
fn timeout_start_fails_a_unit_not_ready_in_time() {
    let fx = Fixture::new("unit-timeout-start", []);
    let log = fx.arg("log");
    fx.write(file(
        "services/slow.service",
        &format!(
            "[Service]\nType=notify\nTimeoutStartSec=300ms\n\
             ExecStart=/bin/sh -c 'echo run >> {log}; exec sleep 1000'\n"
        ),
    ));
    let mut t = fx.start(&[]);
    let started = std::time::Instant::now();
    t.wait_stderr("the failed start", |l| {
        l == "tend: error: slow: not ready within 300ms: failed start"
    });
    t.check_secs(started.elapsed(), 0.2, 3.0, "failed start after");
    t.wait_stderr("not restarted", |l| {
        l == "tend: error: slow: not restarting"
    });
    let r = systemctl(&fx, &["is-failed", "slow"]);
    t.check_eq(r.0, 0, "is-failed slow");
    t.check_eq(fx.lines("log").len(), 1, "runs");
    t.check(!t.stderr().contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// ExecStartPost=: runs once the main process is up (with $MAINPID), and
/// the unit is ready, releasing its After= dependents, only once it
/// exited 0; its failure without `-` is a failed start (stopped), with
/// `-` nothing.
#[test]
fn exec_start_post_runs_once_up_and_gates_readiness() {
    let fx = Fixture::new("unit-start-post", []);
    let log = fx.arg("log");
    let unit = |name: &str, lines: &str| {
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\n{lines}\
                 ExecStart=/bin/sh -c 'echo {name} $$$$ >> {log}; exec sleep 1000'\n"
            ),
        ));
    };
    unit(
        "web",
        &format!("ExecStartPost=/bin/sh -c 'sleep 0.3; echo post $MAINPID >> {log}'\n"),
    );
    unit("app", "[Unit]\nAfter=web.service\n[Service]\n");
    unit("bad", "ExecStartPost=/bin/false\n");
    unit("dash", "ExecStartPost=-/bin/false\n");
    let mut t = fx.start(&[]);
    t.wait_stderr("bad's failed start", |l| {
        l.starts_with("tend: error: bad[")
            && l.ends_with("]: ExecStartPost exited with status 1: failed start")
    });
    let lines = t.wait_lines("log", 5);
    let at = |w: &str| lines.iter().position(|l| l.starts_with(w));
    t.check(
        at("web ") < at("post ") && at("post ") < at("app "),
        format!("app started before web's ExecStartPost ended: {lines:?}"),
    );
    let pid = |w: &str| lines.iter().find_map(|l| l.strip_prefix(w));
    t.check_eq(pid("web "), pid("post "), "$MAINPID");
    let r = systemctl(&fx, &["is-active", "web", "app", "bad", "dash"]);
    t.check_eq(
        r.1.as_str(),
        "active\nactive\nfailed\nactive\n",
        "is-active: web app bad dash",
    );
    t.check(!t.stderr().contains("ignored"), "a directive was ignored");
    t.term_expect(0);
}

/// The main process says READY=1 (from its own pid), then sleeps.
const READY_THEN_SLEEP: &str = "exec python3 -c 'import os, socket\n\
     s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
     s.connect(os.environ[\"NOTIFY_SOCKET\"])\n\
     s.send(b\"READY=1\")\n\
     os.execv(\"/bin/sleep\", [\"sleep\", \"1000\"])'\n";

/// NotifyAccess=: READY=1 from the main process counts with the default
/// (main) for Type=notify; from a child of it only with `all`; with `none`
/// not even the main process's: those units fail to start at their
/// TimeoutStartSec=, with one warning naming why.
#[test]
fn notify_access_says_whose_ready_counts() {
    let fx = Fixture::new(
        "unit-notify-access",
        [
            crate::harness::notify_py(),
            crate::harness::exe("main-sends", READY_THEN_SLEEP),
            crate::harness::exe(
                "child-sends",
                "python3 \"$T/notify.py\" READY=1\nexec sleep 1000\n",
            ),
        ],
    );
    let units = [
        ("main", "", "main-sends"),
        ("child", "", "child-sends"),
        ("all", "NotifyAccess=all\n", "child-sends"),
        ("nobody", "NotifyAccess=none\n", "main-sends"),
    ];
    for (name, extra, exe) in units {
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\nType=notify\nTimeoutStartSec=1s\n{extra}ExecStart={}\n",
                fx.arg(exe)
            ),
        ));
    }
    let mut t = fx.start(&[]);
    for name in ["main", "all"] {
        t.wait_stderr("ready", |l| l == format!("tend: {name}: ready"));
    }
    for (name, why) in [
        ("child", "not the main process (NotifyAccess=main)"),
        ("nobody", "NotifyAccess=none"),
    ] {
        t.wait_stderr("ignored", |l| {
            l.starts_with(&format!("tend: warning: {name}: sd_notify from pid "))
                && l.ends_with(why)
        });
        t.wait_stderr("failed start", |l| {
            l == format!("tend: error: {name}: not ready within 1000ms: failed start")
        });
    }
    let err = t.stderr();
    t.check(
        !err.contains("child: ready") && !err.contains("nobody: ready"),
        "ready",
    );
    t.check(
        !err.contains("service: ignored: "),
        "a directive was ignored",
    );
    t.term_expect(0);
}

/// WatchdogSec=: a unit that said READY=1 and never pings is stopped at
/// its watchdog; then its Restart= decides, as systemd's: `no` leaves it
/// failed, `on-watchdog` brings it back.
#[test]
fn watchdog_failure_follows_restart() {
    let fx = Fixture::new(
        "unit-watchdog",
        [crate::harness::exe(
            "ready-once",
            &format!("echo x >> \"$T/start-$1\"\n{READY_THEN_SLEEP}"),
        )],
    );
    for (name, restart) in [("once", "no"), ("again", "on-watchdog")] {
        fx.write(file(
            &format!("services/{name}.service"),
            &format!(
                "[Service]\nType=notify\nWatchdogSec=300ms\nRestart={restart}\n\
                 RestartSec=100ms\nExecStart={} {name}\n",
                fx.arg("ready-once")
            ),
        ));
    }
    let mut t = fx.start(&[]);
    t.wait_stderr("once stopped", |l| {
        l == "tend: warning: once: no WATCHDOG=1 within 300ms, stopping it"
    });
    t.wait_stderr("once failed", |l| l == "tend: error: once: not restarting");
    t.wait_for("again started 3 times", |_| {
        fx.lines("start-again").len() >= 3
    });
    let status = t.ctl_ok(&["status", "once"]);
    t.check(
        status
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("failed")),
        format!("once not failed:\n{status}"),
    );
    t.check_eq(fx.lines("start-once").len(), 1, "starts of once");
    t.term_expect(0);
}
