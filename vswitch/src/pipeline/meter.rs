//! Meters (OpenFlow 1.3 METER_MOD and the meter instruction): each bridge's meter table on the
//! management side, and the per-PMD state that enforces them in the datapath without locks.
//!
//! A meter has one to [`MAX_BANDS`] bands (drop, or DSCP remark by a precedence level) with a
//! rate in kbps or packets/s and a burst. Every PMD enforces every meter on its own with one
//! token bucket per band in TSC ticks (so the rate holds per PMD, as for OVS's per-thread
//! meters; a flow arrives on one rx queue and so on one PMD). A packet that exceeds bands
//! gets the one with the highest rate among them (the spec's choice); tokens are taken only
//! from the bands it fits. Counters: per meter and band, in a cache line per PMD that only
//! that PMD writes; the management thread sums them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::token_bucket::TokenBucket;

/// Bands one meter has at most.
pub const MAX_BANDS: usize = 4;
/// Meters one bridge has at most.
pub const MAX_METERS: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BandAction {
    Drop,
    /// Raise the drop precedence of an AF DSCP by this many levels.
    DscpRemark(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Band {
    pub action: BandAction,
    /// In the meter's unit.
    pub rate: u32,
    /// In kilobits or packets; used when the meter has `burst`, else one second of `rate`.
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterSpec {
    /// Packets per second (else kilobits per second).
    pub pktps: bool,
    /// The bands' burst sizes count (else a second's worth of the rate).
    pub burst: bool,
    pub stats: bool,
    pub bands: Vec<Band>,
}

/// Why a meter change is refused (OFPMMFC_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterError {
    Exists(u32),
    Unknown(u32),
    /// 0, or an id of the reserved range.
    InvalidId(u32),
    TooManyMeters,
    TooManyBands,
    /// No band, a zero rate, or a remark level beyond 3.
    BadBand,
}

impl std::fmt::Display for MeterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeterError::Exists(id) => write!(f, "meter {id} exists"),
            MeterError::Unknown(id) => write!(f, "no meter {id}"),
            MeterError::InvalidId(id) => write!(f, "meter id {id} is not usable (1..=0xffff0000)"),
            MeterError::TooManyMeters => write!(f, "the bridge has {MAX_METERS} meters already"),
            MeterError::TooManyBands => write!(f, "a meter has at most {MAX_BANDS} bands"),
            MeterError::BadBand => write!(f, "a meter needs bands with a rate > 0 (remark levels 1..=3)"),
        }
    }
}

/// One PMD's counters of one meter, alone in its cache lines.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct PmdMeterCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    band_packets: [AtomicU64; MAX_BANDS],
    band_bytes: [AtomicU64; MAX_BANDS],
}

/// Adds on a counter only its owner writes: no read-modify-write instruction.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// A meter's counters summed over the PMDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterTotals {
    pub packets: u64,
    pub bytes: u64,
    /// Per band: packets and bytes the band applied to.
    pub bands: Vec<(u64, u64)>,
}

/// A meter as the datapath sees it: immutable configuration and the counters (kept when the
/// meter is modified).
#[derive(Debug)]
pub struct Meter {
    pub id: u32,
    pub spec: MeterSpec,
    counters: Arc<[PmdMeterCounters]>,
    /// When the meter was added (management clock, ms).
    pub added_ms: u64,
}

impl Meter {
    pub fn totals(&self) -> MeterTotals {
        let mut totals = MeterTotals { bands: vec![(0, 0); self.spec.bands.len()], ..MeterTotals::default() };
        for pmd in self.counters.iter() {
            totals.packets += pmd.packets.load(Ordering::Relaxed);
            totals.bytes += pmd.bytes.load(Ordering::Relaxed);
            for (band, sums) in totals.bands.iter_mut().enumerate() {
                sums.0 += pmd.band_packets[band].load(Ordering::Relaxed);
                sums.1 += pmd.band_bytes[band].load(Ordering::Relaxed);
            }
        }
        totals
    }
}

/// The meters of a bridge (management thread), by id.
#[derive(Debug, Clone, Default)]
pub struct MeterTable {
    meters: BTreeMap<u32, Arc<Meter>>,
    /// Counter slots per meter: one per PMD.
    pmds: usize,
}

