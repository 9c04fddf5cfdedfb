"""Flows come back as they were sent: a property test of a switch's OpenFlow channel with an
independent encoder and decoder (os-ken's ofproto parsers).

Generates COUNT random flow_mods from a seed (matches with masks and prerequisites, every
action and instruction the switch claims, the header fields a controller sets), sends them on
one OpenFlow connection (unix socket or tcp), then compares field by field what flow stats
return, and for flows with send_flow_rem what the FLOW_REMOVED of a delete carries, with what
was sent. Prints one line per difference and per refused flow_mod; exits 1 if there was any.
tests/e2e/openflow_roundtrip.rs runs it against the switch and, to check the expectations
themselves, against Open vSwitch.

    flow_roundtrip.py --connect unix:PATH|tcp:HOST:PORT --version 1.0|1.3|1.4|1.5 --count N --seed S
                      [--beyond-ovs]

--beyond-ovs adds, to 1.3+ matches, fields the switch has and Open vSwitch does not (ipv6_exthdr),
from a random sequence of their own: the other fields of every flow stay those of the run without.

1.4 and 1.5 send the same flows as 1.3 through os-ken's ofproto_v1_4/v1_5 parsers (1.4: SET_ASYNC
as properties; 1.5: the meter as an action first in apply_actions, copy_field, flow stats as
OFPMP_FLOW_DESC with OXS statistics, FLOW_REMOVED with OXS, the group_mod with bucket ids).
"""
import argparse
import random
import socket
import struct
import sys
import time

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_protocol
from os_ken.ofproto import ofproto_v1_5_parser
from os_ken.ofproto import ofproto_v1_0, ofproto_v1_3, ofproto_v1_4, ofproto_v1_5

VERSIONS = {"1.0": ofproto_v1_0.OFP_VERSION, "1.3": ofproto_v1_3.OFP_VERSION, "1.4": ofproto_v1_4.OFP_VERSION,
            "1.5": ofproto_v1_5.OFP_VERSION}
V1_3 = ofproto_v1_3.OFP_VERSION
V1_5 = ofproto_v1_5.OFP_VERSION


def _copy_field_parser(cls, buf, offset):
    """os-ken 3.1's OFPActionCopyField.parser reads len_ bytes after the fixed part, past the
    action (into the next one), and then fails, and leaves the action's len at the fixed part's
    (so the next action is read from the wrong place); this reads the two OXM ids of the action
    only and keeps its length."""
    (type_, len_, n_bits, src_offset, dst_offset) = struct.unpack_from(
        ofproto_v1_5.OFP_ACTION_COPY_FIELD_PACK_STR, buf, offset)
    rest = bytes(buf[offset + ofproto_v1_5.OFP_ACTION_COPY_FIELD_SIZE:offset + len_])
    oxm_ids = []
    for _ in range(2):
        oxm_id, rest = ofproto_v1_5_parser.OFPOxmId.parse(rest)
        oxm_ids.append(oxm_id)
    action = cls(n_bits, src_offset, dst_offset, oxm_ids, type_, len_)
    action.len = len_
    return action


ofproto_v1_5_parser.OFPActionCopyField.parser = classmethod(_copy_field_parser)

# Every wait of the exchange is bounded by this many seconds.
TIMEOUT = 20.0
GROUP_ID = 7
METER_ID = 3
PORTS = [1, 2, 3]
DELETE_CHUNK = 50
# With --beyond-ovs, the random source of the fields Open vSwitch does not have.
BEYOND_OVS = None


