#!/usr/bin/env bash
# Checks the container image's runtime stage (docker/Dockerfile) without a container engine or
# an image registry. It builds the runtime root filesystem from Debian bookworm with mmdebstrap
# and the packages of docker/runtime-packages.txt (the list the Dockerfile installs), copies the
# release binaries and conf/ in where the Dockerfile puts them, and then, chrooted into it and
# in a network namespace of its own:
#   1. vswitchd --check-config /etc/vswitch/vswitch.toml (the image's configuration, the
#      shipped default);
#   2. starts vswitchd on that file, unchanged, as the image's CMD does: it must answer
#      `vsctl show` with every port of the file, its TAP interfaces and vhost-user sockets must
#      exist, EAL must have loaded every driver plugin the packages installed, and a port of
#      each virtual device driver the image promises that needs neither hardware nor a peer
#      (null, ring, pcap, af_packet, memif) must probe when added at run time;
#   3. stops it with SIGTERM (by pid), which must end it with exit code 0.
# The default file starts unchanged without touching anything of the host: /run in the chroot
# is a tmpfs of its own (control and vhost-user sockets, DPDK's runtime directory for its file
# prefix), its TAP devices live in the network namespace, and with in_memory = true DPDK keeps
# no hugepage files.
#
# A chroot, not podman: a chroot needs nothing beyond util-linux and coreutils, while podman
# would add a container runtime, conmon, iptables and CNI plugins to every test host, and on
# the sandboxed host this was written on it did not even start (crun could not set its rlimits
# without CAP_SYS_RESOURCE and refused the hybrid cgroup hierarchy). What the image needs from a
# container engine is what the chroot gets here: /proc, /sys, the host's /dev (as with docker
# run --privileged, hugepages and /dev/net/tun included), a /run of its own and a network
# namespace.
#
# Needs root and the release build (scripts/setup.sh does both). The root filesystem is cached
# as a tarball in VSWITCH_IMAGE_CACHE (default /var/cache/vswitch-image-check), keyed by the
# package list, so only the first run downloads packages; every run unpacks a fresh copy into
# a temporary directory under /var/tmp. Every mount is made in a private mount namespace of
# this script, so none reaches the host; the exit trap stops vswitchd (by pid) and removes the
# mounts and the directory, and vswitchd gets SIGTERM should the script itself be killed.
# VSWITCH_DEBIAN_MIRROR and VSWITCH_DEBIAN_SECURITY_MIRROR replace deb.debian.org.
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."

