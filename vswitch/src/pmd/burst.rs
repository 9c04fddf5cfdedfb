//! The stages a PMD runs a receive burst through, on the packet line rx -> (decap) -> parse ->
//! classify -> actions -> (encap) -> tx: `parse` (flow keys and header offsets; runts dropped),
//! `lookup_emc` (the exact-match cache), `lookup_megaflows` (the megaflow classifier, the whole
//! burst at once), `follow_repeats` (packets whose headers repeat the packet before them take its
//! result), `upcall_misses` (the OpenFlow pipeline for what is left; its megaflow installed) and
//! `execute_runs` (the actions, once per run of packets of one megaflow). `Forwarder::forward_burst`
//! drives them, as Open vSwitch's dp_netdev_input__ drives dfc_processing and
//! fast_path_processing. Each stage hands the next the packets it left unresolved as `Lanes`.
//! Everything is generic over the output ports (and so over the packet burst), so unit tests run
//! the stages on `TestBurst` without DPDK.
use std::ops::Range;
use std::sync::Arc;

use crossbeam::channel::Sender;

use crate::classifier::emc::Emc;
use crate::classifier::gate::Gate;
use crate::classifier::megaflow::{EntryId, Megaflow, MegaflowTable};
use std::net::IpAddr;

use crate::datapath::{Datapath, Decap, DecapVerdict, FlowActions};
use crate::dpdk::eal::rdtsc;
use crate::dpdk::mbuf::BURST_SIZE;
use crate::dpdk::prefetch;
use crate::flow::key::FlowKey;
use crate::flow::key::{words, Field, TUN_METADATA_OFFSET};
use crate::packet::proto::len;
use crate::packet::{extract_into, Layers, PacketBurst, RepeatCheck};
use crate::pipeline::dependencies::Dependencies;
use crate::pmd::execute::{Execution, Origin};
use crate::pmd::lanes::Lanes;
use crate::pmd::output::PortOutputs;
use crate::pmd::stats::{DropReason, PmdCounter};
use crate::pmd::upcall::{upcall, SideEffect, Upcall};
use crate::revalidate::VersionChanges;
use crate::tunnel::header::{DecapError, ReadyHeader, TunnelMetadata, TUN_FLAG_CSUM};

/// A PMD's datapath caches: the exact-match cache in front of the megaflow classifier, and the
/// gates that switch the EMC and the repeat check off where they do not pay.
pub struct Caches {
    pub emc: Emc,
    pub emc_gate: Gate,
    pub repeat_gate: Gate,
    pub megaflows: MegaflowTable<Arc<FlowActions>>,
    /// Everything the translations of the cached megaflows read (at least): a version change
    /// that touches none of it leaves the caches as they are without looking at a megaflow.
    pub reads: Dependencies,
    /// The megaflows whose translation rewrote a word of their mask before a lookup: no probe
    /// finds them, so every revalidation checks them (stale ids are dropped as they are met).
    rewriting: Vec<EntryId>,
    /// The megaflows a revalidation checks (kept for its capacity).
    candidates: Vec<EntryId>,
}

/// What a revalidation of the caches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revalidation {
    /// Megaflows checked against the changes (0 when the summary ruled them all out).
    pub checked: u64,
    /// Megaflows removed: a change may alter their result.
    pub removed: u64,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            emc: Emc::default(),
            emc_gate: Gate::emc(),
            repeat_gate: Gate::repeats(),
            megaflows: MegaflowTable::default().reporting_to(credit_rules),
            reads: Dependencies::default(),
            rewriting: Vec::new(),
            candidates: Vec::new(),
        }
    }
}

impl Caches {
    /// Forgets every cached result.
    pub fn flush(&mut self) {
        self.emc.clear();
        self.megaflows.clear();
        self.reads = Dependencies::default();
        self.rewriting.clear();
    }

    /// Installs the megaflow of an upcall; `None` when the table is full.
    fn install(&mut self, mask: &FlowKey, key: &FlowKey, actions: &Arc<FlowActions>, now_ms: u64) -> Option<EntryId> {
        let id = self.megaflows.insert(mask, key, Arc::clone(actions), now_ms)?;
        let reads = &actions.dependencies;
        self.reads.union(reads);
        if reads.rewritten_words & mask.nonzero_words() != 0 {
            self.rewriting.push(id);
        }
        Some(id)
    }