class Channel:
    """One OpenFlow connection: framed send and receive, os-ken messages both ways."""

    def __init__(self, target, version):
        kind, _, where = target.partition(":")
        if kind == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(where)
        elif kind == "tcp":
            host, _, port = where.rpartition(":")
            self.sock = socket.create_connection((host, int(port)))
        else:
            raise SystemExit(f"bad target {target}")
        self.sock.settimeout(TIMEOUT)
        self.dp = ofproto_protocol.ProtocolDesc(version)
        self.ofp = self.dp.ofproto
        self.parser = self.dp.ofproto_parser
        self.buf = b""
        self.xid = 100
        self.pending = []

    def send(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        msg.serialize()
        self.sock.sendall(msg.buf)
        return self.xid

    def recv(self):
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if len(self.buf) >= 8:
                version, msg_type, msg_len, xid = ofproto_parser.header(self.buf)
                if len(self.buf) >= msg_len:
                    raw, self.buf = self.buf[:msg_len], self.buf[msg_len:]
                    try:
                        return ofproto_parser.msg(self.dp, version, msg_type, msg_len, xid, raw)
                    except AssertionError:
                        raise SystemExit(f"os-ken cannot parse message type {msg_type}: {raw.hex()}")
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the switch")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("the switch closed the connection")
            self.buf += chunk

    def hello(self):
        self.send(self.parser.OFPHello(self.dp))
        msg = self.recv()
        # The peer's HELLO may carry its highest version and a bitmap (Open vSwitch's does).
        if type(msg).__name__ != "OFPHello":
            raise SystemExit(f"expected HELLO, got {msg}")

    def barrier(self):
        """Sends a barrier; returns every message that came before its reply."""
        xid = self.send(self.parser.OFPBarrierRequest(self.dp))
        before = []
        while True:
            msg = self.recv()
            if isinstance(msg, self.parser.OFPBarrierReply) and msg.xid == xid:
                return before
            before.append(msg)


def mac(rng):
    return ":".join(f"{rng.randrange(256):02x}" for _ in range(6))


def masked_mac(rng):
    mask = rng.choice(["ff:ff:ff:00:00:00", "01:00:00:00:00:00", "ff:ff:ff:ff:ff:f0"])
    value = [int(a, 16) & int(m, 16) for a, m in zip(mac(rng).split(":"), mask.split(":"))]
    return (":".join(f"{b:02x}" for b in value), mask)


def ipv4(rng):
    return ".".join(str(rng.randrange(256)) for _ in range(4))


def masked_ipv4(rng):
    prefix = rng.choice([8, 16, 24, 30])
    value = rng.getrandbits(32) & ((1 << 32) - (1 << (32 - prefix)))
    mask = (1 << 32) - (1 << (32 - prefix))
    dotted = lambda n: ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))
    return (dotted(value), dotted(mask))


def ipv6(rng):
    return ":".join(f"{rng.randrange(1 << 16):x}" for _ in range(8))


def masked_ipv6(rng):
    prefix = rng.choice([32, 48, 64])
    groups = [rng.randrange(1 << 16) if i * 16 < prefix else 0 for i in range(8)]
    mask = ["ffff" if i * 16 < prefix else "0" for i in range(8)]
    return (":".join(f"{g:x}" for g in groups), ":".join(mask))


