#!/usr/bin/env python3
"""The plain loop of bench.py in Python: what a few lines of a script at
PID 1 do to start a directory of services.  Same job as loop.c:

    python3 loop.py SERVICES_DIR

starts each service dir's ./run in name order (subprocess, cwd = the dir,
a new session, stdin from /dev/null, the loop's own stdout and stderr),
reaps every child, and on SIGTERM sends TERM to every other process of the
namespace and exits 0 once no child is left."""

import os
import signal
import subprocess
import sys

stopping = False
# Every Popen, kept: one dropped while its child runs joins a list that each
# later Popen polls, which makes starting N services O(N^2) waitpid calls.
children = []


def on_term(signo, frame):
    global stopping
    if not stopping:
        stopping = True
        os.kill(-1, signal.SIGTERM)  # as PID 1: everyone else in the namespace


def main(services):
    signal.signal(signal.SIGTERM, on_term)
    for name in sorted(os.listdir(services)):
        if not name.startswith("."):
            children.append(subprocess.Popen(["./run"], cwd=os.path.join(services, name),
                                             stdin=subprocess.DEVNULL,
                                             start_new_session=True))
    while True:
        try:
            os.wait()
        except ChildProcessError:
            if stopping:
                return 0
            signal.pause()
        except InterruptedError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
