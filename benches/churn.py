#!/usr/bin/env python3
"""Load generator of benches/churn.sh: table changes at a fixed, paced rate.

  churn.py openflow --target SOCKET --rate R --mode unrelated [--table 7] [--window 64]
  churn.py openflow --target SOCKET --rate R --mode modify --rule SPEC [--rule SPEC]...
  churn.py macs --iface IFACE --rate R [--dst-mac 02:00:00:00:00:02]
  churn.py summary LOG            # the figures of a run, from the log of one of the above
  churn.py selftest               # our OpenFlow encoding against os-ken's (venv python)

openflow: ONE OpenFlow 1.3 connection to the switch's unix socket (br0.mgmt of
our vswitchd or of Open vSwitch), flow_mods sent at R per second.
  unrelated  adds and deletes rules in --table (7), which no packet visits
             (eth_type=0x800,ipv4_src=172.16.0.0+j, priority 1000, output:2): first
             --window rules are added (before "ready"), then flow_mod 2k adds rule
             window+k and 2k+1 deletes (strict) rule k, so every flow_mod changes
             the table and the table holds window or window+1 rules.
  modify     modify_strict of the --rule rules in turn (rule i % n), switching their
             instructions between apply(output:OUT) and apply(output:OUT) +
             write_metadata(1/1) (metadata is read by nothing: the same forwarding,
             a different rule); every flow_mod changes a rule. Before "ready" each
             rule is looked up (flow stats): a rule the switch does not have is an
             error (exit 2), not a silent no-op.
  A barrier follows every --barrier-ms worth of flow_mods (at least one flow_mod),
  and at most one barrier is outstanding: before the next one is sent the previous
  reply must have arrived, so the driver never runs more than two barrier periods
  ahead of what the switch has applied. Echo requests are answered.
macs: frames with a new source MAC each (0e:00:00:00:00:01, ...; to --dst-mac,
64-byte IPv4/UDP) written at R per second into IFACE through an AF_PACKET socket
(IFACE: the kernel side of the switch's net_tap port).

Pacing is deadline based: change i is due at start + i/R (no drift from sleep
overshoot); a late change is sent at once, and when the driver is more than
--max-lag-ms behind (the switch held a barrier reply) the missed deadlines are
skipped (counted) instead of sent in a burst. Bounded: --max-count changes,
--max-seconds, SIGTERM/SIGINT. Log on stdout, one line each:
  ready WALL MONO
  mark WALL MONO SENT ACKED ERRORS SKIPPED       (on each SIGUSR1: the harness marks
                                                  the measured interval with two)
  error WALL type=T code=C xid=X                 (the first 10 OFPT_ERRORs)
  end WALL MONO sent=.. acked=.. errors=.. skipped=.. elapsed=.. rate=.. max_lag_ms=..
      max_barrier_rtt_ms=.. reason=..
ACKED: flow_mods a barrier reply confirmed. Only the standard library is used
(struct packing), so it runs on the system python3.
"""
import argparse
import errno
import os
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # no __pycache__ in benches/
import gen_pcap  # noqa: E402  (frame(), mac_bytes(), mac_plus())

OFP_VERSION = 4  # OpenFlow 1.3
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FLOW_MOD, OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 14, 18, 19
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPFC_ADD, OFPFC_MODIFY_STRICT, OFPFC_DELETE_STRICT = 0, 2, 4
OFPP_ANY, OFPG_ANY, OFP_NO_BUFFER = 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF
OFPCML_MAX = 0xFFE5
OFPIT_WRITE_METADATA, OFPIT_APPLY_ACTIONS = 2, 4
OFPMP_FLOW = 1
# OXM basic class fields: name -> (field number, value bytes)
OXM_FIELDS = {"in_port": (0, 4), "eth_type": (5, 2), "ip_proto": (10, 1),
              "ipv4_src": (11, 4), "ipv4_dst": (12, 4), "udp_dst": (16, 2)}


