//! tend when it is not PID 1 (SPEC §1: it makes itself a child subreaper),
//! and tini's flags that only show there or in the log: `-w` and `-v`.

use crate::harness::{exe, polite, Fixture};

/// A service that leaves an orphan: a subshell starts `sleep`, records its
/// pid and exits, so the sleep's parent dies under it.
fn orphan_maker() -> String {
    "( sleep 1 & echo $! > \"$T/orphan\" )\n\
     echo up > \"$T/up-maker\"\n\
     exec sleep 1000\n"
        .to_string()
}

#[test]
fn not_pid1_tend_adopts_and_reaps_orphans() {
    if crate::harness::emulated("qemu-user does not pass PR_SET_CHILD_SUBREAPER through") {
        return;
    }
    let fx = Fixture::new(
        "subreaper",
        [
            exe("services/maker/run", &orphan_maker()),
            exe("services/other/run", &polite("other")),
        ],
    );
    let mut t = fx.start_not_pid1(&[]);
    let tend = t.pid();
    t.wait_file("up-maker");
    let orphan: u32 = t.wait_file("orphan").trim().parse().expect("orphan pid");
    // While it sleeps, its parent is tend (the subreaper), not the host's init.
    let p = crate::harness::proc_stat(orphan)
        .unwrap_or_else(|| t.fail("the orphan exited before it could be looked at"));
    t.check_eq(p.ppid, tend, "parent of the orphan");
    // Once it exits, tend reaps it: no zombie is left.
    t.wait_for("the orphan to be reaped", |_| {
        crate::harness::proc_stat(orphan).is_none()
    });
    t.term_expect(0);
}

#[test]
fn dash_w_warns_about_each_reaped_zombie() {
    let fx = Fixture::new("tini-w", [exe("services/maker/run", &orphan_maker())]);
    let mut t = fx.start(&["-w"]);
    let orphan = t.wait_file("orphan");
    let orphan = orphan.trim().to_string();
    t.wait_stderr("a warning about the reaped zombie", |e| {
        e.lines()
            .any(|l| l.contains("reaped zombie process") && l.ends_with(&orphan))
    });
    t.signal("TERM");
    t.wait_exit();
}

#[test]
fn dash_v_makes_tini_mode_talk() {
    // Quiet by default in tini mode; -vv reaches debug.
    let fx = Fixture::new("tini-v", []);
    let mut quiet = fx.start(&["--", "true"]);
    quiet.wait_exit();
    let err = quiet.stderr();
    quiet.check(err.is_empty(), format!("tini mode must be quiet: {err:?}"));
    let mut loud = fx.start(&["-vv", "--", "true"]);
    loud.wait_exit();
    let err = loud.stderr();
    loud.check(
        err.contains("main command"),
        format!("-vv should log the main command's start and exit: {err:?}"),
    );
}