    /// Removes the megaflows whose result `changes` may alter (their exact-match cache entries
    /// die with them); keeps every other.
    pub fn revalidate(&mut self, changes: &VersionChanges) -> Revalidation {
        if !changes.may_affect(&self.reads) {
            return Revalidation::default();
        }
        if changes.needs_full_check(&self.reads) {
            return self.revalidate_all(changes);
        }
        // Only rules and MAC entries changed: the probes find what they may affect.
        let candidates = &mut self.candidates;
        candidates.clear();
        for probe in changes.probes() {
            self.megaflows.overlapping(&probe.value, &probe.mask, candidates);
        }
        let megaflows = &self.megaflows;
        self.rewriting.retain(|&id| megaflows.contains(id));
        candidates.extend_from_slice(&self.rewriting);
        candidates.sort_unstable();
        candidates.dedup();
        let mut done = Revalidation::default();
        for &id in candidates.iter() {
            let Some(megaflow) = self.megaflows.megaflow(id) else { continue };
            done.checked += 1;
            if affected(changes, &megaflow) {
                self.megaflows.remove(id);
                done.removed += 1;
            }
        }
        done
    }

    /// `revalidate` by checking every megaflow.
    fn revalidate_all(&mut self, changes: &VersionChanges) -> Revalidation {
        let mut kept_reads = Dependencies::default();
        let mut rewriting = std::mem::take(&mut self.rewriting);
        rewriting.clear();
        let mut checked = 0;
        let removed = self.megaflows.retain(|megaflow| {
            checked += 1;
            if affected(changes, megaflow) {
                return false;
            }
            let reads = &megaflow.value.dependencies;
            kept_reads.union(reads);
            if reads.rewritten_words & megaflow.mask.nonzero_words() != 0 {
                rewriting.push(megaflow.id);
            }
            true
        });
        self.reads = kept_reads;
        self.rewriting = rewriting;
        Revalidation { checked, removed: removed as u64 }
    }
}

/// Whether `changes` may alter the result of `megaflow`.
fn affected(changes: &VersionChanges, megaflow: &Megaflow<'_, Arc<FlowActions>>) -> bool {
    let flow = megaflow.value;
    changes.bridge(flow.bridge).is_none_or(|c| c.affects(&megaflow.key, megaflow.mask, &flow.dependencies))
        || changes.crossed_bridge_changed(&flow.dependencies)
}

/// The reporter of a PMD's megaflow table: the packets and bytes of a megaflow go to the
/// OpenFlow rules it was translated from (their counters and idle times), to the groups and
/// buckets it went through and to the tables it was looked up in, in arrears, instead of
/// atomics on every run of packets; its last use refreshes the learned entries it keeps alive
/// (`pipeline::keepalive`).
pub fn credit_rules(flow: &Arc<FlowActions>, packets: u64, bytes: u64, last_used_ms: u64) {
    for rule in flow.rules.iter() {
        rule.record(packets, bytes, last_used_ms);
    }
    for group in flow.groups.iter() {
        group.record(packets, bytes);
    }
    flow.table_lookups.record(packets);
    for entry in flow.keep_alive.iter() {
        entry.refresh(last_used_ms);
    }
}

/// What the stages know of each packet (lane) of the burst being forwarded.
struct Scratch {
    keys: [FlowKey; BURST_SIZE],
    /// The words `keys[i]` may hold (what the last parse into it wrote): the next parse into
    /// the slot clears those it does not write itself.
    key_words: [u32; BURST_SIZE],
    layers: [Layers; BURST_SIZE],
    hashes: [u32; BURST_SIZE],
    /// The megaflow the packet matched (None for a runt, and for `uncached` packets).
    found: [Option<EntryId>; BURST_SIZE],
    /// The actions of a packet whose megaflow could not be installed.
    uncached: [Option<Arc<FlowActions>>; BURST_SIZE],
    /// A decapsulated packet's tunnel fields, and the tunnel port (datapath port, bridge) it
    /// came in on.
    tunnel: [TunnelMetadata; BURST_SIZE],
    tunnel_port: [(u16, usize); BURST_SIZE],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            keys: [FlowKey::default(); BURST_SIZE],
            key_words: [0; BURST_SIZE],
            layers: [Layers::default(); BURST_SIZE],
            hashes: [0; BURST_SIZE],
            found: [None; BURST_SIZE],
            uncached: std::array::from_fn(|_| None),
            tunnel: [TunnelMetadata::EMPTY; BURST_SIZE],
            tunnel_port: [(0, 0); BURST_SIZE],
        }
    }
}

/// What `parse` found out besides the keys.
struct Parsed {
    /// Packets whose headers repeat the packet before them: they were not parsed.
    repeats: Lanes,
    /// Frames shorter than an Ethernet header: dropped.
    runts: Lanes,
}

/// Consecutive packets of a burst (`packets`) that go to `port` and nowhere else, from one or
/// more adjacent runs.
struct OutputGroup {
    port: u16,
    packets: Range<usize>,
}

