//! Poll-mode worker threads: one per configured core, pinned, registered as
//! a DPDK lcore. Each owns its share of the rx queues, its output buffers,
//! its caches (exact-match cache and megaflow classifier) and its counters.
//! Per burst: parse every packet into a flow key, look it up in the EMC,
//! then the megaflows (whole burst at once), run the OpenFlow pipeline for
//! what is left (the upcall) and install its megaflow, then run the actions
//! once per run of packets of one megaflow. It takes new `Datapath`
//! versions from the management thread at the top of an iteration (its
//! quiescent point), flushes its caches, and acknowledges the version, so
//! the management thread knows when an old one is unused.
pub mod execute;
pub mod packet_in;
pub mod stats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, Sender, TryRecvError};

use crate::classifier::emc::Emc;
use crate::classifier::gate::Gate;
use crate::classifier::megaflow::{EntryId, MegaflowTable};
use crate::datapath::{Datapath, FlowActions, TxTarget, MAX_PORTS};
use crate::dpdk::eal::{rdtsc, Eal, ThreadRegistration};
use crate::dpdk::mbuf::{Mbuf, MbufBatch, RxBurst, TxBatch, BURST_SIZE};
use crate::dpdk::prefetch;
use crate::flow::key::FlowKey;
use crate::flow::FlowRule;
use crate::packet::{extract_into, same_headers, Layers, PacketBuf};
use crate::pipeline::meter::{Meter, MeterState, MeterVerdict};
use crate::pipeline::xlate::{translate, Bridge, DpAction, MacLearning, PacketInMeta, XlateStop, NO_DP_PORT};
use packet_in::{PacketInEvent, PacketInQueue};
use stats::{DropReason, PmdCounter, PmdCounters, SharedCounters};

/// Empty iterations before an idle PMD starts to sleep.
const IDLE_ITERATIONS_BEFORE_SLEEP: u32 = 1024;
/// First back-off sleep; doubles up to the configured maximum.
const FIRST_SLEEP_US: u32 = 10;
/// Counters are published every this many busy iterations (and on every
/// idle one), so the management thread sees them within microseconds.
const PUBLISH_EVERY: u32 = 256;

/// What the management thread tells a PMD.
pub enum PmdCommand {
    /// Switch to this datapath version at the next quiescent point.
    Install(Arc<Datapath>),
    /// Zero the per-PMD counters.
    ClearStats,
    /// Run a packet-out at the next quiescent point.
    Inject(Box<Injection>),
    /// Leave the poll loop.
    Stop,
}

/// A packet-out for a PMD to run: the packet, parsed, and the datapath actions of its bridge
/// (translated by the management thread from the packet-out's actions).
pub struct Injection {
    pub bridge: usize,
    /// The datapath port it came in on, or `NO_DP_PORT` (from the controller).
    pub in_port: u16,
    pub packet: Mbuf,
    pub layers: Layers,
    pub actions: Vec<DpAction>,
}

/// Commands a PMD holds before the management thread must wait (packet-outs fill it fastest).
const COMMAND_QUEUE: usize = 256;

/// What the management thread can see of a PMD.
pub struct PmdShared {
    pub core: usize,
    /// The datapath version this PMD runs; it no longer touches older ones.
    pub acked_version: AtomicU64,
    pub counters: SharedCounters,
}

/// The management thread's handle on one PMD thread.
pub struct PmdHandle {
    pub shared: Arc<PmdShared>,
    commands: Sender<PmdCommand>,
    thread: Option<JoinHandle<()>>,
}

