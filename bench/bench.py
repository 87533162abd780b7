#!/usr/bin/env python3
"""Benchmarks: tend beside s6, runit, supervisord, tini, dumb-init, catatonit.

Every program is measured in the same run on the same machine, each launch
inside a fresh PID namespace with the program as PID 1:

    unshare --pid --fork --mount-proc PROGRAM ...

This script installs nothing.  It needs root (for unshare), python3, gcc,
util-linux, and the peers from Debian:

    apt-get install -y s6 runit supervisor tini dumb-init catatonit gcc

Programs that are not installed are skipped (tend too, until it is built:
cargo build --release --target x86_64-unknown-linux-musl).

Usage:
    python3 bench/bench.py [--only tend,s6,...] [--quick] [--tend PATH]
                           [--reps N] [--measures big,small,respawn,reap,
                                                  scale,logs,events]
                           [--json FILE]

The first four measures (the default) take about 7.5 minutes on 2 cores;
scale, logs and events (bench/scaling.py: how the cost grows with the number
of services and with output) about 5 more.  --quick (one repetition, shorter
windows, fewer orphans, smaller sizes) is a smoke test whose figures are not
for publication.  The tables are printed on stdout as Markdown;
docs/benchmarks.md explains each measure.
"""

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# scaling.py (the scale, logs and events measures) imports this file as
# `bench`; run as a script, it is `__main__`: one module under both names.
# Importing it must leave no __pycache__ in the checkout.
sys.modules.setdefault("bench", sys.modules[__name__])
sys.dont_write_bytecode = True

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_TEND = REPO / "target/x86_64-unknown-linux-musl/release/tend"
APT_LINE = "apt-get install -y s6 runit supervisor tini dumb-init catatonit gcc"
SCRATCH = Path("/dev/shm")  # tmpfs: on a disk, writeback noise swamps the figures


@dataclass
class Settings:
    reps: int = 3
    big: int = 100  # services for startup, shutdown and the largest memory figure
    mem_sizes: tuple = (1, 10, 100)
    idle_services: int = 10
    idle_s: float = 5.0
    respawn_s: float = 10.0
    orphans: int = 10000
    reap_limit_s: float = 10.0
    reap_reps: int = 5  # the reaping figure is bimodal (see the doc): more runs
    settle_s: float = 0.5  # after every service is up, before measuring
    timeout_s: float = 30.0  # for anything that should take far less
    # scale: startup, memory, status and shutdown at each size
    scale_sizes: tuple = (10, 100, 1000, 3000)
    status_reps: int = 3  # status queries per launch (median)
    # logs: 100-byte lines, in all, from each number of talking services
    log_services: tuple = (1, 4)
    log_lines: int = 500_000  # 50 MB
    log_reps: int = 5  # under a second a launch, and noisy on a shared machine
    # events: tend's CPU per event with each number of services
    event_sizes: tuple = (10, 100, 1000)
    event_lines: int = 10_000  # one line per write(2) ...
    event_line_rate: int = 5_000  # ... this many a second
    event_bulk_lines: int = 200_000  # then these, 40 a write(2), flat out
    event_restart_s: float = 2.0  # a crash loop restarting every restart_delay
    event_restart_delay: str = "20ms"
    event_requests: int = 1_000  # `status NAME` requests ...
    event_request_rate: int = 500  # ... this many a second

    @classmethod
    def quick(cls):
        return cls(reps=1, idle_s=2.0, respawn_s=3.0, orphans=1000, reap_limit_s=5.0,
                   reap_reps=1, scale_sizes=(10, 100), status_reps=2, log_lines=50_000,
                   log_reps=1, event_sizes=(10, 100), event_lines=2_000,
                   event_bulk_lines=20_000, event_restart_s=0.5, event_requests=200)


# ---------------------------------------------------------------- /proc


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def proc_field(text, key):
    m = re.search(rf"^{key}:\s+(\d+)", text or "", re.M)
    return int(m.group(1)) if m else 0


def tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def ctx_switches(pid):
    """Voluntary + nonvoluntary context switches, all threads."""
    total = 0
    for tid in tasks(pid):
        st = read(f"/proc/{pid}/task/{tid}/status")
        total += proc_field(st, "voluntary_ctxt_switches")
        total += proc_field(st, "nonvoluntary_ctxt_switches")
    return total