/// A PMD's forwarding state: its caches, the burst scratch, the queue of what upcalls learn, and
/// the execution of actions with its outputs, counters, packet-ins and meters.
pub struct Forwarder<O> {
    pub caches: Box<Caches>,
    scratch: Box<Scratch>,
    side_effects: Sender<SideEffect>,
    pub exec: Execution<O>,
}

impl<O: PortOutputs> Forwarder<O> {
    pub fn new(exec: Execution<O>, side_effects: Sender<SideEffect>) -> Forwarder<O> {
        Forwarder { caches: Box::default(), scratch: Box::default(), side_effects, exec }
    }

    /// Moves the caches from datapath version `current` to `next`: drops the megaflows whose
    /// result `next` may change, or all of them when it does not say what changed since
    /// `current`.
    pub fn take_version(&mut self, current: u64, next: &Datapath) {
        let counters = &mut self.exec.counters;
        let changes = &next.changes;
        if changes.from_version == current && !changes.is_total() {
            let done = self.caches.revalidate(changes);
            counters.add(PmdCounter::Revalidations, 1);
            counters.add(PmdCounter::MegaflowsRevalidated, done.checked);
            counters.add(PmdCounter::MegaflowsInvalidated, done.removed);
        } else {
            self.caches.flush();
            counters.add(PmdCounter::CacheFlushes, 1);
        }
    }

    /// Forwards one burst that came in on `in_port` of `bridge`; with `decap` (an underlay
    /// bridge's port), packets for the bridge's tunnel endpoints are decapsulated first and go on
    /// as packets of their tunnel port. What no action took stays in the burst, for the caller to
    /// free.
    #[inline]
    pub fn forward_burst(
        &mut self,
        datapath: &Datapath,
        bridge: usize,
        in_port: u16,
        decap: Option<&Decap>,
        burst: &mut O::Burst,
        now_ms: u64,
    ) {
        let n = burst.len().min(BURST_SIZE);
        let origin = Origin { bridge, in_port };
        let mut tunnels = Lanes::NONE;
        let mut plain = Lanes::first(n);
        if let Some(decap) = decap {
            let (decapsulated, dropped) = self.decapsulate(decap, burst, n, origin);
            tunnels = decapsulated;
            plain = plain - decapsulated - dropped;
        }
        self.forward_lanes(datapath, origin, burst, n, plain, false, now_ms);
        if !tunnels.is_empty() {
            self.forward_tunnels(datapath, burst, n, tunnels, now_ms);
        }
        // Only now: the burst's packets pointed at any megaflow until they ran.
        self.caches.megaflows.evict_over_limit();
    }

    /// The decapsulated packets of a burst, one tunnel port at a time: the stages' own copy, out
    /// of line, so the plain path's code stays as compact as without tunnels.
    #[inline(never)]
    fn forward_tunnels(&mut self, datapath: &Datapath, burst: &mut O::Burst, n: usize, tunnels: Lanes, now_ms: u64) {
        let mut tunnels = tunnels;
        while let Some(first) = tunnels.iter().next() {
            let port = self.scratch.tunnel_port[first];
            let mut lanes = Lanes::NONE;
            for i in tunnels.iter() {
                if self.scratch.tunnel_port[i] == port {
                    lanes.insert(i);
                }
            }
            tunnels -= lanes;
            let (dp_port, tunnel_bridge) = port;
            self.exec.counters.port_rx(dp_port, u64::from(lanes.count()));
            let origin = Origin { bridge: tunnel_bridge, in_port: dp_port };
            self.forward_lanes(datapath, origin, burst, n, lanes, true, now_ms);
        }
    }

