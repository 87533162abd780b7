"""The scale, logs and events measures of bench.py: how a supervisor's cost
grows with the number of services, and how fast service output gets through
it.  Run through bench.py, which this module shares its harness with:

    python3 bench/bench.py --measures scale,logs,events

- scale: 10, 100, 1,000 and 3,000 services (bench.Settings.scale_sizes):
  startup, PSS, `status` of every service, shutdown; tend, s6 and runit at
  the sizes they reach, beside two plain loops that only fork and exec the
  same run files (bench/loop.c, bench/loop.py).
- logs: 100-byte lines from 1 and 4 talking services as fast as a pipe
  takes them, through PID 1's stdout into a reader (bench/sink.c): MB/s and
  the CPU PID 1's side spent per line; tend prefixed and not, s6 with s6-log,
  supervisord with `stdout_logfile=/dev/stdout`, and the plain loop, whose
  services write straight into the pipe: the limit.
- events: tend's CPU time (schedstat, ns) and wakeups per logged line, per
  control request and per restart, with 10, 100 and 1,000 services, at the
  same event rate whatever the number of services; and per line of a talker
  going flat out (the rate tend takes).

docs/benchmarks.md explains each measure and its results.
"""

import math
import os
import signal
import socket
import statistics
import subprocess
import time

from bench import (S6, Launch, PlainLoop, PythonLoop, Runit, Step, Supervisord, Tend,
                   cpu_ns, fmt_stat, lifecycle, mib, ms, num, proc_field, read, table)

# Lines a write(2) of a talker going flat out: 4,000 B, under PIPE_BUF, so
# that talkers sharing a pipe never split each other's lines.
PER_WRITE = 40

# ---------------------------------------------------------------- programs


def steps(programs, h, s, log):
    """The launches of the three measures.  programs: the runnable ones of
    bench.all_programs (after --only); the baselines and variants are made
    here."""
    base = {p.name: p for p in programs}
    loops = [PlainLoop(), PythonLoop()]
    scale = [base[n] for n in ("tend", "s6", "runit") if n in base] + loops
    logs = [loops[0]]
    if "tend" in base:
        tend = base["tend"]
        logs += [Tend(tend.path, ["--no-log-prefix"], "tend --no-log-prefix"),
                 Tend(tend.path, ["--log-prefix"], "tend --log-prefix")]
    if "s6" in base:
        logs.append(S6(logger=True))
    if "supervisord" in base:
        logs.append(Supervisord(stdout_logs=True))
    for p in [*logs, *scale]:
        if p.missing():
            log(f"skipping {p.name}: {p.missing()}")
    scale = [p for p in scale if not p.missing()]
    logs = [p for p in logs if not p.missing()]
    out = [Step("scale", f"scale, {n:,} services", s.reps, [p for p in scale if not p.beyond(n)],
                lambda p, o, n=n: measure_scale(p, h, s, n, o))
           for n in s.scale_sizes]
    out += [Step("logs", f"logs, {k} talking", s.log_reps, logs,
                 lambda p, o, k=k: measure_logs(p, h, s, k, o))
            for k in s.log_services]
    out += [Step("events", f"events, {n:,} services", s.reps, [base["tend"]] if "tend" in base
                 else [], lambda p, o, n=n: measure_events(p, h, s, n, o))
            for n in s.event_sizes]
    return out


# ---------------------------------------------------------------- harness


