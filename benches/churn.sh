#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Forwarding while the tables change (issue 13): our vswitchd vs OVS-DPDK.
#
#   benches/churn.sh SCENARIO
#
# SCENARIO (the throughput.sh scenario behind it, same vdevs, rules and pcaps):
#   churn-exact-100k   exact-100k: 100k flows, 100k exact nw_src rules
#   churn-flows-100k   flows-100k: 100k flows, 4 wildcard rules (one megaflow)
#   churn-normal-10k   actions=NORMAL, pcap of 10k flows with 10k source MACs into
#                      p1, destination static on p2, p3 = net_tap (new MACs arrive there)
#   (churn-exact-1k, churn-flows-1k, churn-normal-N work alike)
# Rows (ROWS, space-separated; the order within a round):
#   steady        nothing changes (the figure the others are compared with)
#   unrelated:R   R flow_mods/s adding and deleting rules in table 7, which no packet visits
#   modify:R      R modify_strict/s of rules packets match, switching their instructions
#                 between output:2 and output:2 + write_metadata (same forwarding):
#                 exact-*: CHURN_MODIFY_RULES (8) of the nw_src rules in turn;
#                 flows-*: the priority=100 rule every packet matches
#   macs:R        R frames/s with a new source MAC each into p3's kernel interface
#   Default: "steady unrelated:1 unrelated:10 unrelated:100 unrelated:1000 modify:10",
#   for churn-normal-*: "steady macs:100".
# The changes come from benches/churn.py: ONE OpenFlow 1.3 connection per run to
# the switch's br0.mgmt (ours: next to its control socket; OVS: its rundir),
# paced by deadlines, a barrier every BARRIER_MS, pinned to CPU 0; it starts
# CHURN_LEAD s before the measured interval and the rate it achieved within the
# interval is reported. Each row x system is a cell of throughput.sh's rounds:
# fresh processes per run, WARM, INTERVAL, quiet-run filter, bench lock.
#
# Environment: as throughput.sh (RUNS 3, INTERVAL 10, WARM 5, VSWITCHD, VSCTL,
#   WORK, FOREIGN_MAX, LOCK_WAIT, RUN_TIMEOUT...), SYSTEMS ("vswitch ovs"), ROWS,
#   CHURN_LEAD (2 s), CHURN_TABLE (7), CHURN_WINDOW (64 rules kept in that table),
#   CHURN_MODIFY_RULES (8), BARRIER_MS (100), MAC_TABLE_SIZE (65536: MAC entries
#   NORMAL may keep, OVS other-config:mac-table-size and, if the build has the
#   key, vswitchd's mac_table_size), CHURN_PYTHON (python3).
# Output: per-run lines on stderr; a table per row (our Mpps, OVS Mpps, ratio,
# % of the steady row, achieved rates, our cache flushes and upcalls, OVS's
# revalidations and upcalls, per second of the interval) and, LAST, one line per row:
#   SCENARIO ROW: vswitch X Mpps (P % of steady), ovs-dpdk Y Mpps (Q %), vswitch/ovs R, ...
set -u
SYSTEMS="${SYSTEMS:-vswitch ovs}"
CHURN_LEAD="${CHURN_LEAD:-2}"
RUN_TIMEOUT="${RUN_TIMEOUT:-$((${WARM:-5} + ${INTERVAL:-10} + CHURN_LEAD + 150))}"
# shellcheck source=throughput.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/throughput.sh"

CHURN_TABLE="${CHURN_TABLE:-7}"
CHURN_WINDOW="${CHURN_WINDOW:-64}"
CHURN_MODIFY_RULES="${CHURN_MODIFY_RULES:-8}"
BARRIER_MS="${BARRIER_MS:-100}"
MAC_TABLE_SIZE="${MAC_TABLE_SIZE:-65536}"
CHURN_PYTHON="${CHURN_PYTHON:-python3}"
STATIC_MAC=02:00:00:00:00:02    # the destination of every frame (gen_pcap.py), static on p2

