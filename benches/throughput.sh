#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Side-by-side throughput: our vswitchd vs OVS-DPDK vs dpdk-testpmd (io).
#
#   benches/throughput.sh SCENARIO
#
# One invocation runs, per round, one measurement of each system in SYSTEMS
# (default order: vswitch ovs testpmd, so drift hits all alike), until every
# system has RUNS quiet runs or 3*RUNS rounds have passed. Each measurement is
# a fresh process (set): started, warmed up WARM s, measured INTERVAL s,
# stopped by PID, all while holding flock /tmp/bench.lock.
# Same vdevs for all three; forwarding on CPU 1, main/management on CPU 0.
#
# Scenarios (add a case to scenario_define for more):
#   p2p-1rule  p1 = net_pcap 1-flow 64 B pcap (infinite_rx=1) -> p2 = net_null1,no-rx=1
#              rule in_port=1,actions=output:2
#   p2p-null   p1 = net_null0 (64 B, frame data never written) -> same sink, same rule
#   p2p-normal pcap 1 flow, actions=NORMAL, destination MAC static on p2 (fdb)
#   flows-1k, flows-100k   pcap of N UDP flows, 4 wildcard rules (one megaflow)
#   exact-1k, exact-100k   pcap of N flows, N exact nw_src rules (N megaflows)
# Tunnel scenarios (TOPO=tunnel): two bridges, an overlay br-int and an underlay
# br-phy (VTEP 172.31.1.1/24, MAC 02:00:00:00:aa:01, static neighbour
# 172.31.1.2 -> 02:00:00:00:aa:02, actions=NORMAL) with the dpdk port `phy`:
#   vxlan-encap, geneve-encap, gre-encap   pcap 1 flow 64 B -> br-int p1 (ofport 1),
#              in_port=1,actions=output:2 = the tunnel port (remote_ip
#              172.31.1.2, key 1000) -> br-phy -> phy = net_null1,no-rx=1;
#              the figure is phy's tx rate (114 B frames, GRE 106 B)
#   vxlan-encap-10k (any -Nk / -N)   the same with the N-flow pcap
#   vxlan-decap (-Nk / -N)   pcap of VXLAN frames (gen_pcap.py --vxlan 1000:
#              172.31.1.2 -> 172.31.1.1, UDP 4789, inner = the 64 B pcap) into
#              phy; br-int in_port=2,actions=output:1, p1 = net_null1,no-rx=1;
#              the figure is p1's tx rate (64 B frames)
#
# Environment: RUNS (3) INTERVAL (10 s) WARM (5 s) SYSTEMS ("vswitch ovs testpmd")
#   VSWITCHD VSCTL (target/release/{vswitchd,vsctl}) WORK (/tmp/vswitch-bench)
#   FOREIGN_MAX (15 % of a core) LOCK_WAIT (1800 s) RUN_TIMEOUT (WARM+INTERVAL+120 s)
#   TUNNEL_PHY_RULES (br-phy's rules in the tunnel scenarios, default actions=NORMAL)
#   PERF_RECORD (1: perf profile of vswitchd during the interval, see measure_hook)
#   TESTPMD OVS_VSWITCHD_DPDK SOCKET_MEM (512) BENCH_LOCK (/tmp/bench.lock)
# Output: per-run lines on stderr; per-system min/median/max lines, a
# ratio/cycles line and, as the LAST line:
#   SCENARIO: vswitch X Mpps, ovs-dpdk Y Mpps, testpmd-io Z Mpps, vswitch/ovs R
# Logs of every run (configs, daemon logs, pmd stats): $WORK/logs/<date>-<scenario>/
#
# Sourced by another script (benches/churn.sh) it only defines functions: the
# scenarios (scenario_define_extra adds more), one measurement per system
# (run_vswitch, run_ovs; measure_hook runs the sourcing script's load during
# the measured interval) and the rounds (bench_rounds over "cells").
#
# OVS-DPDK recipe, testpmd invocation and the quiet-run filter are adapted
# from the team's anchor harness (../shared/bench/anchors/, b_ovs.sh,
# a_testpmd.sh, lib.sh).
set -u
BENCHES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCHES")"
# shellcheck source=lib.sh
. "$BENCHES/lib.sh"

RUNS="${RUNS:-3}"
INTERVAL="${INTERVAL:-10}"
WARM="${WARM:-5}"
SYSTEMS="${SYSTEMS:-vswitch ovs testpmd}"
VSWITCHD="${VSWITCHD:-$REPO/target/release/vswitchd}"
VSCTL="${VSCTL:-$REPO/target/release/vsctl}"
RUN_TIMEOUT="${RUN_TIMEOUT:-$((WARM + INTERVAL + 120))}"

# ------------------------------------------------------------- scenarios
# scenario_define SCENARIO sets, for all three systems:
#   SRC_VDEV    devargs of port 1 / p1 (the traffic source, ofport 1)
#   SINK_VDEV   devargs of port 2 / p2 (the TX sink, ofport 2; its tx rate is the figure)
#   RULES_FILE  OpenFlow rules, ovs-ofctl syntax, one per line (vswitchd config
#               `flows`, `ovs-ofctl add-flows`; testpmd ignores them)
#   DESC        one line for the log
#   TOPO        p2p (default: bridge br0, ports p1 p2) or tunnel (br-int + br-phy,
#               see above; then TUN_TYPE vxlan|geneve|gre and TUN_DIR encap|decap,
#               RULES_FILE is br-int's rules, PHY_RULES_FILE br-phy's, SRC_VDEV
#               and SINK_VDEV go to p1 and phy (encap) or phy and p1 (decap))
#   OUT_BRIDGE, OUT_PORT   whose tx counter is the figure (br0 p2; tunnel: set)
# and may set OVS_OTHER_CONFIG (extra other_config:k=v at OVS start),
# EXTRA_PORTS (more ports, "NAME:OFPORT:DEVARGS" each: vswitchd config and OVS
# add-port between p2 and p1; testpmd ignores them), OVS_PORT_OPTIONS[NAME]
# (more Interface columns for OVS's add-port of NAME, e.g. options:n_rxq=2),
# VSWITCH_BRIDGE_KEYS (more "key = value" lines for vswitchd's [[bridge]]) or redefine
# ovs_scenario_setup (runs after the rules, before the source port).
# Generated inputs are cached in $WORK. Names this function does not know go
# to scenario_define_extra (a script sourcing this one may define it).
# Returns 1 for an unknown scenario.
OVS_OTHER_CONFIG=() EXTRA_PORTS=() VSWITCH_BRIDGE_KEYS=()
declare -A OVS_PORT_OPTIONS=()
ovs_scenario_setup() { :; }
scenario_define_extra() { return 1; }
scenario_define() {
    SINK_VDEV="net_null1,no-rx=1" TOPO=p2p OUT_BRIDGE=br0 OUT_PORT=p2
    case "$1" in
        p2p-1rule)
            DESC="p2p, pcap 1 flow 64 B -> net_null sink, in_port=1,actions=output:2"
            SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap 1),infinite_rx=1"
            RULES_FILE=$(write_rules p2p "in_port=1,actions=output:2") ;;
        p2p-null)
            DESC="p2p, net_null source (zeroed frames) -> net_null sink, in_port=1,actions=output:2"
            SRC_VDEV="net_null0"
            RULES_FILE=$(write_rules p2p "in_port=1,actions=output:2") ;;
        p2p-normal)
            DESC="p2p, pcap 1 flow -> net_null sink, actions=NORMAL, destination MAC static on p2"
            SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap 1),infinite_rx=1"
            RULES_FILE=$(write_rules normal "actions=NORMAL")
            # p2 never receives, so NORMAL could not learn the destination:
            # a static entry, in both switches.
            vswitch_scenario_setup() { vsctl fdb-add br0 p2 0 02:00:00:00:00:02 >/dev/null; }
            ovs_scenario_setup() { "${OVS_APPCTL[@]}" fdb/add br0 p2 0 02:00:00:00:00:02 >/dev/null; } ;;
        flows-*)
            local n="${1#flows-}"; n="${n/k/000}"
            DESC="p2p, pcap $n UDP flows -> net_null sink, 4 wildcard rules (one megaflow)"
            SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap "$n"),infinite_rx=1"
            RULES_FILE=$(write_rules flows \
                "priority=100,udp,in_port=1,nw_dst=10.128.0.0/9,tp_dst=5001,actions=output:2" \
                "priority=50,ip,nw_src=192.168.0.0/16,actions=drop" \
                "priority=40,tcp,actions=drop" \
                "priority=0,actions=drop") ;;
        exact-*)
            local n="${1#exact-}"; n="${n/k/000}"
            DESC="p2p, pcap $n UDP flows -> net_null sink, $n exact nw_src rules (one megaflow per flow)"
            SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap "$n"),infinite_rx=1"
            RULES_FILE="$WORK/rules-exact-$n.txt"
            [ -s "$RULES_FILE" ] || python3 - "$n" > "$RULES_FILE" <<'PYRULES'
