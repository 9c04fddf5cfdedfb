//! Bounded polling: every wait in the suite goes through here, so none can
//! spin forever. A poll stops at its time limit and after a fixed number of
//! attempts, whichever comes first.
use std::thread;
use std::time::{Duration, Instant};

/// Pause between two attempts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it returns `Some`, at most for `limit` (and at most
/// `limit / POLL_INTERVAL + 1` times). None when it never did.
pub fn poll<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    let max_attempts = limit.as_millis() / POLL_INTERVAL.as_millis() + 1;
    for attempt in 0..max_attempts {
        if let Some(value) = probe() {
            return Some(value);
        }
        if started.elapsed() >= limit || attempt + 1 == max_attempts {
            break;
        }
        thread::sleep(POLL_INTERVAL);
    }
    None
}

/// Like `poll`, but panics with `what` (and the last state `describe` gives)
/// when the condition never held.
pub fn poll_or_panic<T>(
    what: &str,
    limit: Duration,
    probe: impl FnMut() -> Option<T>,
    describe_last: impl FnOnce() -> String,
) -> T {
    match poll(limit, probe) {
        Some(value) => value,
        None => panic!("timed out after {limit:?} waiting for {what}; last state: {}", describe_last()),
    }
}
