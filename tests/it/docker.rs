//! tend as PID 1 of real Docker containers: the demo image of
//! `docker/Dockerfile` (built by `docker/build.sh` from the static musl
//! binary already built), `docker logs`, `docker stop` within the grace and
//! past it, the main command's exit code, SIGHUP reload, a read-only root,
//! a non-root user, and systemd unit files with `systemctl` in the image.
//!
//! The image holds the musl binary, not the one `cargo test` builds: build it
//! first with `cargo build --release --target x86_64-unknown-linux-musl`
//! (or set `TEND_STATIC_BIN`). Without it, or without a Docker engine, or
//! without Debian's busybox-static, each test prints a `SKIPPED:` line and
//! passes; with `TEND_IT_NO_SKIP=1` (CI) it fails instead.
//!
//! Nothing here is pulled: the images are `FROM scratch`. Each test names its
//! containers and images uniquely and removes them, even when it fails. Tests
//! reach the services only through `docker exec` (never the container's
//! bridge address), and wait for what they check in `docker logs` with a
//! deadline.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{exe, file, skip, Fixture, TIMEOUT};

/// Docker's own stop timeout (`docker stop -t`), passed explicitly so the
/// tests do not depend on the engine's default (also 10s).
const DOCKER_STOP_TIMEOUT: &str = "10";

/// How often `docker logs` and `docker inspect` are looked at again: each
/// look is a process and a round trip to the engine.
const POLL: Duration = Duration::from_millis(200);

/// The demo image built once per test process, or why it could not be.
static DEMO: OnceLock<Result<String, Prereq>> = OnceLock::new();

/// Why a test cannot run: a missing prerequisite (skip) or a broken build
/// (fail).
#[derive(Clone, Debug)]
enum Prereq {
    Missing(String),
    BuildFailed(String),
}

/// The demo image's tag, building it on first use; `None` (after a visible
/// `SKIPPED:` line) when a prerequisite is missing.
pub(crate) fn demo_image() -> Option<&'static str> {
    match DEMO.get_or_init(build_demo) {
        Ok(tag) => Some(tag),
        Err(Prereq::Missing(why)) => {
            if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
                panic!("TEND_IT_NO_SKIP is set, but: {why}");
            }
            skip(why);
            None
        }
        Err(Prereq::BuildFailed(dump)) => panic!("building the demo image failed:\n{dump}"),
    }
}

/// The binary for the image: the one every test runs.
fn static_binary() -> PathBuf {
    PathBuf::from(crate::harness::tend_bin())
}

fn build_demo() -> Result<String, Prereq> {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    match info {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let first = err.lines().next().unwrap_or("").to_string();
            return Err(Prereq::Missing(format!(
                "no Docker engine: docker info: {first}"
            )));
        }
        Err(e) => {
            return Err(Prereq::Missing(format!(
                "no Docker engine: cannot run docker: {e}"
            )))
        }
    }
    let bin = static_binary();
    if !bin.is_file() {
        return Err(Prereq::Missing(format!(
            "no static tend at {}: cargo build --release --target x86_64-unknown-linux-musl",
            bin.display()
        )));
    }
    if !PathBuf::from("/bin/busybox").is_file() {
        return Err(Prereq::Missing(
            "no /bin/busybox: apt-get install busybox-static".to_string(),
        ));
    }
    warn_if_stale(&bin);

    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let context = std::env::temp_dir().join(format!("tend-it-docker-ctx-{}", std::process::id()));
    let tag = "tend-it-demo:latest".to_string();
    let out = Command::new("bash")
        .arg(repo.join("docker/build.sh"))
        .args(["--no-cargo", "--tag", &tag, "--context"])
        .arg(&context)
        .env("TEND_BIN", &bin)
        .output();
    let _ = std::fs::remove_dir_all(&context);
    match out {
        Ok(o) if o.status.success() => Ok(tag),
        Ok(o) => Err(Prereq::BuildFailed(describe("docker/build.sh", &o))),
        Err(e) => Err(Prereq::BuildFailed(format!(
            "cannot run docker/build.sh: {e}"
        ))),
    }
}

/// The image holds whatever static binary was built last: say so when it is
/// older than the sources, since the tests would then pass or fail on old code.
fn warn_if_stale(bin: &Path) {
    let mtime = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let Some(built) = mtime(bin) else { return };
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let newest = std::fs::read_dir(&src)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| mtime(&e.path()))
        .max();
    if newest.is_some_and(|n| n > built) {
        // Straight to the stderr fd, like `skip`: eprintln! would be captured.
        let _ = writeln!(
            std::io::stderr(),
            "WARNING: {} is older than src/: the docker tests run the old code",
            bin.display()
        );
    }
}