import sys
n = int(sys.argv[1])
for i in range(n):
    a = (10 << 24) + 1 + i       # the source IP of gen_pcap.py's flow i
    print("priority=100,udp,in_port=1,nw_src=%d.%d.%d.%d,actions=output:2" % (
        a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255))
print("priority=0,actions=drop")
PYRULES
            # OVS grows its datapath flow limit by 1000 per revalidation
            # round: faster rounds so it reaches N flows in the warm-up (the
            # anchors' recipe), and a warm-up long enough for it.
            OVS_OTHER_CONFIG=(other_config:max-revalidator=100)
            if [ "$n" -ge 10000 ]; then WARM=$((WARM > 30 ? WARM : 30)); fi ;;
        vxlan-encap|vxlan-encap-*|geneve-encap|geneve-encap-*|gre-encap|gre-encap-*|vxlan-decap|vxlan-decap-*)
            local n=1 rest="${1#*-}"
            TOPO=tunnel TUN_TYPE="${1%%-*}" TUN_DIR="${rest%%-*}"
            if [ "$rest" != "$TUN_DIR" ]; then n="${rest#*-}"; n="${n/k/000}"; fi
            case "$n" in ''|*[!0-9]*) return 1 ;; esac
            # TUNNEL_PHY_RULES: other br-phy rules, one per line (an experiment:
            # what the underlay's table does to tunnel traffic)
            PHY_RULES_FILE=$(write_rules "tunnel-phy-$(md5sum <<< "${TUNNEL_PHY_RULES:-}" | cut -c1-8)" \
                "${TUNNEL_PHY_RULES:-actions=NORMAL}")
            if [ "$TUN_DIR" = encap ]; then
                DESC="$TUN_TYPE encap, pcap $n flow(s) 64 B -> br-int p1, in_port=1,actions=output:2 ($TUN_TYPE port, remote 172.31.1.2, key 1000) -> br-phy NORMAL -> phy = net_null sink"
                SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap "$n"),infinite_rx=1"
                RULES_FILE=$(write_rules tunnel-encap "in_port=1,actions=output:2")
                OUT_BRIDGE=br-phy OUT_PORT=phy
            else
                DESC="$TUN_TYPE decap, pcap $n flow(s) of 114 B VXLAN frames (VNI 1000, 172.31.1.2 -> 172.31.1.1) -> br-phy phy, NORMAL -> $TUN_TYPE port -> br-int in_port=2,actions=output:1 -> p1 = net_null sink"
                SRC_VDEV="net_pcap0,rx_pcap=$(ensure_vxlan_pcap "$n" 1000),infinite_rx=1"
                RULES_FILE=$(write_rules tunnel-decap "in_port=2,actions=output:1")
                OUT_BRIDGE=br-int OUT_PORT=p1
            fi ;;
        *) scenario_define_extra "$1" || return 1 ;;
    esac
}
# vswitch_scenario_setup runs once vswitchd answers, before the warm-up.
vswitch_scenario_setup() { :; }
# write_rules NAME RULE... -> path of $WORK/rules-NAME.txt holding the rules
write_rules() {
    local f="$WORK/rules-$1.txt"; shift
    printf '%s\n' "$@" > "$f"
    echo "$f"
}

# --------------------------------------------------------- one measurement
# Each run_<system> TAG runs as its own process under the lock and prints
#   RESULT <Mpps> <foreign %> <cycles/pkt|-> <pkts/burst|-> <details...>
# Logs go to $LOGDIR/TAG.*

# toml_string TEXT -> TEXT as a TOML basic string
toml_string() {
    local s="${1//\\/\\\\}"
    printf '"%s"' "${s//\"/\\\"}"
}

# toml_flows FILE -> `flows = [...]`: the rules of FILE, one TOML string each
toml_flows() {
    echo 'flows = ['
    # one TOML string per rule (escape \ and "), trailing commas are valid TOML
    sed -e '/^[[:space:]]*$/d' -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/",/' "$1"
    echo ']'
}
# toml_dpdk_port NAME OFPORT DEVARGS -> a [[bridge.port]] of type dpdk
toml_dpdk_port() {
    printf '\n[[bridge.port]]\nname = %s\ntype = "dpdk"\ndevargs = %s\nofport = %s\n' \
        "$(toml_string "$1")" "$(toml_string "$3")" "$2"
}

# vswitch_tunnel_bridges -> the [[bridge]]s of TOPO=tunnel: the underlay
# br-phy (the VTEP: its own MAC and address, a static neighbour, NORMAL, the
# dpdk port phy) and the overlay br-int (p1 and the tunnel port, ofport 2).
# Encap: p1 = SRC_VDEV, phy = SINK_VDEV; decap: the other way round.
vswitch_tunnel_bridges() {
    local p1="$SRC_VDEV" phy="$SINK_VDEV"
    [ "$TUN_DIR" = encap ] || { p1="$SINK_VDEV" phy="$SRC_VDEV"; }
    cat <<EOF

[[bridge]]
name = "br-phy"
mac = "02:00:00:00:aa:01"
addresses = ["172.31.1.1/24"]
neighbours = [{ ip = "172.31.1.2", mac = "02:00:00:00:aa:02" }]
EOF
    toml_flows "$PHY_RULES_FILE"
    toml_dpdk_port phy 1 "$phy"
    printf '\n[[bridge]]\nname = "br-int"\n'
    toml_flows "$RULES_FILE"
    toml_dpdk_port p1 1 "$p1"
    cat <<EOF

[[bridge.port]]
name = "${TUN_TYPE}0"
type = "$TUN_TYPE"
ofport = 2
options = { remote_ip = "172.31.1.2", key = "1000" }
EOF
}

