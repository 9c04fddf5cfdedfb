//! No packet buffer leaks: the pool's `in_use` (vsctl mempool) returns to
//! its idle value once traffic stops, after frames dropped on a table miss
//! by a port added at run time, after VM traffic that is forwarded to one
//! port and copied to two (shared buffers), and after the VM disconnects.
#![forbid(unsafe_code)]
use std::time::Duration;

use vswitch_e2e::wait;
use vswitch_e2e::{frames, pcap};
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Testpmd, Vswitchd};

/// How long buffers may take to come back after traffic stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long the VM may take to connect and start forwarding.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// Frames of the runtime pcap source.
const SOURCE_FRAMES: u32 = 2000;

/// `in_use` once two readings 100 ms apart agree.
fn settled_in_use(switch: &Vswitchd) -> u32 {
    let mut previous = switch.mempool().in_use;
    let settled = wait::poll(DRAIN_LIMIT, || {
        std::thread::sleep(Duration::from_millis(100));
        let now = switch.mempool().in_use;
        let settled = now == previous;
        previous = now;
        settled.then_some(now)
    });
    settled.unwrap_or_else(|| panic!("mempool in_use never settled while idle; last {previous}"))
}

fn wait_in_use(switch: &Vswitchd, idle: u32, after: &str) {
    let mut last = 0;
    let back = wait::poll(DRAIN_LIMIT, || {
        last = switch.mempool().in_use;
        (last == idle).then_some(())
    });
    assert!(
        back.is_some(),
        "after {after}: {last} packet buffers in use, {idle} when idle: leaked {}",
        last - idle.min(last)
    );
}

#[test]
fn packet_buffers_return_to_the_pool() {
    let dir = TestDir::new("no_leak");
    let (sock1, sock2) = (dir.join("vm1.sock"), dir.join("vm2.sock"));
    let source = dir.join("source.pcap");
    pcap::write(&source, &frames::varied_frames(4, SOURCE_FRAMES));
    let config = SwitchConfig::new(&dir)
        .port(PortSpec::vhost_user("vm1", 1, &sock1))
        .port(PortSpec::vhost_user("vm2", 2, &sock2))
        .port(PortSpec::dpdk("sink", 3, "net_null0,no-rx=1"))
        .flow("in_port=1,actions=output:2,output:3")
        .flow("in_port=2,actions=output:1");
    let switch = Vswitchd::start(&dir, &config);
    let pool = switch.mempool();
    assert_eq!(pool.in_use + pool.available, pool.size, "{pool:?}");
    let idle = settled_in_use(&switch);

    // Drop path: a finite source added at run time, every frame a table miss.
    let devargs = format!("devargs=net_pcap4,rx_pcap={}", source.display());
    switch.add_port("src4", &["type=dpdk", &devargs, "ofport=4"]);
    let n = u64::from(SOURCE_FRAMES);
    wait::poll_or_panic(
        "src4's frames to be dropped as table misses",
        Duration::from_secs(10),
        || (switch.port_stats().port("src4").dropped("table_miss") >= n).then_some(()),
        || format!("{:?}", switch.port_stats().get("src4")),
    );
    wait_in_use(&switch, idle, "the table-miss drops of src4");
    switch.del_port("src4");
    wait_in_use(&switch, idle, "del-port src4");

    // Forward and multi-output path: the VM loops traffic through vm1 -> vm2
    // + sink and vm2 -> vm1.
    let vm = Testpmd::start(&dir, "vm", &[&sock1, &sock2], false);
    wait::poll_or_panic(
        "VM traffic through vm1, vm2 and sink",
        CONNECT_LIMIT,
        || {
            let s = switch.port_stats();
            (s.port("vm1").rx_packets > 0 && s.port("vm2").rx_packets > 0 && s.port("sink").tx_packets > 0)
                .then_some(())
        },
        || format!("{:#?}", switch.port_stats()),
    );
    std::thread::sleep(Duration::from_secs(1));
    let busy = switch.port_stats();
    assert!(busy.port("sink").tx_packets > 0 && busy.port("vm2").tx_packets > 0, "{busy:#?}");
    let (status, _) = vm.stop();
    assert!(status.success(), "testpmd exited with {status}");
    wait_in_use(&switch, idle, "the VM stopped");

    // Once the switch noticed the disconnection, still nothing held.
    wait::poll_or_panic(
        "links down after the VM left",
        CONNECT_LIMIT,
        || switch.show().bridges[0].ports.iter().all(|p| !p.link_up || p.name == "sink").then_some(()),
        || format!("{:?}", switch.show()),
    );
    std::thread::sleep(Duration::from_millis(300));
    wait_in_use(&switch, idle, "the VM disconnected");
    switch.stop();
}
