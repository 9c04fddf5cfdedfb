//! vhost-user client mode: the VM (testpmd with `server=1`) owns the sockets
//! and vswitchd connects to them. Traffic must loop both ways; after the VM
//! is stopped and a new one started on the same sockets, vswitchd must
//! reconnect by itself and traffic must flow again, with vswitchd untouched
//! (same process, no vsctl command in between).
#![forbid(unsafe_code)]
use std::path::Path;
use std::time::Duration;

use vswitch_e2e::status::PortStatsReply;
use vswitch_e2e::wait;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Testpmd, Vswitchd};

/// How long vswitchd may take to (re)connect and traffic to start; the
/// vhost library retries a refused connection once a second.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// How long a traffic phase lasts.
const TRAFFIC_TIME: Duration = Duration::from_secs(1);
const PORTS: [&str; 2] = ["vm1", "vm2"];

fn link_states(switch: &Vswitchd) -> Vec<bool> {
    let show = switch.show();
    PORTS.iter().map(|n| show.port(n).unwrap_or_else(|| panic!("show lacks {n}: {show:?}")).link_up).collect()
}

fn wait_links(switch: &Vswitchd, up: bool, when: &str) {
    let mut last = Vec::new();
    let reached = wait::poll(CONNECT_LIMIT, || {
        last = link_states(switch);
        last.iter().all(|&l| l == up).then_some(())
    });
    assert!(reached.is_some(), "{when}: links of {PORTS:?} are {last:?} in `vsctl show`, expected up={up}");
}

/// Waits until rx and tx of both ports are above `since`, then checks they
/// keep growing for `TRAFFIC_TIME`.
fn wait_traffic_both_ways(switch: &Vswitchd, since: &PortStatsReply, when: &str) {
    let grew = |now: &PortStatsReply, then: &PortStatsReply| {
        PORTS.iter().all(|p| {
            now.port(p).rx_packets > then.port(p).rx_packets && now.port(p).tx_packets > then.port(p).tx_packets
        })
    };
    let mut last = None;
    let started = wait::poll(CONNECT_LIMIT, || {
        let now = switch.port_stats();
        let flowing = grew(&now, since);
        last = Some(now);
        flowing.then_some(())
    });
    assert!(started.is_some(), "{when}: no traffic both ways; before: {since:#?}\nlast: {last:#?}");
    let before = switch.port_stats();
    std::thread::sleep(TRAFFIC_TIME);
    let after = switch.port_stats();
    assert!(grew(&after, &before), "{when}: traffic stopped: {before:#?}\n->\n{after:#?}");
}

fn stop_vm(vm: Testpmd, which: &str) {
    let (status, stats) = vm.stop();
    assert!(status.success(), "{which}: testpmd exited with {status}");
    for port in [0, 1] {
        let counts = stats.port(port);
        assert!(counts.rx_packets > 0 && counts.tx_packets > 0, "{which}: VM port {port} idle: {stats:?}");
    }
}

fn start_vm(dir: &TestDir, name: &str, sockets: [&Path; 2]) -> Testpmd {
    Testpmd::start(dir, name, &sockets, true)
}

#[test]
fn traffic_resumes_when_the_vm_restarts() {
    let dir = TestDir::new("vhost_client");
    let (sock1, sock2) = (dir.join("vm1.sock"), dir.join("vm2.sock"));
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::vhost_user_client("vm1", 1, &sock1))
        .port(PortSpec::vhost_user_client("vm2", 2, &sock2))
        .flow("in_port=1,actions=output:2")
        .flow("in_port=2,actions=output:1");
    let mut switch = Vswitchd::start(&dir, &config);
    let pid = switch.pid();
    let show = switch.show();
    for name in PORTS {
        assert_eq!(show.port(name).map(|p| p.kind.as_str()), Some("vhost-user-client"), "{show:?}");
    }
    assert_eq!(link_states(&switch), [false, false], "links up before any VM listens");

    let idle = switch.port_stats();
    let vm = start_vm(&dir, "vm-a", [&sock1, &sock2]);
    wait_links(&switch, true, "first VM");
    wait_traffic_both_ways(&switch, &idle, "first VM");
    stop_vm(vm, "first VM");
    wait_links(&switch, false, "first VM gone");

    // No VM: nothing may arrive.
    let paused = switch.port_stats();
    std::thread::sleep(Duration::from_millis(300));
    let still = switch.port_stats();
    for name in PORTS {
        assert_eq!(paused.port(name).rx_packets, still.port(name).rx_packets, "{name} receives without a VM");
    }

    let vm = start_vm(&dir, "vm-b", [&sock1, &sock2]);
    wait_links(&switch, true, "second VM");
    wait_traffic_both_ways(&switch, &still, "second VM");
    stop_vm(vm, "second VM");

    assert!(switch.is_running(), "vswitchd exited");
    assert_eq!(switch.pid(), pid);
    switch.stop();
    assert!(!dir.join("ctl.sock").exists(), "control socket left behind");
}