# vswitch_config PREFIX SOCKET -> TOML config of the scenario's bridges
# (docs/configuration.md): TOPO=p2p br0 with p1, p2 (and EXTRA_PORTS), or
# TOPO=tunnel (vswitch_tunnel_bridges)
vswitch_config() {
    local prefix="$1" sock="$2"
    cat <<EOF
[dpdk]
main_core = 0
memory_mb = $SOCKET_MEM
file_prefix = $(toml_string "$prefix")
no_pci = true
# net_pcap with infinite_rx keeps every frame of the pcap in an mbuf: room
# for the 100k-flow pcaps plus the rings (OVS sizes its pools likewise).
mbufs = 147456

[pmd]
cores = [1]
idle_sleep_max_us = 0

[control]
socket = $(toml_string "$sock")
EOF
    if [ "$TOPO" = tunnel ]; then vswitch_tunnel_bridges; return; fi
    printf '\n[[bridge]]\nname = "br0"\n'
    [ ${#VSWITCH_BRIDGE_KEYS[@]} -eq 0 ] || printf '%s\n' "${VSWITCH_BRIDGE_KEYS[@]}"
    toml_flows "$RULES_FILE"
    toml_dpdk_port p1 1 "$SRC_VDEV"
    toml_dpdk_port p2 2 "$SINK_VDEV"
    local e rest
    for e in "${EXTRA_PORTS[@]}"; do
        rest="${e#*:}"
        toml_dpdk_port "${e%%:*}" "${rest%%:*}" "${rest#*:}"
    done
}

# `vsctl --json` prints the `result` of the daemon's reply (control/protocol.rs
# Reply); VS_RESULT_PY defines result(path) -> that object, and also unwraps a
# full {"ok":..,"error":..,"result":..} envelope (ok=false exits with the error).
VS_RESULT_PY='
import json, sys
def result(path):
    with open(path) as fh:
        o = json.load(fh)
    if isinstance(o, dict) and "ok" in o:
        if not o["ok"]:
            sys.exit("vsctl error: %s" % o.get("error"))
        o = o.get("result")
    return o
'
# vs_tx_packets FILE PORT -> tx_packets of PORT in a port-stats reply
vs_tx_packets() {
    python3 -c "$VS_RESULT_PY"'
ports = result(sys.argv[1])["ports"]
named = [p for p in ports if p.get("name") == sys.argv[2]]
print(int((named or ports)[0]["tx_packets"]))' "$1" "$2"
}
# vs_pmd_delta BEFORE AFTER -> "<cycles/pkt> <pkts/burst> pmd: ..." over all PMDs
# (deltas of two snapshots around the interval)
vs_pmd_delta() {
    python3 -c "$VS_RESULT_PY"'
keys = ("packets", "bursts", "busy_cycles", "idle_cycles", "iterations", "sleeps",
        "repeat_hits", "emc_hits", "megaflow_hits", "upcalls", "cache_flushes", "megaflows",
        # builds with targeted revalidation (issue 13) only; 0 in older replies
        "revalidations", "megaflows_revalidated", "megaflows_invalidated")
def totals(path):
    r = result(path)
    return {k: sum(int(p.get(k, 0)) for p in r["pmds"]) for k in keys}, r.get("tsc_hz", "?")
(a, _), (b, hz) = totals(sys.argv[1]), totals(sys.argv[2])
d = {k: b[k] - a[k] for k in keys}
cpp = "%.1f" % (d["busy_cycles"] / d["packets"]) if d["packets"] > 0 else "-"
ppb = "%.1f" % (d["packets"] / d["bursts"]) if d["bursts"] > 0 else "-"
cyc = d["busy_cycles"] + d["idle_cycles"]
busy = "%.1f" % (100.0 * d["busy_cycles"] / cyc) if cyc > 0 else "-"
share = lambda k: "%.1f%%" % (100.0 * d[k] / d["packets"]) if d["packets"] > 0 else "-"
reval = ""
pmds = result(sys.argv[2])["pmds"]
if any("revalidations" in p for p in pmds):
    reval = " revalidations=%d megaflows_revalidated=%d megaflows_invalidated=%d version_switch_max_cycles=%d (since start)" % (
        d["revalidations"], d["megaflows_revalidated"], d["megaflows_invalidated"],
        max(int(p.get("version_switch_max_cycles", 0)) for p in pmds))
print("%s %s pmd: packets=%d bursts=%d iterations=%d sleeps=%d busy=%s%% tsc_hz=%s hits: repeat=%s emc=%s megaflow=%s upcall=%s; cache_flushes=%d upcalls=%d%s megaflows=%d (after)" % (
    cpp, ppb, d["packets"], d["bursts"], d["iterations"], d["sleeps"], busy, hz,
    share("repeat_hits"), share("emc_hits"), share("megaflow_hits"), share("upcalls"),
    d["cache_flushes"], d["upcalls"], reval, b["megaflows"]))' "$1" "$2"
}
# vs_port_summary FILE -> "p1 rx=.. missed=.. tx=.. (B/pkt) drops={..}; p2 ..." from port-stats
vs_port_summary() {
    python3 -c "$VS_RESULT_PY"'
out = []
for p in result(sys.argv[1])["ports"]:
    drops = {k: v for k, v in (p.get("drops") or {}).items() if v}
    # bytes per frame sent (net_null counts no bytes: nothing then)
    size = " (%.0f B)" % (int(p["tx_bytes"]) / int(p["tx_packets"])) if int(p.get("tx_packets") or 0) and int(p.get("tx_bytes") or 0) else ""
    # .get: a port type may lack a counter (tunnel ports have no rx queue)
    out.append("%s rx=%s missed=%s tx=%s%s tx_err=%s drops=%s" % (p.get("name"), p.get("rx_packets", "-"),
               p.get("rx_missed", "-"), p.get("tx_packets", "-"), size, p.get("tx_errors", "-"), drops or "{}"))
print("; ".join(out))' "$1"
}

# measure_hook PHASE SYSTEM: what a sourcing script (churn.sh) does around the
# measured interval of run_vswitch / run_ovs; the default does nothing.
#   start    after the warm-up, before the interval's first counter reads
#            (start a load generator; its PIDs go into HOOK_PIDS: their CPU
#            time is the benchmark's, not foreign load)
#   mark     right after the first counter read and right before the last one
#   stop     after the last counter read; may set HOOK_FIGS ("key=value ...",
#            reported per run and as medians) and HOOK_NOTE (for the run's line)
#   cleanup  from the run's EXIT trap (stop whatever is still running)
# The process of the system under test is still running in every phase but
# cleanup: VS_DIR / OVSD (where its sockets are), VS_PID, OVS_NETNS.
# The default hook: with PERF_RECORD=1, a flat `perf record` profile of
# vswitchd over the interval (PERF_FREQ samples/s, 999): TAG.perf.data and
# the symbols above 1 % in TAG.perf.txt, the top 5 in the run's line.
# perf's CPU time counts as the benchmark's. A diagnostic: the figure of
# such a run is not comparable (sampling costs a little).
PERF_PID=""
measure_hook() {
    [ -n "${PERF_RECORD:-}" ] && [ "$2" = vswitch ] || return 0
    case "$1" in
        start)
            perf record -F "${PERF_FREQ:-999}" -p "$VS_PID" -o "$LOGDIR/$TAG.perf.data" \
                < /dev/null > "$LOGDIR/$TAG.perf.log" 2>&1 &
            PERF_PID=$!
            HOOK_PIDS+=("$PERF_PID")
            sleep 0.5 ;;
        stop)
            stop_pid "$PERF_PID" INT 10; PERF_PID=""
            perf report -i "$LOGDIR/$TAG.perf.data" --stdio --sort dso,symbol --percent-limit 1 \
                > "$LOGDIR/$TAG.perf.txt" 2>&1
            HOOK_NOTE="perf top: $(awk '/^ +[0-9.]+%/ && n < 5 { pct = $1; $1 = $2 = $3 = ""; sub(/^ +/, "")
                    sub(/[ -]+$/, ""); printf "%s%s %s", sep, pct, substr($0, 1, 90); sep = " | "; n++ }' "$LOGDIR/$TAG.perf.txt")" ;;
        cleanup)
            [ -z "$PERF_PID" ] || stop_pid "$PERF_PID" INT 5 ;;
    esac
}
HOOK_PIDS=() HOOK_FIGS="" HOOK_NOTE=""
# measured_sleep : the interval itself, between the two marks
measured_sleep() {
    measure_hook mark "$1"
    sleep "$INTERVAL"
    measure_hook mark "$1"
}

