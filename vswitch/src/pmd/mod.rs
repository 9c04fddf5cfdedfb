//! Poll-mode worker threads: one per configured core, pinned, registered as
//! a DPDK lcore. Each owns its share of the rx queues (their handles), its
//! transmit queues and output buffers, its caches (exact-match cache and
//! megaflow classifier) and its counters. Per iteration it polls its rx
//! queues and forwards every burst through the stages of `burst` (or, for a
//! queue whose bridge decides alike for every packet, straight to its
//! outputs). It takes new `Datapath` versions from the management thread at
//! the top of an iteration (its quiescent point), revalidates its caches against
//! what the version changed (or flushes them when that cannot be told), and
//! acknowledges the version, so the management thread knows when an old one
//! is unused. Packet-outs, clear-stats and megaflow dumps (`dump`) are run
//! there too.
#![forbid(unsafe_code)]
pub mod burst;
pub mod dump;
pub mod execute;
pub mod lanes;
pub mod meters;
pub mod output;
pub mod packet_in;
pub mod stats;
#[cfg(test)]
mod tests;
pub mod upcall;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, Sender, TryRecvError};

use crate::datapath::{Datapath, FlowActions, QueueHandover};
use crate::dpdk::eal::{rdtsc, Eal, ThreadRegistration};
use crate::dpdk::ethdev::RxQueue;
use crate::dpdk::mbuf::{Mbuf, RxBurst};
use crate::packet::{Layers, PacketBurst};
use crate::pipeline::xlate::DpAction;
use burst::{credit_rules, free_packets, is_runt, Forwarder};
use dump::MegaflowDumpRequest;
use execute::{Execution, Origin};
use lanes::Lanes;
use meters::PmdMeters;
use output::OutputBuffers;
use packet_in::{PacketInEvent, PacketInQueue};
use stats::{DropReason, PmdCounter, PmdCounters, SharedCounters};
pub use upcall::SideEffect;

/// Empty iterations before an idle PMD starts to sleep.
const IDLE_ITERATIONS_BEFORE_SLEEP: u32 = 1024;
/// First back-off sleep; doubles up to the configured maximum.
const FIRST_SLEEP_US: u32 = 10;
/// Counters are published every this many busy iterations (and on every
/// idle one), so the management thread sees them within microseconds.
const PUBLISH_EVERY: u32 = 256;