    /// The decap stage: packets for one of the bridge's tunnel endpoints lose their outer
    /// headers (their tunnel fields and port go to the scratch); invalid ones, and those no
    /// tunnel port receives, are dropped here, counted by reason on the underlay port - never an
    /// upcall. A packet of the same length whose outer headers are byte for byte those of the
    /// tunnel packet classified before it (a train of one flow from a sender that keeps the IP
    /// ID, as Open vSwitch and this switch do) takes that packet's verdict without a second
    /// classification, unless a checksum over its payload was checked (the payloads differ).
    /// The outer headers are trimmed after the classification pass, so the comparison reads
    /// them; so are bytes after the outer IP packet (Ethernet padding), which are not part of
    /// the inner frame. Returns (decapsulated, dropped).
    #[cold]
    #[inline(never)]
    fn decapsulate(&mut self, decap: &Decap, burst: &mut O::Burst, n: usize, origin: Origin) -> (Lanes, Lanes) {
        let s = &mut *self.scratch;
        let mut tunnels = Lanes::NONE;
        let mut dropped = Lanes::NONE;
        // Per packet: (outer headers' length, inner frame's length).
        let mut lens = [(0usize, 0usize); BURST_SIZE];
        // The last packet classified as a tunnel packet without a payload checksum, and its
        // lengths.
        let mut previous: Option<(usize, (usize, usize))> = None;
        for (i, lens_i) in lens.iter_mut().enumerate().take(n) {
            let data = burst.data(i);
            if let Some((p, (outer_len, inner_len))) = previous {
                let earlier = burst.data(p);
                if earlier.len() == data.len() && earlier.get(..outer_len) == data.get(..outer_len) {
                    s.tunnel[i] = s.tunnel[p];
                    s.tunnel_port[i] = s.tunnel_port[p];
                    *lens_i = (outer_len, inner_len);
                    tunnels.insert(i);
                    continue;
                }
            }
            let reason = match decap.classify(data, &mut s.tunnel[i]) {
                DecapVerdict::NotTunnel => continue,
                DecapVerdict::Drop(reason) => reason,
                DecapVerdict::Tunnel { outer_len, inner_len, receiver } => {
                    s.tunnel_port[i] = (receiver.dp_port, receiver.bridge);
                    *lens_i = (outer_len, inner_len);
                    tunnels.insert(i);
                    previous = (s.tunnel[i].flags & TUN_FLAG_CSUM == 0).then_some((i, (outer_len, inner_len)));
                    continue;
                }
            };
            dropped.insert(i);
            drop(burst.take(i));
            self.exec.count_drops(origin, reason, 1);
        }
        for i in tunnels.iter() {
            let (outer_len, inner_len) = lens[i];
            let padded = burst.pkt_len(i) as usize > outer_len + inner_len;
            if !burst.trim_front(i, outer_len) || (padded && !burst.truncate(i, inner_len)) {
                tunnels.remove(i);
                dropped.insert(i);
                drop(burst.take(i));
                self.exec.count_drops(origin, DropReason::Decap(DecapError::Truncated), 1);
            }
        }
        (tunnels, dropped)
    }

    /// The stages for packets `lanes` of the burst, all from `origin`; `tunnel`: decapsulated
    /// packets (their tunnel fields go into their keys).
    #[inline(always)]
    #[expect(clippy::too_many_arguments, reason = "the stages' inputs, passed on in a register each")]
    fn forward_lanes(
        &mut self,
        datapath: &Datapath,
        origin: Origin,
        burst: &mut O::Burst,
        n: usize,
        lanes: Lanes,
        tunnel: bool,
        now_ms: u64,
    ) {
        if lanes.is_empty() {
            return;
        }
        let Parsed { repeats, runts } = self.parse(burst, n, origin, lanes, tunnel);
        let lookups = lanes - repeats - runts;
        let use_emc = !self.caches.megaflows.scans_all() && self.caches.emc_gate.try_now();
        let mut misses = if use_emc { self.lookup_emc(lookups) } else { lookups };
        if !misses.is_empty() {
            misses = self.lookup_megaflows(misses, use_emc);
        }
        if !repeats.is_empty() {
            misses |= self.follow_repeats(n, repeats);
        }
        let uncached =
            if misses.is_empty() { Lanes::NONE } else { self.upcall_misses(datapath, origin.bridge, misses, now_ms) };
        self.execute_runs(origin, burst, n, uncached, repeats, now_ms);
    }

    /// Parses every packet into its key and layers, except those whose headers repeat the packet
    /// before them (trains of one flow; the check is gated: with interleaved flows it never
    /// succeeds). Runts are dropped as `rx_invalid_packet`, as Open vSwitch does.
    /// Only `lanes` are parsed (the others have no megaflow, and run nothing); decapsulated
    /// packets (`tunnel`) get their tunnel fields, and repeat the packet before them only if
    /// those are the same too.
    #[inline(always)]
    fn parse(&mut self, burst: &mut O::Burst, n: usize, origin: Origin, lanes: Lanes, tunnel: bool) -> Parsed {
        let s = &mut *self.scratch;
        let mut repeats = Lanes::NONE;
        let mut runts = Lanes::NONE;
        let mut previous: &[u8] = &[];
        // How the next packet is compared with `previous` (the packet before it, when it is one
        // a packet may repeat): decided once per parsed packet, so a train's repeats pay for the
        // compare only.
        let mut check = RepeatCheck::Never;
        let check_repeats = self.caches.repeat_gate.try_now();
        // (Without tunnels every burst is all plain lanes: no per-packet test then.)
        let every_lane = lanes == Lanes::first(n);
        for i in 0..n {
            burst.prefetch(i + 1);
            if !every_lane && !lanes.contains(i) {
                s.found[i] = None;
                check = RepeatCheck::Never;
                continue;
            }
            let data = burst.data(i);
            if is_runt(data.len()) {
                runts.insert(i);
                // Nothing can repeat it, and no run includes it.
                s.layers[i] = Layers::default();
                s.found[i] = None;
                check = RepeatCheck::Never;
                continue;
            }
            if check_repeats
                && check.repeats(previous, &s.layers[i.saturating_sub(1)], data)
                && (!tunnel || same_tunnel_fields(&s.tunnel[i - 1], &s.tunnel[i]))
            {
                s.layers[i] = s.layers[i - 1];
                repeats.insert(i);
                previous = data;
                continue;
            }
            let key = &mut s.keys[i];
            let layers = &mut s.layers[i];
            extract_into(data, u32::from(origin.in_port), key, layers);
            // extract wrote (and cleared) its own words; those an earlier packet in this slot set
            // and this one did not must not leak into this key. In a steady stream there are none.
            if tunnel {
                layers.present |= set_tunnel_fields(key, &s.tunnel[i]);
            }
            clear_words(key, s.key_words[i] & !layers.present);
            s.key_words[i] = layers.present;
            if check_repeats {
                check = RepeatCheck::of(layers);
            }
            previous = data;
        }
        if check_repeats {
            self.caches.repeat_gate.record(lanes.count().saturating_sub(1), repeats.count());
        }
        if !runts.is_empty() {
            free_packets(burst, runts);
            self.exec.count_drops(origin, DropReason::RxInvalidPacket, u64::from(runts.count()));
        }
        Parsed { repeats, runts }
    }