class Reader:
    """bench/sink.c reading PID 1's stdout through a pipe, as a container
    runtime does: pass `w` as the launch's stdout, then `launched()`."""

    def __init__(self, h, expected_lines):
        self.result = h.dir.parent / "sink-result"
        self.result.unlink(missing_ok=True)
        r, self.w = os.pipe()
        self.proc = subprocess.Popen([str(h.sink), str(expected_lines), str(self.result)],
                                     stdin=r)
        os.close(r)

    def launched(self):
        """PID 1 holds the write end now: drop ours, so that end of file
        comes when the namespace is gone."""
        if self.w is not None:
            os.close(self.w)
            self.w = None

    def wait(self, timeout_s):
        """(CLOCK_MONOTONIC ns when the expected lines were in, lines, bytes)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.result.exists():
                return tuple(map(int, self.result.read_text().split()))
            time.sleep(0.005)
        raise RuntimeError(f"reader: expected lines not in within {timeout_s:g} s")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.launched()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def service_pids(launch, prefix):
    """Host pids of the services' run processes whose service dir name
    starts with PREFIX (found by their cwd)."""
    found = []
    for pid, comm in launch.processes():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if comm == "run" and os.path.dirname(cwd) == str(launch.services) \
                and os.path.basename(cwd).startswith(prefix):
            found.append(pid)
    return found


def ctl(path, request):
    """One request on tend's control socket (the protocol of the README:
    one line, then the reply to end of stream); the reply, which must say 0."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(str(path))
        c.sendall(request.encode() + b"\n")
        chunks = []
        while chunk := c.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks).decode(errors="replace")
    if not reply.startswith("0"):
        raise RuntimeError(f"tend ctl {request}: {reply.strip()!r}")
    return reply


def pace(t0, i, rate):
    """Sleep until the i-th event of a series at RATE a second from t0."""
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ---------------------------------------------------------------- measures


def measure_scale(p, h, s, n, out):
    """n services: the lifecycle of bench.py, with the time `status` of every
    service takes (the client's wall time, median of status_reps) while all
    are up."""
    def status(launch):
        if p.status_argv is None:
            return
        argv = p.status_argv(launch)
        times = []
        for _ in range(s.status_reps):
            t = time.monotonic_ns()
            r = subprocess.run(argv, capture_output=True, text=True, timeout=s.timeout_s)
            times.append((time.monotonic_ns() - t) / 1e6)
            if r.returncode != 0 or r.stdout.count("\n") < n:
                raise RuntimeError(f"{' '.join(argv[:3])}: exit {r.returncode}, "
                                   f"{r.stdout.count(chr(10))} lines: {r.stderr[-200:]}")
        out[f"scale_status_ms_{n}"].append(statistics.median(times))

    lifecycle(p, h, s, n, out, lambda k: f"scale_{k}_{n}", status)


def measure_logs(p, h, s, k, out):
    """k services write log_lines lines of 100 bytes in all, flat out, from
    the moment the harness sends them SIGUSR1 to the moment the reader has
    them all: MB/s of the lines as written (prefixes not counted), and the
    CPU of every process of the namespace but the talkers, per line."""
    per = s.log_lines // k // PER_WRITE * PER_WRITE
    talker = h.talker(per, PER_WRITE, 0)
    with Reader(h, per * k) as reader, \
            Launch(p, h, {f"talk{i}": talker for i in range(k)}, s, stdout=reader.w) as launch:
        reader.launched()
        launch.wait_up(k)
        time.sleep(s.settle_s)
        talkers = service_pids(launch, "talk")
        if len(talkers) != k:
            raise RuntimeError(f"{len(talkers)} of {k} talkers found")
        others = [pid for pid, _ in launch.processes() if pid not in talkers]
        c0 = sum(cpu_ns(pid) for pid in others)
        t0 = time.monotonic_ns()
        for pid in talkers:
            os.kill(pid, signal.SIGUSR1)
        done, lines, _ = reader.wait(s.timeout_s)
        c1 = sum(cpu_ns(pid) for pid in others)
        out[f"logs_mbs_{k}"].append(per * k * 100 / ((done - t0) / 1e9) / 1e6)
        out[f"logs_cpu_ns_{k}"].append((c1 - c0) / (per * k))


