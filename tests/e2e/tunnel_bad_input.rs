//! Bad input on the underlay, the underlay MTU and `vsctl trace` of the tunnel steps, against
//! the switch's own counters. The switch's br0 is the underlay (VTEPs 172.31.1.1/24 and
//! fd31::1/64 on LOCAL, port `phy` a TAP moved into the "ul" namespace as ul0); br-int
//! holds the host's port (a veth into the "vm" namespace, ofport 1) and the tunnel ports: vxlan0
//! (VNI 1000, to the Linux kernel VTEP in "ul": the pings), vxlan1 (VNI 2000), geneve0 (VNI
//! 3000), gre0 (key 4000) and vxlan6 (VNI 5000, over IPv6) - the last four only receive the
//! frames a raw socket in "ul" writes onto the underlay (the kernel here has no Geneve or GRE).
//! Every neighbour is static and IPv6 is off on the kernel's interfaces, so nothing but the
//! test's packets moves while the counters are read.
#![forbid(unsafe_code)]
use std::process::Command;
use std::time::Duration;

use vswitch_e2e::command::run;
use vswitch_e2e::netns::{Namespace, MAX_INTERFACE_NAME};
use vswitch_e2e::overlay::{address, sh, sh_in_ok, veth};
use vswitch_e2e::status::PortStatsReply;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// How long the counters may take to show what was sent.
const COUNT_LIMIT: Duration = Duration::from_secs(5);

/// Writes crafted frames onto the underlay from `ul0` (python3, raw AF_PACKET socket):
/// `send ROUNDS` sends ROUNDS rounds of one good frame per receiving tunnel port then one frame
/// of every bad case; `case NAME COUNT` sends COUNT frames of case NAME; `hex NAME` prints the
/// frame of case NAME in hex (for trace).
const FRAMES_PY: &str = r#"
import socket, struct, sys, time
SWITCH_MAC = bytes.fromhex('02000000aa01')
PEER_MAC = bytes.fromhex(sys.argv[1].replace(':', ''))
VTEP4, PEER4, STRANGER4 = bytes([172, 31, 1, 1]), bytes([172, 31, 1, 2]), bytes([172, 31, 1, 9])
VTEP6 = socket.inet_pton(socket.AF_INET6, 'fd31::1')
PEER6 = socket.inet_pton(socket.AF_INET6, 'fd31::2')

