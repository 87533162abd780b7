//! SPEC §7: tend under a service manager. The test plays the manager: it
//! binds the datagram socket named in tend's NOTIFY_SOCKET and reads what
//! arrives (READY, STATUS, RELOADING, STOPPING, EXIT_STATUS, WATCHDOG), or
//! hands tend a listening socket as fd 3 with LISTEN_FDS, LISTEN_FDNAMES
//! and LISTEN_PID=1 (tend is PID 1 of its namespace), as podman does.

use crate::harness::{connect_many, exe, file, hup, polite, Fixture};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the manager socket received, with the time each datagram came.
pub(crate) struct Manager {
    pub(crate) path: String,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Manager {
    pub(crate) fn bind(fx: &Fixture) -> Manager {
        let path = fx.path("manager.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the manager socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with the test process; a read timeout only loops.
            loop {
                if let Ok(n) = sock.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock().unwrap().push((Instant::now(), text));
                }
            }
        });
        Manager {
            path: path.to_string_lossy().into_owned(),
            got,
        }
    }

    pub(crate) fn all(&self) -> Vec<(Instant, String)> {
        self.got.lock().unwrap().clone()
    }

    /// The first datagram holding `line` (a whole line), with its time.
    pub(crate) fn first(&self, line: &str) -> Option<(Instant, String)> {
        self.all()
            .into_iter()
            .find(|(_, m)| m.lines().any(|l| l == line))
    }

    pub(crate) fn count(&self, line: &str) -> usize {
        self.all()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == line))
            .count()
    }
}

/// A notify service that says READY=1 after `delay`, writing the time it
/// did to `$T/ready-NAME` just before.
fn slow_notify(name: &str, delay: &str) -> String {
    format!(
        "sleep {delay}\n\
         touch \"$T/ready-{name}\"\n\
         exec python3 -c '\n\
import os, socket, time\n\
a = os.environ[\"NOTIFY_SOCKET\"]\n\
a = \"\\0\" + a[1:] if a.startswith(\"@\") else a\n\
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", a)\n\
time.sleep(1000)\n'\n"
    )
}

#[test]
fn ready_after_the_slowest_service_then_stopping_and_exit_status() {
    let fx = Fixture::new(
        "manager-ready",
        [
            exe("services/db/run", &slow_notify("db", "0.6")),
            file("services/db/service.toml", "ready = \"notify\"\n"),
            exe("services/web/run", &polite("web")),
        ],
    );
    let m = Manager::bind(&fx);
    let mut t = fx.start_env(&[("NOTIFY_SOCKET", &m.path)], &[]);
    t.wait_for("READY=1 at the manager", |_| m.first("READY=1").is_some());
    let (ready_at, ready_msg) = m.first("READY=1").unwrap();
    let db_ready = std::fs::metadata(fx.path("ready-db"))
        .and_then(|md| md.modified())
        .expect("db said ready");
    let since_db = std::time::SystemTime::now()
        .duration_since(db_ready)
        .unwrap_or_default();
    let since_ready = ready_at.elapsed();
    t.check(
        since_ready <= since_db,
        format!("READY=1 reached the manager {since_ready:?} ago, before db was ready ({since_db:?} ago)"),
    );
    t.check(
        ready_msg.contains("STATUS=2/2 ready"),
        format!("READY=1 came with {ready_msg:?}"),
    );
    t.check(
        m.all().iter().any(|(_, s)| s.contains("waiting for db")),
        format!("no STATUS= named what tend waited for: {:?}", m.all()),
    );
    let sent = t.term_expect(0);
    let stopping = m.first("STOPPING=1");
    t.check(
        stopping.as_ref().is_some_and(|(at, _)| *at >= sent),
        format!("STOPPING=1 after TERM: {:?}", m.all()),
    );
    t.wait_for("EXIT_STATUS=0", |_| m.first("EXIT_STATUS=0").is_some());
    t.check(m.count("READY=1") == 1, "READY=1 sent more than once");
}