def measure_events(p, h, s, n, out):
    """n services: n-3 idle, two talkers and one crash-looper (down until
    asked); tend's CPU time and wakeups per event of each kind, one kind
    after the other."""
    d = s.event_restart_delay
    services = {f"svc{i:04d}": h.svc for i in range(n - 3)}
    services["talk"] = h.talker(s.event_lines, 1, s.event_line_rate)
    services["bulk"] = h.talker(s.event_bulk_lines, PER_WRITE, 0)
    services["crash"] = (h.crash, {"down": "", "service.toml":
                                   f'restart-delay = "{d}"\nrestart-delay-max = "{d}"\n'})
    with Reader(h, s.event_lines + s.event_bulk_lines) as reader, \
            Launch(p, h, services, s, stdout=reader.w) as launch:
        reader.launched()
        launch.wait_up(n - 1)
        time.sleep(s.settle_s)
        sock = Tend.control(launch.work)

        def phase(key, run):
            """run() -> (events, CPU ns to take off); out[ev_KEY_n]: CPU ns
            per event, out[ev_KEY_wakeups_n]: times tend blocked, per event."""
            c0, w0 = cpu_ns(launch.init), wakeups(launch.init)
            events, off = run()
            cpu, woke = cpu_ns(launch.init) - c0 - off, wakeups(launch.init) - w0
            out[f"ev_{key}_{n}"].append(cpu / events)
            out[f"ev_{key}_wakeups_{n}"].append(woke / events)
            return cpu / events

        def talk(name, lines):
            def run():
                for pid in service_pids(launch, name):
                    os.kill(pid, signal.SIGUSR1)
                launch.wait_file("talked", name, s.timeout_s + lines / s.event_line_rate)
                time.sleep(0.05)  # for tend to pass the last line on
                return lines, 0
            return run

        # Lines: one a write(2), event_line_rate a second; then flat out.
        phase("line", talk("talk", s.event_lines))
        phase("bulk", talk("bulk", s.event_bulk_lines))
        reader.wait(s.timeout_s)  # every line did get through

        # Control requests: `status NAME` of one service, event_request_rate a second.
        def requests():
            t0 = time.monotonic()
            for i in range(s.event_requests):
                pace(t0, i, s.event_request_rate)
                ctl(sock, "status svc0000")
            return s.event_requests, 0
        per_request = phase("request", requests)

        # Restarts: a service that exits at once, restarted every restart-delay,
        # for event_restart_s; the three requests that start and stop it are
        # taken off.
        def restarts():
            ctl(sock, "up crash")
            time.sleep(s.event_restart_s)
            ctl(sock, "down crash")
            ctl(sock, "wait down crash --timeout 5s")
            starts = len(h.marks_in("starts").get("crash", "").splitlines())
            if not starts:
                raise RuntimeError("the crash service never started")
            out[f"ev_restarts_{n}"].append(starts)  # JSON only
            return starts, 3 * per_request
        phase("restart", restarts)


def wakeups(pid):
    """Times the process blocked (voluntary context switches)."""
    return proc_field(read(f"/proc/{pid}/status"), "voluntary_ctxt_switches")


# ---------------------------------------------------------------- report


def ns(v):
    return f"{v:,.0f} ns" if v >= 10 else f"{v:.1f} ns"


def mbs(v):
    return f"{v:,.0f} MB/s"


def pct(v):
    return f"{v:.0f} %"


def median(results, name, key):
    vals = results.get(name, {}).get(key)
    return statistics.median(vals) if vals else math.nan


def report(run, results, s, measures):
    L = [f"Median of {s.reps} run(s) ({s.log_reps} for logs), (min–max) when they differ.", ""]
    if "scale" in measures:
        L += report_scale(run, results, s)
    if "logs" in measures:
        L += report_logs(run, results, s)
    if "events" in measures:
        L += report_events(results, s)
    L += report_targets(results, s)
    return "\n".join(L)


def report_scale(run, results, s):
    progs = [p for p in run if any(k.startswith("scale_") for k in results[p.name])]
    inf_text = {}
    L = []
    for title, key, fmt in [("startup", "startup_ms", ms), ("PSS", "pss", mib),
                            ("`status` of every service", "status_ms", ms),
                            ("shutdown", "shutdown_ms", ms),
                            ("services that caught TERM", "termed", num)]:
        cols = [(f"{title}, {n:,} svc", f"scale_{key}_{n}", fmt,
                 lambda p, n=n, key=key: p.beyond(n) or (
                     "n/a" if key == "status_ms" and p.status_argv is None else None))
                for n in s.scale_sizes]
        L += table(progs, results, {}, cols, inf_text) + [""]
    return L