impl PmdHandle {
    /// Starts a PMD on `core` running `datapath`. Fails when the thread
    /// cannot be pinned or registered with DPDK.
    pub fn spawn(
        eal: Arc<Eal>,
        index: usize,
        core: usize,
        idle_sleep_max_us: u32,
        datapath: Arc<Datapath>,
        side_effects: Sender<SideEffect>,
        packet_ins: Sender<PacketInEvent>,
    ) -> Result<PmdHandle, String> {
        let tsc_per_ms = (eal.tsc_hz() / 1000).max(1);
        let shared = Arc::new(PmdShared {
            core,
            acked_version: AtomicU64::new(datapath.version),
            counters: SharedCounters::default(),
        });
        let (commands, command_rx) = channel::bounded(COMMAND_QUEUE);
        let (ready_tx, ready_rx) = channel::bounded::<Result<(), String>>(1);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pmd-c{core}"))
            .spawn(move || {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    let _ = ready_tx.send(Err(format!("cannot pin PMD thread to core {core}")));
                    return;
                }
                let registration = match ThreadRegistration::register(&eal) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("PMD on core {core}: {e}")));
                        return;
                    }
                };
                tracing::info!(core, lcore = registration.lcore(), "PMD thread started");
                let _ = ready_tx.send(Ok(()));
                let mut packet_ins = PacketInQueue::new(packet_ins, tsc_per_ms * 1000);
                packet_ins.follow(&datapath, rdtsc());
                let mut meters = PmdMeters { tsc_hz: tsc_per_ms * 1000, by_bridge: Vec::new() };
                meters.follow(&datapath, rdtsc());
                let pmd = Pmd {
                    index,
                    shared: thread_shared,
                    commands: command_rx,
                    side_effects,
                    packet_ins,
                    meters,
                    idle_sleep_max_us,
                    tsc_per_ms,
                    counters: PmdCounters::default(),
                    out: OutputBuffers { tx: std::array::from_fn(|_| TxBatch::new()), pending: 0 },
                    caches: Caches::new(),
                };
                pmd.run(datapath);
                drop(registration);
                drop(eal);
            })
            .map_err(|e| format!("cannot spawn PMD thread: {e}"))?;
        let mut handle = PmdHandle { shared, commands, thread: Some(thread) };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => {
                handle.join();
                Err(e)
            }
            Err(_) => Err(format!("PMD thread on core {core} did not start")),
        }
    }

    /// Sends a command; fails only if the PMD thread is gone or stuck.
    pub fn send(&self, command: PmdCommand) -> Result<(), String> {
        self.commands
            .send_timeout(command, Duration::from_secs(2))
            .map_err(|_| format!("PMD on core {} does not take commands", self.shared.core))
    }

    /// Sends a command if the PMD's queue has room.
    pub fn try_send(&self, command: PmdCommand) -> Result<(), String> {
        self.commands.try_send(command).map_err(|_| format!("PMD on core {} is busy", self.shared.core))
    }

    pub fn acked_version(&self) -> u64 {
        self.shared.acked_version.load(Ordering::Acquire)
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        let _ = self.send(PmdCommand::Stop);
        self.join();
    }
}

impl Drop for PmdHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The PMD thread's own state.
struct Pmd {
    index: usize,
    shared: Arc<PmdShared>,
    commands: Receiver<PmdCommand>,
    side_effects: Sender<SideEffect>,
    packet_ins: PacketInQueue,
    meters: PmdMeters,
    idle_sleep_max_us: u32,
    tsc_per_ms: u64,
    counters: PmdCounters,
    out: OutputBuffers,
    caches: Box<Caches>,
}

/// Per-port output buffers of one PMD and the transmit step.
struct OutputBuffers {
    /// By DPDK port id.
    tx: [TxBatch; MAX_PORTS],
    /// Bit i set: tx[i] holds packets.
    pending: u64,
}

/// The PMD's caches and its per-burst scratch space.
struct Caches {
    emc: Emc,
    emc_gate: Gate,
    repeat_gate: Gate,
    megaflows: MegaflowTable<Arc<FlowActions>>,
    keys: [FlowKey; BURST_SIZE],
    /// The words `keys[i]` may hold (what the last parse into it wrote): the next parse into
    /// the slot clears those it does not write itself.
    key_words: [u32; BURST_SIZE],
    layers: [Layers; BURST_SIZE],
    hashes: [u32; BURST_SIZE],
    found: [Option<EntryId>; BURST_SIZE],
    next_maintenance: u64,
    next_report: u64,
}

impl Caches {
    fn new() -> Box<Caches> {
        Box::new(Caches {
            emc: Emc::default(),
            emc_gate: Gate::emc(),
            repeat_gate: Gate::repeats(),
            megaflows: MegaflowTable::default().reporting_to(credit_rules),
            keys: [FlowKey::default(); BURST_SIZE],
            key_words: [0; BURST_SIZE],
            layers: [Layers::default(); BURST_SIZE],
            hashes: [0; BURST_SIZE],
            found: [None; BURST_SIZE],
            next_maintenance: 0,
            next_report: 0,
        })
    }

    fn flush(&mut self) {
        self.emc.clear();
        self.megaflows.clear();
    }
}

/// Consecutive packets of a burst (`packets`) that go to `port` and nowhere
/// else, from one or more adjacent runs.
struct OutputGroup {
    port: u16,
    packets: std::ops::Range<usize>,
}