# ------------------------------------------------------------- scenarios
# churn-BASE: BASE's definition plus what the rows need: MODIFY_RULES (the
# rules modify:R changes, churn.py syntax), TAP_IFACE (p3's kernel side, normal-*)
MODIFY_RULES=() TAP_IFACE=""
scenario_define_extra() {
    local base="${1#churn-}" n k
    [ "$base" != "$1" ] || return 1
    case "$base" in
        normal-*)
            n="${base#normal-}"; n="${n/k/000}"
            case "$n" in ''|*[!0-9]*) return 1 ;; esac
            DESC="NORMAL, pcap of $n flows with $n source MACs -> net_null sink (destination MAC static on p2), p3 net_tap"
            SRC_VDEV="net_pcap0,rx_pcap=$(ensure_pcap "$n" 64 macs),infinite_rx=1"
            RULES_FILE=$(write_rules normal "actions=NORMAL")
            TAP_IFACE="vswbt$$"            # per run, at most 15 characters
            EXTRA_PORTS=("p3:3:net_tap2,iface=$TAP_IFACE")
            # net_tap wants as many rx as tx queues; OVS gives a port a tx
            # queue per PMD and one for its main thread, 2 here
            OVS_PORT_OPTIONS[p3]="options:n_rxq=2"
            # p2 never receives: its MAC is a static entry (as p2p-normal).
            # Room for the N MACs and the new ones: OVS keeps 2048 by default,
            # vswitchd 8192 (fixed before it had mac_table_size); with fewer
            # than N a switch evicts and relearns without end.
            if vswitchd_has_bridge_key mac_table_size "$MAC_TABLE_SIZE"; then
                VSWITCH_BRIDGE_KEYS=("mac_table_size = $MAC_TABLE_SIZE")
            fi
            # shellcheck disable=SC2317  # called by run_vswitch / run_ovs
            vswitch_scenario_setup() { vsctl fdb-add br0 p2 0 "$STATIC_MAC" > /dev/null; }
            # shellcheck disable=SC2317
            ovs_scenario_setup() {
                "${OVS_VSCTL[@]}" set bridge br0 other_config:mac-table-size="$MAC_TABLE_SIZE" ||
                    die "set mac-table-size"
                "${OVS_APPCTL[@]}" fdb/add br0 p2 0 "$STATIC_MAC" > /dev/null
            } ;;
        exact-*|flows-*)
            scenario_define "$base" || return 1
            if [ "${base%%-*}" = exact ]; then
                # flow i of the pcap has nw_src 10.0.0.1 + i (gen_pcap.py): rules 10.0.0.1..K
                for ((k = 1; k <= CHURN_MODIFY_RULES && k <= 250; k++)); do
                    MODIFY_RULES+=("priority=100,in_port=1,eth_type=0x800,ip_proto=17,ipv4_src=10.0.0.$k")
                done
            else
                MODIFY_RULES=("priority=100,in_port=1,eth_type=0x800,ip_proto=17,ipv4_dst=10.128.0.0/9,udp_dst=5001")
            fi ;;
        *) return 1 ;;
    esac
}

# vswitchd_has_bridge_key KEY VALUE : whether this vswitchd build takes KEY in
# a [[bridge]] (--check-config on a minimal configuration; starts nothing)
vswitchd_has_bridge_key() {
    local f rc
    [ -x "$VSWITCHD" ] || return 1
    f=$(mktemp "$WORK/probe.XXXXXX") || return 1
    printf '[dpdk]\nmain_core = 0\nno_pci = true\n\n[pmd]\ncores = [1]\n\n[control]\nsocket = "%s.sock"\n\n[[bridge]]\nname = "br0"\n%s = %s\n' \
        "$f" "$1" "$2" > "$f"
    "$VSWITCHD" --check-config "$f" > /dev/null 2>&1; rc=$?
    rm -f "$f"
    return $rc
}

