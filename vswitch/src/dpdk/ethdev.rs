//! Ethernet devices: probing a device from its devargs (PCI address or any
//! vdev, including net_vhost for vhost-user), configuring queues, start/stop,
//! link state, statistics, and the per-queue burst handles PMDs poll.
use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use super::mbuf::{RxBurst, TxBatch, TxSource, BURST_SIZE_U16};
use super::mempool::PktMbufPool;
use super::{check, DpdkError};

/// How to set a port up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSetup {
    pub rx_queues: u16,
    /// Wanted tx queues (one per PMD); capped at what the device has.
    pub tx_queues: u16,
    pub rxq_size: u16,
    pub txq_size: u16,
    pub mtu: Option<u16>,
}

/// What the device says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    /// Mb/s; 0 when the device does not know (DPDK's `RTE_ETH_SPEED_NUM_UNKNOWN`, which vhost
    /// and other virtual devices report).
    pub speed_mbps: u32,
}

/// The device's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EthStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

/// A probed ethdev. Dropping it stops the device and removes it from DPDK
/// (for vhost-user server ports that also removes the socket file).
pub struct EthPort {
    id: u16,
    device: *mut dpdk_sys::rte_device,
    info: DeviceInfo,
    rx_queues: u16,
    tx_queues: u16,
    started: bool,
}

// SAFETY: an ethdev's control functions may be called from any thread as
// long as calls are not concurrent; EthPort is owned by the management
// thread and needs &mut for every state change.
unsafe impl Send for EthPort {}