def random_match_v1_3(rng):
    """A match of fields the switch supports, prerequisites given, values inside masks."""
    fields = {}
    if rng.random() < 0.5:
        fields["in_port"] = rng.choice(PORTS)
    if rng.random() < 0.4:
        fields["eth_dst"] = mac(rng) if rng.random() < 0.5 else masked_mac(rng)
    if rng.random() < 0.4:
        fields["eth_src"] = mac(rng) if rng.random() < 0.5 else masked_mac(rng)
    vlan = rng.random()
    if vlan < 0.2:
        fields["vlan_vid"] = 0x1000 | rng.randrange(1, 4095)
        if rng.random() < 0.5:
            fields["vlan_pcp"] = rng.randrange(8)
    elif vlan < 0.3:
        fields["vlan_vid"] = (0x1000, 0x1000)
    elif vlan < 0.35:
        fields["vlan_vid"] = 0
    l3 = rng.choice(["none", "ipv4", "ipv4", "ipv6", "arp", "mpls", "other"])
    if l3 == "ipv4":
        fields["eth_type"] = 0x0800
        if rng.random() < 0.5:
            fields["ipv4_src"] = ipv4(rng) if rng.random() < 0.5 else masked_ipv4(rng)
        if rng.random() < 0.5:
            fields["ipv4_dst"] = ipv4(rng) if rng.random() < 0.5 else masked_ipv4(rng)
    elif l3 == "ipv6":
        fields["eth_type"] = 0x86DD
        if rng.random() < 0.5:
            fields["ipv6_src"] = ipv6(rng) if rng.random() < 0.5 else masked_ipv6(rng)
        if rng.random() < 0.5:
            fields["ipv6_dst"] = ipv6(rng) if rng.random() < 0.5 else masked_ipv6(rng)
        if rng.random() < 0.3:
            fields["ipv6_flabel"] = rng.randrange(1 << 20)
        if BEYOND_OVS is not None and BEYOND_OVS.random() < 0.3:
            flags = BEYOND_OVS.randrange(1 << 9)
            # A mask of fewer than all 9 bits (all of them is the exact match).
            mask = BEYOND_OVS.randrange(1, (1 << 9) - 1)
            fields["ipv6_exthdr"] = flags if BEYOND_OVS.random() < 0.5 else (flags & mask, mask)
    elif l3 == "arp":
        fields["eth_type"] = 0x0806
        if rng.random() < 0.5:
            fields["arp_op"] = rng.choice([1, 2])
        if rng.random() < 0.5:
            fields["arp_spa"] = ipv4(rng) if rng.random() < 0.5 else masked_ipv4(rng)
        if rng.random() < 0.5:
            fields["arp_tpa"] = masked_ipv4(rng)
        if rng.random() < 0.3:
            fields["arp_sha"] = mac(rng)
        if rng.random() < 0.3:
            fields["arp_tha"] = masked_mac(rng)
    elif l3 == "mpls":
        fields["eth_type"] = rng.choice([0x8847, 0x8848])
        if rng.random() < 0.5:
            fields["mpls_label"] = rng.randrange(1 << 20)
        if rng.random() < 0.4:
            fields["mpls_tc"] = rng.randrange(8)
        if rng.random() < 0.4:
            fields["mpls_bos"] = rng.randrange(2)
    elif l3 == "other":
        fields["eth_type"] = rng.choice([0x88CC, 0x8809, 0x9000])
    if l3 in ("ipv4", "ipv6"):
        if rng.random() < 0.3:
            fields["ip_dscp"] = rng.randrange(64)
        if rng.random() < 0.3:
            fields["ip_ecn"] = rng.randrange(4)
        icmp = 1 if l3 == "ipv4" else 58
        proto = rng.choice([None, 6, 17, 132, icmp])
        if proto is not None:
            fields["ip_proto"] = proto
        names = {6: "tcp", 17: "udp", 132: "sctp"}
        if proto in names:
            for side in ("src", "dst"):
                if rng.random() < 0.5:
                    fields[f"{names[proto]}_{side}"] = rng.randrange(1 << 16)
        elif proto == 1:
            if rng.random() < 0.5:
                fields["icmpv4_type"] = rng.randrange(256)
            if rng.random() < 0.5:
                fields["icmpv4_code"] = rng.randrange(256)
        elif proto == 58:
            kind = rng.choice([None, 128, 135, 136])
            if kind is not None:
                fields["icmpv6_type"] = kind
                if rng.random() < 0.5:
                    fields["icmpv6_code"] = 0
                if kind in (135, 136) and rng.random() < 0.7:
                    fields["ipv6_nd_target"] = ipv6(rng)
                if kind == 135 and rng.random() < 0.5:
                    fields["ipv6_nd_sll"] = mac(rng)
                if kind == 136 and rng.random() < 0.5:
                    fields["ipv6_nd_tll"] = mac(rng)
    if rng.random() < 0.2:
        value = rng.getrandbits(64)
        fields["metadata"] = value if rng.random() < 0.5 else (value & 0xFFFF0000FFFF0000, 0xFFFF0000FFFF0000)
    if rng.random() < 0.2:
        value = rng.getrandbits(64)
        fields["tunnel_id"] = value if rng.random() < 0.5 else (value & 0xFFFFFFFF, 0xFFFFFFFF)
    return fields


def is_tagged(match):
    """Whether the match says the packet has a VLAN tag (OFPVID_PRESENT matched as 1)."""
    vid = match.get("vlan_vid")
    return vid is not None and (vid[0] if isinstance(vid, tuple) else vid) & 0x1000 != 0


def set_fields_for(match, tagged, rng):
    """set_field actions whose prerequisites the match (and a tag, if `tagged`) gives."""
    options = [
        ("eth_src", mac(rng)),
        ("eth_dst", mac(rng)),
        ("tunnel_id", rng.getrandbits(64)),
    ]
    if tagged:
        options += [("vlan_vid", 0x1000 | rng.randrange(4096)), ("vlan_pcp", rng.randrange(8))]
    eth_type = match.get("eth_type")
    if eth_type == 0x0800:
        options += [("ipv4_src", ipv4(rng)), ("ipv4_dst", ipv4(rng))]
    if eth_type == 0x86DD:
        options += [("ipv6_src", ipv6(rng)), ("ipv6_dst", ipv6(rng)), ("ipv6_flabel", rng.randrange(1 << 20))]
    if eth_type in (0x0800, 0x86DD):
        options += [("ip_dscp", rng.randrange(64)), ("ip_ecn", rng.randrange(4))]
    if eth_type == 0x0806:
        options += [("arp_op", rng.choice([1, 2])), ("arp_spa", ipv4(rng)), ("arp_tpa", ipv4(rng)),
                    ("arp_sha", mac(rng)), ("arp_tha", mac(rng))]
    if eth_type in (0x8847, 0x8848):
        options += [("mpls_label", rng.randrange(1 << 20)), ("mpls_tc", rng.randrange(8))]
    proto = match.get("ip_proto")
    names = {6: "tcp", 17: "udp", 132: "sctp"}
    if proto in names:
        options += [(f"{names[proto]}_src", rng.randrange(1 << 16)), (f"{names[proto]}_dst", rng.randrange(1 << 16))]
    if proto == 1:
        options += [("icmpv4_type", rng.randrange(256)), ("icmpv4_code", rng.randrange(256))]
    return options