def cpu_ns(pid):
    """Time spent on a CPU, ns, all threads (first field of schedstat)."""
    total = 0
    for tid in tasks(pid):
        st = read(f"/proc/{pid}/task/{tid}/schedstat")
        total += int(st.split()[0]) if st else 0
    return total


def memory_kib(pid):
    """(RSS, PSS) in KiB from smaps_rollup."""
    st = read(f"/proc/{pid}/smaps_rollup")
    return proc_field(st, "Rss"), proc_field(st, "Pss")


# ---------------------------------------------------------------- helpers in C


class Helpers:
    """The C programs, compiled with gcc into a temp dir for this run.

    The services are linked dynamically, so that each `run` file is small, as
    the scripts it stands for are (glibc makes a static one 750 KB, and a
    supervisor may read its run files).  The orphan spawner is static, so
    that its 10,000 forks are cheap."""

    def __init__(self, root: Path, s: Settings):
        self.marks = root / "marks"  # compiled into the helpers
        self.dir = root / "bin"
        self.dir.mkdir(parents=True)
        self.md = f'-DMARKDIR="{self.marks}"'
        self.svc = self._cc("svc.c", "svc", [self.md])
        self.crash = self._cc("svc.c", "crash", [self.md, "-DCRASH"])
        self.orphans = self._cc(
            "orphans.c", "orphans",
            ["-static", self.md, f"-DCOUNT={s.orphans}",
             f"-DLIMIT_MS={int(s.reap_limit_s * 1000)}"])
        self.sink = self._cc("sink.c", "sink", [])
        self.loop = self._cc("loop.c", "loop", [])

    def _cc(self, src, out, flags):
        exe = self.dir / out
        subprocess.run(["gcc", "-O2", "-Wall", *flags, "-o", str(exe),
                        str(BENCH_DIR / src)], check=True)
        return exe

    def talker(self, lines, per_write, rate):
        """svc.c as a talker (-DTALK): LINES lines of 100 bytes after SIGUSR1,
        PER_WRITE a write(2), RATE writes a second (0: flat out).  Built
        once per setting."""
        out = f"talk-{lines}-{per_write}-{rate}"
        exe = self.dir / out
        if not exe.exists():
            self._cc("svc.c", out, [self.md, "-DTALK", f"-DLINES={lines}",
                                    f"-DPER_WRITE={per_write}", f"-DRATE={rate}"])
        return exe

    def reset_marks(self):
        shutil.rmtree(self.marks, ignore_errors=True)
        for sub in ("up", "term", "starts", "reap", "talked"):
            (self.marks / sub).mkdir(parents=True)

    def mark_names(self, sub):
        """Names of the complete marker files in marks/SUB."""
        return [n for n in os.listdir(self.marks / sub) if not n.endswith(".tmp")]

    def marks_in(self, sub):
        """{name: text} of the complete marker files in marks/SUB."""
        return {n: (self.marks / sub / n).read_text() for n in self.mark_names(sub)}


# ---------------------------------------------------------------- programs


class Program:
    """One adapter per program: how to run it on a dir of services, which
    processes are the supervisor's own, what files it is made of."""

    name = ""
    executables: tuple = ()  # the files run in this benchmark
    packages: tuple = ()  # Debian packages installed for it (libc excluded)
    supervisor_comms: frozenset = frozenset()
    restarts = True  # can restart a crashed service by itself
    max_services = None  # the most it supervises, when it has a fixed limit
    note = ""  # shown under the tables

    def missing(self):
        for exe in self.executables:
            if not Path(exe).exists():
                return f"{exe} not found ({APT_LINE})"
        return None

    def prepare(self, services: Path, work: Path, helpers: Helpers):
        """Write any config the program needs; the argv after unshare."""
        raise NotImplementedError

    def is_supervisor(self, pid, comm, init):
        return comm in self.supervisor_comms

    def beyond(self, n):
        """Why it cannot be run with N services, or None."""
        if self.max_services and n > self.max_services:
            return f"n/a: at most {self.max_services:,}"
        return None

    # status_argv(launch): the command that shows every service's state;
    # None when the program has none.
    status_argv = None

    def version(self):
        if not self.packages:
            return ""
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", self.packages[0]],
                             capture_output=True, text=True)
        return out.stdout.strip()


