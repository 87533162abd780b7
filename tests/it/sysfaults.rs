//! Regression tests for the issue 9 defects that lived in `src/sys.rs`
//! (and the `-w` log level in `main.rs`): fds moved into a child, exits by
//! real-time signals, the child's own PATH and ids, socket modes, the
//! environment tend keeps to itself, and tini's `-w`. Each test is named
//! after what broke and runs the static binary as PID 1.

use crate::harness::{exe, file, is_root, run_raw, skip, Fixture};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Python: reports what fds 3, 4 and `N` (argv[1]) are, to `$T/fds`, then
/// signals readiness on fd N (s6 notification-fd) and idles.
const FDS_PY: &str = r#"import os, socket, stat, sys, time
n = int(sys.argv[1])
def kind(fd):
    try:
        st = os.fstat(fd)
    except OSError:
        return "closed"
    if stat.S_ISFIFO(st.st_mode):
        return "fifo"
    if stat.S_ISSOCK(st.st_mode):
        s = socket.socket(fileno=os.dup(fd))
        listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        s.close()
        return "listen" if listening else "socket"
    return "other"
line = "3=%s 4=%s n=%s\n" % (kind(3), kind(4), kind(n))
with open(os.environ["T"] + "/fds", "w") as f:
    f.write(line)
os.write(n, b"\n")
time.sleep(1000)
"#;

/// A service `svc` with two unix listen sockets and notification-fd `n`;
/// its run script first records which of tend's fds hold the socket that
/// it gets as fd 3 (found by inode through tend's /proc/1/fd).
fn fd_fixture(name: &str, n: u32) -> Fixture {
    let fx = Fixture::new(name, [file("fds.py", FDS_PY)]);
    let sock = |i: u32| fx.arg(&format!("s{i}.sock"));
    fx.write(file(
        "services/svc/service.toml",
        &format!("listen = [\"unix:{}\", \"unix:{}\"]\n", sock(1), sock(2)),
    ));
    fx.write(file("services/svc/notification-fd", &format!("{n}\n")));
    fx.write(exe(
        "services/svc/run",
        "me=$(readlink /proc/$$/fd/3)\n\
         for f in /proc/1/fd/*; do\n\
           [ \"$(readlink \"$f\")\" = \"$me\" ] && echo \"${f##*/}\" >> \"$T/in-tend\"\n\
         done\n\
         export T\n\
         exec python3 \"$T/fds.py\" \"$(cat notification-fd)\"\n",
    ));
    fx
}

/// With notification-fd equal to the fd number a listen socket had in tend,
/// the child's dup2 of the readiness pipe closed that socket before it was
/// moved: the service saw its readiness pipe on fd 3 and no socket.
#[test]
fn notification_fd_equal_to_a_sockets_fd_in_tend_keeps_the_socket() {
    // First run: where does tend keep the socket the service gets as fd 3?
    // The layout of tend's fds is the same from run to run.
    let probe = fd_fixture("nfd-probe", 1000);
    let mut t = probe.start(&[]);
    let at = t.wait_file("in-tend");
    t.wait_file("fds");
    t.term_expect(0);
    let n: u32 = at.trim().parse().expect("an fd number");
    if n < 5 {
        skip(format!(
            "the socket is tend's fd {n}, which cannot be a notification-fd here"
        ));
        return;
    }
    // Second run: notification-fd is exactly that number.
    let fx = fd_fixture("nfd-clobber", n);
    let mut t = fx.start(&[]);
    let fds = t.wait_file("fds");
    t.check_eq(
        fds.as_str(),
        "3=listen 4=listen n=fifo",
        "the service's fds",
    );
    // Had the layout changed, this run would not test the collision.
    let in_tend = t.fixture().read("in-tend").unwrap_or_default();
    t.check_eq(
        in_tend.trim(),
        n.to_string().as_str(),
        "the socket's fd in tend",
    );
    let ready = t.ctl(&["wait", "ready", "svc", "--timeout", "10s"]);
    t.check(ready.code == 0, format!("svc never ready: {ready}"));
    t.term_expect(0);
}

