//! Harness for the end-to-end tests in `tests/e2e/`: they start the real
//! `vswitchd`, `vsctl` and `dpdk-testpmd` binaries on DPDK virtual devices
//! (net_pcap, net_null, vhost-user with testpmd's net_virtio_user as the VM)
//! and check what comes out; and a private Open vSwitch (`ovs_oracle`) whose
//! `ofproto/trace` results are the expected behaviour of the OpenFlow
//! pipeline. `frames` builds test traffic of several protocols and checks
//! checksums from scratch; `trace_diff` brings a `vsctl trace` and an OVS
//! trace into one form to compare them. `ofctl` drives the switch's OpenFlow
//! channel with `ovs-ofctl`; `openflow_apps` runs real controllers (os-ken's
//! simple_switch_13, Faucet) from the venv scripts/setup.sh installs; `netns`
//! makes hosts of net_tap ports in network namespaces of the test's own;
//! `conformance` runs os-ken's OpenFlow Switch Test Tool on the switch through
//! scripts/conformance.sh.
//!
//! Rules every helper here keeps, so a failing or panicking test never leaves
//! anything behind or hangs the suite:
//! - every DPDK process gets its own `--file-prefix` (test name + pid) and
//!   every test its own scratch directory (config, sockets, pcaps, logs);
//! - every process is stopped by its pid, by a Drop guard too (SIGTERM for
//!   vswitchd, SIGINT for testpmd, `ovs-appctl exit` then SIGTERM for Open
//!   vSwitch; a bounded wait, then SIGKILL);
//! - every wait and poll loop is bounded in time and count;
//! - vswitchd's stderr goes to a file that is printed when a test fails;
//! - Open vSwitch runs with its database, sockets and logs in the test's
//!   scratch directory and in a network namespace of its own, so it never
//!   meets the host's OVS or the benchmark harness's.
//! - network namespaces and kernel interfaces are named after the test and
//!   its pid and deleted by a Drop guard; traffic stays between them.
//!
//! The suite runs one test at a time (`--test-threads=1`): the processes are
//! pinned to cores 0 and 1 of the machine.
#![forbid(unsafe_code)]
pub mod bins;
pub mod command;
pub mod conformance;
pub mod differential;
pub mod frames;
pub mod netns;
pub mod ofctl;
pub mod ofctl_matrix;
pub mod ofctl_monitor;
pub mod openflow_apps;
pub mod openflow_raw;
pub mod overlay;
pub mod ovs_netdev;
pub mod ovs_oracle;
pub mod pcap;
pub mod process;
pub mod scratch;
pub mod status;
pub mod switch_config;
pub mod testpmd;
pub mod trace_diff;
pub mod vswitchd;
pub mod wait;

pub use ovs_oracle::{OfAction, OfVersion, OvsOracle, OvsPort};
pub use scratch::TestDir;
pub use switch_config::{PortSpec, SwitchConfig};
pub use testpmd::{Testpmd, TestpmdStats};
pub use vswitchd::Vswitchd;

/// The tunnel bridge (br-tun) of Neutron's OVS agent, the pipeline of the
/// classifier issue: port 1 faces the VMs (patch to br-int), ports 2 and 3
/// are tunnels. Shared by the oracle and the differential tests.
pub const NEUTRON_TUNNEL_BRIDGE: [&str; 15] = [
    "hard_timeout=0 idle_timeout=0 priority=1 in_port=1 actions=resubmit(,1)",
    "hard_timeout=0 idle_timeout=0 priority=1 in_port=2 actions=resubmit(,3)",
    "hard_timeout=0 idle_timeout=0 priority=1 in_port=3 actions=resubmit(,3)",
    "hard_timeout=0 idle_timeout=0 priority=0 actions=drop",
    "hard_timeout=0 idle_timeout=0 priority=1 table=1 dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=1 dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)",
    "hard_timeout=0 idle_timeout=0 priority=0 table=2 actions=drop",
    "hard_timeout=0 idle_timeout=0 priority=0 table=3 actions=drop",
    "hard_timeout=0 idle_timeout=0 priority=1 table=3 tun_id=0x1 actions=mod_vlan_vid:1,resubmit(,10)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=3 tun_id=0x2 actions=mod_vlan_vid:2,resubmit(,10)",
    "hard_timeout=0 idle_timeout=0 priority=1 table=10 actions=learn(table=20,priority=1,hard_timeout=300,\
     NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],\
     load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1",
    "hard_timeout=0 idle_timeout=0 priority=0 table=20 actions=resubmit(,21)",
    "hard_timeout=0 idle_timeout=0 priority=0 table=21 actions=drop",
    "hard_timeout=0 idle_timeout=0 priority=1 table=21 dl_vlan=1 actions=strip_vlan,set_tunnel:0x1,output:2,output:3",
    "hard_timeout=0 idle_timeout=0 priority=1 table=21 dl_vlan=2 actions=strip_vlan,set_tunnel:0x2,output:2,output:3",
];
