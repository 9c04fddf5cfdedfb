//! Where a PMD's packets leave: `PortOutputs`, what the burst stages and the action execution
//! send to (generic, so that tests record outputs without DPDK), and `OutputBuffers`, the PMD's
//! own implementation on DPDK: the transmit queues it holds (`TxTarget`, taken over with datapath
//! versions) and a buffer per port, sent when it holds a burst and at the end of every iteration.
use std::ops::Range;

use crate::datapath::{TxTarget, MAX_PORTS};
use crate::dpdk::mbuf::{Mbuf, RxBurst, TxBatch, BURST_SIZE};
use crate::packet::PacketBurst;
use crate::pmd::stats::{DropReason, PmdCounters};

/// The packet type of the bursts an output takes.
pub type PacketOf<O> = <<O as PortOutputs>::Burst as PacketBurst>::Packet;

/// The output ports of one PMD.
pub trait PortOutputs {
    /// The bursts it takes runs of packets from.
    type Burst: PacketBurst;

    /// Whether this PMD can transmit on DPDK port `port`.
    fn has_port(&self, port: u16) -> bool;

    /// Queues `packet` on `port` (one `has_port` accepts).
    fn output(&mut self, counters: &mut PmdCounters, port: u16, packet: PacketOf<Self>);

    /// Queues the packets in slots `range` of `burst` on `port` (one `has_port` accepts), taking
    /// them out of the burst.
    fn output_run(&mut self, counters: &mut PmdCounters, port: u16, burst: &mut Self::Burst, range: Range<usize>);
}

/// Per-port output buffers of one PMD and its transmit queues, by DPDK port id.
pub struct OutputBuffers {
    tx: [TxBatch; MAX_PORTS],
    targets: [Option<TxTarget>; MAX_PORTS],
    /// Bit i set: tx[i] holds packets.
    pending: u64,
}

impl Default for OutputBuffers {
    fn default() -> Self {
        OutputBuffers {
            tx: std::array::from_fn(|_| TxBatch::new()),
            targets: std::array::from_fn(|_| None),
            pending: 0,
        }
    }
}

impl OutputBuffers {
    /// Drops the transmit queues of removed ports and takes over those of added ones (the
    /// buffers are empty: the PMD flushes them before it takes a version).
    pub fn take_over(&mut self, removed_ports: &[u16], targets: Vec<TxTarget>) {
        for &port in removed_ports {
            if let Some(target) = self.targets.get_mut(usize::from(port)) {
                *target = None;
            }
        }
        for target in targets {
            if let Some(slot) = self.targets.get_mut(usize::from(target.port())) {
                *slot = Some(target);
            }
        }
    }

    /// Transmits what is buffered for `port`.
    #[inline]
    fn flush(&mut self, counters: &mut PmdCounters, port: u16) {
        let slot = usize::from(port) % MAX_PORTS;
        self.pending &= !(1 << slot);
        if !self.tx[slot].is_empty() {
            let sent = match self.targets[slot].as_mut() {
                Some(target) => target.send(&mut self.tx[slot]),
                // Unreachable: packets are buffered only for ports with a target, and targets
                // change only while the buffers are empty.
                None => (0, self.tx[slot].free_all()),
            };
            count_sent(counters, port, sent);
        }
    }

    /// Transmits everything buffered.
    #[inline]
    pub fn flush_all(&mut self, counters: &mut PmdCounters) {
        while self.pending != 0 {
            // The lowest port with packets (below 64).
            let port = u16::try_from(self.pending.trailing_zeros()).unwrap_or_default();
            self.flush(counters, port);
        }
    }

    /// Sends a whole burst on `port` at once, without copying it into the buffer.
    #[inline]
    fn send_burst(&mut self, counters: &mut PmdCounters, port: u16, burst: &mut RxBurst) {
        let sent = match self.targets[usize::from(port) % MAX_PORTS].as_mut() {
            Some(target) => target.send_burst(burst),
            None => (0, burst.free_all()),
        };
        count_sent(counters, port, sent);
    }

    /// Queues a whole burst on every output port of `ports` this PMD has (what it has not is
    /// counted as `no_such_port` on `in_port` and left in the burst): a shared reference for all
    /// but the last, which takes the burst itself.
    #[inline]
    pub fn burst_to_ports(&mut self, counters: &mut PmdCounters, in_port: u16, ports: &[u16], burst: &mut RxBurst) {
        let n = burst.len();
        let mut last = None;
        for &port in ports {
            if !self.has_port(port) {
                counters.port_drop(in_port, DropReason::NoSuchPort, n as u64);
                continue;
            }
            let Some(previous) = last.replace(port) else { continue };
            let slot = usize::from(previous) % MAX_PORTS;
            if self.tx[slot].room() < n {
                self.flush(counters, previous);
            }
            let left = self.tx[slot].share_all(burst);
            count_unbuffered(counters, previous, left);
            self.pending |= 1 << slot;
        }
        let Some(port) = last else { return };
        let slot = usize::from(port) % MAX_PORTS;
        if self.tx[slot].is_empty() && n >= BURST_SIZE / 2 {
            // A big enough burst and nothing buffered before it: send it as it is.
            self.send_burst(counters, port, burst);
            return;
        }
        self.output_run(counters, port, burst, 0..n);
    }
}

impl PortOutputs for OutputBuffers {
    type Burst = RxBurst;

    #[inline]
    fn has_port(&self, port: u16) -> bool {
        self.targets.get(usize::from(port)).is_some_and(Option::is_some)
    }

    #[inline]
    fn output(&mut self, counters: &mut PmdCounters, port: u16, packet: Mbuf) {
        let slot = usize::from(port) % MAX_PORTS;
        if self.tx[slot].room() == 0 {
            self.flush(counters, port);
        }
        if let Err(packet) = self.tx[slot].push(packet) {
            drop(packet);
            counters.port_drop(port, DropReason::TxFailed, 1);
            return;
        }
        self.pending |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(counters, port);
        }
    }

    #[inline]
    fn output_run(&mut self, counters: &mut PmdCounters, port: u16, burst: &mut RxBurst, range: Range<usize>) {
        let slot = usize::from(port) % MAX_PORTS;
        if range.start == 0 && range.end == burst.len() && self.tx[slot].is_empty() && range.len() >= BURST_SIZE / 2 {
            // The whole burst, big enough, nothing buffered before it: send it as it is.
            self.send_burst(counters, port, burst);
            return;
        }
        if self.tx[slot].room() < range.len() {
            self.flush(counters, port);
        }
        // The buffer holds two bursts: after a flush a whole run fits.
        let left = self.tx[slot].take_range(burst, range);
        count_unbuffered(counters, port, left);
        self.pending |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(counters, port);
        }
    }
}

/// Counts a transmit's (sent, dropped) on `port`.
#[inline]
fn count_sent(counters: &mut PmdCounters, port: u16, (sent, dropped): (usize, usize)) {
    counters.port_tx(port, sent as u64);
    if dropped > 0 {
        counters.port_drop(port, DropReason::TxFailed, dropped as u64);
    }
}

/// Counts packets that did not fit an output buffer (they stay in the burst, freed with it).
#[inline]
fn count_unbuffered(counters: &mut PmdCounters, port: u16, left: usize) {
    if left > 0 {
        counters.port_drop(port, DropReason::TxFailed, left as u64);
    }
}
