//! The harness every integration test shares: fixture directories built from
//! a path→content map, and the real `tend` binary run as PID 1 of a fresh PID
//! namespace, with helpers to wait for what it does and to signal it.
//!
//! Tests never sleep and then assert: they wait, with a deadline, for
//! something observable (a marker file a script writes, a line on stderr, a
//! process leaving `/proc`). A failed check panics with everything needed to
//! debug it: the command line, the fixture dir, tend's exit status, its
//! stdout and stderr, the marker files the scripts wrote and the processes
//! still running under tend. A failed test keeps its fixture dir; a passing
//! one removes it.
//!
//! Only std: processes are signalled with kill(1) and inspected through the
//! host's `/proc`.

use std::collections::BTreeSet;
use std::fmt::{Debug, Display, Write as _};
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest any single wait may take before the test fails. Generous on
/// purpose: CI has 2 cores and runs the tests in parallel.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How often waits look again.
const POLL: Duration = Duration::from_millis(10);

/// The binary under test: the one users run, the static musl release build.
/// `TEND_STATIC_BIN` names it (`.ci/run` sets it); without it the harness
/// builds it once with cargo. Only when that build fails, and
/// `TEND_IT_NO_SKIP` is unset, does it fall back to the debug build cargo
/// made for the tests, saying so: a defect that lives only in the static
/// build (a libc symbol that resolves differently, a relocation model) is
/// invisible there.
pub fn tend_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TEND_STATIC_BIN") {
            return p.to_string_lossy().into_owned();
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let target = "x86_64-unknown-linux-musl";
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--release", "--target", target])
            .current_dir(root)
            .status();
        let bin = format!("{root}/target/{target}/release/tend");
        match built {
            Ok(s) if s.success() => bin,
            other => {
                let why = format!("cannot build the static binary ({other:?})");
                if std::env::var_os("TEND_IT_NO_SKIP").is_some() {
                    panic!("TEND_IT_NO_SKIP is set, but {why}");
                }
                eprintln!("WARNING: {why}; testing the debug build instead");
                env!("CARGO_BIN_EXE_tend").to_string()
            }
        }
    })
}

/// The emulator the binary under test runs under, from `TEND_IT_EMULATOR`
/// (`.ci/run` sets `qemu-aarch64-static` to test the aarch64 build on an
/// x86_64 host). qemu-user execs the guest in place: the process keeps its
/// pid, so under `unshare --pid --fork` tend is still PID 1 (`getpid()` and
/// its children's `getppid()` say 1), only its `comm` is the emulator's.
pub fn emulator() -> Option<&'static str> {
    static EMU: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    EMU.get_or_init(|| {
        let emu = std::env::var("TEND_IT_EMULATOR")
            .ok()
            .filter(|e| !e.is_empty())?;
        // Without it the harness would build, and emulate, the host binary.
        assert!(
            std::env::var_os("TEND_STATIC_BIN").is_some(),
            "TEND_IT_EMULATOR={emu} needs TEND_STATIC_BIN to name the binary it runs"
        );
        Some(emu)
    })
    .as_deref()
}

/// Under an emulator, says `SKIPPED:` with the test's name and `why` (what
/// the emulator cannot do) and returns true, for the test to return early,
/// `if crate::harness::emulated("why") { return; }`, or to leave out the one
/// check the emulator defeats. Natively, false.
pub fn emulated(why: &str) -> bool {
    let Some(emu) = emulator() else {
        return false;
    };
    let thread = thread::current();
    let test = thread.name().unwrap_or("a test");
    skip(format!("{test} under {emu}: {why}"));
    true
}

/// Why a test skips, under qemu-user, its check of the log line naming a
/// command whose exec failed (its exit code, 127 or 126, is still checked).
pub const NO_EXEC_ERRNO: &str = "not checking the log line that names the failed command: \
     qemu-user runs clone(CLONE_VM|CLONE_VFORK) as a plain fork, so the child's exec errno \
     never reaches tend's memory";

