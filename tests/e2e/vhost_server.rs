//! vhost-user server mode: vswitchd creates the sockets, a testpmd "VM"
//! with two virtio-user ports connects to them and forwards between its
//! ports, so traffic loops VM port 0 -> vm1 -> switch -> vm2 -> VM port 1 ->
//! VM -> back. Both directions must carry packets, the link must show up
//! while the VM is connected and go down when it leaves.
#![forbid(unsafe_code)]
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::status::PortStatsReply;
use vswitch_e2e::wait;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Testpmd, Vswitchd};

/// How long a VM may take to connect and start forwarding.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// How long the traffic phase lasts.
const TRAFFIC_TIME: Duration = Duration::from_secs(2);
/// Packets the VM can have in flight: `--tx-first` sends one burst of 32 per
/// port, io forwarding keeps just those looping.
const IN_FLIGHT: u64 = 2 * 32;

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).map(|m| m.file_type().is_socket()).unwrap_or(false)
}

fn links(switch: &Vswitchd) -> Vec<(String, bool)> {
    let show = switch.show();
    ["vm1", "vm2"]
        .iter()
        .map(|name| {
            (name.to_string(), show.port(name).unwrap_or_else(|| panic!("show lacks {name}: {show:?}")).link_up)
        })
        .collect()
}

fn flowing_both_ways(s: &PortStatsReply) -> bool {
    ["vm1", "vm2"].iter().all(|p| s.port(p).rx_packets > 0 && s.port(p).tx_packets > 0)
}

#[test]
fn vm_traffic_loops_through_vhost_user_server_ports() {
    let dir = TestDir::new("vhost_server");
    let (sock1, sock2) = (dir.join("vm1.sock"), dir.join("vm2.sock"));
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::vhost_user("vm1", 1, &sock1))
        .port(PortSpec::vhost_user("vm2", 2, &sock2))
        .flow("in_port=1,actions=output:2")
        .flow("in_port=2,actions=output:1");
    let switch = Vswitchd::start(&dir, &config);
    assert!(is_socket(&sock1) && is_socket(&sock2), "vswitchd did not create the vhost-user sockets");
    let show = switch.show();
    for name in ["vm1", "vm2"] {
        let port = show.port(name).unwrap_or_else(|| panic!("show lacks {name}: {show:?}"));
        assert_eq!(port.kind, "vhost-user");
        assert!(!port.link_up, "{name} is up before any VM connected");
    }

    let vm = Testpmd::start(&dir, "vm", &[&sock1, &sock2], false);
    let mut last_links = Vec::new();
    let up = wait::poll(CONNECT_LIMIT, || {
        last_links = links(&switch);
        last_links.iter().all(|(_, up)| *up).then_some(())
    });
    assert!(up.is_some(), "links did not come up in `vsctl show` with the VM connected: {last_links:?}");
    let text = switch.vsctl_ok(&["show"]);
    assert!(text.lines().filter(|l| l.contains("vhost-user") && l.contains(" up ")).count() == 2, "{text}");

    let mut last = None;
    let started = wait::poll(CONNECT_LIMIT, || {
        let stats = switch.port_stats();
        let flowing = flowing_both_ways(&stats);
        last = Some(stats);
        flowing.then_some(())
    });
    assert!(started.is_some(), "no traffic both ways through vm1 and vm2: {last:#?}");
    let before = switch.port_stats();
    std::thread::sleep(TRAFFIC_TIME);
    let after = switch.port_stats();
    for name in ["vm1", "vm2"] {
        let (b, a) = (before.port(name), after.port(name));
        assert!(
            a.rx_packets > b.rx_packets && a.tx_packets > b.tx_packets,
            "{name} stopped forwarding: {b:?} -> {a:?}"
        );
    }
    let periodic = vm.periodic_stats();
    assert!(periodic.port(0).rx_packets > 0 && periodic.port(1).rx_packets > 0, "VM stats: {periodic:?}");

    let (status, vm_stats) = vm.stop();
    assert!(status.success(), "testpmd exited with {status}");
    for port in [0, 1] {
        let counts = vm_stats.port(port);
        assert!(counts.rx_packets > 0 && counts.tx_packets > 0, "VM port {port} did not get and send: {vm_stats:?}");
    }
    // What the VM sent on port 0 the switch received on vm1 (and port 1 /
    // vm2), up to the few packets in flight when it stopped.
    let end = switch.port_stats();
    for (port, name) in [(0, "vm1"), (1, "vm2")] {
        let (vm_tx, switch_rx) = (vm_stats.port(port).tx_packets, end.port(name).rx_packets);
        assert!(vm_tx.abs_diff(switch_rx) <= IN_FLIGHT, "VM port {port} sent {vm_tx}, {name} received {switch_rx}");
        let (vm_rx, switch_tx) = (vm_stats.port(port).rx_packets, end.port(name).tx_packets);
        assert!(vm_rx.abs_diff(switch_tx) <= IN_FLIGHT, "VM port {port} got {vm_rx}, {name} sent {switch_tx}");
    }

    let down = wait::poll(CONNECT_LIMIT, || {
        last_links = links(&switch);
        last_links.iter().all(|(_, up)| !*up).then_some(())
    });
    assert!(down.is_some(), "links still up in `vsctl show` after the VM left: {last_links:?}");
    switch.stop();
    assert!(!sock1.exists() && !sock2.exists(), "vhost-user sockets left behind after exit");
}
