//! Harness for the end-to-end tests in `tests/e2e/`: they start the real
//! `vswitchd`, `vsctl` and `dpdk-testpmd` binaries on DPDK virtual devices
//! (net_pcap, net_null, vhost-user with testpmd's net_virtio_user as the VM)
//! and check what comes out; and a private Open vSwitch (`ovs_oracle`) whose
//! `ofproto/trace` results are the expected behaviour of the OpenFlow
//! pipeline. `frames` builds test traffic of several protocols and checks
//! checksums from scratch; `trace_diff` brings a `vsctl trace` and an OVS
//! trace into one form to compare them.
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
//!
//! The suite runs one test at a time (`--test-threads=1`): the processes are
//! pinned to cores 0 and 1 of the machine.
pub mod bins;
pub mod command;
pub mod differential;
pub mod frames;
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
