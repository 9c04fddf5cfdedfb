//! The management side of the switch: owns EAL, the mbuf pool, the ports,
//! the bridges with their flow tables and the PMD threads; applies the
//! configuration and run-time changes by building a new `Datapath` version,
//! handing it to every PMD and retiring the old one once all PMDs have
//! passed a quiescent point. Answers the control-socket requests.
pub mod port;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classifier::FlowTable;
use crate::config::{Config, PortConfig, PortErrorPolicy};
use crate::control::protocol::{
    BridgeInfo, DumpFlowsReply, MempoolReply, PmdRxqs, PmdStats, PmdStatsReply, PortInfo, PortStats, PortStatsReply,
    Reply, Request, RxqInfo, RxqReply, ShowReply,
};
use crate::datapath::{Datapath, PortAction, RxqWork, TxLock, TxTarget, MAX_PORTS};
use crate::dpdk::eal::Eal;
use crate::dpdk::ethdev::{EthPort, Link, PortSetup};
use crate::dpdk::mempool::{data_room_for_mtu, PktMbufPool};
use crate::flow::PortOutput;
use crate::pmd::stats::{DropReason, PmdCounter, PmdCounters};
use crate::pmd::{PmdCommand, PmdHandle};

/// How long a datapath change may wait for the PMDs before it is reported.
const QUIESCE_WARN: Duration = Duration::from_millis(100);
/// How long it waits at most; a PMD slower than this is stuck.
const QUIESCE_LIMIT: Duration = Duration::from_secs(5);

/// A port of a bridge.
struct Port {
    config: PortConfig,
    bridge: usize,
    ofport: u32,
    eth: EthPort,
    /// One lock per tx queue, used only when PMDs outnumber tx queues.
    tx_locks: Vec<Arc<TxLock>>,
    /// PMD counters for this DPDK port id when the port was added (a port id
    /// can be reused after a removal).
    baseline: PortCounterTotals,
    link: Link,
}

struct Bridge {
    name: String,
    table: FlowTable,
}

/// Per-port sums over all PMDs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PortCounterTotals {
    rx: u64,
    tx: u64,
    drops: [u64; DropReason::ALL.len()],
}

pub struct Switch {
    // Field order is drop order: PMDs stop before ports go, ports before the
    // pool, the pool before EAL cleanup.
    pmds: Vec<PmdHandle>,
    ports: Vec<Port>,
    /// Ports retired from the datapath whose PMDs never acknowledged it:
    /// kept (not closed) until the PMDs are stopped.
    unsafe_to_close: Vec<Port>,
    current: Arc<Datapath>,
    retired: Vec<Arc<Datapath>>,
    pool: PktMbufPool,
    eal: Arc<Eal>,
    bridges: Vec<Bridge>,
    /// Which PMD polls each (DPDK port id, queue).
    rxq_owner: HashMap<(u16, u16), usize>,
    next_vdev_index: u32,
    on_port_error: PortErrorPolicy,
}

