//! dpdk-testpmd as the "VM" on the other side of vhost-user ports: one
//! `net_virtio_user` vdev per socket, io forwarding between port pairs
//! (0<->1) with `--tx-first`, so traffic loops VM port 0 -> switch -> VM port
//! 1 -> VM -> ... Pinned with `-l 1,0 --main-lcore 1` (its forwarding lcore
//! on core 0, away from vswitchd's PMD on core 1), `--in-memory` (no hugepage
//! files) and `--single-file-segments` (vhost-user passes at most 8 memory
//! regions to the switch, so virtio-user needs one file per segment list,
//! not one per page). Its output goes to a log
//! file whose port statistics `--stats-period 1` refreshes every second; the
//! final per-port forward statistics are printed when it stops on SIGINT.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::bins;
use crate::process::{log_tail, Guarded, Signal, Stopped};
use crate::scratch::{remove_dpdk_leftovers, TestDir};

/// How long testpmd may take to exit after SIGINT.
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// Hugepage memory of the VM in MB.
const MEMORY_MB: &str = "256";
/// Packet buffers of the VM's pool.
const MBUFS: &str = "8192";
/// Lines of its log printed when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// Packet counters of one testpmd port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounts {
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What testpmd reported, by port number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestpmdStats {
    pub ports: BTreeMap<u16, PortCounts>,
}

impl TestpmdStats {
    /// The counters of `port` (zeros when testpmd did not report it).
    pub fn port(&self, port: u16) -> PortCounts {
        self.ports.get(&port).copied().unwrap_or_default()
    }
}

/// A running testpmd VM.
pub struct Testpmd {
    process: Guarded,
    log: PathBuf,
    file_prefix: String,
}

impl Testpmd {
    /// Starts testpmd with one virtio-user port per socket in `sockets` (port
    /// i on `sockets[i]`). `server`: testpmd listens on the sockets (for
    /// vswitchd's vhost-user-client ports) instead of connecting to them.
    /// `name` tells several VMs of one test apart (log file, file prefix).
    pub fn start(dir: &TestDir, name: &str, sockets: &[&Path], server: bool) -> Testpmd {
        let file_prefix = dir.file_prefix(name);
        let log = dir.join(&format!("{name}.log"));
        let mut command = Command::new(bins::testpmd());
        command.args(["-l", "1,0", "--main-lcore", "1", "--no-pci", "--in-memory", "--single-file-segments"]);
        command.args(["-m", MEMORY_MB, "--file-prefix", &file_prefix]);
        for (index, socket) in sockets.iter().enumerate() {
            let mut vdev = format!("net_virtio_user{index},path={}", socket.display());
            if server {
                vdev.push_str(",server=1");
            }
            command.arg("--vdev").arg(vdev);
        }
        command.args(["--", "--forward-mode=io", "--tx-first", "--stats-period", "1", "--nb-cores=1"]);
        command.args(["--rxq=1", "--txq=1", "--total-num-mbufs", MBUFS]);
        let process = Guarded::spawn(name, command, Signal::Int, &log, &log);
        Testpmd { process, log, file_prefix }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The latest periodic port statistics it printed (`--stats-period`).
    pub fn periodic_stats(&self) -> TestpmdStats {
        parse_stats(&self.log(), "NIC statistics for port")
    }

    /// Stops it with SIGINT (by pid); requires it to exit within
    /// `STOP_LIMIT`. Returns its exit status and the forward statistics it
    /// printed on the way out (none when it died before printing them).
    pub fn stop(mut self) -> (ExitStatus, TestpmdStats) {
        let status = match self.process.stop(STOP_LIMIT) {
            Stopped::Exited { status, .. } => status,
            Stopped::Killed { grace } => panic!("testpmd did not exit within {grace:?} after SIGINT; killed it"),
        };
        (status, parse_stats(&self.log(), "Forward statistics for port"))
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- testpmd {} (pid {}) output ----\n{}\n---- end of testpmd output ----",
                self.process.name(),
                self.pid(),
                log_tail(&self.log, LOG_TAIL_LINES)
            );
        }
        // Stop it before removing what it may have left behind.
        if self.process.is_running() {
            if let Stopped::Killed { grace } = self.process.stop(STOP_LIMIT) {
                eprintln!("testpmd (pid {}) ignored SIGINT for {grace:?} and was killed", self.pid());
            }
        }
        if !self.process.is_running() {
            remove_dpdk_leftovers(&self.file_prefix);
        }
    }
}

