//! A PMD's enforcement state of every bridge's meters: its own token buckets and counters per
//! meter (`pipeline::meter::MeterState`), kept across datapath versions for the meters that did
//! not change.
use std::sync::Arc;

use crate::datapath::Datapath;
use crate::pipeline::meter::{Meter, MeterState, MeterVerdict};

/// By bridge, in the order of `BridgeDp::meters`.
pub struct PmdMeters {
    tsc_hz: u64,
    by_bridge: Vec<Vec<MeterState>>,
}

impl PmdMeters {
    pub fn new(tsc_hz: u64) -> PmdMeters {
        PmdMeters { tsc_hz, by_bridge: Vec::new() }
    }

    /// Follows a new datapath version: a meter that did not change keeps its buckets.
    pub fn follow(&mut self, datapath: &Datapath, now_tsc: u64) {
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

    /// Runs a packet of `bytes` through meter `id` of `bridge`, on PMD `pmd`'s counters.
    #[inline]
    pub fn apply(&mut self, bridge: usize, id: u32, pmd: usize, bytes: u32, now_tsc: u64) -> MeterVerdict {
        let Some(states) = self.by_bridge.get_mut(bridge) else { return MeterVerdict::Pass };
        match states.binary_search_by_key(&id, |state| state.meter.id) {
            Ok(index) => states[index].apply(pmd, now_tsc, bytes),
            // Gone with a table change this PMD has not taken yet.
            Err(_) => MeterVerdict::Pass,
        }
    }
}
