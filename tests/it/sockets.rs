//! Socket activation (SPEC §2 `listen`, `on-demand`; sd_listen_fds(3)):
//! tend binds, the service gets the sockets as fds 3.. with LISTEN_FDS,
//! LISTEN_PID (its own pid) and LISTEN_FDNAMES; an on-demand service starts
//! on the first connection, and counts as ready for `after` before that.

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::harness::{exe, file, free_port, polite, Entry, Fixture};

/// Answers every connection on each socket passed by tend (fds 3.., per
/// LISTEN_FDS and LISTEN_FDNAMES) with `NAME FDNAME`.
pub(crate) const SERVE_PY: &str = r#"import os, selectors, socket, sys
n = int(os.environ["LISTEN_FDS"])
names = os.environ["LISTEN_FDNAMES"].split(":")
sel = selectors.DefaultSelector()
for i in range(n):
    sel.register(socket.socket(fileno=3 + i), selectors.EVENT_READ, names[i])
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        c.sendall((sys.argv[1] + " " + key.data + "\n").encode())
        c.close()
"#;

/// A service that records its pid and LISTEN_* variables, then serves.
fn activated(name: &str) -> [Entry; 2] {
    [
        file("serve.py", SERVE_PY),
        exe(
            &format!("services/{name}/run"),
            &format!(
                "echo \"$$ $LISTEN_PID $LISTEN_FDS $LISTEN_FDNAMES\" > \"$T/env-{name}\"\n\
                 exec python3 \"$T/serve.py\" {name}\n"
            ),
        ),
    ]
}

fn ask_tcp(port: u16) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    s
}

#[test]
fn listen_passes_sockets_with_their_names() {
    let port = free_port();
    let fx = Fixture::new(
        "listen",
        activated("web").into_iter().chain([file(
            "services/web/service.toml",
            &format!(
                "listen = [\"tcp:127.0.0.1:{port}#http\", \"unix:/tmp/tend-it-{port}.sock\"]\n"
            ),
        )]),
    );
    let mut t = fx.start(&[]);
    let env = t.wait_file("env-web");
    let f: Vec<&str> = env.split_whitespace().collect();
    t.check(
        f.len() == 4 && f[0] == f[1],
        format!("LISTEN_PID must be the service's pid: {env:?}"),
    );
    t.check_eq(f.get(2).copied(), Some("2"), "LISTEN_FDS");
    t.check_eq(f.get(3).copied(), Some("http:web"), "LISTEN_FDNAMES");
    let mut reply = String::new();
    t.wait_for("a reply on the tcp socket", |_| {
        reply = ask_tcp(port);
        !reply.is_empty()
    });
    t.check_eq(reply.as_str(), "web http\n", "tcp reply");
    let mut u = UnixStream::connect(format!("/tmp/tend-it-{port}.sock")).expect("unix connect");
    let mut r = String::new();
    u.read_to_string(&mut r).unwrap();
    t.check_eq(r.as_str(), "web web\n", "unix reply");
    t.term_expect(0);
    let _ = std::fs::remove_file(format!("/tmp/tend-it-{port}.sock"));
}

#[test]
fn on_demand_starts_on_the_first_connection_and_its_dependents_do_not_wait() {
    let port = free_port();
    let fx = Fixture::new(
        "on-demand",
        activated("lazy").into_iter().chain([
            file(
                "services/lazy/service.toml",
                &format!("listen = [\"tcp:127.0.0.1:{port}\"]\non-demand = true\n"),
            ),
            exe("services/app/run", &polite("app")),
            file("services/app/service.toml", "after = [\"lazy\"]\n"),
        ]),
    );
    let mut t = fx.start(&[]);
    // app runs after lazy, which counts as ready once its socket is bound.
    t.wait_file("up-app");
    std::thread::sleep(Duration::from_millis(300));
    t.check(!fx.exists("env-lazy"), "lazy started before any connection");
    let status = t.ctl_ok(&["status", "lazy"]);
    t.check(status.contains("listening"), format!("status: {status}"));
    t.ctl_ok(&["check"]);
    // The first connection waits in the backlog until lazy has started.
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    t.check_eq(
        reply.as_str(),
        "lazy lazy\n",
        "reply to the first connection",
    );
    t.wait_file("env-lazy");
    t.term_expect(0);
}