/// The last RX-packets / TX-packets values printed per port in the blocks
/// whose header contains `header` ("... <header> N ...").
pub fn parse_stats(log: &str, header: &str) -> TestpmdStats {
    let mut stats = TestpmdStats::default();
    let mut current: Option<u16> = None;
    for line in log.lines() {
        if let Some(at) = line.find(header) {
            let rest = &line[at + header.len()..];
            let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
            current = digits.parse().ok();
            continue;
        }
        if line.contains("statistics") {
            // Another kind of block ("Port statistics", "Accumulated ...").
            current = None;
            continue;
        }
        let Some(port) = current else { continue };
        let entry = stats.ports.entry(port).or_default();
        if let Some(n) = number_after(line, "RX-packets:") {
            entry.rx_packets = n;
        }
        if let Some(n) = number_after(line, "TX-packets:") {
            entry.tx_packets = n;
        }
    }
    stats
}

fn number_after(line: &str, label: &str) -> Option<u64> {
    let at = line.find(label)?;
    line[at + label.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
Port statistics ====================================
  ######################## NIC statistics for port 0  ########################
  RX-packets: 7549760    RX-missed: 0          RX-bytes:  483184640
  RX-errors: 0
  RX-nombuf:  0
  TX-packets: 7552704    TX-errors: 0          TX-bytes:  483373056

  Throughput (since last show)
  Rx-pps:      1737695          Rx-bps:    889700264
  ############################################################################

  ######################## NIC statistics for port 1  ########################
  RX-packets: 7552672    RX-missed: 0          RX-bytes:  483371008
  TX-packets: 7549792    TX-errors: 0          TX-bytes:  483186688
  ############################################################################
Telling cores to stop...

  ---------------------- Forward statistics for port 0  ----------------------
  RX-packets: 9371648        RX-dropped: 0             RX-total: 9371648
  TX-packets: 9375168        TX-dropped: 0             TX-total: 9375168
  ----------------------------------------------------------------------------

  ---------------------- Forward statistics for port 1  ----------------------
  RX-packets: 9375136        RX-dropped: 0             RX-total: 9375136
  TX-packets: 9371680        TX-dropped: 0             TX-total: 9371680
  ----------------------------------------------------------------------------

  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
  RX-packets: 18746784       RX-dropped: 0             RX-total: 18746784
  TX-packets: 18746848       TX-dropped: 0             TX-total: 18746848
";

    #[test]
    fn final_forward_statistics() {
        let stats = parse_stats(LOG, "Forward statistics for port");
        assert_eq!(stats.port(0), PortCounts { rx_packets: 9371648, tx_packets: 9375168 });
        assert_eq!(stats.port(1), PortCounts { rx_packets: 9375136, tx_packets: 9371680 });
        assert_eq!(stats.ports.len(), 2);
    }

    #[test]
    fn periodic_statistics() {
        let stats = parse_stats(LOG, "NIC statistics for port");
        assert_eq!(stats.port(0), PortCounts { rx_packets: 7549760, tx_packets: 7552704 });
        assert_eq!(stats.port(1), PortCounts { rx_packets: 7552672, tx_packets: 7549792 });
    }

    #[test]
    fn nothing_printed_yet() {
        assert!(parse_stats("EAL: Detected CPU lcores: 2\n", "NIC statistics for port").ports.is_empty());
    }
}