def ones(b):
    if len(b) % 2:
        b += b'\0'
    return sum(struct.unpack('!%dH' % (len(b) // 2), b))

def csum(b, extra=0):
    s = ones(b) + extra
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def wrong(c):
    # A checksum that is wrong and not 0 (0 means none for UDP).
    return (c ^ 0x5a5a) or 0x1234

def inner(size=60):
    return bytes.fromhex('020000000099') + bytes.fromhex('020000000077') + b'\x88\xb5' + bytes(size - 14)

def eth(payload, ethertype=0x0800):
    return SWITCH_MAC + PEER_MAC + struct.pack('!H', ethertype) + payload

def ipv4(payload, proto, src=PEER4, ihl=5, extra_len=0, frag=0x4000, bad_csum=False):
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, 20 + len(payload) + extra_len, 0, frag, 64, proto, 0, src, VTEP4)
    c = csum(h)
    return h[:10] + struct.pack('!H', wrong(c) if bad_csum else c) + h[12:] + payload

def udp(payload, dport, pseudo=None, length=None, bad_csum=False):
    size = 8 + len(payload)
    datagram = struct.pack('!HHHH', 49152, dport, size if length is None else length, 0) + payload
    if pseudo is None:
        return datagram
    c = csum(datagram, ones(pseudo) + 17 + size) or 0xffff
    return datagram[:6] + struct.pack('!H', wrong(c) if bad_csum else c) + datagram[8:]

def udp4(payload, dport, src=PEER4, **kw):
    return eth(ipv4(udp(payload, dport, **kw), 17, src=src))

def udp6(payload, dport, **kw):
    datagram = udp(payload, dport, pseudo=PEER6 + VTEP6, **kw)
    return eth(struct.pack('!IHBB16s16s', 0x60000000, len(datagram), 17, 64, PEER6, VTEP6) + datagram, 0x86dd)

def vxlan(vni, payload, flags=0x08):
    return struct.pack('!B3xI', flags, vni << 8) + payload

def geneve(vni, payload, version=0, proto=0x6558, options=b'', critical=False):
    first = (version << 6) | (len(options) // 4)
    return struct.pack('!BBHI', first, 0x40 if critical else 0, proto, vni << 8) + options + payload

def gre(payload, key=None, proto=0x6558, version=0, checksum=False, bad_csum=False, frag=0x4000):
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) | version
    header = struct.pack('!HH', flags, proto) + (bytes(4) if checksum else b'')
    header += struct.pack('!I', key) if key is not None else b''
    packet = header + payload
    if checksum:
        c = csum(packet)
        packet = packet[:4] + struct.pack('!H', wrong(c) if bad_csum else c) + packet[6:]
    return eth(ipv4(packet, 47, frag=frag))

OPTION = struct.pack('!HBB', 0x0102, 0x01, 1) + bytes(4)  # class, type (not critical), 4 bytes of data
GOOD = {
    'vxlan1': udp4(vxlan(2000, inner()), 4789),
    'geneve0': udp4(geneve(3000, inner(), options=OPTION), 6081),
    'gre0': gre(inner(), key=4000, checksum=True),
    'vxlan6': udp6(vxlan(5000, inner()), 4789),
}
truncated = udp4(vxlan(2000, inner()), 4789)
truncated = truncated[:16] + struct.pack('!H', 20 + 8 + 8 + 60 + 100) + truncated[18:]  # total length beyond the frame
truncated = truncated[:24] + bytes(2) + truncated[26:]
truncated = truncated[:24] + struct.pack('!H', csum(truncated[14:34])) + truncated[26:]
BAD = {
    'truncated': ('tunnel_truncated', truncated),
    'bad_ip_header': ('tunnel_bad_ip_header', eth(ipv4(udp(vxlan(2000, inner()), 4789), 17, ihl=4))),
    'bad_ip_checksum': ('tunnel_bad_ip_checksum', eth(ipv4(udp(vxlan(2000, inner()), 4789), 17, bad_csum=True))),
    'fragment_udp': ('tunnel_fragment', eth(ipv4(udp(vxlan(2000, inner()), 4789), 17, frag=0x2000))),
    'fragment_gre': ('tunnel_fragment', gre(inner(), key=4000, frag=0x0010)),
    'bad_udp_length': ('tunnel_bad_udp_length', udp4(vxlan(2000, inner()), 4789, length=4)),
    'bad_udp_checksum': ('tunnel_bad_checksum', udp4(vxlan(2000, inner()), 4789, pseudo=PEER4 + VTEP4, bad_csum=True)),
    'bad_udp6_checksum': ('tunnel_bad_checksum', udp6(vxlan(5000, inner()), 4789, bad_csum=True)),
    'bad_gre_checksum': ('tunnel_bad_checksum', gre(inner(), key=4000, checksum=True, bad_csum=True)),
    'vxlan_no_i_flag': ('tunnel_bad_flags', udp4(vxlan(2000, inner(), flags=0), 4789)),
    'geneve_version': ('tunnel_bad_flags', udp4(geneve(3000, inner(), version=1), 6081)),
    'gre_version': ('tunnel_bad_flags', gre(inner(), key=4000, version=1)),
    'geneve_ipv4_payload': ('tunnel_unknown_payload', udp4(geneve(3000, inner(), proto=0x0800), 6081)),
    'gre_ipv4_payload': ('tunnel_unknown_payload', gre(inner(), key=4000, proto=0x0800)),
    'geneve_critical': ('tunnel_critical_option', udp4(geneve(3000, inner(), options=OPTION, critical=True), 6081)),
    'inner_truncated': ('tunnel_inner_truncated', udp4(vxlan(2000, inner()[:10]), 4789)),
    'unknown_vni': ('tunnel_unknown_port', udp4(vxlan(7, inner()), 4789)),
    'unknown_gre_key': ('tunnel_unknown_port', gre(inner(), key=99)),
    'unknown_remote': ('tunnel_unknown_port', udp4(vxlan(1000, inner()), 4789, src=STRANGER4)),
    'oversize': ('tunnel_oversize', udp4(vxlan(2000, inner(1600)), 4789)),
}
# Not a tunnel packet at all: UDP to a port no tunnel port listens on.
OTHER = {'wrong_udp_port': udp4(vxlan(2000, inner()), 4790)}

def frame(name):
    return GOOD.get(name) or OTHER.get(name) or BAD[name][1]

mode = sys.argv[2]
if mode == 'hex':
    print(frame(sys.argv[3]).hex())
    sys.exit(0)
if mode == 'reasons':
    for name, (reason, _) in sorted(BAD.items()):
        print(name, reason)
    sys.exit(0)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('ul0', 0))
if mode == 'case':
    for _ in range(int(sys.argv[4])):
        s.send(frame(sys.argv[3]))
elif mode == 'send':
    for _ in range(int(sys.argv[3])):
        for f in GOOD.values():
            s.send(f)
        for _, f in BAD.values():
            s.send(f)
        time.sleep(0.01)
"#;

/// The tunnel ports that only receive crafted frames (each gets one good frame per round).
const CRAFTED_RECEIVERS: [&str; 4] = ["vxlan1", "geneve0", "gre0", "vxlan6"];

/// The test's network: namespaces, the switch and the frames script.
struct Overlay {
    underlay: Namespace,
    vm: Namespace,
    switch: Vswitchd,
    script: std::path::PathBuf,
}

/// The MAC of the underlay's end of the wire (ul0), fixed so that the switch's config can name it.
const PEER_MAC: &str = "02:00:00:00:bb:02";

/// The switch between the "vm" namespace (10.1.1.1, vm0 of MTU `vm_mtu`) and the kernel VTEP
/// in "ul" (ul0 172.31.1.2, vx0 10.1.1.2 of MTU 1450, VNI 1000). The underlay port is a TAP
/// (AF_PACKET would not do: DPDK's asks the kernel to reassemble IP fragments before it reads
/// them, so an outer fragment would never reach the switch) that goes into "ul" as ul0. `tag`
/// keeps the interface names of this file's tests apart.
fn overlay(dir: &TestDir, tag: &str, vm_mtu: u32) -> Overlay {
    let underlay = Namespace::create(dir, "ul");
    let vm = Namespace::create(dir, "vm");
    let tap = dir.unique_name(&format!("{tag}u"), MAX_INTERFACE_NAME);
    let vm_port = dir.unique_name(&format!("{tag}v"), MAX_INTERFACE_NAME);
    veth(&vm_port, None, "vm0", &vm, vm_mtu);
    sh_in_ok(&vm, "sysctl -qw net.ipv6.conf.vm0.disable_ipv6=1");
    address(&vm, "vm0", "10.1.1.1/24");
    let tunnel = |name: &str, ofport: u32, kind: &str, remote: &str, key: u32| {
        format!(
            "[[bridge.port]]\nname = \"{name}\"\ntype = \"{kind}\"\nofport = {ofport}\n\
             options = {{ remote_ip = \"{remote}\", key = {key} }}\n"
        )
    };
    let config = SwitchConfig::new(dir)
        .flow("actions=NORMAL")
        .bridge_setting("mac", "\"02:00:00:00:aa:01\"")
        .bridge_setting("addresses", "[\"172.31.1.1/24\", \"fd31::1/64\"]")
        .bridge_setting(
            "neighbours",
            &format!("[{{ ip = \"172.31.1.2\", mac = \"{PEER_MAC}\" }}, {{ ip = \"fd31::2\", mac = \"{PEER_MAC}\" }}]"),
        )
        .port(PortSpec::tap("phy", 1, 0, &tap))
        .more_toml(&format!(
            "[[bridge]]\nname = \"br-int\"\nflows = [\"in_port=1,actions=output:2\", \"actions=output:1\"]\n\
             [[bridge.port]]\nname = \"vm\"\ntype = \"dpdk\"\ndevargs = \"net_af_packet0,iface={vm_port}\"\nofport = 1\n{}{}{}{}{}",
            tunnel("vxlan0", 2, "vxlan", "172.31.1.2", 1000),
            tunnel("vxlan1", 3, "vxlan", "172.31.1.2", 2000),
            tunnel("geneve0", 4, "geneve", "172.31.1.2", 3000),
            tunnel("gre0", 5, "gre", "172.31.1.2", 4000),
            tunnel("vxlan6", 6, "vxlan", "fd31::2", 5000),
        ));
    let switch = Vswitchd::start(dir, &config);
    // The TAP's kernel MTU is 4000 while the switch's port keeps DPDK's 1500, so frames the
    // switch must refuse by its MTU do reach it.
    sh(&format!("ip link set {tap} netns {}", underlay.name()));
    sh_in_ok(
        &underlay,
        &format!(
            "ip link set {tap} name ul0; ip link set ul0 address {PEER_MAC} mtu 4000; \
             sysctl -qw net.ipv6.conf.ul0.disable_ipv6=1; ethtool -K ul0 tx off >/dev/null; \
             ip addr add 172.31.1.2/24 dev ul0; ip link set ul0 up; \
             ip link add vx0 type vxlan id 1000 remote 172.31.1.1 local 172.31.1.2 dstport 4789 dev ul0; \
             sysctl -qw net.ipv6.conf.vx0.disable_ipv6=1; \
             ip link set vx0 mtu 1450; ip addr add 10.1.1.2/24 dev vx0; ip link set vx0 up"
        ),
    );
    // Static neighbours everywhere: no ARP while the counters are read.
    let (vm_mac, vx_mac) = (vm.mac("vm0"), underlay.mac("vx0"));
    sh_in_ok(
        &underlay,
        &format!(
            "ip neigh replace 172.31.1.1 lladdr 02:00:00:00:aa:01 dev ul0 nud permanent; \
             ip neigh replace 10.1.1.1 lladdr {vm_mac} dev vx0 nud permanent"
        ),
    );
    sh_in_ok(&vm, &format!("ip neigh replace 10.1.1.2 lladdr {vx_mac} dev vm0 nud permanent"));
    let script = dir.join("frames.py");
    std::fs::write(&script, FRAMES_PY).expect("write frames.py");
    Overlay { underlay, vm, switch, script }
}

impl Overlay {
    /// Runs the frames script in "ul" with `args`; its stdout.
    fn frames(&self, args: &[&str]) -> String {
        let mut python = Command::new("ip");
        python.args(["netns", "exec", self.underlay.name(), "python3"]).arg(&self.script).arg(PEER_MAC);
        python.args(args);
        let output = run(python, Duration::from_secs(30));
        assert!(output.success(), "frames.py {args:?}: {output}");
        output.stdout
    }

    /// `vsctl trace` of the frame of case `name` arriving on br0's phy.
    fn trace_frame(&self, name: &str) -> String {
        let hex = self.frames(&["hex", name]);
        self.switch.vsctl_ok(&["trace", "br0", "in_port=1", hex.trim()])
    }

    /// The upcalls of every PMD.
    fn upcalls(&self) -> u64 {
        let stats: serde_json::Value = self.switch.json(&["pmd-stats"]);
        stats["pmds"].as_array().expect("pmds").iter().map(|p| p["upcalls"].as_u64().expect("upcalls")).sum()
    }

    /// Pings the kernel's overlay address across vxlan0: 3 echo requests, every one answered.
    fn ping_across(&self, what: &str) {
        let answered = self.vm.ping_until_answered("10.1.1.2", 3, 3);
        assert!(
            answered.is_ok(),
            "{what}: no answer across the tunnel:\n{}\n{}",
            answered.unwrap_err(),
            self.switch.stderr()
        );
    }
}

/// Every drop counter of `stats` whose name starts with `tunnel_`, by port.
fn tunnel_drops(stats: &PortStatsReply) -> Vec<(String, String, u64)> {
    stats
        .ports
        .iter()
        .flat_map(|p| p.drops.iter().map(move |(reason, n)| (p.name.clone(), reason.clone(), *n)))
        .filter(|(_, reason, n)| reason.starts_with("tunnel_") && *n > 0)
        .collect()
}

/// Each kind of bad outer packet is counted under its own reason on the underlay port, exactly;
/// the good frames sent between them are all delivered to their tunnel ports; the bad ones
/// cause no upcall; a ping crosses the tunnel before and after. A UDP packet to a port no
/// tunnel listens on is not a tunnel packet: br0's pipeline forwards it, no tunnel counter
/// moves. Trace shows the pop of a good frame and the reason of a bad one.
#[test]
fn bad_input_on_the_underlay_is_counted_by_reason() {
    let dir = TestDir::new("tunnel-bad-input");
    let o = overlay(&dir, "tb", 1450);
    o.ping_across("before");

    // One good frame per crafted receiver: their megaflows are installed, nothing is dropped.
    for name in CRAFTED_RECEIVERS {
        o.frames(&["case", name, "1"]);
    }
    o.switch.wait_for_counters(COUNT_LIMIT, "the first good frames", |s| {
        CRAFTED_RECEIVERS.iter().all(|name| s.port(name).rx_packets == 1)
    });
    assert_eq!(tunnel_drops(&o.switch.port_stats()), [], "good frames dropped");

    // Rounds of every good frame then every bad one.
    let reasons: Vec<(String, String)> = o
        .frames(&["reasons"])
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(case, reason)| (case.to_owned(), reason.to_owned())))
        .collect();
    assert_eq!(reasons.len(), 20, "{reasons:?}");
    let upcalls = o.upcalls();
    let pings_received = o.switch.port_stats().port("vxlan0").rx_packets;
    let rounds = 10;
    // Each crafted receiver had its first frame: one more a round.
    let delivered = 1 + rounds;
    o.frames(&["send", &rounds.to_string()]);
    let expected = |reason: &str| rounds * reasons.iter().filter(|(_, r)| r == reason).count() as u64;
    let stats = o.switch.wait_for_counters(COUNT_LIMIT, "every bad frame counted", |s| {
        let phy = s.port("phy");
        reasons.iter().all(|(_, reason)| phy.dropped(reason) >= expected(reason))
            && CRAFTED_RECEIVERS.iter().all(|name| s.port(name).rx_packets >= delivered)
    });
    let phy = stats.port("phy");
    for reason in [
        "tunnel_truncated",
        "tunnel_bad_ip_header",
        "tunnel_bad_ip_checksum",
        "tunnel_fragment",
        "tunnel_bad_udp_length",
        "tunnel_bad_checksum",
        "tunnel_bad_flags",
        "tunnel_unknown_payload",
        "tunnel_critical_option",
        "tunnel_inner_truncated",
        "tunnel_unknown_port",
        "tunnel_oversize",
    ] {
        assert!(expected(reason) > 0, "no case of {reason}");
        assert_eq!(phy.dropped(reason), expected(reason), "{reason}: {phy:?}");
    }
    let counted: u64 = tunnel_drops(&stats).iter().map(|(_, _, n)| n).sum();
    assert_eq!(counted, rounds * 20, "a tunnel drop counted elsewhere: {:?}", tunnel_drops(&stats));
    for name in CRAFTED_RECEIVERS {
        assert_eq!(stats.port(name).rx_packets, delivered, "{name}: every good frame delivered, once");
    }
    assert_eq!(stats.port("vxlan0").rx_packets, pings_received, "vxlan0 received none of the crafted frames");
    assert_eq!(o.upcalls(), upcalls, "a bad tunnel packet caused an upcall");
    o.ping_across("after the bad input");

    // Not a tunnel packet: UDP to 4790 goes through br0's pipeline (NORMAL), counted nowhere.
    let before = o.switch.port_stats();
    let trace = o.trace_frame("wrong_udp_port");
    assert!(!trace.contains("tunnel pop") && trace.contains("NORMAL"), "{trace}");
    o.frames(&["case", "wrong_udp_port", "5"]);
    let after = o.switch.wait_for_counters(COUNT_LIMIT, "the UDP frames to 4790", |s| {
        s.port("phy").rx_packets >= before.port("phy").rx_packets + 5
    });
    assert_eq!(tunnel_drops(&after), tunnel_drops(&before), "a non-tunnel packet counted as a tunnel drop");
    for name in CRAFTED_RECEIVERS {
        assert_eq!(after.port(name).rx_packets, before.port(name).rx_packets, "{name} received a non-tunnel packet");
    }

    // Trace of a good frame: the pop, then the inner frame in br-int from vxlan1.
    let trace = o.trace_frame("vxlan1");
    assert!(
        trace.contains(
            "tunnel pop: vxlan packet from 172.31.1.2 to 172.31.1.1 (udp src 49152 dst 4789), tun_id=2000: \
             port vxlan1 (ofport 3) of bridge br-int"
        ),
        "{trace}"
    );
    assert!(trace.contains("Datapath actions: 1\n"), "the inner frame goes to the vm's port: {trace}");
    assert!(trace.contains("Megaflow: in_port=3"), "the megaflow of vxlan1's packets: {trace}");
    let trace = o.trace_frame("geneve0");
    assert!(trace.contains("tunnel pop: geneve packet") && trace.contains("port geneve0 (ofport 4)"), "{trace}");
    let trace = o.trace_frame("gre0");
    assert!(trace.contains("tunnel pop: gre packet") && trace.contains("tun_id=4000: port gre0 (ofport 5)"), "{trace}");
    let trace = o.trace_frame("vxlan6");
    assert!(trace.contains("from fd31::2 to fd31::1") && trace.contains("port vxlan6 (ofport 6)"), "{trace}");
    // Of bad ones: the drop reason, no pipeline.
    let trace = o.trace_frame("vxlan_no_i_flag");
    assert_eq!(
        trace,
        "tunnel pop: dropped as tunnel_bad_flags: tunnel header with invalid flags or version\n\nDatapath actions: drop\n"
    );
    let trace = o.trace_frame("unknown_vni");
    assert!(
        trace.contains("dropped as tunnel_unknown_port: no tunnel port receives vxlan tun_id=7 from 172.31.1.2"),
        "{trace}"
    );
    let trace = o.trace_frame("oversize");
    assert!(
        trace.contains("dropped as tunnel_oversize: the outer packet is longer than the MTU 1500 of port phy"),
        "{trace}"
    );
    // A flow that describes a tunnel packet says where it goes.
    let trace = o.switch.vsctl_ok(&["trace", "br0", "in_port=1,udp,nw_dst=172.31.1.1,tp_dst=6081"]);
    assert!(trace.contains("a geneve (udp 6081) packet for this bridge's tunnel endpoint 172.31.1.1"), "{trace}");
    o.switch.stop();
}