# State of the run in progress, global so the EXIT traps can clean up.
TAG="" VS_DIR="" VS_SOCK="" VS_PREFIX="" VS_PID="" TP_PREFIX="" TP_PID=""

vsctl() { timeout 10 "$VSCTL" --socket "$VS_SOCK" --json "$@"; }
# binary_id FILE -> "md5:<12 hex> <mtime>": which build a run used
binary_id() { echo "md5:$(md5sum < "$1" | cut -c1-12) $(date -r "$1" +%FT%T)"; }
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup_vswitch() {
    measure_hook cleanup vswitch
    [ -z "$VS_PID" ] || stop_pid "$VS_PID" TERM 15
    [ -z "$VS_DIR" ] || rm -rf "$VS_DIR"
    dpdk_cleanup "$VS_PREFIX"
}
run_vswitch() {
    local cfg logf i t0 t1 t2 t3 s0 s1 j0 j1 c0 c1 mpps f pmd ports exit_note figs build b
    [ -x "$VSWITCHD" ] || die "no vswitchd at $VSWITCHD (build it, or set VSWITCHD)"
    [ -x "$VSCTL" ] || die "no vsctl at $VSCTL (build it, or set VSCTL)"
    build=$(binary_id "$VSWITCHD")    # builds may be replaced between runs
    trap cleanup_vswitch EXIT
    VS_DIR=$(mktemp -d "$WORK/vs.XXXXXX") || die "mktemp"
    cfg="$VS_DIR/vswitchd.toml" VS_SOCK="$VS_DIR/vswitchd.sock" logf="$LOGDIR/$TAG.vswitchd.log"
    VS_PREFIX="vswb_vs$$"
    vswitch_config "$VS_PREFIX" "$VS_SOCK" > "$cfg"
    cp "$cfg" "$LOGDIR/$TAG.vswitchd.toml"
    "$VSWITCHD" --check-config "$cfg" > "$LOGDIR/$TAG.check-config" 2>&1 ||
        die "vswitchd --check-config rejected $LOGDIR/$TAG.vswitchd.toml: $(head -c 500 "$LOGDIR/$TAG.check-config")"
    "$VSWITCHD" --config "$cfg" < /dev/null > "$logf" 2>&1 &
    VS_PID=$!
    for ((i = 0; i < 120; i++)); do
        alive "$VS_PID" || break
        vsctl show > "$LOGDIR/$TAG.show.json" 2>&1 && break
        sleep 0.25
    done
    if ! alive "$VS_PID"; then
        stop_pid "$VS_PID" TERM 1; VS_PID=
        die "vswitchd exited during start-up (status $STOP_STATUS); log $logf: $(tail -5 "$logf")"
    fi
    vsctl show > "$LOGDIR/$TAG.show.json" 2>&1 ||
        die "vswitchd not answering on $VS_SOCK after 30 s; log $logf: $(tail -5 "$logf")"
    vswitch_scenario_setup || die "scenario setup failed"
    sleep "$WARM"
    alive "$VS_PID" || die "vswitchd died during warm-up; log $logf: $(tail -5 "$logf")"

    measure_hook start vswitch
    # No pmd-stats-clear: a PMD applies it at its next iteration but publishes
    # its counters only every 256 busy iterations (tens of ms when upcalls are
    # heavy), so a snapshot taken right after it could still hold the old
    # values; the figures are deltas of two snapshots.
    vsctl pmd-stats > "$LOGDIR/$TAG.pmd-before.json" 2>&1 || log "pmd-stats failed"
    t0=$(now); vsctl port-stats "$OUT_PORT" > "$LOGDIR/$TAG.$OUT_PORT-start.json" 2>&1; t1=$(now)
    s0="$(cpu_snap)"; j0="$(jiff_snap "$VS_PID" "${HOOK_PIDS[@]}")"
    measured_sleep vswitch
    s1="$(cpu_snap)"; j1="$(jiff_snap "$VS_PID" "${HOOK_PIDS[@]}")"
    t2=$(now); vsctl port-stats "$OUT_PORT" > "$LOGDIR/$TAG.$OUT_PORT-end.json" 2>&1; t3=$(now)
    vsctl pmd-stats > "$LOGDIR/$TAG.pmd-after.json" 2>&1 || log "pmd-stats failed"
    vsctl port-stats > "$LOGDIR/$TAG.ports.json" 2>&1
    vsctl pmd-rxq-show > "$LOGDIR/$TAG.rxq.json" 2>&1
    if [ "$TOPO" = tunnel ]; then
        # which rules the packets hit on each bridge (the counters say whether
        # they crossed from one bridge to the other)
        for b in br-int br-phy; do
            echo "== $b"; timeout 10 "$VSCTL" --socket "$VS_SOCK" dump-flows "$b" 2>&1
        done > "$LOGDIR/$TAG.dump-flows" 2>&1
    fi
    measure_hook stop vswitch

    stop_pid "$VS_PID" TERM 15; VS_PID=
    exit_note="vswitchd $build exit status $STOP_STATUS"
    if [ "$STOP_STATUS" != 0 ]; then
        exit_note="WARNING: $exit_note (log $logf)"; log "$exit_note"
    fi
    c0=$(vs_tx_packets "$LOGDIR/$TAG.$OUT_PORT-start.json" "$OUT_PORT") ||
        die "bad port-stats reply: $(head -c 300 "$LOGDIR/$TAG.$OUT_PORT-start.json")"
    c1=$(vs_tx_packets "$LOGDIR/$TAG.$OUT_PORT-end.json" "$OUT_PORT") ||
        die "bad port-stats reply: $(head -c 300 "$LOGDIR/$TAG.$OUT_PORT-end.json")"
    mpps=$(rate "$c0" "$c1" "$(midpoint "$t0" "$t1")" "$(midpoint "$t2" "$t3")")
    f=$(foreign_pct "$j0" "$j1")
    pmd=$(vs_pmd_delta "$LOGDIR/$TAG.pmd-before.json" "$LOGDIR/$TAG.pmd-after.json" 2>&1) ||
        pmd="- - pmd-stats unusable (${pmd:0:200})"
    ports=$(vs_port_summary "$LOGDIR/$TAG.ports.json" 2>&1) || ports="port-stats unusable (${ports:0:200})"
    # the interval's cache flushes and upcalls (the figures table changes move)
    figs=$(grep -o -E '(cache_flushes|upcalls|revalidations|megaflows_invalidated)=[0-9]+' <<< "$pmd" | tr '\n' ' ')
    echo "FIGS ${figs}${HOOK_FIGS}"
    echo "RESULT $mpps $f $pmd; $ports;${HOOK_NOTE:+ $HOOK_NOTE;} $exit_note; $(cpu_report "$s0" "$s1")"
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup_ovs() {
    local d
    measure_hook cleanup ovs
    for d in ovs-vswitchd ovsdb-server; do
        [ -f "$OVSD/$d.log" ] && cp "$OVSD/$d.log" "$LOGDIR/$TAG.$d.log"
    done
    ovs_stop
    rm -rf "$OVSD"
}
# ovs_topology_p2p : br0 with p2 (sink), EXTRA_PORTS, the rules, then p1 (source).
# Sink and rules BEFORE the source port: flow_mods while traffic flows
# trigger revalidations (anchors: 100k rules took ~3 min that way).
ovs_topology_p2p() {
    local e rest
    "${OVS_VSCTL[@]}" add-br br0 -- set bridge br0 datapath_type=netdev || die "add-br"
    "${OVS_OFCTL[@]}" del-flows br0
    "${OVS_VSCTL[@]}" add-port br0 p2 -- set Interface p2 type=dpdk \
        "options:dpdk-devargs=\"$SINK_VDEV\"" ofport_request=2 || die "add-port p2"
    for e in "${EXTRA_PORTS[@]}"; do
        rest="${e#*:}"
        # shellcheck disable=SC2086  # OVS_PORT_OPTIONS: a list of columns
        "${OVS_VSCTL[@]}" add-port br0 "${e%%:*}" -- set Interface "${e%%:*}" type=dpdk \
            "options:dpdk-devargs=\"${rest#*:}\"" ofport_request="${rest%%:*}" \
            ${OVS_PORT_OPTIONS[${e%%:*}]:-} || die "add-port ${e%%:*}"
    done
    "${OVS_OFCTL[@]}" add-flows br0 "$RULES_FILE" || die "add-flows"
    ovs_scenario_setup
    "${OVS_VSCTL[@]}" add-port br0 p1 -- set Interface p1 type=dpdk \
        "options:dpdk-devargs=\"$SRC_VDEV\"" ofport_request=1 || die "add-port p1"
}
# ovs_topology_tunnel : OVS native tunnelling as in the anchors (b_ovs.sh
# vxlan): the VTEP 172.31.1.1/24 is the address of br-phy's tap (LOCAL port),
# inside OVS's private netns; route and neighbour of 172.31.1.2 are set by
# hand (ovs/route/add, tnl/arp/set; OVS 3.1 has no tnl/route/add). br-phy:
# NORMAL, MAC 02:00:00:00:aa:01, dpdk port phy (ofport 1); br-int: p1
# (ofport 1) and the tunnel port TUN_TYPE0 (ofport 2, remote_ip 172.31.1.2,
# key 1000). Encap: p1 is the source, phy the sink; decap: the other way
# round (the frames to 172.31.1.1:4789 that NORMAL outputs to LOCAL become
# tnl_pop + recirculation). Sink, rules, source: in that order, as for p2p.
ovs_topology_tunnel() {
    local p1="$SRC_VDEV" phy="$SINK_VDEV" tun="${TUN_TYPE}0"
    [ "$TUN_DIR" = encap ] || { p1="$SINK_VDEV" phy="$SRC_VDEV"; }
    "${OVS_VSCTL[@]}" add-br br-phy -- set bridge br-phy datapath_type=netdev \
        other_config:hwaddr=02:00:00:00:aa:01 || die "add-br br-phy"
    "${OVS_OFCTL[@]}" del-flows br-phy
    "${OVS_OFCTL[@]}" add-flows br-phy "$PHY_RULES_FILE" || die "add-flows br-phy"
    "${OVS_VSCTL[@]}" add-br br-int -- set bridge br-int datapath_type=netdev || die "add-br br-int"
    "${OVS_OFCTL[@]}" del-flows br-int
    "${OVS_VSCTL[@]}" add-port br-int "$tun" -- set Interface "$tun" type="$TUN_TYPE" \
        options:remote_ip=172.31.1.2 options:key=1000 ofport_request=2 || die "add-port $tun"
    ip netns exec "$OVS_NETNS" ip addr add 172.31.1.1/24 dev br-phy || die "ip addr add (br-phy)"
    # no IPv6 on the tap: its router solicitations would go out of phy (NORMAL)
    ip netns exec "$OVS_NETNS" sysctl -qw net.ipv6.conf.br-phy.disable_ipv6=1
    # nor on interfaces made later in the netns (a net_tap port's kernel side)
    ip netns exec "$OVS_NETNS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$OVS_NETNS" ip link set br-phy up || die "ip link set br-phy up"
    "${OVS_APPCTL[@]}" ovs/route/add 172.31.1.2/32 br-phy > /dev/null || die "ovs/route/add"
    "${OVS_APPCTL[@]}" tnl/arp/set br-phy 172.31.1.2 02:00:00:00:aa:02 > /dev/null || die "tnl/arp/set"
    "${OVS_OFCTL[@]}" add-flows br-int "$RULES_FILE" || die "add-flows br-int"
    if [ "$TUN_DIR" = encap ]; then
        # shellcheck disable=SC2086  # OVS_PORT_OPTIONS: a list of columns
        "${OVS_VSCTL[@]}" add-port br-phy phy -- set Interface phy type=dpdk \
            "options:dpdk-devargs=\"$phy\"" ofport_request=1 ${OVS_PORT_OPTIONS[phy]:-} || die "add-port phy"
    fi
    # shellcheck disable=SC2086
    "${OVS_VSCTL[@]}" add-port br-int p1 -- set Interface p1 type=dpdk \
        "options:dpdk-devargs=\"$p1\"" ofport_request=1 ${OVS_PORT_OPTIONS[p1]:-} || die "add-port p1"
    if [ "$TUN_DIR" != encap ]; then
        # shellcheck disable=SC2086  # OVS_PORT_OPTIONS: a list of columns
        "${OVS_VSCTL[@]}" add-port br-phy phy -- set Interface phy type=dpdk \
            "options:dpdk-devargs=\"$phy\"" ofport_request=1 ${OVS_PORT_OPTIONS[phy]:-} || die "add-port phy"
    fi
}
# ovs_tunnel_check DPFLOWS -> "tunnel: ..." the datapath flows that carry
# tnl_push (encap) or tnl_pop (decap), and the tunnel state; fails (and the
# run with it) when the datapath does not do what the scenario measures
ovs_tunnel_check() {
    local want=tnl_push n c
    [ "$TUN_DIR" = encap ] || want=tnl_pop
    {
        for c in tnl/ports/show tnl/neigh/show ovs/route/show; do
            echo "== $c"; "${OVS_APPCTL[@]}" $c 2>&1
        done
    } > "$LOGDIR/$TAG.tnl-state"
    n=$(grep -c "$want(" "$1")
    [ "$n" -gt 0 ] || die "OVS datapath flows have no $want (see $1): it does not ${TUN_DIR}sulate"
    echo "tunnel: $n datapath flow(s) with $want: $(grep -m1 -o -E "$want\((tnl_port\([^)]*\),header\(size=[0-9]+,type=[0-9]+|[^)]*\))" "$1")"
}
run_ovs() {
    local v c0 c1 t0 t1 t2 t3 s0 s1 j0 j1 f cpp upcalls tnote="" pids=()
    ovs_setup_env "$WORK/ovs.$$" "vswb-ovs-$$" "vswb_ovs$$"
    trap cleanup_ovs EXIT
    ovs_start "${OVS_OTHER_CONFIG[@]}"
    "ovs_topology_$TOPO"
    sleep "$WARM"

    measure_hook start ovs
    "${OVS_APPCTL[@]}" dpif-netdev/pmd-stats-clear > /dev/null
    "${OVS_APPCTL[@]}" coverage/show > "$LOGDIR/$TAG.coverage-before" 2>&1
    read -r -d '' -a pids < <(cat "$OVSD/ovs-vswitchd.pid" "$OVSD/ovsdb-server.pid" 2>/dev/null)
    t0=$(now); c0=$(ovs_port_tx "$OUT_BRIDGE" "$OUT_PORT"); t1=$(now)
    s0="$(cpu_snap)"; j0="$(jiff_snap "${pids[@]}" "${HOOK_PIDS[@]}")"
    measured_sleep ovs
    s1="$(cpu_snap)"; j1="$(jiff_snap "${pids[@]}" "${HOOK_PIDS[@]}")"
    t2=$(now); c1=$(ovs_port_tx "$OUT_BRIDGE" "$OUT_PORT"); t3=$(now)
    "${OVS_APPCTL[@]}" dpif-netdev/pmd-stats-show > "$LOGDIR/$TAG.pmd-stats" 2>&1
    "${OVS_APPCTL[@]}" coverage/show > "$LOGDIR/$TAG.coverage-after" 2>&1
    "${OVS_APPCTL[@]}" upcall/show > "$LOGDIR/$TAG.upcall-show" 2>&1
    measure_hook stop ovs
    "${OVS_APPCTL[@]}" dpif-netdev/pmd-perf-show > "$LOGDIR/$TAG.pmd-perf" 2>&1
    "${OVS_APPCTL[@]}" dpif-netdev/pmd-rxq-show > "$LOGDIR/$TAG.pmd-rxq" 2>&1
    "${OVS_APPCTL[@]}" dpctl/dump-flows -m 2>&1 | head -200 > "$LOGDIR/$TAG.dpflows"
    if [ "$TOPO" = tunnel ]; then
        for b in br-int br-phy; do
            "${OVS_OFCTL[@]}" dump-ports "$b"; "${OVS_OFCTL[@]}" dump-flows "$b"
        done > "$LOGDIR/$TAG.ports" 2>&1
        tnote="$(ovs_tunnel_check "$LOGDIR/$TAG.dpflows")" || exit 1
        log "$tnote"
        tnote=" $tnote;"
    else
        "${OVS_OFCTL[@]}" dump-ports br0 > "$LOGDIR/$TAG.ports" 2>&1
    fi
    if [ -z "$c0" ] || [ -z "$c1" ]; then die "no tx counter from ovs-ofctl dump-ports $OUT_BRIDGE $OUT_PORT"; fi
    v=$(rate "$c0" "$c1" "$(midpoint "$t0" "$t1")" "$(midpoint "$t2" "$t3")")
    f=$(foreign_pct "$j0" "$j1")
    cpp=$(ovs_proc_cycles "$LOGDIR/$TAG.pmd-stats")
    # the interval's upcalls (pmd-stats were cleared at its start) and
    # revalidations of the datapath flows (coverage counters rev_*, ~1 s granularity)
    upcalls=$(awk '/^pmd thread/ { on = 1 } on && /miss with success upcall:/ { print $5; exit }' "$LOGDIR/$TAG.pmd-stats")
    echo "FIGS upcalls=${upcalls:-0} $(ovs_rev_delta "$LOGDIR/$TAG.coverage-before" "$LOGDIR/$TAG.coverage-after") ${HOOK_FIGS}"
    echo "RESULT $v $f ${cpp:--} - $(ovs_pmd_summary "$LOGDIR/$TAG.pmd-stats");$tnote${HOOK_NOTE:+ $HOOK_NOTE;} $(ovs_upcall_summary "$LOGDIR/$TAG.upcall-show"); $(cpu_report "$s0" "$s1")"
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup_testpmd() {
    [ -z "$TP_PID" ] || stop_pid "$TP_PID" INT 10
    dpdk_cleanup "$TP_PREFIX"
}
run_testpmd() {
    local logf="$LOGDIR/$TAG.testpmd.log" tsock i n0 n1 j0 j1 s0 s1 a b v f cyc cross
    TP_PREFIX="vswb_tp$$"
    tsock=$(dpdk_telemetry_socket "$TP_PREFIX")
    trap cleanup_testpmd EXIT
    # lcore 0 = main (prints stats), lcore 1 = the one forwarding core.
    # --stats-period keeps testpmd running without a terminal (until SIGINT).
    "$TESTPMD" -l 0,1 --main-lcore 0 --file-prefix "$TP_PREFIX" --socket-mem "$SOCKET_MEM" \
        --in-memory --no-pci --vdev "$SRC_VDEV" --vdev "$SINK_VDEV" -- \
        --forward-mode=io --nb-cores=1 --stats-period 1 --auto-start \
        --no-flush-rx --record-core-cycles < /dev/null > "$logf" 2>&1 &
    TP_PID=$!
    for ((i = 0; i < 60; i++)); do
        alive "$TP_PID" || die "testpmd exited during start-up: $(tail -5 "$logf")"
        grep -q 'Port statistics' "$logf" 2>/dev/null && [ -S "$tsock" ] && break
        sleep 0.5
    done
    grep -q 'Port statistics' "$logf" || die "testpmd printed no statistics in 30 s: $(tail -5 "$logf")"
    sleep "$WARM"
    # The figure: delta of port 1's tx counter (DPDK telemetry /ethdev/stats)
    # over the interval, like the port counters used for vswitchd and OVS.
    n0=$(testpmd_samples "$logf" 1 | wc -l)
    a=$(ethdev_tx "$tsock" 1) || die "telemetry query on $tsock failed"
    s0="$(cpu_snap)"; j0="$(jiff_snap "$TP_PID")"
    sleep "$INTERVAL"
    s1="$(cpu_snap)"; j1="$(jiff_snap "$TP_PID")"
    b=$(ethdev_tx "$tsock" 1) || die "telemetry query on $tsock failed"
    n1=$(testpmd_samples "$logf" 1 | wc -l)
    # SIGINT: testpmd stops forwarding, prints totals (cycles/packet) and exits.
    stop_pid "$TP_PID" INT 10; TP_PID=
    v=$(rate "${a#* }" "${b#* }" "${a% *}" "${b% *}")
    f=$(foreign_pct "$j0" "$j1")
    cyc=$(grep -o 'CPU cycles/packet=[0-9.]*' "$logf" | tail -1 | cut -d= -f2)
    cross=$(testpmd_window_mpps "$logf" 1 "$n0" "$n1")
    echo "RESULT $v $f ${cyc:--} - testpmd: cycles/pkt over the whole run ${cyc:-?}, own Tx-pps samples in the interval: $((n1 - n0)), mean $cross Mpps; exit status $STOP_STATUS; $(cpu_report "$s0" "$s1")"
}

# ------------------------------------------------------------------ rounds
# A "cell" is what gets measured RUNS times: a system (vswitch, ovs, testpmd)
# or SYSTEM@VARIANT (churn.sh: ovs@unrelated:10); the run of a cell gets
# VARIANT in its environment. Figures per cell, space-separated, one per run:
declare -A QUIET NOISY QCPP NCPP QPPB NPPB QFIGS NFIGS FAILS GAVE_UP SKIPPED

# one_run SYSTEM SCENARIO TAG RUNID : one measurement (`SCRIPT --one ...`, under the lock)
one_run() {
    LOGDIR="$WORK/logs/$4" TAG="$3"
    trap 'exit 130' INT
    trap 'exit 143' TERM
    scenario_define "$2" || die "unknown scenario $2"
    "run_$1"
}

# bench_check : the environment every invocation needs right
bench_check() {
    local sys
    case "$RUNS$INTERVAL$WARM" in *[!0-9]*) die "RUNS, INTERVAL and WARM must be whole numbers" ;; esac
    if [ "$RUNS" -lt 1 ] || [ "$INTERVAL" -lt 1 ]; then die "RUNS and INTERVAL must be >= 1"; fi
    for sys in $SYSTEMS; do
        case "$sys" in vswitch|ovs|testpmd) ;; *) die "unknown system '$sys' in SYSTEMS (vswitch ovs testpmd)" ;; esac
    done
}

