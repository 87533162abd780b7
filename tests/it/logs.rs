//! Service output (README "Output and `log/`"): lines prefixed `NAME | `
//! on tend's stdout and stderr when more than one service runs, long lines
//! split with nothing lost, no prefix with one service or
//! `--no-log-prefix`; a `log/` logger gets every line of its service even
//! when it is killed and restarted midway; and a reader that does not read
//! tend's stdout slows the writers, never the supervision.

use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{exe, file, polite, Fixture};

/// The payloads of the lines of `text` prefixed `NAME | `, in order.
fn lines_of(text: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name} | ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// A service that says hello on stdout and stderr, then idles.
fn greeter(name: &str) -> String {
    format!(
        "echo \"out of {name}\"\n\
         echo \"err of {name}\" >&2\n\
         {}",
        polite(name)
    )
}

#[test]
fn two_services_get_prefixed_stdout_and_stderr() {
    let fx = Fixture::new(
        "prefix-two",
        [
            exe("services/a/run", &greeter("a")),
            exe("services/b/run", &greeter("b")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_file("up-b");
    for n in ["a", "b"] {
        let want = format!("{n} | out of {n}");
        t.wait_for(&format!("{want:?} on stdout"), |t| {
            t.stdout().lines().any(|l| l == want)
        });
        let want = format!("{n} | err of {n}");
        t.wait_for(&format!("{want:?} on stderr"), |t| {
            t.stderr().lines().any(|l| l == want)
        });
    }
    let out = t.stdout();
    t.check(
        out.lines()
            .all(|l| l.starts_with("a | ") || l.starts_with("b | ")),
        "an unprefixed line on stdout",
    );
    t.check(
        !out.contains("err of"),
        "stderr of a service went to stdout",
    );
    t.term_expect(0);
}

#[test]
fn a_20000_character_line_is_split_into_prefixed_lines_with_nothing_lost() {
    // Digits cycling 0-9, plus a multi-byte character every 1000 bytes so
    // that a cut in the middle of a character would show.
    let fx = Fixture::new(
        "prefix-long-line",
        [
            file(
                "long.py",
                "import sys\n\
                 s = ''.join('\u{e9}' if i % 1000 == 999 else str(i % 10) for i in range(20000))\n\
                 open(sys.argv[1] + '/long-line', 'w', encoding='utf-8').write(s + '\\n')\n\
                 sys.stdout.write('before\\n' + s + '\\nafter\\n')\n",
            ),
            exe(
                "services/a/run",
                &format!("python3 \"$T/long.py\" \"$T\"\n{}", polite("a")),
            ),
            exe("services/b/run", &polite("b")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_for("a's line after the long one", |t| {
        lines_of(&t.stdout(), "a").iter().any(|l| l == "after")
    });
    let long = t.wait_file("long-line");
    let got = lines_of(&t.stdout(), "a");
    let n = got.len();
    t.check(
        n >= 5 && got[0] == "before" && got[n - 1] == "after",
        format!("a's lines: expected before, 3+ pieces, after; got {n} lines"),
    );
    let pieces = &got[1..n - 1];
    let joined: String = pieces.concat();
    t.check_eq(joined.len(), long.len(), "bytes of the long line received");
    t.check(joined == long, "the pieces do not add up to the long line");
    t.check(
        pieces.iter().all(|p| p.len() <= 8192),
        "a piece is longer than 8 KiB",
    );
    t.term_expect(0);
}

#[test]
fn one_service_writes_unprefixed() {
    let fx = Fixture::new("prefix-one", [exe("services/a/run", &greeter("a"))]);
    let mut t = fx.start(&[]);
    t.wait_file("up-a");
    t.wait_for("a's output", |t| {
        t.stdout().contains("out of a") && t.stderr().contains("err of a")
    });
    t.check_eq(t.stdout(), "out of a\n".to_string(), "stdout");
    t.check(
        t.stderr().lines().any(|l| l == "err of a"),
        "a's stderr line is not there unprefixed",
    );
    t.term_expect(0);
}

#[test]
fn no_log_prefix_turns_the_prefix_off() {
    let fx = Fixture::new(
        "prefix-off",
        [
            exe("services/a/run", &greeter("a")),
            exe("services/b/run", &greeter("b")),
        ],
    );
    let mut t = fx.start(&["--no-log-prefix"]);
    t.wait_for("both services' output", |t| {
        let (out, err) = (t.stdout(), t.stderr());
        out.contains("out of a") && out.contains("out of b") && err.contains("err of b")
    });
    let mut got: Vec<String> = t.stdout().lines().map(str::to_string).collect();
    got.sort();
    t.check_eq(
        got,
        vec!["out of a".to_string(), "out of b".into()],
        "stdout lines",
    );
    t.check(
        t.stderr().lines().any(|l| l == "err of a"),
        "a's stderr line is not there unprefixed",
    );
    t.term_expect(0);
}

/// README: "a last line without a newline is written with one at exit".
/// Symptom: with prefixes on, the unfinished last line of one run of a
/// service is glued to the first line of its next run
/// (`a | partial-2partial-5partial-7`), because the partial line is kept
/// in the pipe's buffer across the restart and flushed only when tend
/// itself exits.
#[test]
fn unfinished_last_line_of_a_run_ends_at_its_exit() {
    let fx = Fixture::new(
        "partial-line",
        [
            exe(
                "services/a/run",
                "echo x >> \"$T/starts\"\nprintf 'partial-%s' $$\nexit 1\n",
            ),
            exe("services/b/run", &polite("b")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("starts", 3);
    t.term_expect(0);
    let got = lines_of(&t.stdout(), "a");
    t.check(
        got.len() >= 3 && got.iter().all(|l| l.matches("partial-").count() == 1),
        format!("expected one line per run of a, got {got:?}"),
    );
}

/// tend keeps a service's output pipes across its restarts: what a run
/// wrote just before it exited is all there, prefixed, in order.
#[test]
fn restarts_lose_no_prefixed_line() {
    const N: usize = 20_000;
    let fx = Fixture::new(
        "restart-lines",
        [
            exe(
                "services/a/run",
                &format!(
                    "echo x >> \"$T/starts\"\n\
                     r=$(wc -l < \"$T/starts\")\n\
                     seq -f \"run$r-%g\" 1 {N}\n\
                     exit 1\n"
                ),
            ),
            file(
                "services/a/service.toml",
                "restart-delay = \"100ms\"\nrestart-delay-max = \"100ms\"\n",
            ),
            exe("services/b/run", &polite("b")),
        ],
    );
    let mut t = fx.start(&[]);
    // Four starts: the first three runs are over.
    t.wait_lines("starts", 4);
    t.wait_for("the lines of three runs", |t| {
        lines_of(&t.stdout(), "a").len() >= 3 * N
    });
    t.term_expect(0);
    let got = lines_of(&t.stdout(), "a");
    for run in 1..=3 {
        let tag = format!("run{run}-");
        let lines: Vec<&str> = got
            .iter()
            .filter(|l| l.starts_with(&tag))
            .map(String::as_str)
            .collect();
        let want: Vec<String> = (1..=N).map(|n| format!("{tag}{n}")).collect();
        t.check(
            lines == want,
            format!(
                "run {run}: {} lines, expected {tag}1..{tag}{N} in order",
                lines.len()
            ),
        );
    }
}

const LINES: usize = 100_000;
const HALF: usize = LINES / 2;

/// 100,000 numbered lines from a service to its `log/` logger, which is
/// SIGKILLed halfway and restarted a second later: every line arrives,
/// once, in order. The writer pauses at the half so the kill happens when
/// the logger has copied all it read (a logger killed between its read and
/// its write loses that buffer by its own doing, whatever the supervisor
/// does); the second half is then written while no logger runs, so it has
/// to wait in the pipe tend keeps open.
#[test]
fn logger_killed_midway_loses_no_line() {
    let fx = Fixture::new(
        "log-100k",
        [
            exe(
                "services/gen/run",
                &format!(
                    "seq 1 {HALF}\n\
                     echo half > \"$T/half\"\n\
                     while [ ! -e \"$T/go\" ]; do sleep 0.01; done\n\
                     seq {} {LINES}\n\
                     date +%s%N > \"$T/done\"\n\
                     exec sleep 1000\n",
                    HALF + 1
                ),
            ),
            exe(
                "services/gen/log/run",
                "echo $$ >> \"$T/log-pids\"\n\
                 date +%s%N >> \"$T/log-starts\"\n\
                 exec cat >> \"$T/log.out\"\n",
            ),
            file("services/gen/log/service.toml", "restart-delay = \"1s\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let first = t.wait_file("log-pids");
    t.wait_file("half");
    t.wait_for("the first half in log.out", |_| {
        fx.lines("log.out").len() >= HALF
    });
    let logger = match t.find_ns_pid(&first) {
        Some(p) => p,
        None => t.fail(format!("logger (pid {first} in the namespace) not running")),
    };
    let r = t.ctl(&["signal", "KILL", "gen/log"]);
    t.check(r.code == 0, format!("signal KILL gen/log: {r}"));
    t.wait_for("the logger to die", |_| !logger.alive());
    std::fs::write(fx.path("go"), "").expect("write go");
    t.wait_lines("log-pids", 2);
    t.wait_file("done");
    t.wait_for(&format!("{LINES} lines in log.out"), |_| {
        fx.lines("log.out").len() >= LINES
    });
    // Anything more would be a duplicate: give it a moment to show.
    thread::sleep(Duration::from_millis(200));

    let got = fx.lines("log.out");
    let mut seen = vec![false; LINES + 1];
    for l in &got {
        if let Ok(n) = l.parse::<usize>() {
            if (1..=LINES).contains(&n) {
                seen[n] = true;
            }
        }
    }
    let lost = (1..=LINES).filter(|&n| !seen[n]).count();
    eprintln!("logger_killed_midway_loses_no_line: {lost} of {LINES} lines lost");
    t.check_eq(lost, 0, "lines lost");
    t.check_eq(got.len(), LINES, "lines in log.out");
    let first_bad = got
        .iter()
        .enumerate()
        .find(|(i, l)| **l != (i + 1).to_string());
    if let Some((i, l)) = first_bad {
        t.fail(format!("line {} of log.out is {l:?}", i + 1));
    }
    // The second half was written while no logger ran: the writer finished
    // only after the new logger started reading (the pipe holds 64 KiB).
    let restarted: u128 = fx.lines("log-starts")[1].parse().unwrap_or(u128::MAX);
    let done: u128 = t.wait_file("done").parse().unwrap_or(0);
    t.check(
        done > restarted,
        "the writer finished before the logger was restarted: the kill did not happen midway",
    );
    t.term_expect(0);
}

/// At shutdown the logger is stopped after its service, by end of input:
/// a logger still behind when tend is told to stop writes every line its
/// service wrote before tend exits.
#[test]
fn logger_drains_its_input_at_shutdown() {
    const N: usize = 20_000;
    let fx = Fixture::new(
        "log-drain",
        [
            exe(
                "services/gen/run",
                &format!("seq 1 {N}\necho done > \"$T/done\"\nexec sleep 1000\n"),
            ),
            // About 10 lines a millisecond: the 64 KiB pipe holds a second.
            file(
                "slow_logger.py",
                r#"import sys, time
with open(sys.argv[1] + "/log.out", "a") as out:
    for i, line in enumerate(sys.stdin):
        out.write(line)
        out.flush()
        if i % 10 == 0:
            time.sleep(0.001)
"#,
            ),
            exe(
                "services/gen/log/run",
                "exec python3 \"$T/slow_logger.py\" \"$T\"\n",
            ),
        ],
    );
    let mut t = fx.start(&["--grace", "20s"]);
    t.wait_file("done");
    let behind = fx.lines("log.out").len();
    t.term_expect(0);
    t.check(
        behind < N,
        format!("the logger had caught up before the stop ({behind} lines): nothing tested"),
    );
    let got = fx.lines("log.out");
    let want: Vec<String> = (1..=N).map(|n| n.to_string()).collect();
    let lost = N.saturating_sub(got.len());
    eprintln!(
        "logger_drains_its_input_at_shutdown: {behind} of {N} lines logged at SIGTERM, {lost} lost"
    );
    t.check(
        got == want,
        format!("log.out has {} lines, expected 1..{N} in order", got.len()),
    );
}

/// The number of complete lines of a marker file.
fn count(fx: &Fixture, rel: &str) -> usize {
    fx.lines(rel).len()
}

/// tend's stdout goes to a pipe nobody reads for 3 s while one service
/// floods it: the flood stalls (back-pressure), but a crash-looping
/// neighbour keeps being restarted and `tend ctl status` answers.
#[test]
fn slow_stdout_reader_does_not_stop_supervision() {
    let fx = Fixture::new(
        "slow-reader",
        [
            // 100 lines of 100 bytes, then a progress line; ~1 MB/s.
            file(
                "flood.py",
                r#"import sys, time
line = "f" * 99 + "\n"
while True:
    sys.stdout.write(line * 100)
    sys.stdout.flush()
    with open(sys.argv[1] + "/flood-progress", "a") as f:
        f.write("x\n")
    time.sleep(0.01)
"#,
            ),
            exe(
                "services/flood/run",
                "exec python3 \"$T/flood.py\" \"$T\"\n",
            ),
            exe(
                "services/crasher/run",
                "echo x >> \"$T/crasher-starts\"\necho crashing\nexit 1\n",
            ),
            file(
                "services/crasher/service.toml",
                "restart-delay = \"100ms\"\nrestart-delay-max = \"100ms\"\n",
            ),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_lines("flood-progress", 3);
    t.wait_lines("crasher-starts", 2);

    t.hold_stdout(true);
    let held = Instant::now();
    // The pipe to us (64 KiB), tend's queue (64 KiB) and the flood's pipe
    // (64 KiB) fill within a second at ~1 MB/s; then the flood blocks.
    thread::sleep(Duration::from_millis(1000));
    let flood_1s = count(&fx, "flood-progress");
    let crashes_1s = count(&fx, "crasher-starts");
    let status = t.ctl(&["status"]);
    thread::sleep(Duration::from_millis(2000));
    let flood_3s = count(&fx, "flood-progress");
    let crashes_3s = count(&fx, "crasher-starts");
    let status_late = t.ctl(&["status", "--json"]);
    let blocked_for = held.elapsed();
    t.hold_stdout(false);

    eprintln!(
        "slow reader: stdout held {:.1}s; from 1s to 3s the flood went {flood_1s} -> \
         {flood_3s} batches, the crasher {crashes_1s} -> {crashes_3s} starts",
        blocked_for.as_secs_f64()
    );
    t.check(
        flood_3s <= flood_1s + 1,
        format!("the flood was not held back ({flood_1s} -> {flood_3s} batches)"),
    );
    t.check(
        crashes_3s >= crashes_1s + 5,
        format!(
            "the crasher was not restarted while stdout was blocked ({crashes_1s} -> {crashes_3s})"
        ),
    );
    for r in [&status, &status_late] {
        t.check(
            r.code == 0 && r.out.contains("crasher") && r.took < Duration::from_secs(2),
            format!("tend ctl status while stdout was blocked: {r}"),
        );
    }
    // Once read again, the queued output comes through, crasher's too.
    t.wait_for("crasher's output on stdout", |t| {
        t.stdout().contains("crasher | crashing")
    });
    t.wait_for("the flood to go on", |_| {
        count(&fx, "flood-progress") > flood_3s + 3
    });
    t.term_expect(0);
}

/// tend's stdout and stderr are regular files (`tend >log 2>&1`, a unit's
/// `StandardOutput=file:`), which epoll(7) refuses (EPERM): each service
/// writes 20,000 lines to each, more than the queue and its pipe hold.
/// Symptom: nothing was written while tend ran (only at its exit): once
/// 64 KiB were queued the services blocked for good, and tend's own
/// messages never came out either.
#[test]
fn stdout_and_stderr_to_regular_files_are_written_while_running() {
    let writer = |name: &str| {
        format!(
            "i=0\n\
             while [ $i -lt 20000 ]; do echo \"out $i of {name}\"; echo \"err $i of {name}\" >&2; i=$((i+1)); done\n\
             echo done > \"$T/wrote-{name}\"\n\
             {}",
            polite(name)
        )
    };
    let fx = Fixture::new(
        "regular-file-output",
        [
            exe("services/a/run", &writer("a")),
            exe("services/b/run", &writer("b")),
        ],
    );
    let out = fx.path("out.log");
    let err = fx.path("err.log");
    let redirect = format!(
        "exec >'{}' 2>'{}'; exec \"$@\"",
        out.display(),
        err.display()
    );
    let mut t = fx.start_under(&["sh", "-c", &redirect, "sh"], &[]);
    t.wait_file("wrote-a");
    t.wait_file("wrote-b");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let complete = |text: &str, what: &str| {
        ["a", "b"].iter().all(|n| {
            let got = lines_of(text, n);
            got.len() == 20000
                && got
                    .iter()
                    .enumerate()
                    .all(|(i, l)| *l == format!("{what} {i} of {n}"))
        })
    };
    t.wait_for("every line in out.log and err.log while tend runs", |_| {
        complete(&read(&out), "out") && complete(&read(&err), "err")
    });
    t.check(
        !read(&err).contains("epoll"),
        format!(
            "an epoll error: {}",
            read(&err)
                .lines()
                .filter(|l| l.starts_with("tend:"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );
    t.term_expect(0);
}

/// 30 services each write 600 lines (39 KB, which their pipe holds) while
/// tend's stdout is not read, then tend is stopped and its stdout read
/// again. Symptom: at exit tend read from the pipes only what its queue
/// had room for (1 MiB) and closed them with the rest unread: lines
/// lost, and no word of it.
#[test]
fn lines_left_in_the_pipes_at_exit_are_all_written() {
    let pad = "x".repeat(56);
    let writer = |name: &str| {
        format!(
            "i=100\n\
             while [ $i -lt 700 ]; do echo \"$i {pad}\"; i=$((i+1)); done\n\
             echo done > \"$T/wrote-{name}\"\n\
             {}",
            polite(name)
        )
    };
    let names: Vec<String> = (0..30).map(|i| format!("s{i:02}")).collect();
    let fx = Fixture::new(
        "exit-drains-pipes",
        names
            .iter()
            .map(|n| exe(&format!("services/{n}/run"), &writer(n)))
            .collect::<Vec<_>>(),
    );
    let mut t = fx.start(&[]);
    t.hold_stdout(true);
    for n in &names {
        t.wait_file(&format!("wrote-{n}"));
    }
    t.signal("TERM");
    thread::sleep(Duration::from_millis(300));
    t.hold_stdout(false);
    let code = t.wait_exit();
    t.check_eq(code, 0, "exit code after SIGTERM");
    let out = t.stdout();
    let want: Vec<String> = (100..700).map(|i| format!("{i} {pad}")).collect();
    for n in &names {
        let got = lines_of(&out, n);
        t.check(
            got == want,
            format!("{n}: {} of 600 lines, in order: {}", got.len(), got == want),
        );
    }
}
