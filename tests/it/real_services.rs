//! Real Debian daemons supervised by tend as PID 1 of a PID namespace (the
//! harness's `unshare`): nginx and redis-server serve real requests on
//! loopback ports chosen here, stop gracefully on SIGTERM (redis writes its
//! dataset, nginx's master and worker exit 0), leave no zombie, and tend
//! exits 0. Also the `service-examples/nginx-backend` example as shipped.
//!
//! Each test prints a `SKIPPED:` line and passes when the daemons are not
//! installed (`apt-get install nginx-light redis-server python3`); with
//! `TEND_IT_NO_SKIP=1` (CI) it fails instead.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::harness::{descendants_of, exe, file, skip, Fixture, Tend};

const NGINX: &str = "/usr/sbin/nginx";
const REDIS: &str = "/usr/bin/redis-server";

/// False (after a visible `SKIPPED:` line) when a program is missing.
fn have(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("not installed: {}", missing.join(", "));
    if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
        panic!("TEND_IT_NO_SKIP is set, but {why}");
    }
    skip(why);
    false
}

/// A loopback port nothing listens on now. The small race (another process
/// taking it before the daemon binds) only makes a test fail loudly.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// One request/response exchange on 127.0.0.1:`port`: sends `request`,
/// reads until the peer closes or `until` is seen.
fn exchange(port: u16, request: &str, until: Option<&str>) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(request.as_bytes())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if until.is_some_and(|u| String::from_utf8_lossy(&got).contains(u)) {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// `GET path` over HTTP/1.0 (the server closes after the response).
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    exchange(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
        None,
    )
}

/// One redis command in the inline protocol; returns the first reply line.
fn redis(port: u16, command: &str) -> std::io::Result<String> {
    exchange(port, &format!("{command}\r\n"), Some("\r\n"))
        .map(|r| r.lines().next().unwrap_or("").to_string())
}

fn wait_port(t: &mut Tend, what: &str, port: u16) {
    t.wait_for(&format!("{what} accepting on 127.0.0.1:{port}"), |_| {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// Fails unless no process under tend is a zombie. Waits (with the harness's
/// deadline) rather than looks once: a process that just exited is a zombie
/// until its parent's next wait, which is not a leak.
fn wait_no_zombies(t: &mut Tend) {
    let pid = t.pid();
    t.wait_for("no zombie under tend", |_| {
        descendants_of(pid).iter().all(|p| p.state != 'Z')
    });
}

/// An nginx config for a prefix dir (`-p`) serving `html/` on
/// 127.0.0.1:`port`: every relative path below is under the prefix, so
/// nothing is written elsewhere. Errors (at notice level, which records the
/// graceful stop) go to stderr; `top` says how it runs (daemon, workers,
/// pid file) and `access_log` where requests are logged.
pub(crate) fn nginx_conf(port: u16, top: &str, access_log: &str) -> String {
    format!(
        "{top}\
         error_log stderr notice;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   access_log {access_log};\n\
         \x20   client_body_temp_path tmp/body;\n\
         \x20   proxy_temp_path tmp/proxy;\n\
         \x20   fastcgi_temp_path tmp/fastcgi;\n\
         \x20   uwsgi_temp_path tmp/uwsgi;\n\
         \x20   scgi_temp_path tmp/scgi;\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       root html;\n\
         \x20   }}\n\
         }}\n"
    )
}

/// nginx (run script, graceful stop on QUIT) and redis (service.toml
/// `command`, TERM) side by side, as in a real multi-service container.
#[test]
fn nginx_and_redis_serve_then_stop_gracefully_on_term() {
    if !have(&[NGINX, REDIS]) {
        return;
    }
    let (web, db) = (free_port(), free_port());
    let redis_cmd = format!(
        "command = [\"{REDIS}\", \"--port\", \"{db}\", \"--bind\", \"127.0.0.1\", \
         \"--save\", \"3600 1\", \"--dir\", \".\", \"--dbfilename\", \"dump.rdb\", \
         \"--appendonly\", \"no\", \"--logfile\", \"\"]\n"
    );
    let fx = Fixture::new(
        "nginx-redis",
        [
            exe(
                "services/nginx/run",
                &format!(
                    "mkdir -p \"$T/nginx/tmp\"\n\
                     exec {NGINX} -e stderr -p \"$T/nginx/\" -c \"$T/nginx/nginx.conf\" -g 'daemon off;'\n"
                ),
            ),
            // nginx's graceful stop; TERM would be its fast one.
            file("services/nginx/service.toml", "stop-signal = \"QUIT\"\n"),
            file("nginx/nginx.conf", &nginx_conf(web, "worker_processes 1;\npid nginx.pid;\n", "/dev/stdout")),
            file("nginx/html/index.html", "hello from nginx under tend\n"),
            file("services/redis/service.toml", &redis_cmd),
        ],
    );
    let mut t = fx.start(&["--grace", "10s"]);
    wait_port(&mut t, "nginx", web);
    wait_port(&mut t, "redis", db);

    let page = http_get(web, "/").unwrap_or_else(|e| t.fail(format!("GET /: {e}")));
    t.check(page.starts_with("HTTP/1.1 200"), format!("GET /: {page}"));
    t.check(
        page.contains("hello from nginx under tend"),
        format!("GET /: {page}"),
    );
    let pong = redis(db, "PING").unwrap_or_else(|e| t.fail(format!("PING: {e}")));
    t.check_eq(pong.as_str(), "+PONG", "reply to PING");
    let ok = redis(db, "SET tend-it-key kept-on-shutdown")
        .unwrap_or_else(|e| t.fail(format!("SET: {e}")));
    t.check_eq(ok.as_str(), "+OK", "reply to SET");
    t.wait_for("the access log line on stdout", |t| {
        t.stdout().contains("\"GET / HTTP/1.0\" 200")
    });
    wait_no_zombies(&mut t);
    t.check(
        !fx.exists("services/redis/dump.rdb"),
        "redis saved before shutdown",
    );

    t.term_expect(0);

    // redis: a save point is configured, so SIGTERM means save, then exit.
    let out = t.stdout();
    for line in ["DB saved on disk", "ready to exit"] {
        t.check(out.contains(line), format!("redis did not log {line:?}"));
    }
    let dump = std::fs::read(fx.path("services/redis/dump.rdb")).unwrap_or_default();
    let kept = dump
        .windows(b"tend-it-key".len())
        .any(|w| w == b"tend-it-key");
    t.check(
        kept,
        "dump.rdb missing or without the key set before SIGTERM",
    );

    // nginx: QUIT received, the worker exited 0, the master exited.
    let err = t.stderr();
    let nginx_said = |s: &str| err.lines().any(|l| l.contains("[notice]") && l.contains(s));
    t.check(
        nginx_said("signal 3 (SIGQUIT) received"),
        "nginx got no SIGQUIT",
    );
    t.check(
        nginx_said("exited with code 0"),
        "nginx's worker did not exit 0",
    );
    t.check(nginx_said(": exit"), "nginx's master did not exit");
    t.check(!err.contains("SIGKILL"), "tend had to SIGKILL something");
}

/// Copies a directory tree (files keep their mode).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read example dir").flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy example file");
        }
    }
}

