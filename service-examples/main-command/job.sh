#!/bin/sh
# The main command: a batch job that needs the api helper. tend runs it once
# api is ready (its service.toml: ready = { tcp = ... }), and when it exits
# stops the helpers and exits with its code.
# usage: job.sh [EXIT_CODE]
code=${1:-0}
url=http://127.0.0.1:${API_PORT:-8081}/config.txt

fetch() {
    if command -v busybox >/dev/null 2>&1; then
        busybox wget -q -O - "$1"
    else
        python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"
    fi
}

echo "job: fetching $url"
# Under tend the first try succeeds. The retries are for running the job by
# hand, or under a tend whose --ready-timeout ran out.
tries=0
until fetch "$url" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -ge 20 ]; then
        echo "job: api not reachable" >&2
        exit 1
    fi
    sleep 0.25
done
sleep 2
echo "job: done, exiting with code $code"
exit "$code"
