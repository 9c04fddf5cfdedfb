//! A `Gate` decides, burst by burst, whether a shortcut of the datapath is worth trying: the
//! exact-match cache (with more flows than it holds, nearly every lookup misses and costs a cache
//! miss before the megaflow lookup that finds the packet anyway) and the repeat check (a packet
//! compared with the one before it: with many interleaved flows it never matches and costs a few
//! cycles per packet). While bypassing, one burst in `SAMPLE_EVERY` still tries, so the gate
//! measures on and opens again when the traffic changes. Hysteresis: each gate closes below one
//! success rate and opens from a higher one, judged over `WINDOW` tries.

/// Tries a decision is based on.
pub const WINDOW: u32 = 1 << 14;
/// While bypassing, one burst in this many still tries.
pub const SAMPLE_EVERY: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    close_below_percent: u32,
    open_from_percent: u32,
    bypassing: bool,
    bursts: u32,
    tries: u32,
    successes: u32,
}

impl Gate {
    /// The EMC: bypassed below 30 % hits, used again from 50 %.
    pub const fn emc() -> Gate {
        Gate::new(30, 50)
    }

    /// The repeat check: a repeat saves a parse, a hash and a lookup (~30 cycles) where a failed
    /// check costs ~3, so it pays from about 10 % repeats: bypassed below 5 %, used from 10 %.
    pub const fn repeats() -> Gate {
        Gate::new(5, 10)
    }

    const fn new(close_below_percent: u32, open_from_percent: u32) -> Gate {
        Gate { close_below_percent, open_from_percent, bypassing: false, bursts: 0, tries: 0, successes: 0 }
    }

    /// Whether this burst tries the shortcut.
    #[inline]
    pub fn try_now(&mut self) -> bool {
        if !self.bypassing {
            return true;
        }
        self.bursts = self.bursts.wrapping_add(1);
        self.bursts.is_multiple_of(SAMPLE_EVERY)
    }

    /// Records a burst's tries and successes (of a burst for which `try_now` said yes).
    #[inline]
    pub fn record(&mut self, tries: u32, successes: u32) {
        self.tries += tries;
        self.successes += successes;
        if self.tries < WINDOW {
            return;
        }
        let percent = u64::from(self.successes) * 100 / u64::from(self.tries);
        self.bypassing = if self.bypassing {
            percent < u64::from(self.open_from_percent)
        } else {
            percent < u64::from(self.close_below_percent)
        };
        self.tries = 0;
        self.successes = 0;
    }

    pub fn is_bypassing(&self) -> bool {
        self.bypassing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emc_gate_closes_on_misses_and_opens_again_with_hits() {
        let mut gate = Gate::emc();
        // 40 % hits: keep using it.
        for _ in 0..WINDOW / 32 {
            assert!(gate.try_now());
            gate.record(32, 13);
        }
        assert!(!gate.is_bypassing());
        // 10 % hits: bypass, but every SAMPLE_EVERY-th burst still looks.
        for _ in 0..WINDOW / 32 {
            gate.record(32, 3);
        }
        assert!(gate.is_bypassing());
        let used = (0..SAMPLE_EVERY * 10).filter(|_| gate.try_now()).count();
        assert_eq!(used, 10);
        // 40 % while bypassing: not enough to come back (hysteresis); 60 %: back.
        for _ in 0..WINDOW / 32 {
            gate.record(32, 13);
        }
        assert!(gate.is_bypassing());
        for _ in 0..WINDOW / 32 {
            gate.record(32, 20);
        }
        assert!(!gate.is_bypassing());
        assert!((0..100).all(|_| gate.try_now()));
    }

    #[test]
    fn the_repeat_gate_has_its_own_thresholds() {
        let mut gate = Gate::repeats();
        // 6 % repeats: worth checking.
        for _ in 0..WINDOW / 100 + 1 {
            gate.record(100, 6);
        }
        assert!(!gate.is_bypassing());
        // None (interleaved flows): bypass.
        for _ in 0..WINDOW / 31 + 1 {
            gate.record(31, 0);
        }
        assert!(gate.is_bypassing());
        // 8 %: not enough to come back; a train of one flow: back.
        for _ in 0..WINDOW / 100 + 1 {
            gate.record(100, 8);
        }
        assert!(gate.is_bypassing());
        for _ in 0..WINDOW / 31 + 1 {
            gate.record(31, 31);
        }
        assert!(!gate.is_bypassing());
    }
}
