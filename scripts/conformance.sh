#!/usr/bin/env bash
# OpenFlow conformance: runs os-ken's OpenFlow Switch Test Tool (os_ken/tests/switch/tester.py,
# from the venv scripts/setup.sh installs) against our switch and against Open vSwitch, and
# counts the tests each passes, so one can see which tests fail on ours but pass on OVS.
#
#   scripts/conformance.sh [--target ours|ovs|both|compare] [--out DIR] [--vswitchd PATH] SELECTOR...
#
# SELECTOR is a suite (of13, of10, of14), a directory of one (of13/action), a test file
# (of13/match/00_IN_PORT.json) or tests of one by index in its "tests" list, from 0
# (of13/match/00_IN_PORT.json:1,4), relative to os-ken's tests/switch directory; all must be of
# one OpenFlow version, which both switches are then asked to speak. Results go to DIR (default
# conformance-results/ in the current directory): <target>.tsv, one line per test (file, index
# in the file, OK or ERROR, description, tester.py's reason, attempts), <target>.log (all tester.py
# printed), and with --target both, ours-fails-ovs-passes.tsv. --target compare only compares
# the results of earlier --target ours and --target ovs runs into DIR (e.g. run at the same
# time). The counts are of tests (the entries of each file's "tests" list), not of files. Exit status 0 when the runs completed,
# whatever the tests' results; 1 when the harness itself failed.
#
# The wiring (this script is its only description; tests/e2e/openflow_conformance.rs runs it):
#
#   controller: osken-manager tester.py on 127.0.0.1:6653
#        |                              |
#   target switch  (dpid from its features reply)
#     port 1 tgt1 ---- veth ---- tst1 port 1 \
#     port 2 tgt2 ---- veth ---- tst2 port 2  tester switch: Open vSwitch bridge "tester",
#     port 3 tgt3 ---- veth ---- tst3 port 3 /  dpid 0000000000000002
#
# - the target is ours (vswitchd, bridge "target", its ports DPDK net_af_packet vdevs on the
#   tgt veths) or an Open vSwitch bridge "target" on them (--target ovs);
# - Open vSwitch is Debian's ovs-vswitchd on its userspace (netdev) datapath, no kernel module
#   (--disable-system), with its database, sockets and logs in the run's scratch directory;
#   bridges are fail_mode=secure (no flows but the tester's) with the OpenFlow version fixed;
# - everything runs in a network namespace of this run (vswconf-<pid>), IPv6 off so the kernel
#   sends nothing on the veths, and transmit checksum offload off on every veth (AF_PACKET on a
#   veth otherwise hands over packets whose checksum was left to the peer).
#
# Every process is started by this script and stopped by its pid from the exit trap (vswitchd
# and the tester with SIGTERM, OVS with ovs-appctl exit; SIGKILL after a bounded wait); every
# wait is bounded; the namespace and the scratch directory are removed (KEEP_SCRATCH=1 keeps
# the latter). RUN_LIMIT (seconds, default 10800) bounds one target's whole run; STALL_SECONDS
# (default 120) is how long tester.py may go without a test result before
# conformance_tester.py counts the test it is in as aborted and goes on with the next; RETRIES (default 0) runs each failed test
# again up to that many times, a pass on a retry counted as a pass (the summary says how many
# passed at the first attempt; see conformance_tester.py for why OVS needs it).
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
REPO=$PWD

log() { echo "conformance: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
usage() { sed -n '6,7p' "$SELF" | sed 's/^# *//' >&2; exit 2; }

TARGET=both
OUT=conformance-results
VSWITCHD=target/release/vswitchd
SELECTORS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --target) TARGET=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --vswitchd) VSWITCHD=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) log "unknown option $1"; usage ;;
        *) SELECTORS+=("$1"); shift ;;
    esac
done
[ ${#SELECTORS[@]} -gt 0 ] || usage
case "$TARGET" in ours|ovs|both|compare) ;; *) log "--target must be ours, ovs, both or compare"; usage ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, DPDK)"

