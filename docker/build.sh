#!/usr/bin/env bash
# Build the static tend binary and the demo image (docker/Dockerfile).
#
# Needs: cargo with the x86_64-unknown-linux-musl target, Debian's
# busybox-static (/bin/busybox), a Docker engine. Pulls no image and reaches
# no network except crates.io when cargo has crates to fetch.
#
# usage: docker/build.sh [--no-cargo] [--tag NAME] [--context DIR]
#   --no-cargo     use the tend binary already built (the integration tests do)
#   --tag NAME     image name (default tend-demo)
#   --context DIR  where to stage the build context
#                  (default target/docker-context)
# environment:
#   TEND_BIN   the tend binary to put in the image
#              (default target/x86_64-unknown-linux-musl/release/tend)
#   BUSYBOX    a static busybox binary (default /bin/busybox)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
target=x86_64-unknown-linux-musl
tag=tend-demo
context=$repo/target/docker-context
run_cargo=1

while [ $# -gt 0 ]; do
    case $1 in
        --no-cargo) run_cargo=0 ;;
        --tag) tag=${2:?--tag needs a name}; shift ;;
        --context) context=${2:?--context needs a dir}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

tend_bin=${TEND_BIN:-$repo/target/$target/release/tend}
busybox=${BUSYBOX:-/bin/busybox}

if [ "$run_cargo" = 1 ]; then
    (cd "$repo" && cargo build --release --target "$target")
fi

die() { echo "build.sh: $*" >&2; exit 1; }
[ -x "$tend_bin" ] || die "no tend binary at $tend_bin (build it, or set TEND_BIN)"
[ -x "$busybox" ] || die "no busybox at $busybox: apt-get install busybox-static"
# A FROM scratch image has no libc: both binaries must be static. ldd lists
# the libraries of a dynamic binary as "libc.so.6 => /lib/...", and says "not
# a dynamic executable" or "statically linked" (static-pie) otherwise.
for bin in "$tend_bin" "$busybox"; do
    if ldd "$bin" 2>&1 | grep -q '=>'; then
        die "$bin is dynamically linked; a scratch image needs a static binary"
    fi
done

# Stage the context: only what the image needs, so the daemon is sent a few MB
# and not the whole target/ directory.
rm -rf "$context"
mkdir -p "$context/rootfs" "$context/examples"
cp -a "$repo/docker/rootfs/." "$context/rootfs/"
install -d -m 1777 "$context/rootfs/tmp"
# /run is world-writable (sticky, like /tmp) so that tend can create its
# control socket /run/tend/control.sock under `docker run --user 1000:1000`.
install -d -m 1777 "$context/rootfs/run"
install -d -m 0700 "$context/rootfs/root"
install -d -m 0755 "$context/rootfs/home/app"
chmod 0644 "$context/rootfs/etc/passwd" "$context/rootfs/etc/group"
# nginx-backend needs Debian's nginx and python3: it is not part of a busybox
# image (see its README).
for example in web-worker critical-db main-command; do
    cp -a "$repo/service-examples/$example" "$context/examples/"
done
install -m 0755 "$tend_bin" "$context/tend"
install -m 0755 "$busybox" "$context/busybox"

# The legacy builder is the one every engine has (buildx may be absent).
# DOCKER_BUILDKIT=0 keeps the output the same everywhere.
old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build --quiet -t "$tag" -f "$repo/docker/Dockerfile" "$context" >/dev/null
# A rebuild moves the tag: remove the image it leaves untagged, unless a
# container or another tag still uses it (then rmi refuses, which is fine).
new_id=$(docker image inspect -f '{{.Id}}' "$tag")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
fi
echo "built $tag: $(docker image inspect -f '{{.Size}}' "$tag") bytes"
