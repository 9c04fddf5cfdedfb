# shellcheck shell=bash disable=SC2034  # (variables used by the scripts sourcing this)
# Shared helpers of the throughput harness (sourced by throughput.sh, not run).
#
# Adapted from the team's anchor harness (../shared/bench/anchors/lib.sh,
# README.md there has the measurements and pitfalls behind these choices):
# the bench lock, the foreign-load ("quiet run") check, /proc/stat context,
# pcap generation, and the private OVS-DPDK start/stop/measure recipe.
# Changes: every run gets its own log/OVS/netns names, processes are stopped
# through one bounded stop_pid, and the vswitchd/vsctl and testpmd helpers are new.
#
# Etiquette built in:
#  * every timed run holds `flock /tmp/bench.lock` (bounded wait, LOCK_WAIT)
#  * every DPDK process has its own --file-prefix and 512 MB of hugepage memory
#  * processes are stopped by PID only (never by name), with bounded waits
#  * OVS runs with private run/db/log dirs inside a private network namespace,
#    so it cannot touch anyone else's OVS, kernel datapath, tap names or routes.

BENCHES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${WORK:-/tmp/vswitch-bench}"
LOCK="${BENCH_LOCK:-/tmp/bench.lock}"
LOCK_WAIT="${LOCK_WAIT:-1800}"        # max seconds to wait for the bench lock, per run
FOREIGN_MAX="${FOREIGN_MAX:-15}"      # % of one core used by others; above = noisy run
SOCKET_MEM="${SOCKET_MEM:-512}"       # MB of hugepage memory for every DPDK process
TESTPMD="${TESTPMD:-dpdk-testpmd}"
OVS_VSWITCHD_DPDK="${OVS_VSWITCHD_DPDK:-/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk}"
OVS_SCHEMA="${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}"
mkdir -p "$WORK"

log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- numbers
# stats_line LABEL UNIT v1 v2 ... -> "LABEL: min X / median Y / max Z UNIT (n=N) runs=[...]"
stats_line() {
    local label="$1" unit="$2"; shift 2
    printf '%s\n' "$@" | python3 -c '
import sys, statistics
label, unit = sys.argv[1], sys.argv[2]
v = [float(x) for x in sys.stdin.read().split()]
if not v:
    print("%s: no samples" % label)
else:
    print("%s: min %.2f / median %.2f / max %.2f %s (n=%d) runs=[%s]" % (
        label, min(v), statistics.median(v), max(v), unit, len(v),
        " ".join("%.2f" % x for x in v)))
' "$label" "$unit"
}
# median v1 v2 ... -> median with 2 decimals, "n/a" without values
median() {
    printf '%s\n' "$@" | python3 -c '
import sys, statistics
v = [float(x) for x in sys.stdin.read().split()]
print("%.2f" % statistics.median(v) if v else "n/a")'
}
# ratio A B -> A/B with 2 decimals, "n/a" if either is missing or B is 0
ratio() {
    python3 -c '
import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2])
    print("%.2f" % (a / b) if b else "n/a")
except ValueError:
    print("n/a")' "$1" "$2"
}
# rate C0 C1 T0 T1 -> (C1-C0)/(T1-T0) in millions per second, 2 decimals
rate() {
    python3 -c '
import sys
c0, c1, t0, t1 = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print("%.2f" % ((c1 - c0) / (t1 - t0) / 1e6))' "$@"
}
# midpoint T0 T1 -> (T0+T1)/2 (timestamps taken around a stats query)
midpoint() { python3 -c 'import sys; print("%.6f" % ((float(sys.argv[1]) + float(sys.argv[2])) / 2))' "$1" "$2"; }
now() { date +%s.%N; }