    /// Looks `lookups` up in the exact-match cache; returns the misses. The hashes and the
    /// prefetch of the EMC slots are a pass of their own, apart from the parse, so that the
    /// parser's narrow stores have left the store buffer before the hash reads whole words.
    #[inline(always)]
    fn lookup_emc(&mut self, lookups: Lanes) -> Lanes {
        let (caches, s) = (&mut *self.caches, &mut *self.scratch);
        for i in lookups.iter() {
            let hash = Emc::hash(&s.keys[i], s.layers[i].present);
            s.hashes[i] = hash;
            // The first candidate slot is where a hit usually is.
            prefetch(caches.emc.slot_addresses(hash)[0]);
        }
        let mut misses = lookups;
        for i in lookups.iter() {
            let megaflows = &caches.megaflows;
            s.found[i] = caches.emc.lookup(&s.keys[i], s.layers[i].present, s.hashes[i], |id| megaflows.contains(id));
            if s.found[i].is_some() {
                misses.remove(i);
            }
        }
        let hits = lookups.count() - misses.count();
        caches.emc_gate.record(lookups.count(), hits);
        self.exec.counters.add(PmdCounter::EmcHits, u64::from(hits));
        misses
    }

    /// Looks `misses` up in the megaflow classifier, all at once; hits are offered to the EMC
    /// when it is in use. Returns what is still unresolved.
    #[inline(always)]
    fn lookup_megaflows(&mut self, misses: Lanes, use_emc: bool) -> Lanes {
        let (caches, s) = (&mut *self.caches, &mut *self.scratch);
        let hits = Lanes::from_bits(caches.megaflows.lookup_batch_masked(&s.keys, misses.bits(), &mut s.found));
        self.exec.counters.add(PmdCounter::MegaflowHits, u64::from(hits.count()));
        if use_emc {
            for i in hits.iter() {
                if let Some(id) = s.found[i] {
                    caches.emc.insert(&s.keys[i], s.layers[i].present, s.hashes[i], id);
                }
            }
        }
        misses - hits
    }

    /// Repeats take the megaflow of the packet before them. Those whose predecessor is still
    /// unresolved get a copy of its key and are returned, to be resolved after it by
    /// `upcall_misses`. The result travels down a train in a register (a chain of stores and
    /// loads through `found` costs a store-forwarding latency per packet).
    #[inline(always)]
    fn follow_repeats(&mut self, n: usize, repeats: Lanes) -> Lanes {
        let s = &mut *self.scratch;
        let mut waiting = Lanes::NONE;
        let mut repeat_hits = 0;
        let mut carried = None;
        for i in 0..n {
            if !repeats.contains(i) {
                carried = s.found[i];
                continue;
            }
            s.found[i] = carried;
            if carried.is_some() {
                repeat_hits += 1;
            } else if let Some(previous) = i.checked_sub(1) {
                // (The first packet is never a repeat.)
                s.keys[i] = s.keys[previous];
                s.key_words[i] = s.key_words[previous];
                s.hashes[i] = s.hashes[previous];
                waiting.insert(i);
            }
        }
        self.exec.counters.add(PmdCounter::RepeatHits, repeat_hits);
        waiting
    }