def random_actions_v1_3(chan, match, rng, action_set):
    """A non-empty action list consistent with the match (Open vSwitch refuses a pop_vlan or a
    vlan set_field where the packet can have no tag as MATCH_INCONSISTENT, and drops an empty
    apply_actions or write_actions instruction from what it reports, so neither is generated)."""
    p, ofp = chan.parser, chan.ofp
    max_len = lambda: rng.choice([0, ofp.OFPCML_MAX, ofp.OFPCML_NO_BUFFER, rng.randrange(1 << 16)])
    ip = match.get("eth_type") in (0x0800, 0x86DD)
    tagged = is_tagged(match)
    if action_set:
        # An action set holds one action of a kind: set_fields of distinct fields, then a
        # group or an output.
        # No VLAN field: the apply actions may have popped the tag before the set executes.
        options = set_fields_for(match, False, rng)
        fields = dict(rng.sample(options, k=rng.randrange(min(3, len(options)))))
        actions = []
        if ip and rng.random() < 0.3:
            actions.append(p.OFPActionDecNwTtl())
        actions += [p.OFPActionSetField(**{name: value}) for name, value in fields.items()]
        if rng.random() < 0.3:
            actions.append(p.OFPActionGroup(GROUP_ID))
        else:
            actions.append(p.OFPActionOutput(rng.choice(PORTS + [ofp.OFPP_CONTROLLER]), max_len()))
        return actions
    actions = []
    # push_mpls and pop_mpls change the packet's type for the actions after them: the match the
    # set_fields and TTL actions must agree with.
    after = dict(match)
    while not actions:
        for _ in range(rng.randrange(1, 5)):
            kind = rng.choice(["output", "output", "reserved", "set_field", "vlan", "ttl", "group", "mpls", "copy"])
            mpls = after.get("eth_type") in (0x8847, 0x8848)
            ip = after.get("eth_type") in (0x0800, 0x86DD)
            if kind == "mpls" and mpls:
                choice = rng.randrange(4)
                if choice == 0:
                    ethertype = rng.choice([0x8847, 0x0800, 0x86DD])
                    actions.append(p.OFPActionPopMpls(ethertype))
                    after = {"eth_type": ethertype}
                elif choice == 1:
                    actions.append(p.OFPActionSetMplsTtl(rng.randrange(256)))
                elif choice == 2:
                    actions.append(p.OFPActionDecMplsTtl())
                else:
                    actions.append(p.OFPActionPushMpls(rng.choice([0x8847, 0x8848])))
            elif kind == "mpls":
                ethertype = rng.choice([0x8847, 0x8848])
                actions.append(p.OFPActionPushMpls(ethertype))
                after = {"eth_type": ethertype}
            if kind == "output":
                actions.append(p.OFPActionOutput(rng.choice(PORTS), max_len()))
            elif kind == "reserved":
                port = rng.choice([ofp.OFPP_IN_PORT, ofp.OFPP_NORMAL, ofp.OFPP_FLOOD, ofp.OFPP_ALL,
                                   ofp.OFPP_LOCAL, ofp.OFPP_CONTROLLER])
                actions.append(p.OFPActionOutput(port, max_len()))
            elif kind == "set_field":
                name, value = rng.choice(set_fields_for(after, tagged, rng))
                actions.append(p.OFPActionSetField(**{name: value}))
            elif kind == "vlan" and tagged:
                actions.append(p.OFPActionPopVlan())
                tagged = False
            elif kind == "vlan":
                actions.append(p.OFPActionPushVlan(rng.choice([0x8100, 0x88A8])))
                tagged = True
            elif kind == "ttl" and ip:
                actions.append(rng.choice([p.OFPActionDecNwTtl(), p.OFPActionSetNwTtl(rng.randrange(256))]))
            elif kind == "group":
                actions.append(p.OFPActionGroup(GROUP_ID))
            elif kind == "copy" and chan.dp.ofproto.OFP_VERSION >= V1_5:
                # 1.5's copy_field: a whole field into another of its width (the switch's move).
                src, dst, bits = rng.choice([("eth_src", "eth_dst", 48), ("eth_dst", "eth_src", 48)] + (
                    [("ipv4_src", "ipv4_dst", 32)] if after.get("eth_type") == 0x0800 else []))
                actions.append(p.OFPActionCopyField(bits, 0, 0, [src, dst]))
    return actions, after