impl Switch {
    /// Initialises DPDK, starts the PMDs, then the bridges and their ports.
    pub fn start(config: &Config) -> Result<Switch, String> {
        let online = core_affinity::get_core_ids().map(|ids| ids.len()).unwrap_or(0);
        for &core in config.pmd.cores.iter().chain(std::iter::once(&config.dpdk.main_core)) {
            if online > 0 && core >= online {
                return Err(format!("core {core} does not exist: this host has {online} CPUs (0..{})", online - 1));
            }
        }
        let eal = Arc::new(Eal::init(&config.eal_args()).map_err(|e| e.to_string())?);
        // Buffers big enough for the largest configured MTU in one segment.
        let largest_mtu = config.bridges.iter().flat_map(|b| &b.ports).filter_map(|p| p.mtu).max().unwrap_or(1500);
        let pool = PktMbufPool::create(
            "vswitch_mbufs",
            config.dpdk.mbufs,
            config.dpdk.mbuf_cache,
            data_room_for_mtu(largest_mtu),
        )
        .map_err(|e| e.to_string())?;
        let empty = Arc::new(Datapath::default());
        let mut pmds = Vec::new();
        for (index, &core) in config.pmd.cores.iter().enumerate() {
            pmds.push(PmdHandle::spawn(eal.clone(), index, core, config.pmd.idle_sleep_max_us, empty.clone())?);
        }
        let mut switch = Switch {
            pmds,
            ports: Vec::new(),
            unsafe_to_close: Vec::new(),
            current: empty,
            retired: Vec::new(),
            pool,
            eal,
            bridges: Vec::new(),
            rxq_owner: HashMap::new(),
            next_vdev_index: 0,
            on_port_error: config.switch.on_port_error,
        };
        for bridge in &config.bridges {
            switch.bridges.push(Bridge { name: bridge.name.clone(), table: FlowTable::new(bridge.flows.clone()) });
            for port in &bridge.ports {
                if let Err(e) = switch.attach_port(&bridge.name, port) {
                    match switch.on_port_error {
                        PortErrorPolicy::Continue => {
                            tracing::error!(port = %port.name, bridge = %bridge.name, "port not added: {e}")
                        }
                        PortErrorPolicy::Abort => {
                            switch.shutdown();
                            return Err(format!("port {}: {e}", port.name));
                        }
                    }
                }
            }
        }
        switch.publish()?;
        tracing::info!(
            bridges = switch.bridges.len(),
            ports = switch.ports.len(),
            pmds = switch.pmds.len(),
            "switch started"
        );
        Ok(switch)
    }