class Tend(Program):
    name = "tend"
    supervisor_comms = frozenset({"tend"})

    def __init__(self, path, flags=(), name="tend"):
        self.path = Path(path)
        self.executables = (str(self.path),)
        self.flags, self.name = tuple(flags), name

    def missing(self):
        if not self.path.exists():
            return f"pending: {self.path} not built"
        return None

    @staticmethod
    def control(work):
        """The control socket of the launch in WORK (not the default in /run,
        which every tend on the machine would share)."""
        return work / "control.sock"

    def prepare(self, services, work, helpers):
        return [str(self.path), "--services", str(services),
                "--control", str(self.control(work)), *self.flags]

    def status_argv(self, launch):
        return [str(self.path), "ctl", "--control", str(self.control(launch.work)), "status"]

    def version(self):
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
        return f"git {out.stdout.strip()}" if out.returncode == 0 else ""


class S6(Program):
    name = "s6"
    executables = ("/usr/bin/s6-svscan", "/usr/bin/s6-supervise")
    packages = ("s6", "libs6-2.11", "libskarnet2.13", "libexecline2.9")
    supervisor_comms = frozenset({"s6-svscan", "s6-supervise"})
    default_max = 500  # s6-svscan 2.11 supervises 500 services unless given -c MAX

    def __init__(self, logger=False):
        """logger: each service gets a log/ service, s6-log, whose script
        `1` copies every line to its stdout (s6-svscan's, the container's)."""
        self.logger = logger
        if logger:
            self.name = "s6 + s6-log"
            self.executables += ("/usr/bin/s6-log",)

    def prepare(self, services, work, helpers):
        dirs = [d for d in services.iterdir() if not d.name.startswith(".")]
        for d in dirs if self.logger else ():
            (d / "log").mkdir()
            (d / "log" / "run").write_text("#!/bin/sh\nexec s6-log -- 1\n")
            (d / "log" / "run").chmod(0o755)
        slots = len(dirs) * (2 if self.logger else 1)
        return ["s6-svscan", *(["-c", str(slots)] if slots > self.default_max else []),
                str(services)]

    def status_argv(self, launch):
        # No command shows them all: s6-svstat takes one service dir.
        return ["sh", "-c", 'for d in "$1"/*/; do s6-svstat "$d"; done', "sh",
                str(launch.services)]


class Runit(Program):
    name = "runit"
    executables = ("/usr/bin/runsvdir", "/usr/bin/runsv")
    packages = ("runit",)
    supervisor_comms = frozenset({"runsvdir", "runsv"})
    max_services = 1000  # runsvdir.c: MAXSERVICES

    def prepare(self, services, work, helpers):
        return ["runsvdir", str(services)]

    def status_argv(self, launch):
        return ["sv", "status", *sorted(map(str, launch.services.iterdir()))]


class Supervisord(Program):
    name = "supervisord"
    executables = ("/usr/bin/supervisord", "/usr/bin/python3.11")
    packages = ("supervisor", "python3.11-minimal", "libpython3.11-minimal",
                "libpython3.11-stdlib", "python3-pkg-resources")
    supervisor_comms = frozenset({"supervisord"})
    note = ("supervisord: one `[program:NAME]` per service dir (`command` = its run file, "
            "`directory` = the dir), everything else default; its logs go to the tmpfs.")

    def __init__(self, stdout_logs=False):
        """stdout_logs: every program's stdout to supervisord's own
        (`stdout_logfile=/dev/stdout`, no rotation), and supervisord's own
        log kept off it (`silent`), as a container would run it."""
        self.stdout_logs = stdout_logs
        if stdout_logs:
            self.name = "supervisord /dev/stdout"

    def prepare(self, services, work, helpers):
        logs = work / "supervisord-logs"
        logs.mkdir()
        lines = ["[supervisord]", "nodaemon=true", f"logfile={logs}/supervisord.log",
                 f"pidfile={work}/supervisord.pid", f"childlogdir={logs}",
                 *(["silent=true"] if self.stdout_logs else []), ""]
        for svc in sorted(services.iterdir()):
            lines += [f"[program:{svc.name}]", f"command={svc}/run", f"directory={svc}",
                      *(["stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0"]
                        if self.stdout_logs else []), ""]
        conf = work / "supervisord.conf"
        conf.write_text("\n".join(lines))
        return ["supervisord", "-n", "-c", str(conf)]


class InitOnly(Program):
    """A PID 1 that starts the services without supervising them: only PID 1
    itself counts as the supervisor."""

    restarts = False

    def is_supervisor(self, pid, comm, init):
        return pid == init