/// The command line that runs the binary under test: the emulator, if any,
/// then `tend_bin()`.
fn tend_cmd() -> Vec<String> {
    emulator()
        .into_iter()
        .chain([tend_bin()])
        .map(str::to_string)
        .collect()
}

/// One file of a fixture, relative to the fixture dir.
pub struct Entry {
    path: String,
    body: String,
    exec: bool,
}

/// An executable `/bin/sh` script. The harness adds the `#!/bin/sh` line and
/// then `T='<fixture dir>'`, so scripts write their markers as `"$T/NAME"`
/// whatever their cwd and environment.
pub fn exe(path: &str, body: &str) -> Entry {
    Entry {
        path: path.to_string(),
        body: body.to_string(),
        exec: true,
    }
}

/// A plain file (mode 0644), written as given.
pub fn file(path: &str, body: &str) -> Entry {
    Entry {
        path: path.to_string(),
        body: body.to_string(),
        exec: false,
    }
}

/// A service body that stops politely: it writes its pid to `$T/up-NAME`
/// once its TERM trap is in place, idles, and on TERM writes its pid to
/// `$T/term-NAME` and exits 0.
pub fn polite(name: &str) -> String {
    format!(
        "trap 'echo $$ > \"$T/term-{name}\"; exit 0' TERM\n\
         echo $$ > \"$T/up-{name}\"\n\
         sleep 1000 &\n\
         wait\n"
    )
}

/// A service body that ignores TERM (and so does its child, as an ignored
/// signal survives exec): only SIGKILL stops it. Writes `$T/up-NAME`.
pub fn stubborn(name: &str) -> String {
    format!(
        "trap '' TERM\n\
         echo $$ > \"$T/up-{name}\"\n\
         sleep 1000 &\n\
         wait\n"
    )
}

/// `notify.py`, an sd_notify client for the fixture's scripts:
/// `python3 "$T/notify.py" MESSAGE [COUNT [ADDRESS]]` sends MESSAGE (`\n`
/// written as backslash-n stands for a newline) COUNT times (default 1) to
/// ADDRESS (default `$NOTIFY_SOCKET`; `@name` is abstract), blocking while
/// the receiver's queue is full, then writes `sent MESSAGE` on stdout.
pub fn notify_py() -> Entry {
    file(
        "notify.py",
        r#"import os, socket, sys
msg = sys.argv[1].replace("\\n", "\n").encode()
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
addr = sys.argv[3] if len(sys.argv) > 3 else os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(addr)
for _ in range(count):
    s.send(msg)
print("sent " + sys.argv[1], flush=True)
"#,
    )
}

/// What one `tend ctl` run gave.
#[derive(Debug)]
pub struct CtlOut {
    /// The command line, for failure messages.
    pub cmd: String,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub out: String,
    pub err: String,
    pub took: Duration,
}

impl Display for CtlOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {} after {:.3}s\n  stdout: {:?}\n  stderr: {:?}",
            self.cmd,
            self.code,
            self.took.as_secs_f64(),
            self.out,
            self.err
        )
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago: bound to port 0 to
/// let the kernel choose, then released for a service to take.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Writes entry `e` under `dir`, returns its path. Written under a
/// temporary name then renamed, so that tend never reads a half-written
/// file (entries also go in while it runs, for reloads).
fn write_entry(dir: &std::path::Path, e: Entry) -> PathBuf {
    let path = dir.join(&e.path);
    fs::create_dir_all(path.parent().unwrap()).expect("create fixture subdir");
    let (body, mode) = if e.exec {
        let header = format!("#!/bin/sh\nT='{}'\n", dir.display());
        (header + &e.body, 0o755)
    } else {
        (e.body, 0o644)
    };
    let tmp = path.with_extension("tend-it-tmp");
    fs::write(&tmp, body).expect("write fixture file");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).expect("chmod");
    fs::rename(&tmp, &path).expect("rename fixture file");
    path
}

