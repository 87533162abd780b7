//! Scanning the services dir: each malformed service dir is reported on
//! stderr in exactly one line naming its path and the problem, is not
//! started, and does not keep the healthy services from running; dot-dirs
//! are ignored silently. A hostile file (deeply nested TOML, a FIFO, a
//! device, a huge file) is one such error, never a hang or a crash.

use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::harness::{exe, file, hup, polite, Fixture, Tend};

/// Whether `line` names `path`, as a whole path component: "…/bad" must
/// not match "…/badkey", but may match "…/bad/service.toml".
fn names(line: &str, path: &str) -> bool {
    line.match_indices(path)
        .any(|(i, _)| !line[i + path.len()..].starts_with(|c: char| c.is_alphanumeric()))
}

#[test]
fn broken_service_dirs_are_reported_and_healthy_ones_run() {
    let fx = Fixture::new(
        "scan-errors",
        [
            exe("services/ok/run", &polite("ok")),
            // No run and no command.
            file("services/norun/README", "nothing to run here\n"),
            exe("services/badkey/run", &polite("badkey")),
            file("services/badkey/service.toml", "bogus-key = 1\n"),
            exe("services/baddur/run", &polite("baddur")),
            file(
                "services/baddur/service.toml",
                "stop-grace = \"5 parsecs\"\n",
            ),
            exe("services/badsig/run", &polite("badsig")),
            file("services/badsig/service.toml", "stop-signal = \"NOPE\"\n"),
            exe("services/bad name/run", &polite("badname")),
            exe("services/.hidden/run", &polite("hidden")),
        ],
    );
    let services = fx.arg("services");
    let mut t = fx.start(&[]);
    t.wait_file("up-ok");

    // (dir, words of which its line must hold one besides the path; the
    // path itself says what is wrong with "bad name")
    let broken: [(&str, &[&str]); 5] = [
        ("norun", &["run"]),
        ("badkey", &["bogus-key"]),
        ("baddur", &["stop-grace", "5 parsecs"]),
        ("badsig", &["NOPE"]),
        ("bad name", &[""]),
    ];
    for (dir, _) in &broken {
        let path = format!("{services}/{dir}");
        t.wait_stderr(&format!("an error naming {path}"), |l| names(l, &path));
    }
    // Everything was scanned at once; let late lines arrive before counting.
    thread::sleep(Duration::from_millis(300));
    let stderr = t.stderr();
    for (dir, problem) in &broken {
        let path = format!("{services}/{dir}");
        let lines: Vec<&str> = stderr.lines().filter(|l| names(l, &path)).collect();
        t.check_eq(lines.len(), 1, &format!("stderr lines naming {path}"));
        let rest = lines[0].replace(&path, "");
        t.check(
            problem.iter().any(|w| rest.contains(w)),
            format!(
                "the line for {dir:?} does not say the problem ({problem:?}): {:?}",
                lines[0]
            ),
        );
    }
    t.check(!stderr.contains(".hidden"), "a dot-dir was reported");
    for marker in [
        "up-badkey",
        "up-baddur",
        "up-badsig",
        "up-badname",
        "up-hidden",
    ] {
        t.check(
            !fx.exists(marker),
            format!("{marker}: a broken or hidden service was started"),
        );
    }

    t.term_expect(0);
    t.check(fx.exists("term-ok"), "the healthy service got no SIGTERM");
}

/// Waits for the error line naming `path` and holding `problem`, then
/// checks it is the only line naming `path`.
fn one_error(t: &mut Tend, path: &str, problem: &str) {
    t.wait_stderr(&format!("an error naming {path} ({problem})"), |l| {
        names(l, path) && l.contains(problem)
    });
    thread::sleep(Duration::from_millis(300));
    let stderr = t.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| names(l, path)).collect();
    t.check_eq(lines.len(), 1, &format!("stderr lines naming {path}"));
}

/// Issue 9: `command = ` then 50,000 `[` overflowed tend's stack, at start
/// and on reload, killing PID 1 and the container with it.
#[test]
fn deeply_nested_service_toml_is_an_error_at_start_and_on_reload() {
    let deep = format!("command = {}\n", "[".repeat(50_000));
    let fx = Fixture::new(
        "deep-toml",
        [
            exe("services/ok/run", &polite("ok")),
            exe("services/deep/run", &polite("deep")),
            file("services/deep/service.toml", &deep),
        ],
    );
    let mut t = fx.start(&[]);
    let ok = t.wait_file("up-ok");
    let path = fx.arg("services/deep/service.toml");
    one_error(&mut t, &path, "line 1, column ");

    // The same on reload, for a service that arrives with it.
    fx.write(exe("services/deep2/run", &polite("deep2")));
    fx.write(file(
        "services/deep2/service.toml",
        &format!("env = {}\n", "{ a = ".repeat(10_000)),
    ));
    hup(&mut t, 1);
    one_error(
        &mut t,
        &fx.arg("services/deep2/service.toml"),
        "line 1, column ",
    );
    let r = t.ctl(&["wait", "up", "ok", "--timeout", "5s"]);
    t.check(
        r.code == 0,
        format!("tend does not answer after the reload: {r}"),
    );
    t.check_eq(fx.lines("up-ok"), vec![ok], "starts of the healthy service");
    for marker in ["up-deep", "up-deep2"] {
        t.check(
            !fx.exists(marker),
            format!("{marker}: a broken service ran"),
        );
    }
    t.term_expect(0);
}

