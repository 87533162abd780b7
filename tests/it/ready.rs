//! Readiness and `after` ordering (SPEC §2, README "Readiness and order"):
//! a service that names another in `after` starts only once that one is
//! ready, whichever way readiness is signalled (s6 `notification-fd`,
//! sd_notify, a TCP port, a check command); a main command starts once the
//! services are ready, or at `--ready-timeout` with a warning; the sd_notify
//! watchdog restarts a service that stops pinging; unknown `after` names and
//! cycles are reported and those services are left out.
//!
//! Order is asserted on timestamps the services write themselves
//! (`date +%s%N`, or Python's `time.time_ns()`, both CLOCK_REALTIME): the
//! service that becomes ready writes `ready-NAME` just *before* it signals
//! readiness, the dependent writes `start-NAME` first thing, so a dependent
//! started too early has a start time before the ready time.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::{exe, file, free_port, polite, Entry, Fixture, Tend};

/// A dependent: records its start time, then idles until stopped.
fn dependent(name: &str) -> String {
    format!("date +%s%N >> \"$T/start-{name}\"\nexec sleep 1000\n")
}

/// An sd_notify client (sd_notify(3)): one datagram per message to the
/// AF_UNIX socket named in `$NOTIFY_SOCKET`, where a leading `@` means the
/// abstract namespace. Arguments: fixture dir, service name, seconds before
/// READY=1, how many WATCHDOG=1 to send then (every 100 ms; -1: forever).
/// Appends its start time to `start-NAME`, the time it declares itself
/// ready to `ready-NAME`, `$WATCHDOG_USEC` to `wd-NAME` and `$NOTIFY_SOCKET`
/// to `sock-NAME`.
const NOTIFY_PY: &str = r#"import os, socket, sys, time

def notify(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), addr)

t, name, delay, pings = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])

def mark(what, text):
    with open(os.path.join(t, what + "-" + name), "a") as f:
        f.write(text + "\n")

mark("start", str(time.time_ns()))
mark("wd", os.environ.get("WATCHDOG_USEC", "unset"))
mark("sock", os.environ["NOTIFY_SOCKET"])
time.sleep(delay)
mark("ready", str(time.time_ns()))
notify("READY=1\nSTATUS=serving")
sent = 0
while pings < 0 or sent < pings:
    time.sleep(0.1)
    notify("WATCHDOG=1")
    sent += 1
while True:
    time.sleep(1000)
"#;

fn notify_py() -> Entry {
    file("notify.py", NOTIFY_PY)
}

/// A `run` that starts the sd_notify client above.
fn notify_run(name: &str, delay: &str, pings: i32) -> String {
    format!("exec python3 \"$T/notify.py\" \"$T\" {name} {delay} {pings}\n")
}

/// The first line of marker `rel` as a nanosecond timestamp.
fn stamp(t: &mut Tend, rel: &str) -> u128 {
    let line = t.wait_file(rel);
    match line.trim().parse() {
        Ok(ns) => ns,
        Err(_) => t.fail(format!("{rel}: not a timestamp: {line:?}")),
    }
}

/// Checks that `dep` started after `db` said it was ready, and that `db`
/// took at least `min_delay` to get there (so the order is not luck).
fn check_started_after_ready(t: &mut Tend, db: &str, dep: &str, min_delay: f64) {
    let db_start = stamp(t, &format!("start-{db}"));
    let db_ready = stamp(t, &format!("ready-{db}"));
    let dep_start = stamp(t, &format!("start-{dep}"));
    t.check(
        dep_start > db_ready,
        format!(
            "{dep} started {:.3}s before {db} was ready",
            (db_ready - dep_start.min(db_ready)) as f64 / 1e9
        ),
    );
    let took = (db_ready - db_start) as f64 / 1e9;
    t.check(
        took >= min_delay,
        format!("{db} was ready after {took:.3}s, expected at least {min_delay}s"),
    );
}

