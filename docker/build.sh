#!/usr/bin/env bash
# Build the static tend binaries, for x86_64 and aarch64, as release files
# with their checksums, and the (x86_64) demo image (docker/Dockerfile).
#
# Needs: cargo with the x86_64-unknown-linux-musl and aarch64-unknown-linux-musl
# targets (rustup target add ...), file(1), Debian's busybox-static
# (/bin/busybox) and a Docker engine for the image. Pulls no image and reaches
# no network except crates.io when cargo has crates to fetch.
#
# usage: docker/build.sh [--no-cargo] [--no-image] [--tag NAME] [--context DIR]
#                        [--dist DIR]
#   --no-cargo     use the tend binary already built and make no release
#                  files (the integration tests do)
#   --no-image     make the release files only: no busybox or Docker needed
#   --tag NAME     image name (default tend-demo)
#   --context DIR  where to stage the build context
#                  (default target/docker-context)
#   --dist DIR     where to put tend-x86_64, tend-aarch64 and SHA256SUMS
#                  (default target/dist)
# environment:
#   TEND_BIN   the tend binary to put in the image
#              (default target/x86_64-unknown-linux-musl/release/tend)
#   BUSYBOX    a static busybox binary (default /bin/busybox)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
target=x86_64-unknown-linux-musl
tag=tend-demo
context=$repo/target/docker-context
dist=$repo/target/dist
run_cargo=1
make_image=1

while [ $# -gt 0 ]; do
    case $1 in
        --no-cargo) run_cargo=0 ;;
        --no-image) make_image=0 ;;
        --dist) dist=${2:?--dist needs a dir}; shift ;;
        --tag) tag=${2:?--tag needs a name}; shift ;;
        --context) context=${2:?--context needs a dir}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

tend_bin=${TEND_BIN:-$repo/target/$target/release/tend}
busybox=${BUSYBOX:-/bin/busybox}

die() { echo "build.sh: $*" >&2; exit 1; }

if [ "$run_cargo" = 1 ]; then
    # The release files: one static binary per architecture, named as the
    # kernel (uname -m) names it, and their checksums for `sha256sum -c`.
    rm -rf "$dist"
    mkdir -p "$dist"
    for arch in x86_64 aarch64; do
        (cd "$repo" && cargo build --release --target "$arch-unknown-linux-musl")
        built=$repo/target/$arch-unknown-linux-musl/release/tend
        desc=$(file -b "$built") || die "file(1) is needed: apt-get install file"
        case $arch in x86_64) machine=x86-64 ;; aarch64) machine="ARM aarch64" ;; esac
        case $desc in
            *", $machine,"*"statically linked"*) ;;
            *) die "$built is not a static $arch binary: $desc" ;;
        esac
        install -m 0755 "$built" "$dist/tend-$arch"
    done
    (cd "$dist" && sha256sum tend-x86_64 tend-aarch64 >SHA256SUMS)
    echo "release files in $dist:"
    (cd "$dist" && ls -l tend-x86_64 tend-aarch64 && cat SHA256SUMS)
fi
[ "$make_image" = 1 ] || exit 0

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
for example in web-worker critical-db main-command units; do
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