/// Makes `rel` (inside the fixture) a FIFO.
fn mkfifo(fx: &Fixture, rel: &str) {
    let path = fx.path(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    let ok = Command::new("mkfifo")
        .arg(&path)
        .status()
        .map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "mkfifo {}: {ok:?}", path.display());
}

/// Makes `rel` (inside the fixture) a symlink to `target`.
fn symlink(fx: &Fixture, target: &str, rel: &str) {
    let path = fx.path(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, &path).expect("symlink");
}

/// Starts tend on `fx`, whose `bad` service has one hostile file at
/// `services/bad/REL`; checks that the file gets one error line with
/// `problem`, that `bad` does not run and that `ok` does.
fn refused(fx: &Fixture, rel: &str, problem: &str) {
    let mut t = fx.start(&[]);
    t.wait_file("up-ok");
    one_error(&mut t, &fx.arg(&format!("services/bad/{rel}")), problem);
    t.check(!fx.exists("up-bad"), "the service with a hostile file ran");
    t.term_expect(0);
}

fn bad_beside_ok(name: &str) -> Fixture {
    Fixture::new(
        name,
        [
            exe("services/ok/run", &polite("ok")),
            exe("services/bad/run", &polite("bad")),
        ],
    )
}

/// Issue 9: an `env/FOO` that is a FIFO blocked tend in open() forever.
#[test]
fn env_file_that_is_a_fifo_does_not_block_tend() {
    let fx = bad_beside_ok("env-fifo");
    mkfifo(&fx, "services/bad/env/FOO");
    refused(&fx, "env/FOO", "not a regular file but a FIFO");
}

/// Issue 9: an `env/FOO` linked to /dev/zero was read until memory ran out.
#[test]
fn env_file_linked_to_dev_zero_is_not_read() {
    let fx = bad_beside_ok("env-zero");
    symlink(&fx, "/dev/zero", "services/bad/env/FOO");
    refused(&fx, "env/FOO", "not a regular file but a character device");
}

/// Issue 9: a service.toml of any size was read whole into PID 1.
#[test]
fn oversized_service_toml_is_refused() {
    let fx = bad_beside_ok("big-toml");
    let comment = format!("# {}\n", "x".repeat(1000));
    fx.write(file("services/bad/service.toml", &comment.repeat(100)));
    refused(&fx, "service.toml", "larger than 65536 bytes");
}

/// The other files tend reads from a service dir, each made hostile in a
/// service of its own: none blocks or bloats tend, each is one error line.
#[test]
fn special_files_anywhere_in_a_service_dir_are_refused() {
    // (service, file, how it is made hostile, problem)
    let cases: [(&str, &str, &str, &str); 5] = [
        ("toml", "service.toml", "fifo", "a FIFO"),
        ("nfd", "notification-fd", "/dev/zero", "a character device"),
        ("dsig", "down-signal", "fifo", "a FIFO"),
        ("tf", "timeout-finish", "/dev/urandom", "a character device"),
        ("many", "env", "many", "more than 1024 entries"),
    ];
    let mut entries = vec![exe("services/ok/run", &polite("ok"))];
    for (svc, _, _, _) in &cases {
        entries.push(exe(&format!("services/{svc}/run"), &polite(svc)));
    }
    let fx = Fixture::new("special-files", entries);
    for (svc, rel, how, _) in &cases {
        let rel = format!("services/{svc}/{rel}");
        match *how {
            "fifo" => mkfifo(&fx, &rel),
            "many" => {
                for i in 0..1025 {
                    fx.write(file(&format!("{rel}/V{i}"), "x\n"));
                }
            }
            target => symlink(&fx, target, &rel),
        }
    }
    let mut t = fx.start(&[]);
    t.wait_file("up-ok");
    for (svc, rel, _, problem) in &cases {
        let path = fx.arg(&format!("services/{svc}/{rel}"));
        one_error(&mut t, &path, problem);
        t.check(
            !fx.exists(&format!("up-{svc}")),
            format!("{svc}: the service with a hostile {rel} ran"),
        );
    }
    t.term_expect(0);
}