# ------------------------------------------------------------ the driver
# measure_hook (throughput.sh) for the row in VARIANT: start churn.py after
# the warm-up, mark the interval, stop it and report what it achieved.
CHURN_PID="" CHURN_LOG=""
measure_hook() {
    local phase="$1" sys="$2" row="${VARIANT:-steady}"
    [ "$row" != steady ] || return 0
    case "$phase" in
        start) churn_start "$sys" "${row%%:*}" "${row#*:}" ;;
        mark) [ -z "$CHURN_PID" ] || kill -USR1 "$CHURN_PID" 2> /dev/null ;;
        stop) churn_stop "$row" ;;
        cleanup) if [ -n "$CHURN_PID" ]; then stop_pid "$CHURN_PID" TERM 5; CHURN_PID=""; fi ;;
    esac
}
churn_start() {
    local sys="$1" kind="$2" rate="$3" dir secs count r i args=() netns=()
    # OVS runs in a network namespace of its own (its tap is there), ours in ours
    [ "$sys" != ovs ] || netns=(ip netns exec "$OVS_NETNS")
    case "$sys" in vswitch) dir="$VS_DIR" ;; ovs) dir="$OVSD" ;; *) die "churn: no driver for $sys" ;; esac
    secs=$((CHURN_LEAD + INTERVAL + 30))
    count=$(python3 -c 'import math, sys; print(math.ceil(float(sys.argv[1]) * int(sys.argv[2])) + 10)' "$rate" "$secs") ||
        die "churn: bad rate '$rate'"
    case "$kind" in
        unrelated)
            args=(openflow --target "$dir/br0.mgmt" --mode unrelated --table "$CHURN_TABLE"
                --window "$CHURN_WINDOW" --barrier-ms "$BARRIER_MS") ;;
        modify)
            [ ${#MODIFY_RULES[@]} -gt 0 ] || die "churn: $SCEN has no rules for modify rows"
            args=(openflow --target "$dir/br0.mgmt" --mode modify --barrier-ms "$BARRIER_MS")
            for r in "${MODIFY_RULES[@]}"; do args+=(--rule "$r"); done ;;
        macs)
            [ -n "$TAP_IFACE" ] || die "churn: $SCEN has no tap port for macs rows (churn-normal-* has)"
            # the kernel side must be up to take frames; no IPv6 chatter from it
            "${netns[@]}" sysctl -qw "net.ipv6.conf.$TAP_IFACE.disable_ipv6=1" > /dev/null 2>&1
            "${netns[@]}" ip link set dev "$TAP_IFACE" up ||
                die "churn: cannot set $TAP_IFACE up"
            args=(macs --iface "$TAP_IFACE" --dst-mac "$STATIC_MAC") ;;
        *) die "churn: unknown row kind '$kind'" ;;
    esac
    CHURN_LOG="$LOGDIR/$TAG.churn.log"
    # CPU 0, the management core (the PMD is on CPU 1). A simple command, so
    # that $! is the driver itself (ip netns exec and taskset exec it): the
    # marks (SIGUSR1) and the stop (SIGTERM) go to it by PID.
    "${netns[@]}" taskset -c 0 "$CHURN_PYTHON" "$BENCHES/churn.py" "${args[@]}" \
        --rate "$rate" --max-seconds "$secs" --max-count "$count" < /dev/null > "$CHURN_LOG" 2>&1 &
    CHURN_PID=$!
    HOOK_PIDS=("$CHURN_PID")
    for ((i = 0; i < 100; i++)); do      # connected (and table 7 prefilled) within 20 s
        grep -q '^ready ' "$CHURN_LOG" && break
        alive "$CHURN_PID" || break
        sleep 0.2
    done
    grep -q '^ready ' "$CHURN_LOG" || die "churn driver not ready: $(tail -3 "$CHURN_LOG" | tr '\n' ' ')"
    sleep "$CHURN_LEAD"
    alive "$CHURN_PID" || die "churn driver ended before the interval: $(tail -3 "$CHURN_LOG" | tr '\n' ' ')"
}
churn_stop() {
    local row="$1" out
    [ -n "$CHURN_PID" ] || return 0
    alive "$CHURN_PID" || log "churn driver ended during the interval: $(tail -1 "$CHURN_LOG")"
    stop_pid "$CHURN_PID" TERM 5; CHURN_PID=""
    out=$(python3 "$BENCHES/churn.py" summary "$CHURN_LOG" 2>&1)
    HOOK_FIGS=$(head -1 <<< "$out")
    HOOK_NOTE="churn $row: $(tail -1 <<< "$out"), exit status $STOP_STATUS"
}

# ------------------------------------------------------------------ report
# per_s COUNT -> COUNT / INTERVAL (the FIGS counts cover the interval), "n/a" passes
per_s() {
    python3 -c '
import sys
try:
    v = float(sys.argv[1]) / float(sys.argv[2])
    print("%.0f" % v if v >= 100 else "%.1f" % v)
except ValueError:
    print("n/a")' "$1" "$INTERVAL"
}
# pct A B -> A/B in percent, "n/a" if either is missing
pct() {
    python3 -c '
import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2])
    print("%.1f%%" % (100 * a / b) if b else "n/a")
except ValueError:
    print("n/a")' "$1" "$2"
}

