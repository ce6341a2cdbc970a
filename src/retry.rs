//! The retry policy: how long to wait before trying a failed call again. Every retry in the tool
//! takes its delays from here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngExt;

/// Exponential backoff with full jitter: before retry `n` wait a random time in
/// `0..=min(cap, base * 2^n)`.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Time until the next wall-clock minute starts, plus up to a second of jitter so that many
/// workers do not all call at the same instant (for the per-minute quota, 45011).
pub fn until_next_minute() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = Duration::from_millis(u64::try_from(now.as_millis() % 60_000).unwrap_or(0));
    let jitter = Duration::from_millis(rand::rng().random_range(0..1000));
    Duration::from_secs(60) - into_minute + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_growing_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn next_minute_is_at_most_a_minute_and_a_second_away() {
        let d = until_next_minute();
        assert!(d <= Duration::from_secs(61), "{d:?}");
    }
}