/// Now, in the unit of `date +%s%N`.
fn wall_clock_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

#[test]
fn notification_fd_readiness_gates_an_after_dependent() {
    let fx = Fixture::new(
        "ready-nfd",
        [
            exe(
                "services/db/run",
                "date +%s%N > \"$T/start-db\"\n\
                 sleep 0.5\n\
                 date +%s%N > \"$T/ready-db\"\n\
                 echo >&3\n\
                 exec sleep 1000\n",
            ),
            file("services/db/notification-fd", "3\n"),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    check_started_after_ready(&mut t, "db", "app", 0.45);
    t.check_eq(fx.lines("start-app").len(), 1, "starts of app");
    t.term_expect(0);
}

#[test]
fn sd_notify_readiness_gates_an_after_dependent() {
    let fx = Fixture::new(
        "ready-notify",
        [
            notify_py(),
            exe("services/db/run", &notify_run("db", "0.5", 0)),
            file("services/db/service.toml", "ready = \"notify\"\n"),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    check_started_after_ready(&mut t, "db", "app", 0.45);
    let status = t.ctl_ok(&["status", "db"]);
    t.check(
        status
            .lines()
            .any(|l| l.starts_with("db ") && l.contains("ready")),
        format!("db is not shown ready:\n{status}"),
    );
    t.term_expect(0);
}

/// Where the notify socket cannot be created on disk (here: the control
/// socket's directory would have to be made under a regular file; in real
/// life a read-only /run), tend falls back to an abstract socket, given as
/// `@name` in `$NOTIFY_SOCKET`.
#[test]
fn sd_notify_falls_back_to_an_abstract_socket() {
    // Abstract names are shared by the whole network namespace: unique per
    // test process, so that two test runs at once do not collide.
    let db = format!("abs{}", std::process::id());
    let fx = Fixture::new(
        "ready-abstract",
        [
            notify_py(),
            file("notadir", ""),
            exe(&format!("services/{db}/run"), &notify_run(&db, "0.5", 0)),
            file(
                &format!("services/{db}/service.toml"),
                "ready = \"notify\"\n",
            ),
            exe("services/app/run", &dependent("app")),
            file(
                "services/app/service.toml",
                &format!("after = [\"{db}\"]\n"),
            ),
        ],
    );
    let control = fx.arg("notadir/control.sock");
    let mut t = fx.start(&["--control", &control]);
    check_started_after_ready(&mut t, &db, "app", 0.45);
    let sock = t.wait_file(&format!("sock-{db}"));
    t.check(
        sock.starts_with('@'),
        format!("NOTIFY_SOCKET is not abstract: {sock:?}"),
    );
    t.term_expect(0);
}

/// Two tends whose notify sockets both fall back to abstract addresses, in
/// one network namespace (containers of one Kubernetes pod, or
/// `--network host`), each with a notify service of the same name.
/// Symptom: the second tend cannot start its service ("cannot run
/// .../run: Address already in use") because the abstract name is
/// `tend-notify/PID/NAME` and PID is 1 in every container.
#[test]
fn abstract_notify_sockets_of_two_containers_do_not_collide() {
    let name = format!("twin{}", std::process::id());
    let fixture = |tag: &str| {
        Fixture::new(
            tag,
            [
                notify_py(),
                file("notadir", ""),
                exe(&format!("services/{name}/run"), &notify_run(&name, "0", 0)),
                file(
                    &format!("services/{name}/service.toml"),
                    "ready = \"notify\"\n",
                ),
                exe("services/app/run", &dependent("app")),
                file(
                    "services/app/service.toml",
                    &format!("after = [\"{name}\"]\n"),
                ),
            ],
        )
    };
    let (fx1, fx2) = (fixture("abstract-twin-1"), fixture("abstract-twin-2"));
    let (c1, c2) = (
        fx1.arg("notadir/control.sock"),
        fx2.arg("notadir/control.sock"),
    );
    let mut t1 = fx1.start(&["--control", &c1]);
    t1.wait_file("start-app");
    let mut t2 = fx2.start(&["--control", &c2]);
    t2.wait_file("start-app");
    t2.term_expect(0);
    t1.term_expect(0);
}

/// The same with `socat` as the sd_notify client, as a shell service would
/// do it (socat is installed by .ci/run).
#[test]
fn sd_notify_readiness_from_socat_gates_an_after_dependent() {
    if !on_path("socat") {
        eprintln!("SKIPPED sd_notify_readiness_from_socat_gates_an_after_dependent: no socat");
        return;
    }
    let fx = Fixture::new(
        "ready-socat",
        [
            exe(
                "services/db/run",
                "date +%s%N > \"$T/start-db\"\n\
                 sleep 0.5\n\
                 date +%s%N > \"$T/ready-db\"\n\
                 printf 'READY=1\\n' | socat -u - \"UNIX-SENDTO:$NOTIFY_SOCKET\"\n\
                 exec sleep 1000\n",
            ),
            file("services/db/service.toml", "ready = \"notify\"\n"),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    check_started_after_ready(&mut t, "db", "app", 0.45);
    t.term_expect(0);
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// A TCP server: waits `delay` seconds, writes `ready-NAME`, then listens
/// on 127.0.0.1:PORT and accepts forever.
const TCP_PY: &str = r#"import os, socket, sys, time
t, name, port, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with open(os.path.join(t, "start-" + name), "a") as f:
    f.write(str(time.time_ns()) + "\n")
time.sleep(delay)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
with open(os.path.join(t, "ready-" + name), "a") as f:
    f.write(str(time.time_ns()) + "\n")
s.listen(16)
while True:
    s.accept()[0].close()
"#;

#[test]
fn tcp_readiness_gates_an_after_dependent() {
    let port = free_port();
    let fx = Fixture::new(
        "ready-tcp",
        [
            file("tcp.py", TCP_PY),
            exe(
                "services/db/run",
                &format!("exec python3 \"$T/tcp.py\" \"$T\" db {port} 0.5\n"),
            ),
            file(
                "services/db/service.toml",
                &format!("ready = {{ tcp = \"127.0.0.1:{port}\" }}\n"),
            ),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    check_started_after_ready(&mut t, "db", "app", 0.45);
    t.term_expect(0);
}

#[test]
fn command_readiness_gates_an_after_dependent() {
    let fx = Fixture::new(
        "ready-command",
        [
            exe(
                "services/db/run",
                "date +%s%N > \"$T/start-db\"\n\
                 sleep 0.5\n\
                 date +%s%N > \"$T/ready-db\"\n\
                 : > \"$T/db-ok\"\n\
                 exec sleep 1000\n",
            ),
            // Run with the service dir as cwd: counts its runs.
            exe(
                "services/db/check",
                "echo x >> \"$T/checks\"\n[ -e \"$T/db-ok\" ]\n",
            ),
            file(
                "services/db/service.toml",
                "ready = { command = \"./check\" }\n",
            ),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    check_started_after_ready(&mut t, "db", "app", 0.45);
    let checks = fx.lines("checks").len();
    t.check(
        checks >= 2,
        format!("the check ran {checks} time(s); it must have failed at least once first"),
    );
    t.term_expect(0);
}

// Regression: a check command that hung kept the service `starting` for
// ever (runit's sv gives ./check a time limit too). tend kills it at 5 s
// and tries again.
#[test]
fn hung_readiness_check_is_killed_and_retried() {
    let fx = Fixture::new(
        "ready-check-hangs",
        [
            exe("services/db/run", "exec sleep 1000\n"),
            // The first run of the check hangs; the next ones pass.
            exe(
                "services/db/check",
                "echo x >> \"$T/checks\"\n\
                 [ -e \"$T/hung-once\" ] && exit 0\n\
                 echo hung > \"$T/hung-once\"\n\
                 exec sleep 1000\n",
            ),
            file(
                "services/db/service.toml",
                "ready = { command = \"./check\" }\n",
            ),
            exe("services/app/run", &dependent("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("hung-once");
    let hung_at = Instant::now();
    t.wait_file("start-app");
    t.check_secs(
        hung_at.elapsed(),
        4.0,
        10.0,
        "app started after the hung check was killed",
    );
    t.check(
        fx.lines("checks").len() >= 2,
        "the check must have been run again",
    );
    t.wait_stderr("a warning about the hung check", |e| {
        e.contains("db: readiness check still running")
    });
    t.term_expect(0);
}

#[test]
fn dependency_cycle_is_reported_and_left_out() {
    let fx = Fixture::new(
        "after-cycle",
        [
            exe("services/a/run", &polite("a")),
            file("services/a/service.toml", "after = [\"b\"]\n"),
            exe("services/b/run", &polite("b")),
            file("services/b/service.toml", "after = [\"a\"]\n"),
            exe("services/c/run", &polite("c")),
        ],
    );
    let mut t = fx.start(&[]);
    let line = t.wait_stderr("a dependency cycle message", |l| l.contains("cycle"));
    t.check(
        line.contains("a -> b") || line.contains("b -> a"),
        format!("the cycle message does not name both services: {line:?}"),
    );
    t.wait_file("up-c");
    // a and b would have started with c; give them time to show up.
    thread::sleep(Duration::from_millis(500));
    for n in ["a", "b"] {
        t.check(
            !fx.exists(&format!("up-{n}")),
            format!("{n}, on a cycle, was started"),
        );
    }
    t.term_expect(0);
}

#[test]
fn unknown_after_name_is_reported_and_left_out() {
    let fx = Fixture::new(
        "after-unknown",
        [
            exe("services/a/run", &polite("a")),
            file("services/a/service.toml", "after = [\"nosuch\"]\n"),
            // Needs a, which cannot start: left out too.
            exe("services/b/run", &polite("b")),
            file("services/b/service.toml", "after = [\"a\"]\n"),
            exe("services/c/run", &polite("c")),
        ],
    );
    let mut t = fx.start(&[]);
    let line = t.wait_stderr("a message naming the unknown service", |l| {
        l.contains("nosuch")
    });
    t.check(
        line.contains("services/a"),
        format!("the message does not name the service with the bad after: {line:?}"),
    );
    t.wait_stderr("a message saying b is not started", |l| {
        l.contains("services/b") && l.contains("not started")
    });
    t.wait_file("up-c");
    thread::sleep(Duration::from_millis(500));
    for n in ["a", "b"] {
        t.check(
            !fx.exists(&format!("up-{n}")),
            format!("{n} was started although its after cannot be met"),
        );
    }
    t.term_expect(0);
}

#[test]
fn watchdog_restarts_a_service_that_stops_pinging() {
    let fx = Fixture::new(
        "watchdog",
        [
            notify_py(),
            // READY=1 at once, 3 pings, then silence.
            exe("services/quiet/run", &notify_run("quiet", "0", 3)),
            file(
                "services/quiet/service.toml",
                "ready = \"notify\"\nwatchdog = \"500ms\"\n",
            ),
            // Pings every 100 ms for ever.
            exe("services/pinger/run", &notify_run("pinger", "0", -1)),
            file(
                "services/pinger/service.toml",
                "ready = \"notify\"\nwatchdog = \"500ms\"\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("ready-quiet");
    let first = Instant::now();
    // 3 pings (0.3 s) + 0.5 s of silence: restarted about 0.8 s after its
    // start, and again 0.8 s later.
    t.wait_lines("start-quiet", 2);
    t.check_secs(
        first.elapsed(),
        0.0,
        5.0,
        "a second start of the quiet service",
    );
    // Long enough for the pinger to have missed its watchdog three times
    // over, had its pings not counted.
    t.wait_lines("start-quiet", 3);
    t.check_eq(
        fx.lines("start-pinger").len(),
        1,
        "starts of the service that keeps pinging",
    );
    let usec = t.wait_file("wd-quiet");
    t.check_eq(
        usec,
        "500000".to_string(),
        "WATCHDOG_USEC given to the service",
    );
    let err = t.stderr();
    t.check(
        err.lines()
            .any(|l| l.contains("quiet") && l.contains("WATCHDOG")),
        "no log line about the missed watchdog",
    );
    t.check(
        !err.lines()
            .any(|l| l.contains("pinger") && l.contains("WATCHDOG")),
        "the pinging service was reported as missing its watchdog",
    );
    t.term_expect(0);
}

#[test]
fn main_command_starts_once_services_are_ready() {
    let fx = Fixture::new(
        "main-after-ready",
        [
            notify_py(),
            exe("services/db/run", &notify_run("db", "0.5", 0)),
            file("services/db/service.toml", "ready = \"notify\"\n"),
            exe("main", "date +%s%N > \"$T/start-main\"\nexit 4\n"),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    let code = t.wait_exit();
    t.check_eq(code, 4, "exit code (the main command's)");
    check_started_after_ready(&mut t, "db", "main", 0.45);
}

// Regression: a TERM while the main command waited for readiness began the
// shutdown, yet the main command was still started at --ready-timeout,
// in the middle of stopping the services.
#[test]
fn term_while_waiting_for_readiness_never_starts_the_main_command() {
    let fx = Fixture::new(
        "main-never-started",
        [
            // Never ready, and slow to stop: shutdown outlasts the timeout.
            exe(
                "services/slow/run",
                "trap 'sleep 1.5; echo done > \"$T/term-slow\"; exit 0' TERM\n\
                 echo up > \"$T/up-slow\"\n\
                 while :; do sleep 0.1; done\n",
            ),
            file("services/slow/notification-fd", "3\n"),
            exe("main", "echo ran > \"$T/main-ran\"\n"),
        ],
    );
    let main = fx.arg("main");
    let mut t = fx.start(&["--ready-timeout", "700ms", "--", &main]);
    t.wait_file("up-slow");
    t.term_expect(0);
    t.check(fx.exists("term-slow"), "slow was not stopped gracefully");
    t.check(
        !fx.exists("main-ran"),
        "the main command ran during the shutdown",
    );
}

#[test]
fn main_command_starts_at_the_ready_timeout_with_a_warning() {
    let fx = Fixture::new(
        "main-ready-timeout",
        [
            // Has a notification-fd but never writes to it.
            exe(
                "services/never/run",
                "date +%s%N > \"$T/start-never\"\nexec sleep 1000\n",
            ),
            file("services/never/notification-fd", "3\n"),
            exe("services/fine/run", &polite("fine")),
            exe("main", "date +%s%N > \"$T/start-main\"\nexit 0\n"),
        ],
    );
    let main = fx.arg("main");
    let launched = wall_clock_ns();
    let mut t = fx.start(&["--ready-timeout", "500ms", "--", &main]);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code (the main command's)");
    stamp(&mut t, "start-never");
    let main_at = stamp(&mut t, "start-main");
    let waited = main_at.saturating_sub(launched) as f64 / 1e9;
    t.check(
        (0.5..5.0).contains(&waited),
        format!("main command started {waited:.3}s after tend, expected about 0.5s"),
    );
    let err = t.stderr();
    let warning = err
        .lines()
        .find(|l| l.contains("warning") && l.contains("ready"));
    match warning {
        Some(w) => t.check(
            w.contains("never") && !w.contains("fine"),
            format!("the warning should name exactly the service not ready: {w:?}"),
        ),
        None => t.fail("no warning about starting the main command before readiness"),
    }
}