def random_flow_mod_v1_3(chan, rng, priority):
    p, ofp = chan.parser, chan.ofp
    fields = random_match_v1_3(rng)
    table = rng.randrange(4)
    instructions = []
    meter = rng.random() < 0.2
    v1_5 = ofp.OFP_VERSION >= V1_5
    if meter and not v1_5:
        instructions.append(p.OFPInstructionMeter(METER_ID))
    # 1.5 has the meter as an action, first in apply_actions (as Open vSwitch sends it).
    meter_action = [p.OFPActionMeter(METER_ID)] if meter and v1_5 else []
    # The packet as the apply actions leave it (push_mpls and pop_mpls change its type), which
    # the action set must fit.
    after = fields
    if rng.random() < 0.8:
        applied, after = random_actions_v1_3(chan, fields, rng, False)
        instructions.append(p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, meter_action + applied))
    elif meter_action:
        instructions.append(p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, meter_action))
    if rng.random() < 0.2:
        instructions.append(p.OFPInstructionActions(ofp.OFPIT_CLEAR_ACTIONS, []))
    if rng.random() < 0.3:
        instructions.append(p.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, random_actions_v1_3(chan, after, rng, True)))
    if rng.random() < 0.2:
        mask = rng.choice([0xFFFFFFFFFFFFFFFF, 0xFF, 0xFFFF0000])
        instructions.append(p.OFPInstructionWriteMetadata(rng.getrandbits(64) & mask, mask))
    if table < 3 and rng.random() < 0.4:
        instructions.append(p.OFPInstructionGotoTable(rng.randrange(table + 1, 4)))
    return p.OFPFlowMod(
        chan.dp, cookie=rng.getrandbits(64), table_id=table, command=ofp.OFPFC_ADD,
        idle_timeout=rng.choice([0, rng.randrange(600, 3600)]), hard_timeout=rng.choice([0, rng.randrange(600, 3600)]),
        priority=priority, buffer_id=ofp.OFP_NO_BUFFER, flags=rng.choice([0, ofp.OFPFF_SEND_FLOW_REM]),
        match=p.OFPMatch(**fields), instructions=instructions)


