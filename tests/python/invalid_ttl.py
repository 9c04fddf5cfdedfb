"""An expired TTL seen by a controller (os-ken's OpenFlow 1.3 encoder), for dec_mpls_ttl on an
MPLS frame and dec_nw_ttl on an IPv4 one: with OFPC_INVALID_TTL_TO_CONTROLLER set in SET_CONFIG
the packet comes up as a packet-in of reason invalid_ttl, without it nothing comes up. The
packet enters the pipeline by a packet-out to output:TABLE. tests/e2e/openflow_async.rs runs it
against the switch.

    invalid_ttl.py --connect tcp:HOST:PORT
"""
import argparse
import struct
import time

from flow_roundtrip import Channel

# OFPC_INVALID_TTL_TO_CONTROLLER: OpenFlow 1.0's and 1.1's config flag, which Open vSwitch keeps
# in 1.3 (os-ken's 1.3 module has no name for it).
INVALID_TTL_TO_CONTROLLER = 4

ETHERNET = bytes.fromhex("020000000002" "020000000001")

# An MPLS frame (label 16, bottom of stack, TTL 1) over a few bytes of payload.
MPLS_FRAME = ETHERNET + bytes.fromhex("8847" "00010101") + bytes(46)


def ipv4_frame(ttl):
    """A UDP datagram in IPv4 with `ttl`, its header checksum right."""
    udp = struct.pack("!HHHH", 1000, 2000, 8 + 18, 0) + bytes(18)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, ttl, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    total = sum(struct.unpack("!10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
    return ETHERNET + bytes.fromhex("0800") + header + udp


# (what, the rule's eth_type, its TTL action, the frame whose TTL expires)
CASES = [
    ("dec_mpls_ttl", 0x8847, lambda p: p.OFPActionDecMplsTtl(), MPLS_FRAME),
    ("dec_nw_ttl", 0x0800, lambda p: p.OFPActionDecNwTtl(), ipv4_frame(1)),
]


def packet_ins_after(chan, ttl_to_controller, frame):
    """Sets the flag, sends the frame through the tables, returns the packet-ins that came."""
    p, ofp = chan.parser, chan.ofp
    flags = INVALID_TTL_TO_CONTROLLER if ttl_to_controller else 0
    chan.send(p.OFPSetConfig(chan.dp, flags, 0xFFFF))
    chan.barrier()
    chan.send(p.OFPPacketOut(chan.dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
                             actions=[p.OFPActionOutput(ofp.OFPP_TABLE, 0)], data=frame))
    came = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        came += [m for m in chan.barrier() if isinstance(m, p.OFPPacketIn)]
        if came:
            break
        time.sleep(0.1)
    return came


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connect", required=True)
    args = parser.parse_args()
    chan = Channel(args.connect, 4)
    chan.hello()
    p, ofp = chan.parser, chan.ofp
    for what, eth_type, action, frame in CASES:
        match = p.OFPMatch(eth_type=eth_type)
        actions = [action(p), p.OFPActionOutput(2, 0)]
        chan.send(p.OFPFlowMod(chan.dp, match=match, priority=10, command=ofp.OFPFC_ADD,
                               instructions=[p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]))
        errors = [m for m in chan.barrier() if isinstance(m, p.OFPErrorMsg)]
        if errors:
            raise SystemExit(f"{what}: flow_mod refused: {errors}")
        asked = packet_ins_after(chan, True, frame)
        if len(asked) != 1 or asked[0].reason != ofp.OFPR_INVALID_TTL or asked[0].data != frame:
            raise SystemExit(f"{what} with the flag: expected one invalid_ttl packet-in of the frame, got {asked}")
        unasked = packet_ins_after(chan, False, frame)
        if unasked:
            raise SystemExit(f"{what} without the flag: expected no packet-in, got {unasked}")
        print(f"{what}: invalid_ttl packet-in with the flag, none without")


if __name__ == "__main__":
    main()
