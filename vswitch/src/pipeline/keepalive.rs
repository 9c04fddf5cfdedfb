//! What a cached megaflow keeps alive. Learned state - NORMAL's MAC entries, flood-and-learn
//! VTEP entries, the rules of learn actions - is made at upcall time only; once its megaflow is
//! cached, the packets that would re-learn it no longer upcall. So the translation records, in
//! the megaflow's `FlowActions::keep_alive`, the last-seen cells of the entries its packets
//! would refresh (as Open vSwitch replays a megaflow's learning with its stats), and the
//! megaflow table's background reporter (`pmd::burst::credit_rules`) stores the megaflow's
//! last use into them when it moved packets: a load and a store, no lock, no message, and
//! nothing the datapath versions see (a refresh publishes nothing, revalidates nothing). The
//! management thread's aging reads the cells.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// When an entry was last seen (ms, on the clock of the PMDs' megaflow times). Shared by the
/// entry on the management thread and the megaflows that refresh it.
#[derive(Debug, Default)]
pub struct LastSeen(AtomicU64);

impl LastSeen {
    pub fn new(now_ms: u64) -> LastSeen {
        LastSeen(AtomicU64::new(now_ms))
    }

    /// Seen at `now_ms`: never moves back (a racing older time may win a store; the next
    /// refresh puts it right), and writes the cache line only when it moves forward.
    #[inline]
    pub fn refresh(&self, now_ms: u64) {
        if self.0.load(Ordering::Relaxed) < now_ms {
            self.0.store(now_ms, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_only_moves_forward() {
        let seen = LastSeen::new(10);
        seen.refresh(5);
        assert_eq!(seen.get(), 10);
        seen.refresh(20);
        assert_eq!(seen.get(), 20);
    }
}
