//! One-shot scripts: `init.d` runs one at a time in name order before any
//! service starts, and its first failure stops everything (no service,
//! `finish.d` still runs, exit 1); `finish.d` runs after every service
//! stopped.

use crate::harness::{exe, Fixture};

/// An init.d/finish.d script appending `word` to `$T/order`.
fn append(word: &str) -> String {
    format!("echo {word} >> \"$T/order\"\n")
}

#[test]
fn init_runs_in_order_before_services_and_finish_after_them() {
    let fx = Fixture::new(
        "init-order",
        [
            exe("init.d/30-c", &append("c")),
            // Slow: if scripts ran in parallel, b and c would come first.
            exe("init.d/10-a", &format!("sleep 0.3\n{}", append("a"))),
            exe("init.d/20-b", &append("b")),
            exe(
                "services/svc/run",
                "echo svc >> \"$T/order\"\n\
                 trap 'echo svc-stopped >> \"$T/order\"; exit 0' TERM\n\
                 echo $$ > \"$T/up-svc\"\n\
                 sleep 1000 &\n\
                 wait\n",
            ),
            exe("finish.d/20-y", &append("fin-y")),
            exe("finish.d/10-x", &append("fin-x")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-svc");
    t.check_eq(
        fx.lines("order"),
        ["a", "b", "c", "svc"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        "order before shutdown",
    );
    t.term_expect(0);
    t.check_eq(
        fx.lines("order"),
        ["a", "b", "c", "svc", "svc-stopped", "fin-x", "fin-y"]
            .map(String::from)
            .to_vec(),
        "order of init.d, service, finish.d",
    );
}

#[test]
fn failing_init_script_starts_no_service_but_runs_finish() {
    let fx = Fixture::new(
        "init-fails",
        [
            exe("init.d/10-ok", &append("ok")),
            exe("init.d/20-fail", &format!("{}exit 3\n", append("fail"))),
            exe("init.d/30-never", &append("never")),
            exe(
                "services/svc/run",
                &format!("{}sleep 1000\n", append("svc")),
            ),
            exe("finish.d/10-fin", &append("fin")),
        ],
    );
    let mut t = fx.start(&[]);
    let code = t.wait_exit();
    t.check_eq(code, 1, "exit code after a failed init script");
    t.check_eq(
        fx.lines("order"),
        ["ok", "fail", "fin"].map(String::from).to_vec(),
        "what ran",
    );
    t.check(
        t.stderr().contains("20-fail"),
        "the log does not name the failed init script",
    );
}
