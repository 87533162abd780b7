//! Regression tests for ways PID 1 could be hung, leaked or turned against
//! its own services by ordinary inputs (issue 9): signals, reloads, the
//! watchdog, tend's own stdout. Each is named after what broke.

use crate::harness::{exe, file, hup, polite, stubborn, Fixture, Tend};

/// An sd_notify service in Python: READY=1 at once, then WATCHDOG=1 every
/// 100 ms until SIGTERM, which it ignores: from then on it is silent.
const PINGER: &str = r#"exec python3 -c '
import os, signal, socket, sys, time
t = sys.argv[1]
pinging = [True]
def term(*_):
    pinging[0] = False
    open(t + "/term-wd", "w").write("x")
signal.signal(signal.SIGTERM, term)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
open(t + "/start-wd", "a").write("x\n")
s.sendto(b"READY=1", addr)
while True:
    if pinging[0]:
        s.sendto(b"WATCHDOG=1", addr)
    time.sleep(0.1)
' "$T"
"#;

// Symptom: SIGQUIT without a main command killed the services, which were
// then restarted (finish scripts and all), and tend never exited.
#[test]
fn quit_kills_everything_and_exits_131() {
    let fx = Fixture::new(
        "quit",
        [
            exe(
                "services/a/run",
                "echo $$ >> \"$T/start-a\"\nsleep 1000 &\nwait\n",
            ),
            exe("services/a/finish", "echo $1 >> \"$T/finish-a\"\n"),
            exe("services/b/run", &stubborn("b")),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    t.wait_file("start-a");
    t.wait_file("up-b");
    let sent = t.signal("QUIT");
    let code = t.wait_exit();
    t.check_eq(code, 131, "exit code after SIGQUIT");
    t.check_secs(t.exited_at() - sent, 0.0, 3.0, "SIGQUIT to exit");
    t.check_eq(fx.lines("start-a").len(), 1, "starts of a");
    t.check(
        !fx.exists("finish-a"),
        "finish ran on an immediate shutdown",
    );
}

// Symptom: a watchdog timeout while a service was being stopped restarted
// it, so a service that stops pinging on TERM came back and shutdown never
// ended.
#[test]
fn watchdog_does_not_bring_back_a_service_being_stopped() {
    let fx = Fixture::new(
        "watchdog-stop",
        [
            exe("services/wd/run", PINGER),
            file(
                "services/wd/service.toml",
                "ready = \"notify\"\nwatchdog = \"300ms\"\nstop-grace = \"1500ms\"\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("start-wd");
    let r = t.ctl(&["wait", "ready", "wd", "--timeout", "10s"]);
    t.check(r.code == 0, format!("wait ready: {r}"));
    // TERM is ignored and pings stop: the watchdog expires 300 ms into the
    // 1.5 s grace; the service must be SIGKILLed, not restarted.
    let sent = t.signal("TERM");
    let code = t.wait_exit();
    t.check_eq(code, 1, "exit code (wd had to be SIGKILLed)");
    t.check_secs(t.exited_at() - sent, 1.0, 6.0, "shutdown");
    t.check_eq(fx.lines("start-wd").len(), 1, "starts of wd");
}

// Symptom: tend's stdout closed by its reader (`tend | head`) made every
// write raise SIGPIPE in tend, which it forwarded to every service.
#[test]
fn sigpipe_from_a_closed_stdout_is_not_forwarded() {
    let fx = Fixture::new(
        "sigpipe",
        [
            exe(
                "services/victim/run",
                "trap 'echo pipe >> \"$T/pipe-victim\"' PIPE\n\
                 echo $$ > \"$T/up-victim\"\n\
                 while :; do sleep 1; done\n",
            ),
            exe(
                "services/talker/run",
                "i=0\nwhile :; do i=$((i+1)); echo \"line $i\"; echo $i > \"$T/count\"; sleep 0.02; done\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-victim");
    t.wait_for("talker output", |t| t.stdout().contains("talker | line 3"));
    t.close_stdout();
    let at_close: u64 = t.wait_file("count").trim().parse().unwrap_or(0);
    // Some 50 lines written into a closed pipe.
    t.wait_for("50 more lines from talker", |t| {
        let now: u64 = t
            .fixture()
            .read("count")
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0);
        now >= at_close + 50
    });
    t.check(
        !t.fixture().exists("pipe-victim"),
        "a service got the SIGPIPE tend caused itself",
    );
    t.term_expect(0);
}

// Symptom: a service removed by a reload while it waited for its `after`
// services was still started once they were ready, and crash-looped on its
// missing files.
#[test]
fn a_service_removed_while_waiting_for_after_is_never_started() {
    let fx = Fixture::new(
        "removed-held",
        [
            exe(
                "services/db/run",
                "echo $$ > \"$T/up-db\"\n\
                 while [ ! -e \"$T/go\" ]; do sleep 0.02; done\n\
                 echo >&3\n\
                 exec sleep 1000\n",
            ),
            file("services/db/notification-fd", "3\n"),
            exe("services/web/run", &polite("web")),
            file("services/web/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-db");
    fx.remove("services/web");
    hup(&mut t, 1);
    fx.write(file("go", ""));
    let r = t.ctl(&["wait", "ready", "db", "--timeout", "10s"]);
    t.check(r.code == 0, format!("wait ready db: {r}"));
    // One more reload: every log line of the turn that released db's
    // dependents is on stderr before this one's.
    hup(&mut t, 2);
    t.check(!fx.exists("up-web"), "the removed service was started");
    let err = t.stderr();
    t.check(
        !err.contains("web[") && !err.contains("cannot run"),
        "the removed service was started after its removal",
    );
    t.term_expect(0);
}

// Symptom: every service removed by a reload kept its pipes and notify
// socket open for ever: 4 fds per add/remove cycle, until accept() and
// pipe() failed.
#[test]
fn reloads_leak_no_fds() {
    let fx = Fixture::new(
        "reload-fds",
        [
            exe("services/keep/run", &polite("keep")),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-keep");
    t.wait_file("up-other");
    // A new name each cycle: a service re-added under its old name would
    // reuse its old slot.
    let mut reloads = 0;
    let mut cycles = 0;
    let mut cycle = |t: &mut Tend| {
        cycles += 1;
        let dir = format!("services/temp{cycles}");
        fx.write(exe(
            &format!("{dir}/run"),
            "echo $$ >> \"$T/up-temp\"\nexec sleep 1000\n",
        ));
        fx.write(file(&format!("{dir}/service.toml"), "ready = \"notify\"\n"));
        reloads += 1;
        hup(t, reloads);
        t.wait_lines("up-temp", cycles);
        fx.remove(&dir);
        reloads += 1;
        hup(t, reloads);
        t.wait_for("the removed service to be dropped", |t| {
            !t.fixture().ctl(&["status"]).out.contains("temp")
        });
    };
    cycle(&mut t); // the first cycle creates the notify dir and such
    let before = t.fd_count();
    for _ in 0..30 {
        cycle(&mut t);
    }
    // `status` stops showing a removed service a turn before tend drops its
    // fds: give it a moment. A leak (4 fds a cycle) would be 120 by now.
    let settle = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut after = t.fd_count();
    while after > before + 2 && std::time::Instant::now() < settle {
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = t.fd_count();
    }
    t.check(
        after <= before + 2,
        format!("tend's fds: {before} before 30 reload cycles, {after} after"),
    );
    t.term_expect(0);
}

/// A run script that sends READY=1 to $NOTIFY_SOCKET (path or abstract),
/// after writing the address it got to `$T/up-MARK`; a logger (`log`)
/// then reads its stdin, anything else sleeps.
fn notify_ready(mark: &str) -> String {
    format!(
        "exec python3 -c '\n\
import os, socket, sys, time\n\
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
a = os.environ[\"NOTIFY_SOCKET\"]\n\
a = \"\\0\" + a[1:] if a.startswith(\"@\") else a\n\
open(sys.argv[1] + \"/up-{mark}\", \"w\").write(a + \"\\n\")\n\
s.sendto(b\"READY=1\", a)\n\
sys.stdin.read() if \"{mark}\" == \"log\" else time.sleep(1000)\n\
' \"$T\"\n"
    )
}

// Symptom: `x/log` (the logger of x) and a service named `x_log` shared one
// notify socket path: the second bind replaced the first's socket.
#[test]
fn notify_sockets_of_x_log_and_x_underscore_log_do_not_collide() {
    let fx = Fixture::new(
        "notify-collide",
        [
            exe("services/x/run", "exec sleep 1000\n"),
            exe("services/x/log/run", &notify_ready("log")),
            file("services/x/log/service.toml", "ready = \"notify\"\n"),
            exe("services/x_log/run", &notify_ready("x_log")),
            file("services/x_log/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let a = t.wait_file("up-log");
    let b = t.wait_file("up-x_log");
    t.check(a != b, format!("both services got NOTIFY_SOCKET={a}"));
    let r = t.ctl(&["wait", "ready", "x/log", "x_log", "--timeout", "10s"]);
    t.check(r.code == 0, format!("wait ready: {r}"));
    t.term_expect(0);
}

// Symptom: a service whose name is over ~80 bytes could not get a notify
// socket (a unix socket address holds 107 bytes, path or abstract) and
// never started.
#[test]
fn a_service_with_a_200_byte_name_gets_a_notify_socket() {
    let name = "n".repeat(200);
    let fx = Fixture::new(
        "notify-long",
        [
            exe(&format!("services/{name}/run"), &notify_ready("long")),
            file(
                &format!("services/{name}/service.toml"),
                "ready = \"notify\"\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-long");
    let r = t.ctl(&["wait", "ready", &name, "--timeout", "10s"]);
    t.check(r.code == 0, format!("wait ready: {r}"));
    t.term_expect(0);
}

/// A service printing a numbered line every 20 ms.
fn counter() -> String {
    "i=0\nwhile :; do i=$((i+1)); echo \"n $i\"; sleep 0.02; done\n".to_string()
}

// Symptom: a `log/` added by a reload was handed tend's non-blocking read
// end and crash-looped on EAGAIN; a `log/` removed by a reload left its
// service writing into a pipe nobody read, until it stalled.
#[test]
fn reload_adds_and_removes_a_logger_without_losing_the_service_output() {
    let fx = Fixture::new(
        "reload-log",
        [
            exe("services/app/run", &counter()),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_for("app output", |t| t.stdout().contains("app | n 2"));
    fx.write(exe(
        "services/app/log/run",
        "echo $$ >> \"$T/start-log\"\nexec cat > \"$T/logged\"\n",
    ));
    hup(&mut t, 1);
    t.wait_for("20 lines through the new logger", |t| {
        t.fixture().lines("logged").len() >= 20
    });
    t.check_eq(fx.lines("start-log").len(), 1, "starts of the logger");

    fx.remove("services/app/log");
    hup(&mut t, 2);
    let shown = t.stdout().matches("app | n ").count();
    t.wait_for("app output on tend's stdout again", |t| {
        t.stdout().matches("app | n ").count() >= shown + 20
    });
    t.term_expect(0);
}

// SIGRTMIN+3 (37 as glibc and Docker number it) is systemd's halt, the
// STOPSIGNAL of images built for systemd: an orderly shutdown, as TERM.
#[test]
fn rtmin_plus_3_is_an_orderly_shutdown() {
    let fx = Fixture::new("rtmin3", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    let a = t.wait_file("up-a");
    t.signal("37");
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code after SIGRTMIN+3");
    let term = t.wait_file("term-a");
    t.check_eq(term, a, "pid that got TERM");
}

// The panic policy (README "Guarantees"): a panic, which tend is written
// never to have, is one line on stderr and exit 70, with the services
// gone with the namespace.
#[test]
fn a_panic_is_one_line_and_exit_70() {
    let fx = Fixture::new("panic", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start_env(&[("TEND_TEST_PANIC", "1")], &[]);
    let code = t.wait_exit();
    t.check_eq(code, 70, "exit code after a panic");
    let err = t.stderr();
    t.check(
        err.lines()
            .any(|l| l.starts_with("tend: BUG: ") && l.contains("TEND_TEST_PANIC")),
        "no `tend: BUG:` line naming the panic",
    );
}