/// A megaflow unused this long expires.
const MEGAFLOW_IDLE_MS: u64 = 10_000;
/// How often subtables are re-ranked and idle megaflows expired.
const MAINTENANCE_EVERY_MS: u64 = 1_000;
/// Megaflow slots examined per maintenance step (bounds the pause).
const EXPIRE_SLOTS_PER_STEP: usize = 4096;
/// How often megaflow counts are handed on to the rules they came from.
const REPORT_EVERY_MS: u64 = 10;
/// Megaflow slots reported per step (~10 us): a full table of 200,000 in 1 s.
const REPORT_SLOTS_PER_STEP: usize = 2048;

/// The reporter of a PMD's megaflow table: the packets and bytes of a megaflow go to the
/// OpenFlow rules it was translated from (their counters and idle times) and to the groups and
/// buckets it went through, in arrears, instead of atomics on every run of packets.
fn credit_rules(flow: &Arc<FlowActions>, packets: u64, bytes: u64, last_used_ms: u64) {
    for rule in flow.rules.iter() {
        rule.record(packets, bytes, last_used_ms);
    }
    for group in flow.groups.iter() {
        group.record(packets, bytes);
    }
}

/// Something the slow path learned for the management thread to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideEffect {
    /// A rule built by a learn action, for bridge `bridge`.
    LearnedRule { bridge: usize, rule: Box<FlowRule> },
    /// A MAC address NORMAL saw.
    LearnedMac { bridge: usize, mac: MacLearning },
}

/// This PMD's enforcement state of every bridge's meters, in the order of `BridgeDp::meters`.
struct PmdMeters {
    tsc_hz: u64,
    by_bridge: Vec<Vec<MeterState>>,
}

impl PmdMeters {
    /// Follows a new datapath version: a meter that did not change keeps its buckets.
    fn follow(&mut self, datapath: &Datapath, now_tsc: u64) {
        let mut old: hashbrown::HashMap<*const Meter, MeterState> =
            self.by_bridge.drain(..).flatten().map(|state| (Arc::as_ptr(&state.meter), state)).collect();
        for bridge in &datapath.bridges {
            let states = bridge
                .meters
                .iter()
                .map(|meter| {
                    old.remove(&Arc::as_ptr(meter))
                        .unwrap_or_else(|| MeterState::new(meter.clone(), self.tsc_hz, now_tsc))
                })
                .collect();
            self.by_bridge.push(states);
        }
    }

    #[inline]
    fn apply(&mut self, bridge: usize, id: u32, pmd: usize, bytes: u32) -> MeterVerdict {
        let Some(states) = self.by_bridge.get_mut(bridge) else { return MeterVerdict::Pass };
        match states.binary_search_by_key(&id, |state| state.meter.id) {
            Ok(index) => states[index].apply(pmd, rdtsc(), bytes),
            // Gone with a table change this PMD has not taken yet.
            Err(_) => MeterVerdict::Pass,
        }
    }
}

/// Where `execute` puts the packets of one PMD and bridge.
struct Sink<'a> {
    out: &'a mut OutputBuffers,
    counters: &'a mut PmdCounters,
    packet_ins: &'a mut PacketInQueue,
    meters: &'a mut PmdMeters,
    datapath: &'a Datapath,
    pmd: usize,
    bridge: usize,
}

impl execute::Outputs for Sink<'_> {
    #[inline]
    fn output(&mut self, port: u16, packet: Mbuf) {
        self.out.push(self.datapath, self.pmd, self.counters, port, packet);
    }

    #[inline]
    fn drop_packet(&mut self, in_port: u16, reason: DropReason) {
        // A packet-out from the controller has no input port to count it on.
        if in_port != NO_DP_PORT {
            self.counters.port_drop(in_port, reason, 1);
        }
    }

    fn packet_in(&mut self, packet: &Mbuf, meta: &Arc<PacketInMeta>) -> bool {
        let total_len = packet.pkt_len() as usize;
        let queued = self.packet_ins.offer(self.bridge, meta, packet.data(), total_len, rdtsc());
        if queued {
            self.counters.add(PmdCounter::PacketIns, 1);
        }
        queued
    }

    #[inline]
    fn meter(&mut self, id: u32, packet: &Mbuf) -> MeterVerdict {
        self.meters.apply(self.bridge, id, self.pmd, packet.pkt_len())
    }
}

