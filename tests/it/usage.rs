//! Usage errors: tend refuses to start, exits 2, says why on stderr, and runs
//! nothing.

use crate::harness::{exe, polite, Fixture};

/// Runs tend with `args` on a fixture with one service and checks it exits 2
/// without starting it, with a `tend: ` message on stderr holding `says`.
fn expect_usage_error(name: &str, args: &[&str], says: &str) {
    let fx = Fixture::new(name, [exe("services/svc/run", &polite("svc"))]);
    let ran = fx.arg("main-ran");
    let mut argv: Vec<String> = args
        .iter()
        .map(|a| a.replace("@FX@", &fx.arg("")))
        .collect();
    argv.extend(["--", "sh", "-c"].map(String::from));
    argv.push(format!("echo yes > '{ran}'"));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut t = fx.start(&argv);
    let code = t.wait_exit();
    t.check_eq(code, 2, "exit code of a usage error");
    let stderr = t.stderr();
    t.check(stderr.contains("tend: "), "no `tend: ` message on stderr");
    t.check(
        stderr.contains(says),
        format!("stderr does not mention {says:?}"),
    );
    t.check(
        !fx.exists("up-svc"),
        "a service ran despite the usage error",
    );
    t.check(
        !fx.exists("main-ran"),
        "the main command ran despite the usage error",
    );
}

#[test]
fn unknown_option_exits_2() {
    expect_usage_error("usage-option", &["--no-such-option"], "--no-such-option");
}

#[test]
fn missing_explicit_services_dir_exits_2() {
    expect_usage_error(
        "usage-missing-dir",
        &["--services", "@FX@/no-such-dir"],
        "no-such-dir",
    );
}

#[test]
fn bad_grace_duration_exits_2() {
    expect_usage_error("usage-grace", &["--grace", "soon"], "soon");
}

#[test]
fn no_services_and_no_main_command_exits_2() {
    let fx = Fixture::new("usage-nothing", []);
    let mut t = fx.start(&[]);
    let code = t.wait_exit();
    t.check_eq(code, 2, "exit code with nothing to run");
    t.check(
        t.stderr().contains("tend: "),
        "no `tend: ` message on stderr",
    );
}