/// Ids above this are OpenFlow's virtual meters (slowpath, controller, all).
const MAX_METER_ID: u32 = 0xffff_0000;

fn check(id: u32, spec: &MeterSpec) -> Result<(), MeterError> {
    if id == 0 || id > MAX_METER_ID {
        return Err(MeterError::InvalidId(id));
    }
    if spec.bands.len() > MAX_BANDS {
        return Err(MeterError::TooManyBands);
    }
    let bad = |band: &Band| {
        band.rate == 0 || matches!(band.action, BandAction::DscpRemark(level) if !(1..=3).contains(&level))
    };
    if spec.bands.is_empty() || spec.bands.iter().any(bad) {
        return Err(MeterError::BadBand);
    }
    Ok(())
}

impl MeterTable {
    pub fn new(pmds: usize) -> MeterTable {
        MeterTable { meters: BTreeMap::new(), pmds: pmds.max(1) }
    }

    pub fn get(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.meters.contains_key(&id)
    }

    /// In id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Meter>> {
        self.meters.values()
    }

    pub fn add(&mut self, id: u32, spec: MeterSpec, now_ms: u64) -> Result<(), MeterError> {
        check(id, &spec)?;
        if self.meters.contains_key(&id) {
            return Err(MeterError::Exists(id));
        }
        if self.meters.len() >= MAX_METERS {
            return Err(MeterError::TooManyMeters);
        }
        let counters: Arc<[PmdMeterCounters]> = (0..self.pmds).map(|_| PmdMeterCounters::default()).collect();
        self.meters.insert(id, Arc::new(Meter { id, spec, counters, added_ms: now_ms }));
        Ok(())
    }

    /// A new configuration; the counters and the age stay.
    pub fn modify(&mut self, id: u32, spec: MeterSpec) -> Result<(), MeterError> {
        check(id, &spec)?;
        let old = self.meters.get(&id).ok_or(MeterError::Unknown(id))?;
        let meter = Meter { id, spec, counters: old.counters.clone(), added_ms: old.added_ms };
        self.meters.insert(id, Arc::new(meter));
        Ok(())
    }

    /// Removes a meter; deleting one that does not exist is not an error (as OpenFlow says).
    pub fn delete(&mut self, id: u32) {
        self.meters.remove(&id);
    }

    /// The meters for a datapath version, sorted by id.
    pub fn snapshot(&self) -> Vec<Arc<Meter>> {
        self.meters.values().cloned().collect()
    }
}

/// What a meter does to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeterVerdict {
    Pass,
    Drop,
    /// Raise the DSCP drop precedence by this many levels.
    Remark(u8),
}

/// One PMD's enforcement state of one meter.
#[derive(Debug)]
pub struct MeterState {
    pub meter: Arc<Meter>,
    buckets: Vec<TokenBucket>,
}

impl MeterState {
    pub fn new(meter: Arc<Meter>, tsc_hz: u64, now_tsc: u64) -> MeterState {
        let spec = &meter.spec;
        let buckets = spec
            .bands
            .iter()
            .map(|band| {
                let burst = if spec.burst { band.burst.max(1) } else { band.rate };
                // Tokens are packets, or bytes for kbps.
                let (rate, burst) = if spec.pktps {
                    (u64::from(band.rate), u64::from(burst))
                } else {
                    (u64::from(band.rate) * 125, u64::from(burst) * 125)
                };
                TokenBucket::new(rate, burst, tsc_hz, now_tsc)
            })
            .collect();
        MeterState { meter, buckets }
    }