    /// The slow path for the packets no cache resolved: run the pipeline and install its
    /// megaflow. Before an upcall a packet looks again at what this burst's upcalls installed (a
    /// repeat simply takes its predecessor's), as Open vSwitch does, so the misses of one
    /// megaflow cost one upcall. Returns the packets whose megaflow could not be installed; their
    /// actions are in `Scratch::uncached`.
    #[cold]
    #[inline(never)]
    fn upcall_misses(&mut self, datapath: &Datapath, bridge: usize, misses: Lanes, now_ms: u64) -> Lanes {
        let (caches, s, counters) = (&mut *self.caches, &mut *self.scratch, &mut self.exec.counters);
        let mut uncached = Lanes::NONE;
        let mut installed = false;
        for i in misses.iter() {
            // A repeat (or any packet) right behind a packet resolved by an upcall of this
            // burst with the same key takes its megaflow.
            if let Some(previous) = i.checked_sub(1) {
                if let Some(id) = s.found[previous].filter(|_| s.keys[previous] == s.keys[i]) {
                    s.found[i] = Some(id);
                    counters.add(PmdCounter::RepeatHits, 1);
                    continue;
                }
            }
            if installed {
                if let Some(id) = caches.megaflows.lookup(&s.keys[i]) {
                    s.found[i] = Some(id);
                    counters.add(PmdCounter::MegaflowHits, 1);
                    continue;
                }
            }
            let started = rdtsc();
            let Upcall { actions, mask } = upcall(datapath, bridge, &s.keys[i], &self.side_effects);
            s.found[i] = caches.install(&mask, &s.keys[i], &actions, now_ms);
            if s.found[i].is_some() {
                installed = true;
            } else {
                uncached.insert(i);
                s.uncached[i] = Some(actions);
            }
            counters.add(PmdCounter::Upcalls, 1);
            counters.add(PmdCounter::UpcallCycles, rdtsc().wrapping_sub(started));
        }
        uncached
    }

    /// Runs the actions, once per run of consecutive packets of one megaflow (and packet by
    /// packet for `uncached` ones), in the burst's order. Adjacent runs that only output to the
    /// same port go on as one group.
    #[inline(always)]
    fn execute_runs(
        &mut self,
        origin: Origin,
        burst: &mut O::Burst,
        n: usize,
        uncached: Lanes,
        repeats: Lanes,
        now_ms: u64,
    ) {
        let mut group: Option<OutputGroup> = None;
        let mut i = 0;
        while i < n {
            if uncached.contains(i) {
                self.send_group(&mut group, burst);
                self.execute_uncached(origin, burst, i, now_ms);
                i += 1;
                continue;
            }
            let id = self.scratch.found[i];
            let mut j = i + 1;
            while j < n && self.scratch.found[j] == id && !uncached.contains(j) {
                j += 1;
            }
            // No megaflow: a run of runts, dropped in parse.
            if let Some(id) = id {
                self.execute_run(origin, id, burst, i..j, repeats, now_ms, &mut group);
            }
            i = j;
        }
        self.send_group(&mut group, burst);
    }

    /// Sends the group of packets to one port on, if there is one.
    #[inline(always)]
    fn send_group(&mut self, group: &mut Option<OutputGroup>, burst: &mut O::Burst) {
        if let Some(g) = group.take() {
            self.exec.ports.output_run(&mut self.exec.counters, g.port, burst, g.packets);
        }
    }