class OneChild(InitOnly):
    """tini, dumb-init, catatonit run one child: as users do, that child is a
    shell script that starts every service in the background and waits."""

    wrapper: tuple = ()

    def prepare(self, services, work, helpers):
        script = work / "start-services.sh"
        script.write_text(
            "#!/bin/sh\n"
            f"for d in {services}/*/; do\n"
            '    (cd "$d" && exec ./run) &\n'
            "done\n"
            "wait\n")
        return [*self.wrapper, "/bin/sh", str(script)]


class Tini(OneChild):
    name = "tini"
    executables = ("/usr/bin/tini",)
    packages = ("tini",)
    wrapper = ("tini", "--")


class DumbInit(OneChild):
    name = "dumb-init"
    executables = ("/usr/bin/dumb-init",)
    packages = ("dumb-init",)
    wrapper = ("dumb-init",)


class Catatonit(OneChild):
    name = "catatonit"
    executables = ("/usr/bin/catatonit",)
    packages = ("catatonit",)
    wrapper = ("catatonit", "--")


class PlainLoop(InitOnly):
    """bench/loop.c as PID 1: fork and exec each service's run, nothing else.
    The floor for startup, and (the services write into PID 1's own stdout)
    for output."""

    name = "plain loop (C)"

    def prepare(self, services, work, helpers):
        return [str(helpers.loop), str(services)]


class PythonLoop(InitOnly):
    """bench/loop.py as PID 1: the same loop as a few lines of Python."""

    name = "plain loop (Python)"
    executables = (sys.executable,)

    def prepare(self, services, work, helpers):
        return [sys.executable, str(BENCH_DIR / "loop.py"), str(services)]


def all_programs(tend_path):
    return [Tend(tend_path), S6(), Runit(), Supervisord(), Tini(), DumbInit(), Catatonit()]


# ---------------------------------------------------------------- one launch


