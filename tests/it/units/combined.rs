//! Debian's real redis-server.service, unchanged, beside a unit of the
//! test's own that needs it (`app.service`: `After=` and `Requires=` redis,
//! `Environment=`, `EnvironmentFile=`), under tend as PID 1 of private PID,
//! mount and network namespaces: the ordering on redis's `READY=1`, the
//! environment the app sees, redis's `Restart=always` after a `kill -9`
//! (which restarts the app too, as systemd's automatic restart does to the
//! units that `Requires=` it), and the stop in reverse order, with redis
//! saving what the app wrote.
//!
//! Everything redis writes stays in the fixture: the namespace's
//! /var/lib/redis and /var/log/redis are bind mounts of fixture dirs (the
//! unit and Debian's redis.conf are read as shipped: `dir /var/lib/redis`,
//! `logfile /var/log/redis/redis-server.log`), /run is a fresh tmpfs (the
//! unit's `RuntimeDirectory=redis` and its pid file), and port 6379 is the
//! private network namespace's, so nothing on the host can clash with it.
//! The setup is also what `bench/idle_units.sh` measures idle.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::harness::{descendants_of, exe, file, is_root, skip, Fixture, Tend};

const REDIS_UNIT: &str = "/lib/systemd/system/redis-server.service";

/// The app: says what its environment holds, pings redis once (no retry:
/// `After=` a `Type=notify` unit means redis answers by now), sets a key,
/// then idles. On TERM it pings redis twice a second apart before it
/// exits: both answer only if tend stops redis after the app is gone.
const APP_SH: &str = r#"cli() { redis-cli -h 127.0.0.1 -p 6379 "$@" 2>/dev/null || echo down; }
echo "$GREETING|$REDIS_KEY|$APP_MODE" >> "$T/app-env"
first=$(cli ping)
echo "$first" >> "$T/app-first-ping"
[ "$first" = PONG ] || exit 1
cli SET "$REDIS_KEY" "$GREETING" >> "$T/app-set"
trap 'a=$(cli ping); sleep 1; b=$(cli ping); echo "$a $b" >> "$T/app-term"; exit 0' TERM
echo $$ >> "$T/app-up"
sleep 1000 &
wait
"#;

/// The combined setup, shared with `bench/idle_units.sh`'s measure: the
/// fixture, and the command that runs tend on it inside the namespaces.
pub(crate) fn redis_and_app() -> Option<Fixture> {
    for need in [REDIS_UNIT, "/usr/bin/redis-server", "/usr/bin/redis-cli"] {
        if !Path::new(need).is_file() {
            let why = format!("not installed: {need} (apt-get install redis-server)");
            if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
                panic!("TEND_IT_NO_SKIP is set, but {why}");
            }
            skip(why);
            return None;
        }
    }
    if !is_root() {
        // User=redis needs a real uid switch, the bind mounts real root.
        skip("units::combined needs root (User=redis, bind mounts)");
        return None;
    }
    let fx = Fixture::new(
        "unit-redis-app",
        [
            exe("app.sh", APP_SH),
            file("app.env", "# read at scan time\nAPP_MODE='from the file'\n"),
            // Slows redis's start by a second, so that an app started
            // before redis's READY=1 would find no redis (a test that can
            // fail); redis's own unit is left as shipped.
            file(
                "services/redis-server.service.d/slow-start.conf",
                "[Service]\nExecStartPre=/bin/sleep 1\n",
            ),
        ],
    );
    fx.write(file(
        "services/app.service",
        &format!(
            "[Unit]\nDescription=an app that needs redis\n\
             After=redis-server.service\nRequires=redis-server.service\n\n\
             [Service]\n\
             Environment=\"GREETING=hello from app\" REDIS_KEY=tend-combined-key\n\
             EnvironmentFile={}\n\
             ExecStart={}\n",
            fx.arg("app.env"),
            fx.arg("app.sh")
        ),
    ));
    symlink(REDIS_UNIT, fx.path("services/redis-server.service")).expect("symlink");
    for dir in ["redis-lib", "redis-log"] {
        std::fs::create_dir_all(fx.path(dir)).expect("mkdir");
        let ok = Command::new("chown")
            .args(["redis:redis", &fx.arg(dir)])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown redis:redis {}", fx.arg(dir));
    }
    Some(fx)
}

/// What runs inside the PID namespace before tend: a network namespace of
/// its own with `lo` up, redis's dirs bound to the fixture's, a fresh /run;
/// then exec tend (which stays PID 1).
pub(crate) fn namespaces(fx: &Fixture) -> Vec<String> {
    let script = "ip link set lo up && mount --bind \"$1\" /var/lib/redis \
                  && mount --bind \"$2\" /var/log/redis \
                  && mount -t tmpfs -o mode=0755 tmpfs /run && shift 2 && exec \"$@\"";
    [
        "unshare",
        "--net",
        "sh",
        "-c",
        script,
        "sh",
        &fx.arg("redis-lib"),
        &fx.arg("redis-log"),
    ]
    .map(str::to_string)
    .to_vec()
}