    /// Runs one megaflow's actions on packets `range` of the burst. A run that only outputs to
    /// one port joins `group` (or, not adjacent or to another port, sends the group on and starts
    /// the next); any other run sends the group on first, so every port sees the packets in order.
    #[inline(always)]
    #[expect(clippy::too_many_arguments, reason = "the run and what the burst knows of it, passed on in registers")]
    fn execute_run(
        &mut self,
        origin: Origin,
        id: EntryId,
        burst: &mut O::Burst,
        range: Range<usize>,
        repeats: Lanes,
        now_ms: u64,
        group: &mut Option<OutputGroup>,
    ) {
        let packets = range.len() as u64;
        let Some(flow) = self.caches.megaflows.get(id) else {
            // Unreachable: megaflows are evicted only after the burst (the packets stay in the
            // burst and are freed with it).
            self.exec.count_drops(origin, DropReason::PipelineError, packets);
            return;
        };
        // Counted in the encapsulation loop where there is one (the inner lengths), else here.
        let mut run_bytes = None;
        let exec = &mut self.exec;
        // A tunnel output to one port: encapsulate in the burst, then send the run like an
        // output.
        let mut only_output = flow.only_output;
        if let Some(push) = flow.only_tunnel.as_deref() {
            if let Some(&port) = push.outputs.first().filter(|&&port| exec.ports.has_port(port)) {
                let s = &*self.scratch;
                let mut hash = 0;
                // The header of a train (one flow, one length) is filled in once.
                let mut ready: Option<ReadyHeader> = None;
                let mut pushed_packets = 0;
                let mut bytes = 0;
                for i in range.clone() {
                    if i == range.start || !repeats.contains(i) {
                        let parsed = (0..=i).rev().find(|&j| !repeats.contains(j)).unwrap_or(i);
                        hash = Emc::hash(&s.keys[parsed], s.layers[parsed].present);
                    }
                    let inner_len = burst.pkt_len(i) as usize;
                    bytes += inner_len as u64;
                    if !push.fits(inner_len) {
                        drop(burst.take(i));
                        exec.count_drops(origin, DropReason::TunnelTooBig, 1);
                        continue;
                    }
                    if !ready.as_ref().is_some_and(|r| r.fits(inner_len, hash)) {
                        ready = push.header.ready(inner_len, hash);
                    }
                    let pushed = match &ready {
                        Some(header) => header.push_in_burst(burst, i),
                        None => push.header.push_in_burst(burst, i, hash),
                    };
                    if pushed.is_ok() {
                        pushed_packets += 1;
                    } else {
                        drop(burst.take(i));
                        exec.count_drops(origin, DropReason::TunnelNoHeadroom, 1);
                    }
                }
                exec.counters.port_tx(push.dp_port, pushed_packets);
                run_bytes = Some(bytes);
                only_output = Some(port);
            }
        }
        let bytes = run_bytes.unwrap_or_else(|| range.clone().map(|i| u64::from(burst.pkt_len(i))).sum());
        match only_output {
            Some(port) if exec.ports.has_port(port) => match group {
                Some(g) if g.port == port && g.packets.end == range.start => g.packets.end = range.end,
                _ => {
                    if let Some(g) = group.replace(OutputGroup { port, packets: range.clone() }) {
                        exec.ports.output_run(&mut exec.counters, g.port, burst, g.packets);
                    }
                }
            },
            // A port gone with a version this PMD has taken, before the megaflows were flushed.
            Some(_) => exec.count_drops(origin, DropReason::NoSuchPort, packets),
            None => {
                if let Some(g) = group.take() {
                    exec.ports.output_run(&mut exec.counters, g.port, burst, g.packets);
                }
                if flow.drops_all {
                    // Left in the burst, freed with it.
                    exec.count_drops(origin, flow.drop_reason, packets);
                } else {
                    let s = &*self.scratch;
                    // The flow hash of a tunnel output: the key's hash, computed once per train
                    // of repeats (a repeat's own key is not parsed: it is its predecessor's).
                    let mut hash = None;
                    for i in range {
                        if flow.tunnels && (hash.is_none() || !repeats.contains(i)) {
                            let parsed = (0..=i).rev().find(|&j| !repeats.contains(j)).unwrap_or(i);
                            hash = Some(Emc::hash(&s.keys[parsed], s.layers[parsed].present));
                        }
                        if let Some(packet) = burst.take(i) {
                            exec.execute(origin, packet, s.layers[i], &flow.actions, flow.drop_reason, hash);
                        }
                    }
                }
            }
        }
        self.caches.megaflows.credit(id, packets, bytes, now_ms);
    }

    /// Runs the actions of an `uncached` packet (credited to its rules at once: no megaflow
    /// counts it).
    #[cold]
    fn execute_uncached(&mut self, origin: Origin, burst: &mut O::Burst, i: usize, now_ms: u64) {
        let Some(flow) = self.scratch.uncached[i].take() else { return };
        credit_rules(&flow, 1, u64::from(burst.pkt_len(i)), now_ms);
        if let Some(packet) = burst.take(i) {
            self.exec.execute(origin, packet, self.scratch.layers[i], &flow.actions, flow.drop_reason, None);
        }
    }
}

/// Is a frame of `bytes` too short for an Ethernet header? Such a runt is dropped as
/// `rx_invalid_packet` before anything reads it, as Open vSwitch does. (The parse counts the
/// bytes it can read, the first segment; the fixed path, which reads none, the packet's length:
/// the same for the single-segment frames the drivers the switch uses deliver.)
#[inline(always)]
pub fn is_runt(bytes: usize) -> bool {
    bytes < len::ETHERNET
}

/// Takes the packets `lanes` out of `burst` (leaving holes) and frees them.
#[cold]
pub fn free_packets<B: PacketBurst>(burst: &mut B, lanes: Lanes) {
    for i in lanes.iter() {
        drop(burst.take(i));
    }
}