def random_flow_mod_v1_0(chan, rng, priority):
    p, ofp = chan.parser, chan.ofp
    fields = {}
    if rng.random() < 0.5:
        fields["in_port"] = rng.choice(PORTS)
    if rng.random() < 0.4:
        fields["dl_src"] = mac(rng)
    if rng.random() < 0.4:
        fields["dl_dst"] = mac(rng)
    if rng.random() < 0.3:
        fields["dl_vlan"] = rng.choice([rng.randrange(4096), 0xFFFF])
        if fields["dl_vlan"] != 0xFFFF and rng.random() < 0.5:
            fields["dl_vlan_pcp"] = rng.randrange(8)
    l3 = rng.choice(["none", "ip", "ip", "arp"])
    if l3 == "ip":
        fields["dl_type"] = 0x0800
        if rng.random() < 0.4:
            fields["nw_tos"] = rng.randrange(64) << 2
        if rng.random() < 0.5:
            fields["nw_src"], fields["nw_src_mask"] = ipv4(rng), rng.choice([8, 16, 24, 32])
        if rng.random() < 0.5:
            fields["nw_dst"], fields["nw_dst_mask"] = ipv4(rng), rng.choice([8, 16, 24, 32])
        proto = rng.choice([None, 1, 6, 17])
        if proto is not None:
            fields["nw_proto"] = proto
            limit = 256 if proto == 1 else 1 << 16
            if rng.random() < 0.6:
                fields["tp_src"] = rng.randrange(limit)
            if rng.random() < 0.6:
                fields["tp_dst"] = rng.randrange(limit)
    elif l3 == "arp":
        fields["dl_type"] = 0x0806
        if rng.random() < 0.5:
            fields["nw_proto"] = rng.choice([1, 2])
        if rng.random() < 0.5:
            fields["nw_src"], fields["nw_src_mask"] = ipv4(rng), rng.choice([16, 32])
    # Mask the addresses as the switch stores them (host bits zero).
    for side in ("nw_src", "nw_dst"):
        if side in fields:
            bits = fields[f"{side}_mask"]
            value = int.from_bytes(socket.inet_aton(fields[side]), "big") & ((1 << 32) - (1 << (32 - bits)))
            fields[side] = socket.inet_ntoa(value.to_bytes(4, "big"))
    max_len = lambda: rng.choice([0, 0xFFE5, 0xFFFF, 128])
    actions = []
    for _ in range(rng.randrange(0, 4)):
        kind = rng.choice(["output", "output", "reserved", "vlan", "dl", "nw", "tp", "mpls"])
        if kind == "mpls":
            # Open vSwitch's Nicira MPLS actions; the packet is MPLS after the push, so they end
            # the list (an IP rewrite after them would not fit the packet).
            actions.append(p.NXActionPushMpls(rng.choice([0x8847, 0x8848])))
            actions += rng.sample([p.NXActionSetMplsLabel(rng.randrange(1 << 20)), p.NXActionSetMplsTc(rng.randrange(8)),
                                   p.NXActionSetMplsTtl(rng.randrange(256)), p.NXActionDecMplsTtl()], k=rng.randrange(3))
            actions.append(p.OFPActionOutput(rng.choice(PORTS), max_len()))
            break
        if kind == "output":
            actions.append(p.OFPActionOutput(rng.choice(PORTS), max_len()))
        elif kind == "reserved":
            actions.append(p.OFPActionOutput(rng.choice([ofp.OFPP_IN_PORT, ofp.OFPP_NORMAL, ofp.OFPP_FLOOD,
                                                        ofp.OFPP_ALL, ofp.OFPP_LOCAL, ofp.OFPP_CONTROLLER]), max_len()))
        elif kind == "vlan":
            actions.append(rng.choice([p.OFPActionVlanVid(rng.randrange(4096)), p.OFPActionVlanPcp(rng.randrange(8)),
                                       p.OFPActionStripVlan()]))
        elif kind == "dl":
            actions.append(rng.choice([p.OFPActionSetDlSrc(bytes(rng.randrange(256) for _ in range(6))),
                                       p.OFPActionSetDlDst(bytes(rng.randrange(256) for _ in range(6)))]))
        elif kind == "nw" and fields.get("dl_type") == 0x0800:
            actions.append(rng.choice([p.OFPActionSetNwSrc(rng.getrandbits(32)), p.OFPActionSetNwDst(rng.getrandbits(32)),
                                       p.OFPActionSetNwTos(rng.randrange(64) << 2)]))
        elif kind == "tp" and fields.get("nw_proto") in (6, 17):
            actions.append(rng.choice([p.OFPActionSetTpSrc(rng.randrange(1 << 16)), p.OFPActionSetTpDst(rng.randrange(1 << 16))]))
    return p.OFPFlowMod(
        chan.dp, match=p.OFPMatch(**fields), cookie=rng.getrandbits(64), command=ofp.OFPFC_ADD,
        idle_timeout=rng.choice([0, rng.randrange(600, 3600)]), hard_timeout=rng.choice([0, rng.randrange(600, 3600)]),
        priority=priority, buffer_id=0xFFFFFFFF, out_port=ofp.OFPP_NONE,
        flags=rng.choice([0, ofp.OFPFF_SEND_FLOW_REM]), actions=actions)


def match_fields(match):
    """A match as comparable data: {field: value or (value, mask)}."""
    if hasattr(match, "_fields2"):
        return dict(match._fields2)
    # OpenFlow 1.0: the fields the wildcards leave matched, addresses with their prefix length
    # (a wildcard count of 32 or more is the whole address, however it is written).
    jd = match.to_jsondict()["OFPMatch"]
    wildcards = jd["wildcards"]
    bits = {"in_port": 1 << 0, "dl_vlan": 1 << 1, "dl_src": 1 << 2, "dl_dst": 1 << 3, "dl_type": 1 << 4,
            "nw_proto": 1 << 5, "tp_src": 1 << 6, "tp_dst": 1 << 7, "dl_vlan_pcp": 1 << 20, "nw_tos": 1 << 21}
    fields = {name: jd[name] for name, bit in bits.items() if not wildcards & bit}
    for name, shift in (("nw_src", 8), ("nw_dst", 14)):
        prefix = 32 - min((wildcards >> shift) & 0x3F, 32)
        if prefix:
            fields[name] = (jd[name], prefix)
    if fields.get("dl_vlan") == 0xFFFF:
        # No tag: Open vSwitch reports the priority as matched 0 (its TCI is matched exactly).
        fields.pop("dl_vlan_pcp", None)
    return fields


def as_data(items):
    return [i.to_jsondict() for i in items]


def key_of(version, flow):
    """What identifies a flow in stats: priority is unique per generated flow."""
    return flow.priority


def flow_view(version, flow, with_actions=True):
    # An OpenFlow 1.0 FLOW_REMOVED has no hard_timeout: a field either side lacks is not compared.
    view = {name: getattr(flow, name) for name in ("priority", "idle_timeout", "hard_timeout") if hasattr(flow, name)}
    view |= {"cookie": hex(flow.cookie), "match": match_fields(flow.match)}
    if version >= V1_3:
        view["table_id"] = flow.table_id
        if hasattr(flow, "flags"):
            view["flags"] = flow.flags
        if with_actions:
            view["instructions"] = as_data(flow.instructions)
    elif with_actions:
        view["actions"] = as_data(flow.actions)
    return view