# bench_start SCENARIO : defines it (makes its inputs, outside the lock), sets
# SCEN, RUNID and LOGDIR
bench_start() {
    SCEN="$1"
    scenario_define "$SCEN" || die "unknown scenario $SCEN"
    RUNID="$(date +%Y%m%d-%H%M%S)-$SCEN"
    LOGDIR="$WORK/logs/$RUNID"
    mkdir -p "$LOGDIR"
}

# Each run: flock -> timeout -> "$0 --one ..." (timeout puts the run into its
# own process group and, on expiry, SIGTERMs the group: the run's EXIT trap
# stops its processes by PID; SIGKILL 40 s later if that hangs). On Ctrl-C /
# SIGTERM the run in progress is stopped the same way before we exit.
# flock -o: the lock is held by flock itself, not inherited by the run's
# processes, so a daemon that outlived its run (detached, orphaned) cannot
# keep the lock, and everyone out, after the run ended.
RUN_PID=""
on_signal() {
    local kids
    log "interrupted: stopping the run in progress"
    if [ -n "$RUN_PID" ]; then
        kids=$(ps -o pid= --ppid "$RUN_PID")   # the timeout process under flock
        # shellcheck disable=SC2086  # a list of PIDs
        if [ -n "$kids" ]; then kill -TERM $kids 2>/dev/null; else kill -TERM "$RUN_PID" 2>/dev/null; fi
        wait "$RUN_PID"
    fi
    exit 130
}