#[test]
fn reload_is_reloading_then_ready_again() {
    let fx = Fixture::new("manager-reload", [exe("services/a/run", &polite("a"))]);
    let m = Manager::bind(&fx);
    let mut t = fx.start_env(&[("NOTIFY_SOCKET", &m.path)], &[]);
    t.wait_for("READY=1", |_| m.first("READY=1").is_some());
    hup(&mut t, 1);
    t.wait_for("a second READY=1", |_| m.count("READY=1") == 2);
    let all = m.all();
    let reloading = all.iter().position(|(_, s)| s.contains("RELOADING=1"));
    let second_ready = all
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| s.lines().any(|l| l == "READY=1"))
        .nth(1)
        .map(|(i, _)| i);
    t.check(
        reloading.is_some() && reloading < second_ready,
        format!("RELOADING=1 then READY=1 expected: {all:?}"),
    );
    t.check(
        all.iter()
            .any(|(_, s)| s.contains("RELOADING=1") && s.contains("MONOTONIC_USEC=")),
        "RELOADING=1 without MONOTONIC_USEC=",
    );
    t.term_expect(0);
}

#[test]
fn watchdog_pings_at_half_the_interval_unless_meant_for_another_pid() {
    let fx = Fixture::new("manager-watchdog", [exe("services/a/run", &polite("a"))]);
    let m = Manager::bind(&fx);
    let mut t = fx.start_env(
        &[("NOTIFY_SOCKET", &m.path), ("WATCHDOG_USEC", "400000")],
        &[],
    );
    t.wait_file("up-a");
    std::thread::sleep(Duration::from_millis(1500));
    let n = m.count("WATCHDOG=1");
    t.check(
        n >= 3,
        format!("{n} WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=400000"),
    );
    t.term_expect(0);

    let fx = Fixture::new(
        "manager-watchdog-other",
        [exe("services/a/run", &polite("a"))],
    );
    let m = Manager::bind(&fx);
    let mut t = fx.start_env(
        &[
            ("NOTIFY_SOCKET", &m.path),
            ("WATCHDOG_USEC", "400000"),
            ("WATCHDOG_PID", "4242"),
        ],
        &[],
    );
    t.wait_file("up-a");
    std::thread::sleep(Duration::from_millis(1000));
    let n = m.count("WATCHDOG=1");
    t.check(n == 0, format!("{n} WATCHDOG=1 meant for pid 4242"));
    t.term_expect(0);
}

/// A python server on fd 3 (sd_listen_fds) that answers `NAME` to each
/// connection and exits after `per_run` of them: it crash-restarts under
/// load, and the connections made meanwhile wait in the backlog.
fn fd3_server(per_run: usize) -> String {
    // A raw string: the loop body's indentation matters to python.
    let py = r#"
import socket
s = socket.socket(fileno=3)
for _ in range(PER_RUN):
    c, _ = s.accept()
    c.sendall(b"web\n")
    c.close()
raise SystemExit(1)
"#;
    format!(
        "echo \"$LISTEN_FDS $LISTEN_FDNAMES\" > \"$T/env-web\"\nexec python3 -c '{}'\n",
        py.replace("PER_RUN", &per_run.to_string())
    )
}