impl OutputBuffers {
    #[inline]
    fn push(&mut self, datapath: &Datapath, pmd: usize, counters: &mut PmdCounters, port: u16, packet: Mbuf) {
        let slot = usize::from(port) % MAX_PORTS;
        if self.tx[slot].room() == 0 {
            self.flush(datapath, pmd, counters, port);
        }
        if let Err(packet) = self.tx[slot].push(packet) {
            drop(packet);
            counters.port_drop(port, DropReason::TxFailed, 1);
            return;
        }
        self.pending |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(datapath, pmd, counters, port);
        }
    }

    /// Queues packets `range` of `burst` on `port`.
    #[inline]
    fn run_to_port(
        &mut self,
        datapath: &Datapath,
        pmd: usize,
        counters: &mut PmdCounters,
        port: u16,
        burst: &mut RxBurst,
        range: std::ops::Range<usize>,
    ) {
        let slot = usize::from(port) % MAX_PORTS;
        if range.start == 0 && range.end == burst.len() && self.tx[slot].is_empty() && range.len() >= BURST_SIZE / 2 {
            // The whole burst, big enough, nothing buffered before it: send
            // it as it is.
            transmit(datapath, pmd, counters, port, burst);
            return;
        }
        if self.tx[slot].room() < range.len() {
            self.flush(datapath, pmd, counters, port);
        }
        // The buffer holds two bursts: after a flush a whole run fits, so
        // nothing is left in practice; what is left would be freed with the
        // burst, so it is counted.
        let left = self.tx[slot].take_range(burst, range);
        if left > 0 {
            counters.port_drop(port, DropReason::TxFailed, left as u64);
        }
        self.pending |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(datapath, pmd, counters, port);
        }
    }

    /// Transmits what is buffered for `port`.
    #[inline]
    fn flush(&mut self, datapath: &Datapath, pmd: usize, counters: &mut PmdCounters, port: u16) {
        let slot = usize::from(port) % MAX_PORTS;
        self.pending &= !(1 << slot);
        if !self.tx[slot].is_empty() {
            transmit(datapath, pmd, counters, port, &mut self.tx[slot]);
        }
    }

    #[inline]
    fn flush_all(&mut self, datapath: &Datapath, pmd: usize, counters: &mut PmdCounters) {
        while self.pending != 0 {
            let slot = self.pending.trailing_zeros() as u16;
            self.flush(datapath, pmd, counters, slot);
        }
    }

    /// Queues a whole burst on every output port: a shared reference for
    /// all but the last, which takes the burst itself.
    #[inline]
    fn burst_to_ports(
        &mut self,
        datapath: &Datapath,
        pmd: usize,
        counters: &mut PmdCounters,
        ports: &[u16],
        burst: &mut RxBurst,
    ) {
        let Some((&last, others)) = ports.split_last() else {
            return;
        };
        for &port in others {
            let slot = usize::from(port) % MAX_PORTS;
            if self.tx[slot].room() < burst.len() {
                self.flush(datapath, pmd, counters, port);
            }
            self.tx[slot].share_from(burst);
            self.pending |= 1 << slot;
        }
        let slot = usize::from(last) % MAX_PORTS;
        if self.tx[slot].is_empty() && burst.len() >= BURST_SIZE / 2 {
            // A big enough burst and nothing buffered before it: send it as
            // it is, without copying it into the output buffer.
            transmit(datapath, pmd, counters, last, burst);
            return;
        }
        if self.tx[slot].room() < burst.len() {
            self.flush(datapath, pmd, counters, last);
        }
        self.tx[slot].take_from(burst);
        self.pending |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(datapath, pmd, counters, last);
        }
    }
}