/// `tend -- sh -c 'kill -40 $$'` never exited: nix's waitpid could not
/// represent signal 40, returned EINVAL after the kernel had reaped the
/// child, and the exit was lost.
#[test]
fn main_command_killed_by_a_realtime_signal_exits_128_plus_n() {
    let fx = Fixture::new("rt-main", []);
    let mut t = fx.start(&["--", "sh", "-c", "kill -40 $$"]);
    let code = t.wait_exit();
    t.check_eq(code, 168, "exit code");
}

/// A service killed by a real-time signal stayed "up" forever: its exit
/// was lost, so it was never restarted.
#[test]
fn service_killed_by_a_realtime_signal_is_restarted() {
    let fx = Fixture::new(
        "rt-service",
        [exe(
            "services/rt/run",
            "echo $$ >> \"$T/runs\"\n\
             [ \"$(wc -l < \"$T/runs\")\" -lt 2 ] && kill -37 $$\n\
             exec sleep 1000\n",
        )],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("runs", 2);
    t.wait_stderr("the exit logged", |e| e.contains("killed by SIGRTMIN+3"));
    t.term_expect(0);
}

/// Python: a unix datagram to `$NOTIFY_SOCKET` saying READY=1.
const NOTIFY: &str = "python3 -c 'import os, socket\n\
     a = os.environ[\"NOTIFY_SOCKET\"]\n\
     a = \"\\0\" + a[1:] if a[0] == \"@\" else a\n\
     socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", a)'\n";

/// A service's PATH (env/ or service.toml `env`) was not used to find its
/// command: execvpe searched tend's own PATH.
#[test]
fn service_command_is_found_on_the_services_own_path() {
    let fx = Fixture::new(
        "svc-path",
        [
            // Not executable: skipped, as execvp skips it.
            file("noexec/tend-it-hello", "#!/bin/sh\nexit 3\n"),
            exe(
                "bin/tend-it-hello",
                "echo \"$1\" >> \"$T/hello\"\nexec sleep 1000\n",
            ),
            file(
                "services/envdir/service.toml",
                "command = [\"tend-it-hello\", \"envdir\"]\n",
            ),
            // Not found anywhere: 127; found but not executable: 126.
            file(
                "services/missing/service.toml",
                "command = [\"tend-it-nowhere\"]\n",
            ),
            exe(
                "services/missing/finish",
                "echo \"$1\" >> \"$T/finish-missing\"\n",
            ),
            file(
                "services/noexec/service.toml",
                "command = [\"tend-it-hello\"]\n",
            ),
            exe(
                "services/noexec/finish",
                "echo \"$1\" >> \"$T/finish-noexec\"\n",
            ),
        ],
    );
    let path = format!("{}:{}", fx.arg("noexec"), fx.arg("bin"));
    fx.write(file("services/envdir/env/PATH", &format!("{path}\n")));
    fx.write(file(
        "services/toml/service.toml",
        &format!("command = [\"tend-it-hello\", \"toml\"]\nenv = {{ PATH = \"{path}\" }}\n"),
    ));
    fx.write(file("services/missing/env/PATH", &format!("{path}\n")));
    fx.write(file(
        "services/noexec/env/PATH",
        &format!("{}\n", fx.arg("noexec")),
    ));
    let mut t = fx.start(&[]);
    t.wait_for("both hellos", |t| {
        let mut l = t.fixture().lines("hello");
        l.sort();
        l == ["envdir", "toml"]
    });
    let missing = t.wait_file("finish-missing");
    t.check_eq(missing.as_str(), "127", "exit code when not found");
    let noexec = t.wait_file("finish-noexec");
    t.check_eq(noexec.as_str(), "126", "exit code when not executable");
    t.term_expect(0);
}