impl EthPort {
    /// Probes the device named by `devargs` (e.g. `net_null0`,
    /// `net_pcap0,rx_pcap=in.pcap`, `0000:01:00.0`) and finds its port.
    pub fn probe(devargs: &str) -> Result<EthPort, DpdkError> {
        let c_args = CString::new(devargs)
            .map_err(|_| DpdkError::from_code(format!("probe {devargs:?}: devargs contain NUL"), libc::EINVAL))?;
        let name = devargs.split(',').next().unwrap_or(devargs);
        let c_name = CString::new(name).unwrap_or_default();
        let mut id = 0u16;
        // rte_dev_probe succeeds for a device that exists already; taking it
        // over would reconfigure (and on drop remove) another port's device.
        // SAFETY: c_name is a valid C string and id a valid out pointer.
        if unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) } == 0 {
            return Err(DpdkError::from_code(
                format!("device {name:?} is already in use (DPDK port {id})"),
                libc::EBUSY,
            ));
        }
        // SAFETY: c_args is a valid C string; EAL is initialised (an EthPort
        // can only be made by the switch after Eal::init).
        let rc = unsafe { dpdk_sys::rte_dev_probe(c_args.as_ptr()) };
        // EFAULT is how EAL says that no bus could parse the device name: for a vdev, that no
        // driver of that name is loaded.
        check(
            || match -rc {
                libc::EFAULT => format!(
                    "probe device {devargs:?}: no DPDK driver takes the name {name:?} (unknown driver, or its \
                     plugin is not installed)"
                ),
                _ => format!("probe device {devargs:?}"),
            },
            rc,
        )?;
        // SAFETY: c_name is a valid C string and id a valid out pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
        check(|| format!("device {name:?} probed but has no ethdev port"), rc)?;
        let mut raw = MaybeUninit::<dpdk_sys::rte_eth_dev_info>::zeroed();
        // SAFETY: id is a valid port; raw is a writable dev_info.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(id, raw.as_mut_ptr()) };
        check(|| format!("dev_info of {name:?}"), rc)?;
        // SAFETY: rte_eth_dev_info_get succeeded, so the struct is filled.
        let raw = unsafe { raw.assume_init() };
        let driver = if raw.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static NUL-terminated string of the driver.
            unsafe { CStr::from_ptr(raw.driver_name) }.to_string_lossy().into_owned()
        };
        Ok(EthPort {
            id,
            device: raw.device,
            info: DeviceInfo { driver, max_rx_queues: raw.max_rx_queues, max_tx_queues: raw.max_tx_queues },
            rx_queues: 0,
            tx_queues: 0,
            started: false,
        })
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    pub fn rx_queues(&self) -> u16 {
        self.rx_queues
    }

    pub fn tx_queues(&self) -> u16 {
        self.tx_queues
    }

    /// Configures queues (rx descriptors from `pool`), MTU, starts the port
    /// and turns on promiscuous mode where the device has one. Returns the
    /// queues' handles, which exist once.
    pub fn configure_and_start(&mut self, setup: &PortSetup, pool: &PktMbufPool) -> Result<PortQueues, DpdkError> {
        if self.started {
            return Err(DpdkError::from_code(format!("port {} is started already", self.id), libc::EBUSY));
        }
        let id = self.id;
        if setup.rx_queues == 0 || setup.rx_queues > self.info.max_rx_queues {
            return Err(DpdkError::from_code(
                format!(
                    "port {id}: {} rx queues requested, driver {} has at most {}",
                    setup.rx_queues, self.info.driver, self.info.max_rx_queues
                ),
                libc::EINVAL,
            ));
        }
        let tx_queues = setup.tx_queues.clamp(1, self.info.max_tx_queues.max(1));
        let conf = dpdk_sys::rte_eth_conf::default();
        // SAFETY: valid port id and a zeroed (= default) configuration.
        let rc = unsafe { dpdk_sys::rte_eth_dev_configure(id, setup.rx_queues, tx_queues, &conf) };
        check(|| format!("configure port {id}"), rc)?;
        let (mut rxd, mut txd) = (setup.rxq_size, setup.txq_size);
        // SAFETY: valid port id and out pointers.
        let rc = unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        check(|| format!("adjust descriptors of port {id}"), rc)?;
        // SAFETY: valid port id.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) }.max(0) as u32;
        for q in 0..setup.rx_queues {
            // SAFETY: configured port, q < configured rx queues, pool valid
            // and outliving the port (the switch drops ports first).
            let rc = unsafe { dpdk_sys::rte_eth_rx_queue_setup(id, q, rxd, socket, std::ptr::null(), pool.as_ptr()) };
            check(|| format!("rx queue {q} setup on port {id}"), rc)?;
        }
        for q in 0..tx_queues {
            // SAFETY: configured port, q < configured tx queues.
            let rc = unsafe { dpdk_sys::rte_eth_tx_queue_setup(id, q, txd, socket, std::ptr::null()) };
            check(|| format!("tx queue {q} setup on port {id}"), rc)?;
        }
        if let Some(mtu) = setup.mtu {
            // SAFETY: valid port id.
            let rc = unsafe { dpdk_sys::rte_eth_dev_set_mtu(id, mtu) };
            check(|| format!("set MTU {mtu} on port {id}"), rc)?;
        }
        // SAFETY: valid, configured port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(id) };
        check(|| format!("start port {id}"), rc)?;
        self.started = true;
        self.rx_queues = setup.rx_queues;
        self.tx_queues = tx_queues;
        // Not every device has a promiscuous mode (vhost has none): ignore.
        // SAFETY: valid, started port.
        unsafe { dpdk_sys::rte_eth_promiscuous_enable(id) };
        Ok(PortQueues {
            rx: (0..setup.rx_queues).map(|queue| RxQueue { port: id, queue }).collect(),
            tx: (0..tx_queues).map(|queue| TxQueue { port: id, queue }).collect(),
        })
    }

    pub fn link(&self) -> Link {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port id and a writable link struct.
        let rc = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link) };
        if rc < 0 {
            return Link::default();
        }
        let speed_mbps = if link.link_speed == dpdk_sys::RTE_ETH_SPEED_NUM_UNKNOWN { 0 } else { link.link_speed };
        Link { up: link.link_status() != 0, speed_mbps }
    }

    pub fn stats(&self) -> EthStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port id and a writable stats struct.
        let rc = unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) };
        if rc < 0 {
            return EthStats::default();
        }
        EthStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    pub fn mac(&self) -> [u8; 6] {
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port id and a writable address.
        unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut addr) };
        addr.addr_bytes
    }

    pub fn mtu(&self) -> u16 {
        let mut mtu = 0u16;
        // SAFETY: valid port id and a writable u16.
        unsafe { dpdk_sys::rte_eth_dev_get_mtu(self.id, &mut mtu) };
        mtu
    }
}

impl Drop for EthPort {
    fn drop(&mut self) {
        if self.started {
            // SAFETY: valid, started port; no PMD polls it any more (the
            // switch retires a port from the datapath before dropping it).
            unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        }
        // SAFETY: device is the rte_device of this port, still probed.
        let rc = unsafe { dpdk_sys::rte_dev_remove(self.device) };
        if rc < 0 {
            // SAFETY: valid port id; releases the port when the bus could not.
            unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        }
    }
}

