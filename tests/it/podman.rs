//! SPEC §7 end to end with real podman (Debian's, run as root): the image
//! is built FROM scratch by Docker (as in `docker.rs`) and moved over with
//! `docker save | podman load`. This machine's hard limits are below
//! podman's defaults, and there is no systemd to run healthcheck timers:
//! hence `--ulimit` and `--no-healthcheck` on every `podman run`.
//!
//! - `podman run --sdnotify=container` with NOTIFY_SOCKET naming the
//!   test's socket: podman hands the container a NOTIFY_SOCKET of its own
//!   and passes the container's READY=1 on; the test must get it only once
//!   the services in the container are ready.
//! - socket activation: a launcher binds a TCP socket, puts it on fd 3,
//!   sets LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID to its own pid and
//!   execs `podman run`; podman hands the socket to tend as fd 3 with
//!   LISTEN_PID=1, and an on-demand service inside answers every
//!   connection made to the host's port.
//!
//! Without podman, Docker, busybox-static or gcc each test says `SKIPPED:`
//! and passes; with `TEND_IT_NO_SKIP=1` (CI) it fails instead.

use crate::docker::{demo_image, describe, unique, TestImage};
use crate::harness::{connect_many, exe, file, skip, Fixture};
use crate::manager::Manager;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMITS: [&str; 5] = [
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=4096:4096",
    "--no-healthcheck",
];

/// False (after a `SKIPPED:` line) when podman is missing.
fn have_podman() -> bool {
    let ok = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "no podman: apt-get install podman".to_string();
        if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
            panic!("TEND_IT_NO_SKIP is set, but {why}");
        }
        skip(why);
    }
    ok
}

/// A Docker-built test image, also loaded into podman; removed from both
/// on drop.
struct PodmanImage {
    docker: TestImage,
}

impl PodmanImage {
    fn load(docker: TestImage) -> PodmanImage {
        let o = Command::new("sh")
            .args(["-c", "docker save \"$1\" | podman load", "sh", &docker.tag])
            .output()
            .expect("run docker save | podman load");
        if !o.status.success() {
            panic!("{}", describe("docker save | podman load", &o));
        }
        PodmanImage { docker }
    }

    fn name(&self) -> String {
        format!("localhost/{}", self.docker.tag)
    }
}

impl Drop for PodmanImage {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.name()])
            .output();
    }
}

/// A `podman run` in the background, stopped and removed on drop.
struct Podman {
    name: String,
    child: Child,
}

impl Podman {
    fn stop(&self) -> std::process::Output {
        Command::new("podman")
            .args(["stop", "-t", "10", &self.name])
            .output()
            .expect("run podman stop")
    }

    fn logs(&self) -> String {
        let o = Command::new("podman")
            .args(["logs", &self.name])
            .output()
            .expect("run podman logs");
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    }

    /// Waits (bounded) for `podman run` to end; its exit code.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", &self.name])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sdnotify_container_is_ready_only_once_its_services_are() {
    if !have_podman() {
        return;
    }
    let Some(demo) = demo_image() else { return };
    // Ready 3 s after it starts (s6 notification-fd: busybox has no
    // sd_notify client), so an early READY=1 cannot pass for a late one.
    let image = PodmanImage::load(TestImage::build(
        demo,
        "pm-notify",
        [
            exe(
                "services/slow/run",
                "sleep 3\necho >&3\necho slow: ready\nexec sleep 1000\n",
            ),
            file("services/slow/notification-fd", "3\n"),
            exe("services/web/run", "exec sleep 1000\n"),
        ],
    ));
    let fx = Fixture::new("pm-notify-host", []);
    let m = Manager::bind(&fx);
    let name = unique("pm-notify");
    let mut argv = vec!["run", "--rm", "--name", &name, "--sdnotify=container"];
    argv.extend(LIMITS);
    let image_name = image.name();
    argv.push(&image_name);
    let started = Instant::now();
    let child = Command::new("podman")
        .args(&argv)
        .env("NOTIFY_SOCKET", &m.path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run podman");
    let mut p = Podman { name, child };
    let deadline = Instant::now() + Duration::from_secs(40);
    while m.first("READY=1").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some((ready_at, _)) = m.first("READY=1") else {
        panic!(
            "no READY=1 from podman in 40 s: {:?}\n{}",
            m.all(),
            p.logs()
        );
    };
    let after = ready_at - started;
    eprintln!("podman --sdnotify=container: READY=1 {after:?} after podman run");
    assert!(
        after >= Duration::from_secs(3),
        "READY=1 {after:?} after podman run, before the slow service (3 s) was ready: {:?}",
        m.all()
    );
    assert!(
        p.logs().contains("slow: ready"),
        "READY=1 came, but slow never said ready:\n{}",
        p.logs()
    );
    let o = p.stop();
    assert!(o.status.success(), "{}", describe("podman stop", &o));
    assert_eq!(
        p.wait(),
        Some(0),
        "podman run's exit code after podman stop"
    );
    // Podman 4.3 (Debian 12) passes on only READY=1 and its own MAINPID;
    // later versions pass STOPPING=1 on too: check it where it comes.
    match m.first("STOPPING=1") {
        Some(_) => eprintln!("STOPPING=1 reached the host"),
        None => skip("STOPPING=1 at podman stop: this podman does not pass it on".to_string()),
    }
}

/// A C server for fd 3 (sd_listen_fds): answers `web\n` to each
/// connection and exits 1 after `argv[1]` of them, to restart under load.
/// Static, for a FROM-scratch image.
const FD3_SERVER: &str = r#"
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    for (int i = 0; i < n; i++) {
        int c = accept(3, 0, 0);
        if (c < 0) return 2;
        (void)!write(c, "web\n", 4);
        close(c);
    }
    return 1;
}
"#;