churn_main() {
    local row sys cell cells=() v o vs os noisy=()
    SCEN="${1:?usage: $0 SCENARIO   (churn-exact-100k | churn-flows-100k | churn-normal-10k)}"
    [[ " $SYSTEMS " != *" testpmd "* ]] || die "SYSTEMS: testpmd changes no tables (vswitch ovs)"
    bench_check
    bench_start "$SCEN"
    if [ -z "${ROWS:-}" ]; then
        if [ -n "$TAP_IFACE" ]; then ROWS="steady macs:100"
        else ROWS="steady unrelated:1 unrelated:10 unrelated:100 unrelated:1000 modify:10"; fi
    fi
    for row in $ROWS; do
        [[ "$row" =~ ^(steady|(unrelated|modify|macs):[0-9]+(\.[0-9]+)?)$ ]] ||
            die "bad row '$row' in ROWS (steady, unrelated:R, modify:R, macs:R)"
        [[ "$row" != macs:* ]] || [ -n "$TAP_IFACE" ] || die "row $row needs a churn-normal-* scenario"
        [[ "$row" != modify:* ]] || [ ${#MODIFY_RULES[@]} -gt 0 ] || die "row $row needs churn-exact-* or churn-flows-*"
        for sys in $SYSTEMS; do cells+=("$sys@$row"); done
    done
    log "$SCEN: $DESC"
    [[ " $SYSTEMS " != *" vswitch "* ]] || [ ! -x "$VSWITCHD" ] || log "vswitchd: $VSWITCHD ($(binary_id "$VSWITCHD"))"
    log "rows: $ROWS; systems: $SYSTEMS; RUNS=$RUNS quiet runs per cell (max $((3 * RUNS)) rounds), WARM=${WARM}s CHURN_LEAD=${CHURN_LEAD}s INTERVAL=${INTERVAL}s; logs in $LOGDIR"
    bench_rounds "${cells[@]}"

    # (in a cell's figures, * marks medians of NOISY runs: no quiet one)
    fig() { local m; m=$(cell_median "$1"); [ "$(cell_used "$1")" != noisy ] || m="$m*"; echo "$m"; }
    vs=$(cell_median "vswitch@steady") os=$(cell_median "ovs@steady")
    echo "$SCEN: Mpps out of p2 (medians over RUNS=$RUNS, INTERVAL=${INTERVAL}s); rates and counts per second of the interval"
    printf '%-15s %9s %9s %7s %9s %9s | %11s %11s | %10s %10s %10s | %10s %10s\n' \
        row vswitch ovs-dpdk vs/ovs "vs%steady" "ovs%steady" "vs-achieved" "ovs-achieved" \
        "vs-flush/s" "vs-reval/s" "vs-upcall/s" "ovs-reval/s" "ovs-upcall/s"
    for row in $ROWS; do
        v=$(cell_median "vswitch@$row") o=$(cell_median "ovs@$row")
        for cell in "vswitch@$row" "ovs@$row"; do
            [ "$(cell_used "$cell")" != noisy ] || noisy+=("$cell")
        done
        printf '%-15s %9s %9s %7s %9s %9s | %11s %11s | %10s %10s %10s | %10s %10s\n' "$row" \
            "$(fig "vswitch@$row")" "$(fig "ovs@$row")" "$(ratio "$v" "$o")" "$(pct "$v" "$vs")" "$(pct "$o" "$os")" \
            "$(cell_fig "vswitch@$row" achieved)" "$(cell_fig "ovs@$row" achieved)" \
            "$(per_s "$(cell_fig "vswitch@$row" cache_flushes)")" "$(per_s "$(cell_fig "vswitch@$row" revalidations)")" \
            "$(per_s "$(cell_fig "vswitch@$row" upcalls)")" \
            "$(per_s "$(cell_fig "ovs@$row" revalidations)")" "$(per_s "$(cell_fig "ovs@$row" upcalls)")"
    done
    [ ${#noisy[@]} -eq 0 ] ||
        echo "$SCEN: WARNING: no quiet run (foreign load > $FOREIGN_MAX% of a core every time) for: ${noisy[*]}; their figures (*) are medians of NOISY runs"
    for row in $ROWS; do
        v=$(cell_median "vswitch@$row") o=$(cell_median "ovs@$row")
        echo "$SCEN $row: vswitch $v Mpps ($(pct "$v" "$vs") of steady), ovs-dpdk $o Mpps ($(pct "$o" "$os")), vswitch/ovs $(ratio "$v" "$o"), achieved/s vswitch $(cell_fig "vswitch@$row" achieved) ovs $(cell_fig "ovs@$row" achieved), vswitch cache_flushes/s $(per_s "$(cell_fig "vswitch@$row" cache_flushes)") revalidations/s $(per_s "$(cell_fig "vswitch@$row" revalidations)") upcalls/s $(per_s "$(cell_fig "vswitch@$row" upcalls)"), ovs revalidations/s $(per_s "$(cell_fig "ovs@$row" revalidations)") upcalls/s $(per_s "$(cell_fig "ovs@$row" upcalls)")"
    done
}

if [ "${1:-}" = --one ]; then             # --one SYSTEM SCENARIO TAG RUNID (under the lock)
    one_run "$2" "$3" "$4" "$5"
    exit $?
fi
churn_main "$@"