static NEXT_FIXTURE: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory holding `services/`, `init.d/`, `finish.d/` (always
/// created, possibly empty), the entries given, and whatever the scripts
/// write while tend runs.
pub struct Fixture {
    dir: PathBuf,
    inputs: BTreeSet<PathBuf>,
}

impl Fixture {
    /// `name` only makes the directory recognisable; uniqueness comes from
    /// the process id and a counter, so tests can run in parallel.
    pub fn new(name: &str, entries: impl IntoIterator<Item = Entry>) -> Fixture {
        let short: String = name.chars().take(24).collect();
        let dir = std::env::temp_dir().join(format!(
            "tend-it-{}-{}-{short}",
            std::process::id(),
            NEXT_FIXTURE.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["services", "init.d", "finish.d"] {
            fs::create_dir_all(dir.join(sub)).expect("create fixture dir");
        }
        let mut inputs = BTreeSet::new();
        for e in entries {
            inputs.insert(write_entry(&dir, e));
        }
        Fixture { dir, inputs }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The path as a `String`, for command lines.
    pub fn arg(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }

    /// The complete lines of a marker file (a line still being written, with
    /// no newline yet, is left out); none when it does not exist.
    pub fn lines(&self, rel: &str) -> Vec<String> {
        let text = self.read(rel).unwrap_or_default();
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => return Vec::new(),
        };
        complete.lines().map(str::to_string).collect()
    }

    /// Writes one more entry while tend runs (a new or edited service, for
    /// reload tests), exactly as `Fixture::new` writes its entries.
    pub fn write(&self, e: Entry) {
        write_entry(&self.dir, e);
    }

    /// Removes a file or a whole directory of the fixture.
    pub fn remove(&self, rel: &str) {
        let path = self.path(rel);
        let r = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        r.unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
    }

    /// Runs `tend ctl --control DIR/control.sock ARGS` from the host, whether
    /// or not a tend is running (see `Tend::ctl` for the usual case).
    pub fn ctl(&self, args: &[&str]) -> CtlOut {
        self.ctl_bin(&[], tend_bin(), args)
    }

    /// Like `ctl`, with the client binary at `bin`, run through `wrapper`
    /// (e.g. `setpriv --reuid=...`) when not empty.
    pub fn ctl_bin(&self, wrapper: &[&str], bin: &str, args: &[&str]) -> CtlOut {
        let sock = self.arg("control.sock");
        let mut argv: Vec<String> = wrapper.iter().map(|w| w.to_string()).collect();
        argv.extend(emulator().map(str::to_string));
        argv.extend([bin.to_string(), "ctl".into(), "--control".into(), sock]);
        argv.extend(args.iter().map(|a| a.to_string()));
        let started = Instant::now();
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env_remove("TEND_CONTROL")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        CtlOut {
            cmd: shell_words(&argv),
            code: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: started.elapsed(),
        }
    }

    /// Starts tend on this fixture. `--services`, `--init-dir`,
    /// `--finish-dir` and `--control` point into the fixture unless `args`
    /// gives them; `args` (options, then `--` and a main command) follow.
    pub fn start(&self, args: &[&str]) -> Tend<'_> {
        self.start_in(namespace_wrapper(), &[], &[], args)
    }

    /// Like `start`, with these variables added to tend's environment.
    pub fn start_env(&self, env: &[(&str, &str)], args: &[&str]) -> Tend<'_> {
        self.start_in(namespace_wrapper(), env, &[], args)
    }

    /// Like `start`, with `pre` (a command that ends by exec'ing its
    /// arguments, e.g. `sh -c 'mount ...; exec "$@"' sh`) run inside the
    /// namespace before tend: it can set up tend's mounts or limits.
    pub fn start_under(&self, pre: &[&str], args: &[&str]) -> Tend<'_> {
        let mut wrapper = namespace_wrapper();
        wrapper.extend(pre.iter().map(|a| a.to_string()));
        self.start_in(wrapper, &[], &[], args)
    }

    /// Starts tend as a plain child of the test, not PID 1 of anything (it
    /// must then make itself a child subreaper).
    pub fn start_not_pid1(&self, args: &[&str]) -> Tend<'_> {
        self.start_in(Vec::new(), &[], &[], args)
    }

    /// Like `start_env`, with `fds` handed to tend as its fds 3, 4, ...
    /// (through unshare, which keeps them), as a service manager hands
    /// sockets (sd_listen_fds(3)).
    pub fn start_with_fds(
        &self,
        env: &[(&str, &str)],
        fds: &[std::os::fd::RawFd],
        args: &[&str],
    ) -> Tend<'_> {
        self.start_in(namespace_wrapper(), env, fds, args)
    }

    fn start_in(
        &self,
        mut argv: Vec<String>,
        env: &[(&str, &str)],
        fds: &[std::os::fd::RawFd],
        args: &[&str],
    ) -> Tend<'_> {
        let direct = argv.is_empty();
        argv.extend(tend_cmd());
        for (opt, rel) in [
            ("--services", "services"),
            ("--init-dir", "init.d"),
            ("--finish-dir", "finish.d"),
            ("--control", "control.sock"),
        ] {
            if !args.contains(&opt) {
                argv.push(opt.to_string());
                argv.push(self.arg(rel));
            }
        }
        argv.extend(args.iter().map(|a| a.to_string()));

        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The caller's environment must not change the outcome.
        for var in [
            "TEND_SERVICES",
            "TEND_INIT_DIR",
            "TEND_FINISH_DIR",
            "TEND_GRACE",
            "TEND_READY_TIMEOUT",
            "TEND_CONTROL",
            "TEND_LOG_PREFIX",
            "TEND_LOG_LEVEL",
            "TINI_SUBREAPER",
            "TINI_KILL_PROCESS_GROUP",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        if !fds.is_empty() {
            use std::os::unix::process::CommandExt;
            let fds = fds.to_vec();
            // SAFETY: between fork and exec, only dup2 and fcntl, which are
            // async-signal-safe. Each fd first goes above the targets, so
            // that none lands on another before it is moved.
            unsafe {
                cmd.pre_exec(move || {
                    let above = 3 + fds.len() as i32 + 64;
                    let tmp: Vec<i32> = fds
                        .iter()
                        .map(|&fd| libc::fcntl(fd, libc::F_DUPFD, above))
                        .collect();
                    for (i, &t) in tmp.iter().enumerate() {
                        if t < 0 || libc::dup2(t, 3 + i as i32) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        libc::close(t);
                    }
                    Ok(())
                });
            }
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let out_flow = Arc::new(Flow::default());
        let readers = vec![
            collect(child.stdout.take().unwrap(), out.clone(), out_flow.clone()),
            collect(child.stderr.take().unwrap(), err.clone(), Arc::default()),
        ];
        let child_id = child.id();
        Tend {
            fx: self,
            argv,
            child,
            started,
            out,
            err,
            readers,
            out_flow,
            pid: direct.then_some(child_id),
            exit: None,
        }
    }

    /// Files that are not inputs: what the scripts wrote, for failure dumps.
    fn markers(&self) -> String {
        let mut s = String::new();
        let mut stack = vec![self.dir.clone()];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => stack.push(p),
                    Ok(t) if t.is_file() && !self.inputs.contains(&p) => files.push(p),
                    _ => {}
                }
            }
        }
        files.sort();
        for p in files {
            let text = fs::read_to_string(&p).unwrap_or_else(|e| format!("<{e}>"));
            let text: String = text.chars().take(2000).collect();
            let rel = p.strip_prefix(&self.dir).unwrap_or(&p);
            let _ = writeln!(s, "{}: {text:?}", rel.display());
        }
        s
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("fixture kept for inspection: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The command that makes tend PID 1 of a new PID namespace, with its own
/// /proc so that what tend and its scripts read there is the namespace's.
///
/// `--fork` is required (the caller of unshare(2) does not enter the new
/// namespace, its next child does), so the process we spawn is unshare and
/// Runs tend to its end as PID 1 of a fresh namespace with exactly `args`
/// (bytes, not only UTF-8), and returns what it printed and its status.
pub fn run_raw(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut argv = namespace_wrapper();
    argv.extend(tend_cmd());
    Command::new(&argv[0])
        .args(&argv[1..])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"))
}

/// Makes `n` connections to 127.0.0.1:`port` one after the other, each
/// read to its end (20 s at most): how many were answered `want`, refused,
/// or neither.
pub fn connect_many(port: u16, n: usize, want: &str) -> (usize, usize, usize) {
    use std::io::Read;
    let (mut ok, mut refused, mut other) = (0, 0, 0);
    for _ in 0..n {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut c) => {
                let _ = c.set_read_timeout(Some(Duration::from_secs(20)));
                let mut reply = String::new();
                let _ = c.read_to_string(&mut reply);
                if reply == want {
                    ok += 1;
                } else {
                    other += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => refused += 1,
            Err(_) => other += 1,
        }
    }
    (ok, refused, other)
}

/// tend is unshare's only child: `Tend::pid` finds it. `--kill-child` makes
/// unshare set the parent-death signal (SIGKILL) on that child, so if the test
/// process dies or kills unshare, tend dies and the kernel kills the whole
/// namespace with it: no stray processes outlive a failed test. When tend
/// exits, unshare exits with the same code.
fn namespace_wrapper() -> Vec<String> {
    let mut argv = vec!["unshare".to_string()];
    if !is_root() {
        argv.push("--user".into());
        argv.push("--map-root-user".into());
    }
    for a in ["--pid", "--fork", "--mount-proc", "--kill-child"] {
        argv.push(a.into());
    }
    argv
}

pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// How the test reads one of tend's outputs, and what it has read.
#[derive(Default)]
struct Flow {
    /// Set: read nothing, so the writer sees a full pipe (a slow reader).
    held: AtomicBool,
    /// Set: close the pipe (tend's next write gets EPIPE).
    closed: AtomicBool,
    /// Set: count what is read, keep none of it (floods of output).
    discard: AtomicBool,
    /// Bytes read, and how many of them were newlines.
    bytes: AtomicU64,
    newlines: AtomicU64,
}

/// Reads `pipe` into `buf` until end of file, as `flow` says.
fn collect(
    mut pipe: impl Read + Send + 'static,
    buf: Arc<Mutex<Vec<u8>>>,
    flow: Arc<Flow>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            while flow.held.load(Ordering::SeqCst) {
                thread::sleep(POLL);
            }
            if flow.closed.load(Ordering::SeqCst) {
                break; // drops the pipe: tend's next write gets EPIPE
            }
            let n = match pipe.read(&mut chunk) {
                Ok(n) => n,
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            let lines = chunk[..n].iter().filter(|&&b| b == b'\n').count();
            flow.newlines.fetch_add(lines as u64, Ordering::SeqCst);
            flow.bytes.fetch_add(n as u64, Ordering::SeqCst);
            if !flow.discard.load(Ordering::SeqCst) {
                buf.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        }
    })
}