/// Binds a TCP socket, puts it on fd 3 with LISTEN_* naming it `web` and
/// the launcher's own pid, and execs `podman ARGS` (what systemd does for
/// a socket-activated Quadlet unit).
const LAUNCHER: &str = r#"
import os, socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1])))
l.listen(128)
if l.fileno() != 3:
    os.dup2(l.fileno(), 3)
    l.close()
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES="web", LISTEN_PID=str(os.getpid()))
os.execvp("podman", ["podman"] + sys.argv[2:])
"#;

#[test]
fn socket_activation_through_podman_reaches_an_on_demand_service() {
    if !have_podman() {
        return;
    }
    let Some(demo) = demo_image() else { return };
    let built = |fx: &Fixture| {
        let src = fx.path("fd3srv.c");
        std::fs::write(&src, FD3_SERVER).unwrap();
        let o = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(fx.path("services/web/fd3srv"))
            .arg(&src)
            .output();
        match o {
            Ok(o) if o.status.success() => {}
            other => panic!("gcc -static fd3srv.c: {other:?}"),
        }
    };
    let image = PodmanImage::load(TestImage::build_with(
        demo,
        "pm-sock",
        [
            exe("services/web/run", "exec ./fd3srv 100\n"),
            file(
                "services/web/service.toml",
                "listen = [\"fd:web\"]\non-demand = true\n\
                 restart-delay = \"10ms\"\nrestart-delay-max = \"20ms\"\n",
            ),
        ],
        built,
    ));
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let name = unique("pm-sock");
    let image_name = image.name();
    let mut argv = vec!["-c", LAUNCHER, &port, "run", "--rm", "--name", &name];
    argv.extend(LIMITS);
    argv.push(&image_name);
    let child = Command::new("python3")
        .args(&argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the launcher");
    let p = Podman { name, child };
    // The port is the launcher's from the start: a connection waits in its
    // backlog until tend, inside, starts the service. First, tend is up
    // and web only listens.
    let status = || {
        let o = Command::new("podman")
            .args(["exec", &p.name, "tend", "ctl", "status", "web"])
            .output()
            .expect("run podman exec");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while !status().contains("listening") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = status();
    assert!(
        before.contains("listening") && before.contains("fd:web (from tend's manager)"),
        "status of web before any connection: {before}\n{}",
        p.logs()
    );
    let t = Instant::now();
    let (ok, refused, other) = connect_many(port.parse::<u16>().unwrap(), 1000, "web\n");
    let restarts = p.logs().matches("restarting").count();
    eprintln!(
        "podman socket activation: 1000 connections in {:?}: {ok} answered, {refused} refused, \
         {other} other; {restarts} restarts of the service",
        t.elapsed()
    );
    assert_eq!((ok, refused, other), (1000, 0, 0), "{}", p.logs());
    assert!(restarts >= 9, "{restarts} restarts:\n{}", p.logs());
    let o = p.stop();
    assert!(o.status.success(), "{}", describe("podman stop", &o));
}