/// The row of `tend ctl status NAME` (below its header): name, state, pid, uptime, restarts,
/// last exit.
fn status_row(t: &mut Tend, name: &str) -> Vec<String> {
    let out = t.ctl_ok(&["status", name]);
    out.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The host pid of redis-server under tend.
fn redis_pid(t: &mut Tend) -> u32 {
    let pid = t.pid();
    descendants_of(pid)
        .into_iter()
        .find(|p| p.comm.starts_with("redis-server") && p.state != 'Z')
        .map(|p| p.pid)
        .unwrap_or_else(|| t.fail("no redis-server process under tend"))
}

#[test]
fn debian_redis_and_an_app_that_requires_it_start_restart_and_stop_in_order() {
    let Some(fx) = redis_and_app() else { return };
    let pre = namespaces(&fx);
    let pre: Vec<&str> = pre.iter().map(String::as_str).collect();
    let started = Instant::now();
    let mut t = fx.start_under(&pre, &["--grace", "10s"]);

    // Start: the app only once redis said READY=1, after its 1 s pre-start.
    t.wait_stderr("redis ready", |l| l == "tend: redis-server: ready");
    t.wait_file("app-up");
    let took = started.elapsed();
    t.check_secs(took, 1.0, 15.0, "start of redis then app");
    let ping = t.wait_file("app-first-ping");
    t.check_eq(ping.as_str(), "PONG", "app's first ping");
    let set = t.wait_file("app-set");
    t.check_eq(set.as_str(), "OK", "app's SET");
    let env = t.wait_file("app-env");
    t.check_eq(
        env.as_str(),
        "hello from app|tend-combined-key|from the file",
        "app's Environment= and EnvironmentFile=",
    );
    let row = status_row(&mut t, "app");
    t.check_eq(row.get(1).map(String::as_str), Some("up"), "app's state");

    // kill -9 of redis's main process: Restart=always brings it back (after
    // its pre-start again), and tend's status says so.
    let before = status_row(&mut t, "redis-server");
    let host_pid = redis_pid(&mut t);
    let killed = Instant::now();
    let ok = Command::new("kill")
        .args(["-9", &host_pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    t.check(ok, format!("kill -9 {host_pid}"));
    t.wait_for("redis ready again", |t| {
        t.stderr()
            .lines()
            .filter(|l| *l == "tend: redis-server: ready")
            .count()
            >= 2
    });
    t.check_secs(killed.elapsed(), 1.0, 15.0, "redis's restart");
    let after = status_row(&mut t, "redis-server");
    t.check_eq(after.get(1).map(String::as_str), Some("ready"), "state");
    t.check(
        after.get(2) != before.get(2),
        format!("redis's pid did not change: {before:?} -> {after:?}"),
    );
    t.check_eq(after.get(4).map(String::as_str), Some("1"), "restarts");
    t.check(
        after.last().is_some_and(|l| l.ends_with("KILL")),
        format!("last exit is not SIGKILL: {after:?}"),
    );

    // Requires=: systemd's automatic restart restarts the units that
    // require the unit too (service.c, JOB_RESTART_DEPENDENCIES); After=
    // starts the app again only once the new redis is ready.
    let ups = t.wait_lines("app-up", 2);
    let pings = t.wait_lines("app-first-ping", 2);
    t.check_eq(
        pings,
        vec!["PONG".to_string(), "PONG".into()],
        "app's first ping at each start",
    );
    t.wait_lines("app-set", 2);
    t.check(ups[0] != ups[1], "app was not restarted");

    // TERM: the app first (its ping a second into its stop still answered),
    // then redis, which saves the dataset holding the app's key.
    let sent = t.signal("TERM");
    let code = t.wait_exit();
    t.check_eq(code, 0, "tend's exit code");
    t.check_secs(t.exited_at() - sent, 1.0, 15.0, "shutdown");
    let last = fx.lines("app-term").last().cloned();
    t.check_eq(
        last.as_deref(),
        Some("PONG PONG"),
        "redis answered the app during the app's whole stop",
    );
    let dump = std::fs::read(fx.path("redis-lib/dump.rdb"))
        .unwrap_or_else(|e| t.fail(format!("redis-lib/dump.rdb: {e}")));
    let has = |b: &[u8], s: &str| b.windows(s.len()).any(|w| w == s.as_bytes());
    t.check(
        has(&dump, "tend-combined-key") && has(&dump, "hello from app"),
        "dump.rdb lacks the app's key",
    );
    let log = fx.read("redis-log/redis-server.log").unwrap_or_default();
    for line in ["Received SIGTERM", "DB saved on disk"] {
        t.check(log.contains(line), format!("redis's log lacks {line:?}"));
    }
    // The one SIGKILL is the test's own.
    let err = t.stderr();
    let kills: Vec<&str> = err.lines().filter(|l| l.contains("SIGKILL")).collect();
    t.check(
        kills.len() == 1 && kills[0].contains("redis-server[") && kills[0].contains("restarting"),
        format!("tend SIGKILLed something: {kills:?}"),
    );
}
