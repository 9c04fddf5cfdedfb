#!/usr/bin/env python3
# Copied from the team's shared anchor harness (../shared/bench/anchors/gen_pcap.py);
# without --vary-src-mac (our addition, for NORMAL with many MACs) its pcaps
# are byte-identical to the anchors' ones.
"""Write a classic libpcap file of IPv4/UDP frames with N distinct flows.

No dependencies (hand-written pcap + header encoding, no scapy).

Frame layout (default 64 bytes = DPDK pkt_len, i.e. without FCS):
  Ethernet  dst 02:00:00:00:00:02  src 02:00:00:00:00:01  type 0x0800
  IPv4      src 10.0.0.0 + 1 + i   dst 10.128.0.0 + 1 + i   proto 17  ttl 64
  UDP       sport 1024 + (i % 60000)  dport 5001
  zero payload padding up to --size
Flow i differs from flow j in src IP, dst IP and (mostly) UDP source port,
so every frame of a different flow has a different 5-tuple. With
--vary-src-mac flow i also has its own source MAC, --src-mac + i (as a
48-bit number): N flows are N MAC addresses for NORMAL to learn.

The file holds max(flows, --min-packets) frames; frame k carries flow k % flows.

With --vxlan VNI every frame above becomes the inner frame of a VXLAN
packet (RFC 7348), as a VTEP 172.31.1.2 would send it to the VTEP 172.31.1.1
(the tunnel scenarios of throughput.sh): outer Ethernet
--outer-src-mac -> --outer-dst-mac, IPv4 --outer-src-ip -> --outer-dst-ip
(ttl 64, DF, id 0, header checksum correct), UDP source port
49152 + (i % 16384) (flow i's own port, as a sender hashing the inner flow
would choose), destination --outer-dport (4789), UDP checksum 0 (allowed for
IPv4, RFC 7348 5), VXLAN flags 0x08 (VNI valid) and the VNI. The frame is
--size + 50 bytes (64 -> 114).

Usage: gen_pcap.py --flows N --out FILE [--size 64] [--min-packets 64]
                   [--src-mac ..] [--dst-mac ..] [--vary-src-mac]
                   [--vxlan VNI [--outer-src-mac ..] [--outer-dst-mac ..]
                    [--outer-src-ip ..] [--outer-dst-ip ..] [--outer-dport 4789]]
"""
import argparse
import struct


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def mac_plus(mac, i):
    """The 6-byte MAC `mac` + i, as 48-bit numbers."""
    return ((int.from_bytes(mac, "big") + i) % (1 << 48)).to_bytes(6, "big")


def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(i, size, src_mac, dst_mac):
    src_ip = (10 << 24) + 1 + i
    dst_ip = (10 << 24) + (128 << 16) + 1 + i
    sport = 1024 + (i % 60000)
    dport = 5001
    l4_len = size - 14 - 20
    payload = b"\0" * (l4_len - 8)
    ip_hdr = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + l4_len, i & 0xFFFF, 0,
                         64, 17, 0, src_ip, dst_ip)
    ip_hdr = ip_hdr[:10] + struct.pack("!H", csum16(ip_hdr)) + ip_hdr[12:]
    pseudo = struct.pack("!IIBBH", src_ip, dst_ip, 0, 17, l4_len)
    udp = struct.pack("!HHHH", sport, dport, l4_len, 0) + payload
    ucs = csum16(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    return dst_mac + src_mac + b"\x08\x00" + ip_hdr + udp


def ip_bytes(s):
    return bytes(int(x) for x in s.split("."))


def vxlan(i, inner, a):
    """`inner` (flow i's frame) in VXLAN/UDP/IPv4/Ethernet as described above."""
    vx = struct.pack("!II", 0x08 << 24, a.vxlan << 8)
    udp_len = 8 + len(vx) + len(inner)
    udp = struct.pack("!HHHH", 49152 + (i % 16384), a.outer_dport, udp_len, 0)
    ip_hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000,
                         64, 17, 0, ip_bytes(a.outer_src_ip), ip_bytes(a.outer_dst_ip))
    ip_hdr = ip_hdr[:10] + struct.pack("!H", csum16(ip_hdr)) + ip_hdr[12:]
    return (mac_bytes(a.outer_dst_mac) + mac_bytes(a.outer_src_mac) + b"\x08\x00"
            + ip_hdr + udp + vx + inner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--min-packets", type=int, default=64)
    ap.add_argument("--src-mac", default="02:00:00:00:00:01")
    ap.add_argument("--dst-mac", default="02:00:00:00:00:02")
    ap.add_argument("--vary-src-mac", action="store_true",
                    help="flow i gets source MAC --src-mac + i")
    ap.add_argument("--vxlan", type=int, metavar="VNI",
                    help="encapsulate every frame in VXLAN with this VNI")
    ap.add_argument("--outer-src-mac", default="02:00:00:00:aa:02")
    ap.add_argument("--outer-dst-mac", default="02:00:00:00:aa:01")
    ap.add_argument("--outer-src-ip", default="172.31.1.2")
    ap.add_argument("--outer-dst-ip", default="172.31.1.1")
    ap.add_argument("--outer-dport", type=int, default=4789)
    a = ap.parse_args()
    if a.size < 14 + 20 + 8:
        raise SystemExit("size too small")
    if a.flows < 1 or a.flows > 8000000:
        raise SystemExit("flows must be 1..8000000")
    if a.vxlan is not None and not 0 <= a.vxlan < (1 << 24):
        raise SystemExit("VNI must be 0..16777215")
    src_mac, dst_mac = mac_bytes(a.src_mac), mac_bytes(a.dst_mac)
    npkts = max(a.flows, a.min_packets)
    cache = {}
    with open(a.out, "wb") as f:
        # pcap global header: magic, v2.4, thiszone, sigfigs, snaplen, LINKTYPE_ETHERNET
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(npkts):
            i = k % a.flows
            fr = cache.get(i)
            if fr is None:
                fr = frame(i, a.size, mac_plus(src_mac, i) if a.vary_src_mac else src_mac, dst_mac)
                if a.vxlan is not None:
                    fr = vxlan(i, fr, a)
                if a.flows <= 4096:
                    cache[i] = fr
            f.write(struct.pack("<IIII", k // 1000000, k % 1000000, len(fr), len(fr)))
            f.write(fr)
    print("wrote %s: %d frames, %d flows, %d bytes each%s" % (
        a.out, npkts, a.flows, a.size + (50 if a.vxlan is not None else 0),
        " (VXLAN VNI %d, inner %d bytes)" % (a.vxlan, a.size) if a.vxlan is not None else ""))


if __name__ == "__main__":
    main()