# bench_rounds CELL... : rounds of one run per cell, in the given order (so
# drift hits all alike), until every cell has RUNS quiet runs, at most
# 3*RUNS rounds. A cell that fails twice without ever producing a figure is
# given up. Fills QUIET NOISY QCPP NCPP QPPB NPPB QFIGS NFIGS (FIGS: one
# word "k=v,k=v" per run) FAILS GAVE_UP SKIPPED; logs one line per run.
bench_rounds() {
    local cell sys variant round pending tag rc res why figs v f cpp ppb details
    for cell in "$@"; do
        QUIET[$cell]="" NOISY[$cell]="" QCPP[$cell]="" NCPP[$cell]="" QPPB[$cell]="" NPPB[$cell]=""
        QFIGS[$cell]="" NFIGS[$cell]="" FAILS[$cell]=0 GAVE_UP[$cell]=0 SKIPPED[$cell]=""
        if [ "${cell%%@*}" = vswitch ] && { [ ! -x "$VSWITCHD" ] || [ ! -x "$VSCTL" ]; }; then
            SKIPPED[$cell]="not built: $VSWITCHD or $VSCTL missing"
            log "$cell skipped: ${SKIPPED[$cell]}"
            GAVE_UP[$cell]=1
        fi
    done
    trap on_signal INT TERM
    for ((round = 1; round <= 3 * RUNS; round++)); do
        pending=0
        for cell in "$@"; do
            if [ "${GAVE_UP[$cell]}" = 1 ] || [ "$(wc -w <<< "${QUIET[$cell]}")" -ge "$RUNS" ]; then continue; fi
            pending=1
            sys="${cell%%@*}" variant=""
            [ "$sys" = "$cell" ] || variant="${cell#*@}"
            tag="r${round}-${cell//[^A-Za-z0-9_.-]/-}"
            VARIANT="$variant" flock -o -E 75 -w "$LOCK_WAIT" "$LOCK" timeout -k 40 "$RUN_TIMEOUT" \
                "$0" --one "$sys" "$SCEN" "$tag" "$RUNID" > "$LOGDIR/$tag.out" 2> "$LOGDIR/$tag.stderr" &
            RUN_PID=$!
            wait "$RUN_PID"; rc=$?; RUN_PID=""
            res=$(grep '^RESULT ' "$LOGDIR/$tag.out" | tail -1)
            if [ -z "$res" ]; then
                FAILS[$cell]=$((FAILS[$cell] + 1))
                case "$rc" in
                    75) why="bench lock $LOCK not free within LOCK_WAIT=${LOCK_WAIT}s" ;;
                    124|137) why="run timed out after RUN_TIMEOUT=${RUN_TIMEOUT}s" ;;
                    *) why=$(grep -m1 '^ERROR' "$LOGDIR/$tag.stderr" | head -c 600) ;;
                esac
                log "round $round $cell: FAILED (status $rc): $why [$LOGDIR/$tag.stderr]"
                if [ "${FAILS[$cell]}" -ge 2 ] && [ -z "${QUIET[$cell]}${NOISY[$cell]}" ]; then
                    GAVE_UP[$cell]=1; log "$cell: giving up after ${FAILS[$cell]} failed runs"
                fi
                continue
            fi
            # FIGS k=v ... -> one word k=v,k=v (words that are not k=NUMBER are dropped)
            figs=$(grep '^FIGS ' "$LOGDIR/$tag.out" | tail -1 | tr ' ' '\n' |
                grep -E '^[A-Za-z_]+=-?[0-9.]+$' | paste -sd, -)
            read -r _ v f cpp ppb details <<< "$res"
            if is_quiet "$f"; then
                QUIET[$cell]+=" $v" QFIGS[$cell]+=" ${figs:-none=0}"
                [ "$cpp" = - ] || QCPP[$cell]+=" $cpp"
                [ "$ppb" = - ] || QPPB[$cell]+=" $ppb"
                log "round $round $cell: $v Mpps (quiet, foreign load $f% of a core) cyc/pkt=$cpp pkts/burst=$ppb ${figs:+[${figs//,/ }] }| $details"
            else
                NOISY[$cell]+=" $v" NFIGS[$cell]+=" ${figs:-none=0}"
                [ "$cpp" = - ] || NCPP[$cell]+=" $cpp"
                [ "$ppb" = - ] || NPPB[$cell]+=" $ppb"
                log "round $round $cell: $v Mpps (NOISY, foreign load $f% of a core > $FOREIGN_MAX%: not used) cyc/pkt=$cpp pkts/burst=$ppb ${figs:+[${figs//,/ }] }| $details"
            fi
        done
        [ "$pending" = 1 ] || break
    done
    trap - INT TERM
}

