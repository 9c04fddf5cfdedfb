//! Clean shutdown: on SIGTERM (also in the middle of VM traffic) and on
//! SIGINT vswitchd exits 0 within a few seconds and leaves nothing behind:
//! no vhost-user server socket, no control socket, no hugepage file of its
//! file prefix, no file in its EAL runtime directory.
#![forbid(unsafe_code)]
use std::path::PathBuf;
use std::time::Duration;

use vswitch_e2e::process::Signal;
use vswitch_e2e::vswitchd::StopReport;
use vswitch_e2e::wait;
use vswitch_e2e::{PortSpec, SwitchConfig, TestDir, Testpmd, Vswitchd};

/// How long a clean stop may take.
const QUICK_STOP: Duration = Duration::from_secs(3);
/// How long the VM may take to connect and start forwarding.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);

fn vm_config(dir: &TestDir) -> (SwitchConfig, PathBuf, PathBuf) {
    let (sock1, sock2) = (dir.join("vm1.sock"), dir.join("vm2.sock"));
    let config = SwitchConfig::new(dir)
        .port(PortSpec::vhost_user("vm1", 1, &sock1))
        .port(PortSpec::vhost_user("vm2", 2, &sock2))
        .port(PortSpec::dpdk("sink", 3, "net_null0,no-rx=1"))
        .flow("in_port=1,actions=output:2,output:3")
        .flow("in_port=2,actions=output:1");
    (config, sock1, sock2)
}

/// The stop was quick and nothing of the stopped vswitchd remains: no
/// vhost-user server socket, no control socket, no hugepage file and no file
/// in its EAL runtime directory.
fn assert_clean_stop(config: &SwitchConfig, report: &StopReport) {
    assert!(report.took < QUICK_STOP, "vswitchd took {:?} to stop", report.took);
    let mut left: Vec<PathBuf> = config.server_sockets().into_iter().filter(|p| p.exists()).collect();
    if config.socket.exists() {
        left.push(config.socket.clone());
    }
    left.extend(report.hugepage_files.iter().cloned());
    left.extend(report.runtime_files.iter().cloned());
    assert!(left.is_empty(), "left behind after exit: {left:?}");
}

#[test]
fn sigterm_during_vm_traffic_exits_cleanly() {
    let dir = TestDir::new("shutdown_busy");
    let (config, sock1, sock2) = vm_config(&dir);
    let switch = Vswitchd::start(&dir, &config);
    let vm = Testpmd::start(&dir, "vm", &[&sock1, &sock2], false);
    wait::poll_or_panic(
        "VM traffic through the switch",
        CONNECT_LIMIT,
        || {
            let s = switch.port_stats();
            (s.port("vm1").rx_packets > 0 && s.port("vm2").rx_packets > 0).then_some(())
        },
        || format!("{:#?}", switch.port_stats()),
    );
    let report = switch.stop();
    assert_clean_stop(&config, &report);
    // The VM's own exit is not under test: with its vhost-user peer gone,
    // testpmd may die of SIGPIPE while stopping its ports.
    let _ = vm.stop();
}

#[test]
fn sigterm_after_the_vm_left_exits_cleanly() {
    let dir = TestDir::new("shutdown_idle");
    let (config, sock1, sock2) = vm_config(&dir);
    let switch = Vswitchd::start(&dir, &config);
    let vm = Testpmd::start(&dir, "vm", &[&sock1, &sock2], false);
    wait::poll_or_panic(
        "VM traffic through the switch",
        CONNECT_LIMIT,
        || (switch.port_stats().port("vm2").rx_packets > 0).then_some(()),
        || format!("{:#?}", switch.port_stats()),
    );
    let (status, _) = vm.stop();
    assert!(status.success(), "testpmd exited with {status}");
    let report = switch.stop();
    assert_clean_stop(&config, &report);
}

#[test]
fn sigint_exits_cleanly() {
    let dir = TestDir::new("shutdown_sigint");
    let (config, _, _) = vm_config(&dir);
    let switch = Vswitchd::start(&dir, &config);
    let report = switch.stop_with(Signal::Int);
    assert_clean_stop(&config, &report);
}