/// What the management thread tells a PMD.
pub enum PmdCommand {
    /// Switch to this datapath version at the next quiescent point, taking over and giving up
    /// the queue handles of the ports it adds and removes.
    Install(Arc<Datapath>, QueueHandover),
    /// Zero the per-PMD counters.
    ClearStats,
    /// Run a packet-out at the next quiescent point.
    Inject(Box<Injection>),
    /// Answer with a snapshot of the cached megaflows (`vsctl dump-dp-flows`).
    DumpMegaflows(MegaflowDumpRequest),
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
                let mut meters = PmdMeters::new(tsc_per_ms * 1000);
                meters.follow(&datapath, rdtsc());
                let exec = Execution {
                    ports: OutputBuffers::default(),
                    counters: PmdCounters::default(),
                    packet_ins,
                    meters,
                    pmd: index,
                    local_meta: Arc::new(crate::pipeline::xlate::PacketInMeta::local_port()),
                };
                let pmd = Pmd {
                    index,
                    shared: thread_shared,
                    commands: command_rx,
                    idle_sleep_max_us,
                    tsc_per_ms,
                    forwarder: Forwarder::new(exec, side_effects),
                    polls: Vec::new(),
                    next_maintenance: 0,
                    next_report: 0,
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
    idle_sleep_max_us: u32,
    tsc_per_ms: u64,
    forwarder: Forwarder<OutputBuffers>,
    /// The rx queues this PMD polls, each with its index in the `pmd_rxqs` list of the datapath
    /// version it runs.
    polls: Vec<(RxQueue, usize)>,
    next_maintenance: u64,
    next_report: u64,
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
                Ok(PmdCommand::Install(next, queues)) => {
                    self.install(datapath.version, &next, queues);
                    datapath = next;
                    self.shared.acked_version.store(datapath.version, Ordering::Release);
                    continue;
                }
                Ok(PmdCommand::ClearStats) => {
                    self.forwarder.exec.counters.clear_pmd();
                    // Its subtable probes are published as they are: zero them too.
                    self.forwarder.caches.megaflows.clear_stats();
                }
                Ok(PmdCommand::Inject(injection)) => {
                    let Injection { bridge, in_port, packet, layers, actions } = *injection;
                    let exec = &mut self.forwarder.exec;
                    exec.execute(Origin { bridge, in_port }, packet, layers, &actions, DropReason::ActionDrop, None);
                    exec.counters.add(PmdCounter::PacketOuts, 1);
                    exec.ports.flush_all(&mut exec.counters);
                }
                Ok(PmdCommand::DumpMegaflows(request)) => {
                    let now_ms = rdtsc() / self.tsc_per_ms;
                    let dump = dump::snapshot(self.index, &self.forwarder.caches.megaflows, &request, now_ms);
                    // The channel has room for every PMD's answer; nobody may wait for it any more.
                    let _ = request.reply.try_send(dump);
                }
                Ok(PmdCommand::Stop) | Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            let received = self.poll_once(&datapath, &mut burst, last);
            let now = rdtsc();
            let spent = now.wrapping_sub(last);
            last = now;
            let counters = &mut self.forwarder.exec.counters;
            counters.add(PmdCounter::Iterations, 1);
            if received > 0 {
                counters.add(PmdCounter::BusyCycles, spent);
                counters.add(PmdCounter::Packets, received as u64);
                idle_iterations = 0;
                sleep_us = FIRST_SLEEP_US;
                since_publish += 1;
                if since_publish >= PUBLISH_EVERY {
                    self.publish();
                    since_publish = 0;
                }
            } else {
                counters.add(PmdCounter::IdleCycles, spent);
                self.publish();
                since_publish = 0;
                idle_iterations = idle_iterations.saturating_add(1);
                if self.idle_sleep_max_us > 0 && idle_iterations >= IDLE_ITERATIONS_BEFORE_SLEEP {
                    std::thread::sleep(Duration::from_micros(u64::from(sleep_us)));
                    let now = rdtsc();
                    let counters = &mut self.forwarder.exec.counters;
                    counters.add(PmdCounter::Sleeps, 1);
                    counters.add(PmdCounter::IdleCycles, now.wrapping_sub(last));
                    last = now;
                    sleep_us = (sleep_us * 2).min(self.idle_sleep_max_us);
                }
            }
            self.maintain(now);
        }
        let exec = &mut self.forwarder.exec;
        exec.ports.flush_all(&mut exec.counters);
        self.publish();
        tracing::info!(core = self.shared.core, "PMD thread stopped");
    }

    /// Takes datapath version `next` over from version `current` (at the quiescent point):
    /// sends what is buffered, drops the cached megaflows whose result the new version may
    /// change (all of them when it does not say what changed since `current`), takes over the
    /// queue handles that come with it, follows its packet-in limits and meters.
    fn install(&mut self, current: u64, next: &Datapath, queues: QueueHandover) {
        let started = rdtsc();
        let exec = &mut self.forwarder.exec;
        exec.ports.flush_all(&mut exec.counters);
        self.forwarder.take_version(current, next);
        let exec = &mut self.forwarder.exec;
        let QueueHandover { removed_ports, rx, tx } = queues;
        exec.ports.take_over(&removed_ports, tx);
        let mut handles: Vec<RxQueue> = self
            .polls
            .drain(..)
            .map(|(rxq, _)| rxq)
            .filter(|rxq| !removed_ports.contains(&rxq.port()))
            .chain(rx)
            .collect();
        for (k, work) in next.pmd_rxqs.get(self.index).into_iter().flatten().enumerate() {
            match handles.iter().position(|rxq| rxq.port() == work.port && rxq.queue() == work.queue) {
                Some(at) => self.polls.push((handles.swap_remove(at), k)),
                None => tracing::error!(
                    core = self.shared.core,
                    port = work.port,
                    queue = work.queue,
                    "no handle for an rx queue: not polled"
                ),
            }
        }
        for rxq in handles {
            tracing::error!(
                core = self.shared.core,
                port = rxq.port(),
                queue = rxq.queue(),
                "rx queue not in the datapath: handle dropped"
            );
        }
        let now = rdtsc();
        exec.packet_ins.follow(next, now);
        exec.meters.follow(next, now);
        exec.counters.raise(PmdCounter::VersionSwitchMaxCycles, now.wrapping_sub(started));
    }

    fn publish(&mut self) {
        let caches = &self.forwarder.caches;
        let counters = &mut self.forwarder.exec.counters;
        counters.set(PmdCounter::Megaflows, caches.megaflows.len() as u64);
        let bypass = caches.emc_gate.is_bypassing() || caches.megaflows.scans_all();
        counters.set(PmdCounter::EmcBypass, u64::from(bypass));
        counters.set(PmdCounter::SubtableLookups, caches.megaflows.stats().subtable_lookups);
        self.shared.counters.publish(counters);
    }

    /// Every 10 ms: hand a slice of the megaflows' counts on to their rules.
    /// About once a second: re-rank subtables, expire idle megaflows (a
    /// bounded slice of the table per call).
    #[inline]
    fn maintain(&mut self, now_tsc: u64) {
        let megaflows = &mut self.forwarder.caches.megaflows;
        if now_tsc >= self.next_report {
            self.next_report = now_tsc + REPORT_EVERY_MS * self.tsc_per_ms;
            megaflows.report_some(REPORT_SLOTS_PER_STEP);
        }
        if now_tsc < self.next_maintenance {
            return;
        }
        self.next_maintenance = now_tsc + MAINTENANCE_EVERY_MS * self.tsc_per_ms;
        megaflows.rank_subtables();
        megaflows.expire_idle_some(now_tsc / self.tsc_per_ms, MEGAFLOW_IDLE_MS, EXPIRE_SLOTS_PER_STEP);
    }

    /// One pass over every owned rx queue; returns packets received.
    #[inline]
    fn poll_once(&mut self, datapath: &Datapath, burst: &mut RxBurst, now_tsc: u64) -> usize {
        let Some(works) = datapath.pmd_rxqs.get(self.index) else {
            return 0;
        };
        let now_ms = now_tsc / self.tsc_per_ms;
        let mut received = 0;
        for (rxq, k) in self.polls.iter_mut() {
            let Some(work) = works.get(*k) else { continue };
            let n = rxq.rx_burst(burst);
            if n == 0 {
                continue;
            }
            received += n;
            let counters = &mut self.forwarder.exec.counters;
            counters.add(PmdCounter::Bursts, 1);
            counters.port_rx(work.port, n as u64);
            match &work.fixed {
                Some(fixed) => forward_fixed(&mut self.forwarder.exec, fixed, work.port, burst, now_ms),
                None => {
                    self.forwarder.forward_burst(datapath, work.bridge, work.port, work.decap.as_deref(), burst, now_ms)
                }
            }
            // What no action took (drops) goes back to the pool at once.
            burst.free_all();
        }
        let exec = &mut self.forwarder.exec;
        exec.ports.flush_all(&mut exec.counters);
        received
    }
}