/// Sends SIGHUP and waits for tend to log its `n`th reload (so that what
/// the test checks next is the reload's doing).
pub fn hup(t: &mut Tend, n: usize) {
    t.signal("HUP");
    t.wait_for(&format!("reload #{n} in tend's log"), |t| {
        t.stderr()
            .lines()
            .filter(|l| l.contains("reloading"))
            .count()
            >= n
    });
}

/// A running (or finished) tend, as seen from the host.
pub struct Tend<'f> {
    fx: &'f Fixture,
    argv: Vec<String>,
    /// The unshare process (tend itself with `start_not_pid1`).
    child: Child,
    started: Instant,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    /// How the test reads tend's stdout (`hold_stdout`, `close_stdout`,
    /// `discard_stdout`).
    out_flow: Arc<Flow>,
    /// tend's pid on the host, once found.
    pid: Option<u32>,
    exit: Option<(ExitStatus, Instant)>,
}

impl Tend<'_> {
    /// tend's pid on the host: the child of unshare once it has exec'd tend.
    /// Waiting for the exec matters: a signal sent before it would reach
    /// unshare's forked child, as PID 1 with no handler, which drops it.
    pub fn pid(&mut self) -> u32 {
        if let Some(pid) = self.pid {
            return pid;
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(pid) = self.find_pid() {
                self.pid = Some(pid);
                return pid;
            }
            if self.poll_exit() {
                self.fail("tend exited before its pid could be found");
            }
            if Instant::now() > deadline {
                self.fail("no tend process appeared under unshare");
            }
            thread::sleep(POLL);
        }
    }

    fn find_pid(&self) -> Option<u32> {
        let unshare = self.child.id();
        // What /proc shows as its comm once exec'd: the (first 15 bytes of
        // the) name of what runs it, tend or its emulator.
        let cmd = tend_cmd().swap_remove(0);
        let name = cmd.rsplit('/').next().unwrap_or_default();
        let comm = &name.as_bytes()[..name.len().min(15)];
        all_procs()
            .into_iter()
            .find(|p| p.ppid == unshare && p.comm.as_bytes() == comm)
            .map(|p| p.pid)
    }

    /// Sends SIGTERM and checks that tend exits with `code`; returns when
    /// the signal was sent, to time the stop.
    pub fn term_expect(&mut self, code: i32) -> Instant {
        let sent = self.signal("TERM");
        let got = self.wait_exit();
        self.check_eq(got, code, "exit code after SIGTERM");
        sent
    }

    /// Sends `sig` (a name such as `TERM`) to tend; returns when it was sent,
    /// to time what follows.
    pub fn signal(&mut self, sig: &str) -> Instant {
        let pid = self.pid().to_string();
        let at = Instant::now();
        let ok = Command::new("kill")
            .args(["-s", sig, &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            self.fail(format!("kill -s {sig} {pid} failed"));
        }
        at
    }

    /// Waits until `cond` holds. Fails when tend exits first (every process
    /// of the namespace is gone then, so nothing can change any more) or at
    /// the deadline.
    pub fn wait_for(&mut self, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if cond(self) {
                return;
            }
            if self.poll_exit() {
                if cond(self) {
                    return;
                }
                self.fail(format!("tend exited while waiting for {what}"));
            }
            if Instant::now() > deadline {
                self.fail(format!("timed out after {TIMEOUT:?} waiting for {what}"));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for the marker file `rel` to hold a complete line; returns its
    /// first line.
    pub fn wait_file(&mut self, rel: &str) -> String {
        self.wait_lines(rel, 1).swap_remove(0)
    }

    /// Waits for the marker file `rel` to hold at least `n` complete lines;
    /// returns them all.
    pub fn wait_lines(&mut self, rel: &str, n: usize) -> Vec<String> {
        let fx = self.fx;
        self.wait_for(&format!("{n} line(s) in {rel}"), |_| {
            fx.lines(rel).len() >= n
        });
        fx.lines(rel)
    }

    /// Waits for a line of stderr that satisfies `pred`; returns it.
    pub fn wait_stderr(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for(what, |t| t.stderr().lines().any(&pred));
        self.stderr().lines().find(|l| pred(l)).unwrap().to_string()
    }

    /// The fixture this tend runs on.
    pub fn fixture(&self) -> &Fixture {
        self.fx
    }

    /// Runs `tend ctl ARGS` against this tend, once its control socket
    /// exists.
    pub fn ctl(&mut self, args: &[&str]) -> CtlOut {
        let fx = self.fx;
        self.wait_for("the control socket", |_| fx.exists("control.sock"));
        fx.ctl(args)
    }

    /// `ctl`, failing the test (with the dump) unless it exits 0; returns
    /// its stdout.
    pub fn ctl_ok(&mut self, args: &[&str]) -> String {
        let r = self.ctl(args);
        if r.code != 0 {
            self.fail(format!("expected exit 0 from {r}"));
        }
        r.out
    }

    /// While held, the test reads nothing of tend's stdout: once the pipe
    /// is full, tend's writes to its stdout would block (a slow
    /// `docker logs`). At most one read already under way completes.
    pub fn hold_stdout(&self, held: bool) {
        self.out_flow.held.store(held, Ordering::SeqCst);
    }

    /// Closes the test's end of tend's stdout (`tend | head`): once the
    /// read under way returns, tend's writes there fail with EPIPE.
    pub fn close_stdout(&self) {
        self.out_flow.closed.store(true, Ordering::SeqCst);
    }

    /// From now on tend's stdout is read as fast as ever but only counted
    /// (`stdout_counts`), not kept: for floods of output.
    pub fn discard_stdout(&self) {
        self.out_flow.discard.store(true, Ordering::SeqCst);
    }

    /// Bytes read from tend's stdout so far, and how many were newlines.
    pub fn stdout_counts(&self) -> (u64, u64) {
        let f = &self.out_flow;
        (
            f.bytes.load(Ordering::SeqCst),
            f.newlines.load(Ordering::SeqCst),
        )
    }

    /// `VmRSS` of tend, in KiB.
    pub fn rss_kib(&mut self) -> u64 {
        let pid = self.pid();
        fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or_else(|| self.fail("no VmRSS in tend's /proc/PID/status"))
    }

    /// CPU time tend uses over `window`, while the test does nothing.
    pub fn cpu_over(&mut self, window: Duration) -> Duration {
        let before = self.cpu_time();
        thread::sleep(window);
        self.cpu_time().saturating_sub(before)
    }

    /// A raw connection to the control socket.
    pub fn connect(&self) -> UnixStream {
        let path = self.fx.path("control.sock");
        UnixStream::connect(&path).unwrap_or_else(|e| self.fail(format!("connect: {e}")))
    }

    /// Processes under tend that have exited and not been reaped.
    pub fn zombies(&mut self) -> Vec<Proc> {
        let mut z = self.descendants();
        z.retain(|p| p.state == 'Z');
        z
    }

    /// How many fds tend has open.
    pub fn fd_count(&mut self) -> usize {
        let pid = self.pid();
        match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(d) => d.count(),
            Err(e) => self.fail(format!("/proc/{pid}/fd: {e}")),
        }
    }

    /// Waits for tend to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        self.hold_stdout(false);
        let deadline = Instant::now() + TIMEOUT;
        while !self.poll_exit() {
            if Instant::now() > deadline {
                self.fail(format!("tend did not exit within {TIMEOUT:?}"));
            }
            thread::sleep(POLL);
        }
        // Every writer of the pipes is gone; let the readers drain them.
        let drained = Instant::now() + Duration::from_secs(5);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < drained {
            thread::sleep(POLL);
        }
        let (status, _) = self.exit.unwrap();
        match status.code() {
            Some(code) => code,
            None => self.fail("unshare was killed by a signal"),
        }
    }

    /// When tend's exit was seen (within one poll interval).
    /// When tend was started.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    pub fn exited_at(&self) -> Instant {
        match self.exit {
            Some((_, at)) => at,
            None => self.fail("exited_at called before tend exited"),
        }
    }

    /// True once tend has exited (records when).
    fn poll_exit(&mut self) -> bool {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some((status, Instant::now()));
            }
        }
        self.exit.is_some()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    /// Every process under tend (not tend itself), from the host's /proc.
    pub fn descendants(&mut self) -> Vec<Proc> {
        let pid = self.pid();
        descendants_of(pid)
    }

    /// The host process whose pid inside the namespace is `ns_pid` (what a
    /// script's `$$` says), if it is alive.
    pub fn find_ns_pid(&mut self, ns_pid: &str) -> Option<Proc> {
        self.descendants()
            .into_iter()
            .find(|p| p.state != 'Z' && p.ns_pid().as_deref() == Some(ns_pid))
    }

    /// CPU time tend itself has used so far (user + system).
    pub fn cpu_time(&mut self) -> Duration {
        let pid = self.pid();
        match proc_stat(pid) {
            Some(p) => Duration::from_secs_f64((p.utime + p.stime) as f64 / clock_ticks()),
            None => self.fail("tend's /proc/PID/stat is gone"),
        }
    }

    /// Fails the test, with the dump, unless `cond` holds.
    pub fn check(&self, cond: bool, msg: impl Display) {
        if !cond {
            self.fail(msg);
        }
    }

    pub fn check_eq<T: PartialEq + Debug>(&self, got: T, want: T, what: &str) {
        if got != want {
            self.fail(format!("{what}: expected {want:?}, got {got:?}"));
        }
    }

    /// Checks that `d` lies in `[lo, hi]` seconds.
    pub fn check_secs(&self, d: Duration, lo: f64, hi: f64, what: &str) {
        let s = d.as_secs_f64();
        if s < lo || s > hi {
            self.fail(format!("{what}: took {s:.3}s, expected {lo}s..{hi}s"));
        }
    }

    /// Panics with the message and everything needed to debug it.
    pub fn fail(&self, msg: impl Display) -> ! {
        let mut d = String::new();
        let _ = writeln!(d, "\n==== FAILED: {msg}");
        let _ = writeln!(d, "command: {}", shell_words(&self.argv));
        let _ = writeln!(d, "cwd (fixture): {}", self.fx.dir.display());
        let status = match self.exit {
            Some((s, at)) => format!("{s} after {:.3}s", (at - self.started).as_secs_f64()),
            None => format!(
                "still running after {:.3}s",
                self.started.elapsed().as_secs_f64()
            ),
        };
        let _ = writeln!(d, "status: {status}");
        let _ = writeln!(d, "---- stdout\n{}", self.stdout());
        let _ = writeln!(d, "---- stderr\n{}", self.stderr());
        let _ = writeln!(d, "---- marker files\n{}", self.fx.markers());
        if let (None, Some(pid)) = (self.exit, self.pid.or_else(|| self.find_pid())) {
            let _ = writeln!(d, "---- processes under tend[{pid}]: pid ppid state comm");
            for p in descendants_of(pid) {
                let _ = writeln!(d, "{} {} {} {}", p.pid, p.ppid, p.state, p.comm);
            }
        }
        panic!("{d}");
    }
}

