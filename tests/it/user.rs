//! `user` in service.toml (SPEC §6): the service runs with that user's
//! uid, primary gid and supplementary groups, and HOME, USER and LOGNAME;
//! an unknown user is reported and that service skipped. Needs root.

use crate::harness::{exe, file, is_root, polite, skip, Fixture};

#[test]
fn service_runs_as_its_user_and_can_still_notify() {
    if !is_root() {
        skip("user tests need root to switch users");
        return;
    }
    let fx = Fixture::new(
        "user",
        [
            exe(
                "services/low/run",
                "echo \"ids $(id -u) $(id -g) home=$HOME user=$USER logname=$LOGNAME\"\n\
                 exec sleep 1000\n",
            ),
            file("services/low/service.toml", "user = \"nobody\"\n"),
            // As nobody, it must still be able to reach its notify socket.
            exe(
                "services/note/run",
                "exec python3 -c 'import os, socket, time\n\
                 a = os.environ[\"NOTIFY_SOCKET\"]\n\
                 a = \"\\0\" + a[1:] if a[0] == \"@\" else a\n\
                 socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", a)\n\
                 time.sleep(1000)'\n",
            ),
            file(
                "services/note/service.toml",
                "user = \"nobody\"\nready = \"notify\"\n",
            ),
            exe("services/ghost/run", &polite("ghost")),
            file("services/ghost/service.toml", "user = \"no-such-user\"\n"),
            exe("services/ok/run", &polite("ok")),
        ],
    );
    let mut t = fx.start(&[]);
    t.wait_file("up-ok");
    t.wait_stderr("the unknown user reported", |e| {
        e.contains("ghost/service.toml: user: no user named \"no-such-user\"")
    });
    t.ctl_ok(&["wait", "ready", "note", "--timeout", "10s"]);
    t.wait_for("low's line", |t| t.stdout().contains("low | ids"));
    let out = t.stdout();
    t.check(
        out.lines()
            .any(|l| l == "low | ids 65534 65534 home=/nonexistent user=nobody logname=nobody"),
        format!("low did not run as nobody:\n{out}"),
    );
    t.check(!t.fixture().exists("up-ghost"), "ghost must not start");
    t.term_expect(0);
}