class Launch:
    """PROGRAM as PID 1 of a fresh PID namespace, on a fresh dir of services
    on tmpfs.  services: {name: run executable, or (run executable, {file in
    the service dir: its text})}.  PID 1's stdout goes to the fd `stdout`
    when given, else with its stderr to output.log.  Use as a context
    manager: whatever happens, the namespace is gone at the end."""

    def __init__(self, program: Program, helpers: Helpers, services: dict, s: Settings,
                 stdout=None):
        self.program, self.helpers, self.s = program, helpers, s
        helpers.reset_marks()
        self.work = Path(tempfile.mkdtemp(prefix="launch-", dir=helpers.dir.parent))
        self.services = sdir = self.work / "services"
        sdir.mkdir()
        for name, run in services.items():
            exe, files = run if isinstance(run, tuple) else (run, {})
            (sdir / name).mkdir()
            os.link(exe, sdir / name / "run")
            for file, text in files.items():
                (sdir / name / file).write_text(text)
        # As if built into an image earlier: runsvdir does not scan a dir
        # modified within the last second, which would add 1 s to its startup.
        past = time.time() - 60
        for d in [sdir, *sdir.iterdir()]:
            os.utime(d, (past, past))
        argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                *program.prepare(sdir, self.work, helpers)]
        self.log = open(self.work / "output.log", "wb")
        self.t0 = time.monotonic_ns()
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=self.log if stdout is None else stdout,
                                      stderr=self.log, start_new_session=True)
        try:
            self.init = self._find_init()
            self.ns = os.readlink(f"/proc/{self.init}/ns/pid")
        except Exception:
            os.killpg(self.popen.pid, signal.SIGKILL)  # its own session, see above
            self.popen.wait()
            self.__exit__()
            raise

    def _find_init(self):
        me = self.popen.pid
        deadline = time.monotonic() + self.s.timeout_s
        while time.monotonic() < deadline:
            kids = (read(f"/proc/{me}/task/{me}/children") or "").split()
            if kids:
                return int(kids[0])
            if self.popen.poll() is not None:
                break
            time.sleep(0.0005)
        raise RuntimeError(f"{self.program.name}: no PID 1 ({self.output()})")

    def output(self):
        return (self.work / "output.log").read_text(errors="replace")[-400:].strip()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if hasattr(self, "init"):
            self.kill()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def kill(self):
        if self.popen.poll() is None:
            try:
                os.kill(self.init, signal.SIGKILL)  # takes the namespace with it
            except ProcessLookupError:
                pass
            self.popen.wait()

    def processes(self):
        """[(pid, comm)] of every process in the namespace (host pids)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != self.ns:
                    continue
            except OSError:
                continue
            found.append((pid, (read(f"/proc/{pid}/comm") or "").strip()))
        return found

    def supervisor_pids(self):
        return [pid for pid, comm in self.processes()
                if self.program.is_supervisor(pid, comm, self.init)]

    def wait_up(self, n):
        """Wait until N services have written their up marker; return the
        time from launch to the last of them, ns."""
        deadline = time.monotonic() + self.s.timeout_s
        while time.monotonic() < deadline:
            if len(self.helpers.mark_names("up")) >= n:  # cheap: the look must not
                up = self.helpers.marks_in("up")          # slow the startup down
                return max(int(t) for t in up.values()) - self.t0
            if self.popen.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.program.name}: {len(self.helpers.mark_names('up'))} of {n} "
                           f"services up ({self.output()})")

    def wait_file(self, sub, name, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.helpers.marks_in(sub).get(name)
            if text:
                return text
            time.sleep(0.01)
        raise RuntimeError(f"{self.program.name}: no {sub}/{name} ({self.output()})")

    def terminate(self):
        """SIGTERM to PID 1; (ns until the namespace is gone, exit code)."""
        t = time.monotonic_ns()
        os.kill(self.init, signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=self.s.timeout_s)
        except subprocess.TimeoutExpired:
            return math.inf, "none (killed)"
        dt = time.monotonic_ns() - t
        return dt, (code if code >= 0 else f"signal {-code}")


# ---------------------------------------------------------------- measures


def supervisor_memory(launch):
    pids = launch.supervisor_pids()
    rss = pss = 0
    for pid in pids:
        r, p = memory_kib(pid)
        rss, pss = rss + r, pss + p
    return rss, pss, len(pids)


def lifecycle(p, h, s, n, out, key, meanwhile=None):
    """n services: startup, memory, `meanwhile(launch)` if given, then
    shutdown; each figure under out[key(its name)]."""
    services = {f"svc{i:04d}": h.svc for i in range(n)}
    with Launch(p, h, services, s) as launch:
        out[key("startup_ms")].append(launch.wait_up(n) / 1e6)
        time.sleep(s.settle_s)
        rss, pss, nprocs = supervisor_memory(launch)
        out[key("pss")].append(pss / 1024)
        out[key("rss")].append(rss / 1024)
        out[key("procs")].append(nprocs)
        if meanwhile:
            meanwhile(launch)
        dt, code = launch.terminate()
        out[key("shutdown_ms")].append(dt / 1e6)
        out[key("termed")].append(len(h.mark_names("term")))
        out[key("exit_code")].append(code)


def measure_big(p, h, s, out):
    """100 services: startup, memory, then shutdown."""
    lifecycle(p, h, s, s.big, out, lambda k: f"{k}_{s.big}" if k in ("pss", "rss") else k)


def measure_small(p, h, s, n, out):
    """n services: memory; with the idle count, context switches while idle."""
    services = {f"svc{i:03d}": h.svc for i in range(n)}
    with Launch(p, h, services, s) as launch:
        launch.wait_up(n)
        time.sleep(s.settle_s)
        rss, pss, _ = supervisor_memory(launch)
        out[f"pss_{n}"].append(pss / 1024)
        if n == s.idle_services:
            pids = launch.supervisor_pids()
            before = sum(ctx_switches(pid) for pid in pids)
            time.sleep(s.idle_s)
            out["idle_wakeups"].append(sum(ctx_switches(pid) for pid in pids) - before)


def measure_respawn(p, h, s, out):
    """One service that exits 1 at once: restarts in the window, the delay
    from its first exit to its second start, the supervisor's CPU."""
    with Launch(p, h, {"crash": h.crash}, s) as launch:
        first = int(launch.wait_file("starts", "crash", s.timeout_s).split()[0])
        pids = launch.supervisor_pids()
        c0, t0 = sum(cpu_ns(pid) for pid in pids), time.monotonic_ns()
        time.sleep(max(0.0, (first + s.respawn_s * 1e9 - time.monotonic_ns()) / 1e9))
        c1, t1 = sum(cpu_ns(pid) for pid in pids), time.monotonic_ns()
        runs = [tuple(map(int, line.split()))
                for line in h.marks_in("starts")["crash"].splitlines()]
        runs = [r for r in runs if r[0] < first + s.respawn_s * 1e9]
        out["start_times_s"].append([round((r[0] - first) / 1e9, 3) for r in runs])  # JSON
        out["restarts"].append(len(runs) - 1)
        out["first_restart_ms"].append((runs[1][0] - runs[0][1]) / 1e6 if len(runs) > 1
                                       else math.inf)
        out["crash_cpu_pct"].append(100 * (c1 - c0) / (t1 - t0))


