//! `tend ctl` against a live tend (SPEC §5, README "Control"): every verb,
//! the client's exit codes (0 ok, 1 negative answer / timeout / no
//! supervisor, 2 usage), the JSON status, the peer-credential check, and
//! malformed requests sent on the raw socket.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{exe, file, polite, tend_bin, CtlOut, Entry, Fixture, Tend};

/// A polite service that also records each USR1 in `$T/usr1-NAME`.
fn usr1_aware(name: &str) -> String {
    format!(
        "trap 'echo usr1 >> \"$T/usr1-{name}\"' USR1\n{}",
        polite(name)
    )
}

/// A service with a notification-fd that never says it is ready.
fn never_ready(name: &str) -> [Entry; 2] {
    [
        exe(
            &format!("services/{name}/run"),
            &format!("echo $$ > \"$T/up-{name}\"\nexec sleep 1000\n"),
        ),
        file(&format!("services/{name}/notification-fd"), "3\n"),
    ]
}

/// Checks a ctl result's exit code, failing with both dumps.
fn expect(t: &Tend, r: &CtlOut, code: i32) {
    if r.code != code {
        t.fail(format!("expected exit {code} from {r}"));
    }
}

/// The rows of a `status` table: NAME STATE PID UPTIME RESTARTS LAST EXIT.
fn table(t: &Tend, text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    t.check(
        header.split_whitespace().collect::<Vec<_>>()
            == ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT"],
        format!("status header: {header:?}"),
    );
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The state column of `name` in `status`.
fn state_of(t: &Tend, name: &str) -> String {
    let r = t.fixture().ctl(&["status", name]);
    expect(t, &r, 0);
    let out = r.out;
    let rows = table(t, &out);
    match rows.first() {
        Some(row) if rows.len() == 1 && row[0] == name => row[1].clone(),
        _ => t.fail(format!("status {name}: {out:?}")),
    }
}

/// Waits until `status NAME` shows `state`.
fn wait_state(t: &mut Tend, name: &str, state: &str) {
    t.wait_for(&format!("{name} to be {state}"), |t| {
        t.fixture()
            .ctl(&["status", name])
            .out
            .lines()
            .any(|l| l.split_whitespace().take(2).eq([name, state]))
    });
}

/// Validates `status --json` with Python's json module (every field the
/// SPEC names, with its type) and prints one line per service:
/// `name state pid ready restarts uptime_ms last_exit` (pid `None` when
/// null, ready `True`/`False`, last_exit as compact JSON).
const JSON_CHECK_PY: &str = r#"import json, sys
items = json.load(sys.stdin)
assert isinstance(items, list), "not an array"
for o in items:
    for key, types in [("name", str), ("state", str), ("pid", (int, type(None))),
                       ("ready", bool), ("restarts", int), ("uptime_ms", int),
                       ("last_exit", (dict, type(None))), ("unit", type(None))]:
        assert key in o, "missing %r in %r" % (key, o)
        assert isinstance(o[key], types), "%r has the wrong type in %r" % (key, o)
    for key in ("restarts", "uptime_ms"):
        assert not isinstance(o[key], bool) and o[key] >= 0, o
    if o["last_exit"] is not None:
        (k, v), = o["last_exit"].items()
        assert k in ("code", "signal") and isinstance(v, int), o
    print(o["name"], o["state"], o["pid"], o["ready"], o["restarts"], o["uptime_ms"],
          json.dumps(o["last_exit"], separators=(",", ":")))
"#;

/// `status --json` parsed by Python: one row of words per service.
fn json_rows(t: &mut Tend, fx: &Fixture) -> Vec<Vec<String>> {
    let json = t.ctl_ok(&["status", "--json"]);
    let mut py = Command::new("python3")
        .arg(fx.path("json_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    py.stdin
        .take()
        .unwrap()
        .write_all(json.as_bytes())
        .expect("write to python3");
    let out = py.wait_with_output().expect("python3");
    if !out.status.success() {
        t.fail(format!(
            "status --json is not what the SPEC says: {}\njson: {json}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect()
}

#[test]
fn status_table_and_json_show_every_service() {
    let fx = Fixture::new(
        "ctl-status",
        [
            file("json_check.py", JSON_CHECK_PY),
            exe("services/plain/run", &polite("plain")),
            exe(
                "services/rdy/run",
                "echo $$ > \"$T/up-rdy\"\necho >&3\nexec sleep 1000\n",
            ),
            file("services/rdy/notification-fd", "3\n"),
            exe("services/off/run", &polite("off")),
            file("services/off/down", ""),
            exe("services/bad/run", "exit 3\n"),
            file("services/bad/service.toml", "restart = \"never\"\n"),
            exe("services/killed/run", "kill -9 $$\n"),
            file("services/killed/service.toml", "restart = \"never\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let plain_pid = t.wait_file("up-plain");
    let rdy_pid = t.wait_file("up-rdy");
    let r = t.ctl(&["wait", "down", "bad", "killed", "--timeout", "10s"]);
    expect(&t, &r, 0);
    let r = t.ctl(&["wait", "ready", "rdy", "--timeout", "10s"]);
    expect(&t, &r, 0);

    let out = t.ctl_ok(&["status"]);
    let rows = table(&t, &out);
    let row = |name: &str| -> Vec<String> {
        match rows.iter().find(|r| r[0] == name) {
            Some(r) => r.clone(),
            None => t.fail(format!("{name} missing from status:\n{out}")),
        }
    };
    t.check_eq(rows.len(), 5, "rows in the status table");
    t.check_eq(
        row("plain")[1..3].to_vec(),
        vec!["up".into(), plain_pid.clone()],
        "plain",
    );
    t.check_eq(
        row("rdy")[1..3].to_vec(),
        vec!["ready".into(), rdy_pid.clone()],
        "rdy",
    );
    t.check_eq(
        row("off")[1..3].to_vec(),
        vec!["down".to_string(), "-".into()],
        "off",
    );
    t.check_eq(row("bad")[1].clone(), "failed".to_string(), "state of bad");
    t.check(
        out.lines()
            .any(|l| l.starts_with("bad ") && l.ends_with("status 3")),
        format!("bad's last exit:\n{out}"),
    );
    t.check(
        out.lines()
            .any(|l| l.starts_with("killed ") && l.contains("failed") && l.ends_with("KILL")),
        format!("killed's state and last exit:\n{out}"),
    );

    let only = t.ctl_ok(&["status", "plain"]);
    t.check_eq(table(&t, &only).len(), 1, "rows of status plain");

    // Let uptimes count at least a few milliseconds.
    std::thread::sleep(Duration::from_millis(100));
    let rows = json_rows(&mut t, &fx);
    let mut got: Vec<String> = rows
        .iter()
        .map(|r| {
            // uptime_ms: only whether it counts.
            let up = if r[5] == "0" { "0" } else { "counting" };
            format!("{} {} {} {} {} {up} {}", r[0], r[1], r[2], r[3], r[4], r[6])
        })
        .collect();
    got.sort();
    let want = vec![
        "bad failed None False 0 0 {\"code\":3}".to_string(),
        "killed failed None False 0 0 {\"signal\":9}".into(),
        "off down None False 0 0 null".into(),
        format!("plain up {plain_pid} True 0 counting null"),
        format!("rdy ready {rdy_pid} True 0 counting null"),
    ];
    t.check_eq(got, want, "status --json, as parsed by python3");
    t.term_expect(0);
}

#[test]
fn down_up_and_restart_with_wait() {
    let fx = Fixture::new("ctl-down-up", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    let first = t.wait_file("up-a");

    let r = t.ctl(&["down", "a"]);
    expect(&t, &r, 0);
    let r = t.ctl(&["wait", "down", "a", "--timeout", "5s"]);
    expect(&t, &r, 0);
    t.check_eq(
        fx.read("term-a"),
        Some(format!("{first}\n")),
        "TERM marker after down",
    );
    t.check_eq(state_of(&t, "a"), "down".to_string(), "state after down");
    // Down means down: not restarted.
    std::thread::sleep(Duration::from_millis(500));
    t.check_eq(
        state_of(&t, "a"),
        "down".to_string(),
        "state 0.5s after down",
    );

    let r = t.ctl(&["up", "a"]);
    expect(&t, &r, 0);
    let r = t.ctl(&["wait", "up", "a", "--timeout", "5s"]);
    expect(&t, &r, 0);
    t.wait_for("a new pid in up-a", |_| fx.lines("up-a") != [first.clone()]);
    let second = t.wait_file("up-a");

    let r = t.ctl(&["restart", "a"]);
    expect(&t, &r, 0);
    t.wait_for("another pid in up-a", |_| {
        !fx.lines("up-a").is_empty() && fx.lines("up-a") != [second.clone()]
    });
    let third = t.wait_file("up-a");
    t.check_eq(
        fx.read("term-a"),
        Some(format!("{second}\n")),
        "TERM marker after restart",
    );
    let r = t.ctl(&["wait", "up", "a", "--timeout", "5s"]);
    expect(&t, &r, 0);
    let out = t.ctl_ok(&["status", "a"]);
    let rows = table(&t, &out);
    t.check_eq(rows[0][2].clone(), third, "pid in status after restart");

    let r = t.ctl(&["shutdown"]);
    expect(&t, &r, 0);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code after ctl shutdown");
    t.check_eq(
        fx.read("term-a"),
        Some(format!("{}\n", rows[0][2])),
        "TERM marker after shutdown",
    );
}

#[test]
fn signal_reaches_the_services_process_group() {
    let fx = Fixture::new(
        "ctl-signal",
        [
            exe("services/a/run", &usr1_aware("a")),
            exe("services/off/run", &polite("off")),
            file("services/off/down", ""),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    let r = t.ctl(&["signal", "USR1", "a"]);
    expect(&t, &r, 0);
    t.wait_file("usr1-a");
    let r = t.ctl(&["signal", "USR1", "off"]);
    expect(&t, &r, 1);
    t.check(
        r.err.contains("off"),
        format!("the refusal does not name the service: {r}"),
    );
    t.term_expect(0);
}

#[test]
fn wait_ready_times_out_and_check_names_the_service() {
    let fx = Fixture::new(
        "ctl-wait-timeout",
        never_ready("never")
            .into_iter()
            .chain([exe("services/fine/run", &polite("fine"))]),
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-never");
    t.wait_file("up-fine");
    let r = t.ctl(&["wait", "up", "never", "--timeout", "5s"]);
    expect(&t, &r, 0);
    let r = t.ctl(&["wait", "ready", "never", "--timeout", "300ms"]);
    expect(&t, &r, 1);
    t.check_secs(r.took, 0.25, 3.0, "wait ready --timeout 300ms");
    t.check(
        r.err.contains("never"),
        format!("the timeout does not name the service: {r}"),
    );
    let r = t.ctl(&["check"]);
    expect(&t, &r, 1);
    t.check(
        r.err.contains("never") && !r.err.contains("fine"),
        format!("check should name exactly the service not ready: {r}"),
    );
    t.term_expect(0);
}

#[test]
fn check_is_0_when_all_are_up_and_1_naming_one_in_backoff() {
    let fx = Fixture::new(
        "ctl-check",
        [
            exe("services/a/run", &polite("a")),
            exe("services/b/run", &polite("b")),
            // Long enough to still be in backoff when checked.
            file("services/b/service.toml", "restart-delay = \"20s\"\n"),
            exe("services/off/run", &polite("off")),
            file("services/off/down", ""),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    // A service with a down file is not wanted: it does not fail the check.
    let r = t.ctl(&["check"]);
    expect(&t, &r, 0);
    let r = t.ctl(&["signal", "KILL", "b"]);
    expect(&t, &r, 0);
    wait_state(&mut t, "b", "backoff");
    let r = t.ctl(&["check"]);
    expect(&t, &r, 1);
    t.check(
        r.err.contains("b: backoff") && !r.err.contains("a:"),
        format!("check should name b in backoff: {r}"),
    );
    t.term_expect(0);
}

// Regression: a service waiting for a `down` dependency showed `down` and
// `check` passed, although it should run.
#[test]
fn check_fails_for_a_service_held_by_its_after() {
    let fx = Fixture::new(
        "ctl-check-held",
        [
            exe("services/db/run", &polite("db")),
            file("services/db/down", ""),
            exe("services/app/run", &polite("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    wait_state(&mut t, "app", "starting");
    let r = t.ctl(&["check"]);
    expect(&t, &r, 1);
    t.check(
        r.err.contains("app: starting"),
        format!("check should name app: {r}"),
    );
    t.check(!fx.exists("up-app"), "app must wait for db");
    // Starting db releases app.
    t.ctl_ok(&["up", "db"]);
    t.wait_file("up-app");
    t.wait_for("check to pass", |t| t.fixture().ctl(&["check"]).code == 0);
    t.term_expect(0);
}

#[test]
fn up_starts_a_held_service_at_once() {
    let fx = Fixture::new(
        "ctl-up-held",
        [
            exe("services/db/run", &polite("db")),
            file("services/db/down", ""),
            exe("services/app/run", &polite("app")),
            file("services/app/service.toml", "after = [\"db\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    wait_state(&mut t, "app", "starting");
    // An explicit up does not wait for db.
    t.ctl_ok(&["up", "app"]);
    t.wait_file("up-app");
    wait_state(&mut t, "app", "up");
    t.check(
        !fx.exists("up-db"),
        "db has a down file and was not asked up",
    );
    t.wait_for("check to pass", |t| t.fixture().ctl(&["check"]).code == 0);
    t.term_expect(0);
}

#[test]
fn reload_verb_starts_a_new_service() {
    let fx = Fixture::new("ctl-reload", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    fx.write(exe("services/b/run", &polite("b")));
    let r = t.ctl(&["reload"]);
    expect(&t, &r, 0);
    t.wait_file("up-b");
    let r = t.ctl(&["wait", "up", "a", "b", "--timeout", "5s"]);
    expect(&t, &r, 0);
    t.check(
        !fx.exists("term-a"),
        "a was stopped by a reload that did not change it",
    );
    t.term_expect(0);
}

#[test]
fn unknown_service_exits_1_and_bad_usage_exits_2() {
    let fx = Fixture::new("ctl-errors", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    for args in [
        &["status", "nosuch"][..],
        &["up", "nosuch"],
        &["down", "a", "nosuch"],
        &["restart", "nosuch"],
        &["signal", "HUP", "nosuch"],
        &["wait", "up", "nosuch", "--timeout", "1s"],
    ] {
        let r = t.ctl(args);
        expect(&t, &r, 1);
        t.check(
            r.err.contains("nosuch"),
            format!("the error does not name the service: {r}"),
        );
    }
    // `down a nosuch` is refused as a whole: a is still up.
    t.check_eq(state_of(&t, "a"), "up".to_string(), "state of a");
    for args in [
        &["frobnicate"][..],
        &[],
        &["up"],
        &["signal", "NOSUCHSIG", "a"],
        &["wait", "sideways", "a"],
        &["wait", "up", "a", "--timeout", "soon"],
        &["check", "now"],
    ] {
        let r = t.ctl(args);
        expect(&t, &r, 2);
        t.check(
            !r.err.is_empty(),
            format!("usage error without a message: {r}"),
        );
    }
    t.term_expect(0);
}

#[test]
fn no_supervisor_exits_1_with_a_clear_message() {
    let fx = Fixture::new("ctl-nobody", []);
    let sock = fx.arg("control.sock");
    let r = fx.ctl(&["status"]);
    assert_eq!(r.code, 1, "no socket at all: {r}");
    assert!(
        r.err.contains("no supervisor") && r.err.contains(&sock),
        "no socket at all: unclear message: {r}"
    );
    // A socket file nobody listens on (left by a dead tend).
    drop(UnixListener::bind(fx.path("control.sock")).expect("bind"));
    let r = fx.ctl(&["status"]);
    assert_eq!(r.code, 1, "stale socket: {r}");
    assert!(
        r.err.contains("no supervisor"),
        "stale socket: unclear message: {r}"
    );
}

/// Sends `bytes` on a fresh connection and returns the whole reply.
fn raw(t: &Tend, bytes: &[u8]) -> String {
    let path = t.fixture().path("control.sock");
    let mut s = UnixStream::connect(&path).expect("connect to the control socket");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(bytes).expect("send request");
    let mut reply = Vec::new();
    if let Err(e) = s.read_to_end(&mut reply) {
        t.fail(format!("no reply to {} bytes: {e}", bytes.len()));
    }
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn garbage_requests_get_exit_2_and_tend_goes_on() {
    let fx = Fixture::new("ctl-garbage", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.ctl_ok(&["status"]);
    // A client that connects and says nothing does not hold up the others.
    let idle = UnixStream::connect(fx.path("control.sock")).expect("connect");
    for (what, bytes) in [
        ("5000 bytes without a newline", vec![b'x'; 5000]),
        ("a line that is not UTF-8", b"status \xff\xfe\n".to_vec()),
        ("an unknown verb", b"frobnicate a\n".to_vec()),
        ("an empty line", b"\n".to_vec()),
        ("NUL bytes", b"\0\0\0\n".to_vec()),
    ] {
        let reply = raw(&t, &bytes);
        t.check(
            reply.starts_with("2\n") && reply.len() > 2,
            format!("{what}: expected `2` and an error, got {reply:?}"),
        );
    }
    let r = t.ctl(&["status"]);
    t.check(
        r.code == 0 && r.out.contains("a ") && r.took < Duration::from_secs(2),
        format!("status after garbage, with an idle client connected: {r}"),
    );
    drop(idle);
    let reply = raw(&t, b"status a\n");
    t.check(
        reply.starts_with("0\nNAME"),
        format!("a well-formed raw request: {reply:?}"),
    );
    t.term_expect(0);
}

#[test]
fn other_users_are_refused() {
    if !crate::harness::is_root() {
        eprintln!("SKIPPED other_users_are_refused: needs root to run a client as uid 65534");
        return;
    }
    let fx = Fixture::new("ctl-refused", [exe("services/a/run", &polite("a"))]);
    // A copy of the client that uid 65534 can surely run.
    let bin = fx.path("tend-client");
    std::fs::copy(tend_bin(), &bin).expect("copy tend");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = bin.display().to_string();
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.ctl_ok(&["status"]);
    let mode = std::fs::metadata(fx.path("control.sock"))
        .unwrap()
        .permissions()
        .mode();
    t.check_eq(mode & 0o777, 0o600, "mode of the control socket");

    // Mode 0600: the connect itself fails.
    let r = fx.ctl_bin(&nobody, &bin, &["status"]);
    expect(&t, &r, 1);
    t.check(
        r.err.contains("ermission denied"),
        format!("uid 65534 on a 0600 socket: {r}"),
    );

    // Opened up: tend itself refuses, by the peer's credentials.
    std::fs::set_permissions(
        fx.path("control.sock"),
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod the socket");
    for args in [&["status"][..], &["shutdown"], &["down", "a"]] {
        let r = fx.ctl_bin(&nobody, &bin, args);
        expect(&t, &r, 1);
        t.check(
            r.err.contains("refused"),
            format!("uid 65534 on a 0666 socket: {r}"),
        );
    }
    t.wait_stderr("tend's log of the refusal", |l| {
        l.contains("refused") && l.contains("65534")
    });
    t.check_eq(
        state_of(&t, "a"),
        "up".to_string(),
        "state of a after refused requests",
    );
    t.ctl_ok(&["status"]);
    t.term_expect(0);
}