class Stop(Exception):
    """SIGTERM / SIGINT."""


# ------------------------------------------------------------------ encoding
def ofp_header(msg_type, length, xid):
    return struct.pack("!BBHI", OFP_VERSION, msg_type, length, xid)


def message(msg_type, xid, body=b""):
    return ofp_header(msg_type, 8 + len(body), xid) + body


def ipv4(text):
    return struct.unpack("!I", socket.inet_aton(text))[0]


def parse_rule(spec):
    """'priority=100,table=0,in_port=1,eth_type=0x800,ipv4_dst=10.128.0.0/9,...'
    -> (table, priority, [(field, value, mask or None)]) in OXM field order."""
    table, priority, fields = 0, 0x8000, []
    for item in spec.split(","):
        key, _, val = item.partition("=")
        if key == "table":
            table = int(val, 0)
        elif key == "priority":
            priority = int(val, 0)
        elif key in ("ipv4_src", "ipv4_dst"):
            addr, _, mask = val.partition("/")
            if not mask:
                m = None
            elif "." in mask:
                m = ipv4(mask)
            else:
                m = (0xFFFFFFFF << (32 - int(mask))) & 0xFFFFFFFF
            if m == 0xFFFFFFFF:
                m = None
            v = ipv4(addr)
            fields.append((key, v & m if m is not None else v, m))
        elif key in OXM_FIELDS:
            fields.append((key, int(val, 0), None))
        else:
            raise ValueError("unknown field %r in rule %r (known: table, priority, %s)"
                             % (key, spec, ", ".join(OXM_FIELDS)))
    fields.sort(key=lambda f: OXM_FIELDS[f[0]][0])
    return table, priority, fields


def ofp_match(fields):
    oxms = b""
    for name, value, mask in fields:
        num, size = OXM_FIELDS[name]
        payload = value.to_bytes(size, "big")
        if mask is not None:
            payload += mask.to_bytes(size, "big")
        oxms += struct.pack("!I", (0x8000 << 16) | (num << 9) | ((mask is not None) << 8) | len(payload))
        oxms += payload
    match = struct.pack("!HH", 1, 4 + len(oxms)) + oxms  # OFPMT_OXM
    return match + b"\0" * (-len(match) % 8)


def apply_output(port):
    action = struct.pack("!HHIH6x", 0, 16, port, OFPCML_MAX)  # OFPAT_OUTPUT
    return struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 8 + len(action)) + action


def write_metadata(value, mask):
    return struct.pack("!HH4xQQ", OFPIT_WRITE_METADATA, 24, value, mask)


def flow_mod(xid, command, table, priority, fields, instructions=b""):
    body = struct.pack("!QQBBHHHIIIH2x", 0, 0, table, command, 0, 0, priority,
                       OFP_NO_BUFFER, OFPP_ANY, OFPG_ANY, 0)
    return message(OFPT_FLOW_MOD, xid, body + ofp_match(fields) + instructions)


def flow_stats_request(xid, table, fields):
    body = struct.pack("!HH4x", OFPMP_FLOW, 0)
    body += struct.pack("!B3xII4xQQ", table, OFPP_ANY, OFPG_ANY, 0, 0) + ofp_match(fields)
    return message(OFPT_MULTIPART_REQUEST, xid, body)


def unrelated_rule(table, j):
    """Rule j of the unrelated churn: (table, priority, fields)."""
    return table, 1000, [("eth_type", 0x0800, None), ("ipv4_src", ipv4("172.16.0.0") + j, None)]