/// The queues of a started port, each handed out once: whoever holds a handle is the only one
/// that can poll or transmit on that queue (`&mut self`), and a handle can be moved but not
/// copied. (The switch moves rx handles to the PMD that polls the queue, and tx handles to the
/// PMD that sends on it, or into a `SharedTxQueue` where PMDs outnumber a device's tx queues.)
#[derive(Debug, Default)]
pub struct PortQueues {
    pub rx: Vec<RxQueue>,
    pub tx: Vec<TxQueue>,
}

/// One receive queue of a started port: the handle a PMD polls.
///
/// Polling it after its port was dropped is memory-safe (DPDK points a
/// released port's burst functions at stubs that return 0) but pointless;
/// the switch retires queues from every PMD before dropping a port.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RxQueue {
    port: u16,
    queue: u16,
}

impl RxQueue {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Empties `burst` and fills it with up to BURST_SIZE packets; returns how many.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut RxBurst) -> usize {
        let slots = burst.empty_slots();
        // SAFETY: the queue was configured (an RxQueue is made only for a configured queue, once,
        // and &mut self makes this the only caller on it now) and `slots` has room for BURST_SIZE
        // pointers, which the device fills with mbufs it hands over.
        let n = unsafe { dpdk_sys::rte_eth_rx_burst(self.port, self.queue, slots, BURST_SIZE_U16) };
        burst.filled(usize::from(n));
        usize::from(n)
    }
}

/// One transmit queue of a started port, used by whoever holds the handle.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TxQueue {
    port: u16,
    queue: u16,
}

impl TxQueue {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Hands the packets of `batch` to the device; what it refuses is freed in bulk. The batch is
    /// empty afterwards. Returns (sent, dropped).
    #[inline]
    pub fn send(&mut self, batch: &mut TxBatch) -> (usize, usize) {
        self.send_dense(batch)
    }

    /// `send` for a whole receive burst (its holes closed first), without copying it into a
    /// `TxBatch`.
    #[inline]
    pub fn send_burst(&mut self, burst: &mut RxBurst) -> (usize, usize) {
        self.send_dense(burst)
    }

    #[inline(always)]
    fn send_dense<B: TxSource>(&mut self, batch: &mut B) -> (usize, usize) {
        let (slots, len) = batch.dense();
        // A batch holds at most TX_BATCH_SIZE packets.
        let count = u16::try_from(*len).unwrap_or(u16::MAX);
        // SAFETY: the queue was configured and &mut self makes this the only caller on it now;
        // the first `count` slots are valid mbufs owned by the batch (TxSource: no holes); the
        // device takes ownership of the first `sent` of them.
        let sent = usize::from(unsafe { dpdk_sys::rte_eth_tx_burst(self.port, self.queue, slots.as_mut_ptr(), count) });
        // Those are the device's now: forget them.
        let sent = sent.min(*len);
        slots.copy_within(sent..*len, 0);
        *len -= sent;
        let dropped = batch.free_rest();
        (sent, dropped)
    }
}

/// A transmit queue several PMDs send on (a device with fewer tx queues than PMDs), behind a spin
/// lock taken once per tx burst, as Open vSwitch does.
#[derive(Debug)]
pub struct SharedTxQueue {
    port: u16,
    locked: AtomicBool,
    queue: UnsafeCell<TxQueue>,
}

// SAFETY: the queue inside is reached only through a `SharedTxGuard`, which holds the lock while
// it lives, so at most one thread uses the queue at a time.
unsafe impl Sync for SharedTxQueue {}

impl SharedTxQueue {
    pub fn new(queue: TxQueue) -> SharedTxQueue {
        SharedTxQueue { port: queue.port, locked: AtomicBool::new(false), queue: UnsafeCell::new(queue) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the queue (spinning) and holds it until the guard goes.
    #[inline]
    pub fn lock(&self) -> SharedTxGuard<'_> {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        SharedTxGuard(self)
    }
}

/// A held `SharedTxQueue`: the queue, for one thread.
pub struct SharedTxGuard<'a>(&'a SharedTxQueue);

impl std::ops::Deref for SharedTxGuard<'_> {
    type Target = TxQueue;

    fn deref(&self) -> &TxQueue {
        // SAFETY: the guard holds the lock: no other reference to the queue exists.
        unsafe { &*self.0.queue.get() }
    }
}

impl std::ops::DerefMut for SharedTxGuard<'_> {
    fn deref_mut(&mut self) -> &mut TxQueue {
        // SAFETY: the guard holds the lock, and &mut self makes this the only reference.
        unsafe { &mut *self.0.queue.get() }
    }
}

impl Drop for SharedTxGuard<'_> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}
