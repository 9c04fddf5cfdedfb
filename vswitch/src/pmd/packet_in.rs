//! Packet-ins leaving a PMD for the management thread: a copy of the whole packet (each
//! connection cuts it to what its OpenFlow version sends) with what the pipeline said about
//! it, through a bounded queue.
//! Every PMD limits itself per bridge with a token bucket (the bridge's packet-in limit, in TSC
//! ticks), so a flood of misses costs a PMD a counter increment per packet, not a copy, and
//! cannot flood the management thread. What is not queued is counted by the caller. Packets held
//! for an unresolved tunnel next hop take the same queue under a bucket of their own (the same
//! limit): traffic to a next hop that does not answer cannot starve the controllers.

use std::sync::Arc;

use crossbeam::channel::{Sender, TrySendError};

use crate::config::PacketInLimit;
use crate::datapath::Datapath;
use crate::pipeline::xlate::PacketInMeta;
use crate::token_bucket::TokenBucket;

/// Packet-ins queued from all PMDs to the management thread at most.
pub const PACKET_IN_QUEUE: usize = 1024;

/// A packet for the controllers of a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInEvent {
    /// Index of the bridge in the datapath version.
    pub bridge: usize,
    pub meta: Arc<PacketInMeta>,
    /// The packet as the actions before the controller action left it, whole.
    pub data: Vec<u8>,
    /// The packet's whole length.
    pub total_len: usize,
}

/// A PMD's side of the packet-in queue, with its per-bridge rate limits.
pub struct PacketInQueue {
    sender: Sender<PacketInEvent>,
    tsc_hz: u64,
    /// By bridge index, with the limit each was made for.
    buckets: Vec<(PacketInLimit, TokenBucket)>,
    /// The same, for packets held for a tunnel next hop.
    hold_buckets: Vec<(PacketInLimit, TokenBucket)>,
}

impl PacketInQueue {
    pub fn new(sender: Sender<PacketInEvent>, tsc_hz: u64) -> PacketInQueue {
        PacketInQueue { sender, tsc_hz, buckets: Vec::new(), hold_buckets: Vec::new() }
    }

    /// Follows a new datapath version: a bridge whose limit did not change keeps its bucket
    /// (table changes do not refill it).
    pub fn follow(&mut self, datapath: &Datapath, now_tsc: u64) {
        let tsc_hz = self.tsc_hz;
        for buckets in [&mut self.buckets, &mut self.hold_buckets] {
            buckets.truncate(datapath.bridges.len());
            for (index, bridge) in datapath.bridges.iter().enumerate() {
                let limit = bridge.packet_in_limit;
                let bucket =
                    || (limit, TokenBucket::new(u64::from(limit.rate), u64::from(limit.burst), tsc_hz, now_tsc));
                match buckets.get_mut(index) {
                    Some(slot) if slot.0 == limit => {}
                    Some(slot) => *slot = bucket(),
                    None => buckets.push(bucket()),
                }
            }
        }
    }

    /// Queues a packet-in for `bridge`; false when the PMD's limit for the bridge is used up or
    /// the queue is full (the management thread is behind).
    pub fn offer(
        &mut self,
        bridge: usize,
        meta: &Arc<PacketInMeta>,
        packet: &[u8],
        total_len: usize,
        now_tsc: u64,
    ) -> bool {
        let Some((_, bucket)) = self.buckets.get_mut(bridge) else { return false };
        Self::send(&self.sender, bucket, bridge, meta, packet, total_len, now_tsc)
    }

    /// Queues a packet held for an unresolved tunnel next hop (its own bucket, the bridge's
    /// limit); false as for `offer`.
    pub fn offer_hold(
        &mut self,
        bridge: usize,
        meta: &Arc<PacketInMeta>,
        packet: &[u8],
        total_len: usize,
        now_tsc: u64,
    ) -> bool {
        let Some((_, bucket)) = self.hold_buckets.get_mut(bridge) else { return false };
        Self::send(&self.sender, bucket, bridge, meta, packet, total_len, now_tsc)
    }

    fn send(
        sender: &Sender<PacketInEvent>,
        bucket: &mut TokenBucket,
        bridge: usize,
        meta: &Arc<PacketInMeta>,
        packet: &[u8],
        total_len: usize,
        now_tsc: u64,
    ) -> bool {
        if sender.is_full() || !bucket.take(now_tsc) {
            return false;
        }
        let event = PacketInEvent { bridge, meta: meta.clone(), data: packet.to_vec(), total_len };
        match sender.try_send(event) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}