def measure_reap(p, h, s, out):
    """The orphans helper as a service: from the last orphan's exit to no
    zombie left (bounded by reap_limit_s)."""
    with Launch(p, h, {"orphans": h.orphans}, s) as launch:
        text = launch.wait_file("reap", "orphans", 3 * s.timeout_s + s.reap_limit_s)
        if text.startswith("error"):
            raise RuntimeError(f"{p.name}: orphans helper: {text.strip()}")
        spawn_ns, exit_ns, reap_ns, left = map(int, text.split())
        out["reap_ms"].append(math.inf if left else reap_ns / 1e6)
        out["orphans_exit_ms"].append(exit_ns / 1e6)  # release -> last exit, JSON only


# ---------------------------------------------------------------- footprint


def shared_libs(exe):
    """(shared libraries an executable loads, glibc's own excluded; linkage)."""
    with open(exe, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return set(), "script"
    out = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    libs = set()
    for m in re.finditer(r"=>\s+(/\S+)", out):
        if not re.search(r"/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so", m.group(1)):
            libs.add(os.path.realpath(m.group(1)))
    return libs, ("dynamic" if "=>" in out or "ld-linux" in out else "static")


def footprint(p):
    exes = [os.path.realpath(e) for e in p.executables]
    libs, linkage = set(), set()
    for exe in exes:
        found, kind = shared_libs(exe)
        libs |= found
        linkage.add(kind)
    installed = 0
    for pkg in p.packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}", pkg],
                           capture_output=True, text=True)
        installed += int(r.stdout or 0)
    return {
        "files": ", ".join(os.path.basename(e) for e in exes),
        "exe_bytes": sum(os.path.getsize(exe) for exe in exes),
        "libs": ", ".join(sorted(os.path.basename(lib) for lib in libs)) or "-",
        "lib_bytes": sum(os.path.getsize(lib) for lib in libs),
        "linkage": "/".join(sorted(linkage)),
        "installed_kib": installed or None,
    }


# ---------------------------------------------------------------- report


def fmt_stat(values, fmt, inf_text):
    """median (min–max) of the runs that gave a figure (inf: over a bound)."""
    def one(v):
        return inf_text if v == math.inf else fmt(v)

    med, lo, hi = statistics.median(values), min(values), max(values)
    return one(med) if lo == hi else f"{one(med)} ({one(lo)}–{one(hi)})"


def fmt_set(values):
    return ", ".join(sorted(set(map(str, values))))


def ms(v):
    if v < 0.01:
        return "<0.01 ms"
    return f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 1 else f"{v:.2f} ms"


def mib(v):
    return f"{v:.2f} MiB"


def num(v):
    return f"{v:g}"


def busy_pct(seconds=1.0):
    """Share of the machine's CPU time busy over a short window: the load
    that was not ours (the load average would count our own orphans)."""
    def sample():
        fields = [int(x) for x in read("/proc/stat").split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return round(100 * (1 - (idle1 - idle0) / max(1, total1 - total0)))


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", read("/proc/cpuinfo") or "")
    mem = proc_field(read("/proc/meminfo"), "MemTotal")
    distro = re.search(r'PRETTY_NAME="(.*)"', read("/etc/os-release") or "")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.group(1) if cpu else "?",
        "memory_gib": round(mem / 1024 / 1024, 1),
        "kernel": platform.release(),
        "distro": distro.group(1) if distro else "?",
        "python": platform.python_version(),
        "busy_pct": busy_pct(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def launch_overhead_ms(reps=5):
    """unshare --pid --fork --mount-proc true: the floor under every startup."""
    times = []
    for _ in range(reps):
        t = time.monotonic_ns()
        subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], check=True)
        times.append((time.monotonic_ns() - t) / 1e6)
    return statistics.median(times)