/// A queue whose packets all take the same outputs: no parsing, only the check for runts.
#[inline]
fn forward_fixed(
    exec: &mut Execution<OutputBuffers>,
    fixed: &Arc<FlowActions>,
    in_port: u16,
    burst: &mut RxBurst,
    now_ms: u64,
) {
    // One pass over the mbufs' first lines: the bytes for the rules' counters, and the runts.
    let mut bytes = 0;
    let mut runts = Lanes::NONE;
    for i in 0..burst.len() {
        let len = burst.pkt_len(i);
        bytes += u64::from(len);
        runts |= Lanes::from_bits(u64::from(is_runt(len as usize)) << i);
    }
    if !runts.is_empty() {
        bytes -= runts.iter().map(|i| u64::from(burst.pkt_len(i))).sum::<u64>();
        free_packets(burst, runts);
        exec.counters.port_drop(in_port, DropReason::RxInvalidPacket, u64::from(runts.count()));
        burst.compact();
    }
    let n = burst.len() as u64;
    if !fixed.rules.is_empty() || !fixed.groups.is_empty() || !fixed.table_lookups.is_empty() {
        credit_rules(fixed, n, bytes, now_ms);
    }
    if fixed.output_ports.is_empty() {
        exec.counters.port_drop(in_port, fixed.drop_reason, n);
        return;
    }
    exec.ports.burst_to_ports(&mut exec.counters, in_port, &fixed.output_ports, burst);
}