impl Pmd {
    /// The poll loop. The datapath version lives in a local, not in `self`,
    /// so the loop borrows it without touching its reference count.
    fn run(mut self, mut datapath: Arc<Datapath>) {
        let mut burst = RxBurst::new();
        let mut idle_iterations = 0u32;
        let mut sleep_us = FIRST_SLEEP_US;
        let mut since_publish = 0u32;
        // One time stamp per iteration: the end of one is the start of the next.
        let mut last = rdtsc();
        loop {
            // Quiescent point: nothing of the current version is held here.
            match self.commands.try_recv() {
                Ok(PmdCommand::Install(next)) => {
                    self.out.flush_all(&datapath, self.index, &mut self.counters);
                    // Cached results may come from the old tables: start afresh.
                    self.caches.flush();
                    self.counters.add(PmdCounter::CacheFlushes, 1);
                    let version = next.version;
                    self.packet_ins.follow(&next, rdtsc());
                    self.meters.follow(&next, rdtsc());
                    datapath = next;
                    self.shared.acked_version.store(version, Ordering::Release);
                    continue;
                }
                Ok(PmdCommand::ClearStats) => {
                    self.counters.clear_pmd();
                    // Its subtable probes are published as they are: zero them too.
                    self.caches.megaflows.clear_stats();
                }
                Ok(PmdCommand::Inject(injection)) => {
                    let Injection { bridge, in_port, packet, layers, actions } = *injection;
                    let mut sink = Sink {
                        out: &mut self.out,
                        counters: &mut self.counters,
                        packet_ins: &mut self.packet_ins,
                        meters: &mut self.meters,
                        datapath: &datapath,
                        pmd: self.index,
                        bridge,
                    };
                    execute::execute(&mut sink, in_port, packet, layers, &actions, DropReason::ActionDrop);
                    self.counters.add(PmdCounter::PacketOuts, 1);
                    self.out.flush_all(&datapath, self.index, &mut self.counters);
                }
                Ok(PmdCommand::Stop) | Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            let received = self.poll_once(&datapath, &mut burst, last);
            let now = rdtsc();
            let spent = now.wrapping_sub(last);
            last = now;
            self.counters.add(PmdCounter::Iterations, 1);
            if received > 0 {
                self.counters.add(PmdCounter::BusyCycles, spent);
                self.counters.add(PmdCounter::Packets, received as u64);
                idle_iterations = 0;
                sleep_us = FIRST_SLEEP_US;
                since_publish += 1;
                if since_publish >= PUBLISH_EVERY {
                    self.publish();
                    since_publish = 0;
                }
            } else {
                self.counters.add(PmdCounter::IdleCycles, spent);
                self.publish();
                since_publish = 0;
                idle_iterations = idle_iterations.saturating_add(1);
                if self.idle_sleep_max_us > 0 && idle_iterations >= IDLE_ITERATIONS_BEFORE_SLEEP {
                    std::thread::sleep(Duration::from_micros(u64::from(sleep_us)));
                    self.counters.add(PmdCounter::Sleeps, 1);
                    let now = rdtsc();
                    self.counters.add(PmdCounter::IdleCycles, now.wrapping_sub(last));
                    last = now;
                    sleep_us = (sleep_us * 2).min(self.idle_sleep_max_us);
                }
            }
            self.maintain(now);
        }
        self.out.flush_all(&datapath, self.index, &mut self.counters);
        self.publish();
        tracing::info!(core = self.shared.core, "PMD thread stopped");
    }

    fn publish(&mut self) {
        let stats = self.caches.megaflows.stats();
        self.counters.set(PmdCounter::Megaflows, self.caches.megaflows.len() as u64);
        let bypass = self.caches.emc_gate.is_bypassing() || self.caches.megaflows.scans_all();
        self.counters.set(PmdCounter::EmcBypass, u64::from(bypass));
        self.counters.set(PmdCounter::SubtableLookups, stats.subtable_lookups);
        self.shared.counters.publish(&self.counters);
    }

    /// Every 10 ms: hand a slice of the megaflows' counts on to their rules.
    /// About once a second: re-rank subtables, expire idle megaflows (a
    /// bounded slice of the table per call).
    #[inline]
    fn maintain(&mut self, now_tsc: u64) {
        if now_tsc >= self.caches.next_report {
            self.caches.next_report = now_tsc + REPORT_EVERY_MS * self.tsc_per_ms;
            self.caches.megaflows.report_some(REPORT_SLOTS_PER_STEP);
        }
        if now_tsc < self.caches.next_maintenance {
            return;
        }
        self.caches.next_maintenance = now_tsc + MAINTENANCE_EVERY_MS * self.tsc_per_ms;
        let now_ms = now_tsc / self.tsc_per_ms;
        self.caches.megaflows.rank_subtables();
        self.caches.megaflows.expire_idle_some(now_ms, MEGAFLOW_IDLE_MS, EXPIRE_SLOTS_PER_STEP);
    }

    /// One pass over every owned rx queue; returns packets received.
    #[inline]
    fn poll_once(&mut self, datapath: &Datapath, burst: &mut RxBurst, now_tsc: u64) -> usize {
        let Some(rxqs) = datapath.pmd_rxqs.get(self.index) else {
            return 0;
        };
        let mut received = 0;
        for work in rxqs.iter() {
            let n = work.rxq.rx_burst(burst);
            if n == 0 {
                continue;
            }
            received += n;
            let in_port = work.rxq.port();
            self.counters.add(PmdCounter::Bursts, 1);
            self.counters.port_rx(in_port, n as u64);
            match &work.fixed {
                Some(fixed) => self.forward_fixed(datapath, fixed, in_port, burst, now_tsc),
                None => self.classify_and_forward(datapath, work.bridge, in_port, burst, now_tsc),
            }
            // What no action took (drops) goes back to the pool at once.
            burst.free_all();
        }
        self.out.flush_all(datapath, self.index, &mut self.counters);
        received
    }

    /// A queue whose packets all take the same outputs: no parsing.
    #[inline]
    fn forward_fixed(
        &mut self,
        datapath: &Datapath,
        fixed: &FlowActions,
        in_port: u16,
        burst: &mut RxBurst,
        now_tsc: u64,
    ) {
        let n = burst.len() as u64;
        if !fixed.rules.is_empty() || !fixed.groups.is_empty() {
            let bytes = (0..burst.len()).map(|i| u64::from(burst.pkt_len(i))).sum();
            let now_ms = now_tsc / self.tsc_per_ms;
            for rule in fixed.rules.iter() {
                rule.record(n, bytes, now_ms);
            }
            for group in fixed.groups.iter() {
                group.record(n, bytes);
            }
        }
        if fixed.output_ports.is_empty() {
            self.counters.port_drop(in_port, fixed.drop_reason, n);
            return;
        }
        self.out.burst_to_ports(datapath, self.index, &mut self.counters, &fixed.output_ports, burst);
    }

    /// Parse, exact-match cache, megaflow classifier, upcall; then run the
    /// actions once per run of packets of the same megaflow.
    #[inline]
    fn classify_and_forward(
        &mut self,
        datapath: &Datapath,
        bridge: usize,
        in_port: u16,
        burst: &mut RxBurst,
        now_tsc: u64,
    ) {
        let n = burst.len();
        let now_ms = now_tsc / self.tsc_per_ms;
        let caches = &mut *self.caches;
        // Pass 1: parse every packet, except those whose headers repeat the
        // packet before them (trains of one flow): they take its result. The
        // repeat check is gated: with interleaved flows it never succeeds.
        let mut repeats: u64 = 0;
        let mut previous: &[u8] = &[];
        let check_repeats = caches.repeat_gate.try_now();
        for i in 0..n {
            burst.prefetch(i + 1);
            let data = burst.data(i);
            if check_repeats && i > 0 && same_headers(previous, &caches.layers[i - 1], data) {
                caches.layers[i] = caches.layers[i - 1];
                repeats |= 1 << i;
                previous = data;
                continue;
            }
            let key = &mut caches.keys[i];
            let layers = &mut caches.layers[i];
            extract_into(data, u32::from(in_port), key, layers);
            // extract wrote (and cleared) its own words; those an earlier
            // packet in this slot set and this one did not must not leak
            // into this key. In a steady stream there are none.
            clear_words(key, caches.key_words[i] & !layers.present);
            caches.key_words[i] = layers.present;
            previous = data;
        }
        if check_repeats {
            caches.repeat_gate.record(n.saturating_sub(1) as u32, repeats.count_ones());
        }
        // Pass 2 (apart from pass 1, so the parser's narrow stores have left
        // the store buffer before the hash reads whole words): hash, and
        // start loading the EMC slots for pass 3. No EMC in front of a
        // megaflow table small enough to scan without a hash.
        let use_emc = !caches.megaflows.scans_all() && caches.emc_gate.try_now();
        if use_emc {
            for i in 0..n {
                if repeats & (1 << i) == 0 {
                    let hash = Emc::hash(&caches.keys[i], caches.layers[i].present);
                    caches.hashes[i] = hash;
                    // The first candidate slot is where a hit usually is.
                    prefetch(caches.emc.slot_addresses(hash)[0]);
                }
            }
        }
        // Pass 3: the EMC, for the packets that are not repeats (unless the
        // gate bypasses it: then they all go to the megaflows).
        let looked_up = !repeats & ((1u64 << n) - 1);
        let mut misses = looked_up;
        if use_emc {
            let mut lookups = looked_up;
            while lookups != 0 {
                let i = lookups.trailing_zeros() as usize;
                lookups &= lookups - 1;
                let megaflows = &caches.megaflows;
                let present = caches.layers[i].present;
                caches.found[i] =
                    caches.emc.lookup(&caches.keys[i], present, caches.hashes[i], |id| megaflows.contains(id));
                if caches.found[i].is_some() {
                    misses &= !(1 << i);
                }
            }
            let hits = looked_up.count_ones() - misses.count_ones();
            caches.emc_gate.record(looked_up.count_ones(), hits);
            self.counters.add(PmdCounter::EmcHits, u64::from(hits));
        }
        if misses != 0 {
            let hits = caches.megaflows.lookup_batch_masked(&caches.keys[..n], misses, &mut caches.found[..n]);
            self.counters.add(PmdCounter::MegaflowHits, u64::from(hits.count_ones()));
            let mut inserted = if use_emc { hits } else { 0 };
            while inserted != 0 {
                let i = inserted.trailing_zeros() as usize;
                inserted &= inserted - 1;
                if let Some(id) = caches.found[i] {
                    caches.emc.insert(&caches.keys[i], caches.layers[i].present, caches.hashes[i], id);
                }
            }
            misses &= !hits;
        }
        // Repeats take the result of the packet before them; those whose
        // predecessor is still unresolved wait for its upcall, with a copy of
        // its key.
        // The result travels down a train in a register (a chain of stores
        // and loads through `found` cost a store-forwarding latency per packet).
        if repeats != 0 {
            let mut repeat_hits = 0;
            let mut carried = None;
            for i in 0..n {
                if repeats & (1 << i) == 0 {
                    carried = caches.found[i];
                    continue;
                }
                caches.found[i] = carried;
                if carried.is_some() {
                    repeat_hits += 1;
                } else {
                    // i > 0: the first packet is never a repeat.
                    let previous = i - 1;
                    caches.keys[i] = caches.keys[previous];
                    caches.key_words[i] = caches.key_words[previous];
                    caches.hashes[i] = caches.hashes[previous];
                    misses |= 1 << i;
                }
            }
            self.counters.add(PmdCounter::RepeatHits, repeat_hits);
        }
        // Upcalls: run the pipeline, install the megaflow.
        let mut uncached: u64 = 0;
        while misses != 0 {
            let i = misses.trailing_zeros() as usize;
            misses &= misses - 1;
            if repeats & (1 << i) != 0 && uncached & (1 << (i - 1)) == 0 {
                if let Some(id) = self.caches.found[i - 1] {
                    // The packet it repeats has just been upcalled.
                    self.caches.found[i] = Some(id);
                    self.counters.add(PmdCounter::RepeatHits, 1);
                    continue;
                }
            }
            let started = rdtsc();
            let flow = self.upcall(datapath, bridge, i);
            let id = self.caches.megaflows.insert(&flow.1, &self.caches.keys[i], flow.0.clone(), now_ms);
            self.caches.found[i] = id;
            if id.is_none() {
                // Not installed (the table refused it): run it for this packet.
                uncached |= 1 << i;
                credit_rules(&flow.0, 1, u64::from(burst.pkt_len(i)), now_ms);
                if let Some(packet) = burst.take(i) {
                    let layers = self.caches.layers[i];
                    let mut sink = Sink {
                        out: &mut self.out,
                        counters: &mut self.counters,
                        packet_ins: &mut self.packet_ins,
                        meters: &mut self.meters,
                        datapath,
                        pmd: self.index,
                        bridge,
                    };
                    execute::execute(&mut sink, in_port, packet, layers, &flow.0.actions, flow.0.drop_reason);
                }
            }
            self.counters.add(PmdCounter::Upcalls, 1);
            self.counters.add(PmdCounter::UpcallCycles, rdtsc().wrapping_sub(started));
        }
        // Execute per run of equal megaflows; adjacent runs that only output
        // to the same port are sent on as one group.
        let mut group: Option<OutputGroup> = None;
        let mut i = 0;
        while i < n {
            let id = self.caches.found[i];
            let mut j = i + 1;
            while j < n && self.caches.found[j] == id && uncached & (1 << j) == 0 {
                j += 1;
            }
            if uncached & (1 << i) == 0 {
                if let Some(id) = id {
                    self.execute_run(datapath, bridge, id, in_port, burst, i..j, now_ms, &mut group);
                }
            }
            i = j;
        }
        if let Some(group) = group {
            self.out.run_to_port(datapath, self.index, &mut self.counters, group.port, burst, group.packets);
        }
        // Only now: the burst's packets pointed at any megaflow until they ran.
        self.caches.megaflows.evict_over_limit();
    }

    /// Runs one megaflow's actions on packets `range` of the burst. A run
    /// that only outputs to one port joins `group` (or, not adjacent or to
    /// another port, sends the group on and starts the next); any other run
    /// sends the group on first, so every port sees the packets in order.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn execute_run(
        &mut self,
        datapath: &Datapath,
        bridge: usize,
        id: EntryId,
        in_port: u16,
        burst: &mut RxBurst,
        range: std::ops::Range<usize>,
        now_ms: u64,
        group: &mut Option<OutputGroup>,
    ) {
        let caches = &mut *self.caches;
        let Some(flow) = caches.megaflows.get(id) else {
            return;
        };
        let packets = range.len() as u64;
        let bytes: u64 = range.clone().map(|i| u64::from(burst.pkt_len(i))).sum();
        let (out, counters) = (&mut self.out, &mut self.counters);
        if let Some(port) = flow.only_output {
            match group {
                Some(g) if g.port == port && g.packets.end == range.start => g.packets.end = range.end,
                _ => {
                    if let Some(g) = group.replace(OutputGroup { port, packets: range.clone() }) {
                        out.run_to_port(datapath, self.index, counters, g.port, burst, g.packets);
                    }
                }
            }
        } else {
            if let Some(g) = group.take() {
                out.run_to_port(datapath, self.index, counters, g.port, burst, g.packets);
            }
            if flow.drops_all {
                // Left in the burst, freed in bulk with it.
                counters.port_drop(in_port, flow.drop_reason, packets);
            } else {
                let mut sink = Sink {
                    out,
                    counters,
                    packet_ins: &mut self.packet_ins,
                    meters: &mut self.meters,
                    datapath,
                    pmd: self.index,
                    bridge,
                };
                for i in range {
                    if let Some(packet) = burst.take(i) {
                        execute::execute(&mut sink, in_port, packet, caches.layers[i], &flow.actions, flow.drop_reason);
                    }
                }
            }
        }
        caches.megaflows.credit(id, packets, bytes, now_ms);
    }