def report(programs, results, feet, skipped, s, info):
    L = []
    L.append(f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
             f"Linux {info['kernel']}, {info['distro']}; {info['date']}; "
             f"CPU busy before the run {info['busy_pct']} %, after {info['busy_pct_end']} %.")
    L.append(f"Median of {s.reps} run(s) ({s.reap_reps} for reaping), "
             "(min–max) when they differ. "
             f"Namespace launch floor (`unshare ... true`): {info['launch_floor_ms']:.1f} ms.")
    L.append("")
    L.append("| program | version | files run | bytes | libraries besides libc | bytes "
             "| linkage | Debian installed size |")
    L.append("|---|---|---|---:|---|---:|---|---:|")
    for p in programs:
        if p.name in skipped:
            L.append(f"| {p.name} | {skipped[p.name]} | | | | | | |")
            continue
        if p.name not in results:  # not in the measures asked for
            continue
        f = feet[p.name]
        inst = f"{f['installed_kib']:,} KiB" if f["installed_kib"] else "-"
        L.append(f"| {p.name} | {p.version()} | {f['files']} | {f['exe_bytes']:,} | {f['libs']} "
                 f"| {f['lib_bytes']:,} | {f['linkage']} | {inst} |")
    L.append("")

    def na_restart(p):
        return None if p.restarts else "n/a: no restart"

    inf_text = {"reap_ms": f">{s.reap_limit_s:g} s", "first_restart_ms": "none",
                "shutdown_ms": "timeout"}
    tables = [
        [  # (title, key, formatter, text for a program that cannot)
            ("PSS, 1 svc", "pss_1", mib, None),
            ("PSS, 10 svc", "pss_10", mib, None),
            (f"PSS, {s.big} svc", f"pss_{s.big}", mib, None),
            (f"RSS, {s.big} svc", f"rss_{s.big}", mib, None),
            (f"supervisor processes, {s.big} svc", "procs", num, None),
        ], [
            (f"startup, {s.big} svc", "startup_ms", ms, None),
            (f"shutdown, {s.big} svc", "shutdown_ms", ms, None),
            (f"services that caught TERM (of {s.big})", "termed", num, None),
            ("exit code", "exit_code", None, None),
        ], [
            (f"restarts in {s.respawn_s:g} s", "restarts", num, na_restart),
            ("first restart", "first_restart_ms", ms, na_restart),
            ("CPU in crash loop", "crash_cpu_pct", lambda v: f"{v:.2f} %", na_restart),
            (f"reap {s.orphans:,} orphans", "reap_ms", ms, None),
            (f"idle wakeups, {s.idle_s:g} s, {s.idle_services} svc", "idle_wakeups", num, None),
        ]]
    for columns in tables:
        if any(results.get(p.name, {}).get(c[1]) for p in programs for c in columns):
            L += table(programs, results, skipped, columns, inf_text) + [""]
    notes = [p.note for p in programs if p.note and p.name in results]
    notes += [f"{name} FAILED {failure}" for name, r in results.items()
              for failure in r.get("failures", [])]
    if any(isinstance(p, OneChild) and p.name in results for p in programs):
        notes.append("tini, dumb-init, catatonit: the child is `/bin/sh start-services.sh`, "
                     "which starts each service with `(cd DIR && exec ./run) &` and `wait`s; "
                     "memory and wakeups count the init only, not that shell.")
    L += [f"- {n}" for n in notes]
    return "\n".join(L)


def table(programs, results, skipped, columns, inf_text):
    """One row per program, one column per (title, key, formatter or None
    for a set of values, cannot(program): why it has no figure, or None)."""
    rows = ["| program | " + " | ".join(c[0] for c in columns) + " |",
            "|---|" + "---:|" * len(columns)]
    for p in programs:
        if p.name in skipped:
            rows.append(f"| {p.name} | " + " | ".join(["pending" if "pending" in skipped[p.name]
                                                       else "not run"] * len(columns)) + " |")
            continue
        r = results[p.name]
        cells = []
        for title, key, fmt, cannot in columns:
            if cannot and cannot(p):
                cells.append(cannot(p))
            elif not r.get(key):
                cells.append("failed" if r.get("failures") else "–")
            elif fmt is None:
                cells.append(fmt_set(r[key]))
            else:
                cells.append(fmt_stat(r[key], fmt, inf_text.get(key, "timeout")))
        rows.append(f"| {p.name} | " + " | ".join(cells) + " |")
    return rows


# ---------------------------------------------------------------- main


# The launches of this file, then those of scaling.py.
CLASSIC = ("big", "small", "respawn", "reap")
MEASURES = CLASSIC + ("scale", "logs", "events")


@dataclass
class Step:
    """Launches to repeat: the --measures name they belong to, their label in
    the progress log, how many times, on which programs, and the measure,
    called as measure(program, out) to append figures to out[key]."""
    kind: str
    label: str
    reps: int
    programs: list
    measure: object