#[test]
fn a_socket_from_the_manager_starts_an_on_demand_service_and_loses_no_connection() {
    let fx = Fixture::new(
        "manager-fds",
        [
            exe("services/web/run", &fd3_server(100)),
            file(
                "services/web/service.toml",
                "listen = [\"fd:web\"]\non-demand = true\nrestart-delay = \"10ms\"\nrestart-delay-max = \"20ms\"\n",
            ),
        ],
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut t = fx.start_with_fds(
        &[
            ("LISTEN_FDS", "1"),
            ("LISTEN_FDNAMES", "web"),
            ("LISTEN_PID", "1"),
        ],
        &[listener.as_raw_fd()],
        &[],
    );
    drop(listener); // tend holds it now
    let status = t.ctl_ok(&["status", "web"]);
    t.check(
        status.contains("listening") && status.contains("fd:web (from tend's manager)"),
        format!("status before any connection: {status}"),
    );
    std::thread::sleep(Duration::from_millis(200));
    t.check(
        !fx.exists("env-web"),
        "web started before the first connection",
    );
    let (ok, refused, other) = connect_many(port, 1000, "web\n");
    eprintln!("1000 connections through restarts: {ok} answered, {refused} refused, {other} other");
    t.check(
        ok == 1000,
        format!("{ok} answered, {refused} refused, {other} other"),
    );
    let env = t.wait_file("env-web");
    t.check_eq(
        env.as_str(),
        "1 web",
        "the service's LISTEN_FDS and LISTEN_FDNAMES",
    );
    let status = t.ctl_ok(&["status", "web"]);
    t.check(status.contains("web  "), format!("status: {status}"));
    t.term_expect(0);
}

#[test]
fn unclaimed_sockets_are_closed_with_a_warning_and_unknown_names_are_errors() {
    let fx = Fixture::new(
        "manager-unclaimed",
        [
            exe("services/good/run", &polite("good")),
            exe("services/bad/run", &polite("bad")),
            file("services/bad/service.toml", "listen = [\"fd:nope\"]\n"),
        ],
    );
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = a.local_addr().unwrap().port();
    let mut t = fx.start_with_fds(
        &[
            ("LISTEN_FDS", "1"),
            ("LISTEN_FDNAMES", "spare"),
            ("LISTEN_PID", "1"),
        ],
        &[a.as_raw_fd()],
        &[],
    );
    drop(a);
    t.wait_file("up-good");
    let warn = t.wait_stderr("a warning naming the unclaimed socket", |l| {
        l.contains("fd 3 (spare)") && l.contains("no service claims it")
    });
    let err = t.wait_stderr("an error for fd:nope", |l| l.contains("fd:nope"));
    t.check(
        err.contains("services/bad/service.toml") && err.contains("LISTEN_FDNAMES: spare"),
        format!("error line: {err}"),
    );
    t.check(!fx.exists("up-bad"), "bad started without its socket");
    // Closed: nobody accepts on that port any more.
    let refused = TcpStream::connect(("127.0.0.1", port))
        .map(|mut c| {
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let _ = c.write_all(b"x");
            let mut b = [0u8; 1];
            matches!(c.read(&mut b), Ok(0) | Err(_))
        })
        .unwrap_or(true);
    t.check(refused, format!("port {port} still accepts after {warn}"));
    t.term_expect(0);
}

#[test]
fn an_abstract_notify_socket_gets_ready_too() {
    use std::os::linux::net::SocketAddrExt;
    let fx = Fixture::new("manager-abstract", [exe("services/a/run", &polite("a"))]);
    let name = format!("tend-it-manager-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).expect("bind an abstract socket");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut t = fx.start_env(&[("NOTIFY_SOCKET", &format!("@{name}"))], &[]);
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a datagram within 20 s");
    let mut got = String::from_utf8_lossy(&buf[..n]).into_owned();
    while !got.lines().any(|l| l == "READY=1") {
        let n = sock.recv(&mut buf).expect("READY=1 within 20 s");
        got = String::from_utf8_lossy(&buf[..n]).into_owned();
    }
    t.check(
        got.contains("STATUS=1/1 ready"),
        format!("READY=1 came with {got:?}"),
    );
    t.term_expect(0);
}

/// SPEC §3: the real-time signals other than RTMIN+3 are forwarded like
/// USR1: without a main command, to every service.
#[test]
fn a_realtime_signal_reaches_every_service() {
    let svc = |n: &str| {
        format!(
            "trap 'echo rt >> \"$T/rt-{n}\"' 39\n\
             echo $$ > \"$T/up-{n}\"\n\
             while :; do sleep 0.05; done\n"
        )
    };
    let fx = Fixture::new(
        "manager-rt",
        [
            exe("services/a/run", &svc("a")),
            exe("services/b/run", &svc("b")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    t.signal("RTMIN+5");
    t.wait_file("rt-a");
    t.wait_file("rt-b");
    t.check(
        t.stderr().lines().all(|l| !l.contains("stopping")),
        "RTMIN+5 stopped tend",
    );
    t.term_expect(0);
}

/// A oneshot unit with RemainAfterExit=yes is up and ready once it exited
/// 0, with no process: the manager's READY=1 must count it as `check` does
/// (the summary once asked for a running process and never sent READY=1).
#[test]
fn a_remaining_oneshot_counts_as_ready_for_the_manager() {
    let fx = Fixture::new(
        "manager-oneshot",
        [
            exe("services/a/run", &polite("a")),
            file(
                "services/setup.service",
                "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
            ),
        ],
    );
    let m = Manager::bind(&fx);
    let mut t = fx.start_env(&[("NOTIFY_SOCKET", &m.path)], &[]);
    t.ctl_ok(&["wait", "ready", "setup", "a", "--timeout", "10s"]);
    t.ctl_ok(&["check"]);
    t.wait_for("READY=1 at the manager", |_| m.first("READY=1").is_some());
    t.term_expect(0);
}
