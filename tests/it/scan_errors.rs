//! Scanning the services dir: each malformed service dir is reported on
//! stderr in exactly one line naming its path and the problem, is not
//! started, and does not keep the healthy services from running; dot-dirs
//! are ignored silently.

use std::thread;
use std::time::Duration;

use crate::harness::{exe, file, polite, Fixture};

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