    /// The slow path for packet `i`: the pipeline's actions and the megaflow mask.
    fn upcall(&mut self, datapath: &Datapath, bridge: usize, i: usize) -> (Arc<FlowActions>, FlowKey) {
        let Some(bridge_dp) = datapath.bridges.get(bridge) else {
            return (Arc::new(FlowActions::default()), FlowKey::default());
        };
        let view = Bridge { tables: &bridge_dp.tables, ports: &bridge_dp.ports, macs: &bridge_dp.macs };
        let translation = translate(&view, &self.caches.keys[i], false);
        for rule in translation.learned_rules {
            let _ = self.side_effects.try_send(SideEffect::LearnedRule { bridge, rule: Box::new(rule) });
        }
        for mac in translation.learned_macs {
            let _ = self.side_effects.try_send(SideEffect::LearnedMac { bridge, mac });
        }
        let reason = if translation.table_miss {
            DropReason::TableMiss
        } else if translation.stop == Some(XlateStop::TtlExpired) {
            DropReason::TtlExpired
        } else if translation.stop == Some(XlateStop::PortNoRecv) {
            DropReason::PortConfig
        } else if translation.stop.is_some() {
            DropReason::PipelineError
        } else {
            DropReason::ActionDrop
        };
        let flow = FlowActions::new(translation.actions, translation.rules, translation.groups, reason);
        (Arc::new(flow), translation.wildcards)
    }
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

/// Transmits `batch` on this PMD's queue of `port`; what the device
/// refuses is freed and counted. The batch is empty afterwards.
#[inline]
fn transmit<const CAP: usize>(
    datapath: &Datapath,
    pmd_index: usize,
    counters: &mut PmdCounters,
    port: u16,
    batch: &mut MbufBatch<CAP>,
) {
    let slot = usize::from(port) % MAX_PORTS;
    let target: Option<&TxTarget> =
        datapath.pmd_tx.get(pmd_index).and_then(|ports| ports.get(slot)).and_then(Option::as_ref);
    let Some(target) = target else {
        let dropped = batch.free_all();
        counters.port_drop(port, DropReason::NoSuchPort, dropped as u64);
        return;
    };
    let (sent, dropped) = match &target.lock {
        None => target.queue.send(batch),
        Some(lock) => {
            let _guard = lock.lock();
            target.queue.send(batch)
        }
    };
    counters.port_tx(port, sent as u64);
    if dropped > 0 {
        counters.port_drop(port, DropReason::TxFailed, dropped as u64);
    }
}