/// Writes a decapsulated packet's tunnel fields into its key; returns the key words they occupy:
/// tun_id, then tun_src/tun_dst or tun_ipv6_src/tun_ipv6_dst by the underlay's family (the other
/// family's words stay out, zero), tun_flags and the GBP fields only when one is set, the tun_metadata option
/// area only when a mapped Geneve option came - so a tunnel packet costs the hash and the cache
/// as few words as it can.
#[inline]
pub fn set_tunnel_fields(key: &mut FlowKey, meta: &TunnelMetadata) -> u32 {
    key.set_u64(Field::TunId, meta.tun_id);
    let mut present = words::TUN_ID;
    match (meta.src, meta.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            key.set_u64(Field::TunSrc, u64::from(u32::from(src)));
            key.set_u64(Field::TunDst, u64::from(u32::from(dst)));
            present |= words::TUN_IPV4;
        }
        (src, dst) => {
            key.set_u128(Field::TunIpv6Src, ipv6_bits(src));
            key.set_u128(Field::TunIpv6Dst, ipv6_bits(dst));
            present |= words::TUN_IPV6;
        }
    }
    let flags = meta.tun_flags();
    if flags != 0 || meta.gbp_id != 0 || meta.gbp_flags != 0 {
        key.set_u64(Field::TunFlags, u64::from(flags));
        key.set_u64(Field::TunGbpId, u64::from(meta.gbp_id));
        key.set_u64(Field::TunGbpFlags, u64::from(meta.gbp_flags));
        present |= words::TUN_FLAGS;
    }
    if meta.has_options {
        key.bytes[TUN_METADATA_OFFSET..].copy_from_slice(&meta.options);
        present |= words::TUN_METADATA;
    }
    present
}

/// An address as the 128 bits of an IPv6 field (IPv4 as an IPv4-mapped address).
#[inline]
fn ipv6_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Whether two decapsulated packets have the same tunnel fields in their keys.
#[inline]
fn same_tunnel_fields(a: &TunnelMetadata, b: &TunnelMetadata) -> bool {
    a.tun_id == b.tun_id
        && a.src == b.src
        && a.dst == b.dst
        && a.tun_flags() == b.tun_flags()
        && (a.gbp_id, a.gbp_flags) == (b.gbp_id, b.gbp_flags)
        && a.has_options == b.has_options
        && (!a.has_options || a.options == b.options)
}

/// Zeroes the words of `key` named by `words`.
#[inline]
fn clear_words(key: &mut FlowKey, words: u32) {
    let mut words = words;
    while words != 0 {
        let w = words.trailing_zeros() as usize;
        words &= words - 1;
        key.set_word(w, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::header::{TUN_FLAG_CSUM, TUN_FLAG_OAM};

    #[test]
    fn tunnel_fields_take_the_words_of_the_underlay_s_family_and_flags_only_when_set() {
        let mut key = FlowKey::default();
        let mut meta = TunnelMetadata {
            tun_id: 7,
            src: "fd00::2".parse().unwrap(),
            dst: "fd00::1".parse().unwrap(),
            flags: TUN_FLAG_CSUM,
            ..TunnelMetadata::EMPTY
        };
        assert_eq!(set_tunnel_fields(&mut key, &meta), words::TUN_ID | words::TUN_IPV6);
        assert_eq!(key.get_u128(Field::TunIpv6Src), u128::from("fd00::2".parse::<std::net::Ipv6Addr>().unwrap()));
        assert_eq!(key.get_u128(Field::TunIpv6Dst), 1 | (0xfd00 << 112));
        assert_eq!((key.get_u64(Field::TunSrc), key.get_u64(Field::TunFlags)), (0, 0), "the checksum flag is private");
        meta.flags |= TUN_FLAG_OAM;
        meta.src = "172.31.1.2".parse().unwrap();
        meta.dst = "172.31.1.1".parse().unwrap();
        let mut key = FlowKey::default();
        assert_eq!(set_tunnel_fields(&mut key, &meta), words::TUN_ID | words::TUN_IPV4 | words::TUN_FLAGS);
        assert_eq!((key.get_u64(Field::TunSrc), key.get_u64(Field::TunFlags)), (0xac1f_0102, 1));
        assert_eq!(key.nonzero_words() & words::TUN_IPV6, 0);
        let plain = TunnelMetadata { flags: 0, ..meta };
        assert!(!same_tunnel_fields(&meta, &plain), "tun_flags tells them apart");
        assert!(same_tunnel_fields(&meta, &TunnelMetadata { flags: TUN_FLAG_OAM, ..meta }));
        // GBP alone takes the flags word too.
        let gbp = TunnelMetadata { flags: 0, gbp_id: 7, ..meta };
        let mut key = FlowKey::default();
        assert_eq!(set_tunnel_fields(&mut key, &gbp), words::TUN_ID | words::TUN_IPV4 | words::TUN_FLAGS);
        assert_eq!((key.get_u64(Field::TunGbpId), key.get_u64(Field::TunFlags)), (7, 0));
        assert!(!same_tunnel_fields(&gbp, &plain));
    }
}
