//! Poll-mode worker threads: one per configured core, pinned, registered as
//! a DPDK lcore. Each owns its share of the rx queues, its output buffers
//! and its counters; it takes new `Datapath` versions from the management
//! thread at the top of an iteration (its quiescent point) and acknowledges
//! them, so the management thread knows when an old version is unused.
pub mod stats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, Sender, TryRecvError};

use crate::datapath::{Datapath, PortAction, TxTarget, MAX_PORTS};
use crate::dpdk::eal::{rdtsc, Eal, ThreadRegistration};
use crate::dpdk::mbuf::{MbufBatch, RxBurst, TxBatch, BURST_SIZE};
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
    /// Leave the poll loop.
    Stop,
}

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
    ) -> Result<PmdHandle, String> {
        let shared = Arc::new(PmdShared {
            core,
            acked_version: AtomicU64::new(datapath.version),
            counters: SharedCounters::default(),
        });
        let (commands, command_rx) = channel::bounded(8);
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
                let pmd = Pmd {
                    index,
                    shared: thread_shared,
                    commands: command_rx,
                    idle_sleep_max_us,
                    counters: PmdCounters::default(),
                    tx: std::array::from_fn(|_| TxBatch::new()),
                    pending_tx: 0,
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
    counters: PmdCounters,
    /// Output buffers by DPDK port id.
    tx: [TxBatch; MAX_PORTS],
    /// Bit i set: tx[i] holds packets.
    pending_tx: u64,
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
                    self.flush_all(&datapath);
                    let version = next.version;
                    datapath = next;
                    self.shared.acked_version.store(version, Ordering::Release);
                    continue;
                }
                Ok(PmdCommand::ClearStats) => self.counters.clear_pmd(),
                Ok(PmdCommand::Stop) | Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {}
            }
            let received = self.poll_once(&datapath, &mut burst);
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
                    self.shared.counters.publish(&self.counters);
                    since_publish = 0;
                }
            } else {
                self.counters.add(PmdCounter::IdleCycles, spent);
                self.shared.counters.publish(&self.counters);
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
        }
        self.flush_all(&datapath);
        self.shared.counters.publish(&self.counters);
        tracing::info!(core = self.shared.core, "PMD thread stopped");
    }

    /// One pass over every owned rx queue; returns packets received.
    #[inline]
    fn poll_once(&mut self, datapath: &Datapath, burst: &mut RxBurst) -> usize {
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
            match &work.action {
                PortAction::Output(ports) => self.output(datapath, ports, burst),
                PortAction::Drop(reason) => {
                    burst.free_all();
                    self.counters.port_drop(in_port, *reason, n as u64);
                }
            }
        }
        self.flush_all(datapath);
        received
    }

    /// Queues the burst on every output port: a shared reference for all but
    /// the last, which takes the burst itself.
    #[inline]
    fn output(&mut self, datapath: &Datapath, ports: &[u16], burst: &mut RxBurst) {
        let Some((&last, others)) = ports.split_last() else {
            burst.free_all();
            return;
        };
        for &port in others {
            let slot = usize::from(port) % MAX_PORTS;
            if self.tx[slot].room() < burst.len() {
                self.flush(datapath, port);
            }
            self.tx[slot].share_from(burst);
            self.pending_tx |= 1 << slot;
        }
        let slot = usize::from(last) % MAX_PORTS;
        if self.tx[slot].is_empty() && burst.len() >= BURST_SIZE / 2 {
            // A big enough burst and nothing buffered before it: send it as
            // it is, without copying it into the output buffer.
            transmit(datapath, self.index, &mut self.counters, last, burst);
            return;
        }
        if self.tx[slot].room() < burst.len() {
            self.flush(datapath, last);
        }
        self.tx[slot].take_from(burst);
        self.pending_tx |= 1 << slot;
        if self.tx[slot].len() >= BURST_SIZE {
            self.flush(datapath, last);
        }
    }

    /// Transmits what is buffered for `port`; what the device refuses is
    /// freed and counted.
    #[inline]
    fn flush(&mut self, datapath: &Datapath, port: u16) {
        let slot = usize::from(port) % MAX_PORTS;
        self.pending_tx &= !(1 << slot);
        if self.tx[slot].is_empty() {
            return;
        }
        transmit(datapath, self.index, &mut self.counters, port, &mut self.tx[slot]);
    }

    #[inline]
    fn flush_all(&mut self, datapath: &Datapath) {
        while self.pending_tx != 0 {
            let slot = self.pending_tx.trailing_zeros() as u16;
            self.flush(datapath, slot);
        }
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
