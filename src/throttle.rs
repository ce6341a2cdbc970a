//! The pace of API calls, shared by every worker of a process: the per-minute quota pause (one
//! 45011 holds back every call until the next minute starts, not just the one that met it) and
//! the optional `api_rate_limit` (calls per second, spaced evenly).

use std::sync::Mutex;
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Throttle {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// No call starts before this, when set.
    paused_until: Option<Instant>,
    /// The earliest start of the next call under the rate limit.
    next_slot: Instant,
    /// Time between two calls under the rate limit; `None` without one.
    interval: Option<Duration>,
}

/// Spread of the calls that resume together after a pause, so they do not all land in the
/// quota's first instant.
const RESUME_SPREAD: Duration = Duration::from_secs(1);

impl Throttle {
    /// `rate`: calls per second at most, or `None` for no limit.
    pub fn new(rate: Option<f64>) -> Self {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        Throttle {
            state: Mutex::new(State {
                paused_until: None,
                next_slot: Instant::now(),
                interval,
            }),
        }
    }

    /// Waits until a call may start; without a pause or a limit, at once, with no timer.
    pub async fn admit(&self) {
        let (start, now) = {
            let mut state = self.lock();
            let now = Instant::now();
            let mut start = now;
            if let Some(until) = state.paused_until {
                if until > now {
                    let spread = rand::rng().random_range(0..=RESUME_SPREAD.as_millis() as u64);
                    start = until + Duration::from_millis(spread);
                } else {
                    state.paused_until = None;
                }
            }
            if let Some(interval) = state.interval {
                start = start.max(state.next_slot);
                state.next_slot = start + interval;
            }
            (start, now)
        };
        if start > now {
            tokio::time::sleep_until(start).await;
        }
    }

    /// Holds back every call for `wait` (the first pause wins while it lasts: callers meeting
    /// the same quota do not push it further).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        match state.paused_until {
            Some(current) if current > Instant::now() => {}
            _ => {
                tracing::warn!(
                    wait_secs = wait.as_secs(),
                    "per-minute API quota reached; every call waits for the next minute"
                );
                state.paused_until = Some(until);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_calls_start_at_once() {
        let throttle = Throttle::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            throttle.admit().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_spaces_calls_evenly() {
        let throttle = Throttle::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..21 {
            throttle.admit().await;
        }
        // The first call at once, then one every 100 ms.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_caller_until_it_ends() {
        let throttle = std::sync::Arc::new(Throttle::new(None));
        let start = Instant::now();
        throttle.pause_for(Duration::from_secs(30));
        // A second quota error during the pause does not extend it.
        tokio::time::advance(Duration::from_secs(10)).await;
        throttle.pause_for(Duration::from_secs(30));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let throttle = std::sync::Arc::clone(&throttle);
                tokio::spawn(async move {
                    throttle.admit().await;
                    start.elapsed()
                })
            })
            .collect();
        for caller in callers {
            let waited = caller.await.expect("caller");
            assert!(waited >= Duration::from_secs(30), "{waited:?}");
            assert!(
                waited <= Duration::from_secs(30) + RESUME_SPREAD,
                "{waited:?}"
            );
        }
        // Once it is over, calls start at once again.
        let after = Instant::now();
        throttle.admit().await;
        assert_eq!(after.elapsed(), Duration::ZERO);
    }
}