/// An encapsulated packet longer than the underlay port's MTU (1500, as `vsctl show` says) is
/// dropped and counted as `tunnel_too_big` on the port it came in on; one that just fits
/// crosses. Nothing is fragmented. Trace shows the MTU and the largest inner frame with the
/// outer header pushed.
#[test]
fn too_big_for_the_underlay_mtu() {
    let dir = TestDir::new("tunnel-too-big");
    let o = overlay(&dir, "tm", 1500);
    o.ping_across("before");
    let text = o.switch.vsctl_ok(&["show"]);
    let phy = text.lines().find(|l| l.split_whitespace().next() == Some("phy")).expect("phy in show");
    assert_eq!(phy.split_whitespace().nth(6), Some("1500"), "phy's MTU: {text}");

    let trace = o.switch.vsctl_ok(&["trace", "br-int", "in_port=1,icmp,nw_src=10.1.1.1,nw_dst=10.1.1.2"]);
    assert!(
        trace.contains("tnl_push(vxlan,") && trace.contains(", mtu 1500: inner frames up to 1464 bytes"),
        "{trace}"
    );

    // ICMP of 1422 bytes of data: an IP packet of 1450 bytes, a frame of 1464, an outer IP
    // packet of exactly 1500 bytes.
    let dropped = |o: &Overlay| o.switch.port_stats().port("vm").dropped("tunnel_too_big");
    let ping = |size: u32| {
        let script = format!("ping -n -c 3 -i 0.2 -W 1 -s {size} 10.1.1.2");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", o.vm.name(), "sh", "-c", &script]);
        run(command, Duration::from_secs(15))
    };
    let fits = ping(1422);
    assert!(fits.success() && fits.stdout.contains(" 0% packet loss"), "the largest frame that fits: {fits}");
    assert_eq!(dropped(&o), 0);
    // One byte more, and more than that: dropped, each counted once.
    let over = ping(1423);
    assert!(over.stdout.contains("100% packet loss"), "{over}");
    let large = ping(1450);
    assert!(large.stdout.contains("100% packet loss"), "{large}");
    o.switch.wait_for_counters(COUNT_LIMIT, "the too-big pings", |s| s.port("vm").dropped("tunnel_too_big") >= 6);
    assert_eq!(dropped(&o), 6, "every too-big echo request counted once");
    let drops = tunnel_drops(&o.switch.port_stats());
    assert_eq!(drops, [("vm".to_owned(), "tunnel_too_big".to_owned(), 6)], "nothing else dropped");
    o.ping_across("after");
    o.switch.stop();
}
