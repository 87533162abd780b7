//! Templates (SPEC §2 `instances`): one service dir run as NAME@1 ..
//! NAME@N, each with `$TEND_INSTANCE`, and `after` naming the template
//! (every instance) or one instance.

use crate::harness::{exe, file, Fixture};

#[test]
fn instances_run_with_their_number_and_gate_a_dependent() {
    let fx = Fixture::new(
        "templates",
        [
            exe(
                "services/w/run",
                "sleep 0.$TEND_INSTANCE\n\
                 echo $TEND_INSTANCE > \"$T/up-w$TEND_INSTANCE\"\n\
                 echo \"hello $TEND_INSTANCE\"\n\
                 echo >&3\n\
                 exec sleep 1000\n",
            ),
            file("services/w/service.toml", "instances = 3\n"),
            file("services/w/notification-fd", "3\n"),
            exe(
                "services/lb/run",
                "ls \"$T\" | grep -c '^up-w' > \"$T/lb-saw\"\nexec sleep 1000\n",
            ),
            file("services/lb/service.toml", "after = [\"w\"]\n"),
        ],
    );
    let mut t = fx.start(&[]);
    for i in 1..=3 {
        let got = t.wait_file(&format!("up-w{i}"));
        t.check_eq(got.trim(), &i.to_string(), "TEND_INSTANCE");
    }
    // lb starts only once every instance is ready.
    let saw = t.wait_file("lb-saw");
    t.check_eq(saw.trim(), "3", "instances up when lb started");
    let status = t.ctl_ok(&["status"]);
    for name in ["w@1", "w@2", "w@3", "lb"] {
        t.check(
            status.lines().any(|l| l.starts_with(&format!("{name} "))),
            format!("{name} missing from status:\n{status}"),
        );
    }
    t.term_expect(0);
    // Output of instances is prefixed with the instance's name.
    let out = t.stdout();
    t.check(
        out.lines().any(|l| l == "w@2 | hello 2"),
        format!("no prefixed line of w@2 in:\n{out}"),
    );
}