# ------------------------------------------------------------ cpu context
# cpu_snap -> the per-CPU lines of /proc/stat
cpu_snap() { grep -E '^cpu[0-9]+ ' /proc/stat; }
# cpu_report BEFORE AFTER -> per cpu busy% and steal% over the interval
cpu_report() {
    python3 - "$1" "$2" <<'EOF'
import sys
def parse(s):
    d = {}
    for line in s.strip().splitlines():
        f = line.split()
        d[f[0]] = [int(x) for x in f[1:]]
    return d
a, b = parse(sys.argv[1]), parse(sys.argv[2])
out = []
for cpu in sorted(a):
    delta = [y - x for x, y in zip(a[cpu], b[cpu])]
    tot = sum(delta[:8]) or 1
    idle = delta[3] + delta[4]
    steal = delta[7]
    out.append("%s busy %.0f%% steal %.1f%%" % (cpu, 100.0 * (tot - idle - steal) / tot, 100.0 * steal / tot))
print("cpu: " + ", ".join(out))
EOF
}

# --------------------------------------------- foreign (not ours) CPU load
# Nothing is isolated on the 2-vCPU box: other processes preempt the
# forwarding thread on CPU 1, and even load on CPU 0 slows it (anchors saw
# 127 -> 87 Mpps during someone else's compile). Every run therefore measures
# the CPU time used by processes that are NOT part of the benchmark during its
# measurement interval; runs above FOREIGN_MAX are "noisy" and repeated.
# jiff_snap PID... -> "<uptime_s> <total busy jiffies> <busy jiffies of PIDs>"
jiff_snap() {
    local mine=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        mine=$((mine + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$(cut -d' ' -f1 /proc/uptime) $(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat) $mine"
}
# foreign_pct "SNAP0" "SNAP1" -> % of ONE core used by others in between
foreign_pct() {
    python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'EOF'
import sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
hz = float(sys.argv[3])
dt = (b[0] - a[0]) or 1e-9
other = ((b[1] - a[1]) - (b[2] - a[2])) / hz
print("%.1f" % max(0.0, 100.0 * other / dt))
EOF
}
# is_quiet FOREIGN_PCT -> success if at most FOREIGN_MAX
is_quiet() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$FOREIGN_MAX"; }

# --------------------------------------------------------------- processes
# alive PID -> success while PID exists and is not a zombie
alive() {
    local st
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}
# stop_pid PID SIGNAL TIMEOUT_S : sends SIGNAL to PID, waits up to TIMEOUT_S
# for it to end, then SIGKILL (+ up to 5 s). Sets STOP_STATUS to the exit
# status when PID is a child of this shell, "killed" if SIGKILL was needed,
# "-" if unknown (not our child). Call it directly, not inside $(...): a
# subshell cannot collect the status of its parent's child.
STOP_STATUS=-
stop_pid() {
    local pid="$1" sig="$2" timeout="$3" i killed=0 rc
    STOP_STATUS=-
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        kill "-$sig" "$pid" 2>/dev/null
        for ((i = 0; i < timeout * 5; i++)); do alive "$pid" || break; sleep 0.2; done
        if alive "$pid"; then
            log "pid $pid still running ${timeout}s after SIG$sig: SIGKILL"
            kill -KILL "$pid" 2>/dev/null; killed=1
            for ((i = 0; i < 25; i++)); do alive "$pid" || break; sleep 0.2; done
        fi
    fi
    wait "$pid" 2>/dev/null; rc=$?
    if [ "$killed" = 1 ]; then STOP_STATUS=killed
    elif [ "$rc" != 127 ]; then STOP_STATUS=$rc
    fi
    return 0
}

# ------------------------------------------------------------- pcap files
# ensure_pcap FLOWS [SIZE [macs]] -> path of a pcap with FLOWS flows (generated
# once); with "macs" every flow has its own source MAC, 02:00:01:00:00:00 + i
# (destination 02:00:00:00:00:02 for all, as in the other pcaps)
ensure_pcap() {
    local flows="$1" size="${2:-64}" macs="${3:-}" extra=()
    local f="$WORK/flows${flows}_${size}B${macs:+_macs}.pcap"
    [ -z "$macs" ] || extra=(--vary-src-mac --src-mac 02:00:01:00:00:00)
    if [ ! -s "$f" ]; then
        python3 "$BENCHES/gen_pcap.py" --flows "$flows" --size "$size" "${extra[@]}" --out "$f.tmp" >&2 ||
            die "pcap generation failed"
        mv "$f.tmp" "$f" || die "mv $f.tmp $f"
    fi
    echo "$f"
}

# ensure_vxlan_pcap FLOWS VNI -> path of a pcap of the FLOWS-flow 64 B frames,
# each inside VXLAN (VNI) as the VTEP 172.31.1.2 (02:00:00:00:aa:02) sends it
# to 172.31.1.1 (02:00:00:00:aa:01): gen_pcap.py --vxlan, 114 B frames
ensure_vxlan_pcap() {
    local flows="$1" vni="$2"
    local f="$WORK/vxlan${vni}_flows${flows}_64B.pcap"
    if [ ! -s "$f" ]; then
        python3 "$BENCHES/gen_pcap.py" --flows "$flows" --vxlan "$vni" --out "$f.tmp" >&2 ||
            die "pcap generation failed"
        mv "$f.tmp" "$f" || die "mv $f.tmp $f"
    fi
    echo "$f"
}

# ----------------------------------------------------------------- DPDK
# dpdk_cleanup PREFIX : remove hugepage files / runtime dir a (dead) DPDK
# process with this --file-prefix may have left behind.
dpdk_cleanup() {
    local p="$1"
    [ -n "$p" ] || return 0
    rm -f /dev/hugepages/"${p}"map_* /dev/hugepages/"${p}"seg_* 2>/dev/null
    rm -rf /var/run/dpdk/"${p}" 2>/dev/null
    return 0
}

# dpdk_telemetry_socket PREFIX -> the EAL telemetry socket of the process with
# that --file-prefix (created even with --in-memory)
dpdk_telemetry_socket() { echo "/var/run/dpdk/$1/dpdk_telemetry.v2"; }
# ethdev_tx SOCKET PORT -> "<unix time> <opackets of PORT>" via DPDK telemetry
# (/ethdev/stats); the time is the midpoint of the ~0.2 ms query.
ethdev_tx() {
    python3 - "$1" "$2" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
hello = json.loads(s.recv(65536).decode())
t0 = time.time()
s.send(("/ethdev/stats,%s" % sys.argv[2]).encode())
reply = s.recv(max(65536, int(hello.get("max_output_len", 0))))
t1 = time.time()
print("%.6f %d" % ((t0 + t1) / 2, json.loads(reply.decode())["/ethdev/stats"]["opackets"]))
EOF
}

# testpmd_samples LOG PORT -> the Tx-pps samples of PORT printed so far by
# `testpmd --stats-period 1` (on this VM it prints every ~2 s, not every 1 s)
testpmd_samples() {
    awk -v port="$2" '
        /NIC statistics for port/ { p = $(NF-1) }
        $1 == "Tx-pps:" && p == port { print $2 }' "$1"
}
# testpmd_window_mpps LOG PORT N0 N1 -> mean of samples N0+1..N1 in Mpps
testpmd_window_mpps() {
    testpmd_samples "$1" "$2" | sed -n "$(($3 + 1)),$4p" | python3 -c '
import sys
v = [int(x) for x in sys.stdin.read().split()]
print("%.2f" % (sum(v) / len(v) / 1e6) if v else "-")'
}

# --------------------------------------------------------------- OVS-DPDK
# Everything of one OVS run lives in OVSD (db, sockets, logs, pidfiles) and in
# the network namespace OVS_NETNS; ovs_setup_env names them per run.
OVS_VSCTL=() OVS_APPCTL=() OVS_OFCTL=(ovs-ofctl)
ovs_setup_env() {   # DIR NETNS PREFIX
    OVSD="$1" OVS_NETNS="$2" OVS_PREFIX="$3"
    OVS_VSCTL=(ovs-vsctl --db="unix:$OVSD/db.sock" --timeout=60)
    OVS_APPCTL=(ovs-appctl --timeout=30 -t "$OVSD/ovs-vswitchd.ctl")
    OVS_OFCTL=(ovs-ofctl --timeout=30)
    # ovs-ofctl finds br0.mgmt through OVS_RUNDIR
    export OVS_RUNDIR="$OVSD" OVS_LOGDIR="$OVSD" OVS_DBDIR="$OVSD" OVS_SYSCONFDIR="$OVSD"
}

# ovs_start [other_config:k=v ...] : a private ovsdb-server + ovs-vswitchd-dpdk.
#   non-PMD threads: dpdk-lcore-mask=0x1 (CPU 0); one PMD: pmd-cpu-mask=0x2 (CPU 1)
# (OVS builds the EAL args itself and adds --in-memory.)
ovs_start() {
    rm -rf "$OVSD"; mkdir -p "$OVSD"
    ip netns add "$OVS_NETNS" || die "ip netns add $OVS_NETNS"
    ip netns exec "$OVS_NETNS" ip link set lo up
    ovsdb-tool create "$OVSD/conf.db" "$OVS_SCHEMA" || die "ovsdb-tool create"
    ovsdb-server "$OVSD/conf.db" --remote="punix:$OVSD/db.sock" \
        --pidfile="$OVSD/ovsdb-server.pid" --log-file="$OVSD/ovsdb-server.log" \
        --unixctl="$OVSD/ovsdb-server.ctl" --detach --no-chdir || die "ovsdb-server"
    "${OVS_VSCTL[@]}" --no-wait init
    "${OVS_VSCTL[@]}" --no-wait set Open_vSwitch . \
        other_config:dpdk-init=true \
        other_config:dpdk-socket-mem="$SOCKET_MEM" \
        other_config:dpdk-socket-limit="$SOCKET_MEM" \
        other_config:dpdk-lcore-mask=0x1 \
        other_config:pmd-cpu-mask=0x2 \
        other_config:dpdk-extra="--file-prefix=$OVS_PREFIX --no-pci" \
        "$@"
    ip netns exec "$OVS_NETNS" "$OVS_VSWITCHD_DPDK" "unix:$OVSD/db.sock" \
        --pidfile="$OVSD/ovs-vswitchd.pid" --log-file="$OVSD/ovs-vswitchd.log" \
        --unixctl="$OVSD/ovs-vswitchd.ctl" --detach --no-chdir ||
        die "ovs-vswitchd (see $OVSD/ovs-vswitchd.log)"
    local i
    for ((i = 0; i < 60; i++)); do
        [ "$("${OVS_VSCTL[@]}" get Open_vSwitch . dpdk_initialized 2>/dev/null)" = "true" ] && return 0
        sleep 0.5
    done
    die "DPDK not initialised in ovs-vswitchd (see $OVSD/ovs-vswitchd.log)"
}

# ovs_stop : stop our ovs-vswitchd and ovsdb-server (PIDs from their pidfiles:
# `ovs-appctl exit`, then SIGTERM, then SIGKILL, all bounded), drop the netns.
ovs_stop() {
    local d pid ap i
    [ -n "${OVSD:-}" ] || return 0
    for d in ovs-vswitchd ovsdb-server; do
        [ -f "$OVSD/$d.pid" ] || continue
        pid="$(cat "$OVSD/$d.pid" 2>/dev/null)"
        if [ -n "$pid" ] && alive "$pid"; then
            timeout 15 ovs-appctl -t "$OVSD/$d.ctl" exit >/dev/null 2>&1 &
            ap=$!
            for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.2; done
            wait "$ap" 2>/dev/null
            alive "$pid" && stop_pid "$pid" TERM 5
        fi
        rm -f "$OVSD/$d.pid"
    done
    ip netns del "$OVS_NETNS" 2>/dev/null
    dpdk_cleanup "$OVS_PREFIX"
    return 0
}

# ovs_port_tx BRIDGE PORT -> live tx packet counter of PORT. OpenFlow port
# stats come straight from the netdev; `ovs-vsctl get interface X statistics`
# is refreshed only every stats-update-interval (>= 5 s): not usable for rates.
ovs_port_tx() {
    "${OVS_OFCTL[@]}" dump-ports "$1" "$2" 2>/dev/null | tr ',' '\n' |
        awk '/port/ && /rx/ { sec = "rx" } /^ *tx/ { sec = "tx" }
             { gsub(/^ +/, "") }
             sec == "tx" && $0 ~ /pkts=/ { sub(/.*pkts=/, ""); print; exit }'
}

# ovs_pmd_summary FILE -> "pmd: rx=.. recirc=.. passes/pkt=.. cyc/pkt=.. proc-cyc/pkt=.. ..."
# from pmd-stats-show (hits count datapath passes: with recirculation, more than rx)
ovs_pmd_summary() {
    awk '/^pmd thread/ { on = 1; next } /^main thread/ { on = 0 } !on { next }
        /packets received:/ { rx = $3 }
        /packet recirculations:/ { recirc = $3 }
        /avg. datapath passes per packet:/ { passes = $6 }
        /simple match hits:/ { sm = $4 }
        /emc hits:/ { emc = $3 }
        /smc hits:/ { smc = $3 }
        /megaflow hits:/ { mf = $3 }
        /miss with success upcall:/ { miss = $5 }
        /avg cycles per packet:/ { cpp = $5 }
        /avg processing cycles per packet:/ { pcpp = $6 }
        /avg. packets per output batch:/ { batch = $6 }
        END { printf "pmd: rx=%s recirc=%s passes/pkt=%s cyc/pkt=%s proc-cyc/pkt=%s simple=%s emc=%s smc=%s megaflow=%s upcalls=%s pkts/batch=%s\n",
                     rx, recirc, passes, cpp, pcpp, sm, emc, smc, mf, miss, batch }' "$1"
}
# ovs_rev_delta BEFORE AFTER -> "revalidations=N rev_X=N ..." from two `coverage/show`:
# the rounds in which the revalidators had to check every datapath flow
# (rev_flow_table: a flow table changed; rev_mac_learning: the MAC table did;
# rev_reconfigure, rev_port_toggled...) summed, then each that moved.
# OVS's counterpart of our cache_flushes. Coverage totals move about once a second.
ovs_rev_delta() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
def totals(path):
    d = {}
    try:
        for line in open(path):
            m = re.match(r"^(rev_\w+)\s.*total:\s*(\d+)", line)
            if m:
                d[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return d
a, b = totals(sys.argv[1]), totals(sys.argv[2])
delta = {k: b[k] - a.get(k, 0) for k in sorted(b) if b[k] - a.get(k, 0)}
print(" ".join(["revalidations=%d" % sum(delta.values())] + ["%s=%d" % kv for kv in delta.items()]))
EOF
}
# ovs_upcall_summary FILE -> "upcall/show: flows .. dump duration .." (one line)
ovs_upcall_summary() {
    awk '/flows *:/ { sub(/^ +/, ""); f = $0 } /dump duration/ { sub(/^ +/, ""); d = $0 }
         END { printf "upcall/show: %s, %s\n", f, d }' "$1"
}
# ovs_proc_cycles FILE -> "avg processing cycles per packet" of the PMD thread
ovs_proc_cycles() {
    awk '/^pmd thread/ { on = 1 } on && /avg processing cycles per packet:/ { print $6; exit }' "$1"
}