/// `user = "0:5"` as root kept gid 0: the switch was skipped whenever the
/// uid was tend's own, whatever the gid and groups.
#[test]
fn user_with_tends_own_uid_still_gets_its_gid() {
    if !is_root() {
        skip("switching to gid 5 needs root");
        return;
    }
    let fx = Fixture::new(
        "user-gid",
        [
            exe(
                "services/g/run",
                "echo \"$(id -u) $(id -g)\" > \"$T/ids\"\nexec sleep 1000\n",
            ),
            file("services/g/service.toml", "user = \"0:5\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let ids = t.wait_file("ids");
    t.check_eq(ids.as_str(), "0 5", "uid and gid");
    t.term_expect(0);
}

/// `listen` unix sockets had the mode the umask left (0755 under umask
/// 022), so other users could not connect; the default is 0666, as
/// systemd's SocketMode. The chown to the service's user stays.
#[test]
fn unix_listen_socket_is_mode_0666_and_owned_by_the_service_user() {
    let owner = if is_root() { "nobody" } else { "root" };
    let fx = Fixture::new("sock-mode", [exe("services/s/run", "exec sleep 1000\n")]);
    let sock = fx.arg("s.sock");
    let user = if is_root() { "user = \"nobody\"\n" } else { "" };
    fx.write(file(
        "services/s/service.toml",
        &format!("listen = [\"unix:{sock}\"]\n{user}"),
    ));
    // The main command runs once the service is up, its socket bound.
    let mut t = fx.start(&["--", "stat", "-c", "%a %U", &sock]);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code of stat");
    t.check_eq(t.stdout(), format!("666 {owner}\n"), "mode and owner");
}

/// tend passed its own NOTIFY_SOCKET, LISTEN_*, WATCHDOG_* (from its
/// manager) and TEND_* settings on to every service, script and the main
/// command; a service must see only its own notify socket.
#[test]
fn tends_own_manager_variables_reach_no_child() {
    let fx = Fixture::new(
        "env-leak",
        [
            exe("init.d/10-env", "env > \"$T/env-init\"\n"),
            exe(
                "services/plain/run",
                "env > \"$T/env-plain\"\nexec sleep 1000\n",
            ),
            exe(
                "services/note/run",
                &format!("env > \"$T/env-note\"\n{NOTIFY}exec sleep 1000\n"),
            ),
            file("services/note/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let manager = format!("@tend-it-manager-{}", std::process::id());
    let env = [
        ("NOTIFY_SOCKET", manager.as_str()),
        ("LISTEN_FDS", "2"),
        ("LISTEN_PID", "999999"),
        ("LISTEN_FDNAMES", "a:b"),
        ("WATCHDOG_USEC", "999000000"),
        ("WATCHDOG_PID", "999999"),
        ("TEND_GRACE", "3s"),
        ("TEND_IT_LEAK", "leak"),
    ];
    let env_main = fx.arg("env-main");
    let main = format!(
        "until [ -s '{0}/env-plain' ] && [ -s '{0}/env-note' ]; do sleep 0.01; done; env > '{env_main}'",
        fx.arg("")
    );
    let mut t = fx.start_env(&env, &["--", "sh", "-c", &main]);
    let code = t.wait_exit();
    t.check_eq(code, 0, "tend's exit code");
    let banned = [
        "NOTIFY_SOCKET=",
        "LISTEN_FDS=",
        "LISTEN_PID=",
        "LISTEN_FDNAMES=",
        "WATCHDOG_USEC=",
        "WATCHDOG_PID=",
        "TEND_",
    ];
    for who in ["init", "plain", "note", "main"] {
        let text = fx.read(&format!("env-{who}")).unwrap_or_default();
        assert!(text.contains("PATH="), "{who} got no environment: {text}");
        for line in text.lines() {
            let own_notify = who == "note" && line.starts_with("NOTIFY_SOCKET=");
            assert!(
                own_notify || !banned.iter().any(|b| line.starts_with(b)),
                "{who} got tend's {line:?}"
            );
        }
    }
    let note = fx.read("env-note").unwrap_or_default();
    let sock = note
        .lines()
        .find_map(|l| l.strip_prefix("NOTIFY_SOCKET="))
        .unwrap_or_else(|| panic!("note has no NOTIFY_SOCKET: {note}"));
    assert_ne!(sock, manager, "note got tend's manager socket");
}

/// tini's `-w` printed nothing: tini mode logs only errors by default, and
/// the "reaped zombie" warnings are warnings.
#[test]
fn tini_w_warns_of_reaped_zombies_at_the_default_level() {
    let fx = Fixture::new("tini-w", []);
    // The orphan is reparented to tend, which reaps it; the main command
    // waits until it is gone from /proc (a zombie is still there).
    let script = "(sh -c 'echo $$ > \"$0/orphan\"' \"$0\" &)\n\
                  until [ -s \"$0/orphan\" ] && [ ! -e /proc/$(cat \"$0/orphan\") ]; do sleep 0.01; done\n\
                  echo main done";
    let dir = fx.arg("");
    let mut t = fx.start(&["-w", "--", "sh", "-c", script, &dir]);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code");
    t.check_eq(t.stdout(), "main done\n".to_string(), "stdout");
    t.check(
        t.stderr().contains("reaped zombie process"),
        "no reaped-zombie warning on stderr",
    );
}

/// Symptom (#23): `tend -- printf %s $'caf\xe9'` printed U+FFFD, and an
/// env/ value that was not UTF-8 reached the service mangled: arguments
/// and values went through a lossy UTF-8 conversion. They are bytes on
/// Linux, and pass through as they are (as tini passes them).
#[test]
fn arguments_and_env_values_pass_through_as_bytes() {
    let odd = OsStr::from_bytes(b"caf\xe9 \xff");
    let args = ["--", "printf", "%s"].map(OsStr::new);
    let out = run_raw(&[&args[..], &[odd]].concat());
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), odd.as_bytes()),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let fx = Fixture::new(
        "bytes-env",
        [
            exe(
                "services/a/run",
                "printf '%s\\n' \"$V\" > \"$T/v.tmp\"\nmv \"$T/v.tmp\" \"$T/v\"\nexec sleep 1000\n",
            ),
            file("services/a/env/V", "placeholder\n"),
        ],
    );
    std::fs::write(fx.path("services/a/env/V"), b"caf\xe9 \xff\n").unwrap();
    let mut t = fx.start(&[]);
    let v = fx.path("v");
    t.wait_for("the service to write $V", |_| v.exists());
    let got = std::fs::read(fx.path("v")).unwrap();
    t.check(
        got == [odd.as_bytes(), b"\n"].concat(),
        format!("env/V reached the service as {got:?}"),
    );
    t.term_expect(0);
}

/// A soft fd limit of 1024 (containerd 2's default for a container's PID 1)
/// stopped tend short of a few hundred services: each holds fds in tend
/// (output pipes, its pidfd). tend raises its own soft limit to the hard
/// one; its services still get 1024, as they would without tend.
#[test]
fn a_soft_fd_limit_of_1024_does_not_cap_the_services_and_children_keep_it() {
    const N: usize = 600;
    let mut files = Vec::new();
    for i in 0..N {
        let run = if i == 0 {
            "ulimit -n > \"$T/nofile\"\nexec sleep 1000\n"
        } else {
            "exec sleep 1000\n"
        };
        files.push(exe(&format!("services/s{i:03}/run"), run));
    }
    let fx = Fixture::new("nofile", files);
    let mut t = fx.start_under(&["prlimit", "--nofile=1024:"], &[]);
    let child_limit = t.wait_file("nofile");
    t.check(
        child_limit.trim() == "1024",
        format!("a service's fd limit is {child_limit:?}, not the inherited 1024"),
    );
    t.ctl_ok(&["status"]);
    t.wait_for("every service up", |_| {
        let r = fx.ctl(&["status"]);
        r.code == 0 && r.out.lines().filter(|l| l.contains(" up ")).count() == N
    });
    t.check(
        !t.stderr().contains("Too many open files") && !t.stderr().contains("No file descriptors"),
        "tend ran out of fds",
    );
    t.term_expect(0);
}