    /// Meters one packet of `bytes` at `now_tsc` for PMD `pmd` (its counter slot).
    #[inline]
    pub fn apply(&mut self, pmd: usize, now_tsc: u64, bytes: u32) -> MeterVerdict {
        let spec = &self.meter.spec;
        let cost = if spec.pktps { 1 } else { u64::from(bytes) };
        let mut exceeded: Option<usize> = None;
        for (index, bucket) in self.buckets.iter_mut().enumerate() {
            if !bucket.take_n(now_tsc, cost) && exceeded.is_none_or(|e| spec.bands[index].rate > spec.bands[e].rate) {
                exceeded = Some(index);
            }
        }
        if let Some(counters) = self.meter.counters.get(pmd) {
            bump(&counters.packets, 1);
            bump(&counters.bytes, u64::from(bytes));
            if let Some(band) = exceeded {
                bump(&counters.band_packets[band], 1);
                bump(&counters.band_bytes[band], u64::from(bytes));
            }
        }
        match exceeded.map(|band| spec.bands[band].action) {
            None => MeterVerdict::Pass,
            Some(BandAction::Drop) => MeterVerdict::Drop,
            Some(BandAction::DscpRemark(levels)) => MeterVerdict::Remark(levels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 1_000_000_000;

    fn spec(pktps: bool, bands: &[(BandAction, u32)]) -> MeterSpec {
        MeterSpec {
            pktps,
            burst: true,
            stats: true,
            bands: bands.iter().map(|&(action, rate)| Band { action, rate, burst: rate / 10 }).collect(),
        }
    }

    #[test]
    fn the_table_checks_ids_bands_and_keeps_counters_across_modify() {
        let mut table = MeterTable::new(2);
        assert_eq!(table.add(0, spec(true, &[(BandAction::Drop, 10)]), 0), Err(MeterError::InvalidId(0)));
        assert_eq!(table.add(1, spec(true, &[]), 0), Err(MeterError::BadBand));
        assert_eq!(table.add(1, spec(true, &[(BandAction::DscpRemark(4), 10)]), 0), Err(MeterError::BadBand));
        let five = [(BandAction::Drop, 10); 5];
        assert_eq!(table.add(1, spec(true, &five), 0), Err(MeterError::TooManyBands));
        table.add(1, spec(true, &[(BandAction::Drop, 100)]), 7).unwrap();
        assert_eq!(table.add(1, spec(true, &[(BandAction::Drop, 10)]), 0), Err(MeterError::Exists(1)));
        let mut state = MeterState::new(table.get(1).unwrap().clone(), HZ, 0);
        state.apply(1, 0, 64);
        table.modify(1, spec(true, &[(BandAction::Drop, 5)])).unwrap();
        assert_eq!(table.get(1).unwrap().totals().packets, 1, "counters survive a modify");
        assert_eq!(table.get(1).unwrap().added_ms, 7);
        assert_eq!(table.modify(2, spec(true, &[(BandAction::Drop, 5)])), Err(MeterError::Unknown(2)));
        table.delete(1);
        table.delete(1);
        assert!(table.snapshot().is_empty());
    }

    #[test]
    fn a_packet_rate_meter_drops_what_exceeds_the_rate() {
        let mut table = MeterTable::new(1);
        table.add(1, spec(true, &[(BandAction::Drop, 1000)]), 0).unwrap();
        let mut state = MeterState::new(table.get(1).unwrap().clone(), HZ, 0);
        // 10,000 packets over one second: the burst (100) plus the rate (1000) pass.
        let passed = (0..10_000u64).filter(|i| state.apply(0, i * HZ / 10_000, 64) == MeterVerdict::Pass).count();
        assert!((1090..=1110).contains(&passed), "{passed}");
        let totals = table.get(1).unwrap().totals();
        assert_eq!((totals.packets, totals.bands[0].0), (10_000, 10_000 - passed as u64));
    }

    #[test]
    fn a_kbps_meter_counts_bytes_and_the_highest_exceeded_band_applies() {
        let mut table = MeterTable::new(1);
        // 800 kbps = 100,000 bytes/s remarked, 1600 kbps dropped.
        table.add(1, spec(false, &[(BandAction::DscpRemark(1), 800), (BandAction::Drop, 1600)]), 0).unwrap();
        let mut state = MeterState::new(table.get(1).unwrap().clone(), HZ, 0);
        let mut verdicts = std::collections::HashMap::new();
        // 1000-byte packets, 150 per second: 1.2 Mbit/s, between the two rates.
        for i in 0..1500u64 {
            *verdicts.entry(state.apply(0, i * HZ / 150, 1000)).or_insert(0) += 1;
        }
        assert!(!verdicts.contains_key(&MeterVerdict::Drop), "{verdicts:?}");
        let remarked = verdicts.get(&MeterVerdict::Remark(1)).copied().unwrap_or(0);
        assert!((450..=560).contains(&remarked), "about a third above 800 kbps: {verdicts:?}");
    }
}