def run_all(programs, s, log, measures=CLASSIC):
    """Runs the measures on the programs; ({name: {key: [figures]}}, the
    programs run, base and variants, in order)."""
    root = Path(tempfile.mkdtemp(prefix="tend-bench-", dir=SCRATCH))
    try:
        h = Helpers(root, s)
        steps = [Step("big", "big", s.reps, programs, lambda p, out: measure_big(p, h, s, out))]
        steps += [Step("small", f"{n} services", s.reps, programs,
                       lambda p, out, n=n: measure_small(p, h, s, n, out))
                  for n in s.mem_sizes if n != s.big]
        steps += [Step("respawn", "respawn", s.reps, [p for p in programs if p.restarts],
                       lambda p, out: measure_respawn(p, h, s, out)),
                  Step("reap", "reap", s.reap_reps, programs,
                       lambda p, out: measure_reap(p, h, s, out))]
        if set(measures) - set(CLASSIC):
            import scaling  # here: it imports this module
            steps += scaling.steps(programs, h, s, log)
        steps = [step for step in steps if step.kind in measures and step.programs]
        run = []
        for step in steps:
            run += [p for p in step.programs if all(p is not q for q in run)]
        results = {p.name: {} for p in run}
        # Programs interleaved within each repetition, so that a change in the
        # machine's load touches all of them alike.
        for rep in range(max(step.reps for step in steps)):
            for p in run:
                out = results[p.name]
                for step in steps:
                    if rep >= step.reps or all(p is not q for q in step.programs):
                        continue
                    log(f"[{rep + 1}/{step.reps}] {p.name}: {step.label}")
                    sink = Sink()
                    try:
                        step.measure(p, sink)
                    except Exception as e:  # one failure must not sink the run
                        log(f"    FAILED: {e}")
                        out.setdefault("failures", []).append(
                            f"{step.label}: " + " ".join(str(e).split()))
                    for key, vals in sink.items():
                        out.setdefault(key, []).extend(vals)
        return results, run
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Sink(dict):
    def __missing__(self, key):
        self[key] = []
        return self[key]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated programs (tend,s6,runit,supervisord,"
                                   "tini,dumb-init,catatonit)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 run, short windows")
    ap.add_argument("--tend", default=str(DEFAULT_TEND), help=f"tend binary ({DEFAULT_TEND})")
    ap.add_argument("--reps", type=int, help="repetitions (default 3, reaping 5; --quick 1)")
    ap.add_argument("--measures", default=",".join(CLASSIC),
                    help="comma-separated subset of: " + ", ".join(MEASURES) +
                    ", or all (default: " + ",".join(CLASSIC) + "; big = startup, memory and"
                    " shutdown with the most services; small = memory with fewer, idle"
                    " wakeups; scale, logs, events: see bench/scaling.py)")
    ap.add_argument("--json", help="also write the raw figures to this file")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench.py needs root (unshare --pid)")
    measures = MEASURES if args.measures == "all" else args.measures.split(",")
    if set(measures) - set(MEASURES):
        sys.exit(f"unknown measure(s): {', '.join(sorted(set(measures) - set(MEASURES)))}")
    s = Settings.quick() if args.quick else Settings()
    if args.reps:
        s.reps = s.reap_reps = s.log_reps = args.reps
    programs = all_programs(args.tend)
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - {p.name for p in programs}
        if unknown:
            sys.exit(f"unknown program(s): {', '.join(sorted(unknown))}")
        programs = [p for p in programs if p.name in wanted]

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    skipped = {p.name: p.missing() for p in programs if p.missing()}
    for name, why in skipped.items():
        log(f"skipping {name}: {why}")
    runnable = [p for p in programs if p.name not in skipped]
    feet = {p.name: footprint(p) for p in runnable}
    info = machine()
    info["launch_floor_ms"] = launch_overhead_ms()
    started = time.monotonic()
    results, run = run_all(runnable, s, log, measures)
    info["busy_pct_end"] = busy_pct()
    info["duration_s"] = round(time.monotonic() - started)
    log(f"measured in {info['duration_s']} s")
    print(report(programs, results, feet, skipped, s, info))
    if set(measures) - set(CLASSIC):
        import scaling
        print("\n" + scaling.report(run, results, s, measures))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "settings": s.__dict__, "footprint": feet,
             "skipped": skipped, "results": results},
            indent=1, default=str))


if __name__ == "__main__":
    main()