    /// Answers one control request.
    pub fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::Show => Reply::success(&self.show()),
            Request::PortStats { port } => match self.port_stats(port.as_deref()) {
                Ok(r) => Reply::success(&r),
                Err(e) => Reply::failure(e),
            },
            Request::PmdStats => Reply::success(&self.pmd_stats()),
            Request::PmdStatsClear => match self.pmds.iter().try_for_each(|p| p.send(PmdCommand::ClearStats)) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::RxqShow => Reply::success(&self.rxq_show()),
            Request::AddPort { bridge, port } => match self.add_port(&bridge, port) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::DelPort { port } => match self.del_port(&port) {
                Ok(()) => Reply::success(&serde_json::Value::Null),
                Err(e) => Reply::failure(e),
            },
            Request::DumpFlows { bridge } => match self.bridge_index(&bridge) {
                Some(b) => Reply::success(&DumpFlowsReply {
                    flows: self.bridges[b].table.rules().iter().map(ToString::to_string).collect(),
                }),
                None => Reply::failure(format!("no bridge named {bridge:?}")),
            },
            Request::Mempool => Reply::success(&MempoolReply {
                name: self.pool.name().to_owned(),
                size: self.pool.size(),
                in_use: self.pool.in_use(),
                available: self.pool.available(),
            }),
        }
    }

    /// Periodic work of the management thread: link state changes.
    pub fn tick(&mut self) {
        for port in &mut self.ports {
            let link = port.eth.link();
            if link != port.link {
                tracing::info!(
                    port = %port.config.name,
                    up = link.up,
                    speed_mbps = link.speed_mbps,
                    "link {}",
                    if link.up { "up" } else { "down" }
                );
                port.link = link;
            }
        }
    }

    /// Adds a port at run time: it forwards as soon as this returns.
    pub fn add_port(&mut self, bridge: &str, config: PortConfig) -> Result<(), String> {
        self.attach_port(bridge, &config)?;
        self.publish()
    }

    /// Removes a port at run time without disturbing the others.
    pub fn del_port(&mut self, name: &str) -> Result<(), String> {
        let index =
            self.ports.iter().position(|p| p.config.name == name).ok_or_else(|| format!("no port named {name:?}"))?;
        let port = self.ports.remove(index);
        let id = port.eth.id();
        self.rxq_owner.retain(|&(p, _), _| p != id);
        let result = self.publish();
        if result.is_ok() {
            drop(port); // stops and removes the device
            tracing::info!(port = name, "port removed");
        } else {
            self.unsafe_to_close.push(port);
        }
        result
    }

    /// Stops the PMDs, then closes every port (vhost sockets are removed).
    pub fn shutdown(&mut self) {
        for pmd in &mut self.pmds {
            pmd.stop();
        }
        self.pmds.clear();
        self.retired.clear();
        self.current = Arc::new(Datapath::default());
        self.ports.clear();
        self.unsafe_to_close.clear();
    }

    pub fn tsc_hz(&self) -> u64 {
        self.eal.tsc_hz()
    }

    fn bridge_index(&self, name: &str) -> Option<usize> {
        self.bridges.iter().position(|b| b.name == name)
    }

    /// Probes and starts a port and records it; the datapath learns of it
    /// at the next `publish`.
    fn attach_port(&mut self, bridge_name: &str, config: &PortConfig) -> Result<(), String> {
        config.validate()?;
        let bridge = self.bridge_index(bridge_name).ok_or_else(|| format!("no bridge named {bridge_name:?}"))?;
        if self.ports.iter().chain(&self.unsafe_to_close).any(|p| p.config.name == config.name) {
            return Err(format!("a port named {:?} exists already", config.name));
        }
        if self.ports.len() + self.unsafe_to_close.len() >= MAX_PORTS {
            return Err(format!("at most {MAX_PORTS} ports"));
        }
        let used: Vec<u32> = self.ports.iter().filter(|p| p.bridge == bridge).map(|p| p.ofport).collect();
        let ofport = match config.ofport {
            Some(n) if used.contains(&n) => {
                return Err(format!("ofport {n} is taken in bridge {bridge_name}"));
            }
            Some(n) => n,
            None => (1..).find(|n| !used.contains(n)).unwrap_or(1),
        };
        if let Some(mtu) = config.mtu {
            if !self.pool.fits_mtu(mtu) {
                return Err(format!(
                    "MTU {mtu} does not fit the {}-byte packet buffers; configure the largest MTU at start",
                    self.pool.data_room()
                ));
            }
        }
        if let crate::config::PortKind::VhostUser { path } = &config.kind {
            port::prepare_server_socket(path)?;
        }
        let devargs = port::devargs(&config.kind, config.rx_queues, self.next_vdev_index);
        self.next_vdev_index += 1;
        let mut eth = EthPort::probe(&devargs).map_err(|e| e.to_string())?;
        let setup = PortSetup {
            rx_queues: config.rx_queues,
            tx_queues: u16::try_from(self.pmds.len()).unwrap_or(u16::MAX),
            rxq_size: config.rxq_size,
            txq_size: config.txq_size,
            mtu: config.mtu,
        };
        eth.configure_and_start(&setup, &self.pool).map_err(|e| e.to_string())?;
        let id = eth.id();
        for queue in 0..eth.rx_queues() {
            let owner = self.least_loaded_pmd();
            self.rxq_owner.insert((id, queue), owner);
        }
        let tx_locks = (0..eth.tx_queues()).map(|_| Arc::new(TxLock::default())).collect();
        let baseline = self.port_totals(&self.all_pmd_counters(), id);
        let link = eth.link();
        tracing::info!(
            port = %config.name,
            bridge = bridge_name,
            ofport,
            dpdk_port = id,
            driver = %eth.info().driver,
            rxq = eth.rx_queues(),
            txq = eth.tx_queues(),
            "port added"
        );
        let mut config = config.clone();
        config.ofport = Some(ofport);
        self.ports.push(Port { config, bridge, ofport, eth, tx_locks, baseline, link });
        Ok(())
    }

    fn least_loaded_pmd(&self) -> usize {
        (0..self.pmds.len())
            .min_by_key(|&pmd| self.rxq_owner.values().filter(|&&owner| owner == pmd).count())
            .unwrap_or(0)
    }

    /// What happens to packets arriving on `port`.
    fn port_action(&self, port: &Port) -> PortAction {
        let bridge = &self.bridges[port.bridge];
        let Some((_, outputs)) = bridge.table.lookup_in_port(port.ofport) else {
            return PortAction::Drop(DropReason::TableMiss);
        };
        if outputs.is_empty() {
            return PortAction::Drop(DropReason::ActionDrop);
        }
        let targets: Vec<u16> = outputs
            .iter()
            .filter_map(|output| match output {
                PortOutput::InPort => Some(port.eth.id()),
                // OpenFlow: output to the input port is skipped; IN_PORT is
                // the explicit way to send a packet back.
                PortOutput::Port(n) if n.0 == port.ofport => None,
                PortOutput::Port(n) => {
                    self.ports.iter().find(|p| p.bridge == port.bridge && p.ofport == n.0).map(|p| p.eth.id())
                }
            })
            .collect();
        if targets.is_empty() {
            PortAction::Drop(DropReason::NoSuchPort)
        } else {
            PortAction::Output(targets.into_boxed_slice())
        }
    }

    fn build_datapath(&self, version: u64) -> Datapath {
        let n_pmds = self.pmds.len();
        let mut pmd_rxqs: Vec<Vec<RxqWork>> = vec![Vec::new(); n_pmds];
        let mut pmd_tx: Vec<Vec<Option<TxTarget>>> = vec![vec![None; MAX_PORTS]; n_pmds];
        for port in &self.ports {
            let action = self.port_action(port);
            for queue in 0..port.eth.rx_queues() {
                let owner = self.rxq_owner.get(&(port.eth.id(), queue)).copied().unwrap_or(0);
                if let (Some(rxq), Some(list)) = (port.eth.rx_queue(queue), pmd_rxqs.get_mut(owner)) {
                    list.push(RxqWork { rxq, action: action.clone() });
                }
            }
            let n_txq = usize::from(port.eth.tx_queues()).max(1);
            for (pmd, targets) in pmd_tx.iter_mut().enumerate() {
                let queue = (pmd % n_txq) as u16;
                if let Some(txq) = port.eth.tx_queue(queue) {
                    let lock = (n_pmds > n_txq).then(|| port.tx_locks[usize::from(queue)].clone());
                    targets[usize::from(port.eth.id()) % MAX_PORTS] = Some(TxTarget { queue: txq, lock });
                }
            }
        }
        Datapath { version, pmd_rxqs, pmd_tx }
    }

    /// Hands a new datapath version to every PMD and waits (bounded) until
    /// all run it; then the previous versions are freed here.
    fn publish(&mut self) -> Result<(), String> {
        let version = self.current.version + 1;
        let next = Arc::new(self.build_datapath(version));
        for pmd in &self.pmds {
            pmd.send(PmdCommand::Install(next.clone()))?;
        }
        let previous = std::mem::replace(&mut self.current, next);
        self.retired.push(previous);
        let started = Instant::now();
        let mut warned = false;
        while self.pmds.iter().any(|pmd| pmd.acked_version() < version) {
            let waited = started.elapsed();
            if waited > QUIESCE_LIMIT {
                let stuck: Vec<usize> =
                    self.pmds.iter().filter(|p| p.acked_version() < version).map(|p| p.shared.core).collect();
                tracing::error!(?stuck, "PMDs did not quiesce within {QUIESCE_LIMIT:?}");
                return Err(format!("PMDs on cores {stuck:?} did not take the new datapath"));
            }
            if !warned && waited > QUIESCE_WARN {
                tracing::warn!(version, "waiting for PMDs to quiesce for more than {QUIESCE_WARN:?}");
                warned = true;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        let waited = started.elapsed();
        if warned {
            tracing::warn!(version, ?waited, "PMDs quiesced");
        } else {
            tracing::debug!(version, ?waited, "datapath version published");
        }
        self.retired.clear();
        Ok(())
    }

    fn all_pmd_counters(&self) -> Vec<PmdCounters> {
        self.pmds.iter().map(|p| p.shared.counters.read()).collect()
    }

    fn port_totals(&self, counters: &[PmdCounters], id: u16) -> PortCounterTotals {
        let mut totals = PortCounterTotals::default();
        for c in counters {
            totals.rx += c.port_rx_packets(id);
            totals.tx += c.port_tx_packets(id);
            for (i, reason) in DropReason::ALL.iter().enumerate() {
                totals.drops[i] += c.port_drops(id, *reason);
            }
        }
        totals
    }

    fn show(&self) -> ShowReply {
        let bridges = self
            .bridges
            .iter()
            .enumerate()
            .map(|(b, bridge)| BridgeInfo {
                name: bridge.name.clone(),
                n_flows: bridge.table.len(),
                ports: self
                    .ports
                    .iter()
                    .filter(|p| p.bridge == b)
                    .map(|p| {
                        let mac = p.eth.mac();
                        PortInfo {
                            name: p.config.name.clone(),
                            ofport: p.ofport,
                            kind: port::kind_name(&p.config.kind).to_owned(),
                            target: port::target(&p.config.kind),
                            dpdk_port_id: p.eth.id(),
                            link_up: p.link.up,
                            speed_mbps: p.link.speed_mbps,
                            mac: mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
                            mtu: p.eth.mtu(),
                            rx_queues: p.eth.rx_queues(),
                            tx_queues: p.eth.tx_queues(),
                        }
                    })
                    .collect(),
            })
            .collect();
        ShowReply { bridges }
    }

    fn port_stats(&self, only: Option<&str>) -> Result<PortStatsReply, String> {
        if let Some(name) = only {
            if !self.ports.iter().any(|p| p.config.name == name) {
                return Err(format!("no port named {name:?}"));
            }
        }
        let counters = self.all_pmd_counters();
        let ports = self
            .ports
            .iter()
            .filter(|p| only.is_none_or(|name| p.config.name == name))
            .map(|p| {
                let device = p.eth.stats();
                let totals = self.port_totals(&counters, p.eth.id());
                let drops: BTreeMap<String, u64> = DropReason::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.name().to_owned(), totals.drops[i].saturating_sub(p.baseline.drops[i])))
                    .collect();
                PortStats {
                    name: p.config.name.clone(),
                    bridge: self.bridges[p.bridge].name.clone(),
                    ofport: p.ofport,
                    rx_packets: device.rx_packets,
                    rx_bytes: device.rx_bytes,
                    tx_packets: device.tx_packets,
                    tx_bytes: device.tx_bytes,
                    rx_missed: device.rx_missed + device.rx_nombuf,
                    rx_errors: device.rx_errors,
                    tx_errors: device.tx_errors,
                    drops,
                }
            })
            .collect();
        Ok(PortStatsReply { ports })
    }

    fn pmd_stats(&self) -> PmdStatsReply {
        let pmds = self
            .pmds
            .iter()
            .map(|pmd| {
                let c = pmd.shared.counters.read();
                let packets = c.get(PmdCounter::Packets);
                let bursts = c.get(PmdCounter::Bursts);
                let busy = c.get(PmdCounter::BusyCycles);
                let idle = c.get(PmdCounter::IdleCycles);
                PmdStats {
                    core: pmd.shared.core,
                    iterations: c.get(PmdCounter::Iterations),
                    packets,
                    bursts,
                    busy_cycles: busy,
                    idle_cycles: idle,
                    sleeps: c.get(PmdCounter::Sleeps),
                    cycles_per_packet: ratio(busy, packets),
                    packets_per_burst: ratio(packets, bursts),
                    busy_pct: 100.0 * ratio(busy, busy + idle),
                }
            })
            .collect();
        PmdStatsReply { tsc_hz: self.eal.tsc_hz(), pmds }
    }

    fn rxq_show(&self) -> RxqReply {
        let pmds = self
            .pmds
            .iter()
            .enumerate()
            .map(|(index, pmd)| {
                let mut rxqs: Vec<RxqInfo> = self
                    .ports
                    .iter()
                    .flat_map(|p| {
                        (0..p.eth.rx_queues())
                            .filter(move |q| self.rxq_owner.get(&(p.eth.id(), *q)) == Some(&index))
                            .map(move |queue| RxqInfo { port: p.config.name.clone(), queue })
                    })
                    .collect();
                rxqs.sort_by(|a, b| (&a.port, a.queue).cmp(&(&b.port, b.queue)));
                PmdRxqs { core: pmd.shared.core, rxqs }
            })
            .collect();
        RxqReply { pmds }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
