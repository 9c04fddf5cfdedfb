#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# What does each switch put on the wire in a tunnel scenario? A functional
# check to run before trusting the Mpps of throughput.sh's tunnel scenarios.
#
#   benches/tunnel_verify.sh SCENARIO     (vxlan-encap, geneve-encap, gre-encap, vxlan-decap)
#
# Runs SCENARIO's topology (throughput.sh, same bridges, rules, tunnel port)
# once per system in SYSTEMS (default "vswitch ovs") with two changes: the
# source port is a net_tap whose kernel side gets the frames of the
# scenario's pcap once, 1 ms apart, after the warm-up (written through an
# AF_PACKET socket; IPv6 off on it), and the sink writes what it receives
# into a pcap (net_pcap1,tx_pcap=...) instead of dropping it. (A net_pcap
# source without infinite_rx would send its 64 frames in the first
# microseconds of the port: OVS drops all of them, datapath_drop_upcall_error,
# the port being not yet in its translation config.)
# Then, per system: how many frames came out, the first one
# decoded by tshark (-V, kept in the logs) and every one checked field by
# field (outer Ethernet/IPv4 as configured, IPv4 header checksum, UDP port,
# VNI or GRE key, inner frame = the frame that went in; decap: the frame
# that comes out = the inner frame), and the headers of the two switches
# side by side.
#
# Each run is a throughput.sh run (bench lock, fresh processes, logs in
# $WORK/logs/<date>-verify-SCENARIO/) with WARM=2 INTERVAL=1 and no
# foreign-load filter (the rate is not the point). The last line:
#   verify SCENARIO: vswitch OK|FAIL (N frames), ovs OK|FAIL (N frames)
set -u
SYSTEMS="${SYSTEMS:-vswitch ovs}"
WARM="${VERIFY_WARM:-2}" INTERVAL=1 RUNS=1 FOREIGN_MAX=100000
# shellcheck source=throughput.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/throughput.sh"

# throughput.sh's scenario; source: net_tap (kernel side VERIFY_TAP), sink: a pcap
eval "throughput_$(declare -f scenario_define)"
scenario_define() {
    throughput_scenario_define "$1" || return 1
    [ "$TOPO" = tunnel ] || return 1
    SRC_PCAP="${SRC_VDEV#*rx_pcap=}"; SRC_PCAP="${SRC_PCAP%%,*}"
    VERIFY_TAP="vswbv$$"
    SRC_VDEV="net_tap0,iface=$VERIFY_TAP"
    SINK_VDEV="net_pcap1,tx_pcap=${LOGDIR:-$WORK}/${TAG:-none}.sink.pcap"
    # net_tap wants as many rx as tx queues; OVS gives a port one tx queue per
    # PMD plus one (see README, churn pitfalls)
    if [ "$TUN_DIR" = encap ]; then OVS_PORT_OPTIONS[p1]="options:n_rxq=2"
    else OVS_PORT_OPTIONS[phy]="options:n_rxq=2"; fi
}
# measure_hook (throughput.sh): at "start" (after the warm-up) write the
# source pcap's frames into the tap, in OVS's netns for OVS
measure_hook() {
    [ "$1" = start ] || return 0
    local ns=()
    [ "$2" != ovs ] || ns=(ip netns exec "$OVS_NETNS")
    "${ns[@]}" sysctl -qw "net.ipv6.conf.$VERIFY_TAP.disable_ipv6=1" > /dev/null 2>&1
    "${ns[@]}" ip link set dev "$VERIFY_TAP" up || die "cannot set $VERIFY_TAP up"
    "${ns[@]}" python3 - "$VERIFY_TAP" "$SRC_PCAP" > "$LOGDIR/$TAG.send.log" 2>&1 <<'EOF' ||
import socket, struct, sys, time
iface, path = sys.argv[1:3]
data = open(path, "rb").read()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
off, n = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack("<IIII", data[off:off + 16])[2]
    s.send(data[off + 16:off + 16 + incl])
    off += 16 + incl
    n += 1
    time.sleep(0.001)
print("sent %d frames of %s into %s" % (n, path, iface))
EOF
        die "sending into $VERIFY_TAP failed: $(cat "$LOGDIR/$TAG.send.log")"
    sleep 0.5
}