# cell_used CELL -> "quiet" or "noisy" (which runs its figures come from: the
# quiet ones if any), or "none"
cell_used() {
    if [ -n "${QUIET[$1]:-}" ]; then echo quiet; elif [ -n "${NOISY[$1]:-}" ]; then echo noisy; else echo none; fi
}
# cell_median CELL -> median Mpps of the used runs, n/a without any
cell_median() {
    # shellcheck disable=SC2086  # word lists of numbers
    case "$(cell_used "$1")" in
        quiet) median ${QUIET[$1]} ;;
        noisy) median ${NOISY[$1]} ;;
        *) echo n/a ;;
    esac
}
# cell_fig CELL KEY -> median of FIGS value KEY over the used runs, n/a without any
cell_fig() {
    local runs w vals=()
    case "$(cell_used "$1")" in quiet) runs="${QFIGS[$1]}" ;; noisy) runs="${NFIGS[$1]}" ;; *) runs="" ;; esac
    for w in $runs; do
        w=",$w,"
        [[ "$w" == *",$2="* ]] || continue
        w="${w#*,"$2"=}"; vals+=("${w%%,*}")
    done
    median "${vals[@]}"
}

# ------------------------------------------------------------------ main
throughput_main() {
    local sys cell
    SCEN="${1:?usage: $0 SCENARIO   (p2p-1rule | p2p-null | p2p-normal | flows-1k | flows-100k | exact-1k | exact-100k | vxlan-encap | vxlan-encap-10k | vxlan-decap | geneve-encap | gre-encap)}"
    bench_check
    bench_start "$SCEN"
    log "$SCEN: $DESC"
    log "systems: $SYSTEMS; RUNS=$RUNS quiet runs each (max $((3 * RUNS)) rounds), WARM=${WARM}s INTERVAL=${INTERVAL}s; logs in $LOGDIR"
    # shellcheck disable=SC2086  # the list of systems
    bench_rounds $SYSTEMS

    declare -A FIG CPP PPB NAME=([vswitch]=vswitch [ovs]=ovs-dpdk [testpmd]=testpmd-io)
    local noisy_only=()
    for sys in vswitch ovs testpmd; do
        FIG[$sys]=n/a CPP[$sys]=n/a PPB[$sys]=n/a
        [[ " $SYSTEMS " == *" $sys "* ]] || continue
        cell="$sys"
        # shellcheck disable=SC2086  # word lists of numbers
        case "$(cell_used "$cell")" in
            quiet)
                stats_line "$SCEN ${NAME[$sys]}" Mpps ${QUIET[$cell]}
                [ -z "${QCPP[$cell]}" ] || CPP[$sys]=$(median ${QCPP[$cell]})
                [ -z "${QPPB[$cell]}" ] || PPB[$sys]=$(median ${QPPB[$cell]}) ;;
            noisy)
                noisy_only+=("${NAME[$sys]}")
                [ -z "${NCPP[$cell]}" ] || CPP[$sys]=$(median ${NCPP[$cell]})
                [ -z "${NPPB[$cell]}" ] || PPB[$sys]=$(median ${NPPB[$cell]}) ;;
            *)
                if [ -n "${SKIPPED[$cell]}" ]; then
                    echo "$SCEN ${NAME[$sys]}: skipped, ${SKIPPED[$cell]}"
                else
                    echo "$SCEN ${NAME[$sys]}: FAILED, no run produced a figure (logs: $LOGDIR)"
                fi ;;
        esac
        FIG[$sys]=$(cell_median "$cell")
        # shellcheck disable=SC2086
        [ -z "${NOISY[$cell]}" ] || stats_line "$SCEN ${NAME[$sys]} [noisy runs, not used]" Mpps ${NOISY[$cell]}
    done
    [ ${#noisy_only[@]} -eq 0 ] ||
        echo "$SCEN: WARNING: no quiet run (foreign load > $FOREIGN_MAX% of a core every time) for: ${noisy_only[*]}; their figures below are medians of NOISY runs"
    echo "$SCEN: vswitch/testpmd $(ratio "${FIG[vswitch]}" "${FIG[testpmd]}"), vswitch cycles/packet ${CPP[vswitch]} (ovs-dpdk ${CPP[ovs]}, testpmd-io ${CPP[testpmd]}), vswitch packets/burst ${PPB[vswitch]}"
    echo "$SCEN: vswitch ${FIG[vswitch]} Mpps, ovs-dpdk ${FIG[ovs]} Mpps, testpmd-io ${FIG[testpmd]} Mpps, vswitch/ovs $(ratio "${FIG[vswitch]}" "${FIG[ovs]}")"
}

# Sourced (by churn.sh): functions only. Run: a measurement or the benchmark.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    if [ "${1:-}" = --one ]; then             # --one SYSTEM SCENARIO TAG RUNID (under the lock)
        one_run "$2" "$3" "$4" "$5"
        exit $?
    fi
    throughput_main "$@"
fi