impl Drop for Tend<'_> {
    fn drop(&mut self) {
        self.hold_stdout(false);
        if self.poll_exit() {
            return;
        }
        // SIGKILL to a namespace's init from outside it is always delivered,
        // and takes the whole namespace down; killing unshare does the same
        // through --kill-child, in case tend's pid was never looked up.
        if let Some(pid) = self.pid {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=@:".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A process as `/proc/PID/stat` shows it (see proc(5)).
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
    pub comm: String,
    pub utime: u64,
    pub stime: u64,
    pub starttime: u64,
}

impl Proc {
    /// Its pid in the innermost PID namespace (last field of `NSpid:`).
    pub fn ns_pid(&self) -> Option<String> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
        line.split_whitespace().last().map(str::to_string)
    }

    /// True while this very process (same pid and start time) exists and
    /// has not exited: a zombie counts as gone.
    pub fn alive(&self) -> bool {
        match proc_stat(self.pid) {
            Some(now) => now.starttime == self.starttime && now.state != 'Z',
            None => false,
        }
    }
}

pub fn proc_stat(pid: u32) -> Option<Proc> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces and parentheses: it ends at the last ')'.
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let f: Vec<&str> = s.get(close + 1..)?.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Proc {
        pid,
        comm: s[open + 1..close].to_string(),
        state: f.first()?.chars().next()?,
        ppid: num(1)? as u32,
        utime: num(11)?,
        stime: num(12)?,
        starttime: num(19)?,
    })
}

pub fn all_procs() -> Vec<Proc> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
        .collect()
}

/// Every process below `pid` in the host's process tree.
pub fn descendants_of(pid: u32) -> Vec<Proc> {
    let all = all_procs();
    let mut found: Vec<Proc> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            parents.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// Clock ticks per second, the unit of utime and stime in /proc/PID/stat.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Says, where a person running `cargo test` sees it, that a test did not
/// run here and why (no Docker engine, nginx not installed, ...): written to
/// the stderr fd directly, since the test runner captures `eprintln!` and
/// shows it only for failing tests.
pub fn skip(reason: impl Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}
