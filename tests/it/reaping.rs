//! tend as the namespace's init reaps every orphan it inherits, from a
//! service or from the main command: none is left a zombie.

use crate::harness::{all_procs, exe, file, proc_stat, Fixture, Proc, Tend};

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

/// SIGCHLD is not queued: an orphan that exits while a service's SIGCHLD
/// is still pending raises none of its own. tend, stopped meanwhile, then
/// reads one SIGCHLD, naming the run, which its pidfd reaps alone; the
/// orphan is reaped all the same (a SIGCHLD that walked nothing makes a
/// walk due soon after), and the run's status is its own.
#[test]
fn an_orphan_whose_sigchld_merged_into_a_runs_is_reaped() {
    let fx = Fixture::new(
        "merged-sigchld",
        [
            exe(
                "services/pair/run",
                "export T\n\
                 (sh -c 'echo $$ > \"$T/orphan\"\n\
                   while [ ! -e \"$T/go-orphan\" ]; do sleep 0.01; done\n\
                   exit 5' &)\n\
                 echo $$ > \"$T/run\"\n\
                 while [ ! -e \"$T/go-run\" ]; do sleep 0.01; done\n\
                 exit 3\n",
            ),
            exe("services/pair/finish", "echo \"$1 $2\" >> \"$T/finish\"\n"),
            file("services/pair/service.toml", "restart = \"never\"\n"),
        ],
    );
    let mut t = fx.start(&[]);
    let tend = t.pid();
    let find = |t: &mut Tend, name: &str| {
        let ns_pid = t.wait_file(name);
        match t.find_ns_pid(&ns_pid) {
            Some(p) => p,
            None => t.fail(format!("{name} (namespace pid {ns_pid}) is not running")),
        }
    };
    let run = find(&mut t, "run");
    let orphan = find(&mut t, "orphan");
    t.wait_for("the orphan to be tend's", |_| {
        proc_stat(orphan.pid).is_some_and(|p| p.ppid == tend)
    });
    let zombie = |p: &Proc| proc_stat(p.pid).is_some_and(|now| now.state == 'Z');
    // A turn of tend's loop, so that the walk of its first turn is done.
    fx.ctl(&["status"]);
    t.signal("STOP");
    fx.write(file("go-run", ""));
    t.wait_for("run to exit", |_| zombie(&run));
    fx.write(file("go-orphan", ""));
    t.wait_for("the orphan to exit", |_| zombie(&orphan));
    t.signal("CONT");
    let finish = t.wait_lines("finish", 1);
    t.check_eq(finish, vec!["3 0".to_string()], "finish's CODE SIGNAL");
    t.wait_for("the orphan to be reaped", |_| {
        proc_stat(orphan.pid).is_none_or(|p| p.starttime != orphan.starttime)
    });

    t.term_expect(0);
}
