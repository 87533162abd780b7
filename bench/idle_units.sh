#!/usr/bin/env bash
# tend's idle cost with systemd units running: Debian's redis-server.service
# (unchanged, Type=notify, Restart=always) and an app.service that After= and
# Requires= it, the setup of tests/it/units/combined.rs. Once both are up,
# reads tend's /proc/PID/schedstat (ns on a CPU; times it was scheduled in)
# and its context switches, waits IDLE_S seconds doing nothing, reads again,
# and prints the differences, with redis-server's beside them for scale.
#
# Needs root (unshare, User=redis, bind mounts), redis-server, util-linux,
# iproute2, and the static tend:
#   cargo build --release --target x86_64-unknown-linux-musl
#   sudo bench/idle_units.sh [TEND_BINARY]        # IDLE_S=60 by default
#
# Runs tend as PID 1 of private PID, mount and network namespaces:
# /var/lib/redis and /var/log/redis are bind mounts of a temp dir, /run a
# tmpfs, so nothing of the host is touched and port 6379 cannot clash.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tend=${1:-$repo/target/x86_64-unknown-linux-musl/release/tend}
idle_s=${IDLE_S:-60}
unit=/lib/systemd/system/redis-server.service

[ "$(id -u)" = 0 ] || { echo "idle_units.sh: needs root" >&2; exit 2; }
[ -x "$tend" ] || { echo "idle_units.sh: no tend at $tend" >&2; exit 2; }
[ -f "$unit" ] || { echo "idle_units.sh: no $unit (apt-get install redis-server)" >&2; exit 2; }

T=$(mktemp -d /tmp/tend-idle-units.XXXXXX)
ushare=
cleanup() {
    [ -n "$ushare" ] && kill -KILL "$ushare" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# redis (User=redis) must reach its notify socket, beside control.sock.
chmod 0755 "$T"
mkdir -p "$T/services" "$T/none" "$T/redis-lib" "$T/redis-log"
chown redis:redis "$T/redis-lib" "$T/redis-log"
ln -s "$unit" "$T/services/redis-server.service"
printf "APP_MODE='from the file'\n" >"$T/app.env"
cat >"$T/app.sh" <<EOF
#!/bin/sh
T='$T'
EOF
cat >>"$T/app.sh" <<'EOF'
cli() { redis-cli -h 127.0.0.1 -p 6379 "$@" 2>/dev/null || echo down; }
[ "$(cli ping)" = PONG ] || exit 1
cli SET "$REDIS_KEY" "$GREETING" >/dev/null
trap 'exit 0' TERM
echo $$ >> "$T/app-up"
sleep 100000 &
wait
EOF
chmod 0755 "$T/app.sh"
cat >"$T/services/app.service" <<EOF
[Unit]
After=redis-server.service
Requires=redis-server.service
[Service]
Environment="GREETING=hello from app" REDIS_KEY=tend-idle-key
EnvironmentFile=$T/app.env
ExecStart=$T/app.sh
EOF

unshare --pid --fork --mount-proc --kill-child \
    unshare --net sh -c 'ip link set lo up && mount --bind "$1" /var/lib/redis \
        && mount --bind "$2" /var/log/redis && mount -t tmpfs -o mode=0755 tmpfs /run \
        && shift 2 && exec "$@"' sh "$T/redis-lib" "$T/redis-log" \
    "$tend" --services "$T/services" --control "$T/control.sock" \
    --init-dir "$T/none" --finish-dir "$T/none" 2>"$T/stderr" &
ushare=$!

for _ in $(seq 300); do
    [ -s "$T/app-up" ] && break
    sleep 0.1
done
[ -s "$T/app-up" ] || { echo "idle_units.sh: the app never came up:" >&2; cat "$T/stderr" >&2; exit 1; }
pid=$(pgrep -P "$ushare" -x tend)
redis=$(pgrep -P "$pid" -x redis-server)
# Let the start's last events (readiness, the app's first output) pass.
sleep 2

sample() { # PID -> "cpu_ns timeslices voluntary nonvoluntary"
    local s v n
    s=$(cut -d' ' -f1,3 "/proc/$1/schedstat")
    v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status")
    n=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "/proc/$1/status")
    echo "$s $v $n"
}
read -r t_cpu0 t_runs0 t_vol0 t_inv0 <<<"$(sample "$pid")"
read -r r_cpu0 r_runs0 r_vol0 r_inv0 <<<"$(sample "$redis")"
sleep "$idle_s"
read -r t_cpu1 t_runs1 t_vol1 t_inv1 <<<"$(sample "$pid")"
read -r r_cpu1 r_runs1 r_vol1 r_inv1 <<<"$(sample "$redis")"

echo "idle ${idle_s}s with redis-server.service and app.service up ($($tend --version 2>/dev/null || echo tend ?))"
printf '%-14s %12s %11s %10s %13s\n' process "cpu (us)" "scheduled" voluntary nonvoluntary
printf '%-14s %12d %11d %10d %13d\n' tend $(((t_cpu1 - t_cpu0) / 1000)) \
    $((t_runs1 - t_runs0)) $((t_vol1 - t_vol0)) $((t_inv1 - t_inv0))
printf '%-14s %12d %11d %10d %13d\n' redis-server $(((r_cpu1 - r_cpu0) / 1000)) \
    $((r_runs1 - r_runs0)) $((r_vol1 - r_vol0)) $((r_inv1 - r_inv0))

kill -TERM "$pid"
wait "$ushare" || { echo "idle_units.sh: tend exited $?" >&2; cat "$T/stderr" >&2; exit 1; }
ushare=