/// service-examples/nginx-backend as shipped (copied, with its ports moved
/// to free ones through env/ dirs): nginx serves a file and proxies /api/ to
/// the backend, and SIGTERM stops both cleanly.
#[test]
fn nginx_backend_example_proxies_and_stops_cleanly() {
    if !have(&[NGINX, "/usr/bin/python3"]) {
        return;
    }
    let (web, api) = (free_port(), free_port());
    let fx = Fixture::new("nginx-backend", []);
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("service-examples/nginx-backend/services");
    copy_tree(&example, &fx.path("services"));
    let toml = fx.path("services/backend/service.toml");
    let text = std::fs::read_to_string(&toml).expect("read backend/service.toml");
    std::fs::write(
        &toml,
        text.replace("127.0.0.1:9001", &format!("127.0.0.1:{api}")),
    )
    .expect("write backend/service.toml");
    for (svc, var, value) in [
        ("nginx", "NGINX_PORT", web.to_string()),
        ("nginx", "BACKEND_PORT", api.to_string()),
        ("nginx", "NGINX_RUNDIR", fx.arg("nginx-run")),
        ("backend", "BACKEND_PORT", api.to_string()),
    ] {
        let dir = fx.path(&format!("services/{svc}/env"));
        std::fs::create_dir_all(&dir).expect("create env dir");
        std::fs::write(dir.join(var), format!("{value}\n")).expect("write env file");
    }

    let mut t = fx.start(&["--grace", "10s"]);
    wait_port(&mut t, "backend", api);
    wait_port(&mut t, "nginx", web);
    let page = http_get(web, "/").unwrap_or_else(|e| t.fail(format!("GET /: {e}")));
    t.check(
        page.contains("nginx, supervised by tend"),
        format!("GET /: {page}"),
    );
    let api_reply =
        http_get(web, "/api/hello.json").unwrap_or_else(|e| t.fail(format!("GET /api/: {e}")));
    t.check(
        api_reply.starts_with("HTTP/1.1 200"),
        format!("GET /api/hello.json: {api_reply}"),
    );
    t.check(
        api_reply.contains("hello from the backend"),
        format!("GET /api/hello.json: {api_reply}"),
    );
    wait_no_zombies(&mut t);

    t.term_expect(0);
    let err = t.stderr();
    t.check(
        err.contains("signal 3 (SIGQUIT) received"),
        "nginx was not stopped with QUIT",
    );
    t.check(!err.contains("SIGKILL"), "tend had to SIGKILL something");
}