def report_logs(run, results, s):
    progs = [p for p in run if any(k.startswith("logs_") for k in results[p.name])]
    limit = PlainLoop.name
    derived = {}
    for p in progs:
        r = derived[p.name] = dict(results[p.name])
        for k in s.log_services:
            base = median(results, limit, f"logs_mbs_{k}")
            r[f"logs_pct_{k}"] = [100 * v / base for v in r.get(f"logs_mbs_{k}", [])]
    cols = [(f"MB/s, {k} talking", f"logs_mbs_{k}", mbs, None) for k in s.log_services]
    cols += [(f"of the direct pipe, {k}", f"logs_pct_{k}", pct, None) for k in s.log_services]
    cols += [(f"CPU per line, {k}", f"logs_cpu_ns_{k}", ns, None) for k in s.log_services]
    return table(progs, derived, {}, cols, {}) + [""]


EVENTS = [("logged line, paced", "ev_line"), ("logged line, flat out", "ev_bulk"),
          ("control request", "ev_request"), ("restart", "ev_restart")]


def report_events(results, s):
    r = results.get("tend", {})
    sizes = s.event_sizes
    L = []
    for what, suffix, fmt in [("CPU", "", ns), ("wakeups", "_wakeups", lambda v: f"{v:.2g}")]:
        L += [f"| tend's {what} per event | " + " | ".join(f"{n:,} services" for n in sizes)
              + f" | {sizes[-1]:,} / {sizes[0]:,} |",
              "|---|" + "---:|" * (len(sizes) + 1)]
        for title, key in EVENTS:
            key += suffix
            cells = [fmt_stat(r[f"{key}_{n}"], fmt, "-") if r.get(f"{key}_{n}") else "–"
                     for n in sizes]
            ratio = (median(results, "tend", f"{key}_{sizes[-1]}")
                     / median(results, "tend", f"{key}_{sizes[0]}"))
            L.append(f"| {title} | " + " | ".join(cells)
                     + (" | – |" if math.isnan(ratio) else f" | {ratio:.1f}x |"))
        L.append("")
    return L


def report_targets(results, s):
    """Issue 14's targets, where this run measured what they need."""
    rows = []

    def row(target, figure, met):
        rows.append(f"| {target} | {figure} | {'yes' if met else 'no'} |")

    big, small = s.event_sizes[-1], s.event_sizes[0]
    for title, key in EVENTS:
        x = median(results, "tend", f"{key}_{big}") / median(results, "tend", f"{key}_{small}")
        if not math.isnan(x):
            row(f"CPU per {title}, {big:,} services ≤ 1.5x of {small:,}", f"{x:.1f}x", x <= 1.5)
    for k in s.log_services:
        x = (median(results, "tend --log-prefix", f"logs_mbs_{k}")
             / median(results, PlainLoop.name, f"logs_mbs_{k}"))
        if not math.isnan(x):
            row(f"prefixed throughput, {k} talking, ≥ 60 % of the direct pipe",
                f"{100 * x:.0f} %", x >= 0.6)
    n = 1000
    for loop in (PlainLoop.name, PythonLoop.name):
        x = (median(results, "tend", f"scale_startup_ms_{n}")
             / median(results, loop, f"scale_startup_ms_{n}"))
        if not math.isnan(x):
            row(f"startup, {n:,} services, ≤ 0.8x the {loop}", f"{x:.2f}x", x <= 0.8)
    pss = median(results, "tend", f"scale_pss_{n}")
    if not math.isnan(pss):
        row(f"PSS, {n:,} services, < 2.5 MiB", mib(pss), pss < 2.5)
    stop = median(results, "tend", f"scale_shutdown_ms_{n}")
    if not math.isnan(stop):
        row(f"shutdown, {n:,} services, < 0.5 s", ms(stop), stop < 500)
    if not rows:
        return []
    return ["| issue 14's target | tend, this run (medians) | met |", "|---|---:|---|", *rows, ""]