log() { echo "check-image: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (chroot, mounts, network namespace, hugepages)"
if [ "${VSWITCH_IMAGE_CHECK_PRIVATE:-}" != 1 ]; then
    export VSWITCH_IMAGE_CHECK_PRIVATE=1
    exec unshare --mount --propagation private -- bash "$SELF" "$@"
fi

LIST=docker/runtime-packages.txt
SUITE=bookworm
MIRROR="${VSWITCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${VSWITCH_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE_DIR="${VSWITCH_IMAGE_CACHE:-/var/cache/vswitch-image-check}"
# Where docker/Dockerfile puts things.
BIN_DIR=/usr/local/bin
CONF_DIR=/usr/share/vswitch/conf
CONFIG=/etc/vswitch/vswitch.toml
# Where EAL looks for driver plugins (Debian's DPDK 22.11).
PLUGIN_DIR=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
# Time limits in seconds.
BUILD_LIMIT=900 # mmdebstrap: download and install the packages (a cold cache)
START_LIMIT=30  # until vswitchd answers on its control socket
STOP_LIMIT=10   # from SIGTERM to its exit
CMD_LIMIT=20    # any other command
# The environment of a container: nothing of ours leaks into the chroot.
CONTAINER_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

WORK='' PID='' PARTIAL=''
cleanup() {
    local status=$?
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 1 $((STOP_LIMIT * 5))); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    [ -z "$PARTIAL" ] || rm -f "$PARTIAL"
    if [ -n "$WORK" ]; then
        for dir in run dev sys proc; do
            if mountpoint -q "$WORK/root/$dir"; then
                umount -R "$WORK/root/$dir" || umount -R -l "$WORK/root/$dir" || true
            fi
        done
        if grep -qF " $WORK/" /proc/self/mounts; then
            log "mounts are left under $WORK: not removing it"
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command inside the image, bounded in time.
in_image() { timeout "$CMD_LIMIT" "${CONTAINER_ENV[@]}" chroot "$ROOT" "$@"; }
# The same, in vswitchd's network namespace.
in_image_netns() { timeout "$CMD_LIMIT" nsenter --net="/proc/$PID/ns/net" "${CONTAINER_ENV[@]}" chroot "$ROOT" "$@"; }
# Fails with the end of vswitchd's log.
die_with_log() {
    log "last lines of vswitchd's output:"
    tail -n 40 "$WORK/vswitchd.log" | sed 's/^/    /' >&2
    die "$*"
}

for bin in vswitchd vsctl; do
    [ -x "target/release/$bin" ] || die "target/release/$bin is missing: build first (scripts/setup.sh)"
done
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap (scripts/setup.sh installs it)"
mountpoint -q /dev/hugepages || die "no hugetlbfs at /dev/hugepages (scripts/setup.sh mounts it)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing: the TAP ports need it"

# The runtime stage must still do what this script mirrors.
for line in "COPY docker/runtime-packages.txt" "sed -e 's/#.*//' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends" \
    "COPY --from=build /src/target/release/vswitchd /src/target/release/vsctl $BIN_DIR/" \
    "COPY conf/ $CONF_DIR/" "cp $CONF_DIR/default.toml $CONFIG" "CMD [\"--config\", \"$CONFIG\"]"; do
    grep -qF -- "$line" docker/Dockerfile || die "docker/Dockerfile no longer has '$line': update this script with it"
done

# The list as the Dockerfile reads it: comments dropped, whitespace-separated names.
mapfile -t PACKAGES < <(sed -e 's/#.*//' "$LIST" | xargs -n 1)
[ ${#PACKAGES[@]} -gt 0 ] || die "$LIST lists no packages"
# Comments do not change the key; the packages and the way they are installed do.
RECIPE="mmdebstrap --variant=minbase $SUITE $SUITE-updates $SUITE-security main"
KEY=$({ echo "$RECIPE"; printf '%s\n' "${PACKAGES[@]}"; } | sha256sum | cut -c 1-16)
TARBALL="$CACHE_DIR/rootfs-$KEY.tar"

started=$SECONDS
mkdir -p "$CACHE_DIR"
WORK=$(mktemp -d /var/tmp/vswitch-image-check.XXXXXX)
chmod 0755 "$WORK" # apt's _apt user downloads into mmdebstrap's directory in it
ROOT="$WORK/root"
mkdir "$ROOT"

# One run at a time builds or unpacks the cache.
exec 9>"$CACHE_DIR/lock"
flock -w "$BUILD_LIMIT" 9 || die "$CACHE_DIR/lock is held by another run for ${BUILD_LIMIT}s"
if [ -f "$TARBALL" ]; then
    log "runtime root filesystem from the cache: $TARBALL"
else
    log "building the runtime root filesystem: Debian $SUITE minbase + ${#PACKAGES[@]} packages of $LIST"
    PARTIAL="$TARBALL.partial"
    # As apt-get install --no-install-recommends in the Dockerfile: mmdebstrap installs no
    # Recommends either, and removes the package lists as the Dockerfile does.
    TMPDIR="$WORK" timeout "$BUILD_LIMIT" mmdebstrap --mode=root --format=tar --variant=minbase \
        --include="$(IFS=,; echo "${PACKAGES[*]}")" "$SUITE" "$PARTIAL" \
        "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main" </dev/null ||
        die "mmdebstrap failed (exit $?): is every package of $LIST in Debian $SUITE, and $MIRROR reachable?"
    mv "$PARTIAL" "$TARBALL"
    PARTIAL=
    find "$CACHE_DIR" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$KEY.tar" -delete
    log "built in $((SECONDS - started))s"
fi
tar -C "$ROOT" --numeric-owner -xpf "$TARBALL" || die "cannot unpack $TARBALL: remove it to build it again"
flock -u 9

# The runtime stage's COPY and RUN lines.
install -m 0755 target/release/vswitchd target/release/vsctl "$ROOT$BIN_DIR/"
mkdir -p "$ROOT$CONF_DIR"
cp -R conf/. "$ROOT$CONF_DIR/"
mkdir -p "$ROOT/etc/vswitch" "$ROOT/run/vswitch"
cp "$ROOT$CONF_DIR/default.toml" "$ROOT$CONFIG"

# What `docker run --privileged -v /dev/hugepages:/dev/hugepages -v /run/vswitch:...` gives.
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
mount -t tmpfs -o mode=0755,size=64m tmpfs "$ROOT/run"
mkdir "$ROOT/run/vswitch"

log "vswitchd --check-config $CONFIG"
if ! in_image vswitchd --check-config "$CONFIG"; then
    missing=$(in_image ldd "$BIN_DIR/vswitchd" 2>&1 | grep 'not found' | sort -u || true)
    [ -z "$missing" ] || die "vswitchd cannot load its libraries in the image; add their packages to $LIST:
$missing"
    die "vswitchd --check-config $CONFIG failed in the image"
fi

log "starting vswitchd --config $CONFIG in a network namespace of its own"
"${CONTAINER_ENV[@]}" setpriv --pdeathsig TERM unshare --net -- chroot "$ROOT" vswitchd --config "$CONFIG" \
    </dev/null >"$WORK/vswitchd.log" 2>&1 &
PID=$!
deadline=$((SECONDS + START_LIMIT))
until in_image vsctl --timeout 2 show >/dev/null 2>&1; do
    if ! kill -0 "$PID" 2>/dev/null; then
        status=0
        wait "$PID" || status=$?
        PID=
        die_with_log "vswitchd exited with $status during start-up"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die_with_log "vswitchd did not answer vsctl show within ${START_LIMIT}s"
    sleep 0.5
done

# Every port of the file is on its bridge (a port whose driver is missing fails to probe,
# which the default on_port_error = "continue" only logs; the vhost-user ones stay down until
# a VM connects).
show=$(in_image vsctl --json show)
ports=$(awk '/^\[\[bridge\.port\]\]/ { port = 1; next } /^\[/ { port = 0 }
             port && /^name *=/ { sub(/^name *= *"/, ""); sub(/".*/, ""); print }' "$ROOT$CONFIG")
[ -n "$ports" ] || die "no ports found in $CONFIG"
for port in $ports; do
    grep -qF "\"name\": \"$port\"" <<<"$show" ||
        die_with_log "port $port of $CONFIG is not on its bridge: its driver is missing or failed (see the log)"
done
mapfile -t ifaces < <(grep -o 'iface=[^,"]*' "$ROOT$CONFIG" | cut -d= -f2)
for iface in "${ifaces[@]}"; do
    in_image_netns ip -br link show dev "$iface" >/dev/null || die_with_log "TAP interface $iface does not exist"
done
mapfile -t sockets < <(sed -n 's/^path *= *"\(.*\)"/\1/p' "$ROOT$CONFIG")
for sock in "${sockets[@]}"; do
    [ -S "$ROOT$sock" ] || die_with_log "vhost-user socket $sock does not exist"
done
log "ports of $CONFIG on their bridge: $(echo "$ports" | xargs)"

# EAL loaded every driver plugin the packages installed (one that cannot be loaded stops
# EAL; this catches a plugin directory EAL did not read).
[ -d "$ROOT$PLUGIN_DIR" ] || die "the image has no driver plugin directory $PLUGIN_DIR"
not_loaded=()
for plugin in "$ROOT$PLUGIN_DIR"/*.so.*; do
    [ -L "$plugin" ] && continue
    grep -qF "/${plugin##*/}" "/proc/$PID/maps" || not_loaded+=("${plugin##*/}")
done
[ ${#not_loaded[@]} -eq 0 ] || die_with_log "driver plugins not loaded by EAL: ${not_loaded[*]}"
log "driver plugins loaded: $(find "$ROOT$PLUGIN_DIR" -name '*.so.*' -type f | wc -l)"

# The virtual device drivers the image promises, probed as ports added at run time. The NIC
# drivers need their hardware, and virtio_user a vhost-user back-end in another process (one
# in the same process cannot map its memory): that those load is checked above.
in_image_netns ip link set lo up # as in a container's network namespace; pcap and af_packet use it
vdev_port=0
for devargs in net_null0 net_ring0 net_pcap0,iface=lo net_af_packet0,iface=lo \
    net_memif0,role=server,socket=/run/vswitch/check-memif.sock; do
    vdev_port=$((vdev_port + 1))
    in_image vsctl add-port br0 "check$vdev_port" type=dpdk "devargs=$devargs" >&2 ||
        die_with_log "port ${devargs%%,*} cannot be added: is its driver's package in $LIST?"
done
show=$(in_image vsctl --json show)
for i in $(seq 1 "$vdev_port"); do
    grep -qF "\"name\": \"check$i\"" <<<"$show" || die_with_log "port check$i is not on br0 after add-port"
done
in_image vsctl show >&2
log "virtual device ports added: $vdev_port"

log "stopping vswitchd (pid $PID) with SIGTERM"
kill -TERM "$PID"
deadline=$((SECONDS + STOP_LIMIT))
while kill -0 "$PID" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die_with_log "vswitchd still runs ${STOP_LIMIT}s after SIGTERM"
    sleep 0.2
done
status=0
wait "$PID" || status=$?
PID=
[ "$status" -eq 0 ] || die_with_log "vswitchd exited with $status after SIGTERM (expected 0)"
log "passed in $((SECONDS - started))s: the image's runtime has every library and driver vswitchd needs"