# check_pcap SYSTEM FILE -> per-frame checks; prints a summary, last word OK or FAIL
check_pcap() {
    python3 - "$1" "$2" "$TUN_TYPE" "$TUN_DIR" "$SRC_PCAP" <<'EOF'
import struct, sys
system, path, ttype, tdir, src = sys.argv[1:6]

def frames(p):
    with open(p, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    # microsecond or (DPDK's net_pcap) nanosecond libpcap, either byte order
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out

def csum_ok(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF

mac = lambda b: ":".join("%02x" % x for x in b)
ip = lambda b: ".".join(str(x) for x in b)

def decode(fr):
    """outer headers of an encapsulated frame -> (fields dict, inner frame) or error string"""
    d = {"len": len(fr)}
    if len(fr) < 34 or fr[12:14] != b"\x08\x00":
        return "not IPv4 (ethertype %s)" % fr[12:14].hex(), None
    d["eth"] = "%s -> %s" % (mac(fr[6:12]), mac(fr[0:6]))
    ihl = (fr[14] & 15) * 4
    iph = fr[14:14 + ihl]
    tot, ident, frag, ttl, proto = struct.unpack("!HHHBB", iph[2:10])
    d.update(ip="%s -> %s" % (ip(iph[12:16]), ip(iph[16:20])), ip_tot_len_ok=(tot == len(fr) - 14),
             ip_id=ident, df=bool(frag & 0x4000), ttl=ttl, tos=iph[1], ip_csum_ok=csum_ok(iph))
    l4 = fr[14 + ihl:]
    if proto == 17:
        sport, dport, ulen, ucs = struct.unpack("!HHHH", l4[:8])
        d.update(udp_sport=sport, udp_dport=dport, udp_len_ok=(ulen == len(l4)), udp_csum="0x%04x" % ucs)
        t = l4[8:]
        if dport == 4789:
            flags, vni = struct.unpack("!II", t[:8])
            d.update(proto="vxlan", vxlan_flags="0x%08x" % flags, vni=vni >> 8)
            return d, t[8:]
        if dport == 6081:
            b0, b1, ptype, vni = struct.unpack("!BBHI", t[:8])
            olen = (b0 & 63) * 4
            d.update(proto="geneve", geneve_ver=b0 >> 6, opt_len=olen, geneve_flags="0x%02x" % b1,
                     ptype="0x%04x" % ptype, vni=vni >> 8)
            return d, t[8 + olen:]
        return d, None
    if proto == 47:
        flags, ptype = struct.unpack("!HH", l4[:4])
        off = 4 + (4 if flags & 0x8000 else 0)
        key = None
        if flags & 0x2000:
            key = struct.unpack("!I", l4[off:off + 4])[0]
            off += 4
        if flags & 0x1000:
            off += 4
        d.update(proto="gre", gre_flags="0x%04x" % flags, ptype="0x%04x" % ptype, key=key)
        return d, l4[off:]
    d["proto"] = proto
    return d, None

sent = frames(src)
got = frames(path)
inner_sent = set()
for fr in sent:
    if tdir == "decap":
        r, inner = decode(fr)
        inner_sent.add(inner)
    else:
        inner_sent.add(fr)
want = {"eth": "02:00:00:00:aa:01 -> 02:00:00:00:aa:02", "ip": "172.31.1.1 -> 172.31.1.2",
        "ip_tot_len_ok": True, "ip_csum_ok": True, "proto": ttype}
if ttype == "vxlan":
    want.update(udp_dport=4789, udp_len_ok=True, vni=1000, vxlan_flags="0x08000000")
elif ttype == "geneve":
    want.update(udp_dport=6081, udp_len_ok=True, vni=1000, geneve_ver=0, ptype="0x6558")
else:
    want.update(key=1000, ptype="0x6558")
# the kernel side of the tap source may send IPv6 (MLD, RS) before its IPv6
# is off: such frames (ethertype 0x86dd, also as inner frames) are counted
# apart, not checked
is_v6 = lambda fr: fr is not None and fr[12:14] == b"\x86\xdd"
bad, first, sports, v6 = [], None, set(), 0
for k, fr in enumerate(got):
    if is_v6(fr):
        v6 += 1
        continue
    if tdir == "decap":
        if fr not in inner_sent:
            bad.append("frame %d: not one of the inner frames sent (%d B)" % (k, len(fr)))
        continue
    d, inner = decode(fr)
    if isinstance(d, str):
        bad.append("frame %d: %s" % (k, d))
        continue
    if is_v6(inner):
        v6 += 1
        continue
    first = first or d
    sports.add(d.get("udp_sport"))
    for f, v in want.items():
        if d.get(f) != v:
            bad.append("frame %d: %s=%r, want %r" % (k, f, d.get(f), v))
    if inner not in inner_sent:
        bad.append("frame %d: inner frame differs from every frame sent" % k)
got_n = len(got) - v6
print("%s: %d frames captured of %d sent%s" % (system, got_n, len(sent),
      " (and %d IPv6 frames from the tap's kernel side, not checked)" % v6 if v6 else ""))
if first:
    print("%s: first frame %s" % (system, " ".join("%s=%s" % kv for kv in first.items())))
    if ttype != "gre":
        print("%s: UDP source ports seen: %s" % (system, sorted(sports)[:8]))
elif tdir == "decap" and got:
    print("%s: frame sizes %s" % (system, sorted({len(f) for f in got})))
for b in bad[:10]:
    print("%s: %s" % (system, b))
if len(bad) > 10:
    print("%s: ... %d problems in all" % (system, len(bad)))
print("%s: %s" % (system, "OK" if got_n == len(sent) and not bad else "FAIL"))
EOF
}

verify_main() {
    local sys f out summary=()
    SCEN="${1:?usage: $0 SCENARIO (vxlan-encap | geneve-encap | gre-encap | vxlan-decap)}"
    bench_check
    scenario_define "$SCEN" || die "$SCEN is not a tunnel scenario"
    RUNID="$(date +%Y%m%d-%H%M%S)-verify-$SCEN"
    LOGDIR="$WORK/logs/$RUNID"
    mkdir -p "$LOGDIR"
    log "verify $SCEN: $DESC; source played once; sink -> pcap; logs in $LOGDIR"
    # shellcheck disable=SC2086  # the list of systems
    bench_rounds $SYSTEMS
    for sys in $SYSTEMS; do
        # the last run of the system (a failed run leaves no RESULT, maybe a pcap)
        f=$(find "$LOGDIR" -name "r*-$sys.sink.pcap" | sort | tail -1)
        if [ -z "$f" ] || [ ! -s "$f" ]; then
            echo "$sys: no capture (run failed? see $LOGDIR/r*-$sys.stderr)"
            summary+=("$sys FAIL (no capture)"); continue
        fi
        # the first frame that is not IPv6 chatter (-c counts frames read, not shown)
        tshark -r "$f" -V -Y 'not ipv6' -o ip.check_checksum:TRUE 2>&1 |
            awk '/^Frame [0-9]+:/ { n++ } n <= 1' > "${f%.pcap}.tshark"
        echo "$sys: tshark: $(grep -m1 'Protocols in frame' "${f%.pcap}.tshark" | sed 's/^ *//')$(grep -q -i 'malformed\|incorrect' "${f%.pcap}.tshark" && echo ', MALFORMED/INCORRECT field (see the .tshark file)')"
        out=$(check_pcap "$sys" "$f")
        echo "$out"
        summary+=("$sys ${out##* } ($(sed -n 's/^[^:]*: \([0-9]*\) frames captured.*/\1/p' <<< "$out") frames)")
    done
    echo "verify $SCEN: ${summary[*]}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    if [ "${1:-}" = --one ]; then             # --one SYSTEM SCENARIO TAG RUNID (under the lock)
        one_run "$2" "$3" "$4" "$5"
        exit $?
    fi
    verify_main "$@"
fi