# ---------------------------------------------------------------- connection
class OpenFlowConn:
    """One OpenFlow 1.3 connection over a unix socket; reads only in wait()."""

    def __init__(self, path, log):
        self.log = log
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.buf = b""
        self.xid = 0
        self.errors = 0
        self.barrier = None        # (xid, flow_mods sent before it, time sent) of the outstanding one
        self.acked = 0
        self.max_rtt = 0.0
        self.replies = {}          # xid -> list of multipart reply bodies
        self.hello = False

    def next_xid(self):
        self.xid = (self.xid + 1) & 0xFFFFFFFF or 1
        return self.xid

    def send(self, data):
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("switch not reading for 10 s")
                select.select([], [self.sock], [], 0.1)

    def wait(self, timeout):
        """Handle what arrives within timeout seconds (returns sooner once input was handled)."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise RuntimeError("connection closed by the switch")
        self.buf += data
        while len(self.buf) >= 8:
            _, mtype, length, xid = struct.unpack("!BBHI", self.buf[:8])
            if length < 8:
                raise RuntimeError("bad message length %d" % length)
            if len(self.buf) < length:
                break
            msg, self.buf = self.buf[:length], self.buf[length:]
            self.handle(mtype, xid, msg)

    def handle(self, mtype, xid, msg):
        if mtype == OFPT_HELLO:
            self.hello = True
        elif mtype == OFPT_ECHO_REQUEST:
            self.send(message(OFPT_ECHO_REPLY, xid, msg[8:]))
        elif mtype == OFPT_ERROR:
            self.errors += 1
            etype, code = struct.unpack("!HH", msg[8:12]) if len(msg) >= 12 else (-1, -1)
            if self.errors <= 10:
                self.log("error %.6f type=%d code=%d xid=%d" % (time.time(), etype, code, xid))
        elif mtype == OFPT_BARRIER_REPLY:
            if self.barrier and self.barrier[0] == xid:
                self.acked = self.barrier[1]
                self.max_rtt = max(self.max_rtt, time.monotonic() - self.barrier[2])
                self.barrier = None
        elif mtype == OFPT_MULTIPART_REPLY:
            self.replies.setdefault(xid, []).append(msg)

    def wait_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no %s from the switch within %d s" % (what, timeout))
            self.wait(min(left, 0.5))

    def handshake(self):
        self.send(message(OFPT_HELLO, self.next_xid()))
        self.wait_until(lambda: self.hello, 10, "HELLO")

    def barrier_request(self, sent):
        """Sends a barrier covering `sent` flow_mods, after the previous one was answered."""
        self.wait_until(lambda: self.barrier is None, 30, "barrier reply")
        xid = self.next_xid()
        self.barrier = (xid, sent, time.monotonic())
        self.send(message(OFPT_BARRIER_REQUEST, xid))

    def sync(self, sent):
        self.barrier_request(sent)
        self.wait_until(lambda: self.barrier is None, 30, "barrier reply")

    def count_rules(self, table, fields):
        xid = self.next_xid()
        self.send(flow_stats_request(xid, table, fields))

        def done():
            parts = self.replies.get(xid, [])
            return parts and not (struct.unpack("!H", parts[-1][10:12])[0] & 1)  # OFPMPF_REPLY_MORE
        self.wait_until(done, 10, "flow stats reply")
        n = 0
        for msg in self.replies.pop(xid):
            body = msg[16:]
            while len(body) >= 2:
                length = struct.unpack("!H", body[:2])[0]
                if length < 2:
                    break
                n, body = n + 1, body[length:]
        return n


# ------------------------------------------------------------------- sources
class FlowModSource:
    def __init__(self, a, log):
        self.a = a
        self.conn = OpenFlowConn(a.target, log)
        self.conn.handshake()
        self.barrier_every = max(1, round(a.rate * a.barrier_ms / 1000.0))
        if a.mode == "unrelated":
            for j in range(a.window):
                t, p, f = unrelated_rule(a.table, j)
                self.conn.send(flow_mod(self.conn.next_xid(), OFPFC_ADD, t, p, f, apply_output(a.output)))
            self.conn.sync(0)
            if self.conn.errors:
                raise RuntimeError("the switch refused the prefill of table %d (%d errors)" % (a.table, self.conn.errors))
        else:
            if not a.rule:
                raise RuntimeError("--mode modify needs --rule")
            self.rules = [parse_rule(r) for r in a.rule]
            for spec, (t, p, f) in zip(a.rule, self.rules):
                if self.conn.count_rules(t, f) < 1:
                    raise RuntimeError("the switch has no rule %s in table %d" % (spec, t))
        self.conn.acked = 0

    def send(self, i):
        a, c = self.a, self.conn
        if a.mode == "unrelated":
            k = i // 2
            if i % 2 == 0:
                t, p, f = unrelated_rule(a.table, a.window + k)
                c.send(flow_mod(c.next_xid(), OFPFC_ADD, t, p, f, apply_output(a.output)))
            else:
                t, p, f = unrelated_rule(a.table, k)
                c.send(flow_mod(c.next_xid(), OFPFC_DELETE_STRICT, t, p, f))
        else:
            t, p, f = self.rules[i % len(self.rules)]
            variant_b = (i // len(self.rules)) % 2 == 0   # the first pass changes the configured rule
            instr = apply_output(a.output) + (write_metadata(1, 1) if variant_b else b"")
            c.send(flow_mod(c.next_xid(), OFPFC_MODIFY_STRICT, t, p, f, instr))
        if (i + 1) % self.barrier_every == 0:
            c.barrier_request(i + 1)

    def wait(self, timeout):
        self.conn.wait(timeout)

    def finish(self, sent):
        try:
            self.conn.sync(sent)
        except (RuntimeError, OSError):
            pass

    def counters(self):
        return self.conn.acked, self.conn.errors, self.conn.max_rtt


class MacSource:
    def __init__(self, a, log):
        self.a = a
        self.dst = gen_pcap.mac_bytes(a.dst_mac)
        self.base = gen_pcap.mac_bytes(a.src_base)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.bind((a.iface, 0))
                break
            except OSError as e:
                if e.errno not in (errno.ENODEV, errno.ENXIO) or time.monotonic() > deadline:
                    raise RuntimeError("cannot bind to %s: %s" % (a.iface, e))
                time.sleep(0.2)
        self.errors = 0

    def send(self, i):
        frame = gen_pcap.frame(i, 64, gen_pcap.mac_plus(self.base, i + 1), self.dst)
        try:
            self.sock.send(frame)
        except OSError:
            self.errors += 1

    def wait(self, timeout):
        time.sleep(max(0.0, timeout))

    def finish(self, sent):
        pass

    def counters(self):
        return None, self.errors, 0.0


# --------------------------------------------------------------------- pacing
def run(a, make_source):
    def log(line):
        print(line, flush=True)

    def on_term(signum, frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    marks = []   # taken in the handler, printed by the loop
    state = {"sent": 0, "skipped": 0}
    signal.signal(signal.SIGUSR1, lambda s, f: marks.append(
        (time.time(), time.monotonic(), state["sent"]) + source_counters() + (state["skipped"],)))

    source = None

    def source_counters():
        if source is None:
            return (0, 0)
        acked, errors, _ = source.counters()
        return (state["sent"] if acked is None else acked, errors)

    def flush_marks():
        while marks:
            m = marks.pop(0)
            log("mark %.6f %.6f %d %d %d %d" % m)

    reason = "max-seconds"
    period = 1.0 / a.rate
    max_lag = a.max_lag_ms / 1000.0
    worst_lag = 0.0
    t_start = time.monotonic()
    try:
        source = make_source(a, log)
        t_start = time.monotonic()
        log("ready %.6f %.6f" % (time.time(), t_start))
        due = t_start
        while True:
            flush_marks()
            now = time.monotonic()
            if state["sent"] >= a.max_count:
                reason = "max-count"
                break
            if now - t_start >= a.max_seconds:
                break
            if now < due:
                source.wait(min(due - now, 0.5))
                continue
            lag = now - due
            if lag > max_lag:             # far behind: skip the missed deadlines
                missed = int(lag / period)
                state["skipped"] += missed
                due += missed * period
                lag = now - due
            worst_lag = max(worst_lag, lag)
            source.send(state["sent"])
            state["sent"] += 1
            due += period
        source.finish(state["sent"])
    except Stop:
        reason = "signal"
    except (RuntimeError, OSError, ValueError) as e:
        reason = "error: %s" % str(e).replace(" ", "_")
    flush_marks()
    elapsed = time.monotonic() - t_start
    acked, errors, rtt = source.counters() if source else (0, 0, 0.0)
    log("end %.6f %.6f sent=%d acked=%s errors=%d skipped=%d elapsed=%.3f rate=%.2f max_lag_ms=%.1f "
        "max_barrier_rtt_ms=%.1f reason=%s" % (
            time.time(), time.monotonic(), state["sent"], "-" if acked is None else acked, errors,
            state["skipped"], elapsed, state["sent"] / elapsed if elapsed > 0 else 0.0,
            worst_lag * 1000, rtt * 1000, reason))
    return 0 if reason in ("max-seconds", "max-count", "signal") else 2


# -------------------------------------------------------------------- summary
def summary(path):
    """key=value figures of a run from its log: rate and acked rate between the
    first two marks (the measured interval), and the end line's totals."""
    marks, end, errs = [], {}, []
    with open(path) as fh:
        for line in fh:
            f = line.split()
            if f and f[0] == "mark" and len(f) >= 7:
                marks.append([float(f[2])] + [int(x) for x in f[3:7]])
            elif f and f[0] == "end":
                end = dict(x.split("=", 1) for x in f[3:] if "=" in x)
            elif f and f[0] == "error":
                errs.append(" ".join(f[2:]))
    out = []
    if len(marks) >= 2:
        (t0, s0, a0, e0, k0), (t1, s1, a1, e1, k1) = marks[0], marks[1]
        dt = (t1 - t0) or 1e-9
        out += ["achieved=%.2f" % ((s1 - s0) / dt), "acked=%.2f" % ((a1 - a0) / dt),
                "errors=%d" % (e1 - e0), "skipped=%d" % (k1 - k0)]
    note = "driver: %s" % (", ".join(out) or "no marks") + "; whole run: " + " ".join(
        "%s=%s" % (k, end.get(k, "?")) for k in ("sent", "acked", "rate", "max_lag_ms", "max_barrier_rtt_ms", "reason"))
    if errs:
        note += "; first error: " + errs[0]
    print(" ".join(out))
    print(note)


