//! Ports added and removed at run time with vsctl while p1 (net_null
//! source) -> p2 (net_null sink) forwards: the forwarding never stops and
//! never fails a transmit, a runtime dpdk port is polled at once (its frames
//! show up as table-miss drops), a removed vhost-user port's socket is gone,
//! a port added again on a reused DPDK port id counts from zero, and
//! `vsctl show` follows every step.
#![forbid(unsafe_code)]
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use vswitch_e2e::wait;
use vswitch_e2e::{frames, pcap};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Vswitchd};

/// Pause before sampling p2 after a step, so the sample covers some traffic.
const SETTLE: Duration = Duration::from_millis(100);
/// Frames the runtime pcap port replays.
const SRC3_FRAMES: u32 = 500;

/// Tracks p2's transmit counter across the steps.
struct Sink {
    last_tx: u64,
}

impl Sink {
    /// p2 must have sent more than at the previous step, and p2 must never
    /// have failed a transmit.
    fn check(&mut self, switch: &Vswitchd, after: &str) {
        std::thread::sleep(SETTLE);
        let stats = switch.port_stats();
        let p2 = stats.port("p2");
        assert!(
            p2.tx_packets > self.last_tx,
            "p2 stopped forwarding after {after}: {} -> {}",
            self.last_tx,
            p2.tx_packets
        );
        assert_eq!(p2.dropped("tx_failed"), 0, "p2 tx_failed after {after}: {p2:?}");
        assert_eq!(stats.port("p1").all_drops(), 0, "p1 drops after {after}: {:?}", stats.port("p1"));
        self.last_tx = p2.tx_packets;
    }
}

/// The port names in `vsctl --json show` and the table `vsctl show` prints.
fn assert_ports(switch: &Vswitchd, expected: &[&str], after: &str) {
    let show = switch.show();
    assert_eq!(show.port_names(), expected, "ports in `vsctl show` after {after}");
    let text = switch.vsctl_ok(&["show"]);
    for name in ["p1", "p2", "vmx", "src3"] {
        let listed = text.lines().any(|line| line.split_whitespace().next() == Some(name));
        assert_eq!(listed, expected.contains(&name), "after {after}, `vsctl show` printed:\n{text}");
    }
}

/// Waits until src3 replayed its whole pcap file, every frame a table miss,
/// and checks the counts are exact.
fn wait_replayed_as_misses(switch: &Vswitchd, what: &str) {
    let n = u64::from(SRC3_FRAMES);
    let mut last = None;
    let replayed = wait::poll(Duration::from_secs(10), || {
        let stats = switch.port_stats();
        let src3 = stats.port("src3").clone();
        last = Some(src3.clone());
        (src3.rx_packets >= n && src3.dropped("table_miss") >= n).then_some(src3)
    });
    let src3 = replayed.unwrap_or_else(|| panic!("{what} was not polled: its frames are not table misses: {last:?}"));
    std::thread::sleep(SETTLE);
    let src3_later = switch.port_stats().port("src3").clone();
    for s in [&src3, &src3_later] {
        assert_eq!((s.rx_packets, s.dropped("table_miss")), (n, n), "{what}: rx_packets and table_miss: {s:?}");
        assert_eq!(s.all_drops(), n, "{what}: other drops: {s:?}");
    }
}

#[test]
fn ports_come_and_go_while_traffic_flows() {
    let dir = TestDir::new("runtime_ports");
    let vmx_socket = dir.join("vmx.sock");
    let src3_pcap = dir.join("src3.pcap");
    pcap::write(&src3_pcap, &frames::varied_frames(3, SRC3_FRAMES));
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::dpdk("p1", 1, "net_null0"))
        .port(PortSpec::dpdk("p2", 2, "net_null1,no-rx=1"))
        .flow("in_port=1,actions=output:2");
    let switch = Vswitchd::start(&dir, &config);
    let mut sink = Sink { last_tx: 0 };
    sink.check(&switch, "start");
    assert_ports(&switch, &["p1", "p2"], "start");

    // A vhost-user server port nobody connects to (explicit ofport, so 3 is
    // left for the pcap port).
    switch.add_port("vmx", &["type=vhost-user", &format!("path={}", vmx_socket.display()), "ofport=9"]);
    let is_socket = std::fs::symlink_metadata(&vmx_socket).map(|m| m.file_type().is_socket()).unwrap_or(false);
    assert!(is_socket, "add-port vmx did not create {}", vmx_socket.display());
    assert_ports(&switch, &["p1", "p2", "vmx"], "add-port vmx");
    let show = switch.show();
    let vmx = show.port("vmx").expect("vmx listed");
    assert_eq!((vmx.ofport, vmx.kind.as_str(), vmx.link_up), (9, "vhost-user", false), "{vmx:?}");
    sink.check(&switch, "add-port vmx");

    // A dpdk port no rule matches: every frame it reads is a table miss on it.
    let devargs = format!("devargs=net_pcap3,rx_pcap={}", src3_pcap.display());
    switch.add_port("src3", &["type=dpdk", &devargs, "ofport=3"]);
    assert_ports(&switch, &["p1", "p2", "vmx", "src3"], "add-port src3");
    wait_replayed_as_misses(&switch, "src3");
    sink.check(&switch, "add-port src3");

    switch.del_port("vmx");
    assert!(!vmx_socket.exists(), "del-port vmx left {} behind", vmx_socket.display());
    assert_ports(&switch, &["p1", "p2", "src3"], "del-port vmx");
    sink.check(&switch, "del-port vmx");

    switch.del_port("src3");
    assert_ports(&switch, &["p1", "p2"], "del-port src3");
    let stats = switch.port_stats();
    let names: Vec<&str> = stats.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p1", "p2"], "port-stats after del-port src3");
    sink.check(&switch, "del-port src3");

    // The same name again, on a new device that takes over the freed DPDK
    // port id: its counters start from zero.
    let devargs = format!("devargs=net_pcap5,rx_pcap={}", src3_pcap.display());
    switch.add_port("src3", &["type=dpdk", &devargs, "ofport=3"]);
    assert_ports(&switch, &["p1", "p2", "src3"], "add-port src3 again");
    wait_replayed_as_misses(&switch, "src3 (again)");
    sink.check(&switch, "add-port src3 again");
    switch.del_port("src3");
    assert_ports(&switch, &["p1", "p2"], "del-port src3 again");
    sink.check(&switch, "del-port src3 again");

    switch.stop();
}
