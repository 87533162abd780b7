//! Fault injection (issue 9, "systematic measures"): PID 1 must never die,
//! hang or grow without bound, whatever it is fed. Each test feeds the
//! static binary, PID 1 of a fresh namespace, one kind of abuse (a fork
//! bomb, a SIGKILL loop, a storm of orphans, signals, datagrams or control
//! clients, a closed or endless output, a read-only /run) and checks what
//! can be measured from outside: tend's fds, RSS and CPU time, zombies
//! under it, how long `tend ctl` takes, exit codes. Bounds are generous
//! (CI has 2 loaded cores); each test prints the figure it measured
//! (`-- --nocapture`), which README's "Guarantees" quotes.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{exe, file, is_root, notify_py, polite, Fixture, Tend};

/// Runs `ctl ARGS`, failing unless it exits `code` within `within`.
fn ctl_within(t: &mut Tend, args: &[&str], code: i32, within: Duration) -> Duration {
    let r = t.ctl(args);
    if r.code != code || r.took > within {
        t.fail(format!("expected exit {code} within {within:?} from {r}"));
    }
    r.took
}

/// Once a READY=1 that must not count was sent: service `name` does not
/// become ready within a second (and tend answers), then tend stops clean.
fn never_ready(t: &mut Tend, name: &str) {
    let wait = ["wait", "ready", name, "--timeout", "1s"];
    ctl_within(t, &wait, 1, Duration::from_secs(3));
    t.term_expect(0);
}

/// The host pid of the process whose namespace pid is written in `rel`.
fn host_pid(t: &mut Tend, rel: &str) -> u32 {
    let ns_pid = t.wait_file(rel);
    match t.find_ns_pid(&ns_pid) {
        Some(p) => p.pid,
        None => t.fail(format!("process {ns_pid} of {rel} is not running")),
    }
}

/// Waits until nothing under tend is a zombie and at most `left`
/// processes remain; returns how long that took.
fn wait_reaped(t: &mut Tend, left: usize) -> Duration {
    let start = Instant::now();
    let tend = t.pid();
    t.wait_for(&format!("no zombie and at most {left} processes"), |_| {
        let d = crate::harness::descendants_of(tend);
        d.len() <= left && d.iter().all(|p| p.state != 'Z')
    });
    start.elapsed()
}

/// The real uid of process `pid` (from the host's /proc).
fn uid_of(pid: &str) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many processes of real uid `uid` the host runs.
fn procs_of(uid: u32) -> usize {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|e| uid_of(&e.file_name().to_string_lossy()) == Some(uid))
        .count()
}

