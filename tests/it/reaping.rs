//! tend as the namespace's init reaps every orphan it inherits, from a
//! service or from the main command: none is left a zombie.

use crate::harness::{all_procs, exe, Fixture, Tend};

/// A script body that double-forks `n` short-lived children, so each is
/// reparented to tend, records `$T/forked-NAME`, then idles until TERM.
fn double_fork(name: &str, n: u32) -> String {
    format!(
        "i=0\n\
         while [ $i -lt {n} ]; do\n\
         (sleep 0.1 &)\n\
         i=$((i+1))\n\
         done\n\
         trap 'exit 0' TERM\n\
         echo $$ > \"$T/forked-{name}\"\n\
         sleep 1000 &\n\
         wait\n"
    )
}

/// Waits until tend's only child is the process whose namespace pid is
/// `ns_pid`: every orphan has exited and been reaped.
fn wait_orphans_reaped(t: &mut Tend, ns_pid: &str) {
    let tend = t.pid();
    let keep = match t.find_ns_pid(ns_pid) {
        Some(p) => p.pid,
        None => t.fail(format!("process {ns_pid} (namespace pid) is not running")),
    };
    t.wait_for("every orphan to be reaped", |_| {
        all_procs().iter().all(|p| p.ppid != tend || p.pid == keep)
    });
}

#[test]
fn thousand_orphans_of_a_service_are_reaped() {
    let fx = Fixture::new(
        "orphans-service",
        [exe("services/forker/run", &double_fork("forker", 1000))],
    );
    let mut t = fx.start(&[]);
    let pid = t.wait_file("forked-forker");
    wait_orphans_reaped(&mut t, &pid);
    t.term_expect(0);
}

#[test]
fn orphans_of_the_main_command_are_reaped() {
    let fx = Fixture::new("orphans-main", [exe("main", &double_fork("main", 200))]);
    let main = fx.arg("main");
    let mut t = fx.start(&["--", &main]);
    let pid = t.wait_file("forked-main");
    wait_orphans_reaped(&mut t, &pid);
    t.signal("TERM");
    let code = t.wait_exit();
    t.check_eq(
        code,
        0,
        "exit code (the main command's, after its TERM trap)",
    );
}