def differences(sent, got):
    out = []
    for name in sent:
        if name not in got:
            continue
        if sent[name] != got[name]:
            out.append(f"{name}: sent {sent[name]} got {got[name]}")
    return out


def setup_v1_3(chan):
    p, ofp = chan.parser, chan.ofp
    # Every flow-removed reason, whatever the connection's role (Open vSwitch sends none on a
    # management socket connection by default).
    every_reason = (1 << ofp.OFPRR_IDLE_TIMEOUT) | (1 << ofp.OFPRR_HARD_TIMEOUT) | (1 << ofp.OFPRR_DELETE) | (
        1 << ofp.OFPRR_GROUP_DELETE)
    if ofp.OFP_VERSION == V1_3:
        chan.send(p.OFPSetAsync(chan.dp, [0, 0], [0, 0], [every_reason, every_reason]))
    else:
        # 1.4: the masks as properties (only those that change).
        chan.send(p.OFPSetAsync(chan.dp, [
            p.OFPAsyncConfigPropReasons(ofp.OFPACPT_FLOW_REMOVED_SLAVE, mask=every_reason),
            p.OFPAsyncConfigPropReasons(ofp.OFPACPT_FLOW_REMOVED_MASTER, mask=every_reason)]))
    chan.send(p.OFPFlowMod(chan.dp, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                           out_group=ofp.OFPG_ANY, match=p.OFPMatch()))
    chan.send(p.OFPGroupMod(chan.dp, ofp.OFPGC_DELETE, ofp.OFPGT_ALL, ofp.OFPG_ALL))
    chan.send(p.OFPMeterMod(chan.dp, ofp.OFPMC_DELETE, 0, ofp.OFPM_ALL, []))
    if ofp.OFP_VERSION >= V1_5:
        chan.send(p.OFPGroupMod(chan.dp, ofp.OFPGC_ADD, ofp.OFPGT_ALL, GROUP_ID,
                                buckets=[p.OFPBucket(bucket_id=0, actions=[p.OFPActionOutput(1, 0)])]))
    else:
        chan.send(p.OFPGroupMod(chan.dp, ofp.OFPGC_ADD, ofp.OFPGT_ALL, GROUP_ID,
                                [p.OFPBucket(actions=[p.OFPActionOutput(1, 0)])]))
    chan.send(p.OFPMeterMod(chan.dp, ofp.OFPMC_ADD, ofp.OFPMF_KBPS, METER_ID,
                            [p.OFPMeterBandDrop(rate=1000, burst_size=0)]))
    errors = [m for m in chan.barrier() if isinstance(m, p.OFPErrorMsg)]
    if errors:
        raise SystemExit(f"setting up group {GROUP_ID} and meter {METER_ID} failed: {errors}")


def strict_delete(chan, version, flow_mod):
    p, ofp = chan.parser, chan.ofp
    if version >= V1_3:
        return p.OFPFlowMod(chan.dp, table_id=flow_mod.table_id, command=ofp.OFPFC_DELETE_STRICT,
                            priority=flow_mod.priority, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                            match=flow_mod.match)
    return p.OFPFlowMod(chan.dp, match=flow_mod.match, cookie=0, command=ofp.OFPFC_DELETE_STRICT, idle_timeout=0,
                        hard_timeout=0, priority=flow_mod.priority, buffer_id=0xFFFFFFFF, out_port=ofp.OFPP_NONE,
                        flags=0, actions=[])


