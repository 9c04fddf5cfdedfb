//! A token bucket over any monotonic tick counter (TSC cycles in a PMD, nanoseconds in an
//! OpenFlow connection thread): the packet-in rate limits. Integer arithmetic only, no
//! allocation, no clock read of its own.
#![forbid(unsafe_code)]

/// Up to `rate` tokens per second, at most `burst` saved up; starts full.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    ticks_per_s: u64,
    /// Tokens times `ticks_per_s`, so refills need no division.
    credit: u64,
    /// `burst` tokens, in the same unit.
    cap: u64,
    last: u64,
}

impl TokenBucket {
    pub fn new(rate: u64, burst: u64, ticks_per_s: u64, now: u64) -> TokenBucket {
        let ticks_per_s = ticks_per_s.max(1);
        let cap = burst.max(1).saturating_mul(ticks_per_s);
        TokenBucket { rate, ticks_per_s, credit: cap, cap, last: now }
    }

    /// Takes one token at tick `now`; false when the bucket is empty.
    #[inline]
    pub fn take(&mut self, now: u64) -> bool {
        self.take_n(now, 1)
    }

    /// Takes `n` tokens at tick `now`, or none (false) when there are fewer.
    #[inline]
    pub fn take_n(&mut self, now: u64, n: u64) -> bool {
        let elapsed = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.credit = self.credit.saturating_add(elapsed.saturating_mul(self.rate)).min(self.cap);
        let cost = n.saturating_mul(self.ticks_per_s);
        if self.credit >= cost {
            self.credit -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 1_000_000_000;

    fn taken(bucket: &mut TokenBucket, now: u64, tries: u32) -> u32 {
        (0..tries).map(|_| u32::from(bucket.take(now))).sum()
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(1000, 250, HZ, 0);
        assert_eq!(taken(&mut bucket, 0, 1000), 250);
        // 10 ms later: 10 more.
        assert_eq!(taken(&mut bucket, HZ / 100, 1000), 10);
        // A whole second of silence refills the burst, not more.
        assert_eq!(taken(&mut bucket, 5 * HZ, 10_000), 250);
    }

    #[test]
    fn over_a_long_run_the_rate_holds() {
        let mut bucket = TokenBucket::new(100, 25, HZ, 0);
        // 10 tries every millisecond for 10 s.
        let total: u32 = (0..10_000u64).map(|ms| taken(&mut bucket, ms * HZ / 1000, 10)).sum();
        assert!((1000..=1000 + 25).contains(&total), "{total}");
    }

    #[test]
    fn several_tokens_at_once_or_none() {
        let mut bucket = TokenBucket::new(1000, 1500, HZ, 0);
        assert!(bucket.take_n(0, 1000));
        assert!(!bucket.take_n(0, 600), "500 left");
        assert!(bucket.take_n(0, 500));
        assert!(bucket.take_n(HZ / 10, 100), "100 more after 100 ms");
        assert!(!bucket.take_n(HZ / 10, 1));
    }

    #[test]
    fn a_clock_going_back_or_far_forward_does_not_break_it() {
        let mut bucket = TokenBucket::new(1_000_000, 1_000_000, u64::MAX / 2, u64::MAX / 2);
        assert!(bucket.take(u64::MAX));
        assert!(bucket.take(3));
        let mut empty = TokenBucket::new(100, 25, HZ, 10 * HZ);
        assert_eq!(taken(&mut empty, 10 * HZ, 100), 25);
        assert_eq!(taken(&mut empty, HZ, 100), 0);
    }
}