/// A fork bomb bounded by RLIMIT_NPROC: it forks `sleep 3` until fork
/// fails (EAGAIN), leaving its children orphans for tend, while another
/// service and the control socket must go on working. As root the bomb
/// runs as nobody, since root is exempt from the limit; otherwise the
/// limit counts every process of the test's user. Either way it allows
/// 150 more processes than the user has now, so the machine survives.
#[test]
fn fork_bomb_inside_ulimit_leaves_tend_supervising() {
    let (uid, user) = if is_root() {
        (65534, "user = \"nobody\"\n")
    } else {
        (uid_of("self").unwrap_or(0), "")
    };
    let limit = procs_of(uid) + 150;
    let fx = Fixture::new(
        "fork-bomb",
        [
            exe(
                "services/bomb/run",
                &format!(
                    "ulimit -u {limit} 2>/dev/null || ulimit -p {limit}\n\
                     ( while :; do sleep 3 & echo >> \"$T/out/forked\"; done )\n\
                     echo $? > \"$T/out/bomb-done\"\n\
                     exec sleep 1000\n"
                ),
            ),
            file("services/bomb/service.toml", user),
            exe("services/a/run", &polite("a")),
        ],
    );
    // Where the bomb, maybe running as nobody, writes.
    fs::create_dir(fx.path("out")).expect("mkdir out");
    fs::set_permissions(fx.path("out"), fs::Permissions::from_mode(0o777)).expect("chmod out");
    let mut t = fx.start(&[]);
    let a_ns = t.wait_file("up-a");
    let a = host_pid(&mut t, "up-a");
    let done = t.wait_file("out/bomb-done");
    let forked = fx.lines("out/forked").len();
    eprintln!("fork bomb: {forked} forks before EAGAIN (limit {limit}), subshell exited {done}");
    t.check(
        forked >= 20 && t.stderr().contains("fork"),
        format!("the bomb did not run into its limit: {forked} forks"),
    );
    // While its orphans live: control answers, supervision goes on.
    ctl_within(&mut t, &["status"], 0, Duration::from_secs(3));
    ctl_within(&mut t, &["check"], 0, Duration::from_secs(3));
    let killed = std::process::Command::new("kill")
        .args(["-s", "KILL", &a.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    t.check(killed, "kill -KILL a");
    t.wait_for("a to be restarted", |t| {
        t.fixture()
            .lines("up-a")
            .first()
            .is_some_and(|p| *p != a_ns)
    });
    // a's shell and sleep, the sleep its killed run left, the bomb's
    // sleep: every other orphan reaped.
    let took = wait_reaped(&mut t, 4);
    eprintln!("fork bomb: orphans reaped, none left, {took:?} after EAGAIN");
    t.term_expect(0);
}

/// A service SIGKILLed as soon as it starts, for 6 s: tend restarts it
/// again and again, with its backoff, and neither its fds nor its RSS grow
/// with the restarts; no zombie lasts.
#[test]
fn sigkill_loop_keeps_restarting_with_flat_fds_and_rss() {
    let fx = Fixture::new(
        "kill-loop",
        [
            exe(
                "services/victim/run",
                "echo $$ >> \"$T/runs\"\nkill -KILL $$\n",
            ),
            file(
                "services/victim/service.toml",
                "restart-delay = \"5ms\"\nrestart-delay-max = \"40ms\"\n",
            ),
            exe("services/a/run", &polite("a")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("runs", 10);
    let start = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let (fds0, rss0, runs0) = (t.fd_count(), t.rss_kib(), fx.lines("runs").len());
    let (mut fds_max, mut rss_max) = (fds0, rss0);
    let mut last_zombies: Vec<u32> = Vec::new();
    while start.elapsed() < Duration::from_secs(6) {
        thread::sleep(Duration::from_millis(100));
        fds_max = fds_max.max(t.fd_count());
        rss_max = rss_max.max(t.rss_kib());
        let zombies: Vec<u32> = t.zombies().iter().map(|p| p.pid).collect();
        if let Some(z) = zombies.iter().find(|z| last_zombies.contains(z)) {
            t.fail(format!("process {z} stayed a zombie for 100 ms"));
        }
        last_zombies = zombies;
    }
    let runs = fx.lines("runs").len() - runs0;
    let secs = start.elapsed().as_secs_f64() - 1.0;
    eprintln!(
        "SIGKILL loop: {runs} runs in {secs:.1}s; fds {fds0} -> max {fds_max}, \
         RSS {rss0} KiB -> max {rss_max} KiB"
    );
    t.check(runs >= 20, format!("only {runs} restarts in {secs:.1}s"));
    // Its backoff (40 ms at most, once it has doubled up) bounds the rate.
    t.check(
        runs as f64 <= secs / 0.040 + 10.0,
        format!("{runs} restarts in {secs:.1}s: faster than the 40 ms backoff"),
    );
    // One fd comes and goes with each run: its pidfd, open while it lives.
    // A leak of one per restart would be 100 and more by now.
    t.check(
        fds_max <= fds0 + 1,
        format!("fds grew from {fds0} to {fds_max}"),
    );
    t.check(
        rss_max <= rss0 + 256,
        format!("RSS grew from {rss0} to {rss_max} KiB"),
    );
    ctl_within(&mut t, &["down", "victim"], 0, Duration::from_secs(3));
    wait_reaped(&mut t, 2);
    t.term_expect(0);
}

/// Forks 10,000 children in batches of 1,000: each batch process forks its
/// 1,000, which exit at once, and exits without waiting for them. Then
/// writes `$T/forked` and becomes `sleep 1000`. (Python, as a shell reaps
/// its background jobs itself.)
const ORPHANS_PY: &str = r#"import os, sys
for batch in range(10):
    b = os.fork()
    if b == 0:
        for i in range(1000):
            if os.fork() == 0:
                os._exit(0)
        os._exit(0)
    os.waitpid(b, 0)
open(sys.argv[1] + "/forked", "w").write("10000\n")
os.execvp("sleep", ["sleep", "1000"])
"#;

/// A service forks 10,000 children in batches of 1,000 that exit at once
/// and are never waited for by their parent, which then exits: tend
/// inherits 1,000 zombies at a time, its SIGCHLDs coalesced. With `-w` it
/// says each one it reaps: all 10,000 must be said, none left.
#[test]
fn ten_thousand_coalesced_orphans_are_all_reaped() {
    let fx = Fixture::new(
        "orphan-storm",
        [
            file("orphans.py", ORPHANS_PY),
            exe(
                "services/forker/run",
                "exec python3 -S \"$T/orphans.py\" \"$T\"\n",
            ),
            exe("services/a/run", &polite("a")),
        ],
    );
    let mut t = fx.start(&["-w"]);
    t.wait_file("up-a");
    let start = Instant::now();
    t.wait_file("forked");
    let forking = start.elapsed();
    let took = ctl_within(&mut t, &["status"], 0, Duration::from_secs(3));
    let reaped = wait_reaped(&mut t, 3);
    t.wait_for("10,000 reaped-zombie warnings", |t| {
        t.stderr().matches("reaped zombie process").count() >= 10_000
    });
    let said = t.stderr().matches("reaped zombie process").count();
    eprintln!(
        "10,000 orphans in {forking:?}: {said} reaped, status answered in {took:?}, \
         none left {reaped:?} after the last fork; tend's RSS {} KiB",
        t.rss_kib()
    );
    t.check_eq(said, 10_000, "orphans reaped");
    let zombies = t.zombies().len();
    t.check_eq(zombies, 0, "zombies left");
    t.term_expect(0);
}

/// A service that closes its stdout and stderr and keeps running: tend's
/// pipes from it never reach end of file (tend keeps their write ends),
/// so nothing breaks and nothing spins.
#[test]
fn service_closing_stdout_and_stderr_does_not_spin() {
    let fx = Fixture::new(
        "closed-output",
        [
            exe(
                "services/mute/run",
                "echo before\nexec >&- 2>&-\necho $$ > \"$T/up-mute\"\nexec sleep 1000\n",
            ),
            exe(
                "services/talker/run",
                "while :; do echo tick; sleep 0.05; done\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    let mute_ns = t.wait_file("up-mute");
    let mute = host_pid(&mut t, "up-mute");
    t.wait_for("mute's last line", |t| t.stdout().contains("mute | before"));
    let cpu = t.cpu_over(Duration::from_secs(1));
    eprintln!("a service with stdout and stderr closed: tend used {cpu:?} of CPU in 1 s");
    t.check(
        cpu < Duration::from_millis(100),
        format!("tend spins: {cpu:?} of CPU in 1 s"),
    );
    let ticks = t.stdout().matches("talker | tick").count();
    t.wait_for("more output from the other service", |t| {
        t.stdout().matches("talker | tick").count() >= ticks + 5
    });
    ctl_within(&mut t, &["status"], 0, Duration::from_secs(3));
    let same = t.find_ns_pid(&mute_ns);
    t.check(
        same.is_some_and(|p| p.pid == mute),
        "the mute service was restarted",
    );
    t.term_expect(0);
}

/// 100 MB with no newline: tend cuts it into lines of at most 8 KiB, its
/// RSS stays small, and every byte reaches its stdout.
#[test]
fn hundred_megabytes_without_a_newline_stay_bounded() {
    const BYTES: u64 = 100_000_000;
    let fx = Fixture::new(
        "no-newline",
        [
            exe(
                "services/big/run",
                &format!("head -c {BYTES} /dev/zero | tr '\\0' x\n"),
            ),
            file("services/big/service.toml", "restart = \"never\"\n"),
        ],
    );
    let mut t = fx.start(&["--log-prefix"]);
    t.discard_stdout();
    let prefix = "big | ".len() as u64;
    let start = Instant::now();
    let mut peak = 0;
    let mut status_took = None;
    let (total, lines) = loop {
        let (bytes, lines) = t.stdout_counts();
        if lines > 0 && bytes - lines * (prefix + 1) >= BYTES {
            break (bytes, lines);
        }
        peak = peak.max(t.rss_kib());
        if peak > 20 * 1024 {
            t.fail(format!("tend's RSS reached {peak} KiB"));
        }
        if status_took.is_none() && bytes > BYTES / 2 {
            status_took = Some(ctl_within(&mut t, &["status"], 0, Duration::from_secs(3)));
        }
        if start.elapsed() > Duration::from_secs(20) {
            t.fail(format!("stalled: {bytes} bytes on stdout after 20 s"));
        }
        thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    eprintln!(
        "100 MB without a newline: {total} bytes in {lines} lines on stdout in {took:?}, \
         tend's peak RSS {peak} KiB, status mid-flood in {status_took:?}"
    );
    t.check_eq(total - lines * (prefix + 1), BYTES, "bytes of output");
    t.check(
        lines <= BYTES / 8192 + 2,
        format!("{lines} lines: longer than 8 KiB expected"),
    );
    t.term_expect(0);
}

/// /run read-only (a tmpfs remounted ro in tend's mount namespace): no
/// control socket, and the notify socket falls back to an abstract
/// address; the `ready = "notify"` service still gets ready, so the main
/// command starts at once rather than at `--ready-timeout`.
#[test]
fn read_only_run_falls_back_for_notify_and_control() {
    let fx = Fixture::new(
        "ro-run",
        [
            notify_py(),
            exe(
                "services/n/run",
                "echo \"$NOTIFY_SOCKET\" > \"$T/addr-n\"\n\
                 python3 \"$T/notify.py\" READY=1\n\
                 exec sleep 1000\n",
            ),
            file("services/n/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let run = fx.arg("run");
    fs::create_dir(&run).expect("mkdir run");
    let control = format!("{run}/tend/control.sock");
    let mount = "mount -t tmpfs -o size=64k tmpfs \"$0\" && mount -o remount,ro \"$0\" \
                 && exec \"$@\"";
    let mut t = fx.start_under(
        &["sh", "-c", mount, &run],
        &[
            "--control",
            &control,
            "--ready-timeout",
            "30s",
            "--",
            "sh",
            "-c",
            "echo main ran",
        ],
    );
    let start = Instant::now();
    let code = t.wait_exit();
    let took = start.elapsed();
    let addr = fx.read("addr-n").unwrap_or_default();
    eprintln!(
        "read-only /run: main command done in {took:?}, NOTIFY_SOCKET={}",
        addr.trim()
    );
    t.check_eq(code, 0, "exit code");
    t.check(
        t.stdout().contains("main ran"),
        "the main command did not run",
    );
    t.check(addr.starts_with('@'), "the notify socket is not abstract");
    t.check(
        t.stderr().contains("control socket"),
        "no warning about the control socket",
    );
    t.check(
        !t.stderr().contains("although not ready"),
        "n never got ready: the main command waited for --ready-timeout",
    );
    t.check_secs(took, 0.0, 15.0, "start to exit");
}

/// `[{name, pid}]` of `status --json`, sorted.
fn pids(t: &mut Tend) -> Vec<(String, String)> {
    let json = t.ctl_ok(&["status", "--json"]);
    let mut out: Vec<(String, String)> = json
        .split('{')
        .skip(1)
        .map(|o| {
            let field = |k: &str| {
                let at = o.find(&format!("\"{k}\":")).map(|i| i + k.len() + 3);
                at.map(|i| {
                    o[i..]
                        .split([',', '}'])
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .unwrap_or_default()
            };
            (
                field("name"),
                format!("{} {}", field("pid"), field("state")),
            )
        })
        .collect();
    out.sort();
    out
}

/// 100 SIGHUPs within a second while services run: no fd leaks, no
/// service lost or restarted, status answered.
#[test]
fn reload_storm_leaks_nothing_and_loses_no_service() {
    let fx = Fixture::new(
        "hup-storm",
        [
            notify_py(),
            exe("services/a/run", &polite("a")),
            exe("services/b/run", &polite("b")),
            exe(
                "services/n/run",
                "python3 \"$T/notify.py\" READY=1\nexec sleep 1000\n",
            ),
            file("services/n/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    ctl_within(
        &mut t,
        &["wait", "ready", "n", "--timeout", "10s"],
        0,
        Duration::from_secs(11),
    );
    crate::harness::hup(&mut t, 1); // whatever a first reload sets up
    let before = pids(&mut t);
    let fds = t.fd_count();
    let start = Instant::now();
    for _ in 0..100 {
        t.signal("HUP");
        thread::sleep(Duration::from_millis(5));
    }
    let sent = start.elapsed();
    let took = ctl_within(&mut t, &["status"], 0, Duration::from_secs(2));
    // One more, counted: every reload of the storm is over once it is.
    let n = t.stderr().matches("reloading").count();
    crate::harness::hup(&mut t, n + 1);
    let after = pids(&mut t);
    let fds_after = t.fd_count();
    eprintln!(
        "100 HUPs in {sent:?}: {} reloads, fds {fds} -> {fds_after}, status in {took:?}",
        n - 1
    );
    t.check_eq(after, before, "services (name, pid, state) after the storm");
    t.check(
        fds_after <= fds,
        format!("fds: {fds} before the storm, {fds_after} after"),
    );
    t.term_expect(0);
}

/// Sends `n` datagrams of `msg` to the unix datagram socket at `path`
/// from a thread of the test (a process that is not the service).
fn flood(path: std::path::PathBuf, msg: &'static [u8], n: usize) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let s = UnixDatagram::unbound().expect("socket");
        if s.connect(&path).is_err() {
            return 0;
        }
        (0..n).take_while(|_| s.send(msg).is_ok()).count()
    })
}

/// 50,000 datagrams at a service's notify socket from another process:
/// tend answers `status` within 1 s throughout, and spends a bounded CPU
/// time on each datagram.
#[test]
fn notify_flood_leaves_tend_responsive() {
    let fx = Fixture::new(
        "notify-flood",
        [
            notify_py(),
            exe(
                "services/n/run",
                "python3 \"$T/notify.py\" READY=1\nexec sleep 1000\n",
            ),
            file("services/n/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    ctl_within(
        &mut t,
        &["wait", "ready", "n", "--timeout", "10s"],
        0,
        Duration::from_secs(11),
    );
    let cpu0 = t.cpu_time();
    let start = Instant::now();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            flood(
                fx.path("notify/n.sock"),
                b"STATUS=flood\nWATCHDOG=1",
                25_000,
            )
        })
        .collect();
    let mut worst = Duration::ZERO;
    let mut asked = 0;
    while senders.iter().any(|s| !s.is_finished()) || asked == 0 {
        worst = worst.max(ctl_within(&mut t, &["status"], 0, Duration::from_secs(1)));
        asked += 1;
    }
    let sent: usize = senders.into_iter().map(|s| s.join().unwrap_or(0)).sum();
    let took = start.elapsed();
    let cpu = t.cpu_time().saturating_sub(cpu0);
    eprintln!(
        "notify flood: {sent} datagrams in {took:?}; {asked} status answered, worst {worst:?}; \
         tend's CPU {cpu:?} ({:.1} us a datagram)",
        cpu.as_secs_f64() * 1e6 / sent.max(1) as f64
    );
    t.check_eq(sent, 50_000, "datagrams sent");
    t.check(
        cpu < Duration::from_secs(5),
        format!("tend used {cpu:?} of CPU on 50,000 datagrams"),
    );
    ctl_within(&mut t, &["check"], 0, Duration::from_secs(1));
    t.term_expect(0);
}

/// SPEC §2: only the service's own processes may notify. Another process
/// of the container sends READY=1 to a silent service's socket.
#[test]
fn notify_from_another_process_does_not_mark_ready() {
    let fx = Fixture::new(
        "notify-intruder",
        [
            notify_py(),
            exe("services/n/run", "echo $$ > \"$T/up-n\"\nexec sleep 1000\n"),
            file("services/n/service.toml", "ready = \"notify\"\n"),
            exe(
                "services/intruder/run",
                "while [ ! -S \"$T/notify/n.sock\" ]; do sleep 0.01; done\n\
                 python3 \"$T/notify.py\" READY=1 1 \"$T/notify/n.sock\" > \"$T/sent\"\n\
                 exec sleep 1000\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-n");
    t.wait_file("sent");
    never_ready(&mut t, "n");
}

/// A READY=1 sent by a process the previous run left behind, once the
/// next run has started, must not mark that next run ready.
#[test]
fn ready_from_a_previous_run_does_not_mark_the_next_ready() {
    let fx = Fixture::new(
        "notify-stale",
        [
            notify_py(),
            exe(
                "services/n/run",
                "echo $$ >> \"$T/runs\"\n\
                 if [ \"$(wc -l < \"$T/runs\")\" -eq 1 ]; then\n\
                   a=\"$NOTIFY_SOCKET\"\n\
                   ( while [ \"$(wc -l < \"$T/runs\")\" -lt 2 ]; do sleep 0.01; done\n\
                     python3 \"$T/notify.py\" READY=1 1 \"$a\" > \"$T/sent\" ) &\n\
                   exit 1\n\
                 fi\n\
                 exec sleep 1000\n",
            ),
            file("services/n/service.toml", "ready = \"notify\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("runs", 2);
    t.wait_file("sent");
    never_ready(&mut t, "n");
}

/// Control-socket abuse: clients sending 10 MB of garbage (with and
/// without newlines), one that connects and says nothing, 1,000
/// connect/close in a loop. tend answers `check` throughout and ends with
/// the fds it started with.
#[test]
fn control_socket_abuse_leaves_fds_flat() {
    let fx = Fixture::new("ctl-abuse", [exe("services/a/run", &polite("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.ctl_ok(&["status"]);
    let fds = t.fd_count();
    let cpu0 = t.cpu_time();
    let garbage: Vec<Vec<u8>> = [0x9e37_79b9_u64, 0x7f4a_7c15]
        .iter()
        .map(|&seed| {
            let mut x = seed;
            (0..10 << 20)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // The second client's garbage has no newline.
                    let b = x as u8;
                    if seed == 0x7f4a_7c15 && b == b'\n' {
                        b'x'
                    } else {
                        b
                    }
                })
                .collect()
        })
        .collect();
    let writers: Vec<_> = garbage
        .into_iter()
        .map(|g| {
            let mut s = t.connect();
            thread::spawn(move || {
                let mut sent = 0;
                while sent < g.len() {
                    match s.write(&g[sent..]) {
                        Ok(n) => sent += n,
                        Err(_) => break, // tend hung up on us
                    }
                }
                let mut reply = String::new();
                let _ = s.read_to_string(&mut reply);
                (sent, reply)
            })
        })
        .collect();
    let mut silent = t.connect();
    let start = Instant::now();
    for _ in 0..1000 {
        drop(t.connect());
    }
    let churn = start.elapsed();
    let took = ctl_within(&mut t, &["check"], 0, Duration::from_secs(2));
    let replies: Vec<(usize, String)> = writers
        .into_iter()
        .map(|w| w.join().unwrap_or_default())
        .collect();
    let mut silent_reply = String::new();
    let _ = silent.read_to_string(&mut silent_reply);
    drop(silent);
    // Let tend see the last hangups before counting.
    t.ctl_ok(&["status"]);
    let fds_after = t.fd_count();
    let cpu = t.cpu_time().saturating_sub(cpu0);
    eprintln!(
        "control abuse: garbage clients {:?}; silent client got {silent_reply:?}; \
         1,000 connect/close in {churn:?}; check in {took:?}; fds {fds} -> {fds_after}; \
         tend's CPU {cpu:?}",
        replies
            .iter()
            .map(|(n, r)| (n, r.lines().next().unwrap_or("").to_string()))
            .collect::<Vec<_>>()
    );
    for (sent, reply) in &replies {
        t.check(
            reply.starts_with('2'),
            format!("garbage ({sent} bytes sent) got {reply:?}, not exit code 2"),
        );
    }
    t.check(
        silent_reply.starts_with("2\n") && silent_reply.contains("timed out"),
        format!("the silent client got {silent_reply:?}"),
    );
    t.check(
        fds_after <= fds,
        format!("fds: {fds} before, {fds_after} after"),
    );
    t.term_expect(0);
}

/// tend's stderr is a pipe whose reader was gone before tend started
/// (`tend 2>&1 | head -1` once head has exited): every write to it fails
/// with EPIPE. Symptom: tend spun at 100% CPU, each failed write queuing a
/// warning about the drop on stderr itself, whose write failed in turn.
#[test]
fn stderr_without_a_reader_does_not_spin() {
    let talker = |name: &str| {
        format!(
            "echo \"out of {name}\"\necho \"err of {name}\" >&2\n{}",
            polite(name)
        )
    };
    let fx = Fixture::new(
        "dead-stderr",
        [
            exe("services/a/run", &talker("a")),
            exe("services/b/run", &talker("b")),
        ],
    );
    // Python runs tend with fd 2 the write end of a pipe it closed the
    // read end of.
    let dead_stderr = "import os, sys\n\
                       r, w = os.pipe()\n\
                       os.close(r)\n\
                       os.dup2(w, 2)\n\
                       os.close(w)\n\
                       os.execvp(sys.argv[1], sys.argv[1:])\n";
    let mut t = fx.start_under(&["python3", "-c", dead_stderr], &[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    t.wait_for("both services' stdout", |t| {
        t.stdout().contains("a | out of a") && t.stdout().contains("b | out of b")
    });
    let cpu = t.cpu_over(Duration::from_secs(1));
    eprintln!("stderr without a reader: tend used {cpu:?} of CPU in 1 s");
    t.check(
        cpu < Duration::from_millis(100),
        format!("tend spins: {cpu:?} of CPU in 1 s"),
    );
    ctl_within(&mut t, &["status"], 0, Duration::from_secs(3));
    t.term_expect(0);
}