def flow_stats(chan, version):
    p, ofp = chan.parser, chan.ofp
    if version >= V1_5:
        # 1.5's flow stats with instructions are OFPMP_FLOW_DESC (OFPMP_FLOW_STATS has none).
        request = p.OFPFlowDescStatsRequest(chan.dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0, p.OFPMatch())
    elif version >= V1_3:
        request = p.OFPFlowStatsRequest(chan.dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0, p.OFPMatch())
    else:
        request = p.OFPFlowStatsRequest(chan.dp, 0, p.OFPMatch(), 0xFF, ofp.OFPP_NONE)
    xid = chan.send(request)
    flows = []
    while True:
        msg = chan.recv()
        if msg.xid != xid:
            continue
        if isinstance(msg, p.OFPErrorMsg):
            raise SystemExit(f"flow stats request failed: {msg}")
        flows += msg.body
        if not msg.flags & 1:
            return flows


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--connect", required=True)
    args.add_argument("--version", choices=sorted(VERSIONS), required=True)
    args.add_argument("--count", type=int, default=200)
    args.add_argument("--seed", type=int, default=1)
    args.add_argument("--beyond-ovs", action="store_true")
    opts = args.parse_args()
    if opts.beyond_ovs:
        global BEYOND_OVS
        BEYOND_OVS = random.Random(opts.seed + 1_000_003)
    version = VERSIONS[opts.version]
    rng = random.Random(opts.seed)
    chan = Channel(opts.connect, version)
    chan.hello()
    p, ofp = chan.parser, chan.ofp
    if version >= V1_3:
        setup_v1_3(chan)
    else:
        # Open vSwitch's NXT_SET_ASYNC_CONFIG: every flow-removed reason (idle, hard, delete).
        chan.send(p.NXTSetAsyncConfig(chan.dp, [0, 0], [0, 0], [0b111, 0b111]))
        chan.send(p.OFPFlowMod(chan.dp, match=p.OFPMatch(), cookie=0, command=ofp.OFPFC_DELETE, idle_timeout=0,
                               hard_timeout=0, priority=0, buffer_id=0xFFFFFFFF, out_port=ofp.OFPP_NONE, flags=0, actions=[]))
        errors = [m for m in chan.barrier() if isinstance(m, p.OFPErrorMsg)]
        if errors:
            raise SystemExit(f"NXT_SET_ASYNC_CONFIG failed: {errors}")

    problems = []
    sent = {}
    priorities = rng.sample(range(1, 65535), opts.count)
    make = random_flow_mod_v1_3 if version >= V1_3 else random_flow_mod_v1_0
    xids = {}
    for priority in priorities:
        flow_mod = make(chan, rng, priority)
        xids[chan.send(flow_mod)] = flow_mod
        sent[priority] = flow_mod
    for msg in chan.barrier():
        if isinstance(msg, p.OFPErrorMsg):
            flow_mod = xids.get(msg.xid)
            problems.append(f"refused (type {msg.type} code {msg.code}): {flow_view(version, flow_mod) if flow_mod else msg}")
            if flow_mod is not None:
                del sent[flow_mod.priority]

    got = {flow.priority: flow for flow in flow_stats(chan, version)}
    for priority, flow_mod in sent.items():
        flow = got.get(priority)
        if flow is None:
            problems.append(f"missing from flow stats: {flow_view(version, flow_mod)}")
            continue
        diff = differences(flow_view(version, flow_mod), flow_view(version, flow))
        if diff:
            problems.append(f"priority {priority}: " + "; ".join(diff))
    for priority in got.keys() - sent.keys():
        problems.append(f"in flow stats but never sent: {flow_view(version, got[priority])}")

    # FLOW_REMOVED of a delete: match and header fields as sent. Strict deletes, a barrier every
    # DELETE_CHUNK, so the asynchronous messages never pile up beyond what a switch queues per
    # connection (Open vSwitch drops them past about a hundred).
    removed = {}
    for start in range(0, len(sent), DELETE_CHUNK):
        for flow_mod in list(sent.values())[start:start + DELETE_CHUNK]:
            chan.send(strict_delete(chan, version, flow_mod))
        removed |= {m.priority: m for m in chan.barrier() if isinstance(m, p.OFPFlowRemoved)}
    # A FLOW_REMOVED is asynchronous: Open vSwitch may send it after the barrier's reply.
    expected = {priority for priority, flow_mod in sent.items() if flow_mod.flags & ofp.OFPFF_SEND_FLOW_REM}
    for _ in range(10):
        if expected <= removed.keys():
            break
        time.sleep(0.1)
        removed |= {m.priority: m for m in chan.barrier() if isinstance(m, p.OFPFlowRemoved)}
    for priority, flow_mod in sent.items():
        if not flow_mod.flags & ofp.OFPFF_SEND_FLOW_REM:
            continue
        msg = removed.get(priority)
        if msg is None:
            problems.append(f"no FLOW_REMOVED for priority {priority}")
            continue
        if msg.reason != ofp.OFPRR_DELETE:
            problems.append(f"FLOW_REMOVED of priority {priority} has reason {msg.reason}")
        diff = differences(flow_view(version, flow_mod, False), flow_view(version, msg, False))
        if diff:
            problems.append(f"FLOW_REMOVED of priority {priority}: " + "; ".join(diff))

    for line in problems:
        print(line)
    checked = len(sent)
    print(f"flow_roundtrip: OpenFlow {opts.version}, seed {opts.seed}: {opts.count} flow_mods, {checked} installed and "
          f"compared, {len([m for m in sent.values() if m.flags & ofp.OFPFF_SEND_FLOW_REM])} flow_removed, "
          f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