pub(crate) fn describe(what: &str, o: &Output) -> String {
    format!(
        "{what}: {}\n---- stdout\n{}\n---- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `docker ARGS`, returning its output whatever its status.
fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

static NEXT_NAME: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (nor another run of the suite) uses at the same time.
pub(crate) fn unique(hint: &str) -> String {
    format!(
        "tend-it-{hint}-{}-{}",
        std::process::id(),
        NEXT_NAME.fetch_add(1, Ordering::SeqCst)
    )
}

/// An image built `FROM` the demo image with the fixture's `services/` as
/// its services dir (`/test/services`, writable, so a test can add a
/// service). Removed on drop.
pub(crate) struct TestImage {
    pub(crate) tag: String,
    _fx: Fixture,
}

impl TestImage {
    pub(crate) fn build(
        demo: &str,
        hint: &str,
        services: impl IntoIterator<Item = crate::harness::Entry>,
    ) -> TestImage {
        TestImage::build_with(demo, hint, services, |_| {})
    }

    /// Like `build`, with `prepare` run on the build context first (to put
    /// a binary into `services/`).
    pub(crate) fn build_with(
        demo: &str,
        hint: &str,
        services: impl IntoIterator<Item = crate::harness::Entry>,
        prepare: impl FnOnce(&Fixture),
    ) -> TestImage {
        let dockerfile = format!(
            "FROM {demo}\n\
             COPY services/ /test/services/\n\
             ENV TEND_SERVICES=/test/services\n"
        );
        let fx = Fixture::new(
            hint,
            services
                .into_iter()
                .chain([file("Dockerfile", &dockerfile)]),
        );
        prepare(&fx);
        let tag = unique(hint);
        let o = Command::new("docker")
            .args(["build", "--quiet", "-t", &tag])
            .arg(fx.path("."))
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("run docker build");
        if !o.status.success() {
            panic!("{}", describe(&format!("docker build {}", fx.arg(".")), &o));
        }
        TestImage { tag, _fx: fx }
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

/// A container started with `docker run -d`; removed (with its volumes) on
/// drop. Its checks fail with the `docker run` line, the logs and the state.
struct Container {
    name: String,
    run: Vec<String>,
}

impl Container {
    /// `docker run -d --name NAME OPTS IMAGE ARGS`.
    fn run(image: &str, hint: &str, opts: &[&str], args: &[&str]) -> Container {
        let name = unique(hint);
        let mut run: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        run.extend(opts.iter().map(|s| s.to_string()));
        run.push(image.to_string());
        run.extend(args.iter().map(|s| s.to_string()));
        let c = Container { name, run };
        let argv: Vec<&str> = c.run.iter().map(String::as_str).collect();
        let o = docker(&argv);
        if !o.status.success() {
            c.fail(describe("docker run", &o));
        }
        c
    }

    /// stdout then stderr of the container, as `docker logs` gives them.
    fn logs(&self) -> String {
        let o = docker(&["logs", &self.name]);
        let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&o.stderr));
        s
    }

    /// Waits until `cond` holds for the logs.
    fn wait_logs(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if cond(&self.logs()) {
                return;
            }
            if Instant::now() > deadline {
                self.fail(format!(
                    "timed out after {TIMEOUT:?} waiting for {what} in docker logs"
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for a log line containing each of `needles`.
    fn wait_lines(&self, needles: &[&str]) {
        for n in needles {
            self.wait_logs(&format!("a line with {n:?}"), |l| {
                l.lines().any(|l| l.contains(n))
            });
        }
    }

    fn exec(&self, args: &[&str]) -> Output {
        let mut argv = vec!["exec", self.name.as_str()];
        argv.extend_from_slice(args);
        docker(&argv)
    }

    /// `docker exec` that must succeed; returns its stdout.
    fn exec_ok(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        if !o.status.success() {
            self.fail(describe(&format!("docker exec {args:?}"), &o));
        }
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `docker stop -t 10`; returns how long it took.
    fn stop(&self) -> Duration {
        let at = Instant::now();
        let o = docker(&["stop", "-t", DOCKER_STOP_TIMEOUT, &self.name]);
        let took = at.elapsed();
        if !o.status.success() {
            self.fail(describe("docker stop", &o));
        }
        took
    }

    fn inspect(&self, format: &str) -> String {
        let o = docker(&["inspect", "-f", format, &self.name]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Waits for the container to exit; returns its exit code.
    fn wait_exit(&self) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        while self.inspect("{{.State.Running}}") != "false" {
            if Instant::now() > deadline {
                self.fail(format!("still running after {TIMEOUT:?}"));
            }
            thread::sleep(POLL);
        }
        self.exit_code()
    }

    fn exit_code(&self) -> i32 {
        let code = self.inspect("{{.State.ExitCode}}");
        code.parse()
            .unwrap_or_else(|_| self.fail(format!("no exit code in docker inspect: {code:?}")))
    }

    fn check(&self, cond: bool, msg: impl Display) {
        if !cond {
            self.fail(msg);
        }
    }

    fn check_eq<T: PartialEq + std::fmt::Debug>(&self, got: T, want: T, what: &str) {
        if got != want {
            self.fail(format!("{what}: expected {want:?}, got {got:?}"));
        }
    }

    fn fail(&self, msg: impl Display) -> ! {
        let mut d = String::new();
        let _ = writeln!(d, "\n==== FAILED: {msg}");
        let _ = writeln!(d, "command: docker {}", self.run.join(" "));
        let _ = writeln!(d, "state: {}", self.inspect("{{json .State}}"));
        let o = docker(&["logs", &self.name]);
        let _ = writeln!(
            d,
            "---- docker logs (stdout)\n{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let _ = writeln!(
            d,
            "---- docker logs (stderr)\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let top = docker(&["top", &self.name]);
        if top.status.success() {
            let _ = writeln!(
                d,
                "---- docker top\n{}",
                String::from_utf8_lossy(&top.stdout)
            );
        }
        panic!("{d}");
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}

/// A service for a test image: says `NAME: up`, and on TERM says
/// `NAME: got TERM` and exits 0.
fn polite_svc(name: &str) -> crate::harness::Entry {
    exe(
        &format!("services/{name}/run"),
        &format!(
            "trap 'echo \"{name}: got TERM\"; exit 0' TERM\n\
             echo \"{name}: up\"\n\
             while :; do sleep 1; done\n"
        ),
    )
}

/// The first demo (service-examples/web-worker) as the README shows it:
/// `docker logs` has the output of every service, the crashing one is
/// restarted, the page is served, and `docker stop` is clean and quick.
#[test]
fn demo_image_logs_every_service_and_stops_cleanly() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(demo, "demo", &[], &[]);
    c.wait_lines(&["web | serving", "worker | job 1 done", "flaky | started at"]);
    // A respawn: flaky started twice, with its finish script run in between.
    c.wait_logs("flaky started a second time", |l| {
        l.lines()
            .filter(|l| l.contains("flaky | started at"))
            .count()
            >= 2
    });
    c.wait_lines(&["flaky | finish: flaky exited with code 3"]);
    let page = c.exec_ok(&["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]);
    c.check(
        page.contains("supervised by tend"),
        format!("unexpected page: {page}"),
    );

    let took = c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
    c.check(
        took < Duration::from_secs(5),
        format!("docker stop took {took:?}"),
    );
    c.wait_lines(&["worker | got TERM"]);
}

/// `docker stop` sends TERM to tend, which stops every service with TERM and
/// exits 0 as soon as they are gone: long before Docker's 10s timeout, so the
/// engine never SIGKILLs anything (that would be exit code 137).
#[test]
fn docker_stop_terms_every_service_and_exits_0_within_the_grace() {
    let Some(demo) = demo_image() else { return };
    let img = TestImage::build(demo, "stop", ["a", "b", "c"].map(polite_svc));
    let c = Container::run(&img.tag, "stop", &[], &[]);
    c.wait_lines(&["a: up", "b: up", "c: up"]);

    let took = c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
    c.check_eq(
        c.inspect("{{.State.OOMKilled}}"),
        "false".to_string(),
        "OOMKilled",
    );
    c.check(
        took < Duration::from_secs(3),
        format!("docker stop took {took:?}, expected < 3s"),
    );
    c.wait_lines(&["a: got TERM", "b: got TERM", "c: got TERM"]);
    let logs = c.logs();
    c.check(!logs.contains("SIGKILL"), "a service was SIGKILLed");
}

/// A service that ignores TERM is SIGKILLed by tend at its `stop-grace` (2s),
/// and tend exits 1 naming it, before Docker's own 10s timeout: the engine's
/// SIGKILL (exit 137) never comes.
#[test]
fn docker_stop_kills_a_service_ignoring_term_at_its_grace_and_exits_1() {
    let Some(demo) = demo_image() else { return };
    let img = TestImage::build(
        demo,
        "stubborn",
        [
            exe(
                "services/stubborn/run",
                "trap '' TERM\necho 'stubborn: up'\nwhile :; do sleep 1; done\n",
            ),
            file("services/stubborn/service.toml", "stop-grace = \"2s\"\n"),
            polite_svc("ok"),
        ],
    );
    let c = Container::run(&img.tag, "stubborn", &[], &[]);
    c.wait_lines(&["stubborn: up", "ok: up"]);

    let took = c.stop();
    c.check_eq(
        c.exit_code(),
        1,
        "exit code when a service had to be killed",
    );
    c.check(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(8),
        format!("docker stop took {took:?}, expected about 2s"),
    );
    c.wait_lines(&["ok: got TERM"]);
    let logs = c.logs();
    let named = logs
        .lines()
        .any(|l| l.starts_with("tend: ") && l.contains("stubborn") && l.contains("SIGKILL"));
    c.check(named, "no tend log line names stubborn as killed");
}

/// `docker run IMAGE CMD`: the CMD is tend's main command, run next to the
/// image's services; the container exits with its code, or 128+N.
#[test]
fn docker_run_main_command_gives_its_exit_code() {
    let Some(demo) = demo_image() else { return };
    for (script, want) in [("exit 3", 3), ("kill -TERM $$", 143)] {
        let c = Container::run(demo, "main", &[], &["sh", "-c", script]);
        let code = c.wait_exit();
        c.check_eq(code, want, &format!("exit code of sh -c {script:?}"));
    }
}

/// The main-command example: the job runs once its helper answers, and its
/// exit code is the container's.
#[test]
fn main_command_example_propagates_the_jobs_exit_code() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(
        demo,
        "main-example",
        &["-e", "TEND_SERVICES=/examples/main-command/services"],
        &["/examples/main-command/job.sh", "4"],
    );
    let code = c.wait_exit();
    c.check_eq(code, 4, "exit code of job.sh 4");
    c.wait_lines(&["config: batch-size=10", "job: done, exiting with code 4"]);
}

/// The critical-db example: its db needs ~5s to flush on TERM, more than
/// the default --grace, which its `stop-grace = "8s"` allows; the stop is
/// clean (exit 0) and still within Docker's 10s.
#[test]
fn critical_db_example_flushes_within_its_stop_grace() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(
        demo,
        "critical-db",
        &["-e", "TEND_SERVICES=/examples/critical-db/services"],
        &[],
    );
    c.wait_lines(&["ready, accepting connections", "query 1 ok"]);

    let took = c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
    c.check(
        took >= Duration::from_secs(4) && took < Duration::from_secs(9),
        format!("docker stop took {took:?}, expected the ~5s flush"),
    );
    c.wait_lines(&["flushed page 5/5", "shutdown complete"]);
}

/// SIGHUP to tend (here through `docker kill -s HUP`) rescans the services
/// dir: a service dir added meanwhile is started, the running one is left
/// alone.
#[test]
fn docker_kill_hup_starts_a_new_service_dir() {
    let Some(demo) = demo_image() else { return };
    let img = TestImage::build(demo, "hup", [polite_svc("one")]);
    let c = Container::run(&img.tag, "hup", &[], &[]);
    c.wait_lines(&["one: up"]);
    c.exec_ok(&[
        "sh",
        "-c",
        "mkdir /test/services/two && \
         printf '#!/bin/sh\\necho \"two: up\"\\nexec sleep 1000\\n' > /test/services/two/run && \
         chmod +x /test/services/two/run",
    ]);
    let o = docker(&["kill", "-s", "HUP", &c.name]);
    c.check(o.status.success(), describe("docker kill -s HUP", &o));
    c.wait_lines(&["two: up"]);
    let ups = c.logs().lines().filter(|l| l.contains("one: up")).count();
    c.check_eq(ups, 1, "times service one started");
    c.check(
        !c.logs().contains("one: got TERM"),
        "reload stopped the unchanged service",
    );
}

/// `--read-only --tmpfs /run`: nothing of tend or the demo writes outside
/// /run (its control socket lives there).
#[test]
fn demo_runs_with_a_read_only_root_and_a_tmpfs_run() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(demo, "ro", &["--read-only", "--tmpfs", "/run"], &[]);
    c.wait_lines(&["serving", "job 1 done", "will crash in 1s"]);
    let page = c.exec_ok(&["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]);
    c.check(
        page.contains("supervised by tend"),
        format!("unexpected page: {page}"),
    );
    c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
    let logs = c.logs();
    c.check(
        !logs.contains("Read-only file system"),
        "something tried to write",
    );
}

/// `--user 1000:1000`: tend and every service run as that user (no service
/// of the demo needs root: the web server listens on 8080).
#[test]
fn demo_runs_as_a_non_root_user() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(demo, "user", &["--user", "1000:1000"], &[]);
    c.wait_lines(&["serving", "job 1 done", "will crash in 1s"]);
    let page = c.exec_ok(&["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]);
    c.check(
        page.contains("supervised by tend"),
        format!("unexpected page: {page}"),
    );
    // Every process's real uid, from /proc (busybox ps would show names).
    let uids = c.exec_ok(&[
        "sh",
        "-c",
        "grep -h '^Uid:' /proc/[0-9]*/status | sort | uniq -c",
    ]);
    let all_1000 = uids
        .lines()
        .all(|l| l.split_whitespace().nth(2) == Some("1000"));
    c.check(
        all_1000,
        format!("processes not running as uid 1000:\n{uids}"),
    );
    c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
}

/// The image's HEALTHCHECK (`tend ctl check`) turns the container healthy
/// once every service is up.
#[test]
fn healthcheck_with_tend_ctl_check_reports_healthy() {
    let Some(demo) = demo_image() else { return };
    let img = TestImage::build(demo, "health", [polite_svc("a"), polite_svc("b")]);
    let c = Container::run(&img.tag, "health", &["--health-interval", "1s"], &[]);
    c.wait_lines(&["a: up", "b: up"]);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let status = c.inspect("{{.State.Health.Status}}");
        if status == "healthy" {
            break;
        }
        if Instant::now() > deadline {
            let log = c.inspect("{{json .State.Health.Log}}");
            c.fail(format!(
                "health is {status:?} after {TIMEOUT:?}; checks: {log}"
            ));
        }
        thread::sleep(POLL);
    }
    c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
}

/// The units example (service-examples/units): systemd unit files run by
/// tend in the FROM scratch image. The oneshot `setup` gates `web`, which
/// gates `greeter` (After=, Requires=); greeter runs as User=app with its
/// Environment= and EnvironmentFile=; `systemctl` (a link to tend) answers
/// `is-active` and `restart`, and restarting web restarts greeter
/// (Requires=); `docker stop` stops greeter before web and exits 0.
#[test]
fn units_example_runs_unit_files_in_the_scratch_image() {
    let Some(demo) = demo_image() else { return };
    let c = Container::run(
        demo,
        "units",
        &["-e", "TEND_SERVICES=/examples/units/services"],
        &[],
    );
    c.wait_lines(&[
        "greeter | greeter: started as app, hello tend",
        "greeter | greeter: got hello from web.service",
    ]);
    let active = c.exec_ok(&["systemctl", "is-active", "setup", "web", "greeter"]);
    c.check_eq(
        active.as_str(),
        "active\nactive\nactive\n",
        "systemctl is-active",
    );
    let logs = c.logs();
    let ignored: Vec<&str> = logs.lines().filter(|l| l.contains(": ignored: ")).collect();
    c.check(
        ignored.len() == 1
            && ignored[0].contains("web.service: ignored: ProtectSystem, PrivateTmp"),
        format!("web's sandboxing not named once: {ignored:?}"),
    );

    c.exec_ok(&["systemctl", "restart", "web"]);
    c.wait_logs("greeter started again", |l| {
        l.lines()
            .filter(|l| l.contains("greeter: started as app"))
            .count()
            >= 2
    });

    let took = c.stop();
    c.check_eq(c.exit_code(), 0, "exit code after docker stop");
    c.check(
        took < Duration::from_secs(5),
        format!("docker stop took {took:?}"),
    );
    let logs = c.logs();
    let stop = logs.find("got SIGTERM").unwrap_or(0);
    let at = |who: &str| {
        logs[stop..]
            .find(&format!("tend: {who}["))
            .map(|i| i + stop)
    };
    c.check(
        at("greeter").is_some() && at("greeter") < at("web"),
        "greeter was not stopped before web",
    );
}