VENV="${VSWITCH_OPENFLOW_APPS:-/opt/vswitch-openflow-apps}"
[ -x "$VENV/bin/osken-manager" ] || die "$VENV/bin/osken-manager is missing: run scripts/setup.sh"
VERSION=
for selector in "${SELECTORS[@]}"; do
    case "$selector" in
        of10|of10/*) v=openflow10 ;;
        of13|of13/*) v=openflow13 ;;
        of14|of14/*) v=openflow14 ;;
        *) die "selector $selector is not under of10, of13 or of14" ;;
    esac
    [ -z "$VERSION" ] || [ "$VERSION" = "$v" ] || die "selectors of two OpenFlow versions: run them apart"
    VERSION=$v
done
mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")
RUN_LIMIT="${RUN_LIMIT:-10800}"
STALL_SECONDS="${STALL_SECONDS:-120}"
RETRIES="${RETRIES:-0}"
CONTROLLER_PORT=6653
TESTER_DPID=0000000000000002

# Polls "$@" every 0.2 s until it succeeds; fails after $1 seconds naming $2.
wait_for() {
    local limit=$1 what=$2
    shift 2
    for _ in $(seq 1 $((limit * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "timed out after ${limit}s waiting for $what"
}

# Stops process $2 (named $1) with signal $3, SIGKILL after 5 s.
stop_pid() {
    local name=$1 pid=$2 signal=$3
    kill -0 "$pid" 2>/dev/null || return 0
    kill -s "$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    log "$name (pid $pid) ignored SIG$signal for 5 s; killing it"
    kill -s KILL "$pid" 2>/dev/null || true
}

# The counts of one target's results: "<passed> <passed at the first attempt> <failed> <total>".
counts() {
    awk -F'\t' '{ n++; if ($3 == "OK") { ok++; if ($6 == 1) first++ } }
                END { printf "%d %d %d %d\n", ok, first, n - ok, n }' "$1"
}

summary() {
    local target=$1 file="$OUT/$1.tsv"
    [ -s "$file" ] || { log "$target: no results"; return; }
    read -r ok first failed total < <(counts "$file")
    printf 'conformance %s: %-4s %4d passed (%d at the first attempt), %4d failed (%d tests)\n' \
        "${SELECTORS[*]}" "$target" "$ok" "$first" "$failed" "$total"
}

# The counts of both targets and the tests failing on ours but passing on OVS (the gap to
# close, with ours' reason), from OUT/ours.tsv and OUT/ovs.tsv.
compare() {
    summary ours
    summary ovs
    [ -s "$OUT/ours.tsv" ] && [ -s "$OUT/ovs.tsv" ] || return 0
    awk -F'\t' 'NR == FNR { if ($3 == "OK") ovs_ok[$1 "\t" $2] = 1; next }
                $3 != "OK" && ($1 "\t" $2) in ovs_ok' "$OUT/ovs.tsv" "$OUT/ours.tsv" \
        > "$OUT/ours-fails-ovs-passes.tsv"
    log "$(wc -l < "$OUT/ours-fails-ovs-passes.tsv") tests fail on ours and pass on OVS: $OUT/ours-fails-ovs-passes.tsv"
}

# ---- --target both: the two runs one after the other, then the comparison ----
if [ "$TARGET" = both ]; then
    CHILD=
    trap '[ -z "$CHILD" ] || stop_pid "conformance run" "$CHILD" TERM' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    for target in ours ovs; do
        "$SELF" --target "$target" --out "$OUT" --vswitchd "$VSWITCHD" "${SELECTORS[@]}" &
        CHILD=$!
        wait "$CHILD" || die "the $target run failed"
        CHILD=
    done
    compare
    exit 0
fi
if [ "$TARGET" = compare ]; then
    compare
    exit 0
fi

# ---- one target ----
SCRATCH=$(mktemp -d /tmp/vsw-conformance.XXXXXX)
NS="vswconf-$$"
OVS_DIR="$SCRATCH/ovs"
FILE_PREFIX="vsconf-$$"
VSWITCHD_PID=''
OVSDB_PID=''
OVS_PID=''
DRIVER_PID=''

ovs_env() { env OVS_RUNDIR="$OVS_DIR" OVS_DBDIR="$OVS_DIR" OVS_LOGDIR="$OVS_DIR" OVS_SYSCONFDIR="$OVS_DIR" "$@"; }
vsctl() { ovs_env ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=20 "$@"; }

# Stops an OVS daemon: ovs-appctl exit, then SIGTERM (and SIGKILL) when it stays.
stop_ovs_daemon() {
    local name=$1 pid=$2
    kill -0 "$pid" 2>/dev/null || return 0
    ovs_env timeout 10 ovs-appctl -t "$OVS_DIR/$name.ctl" exit >/dev/null 2>&1 || true
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    stop_pid "$name" "$pid" TERM
}

cleanup() {
    local status=$?
    [ -z "$DRIVER_PID" ] || stop_pid "tester" "$DRIVER_PID" TERM
    if [ -n "$VSWITCHD_PID" ]; then
        stop_pid "vswitchd" "$VSWITCHD_PID" TERM
        # EAL leaves its runtime directory behind even with --in-memory.
        rm -rf "/var/run/dpdk/$FILE_PREFIX"
    fi
    [ -z "$OVS_PID" ] || stop_ovs_daemon ovs-vswitchd "$OVS_PID"
    [ -z "$OVSDB_PID" ] || stop_ovs_daemon ovsdb-server "$OVSDB_PID"
    ip netns del "$NS" 2>/dev/null || true
    if [ "${KEEP_SCRATCH:-0}" = 1 ] || [ "$status" -ne 0 ]; then
        log "scratch files kept in $SCRATCH"
    else
        rm -rf "$SCRATCH"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The namespace and the three veth pairs.
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
for i in 1 2 3; do
    ip -n "$NS" link add "tgt$i" type veth peer name "tst$i"
    for dev in "tgt$i" "tst$i"; do
        ip netns exec "$NS" ethtool -K "$dev" tx off >/dev/null
        ip -n "$NS" link set "$dev" up
    done
done

rm -f "$OUT/$TARGET.tsv" "$OUT/$TARGET.log" "$OUT/$TARGET-ovs-vswitchd.log"
[ "$TARGET" = ovs ] || rm -f "$OUT/vswitchd.log"

# Open vSwitch: the tester bridge always, the target bridge for --target ovs.
mkdir -p "$OVS_DIR"
ovs_env ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovs_env ip netns exec "$NS" ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" \
    --unixctl="$OVS_DIR/ovsdb-server.ctl" --log-file="$OVS_DIR/ovsdb-server.log" --no-chdir \
    >"$OVS_DIR/ovsdb-server.out" 2>&1 &
OVSDB_PID=$!
wait_for 20 "ovsdb-server" vsctl --no-wait show
vsctl --no-wait init
ovs_env ip netns exec "$NS" ovs-vswitchd "unix:$OVS_DIR/db.sock" --disable-system --disable-system-route \
    --unixctl="$OVS_DIR/ovs-vswitchd.ctl" --log-file="$OUT/$TARGET-ovs-vswitchd.log" --no-chdir \
    >"$OVS_DIR/ovs-vswitchd.out" 2>&1 &
OVS_PID=$!
wait_for 20 "ovs-vswitchd" ovs_env ovs-appctl -t "$OVS_DIR/ovs-vswitchd.ctl" version

protocol=$(case "$VERSION" in openflow10) echo OpenFlow10 ;; openflow13) echo OpenFlow13 ;; *) echo OpenFlow14 ;; esac)
# ovs_bridge NAME DPID PORT_PREFIX: a bridge with ports PREFIX1..3 as OpenFlow ports 1..3.
ovs_bridge() {
    local name=$1 dpid=$2 prefix=$3 args=()
    for i in 1 2 3; do
        args+=(-- add-port "$name" "$prefix$i" -- set interface "$prefix$i" "ofport_request=$i")
    done
    vsctl add-br "$name" -- set bridge "$name" datapath_type=netdev fail_mode=secure "protocols=$protocol" \
        "other-config:datapath-id=$dpid" other-config:disable-in-band=true "${args[@]}" \
        -- set-controller "$name" "tcp:127.0.0.1:$CONTROLLER_PORT" -- set controller "$name" max_backoff=1000
    for i in 1 2 3; do
        wait_for 20 "OVS port $prefix$i" test "$(vsctl get interface "$prefix$i" ofport)" = "$i"
    done
}
ovs_bridge tester "$TESTER_DPID" tst

if [ "$TARGET" = ovs ]; then
    TARGET_DPID=0000000000000001
    ovs_bridge target "$TARGET_DPID" tgt
else
    [ -x "$VSWITCHD" ] || die "$VSWITCHD is missing: cargo build --release (or --vswitchd PATH)"
    VSCTL="$(dirname "$VSWITCHD")/vsctl"
    # As the e2e tests pin it: management on core 0, one PMD on core 1 that sleeps when idle.
    cat >"$SCRATCH/vswitchd.toml" <<EOF
[dpdk]
main_core = 0
memory_mb = 256
file_prefix = "$FILE_PREFIX"
no_pci = true
mbufs = 8192
[pmd]
cores = [1]
idle_sleep_max_us = 100
[control]
socket = "$SCRATCH/vswitchd.sock"
[[bridge]]
name = "target"
openflow = ["tcp:127.0.0.1:$CONTROLLER_PORT"]
fail_mode = "secure"
EOF
    for i in 1 2 3; do
        printf '[[bridge.port]]\nname = "p%d"\ntype = "dpdk"\ndevargs = "net_af_packet%d,iface=tgt%d"\nofport = %d\n' \
            "$i" "$i" "$i" "$i" >>"$SCRATCH/vswitchd.toml"
    done
    RUST_LOG=info ip netns exec "$NS" "$VSWITCHD" --config "$SCRATCH/vswitchd.toml" >"$OUT/vswitchd.log" 2>&1 &
    VSWITCHD_PID=$!
    wait_for 30 "vswitchd" "$VSCTL" --socket "$SCRATCH/vswitchd.sock" --timeout 2 show
    features=$(timeout 20 ovs-ofctl -O OpenFlow13 show "unix:$SCRATCH/target.mgmt") || die "ovs-ofctl show failed"
    TARGET_DPID=$(sed -n 's/.*dpid:\([0-9a-f]\{16\}\).*/\1/p' <<<"$features" | head -1)
    [ -n "$TARGET_DPID" ] || die "no dpid in the features reply: $features"
fi

log "$TARGET (dpid $TARGET_DPID) against the OVS tester, $VERSION: ${SELECTORS[*]}"
timeout --kill-after=30 "$RUN_LIMIT" ip netns exec "$NS" "$VENV/bin/python" "$REPO/scripts/conformance_tester.py" \
    --port "$CONTROLLER_PORT" --target-dpid "$TARGET_DPID" --tester-dpid "$TESTER_DPID" --version "$VERSION" \
    --scratch "$SCRATCH/runs" --results "$OUT/$TARGET.tsv" --log "$OUT/$TARGET.log" \
    --stall-seconds "$STALL_SECONDS" --retries "$RETRIES" "${SELECTORS[@]}" &
DRIVER_PID=$!
wait "$DRIVER_PID" || die "the tester run failed or exceeded RUN_LIMIT=${RUN_LIMIT}s; its log: $OUT/$TARGET.log"
DRIVER_PID=
if [ -n "$VSWITCHD_PID" ] && ! kill -0 "$VSWITCHD_PID" 2>/dev/null; then
    wait "$VSWITCHD_PID" && status=0 || status=$?
    VSWITCHD_PID=
    die "vswitchd exited during the run with status $status; its log: $OUT/vswitchd.log"
fi
summary "$TARGET"