# ------------------------------------------------------------------- selftest
def selftest():
    """Compares our encoding with os-ken's OpenFlow 1.3 serializer."""
    try:
        from os_ken.ofproto import ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser
    except ImportError:
        print("selftest: os_ken not importable (run it with /opt/vswitch-openflow-apps/bin/python)")
        return 1

    class Dp:
        ofproto, ofproto_parser, id = ofp, parser, 1

    def osken(msg, xid):
        msg.set_xid(xid)
        msg.serialize()
        return bytes(msg.buf)

    def out(port):
        return parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port, OFPCML_MAX)])

    dp = Dp()
    ANY = dict(out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY)   # os-ken's defaults are 0
    checks = []
    t, p, f = unrelated_rule(7, 5)
    checks.append(("unrelated add", flow_mod(11, OFPFC_ADD, t, p, f, apply_output(2)), osken(parser.OFPFlowMod(
        dp, table_id=7, command=ofp.OFPFC_ADD, priority=1000, buffer_id=OFP_NO_BUFFER, **ANY,
        match=parser.OFPMatch(eth_type=0x800, ipv4_src="172.16.0.5"), instructions=[out(2)]), 11)))
    checks.append(("unrelated delete_strict", flow_mod(12, OFPFC_DELETE_STRICT, t, p, f), osken(parser.OFPFlowMod(
        dp, table_id=7, command=ofp.OFPFC_DELETE_STRICT, priority=1000, buffer_id=OFP_NO_BUFFER, **ANY,
        match=parser.OFPMatch(eth_type=0x800, ipv4_src="172.16.0.5")), 12)))
    t, p, f = parse_rule("priority=100,in_port=1,eth_type=0x800,ip_proto=17,ipv4_src=10.0.0.3")
    exact = parser.OFPMatch(in_port=1, eth_type=0x800, ip_proto=17, ipv4_src="10.0.0.3")
    checks.append(("modify exact, variant b", flow_mod(13, OFPFC_MODIFY_STRICT, t, p, f, apply_output(2) + write_metadata(1, 1)),
                   osken(parser.OFPFlowMod(dp, command=ofp.OFPFC_MODIFY_STRICT, priority=100, buffer_id=OFP_NO_BUFFER, **ANY,
                                           match=exact, instructions=[out(2), parser.OFPInstructionWriteMetadata(1, 1)]), 13)))
    t, p, f = parse_rule("priority=100,in_port=1,eth_type=0x800,ip_proto=17,ipv4_dst=10.128.0.0/9,udp_dst=5001")
    wild = parser.OFPMatch(in_port=1, eth_type=0x800, ip_proto=17, ipv4_dst=("10.128.0.0", "255.128.0.0"), udp_dst=5001)
    checks.append(("modify wildcard, variant a", flow_mod(14, OFPFC_MODIFY_STRICT, t, p, f, apply_output(2)),
                   osken(parser.OFPFlowMod(dp, command=ofp.OFPFC_MODIFY_STRICT, priority=100, buffer_id=OFP_NO_BUFFER, **ANY,
                                           match=wild, instructions=[out(2)]), 14)))
    checks.append(("flow stats request", flow_stats_request(15, 0, f), osken(parser.OFPFlowStatsRequest(
        dp, table_id=0, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=wild), 15)))
    bad = 0
    for name, ours, theirs in checks:
        ok = ours == theirs
        bad += not ok
        print("selftest %s: %s" % (name, "same bytes as os-ken" if ok else "DIFFERS\n  ours   %s\n  os-ken %s" % (ours.hex(), theirs.hex())))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("openflow", "macs"):
        sp = sub.add_parser(name)
        sp.add_argument("--rate", type=float, required=True, help="changes per second")
        sp.add_argument("--max-count", type=int, default=1000000)
        sp.add_argument("--max-seconds", type=float, default=300)
        sp.add_argument("--max-lag-ms", type=float, default=500)
        if name == "openflow":
            sp.add_argument("--target", required=True, help="unix socket (br0.mgmt)")
            sp.add_argument("--mode", choices=("unrelated", "modify"), required=True)
            sp.add_argument("--table", type=int, default=7)
            sp.add_argument("--window", type=int, default=64)
            sp.add_argument("--rule", action="append", default=[], help="modify: a rule to modify (repeat)")
            sp.add_argument("--output", type=int, default=2)
            sp.add_argument("--barrier-ms", type=float, default=100)
        else:
            sp.add_argument("--iface", required=True)
            sp.add_argument("--dst-mac", default="02:00:00:00:00:02")
            sp.add_argument("--src-base", default="0e:00:00:00:00:00")
    sp = sub.add_parser("summary")
    sp.add_argument("log")
    sub.add_parser("selftest")
    a = ap.parse_args()
    if a.cmd == "summary":
        summary(a.log)
        return 0
    if a.cmd == "selftest":
        return selftest()
    if not 0 < a.rate <= 100000:
        ap.error("--rate must be in (0, 100000]")
    if a.cmd == "openflow" and a.mode == "unrelated" and a.window + a.max_count // 2 + 1 >= 1 << 20:
        ap.error("--window + --max-count/2 must stay below 2^20 (172.16.0.0/12)")
    return run(a, FlowModSource if a.cmd == "openflow" else MacSource)


if __name__ == "__main__":
    sys.exit(main())
