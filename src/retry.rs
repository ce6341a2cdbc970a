//! The retry policy, and the one loop that applies it. Every retry in the tool (API calls, token
//! fetches, uploads) runs through [`RetryPolicy::run`]: the caller classifies each failure into
//! an [`Attempt`], the loop decides whether and when to try again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngExt;

/// Tries per call (or per file), the first included, when the configuration does not say. A
/// file's link requests are its own tries, not a call's with tries of their own: against a
/// service failing a fifth of its calls (the soak benchmark), a file runs out of 10 link
/// requests about once in 5 million uploads, of 8 once in 200,000. With waits capped at 5 s, a
/// call that never succeeds is given up within 27 s (13 s on average), as 8 tries capped at
/// 30 s were; overload is met by fewer uploads at once (`congestion`), not by longer waits.
pub const DEFAULT_ATTEMPTS: u32 = 10;

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
            attempts: DEFAULT_ATTEMPTS,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}

/// What one try came to, as its caller classified it.
#[derive(Debug)]
pub enum Attempt<T, E> {
    Done(T),
    /// A transient failure: try again after the backoff.
    Backoff(E),
    /// Something was renewed (a token, a link) or waited for elsewhere (the shared quota
    /// pause): try again at once.
    Again(E),
    /// Refused as overload while other requests get through: the service is at capacity, not
    /// down, and the upload window narrows in answer. Try again after a first retry's wait,
    /// which does not grow: a growing one would leave the file behind the others for seconds.
    Crowded(E),
    /// Trying again cannot help.
    Fail(E),
}

/// Why [`RetryPolicy::run`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum GaveUp<E> {
    /// The failure was not one to retry.
    Failed(E),
    /// Every attempt failed; this was the last failure.
    Exhausted { error: E, tries: u32 },
}

impl<E> GaveUp<E> {
    pub fn into_error(self) -> E {
        match self {
            Self::Failed(error) | Self::Exhausted { error, .. } => error,
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

    /// Calls `attempt` (with the number of tries made before it) until it is done, fails for
    /// good, or has been tried `attempts` times. Every try counts, immediate ones too, so no
    /// failure can loop forever.
    pub async fn run<T, E, Fut>(&self, mut attempt: impl FnMut(u32) -> Fut) -> Result<T, GaveUp<E>>
    where
        Fut: Future<Output = Attempt<T, E>>,
    {
        let mut tries = 0;
        loop {
            let outcome = attempt(tries).await;
            tries += 1;
            let (error, wait) = match outcome {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(GaveUp::Failed(error)),
                Attempt::Backoff(error) => (error, Some(tries - 1)),
                Attempt::Crowded(error) => (error, Some(0)),
                Attempt::Again(error) => (error, None),
            };
            if tries >= self.attempts.max(1) {
                return Err(GaveUp::Exhausted { error, tries });
            }
            if let Some(retry) = wait {
                tokio::time::sleep(self.backoff(retry)).await;
            }
        }
    }
}

/// Time until the next wall-clock minute starts (for the per-minute quota, 45011).
pub fn until_next_minute() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into_minute = Duration::from_millis(u64::try_from(now.as_millis() % 60_000).unwrap_or(0));
    Duration::from_secs(60) - into_minute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        }
    }

    #[test]
    fn backoff_stays_under_the_growing_ceiling_and_the_cap() {
        let policy = policy(8);
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn next_minute_is_at_most_a_minute_away() {
        let d = until_next_minute();
        assert!(d <= Duration::from_secs(60), "{d:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_up_to_the_attempts() {
        let mut seen = Vec::new();
        let result: Result<(), _> = policy(5)
            .run(|tries| {
                seen.push(tries);
                async { Attempt::Backoff("busy") }
            })
            .await;
        assert_eq!(
            result,
            Err(GaveUp::Exhausted {
                error: "busy",
                tries: 5
            })
        );
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_after_failures_is_returned() {
        let result = policy(5)
            .run(|tries| async move {
                match tries {
                    0 => Attempt::Again("renewed"),
                    1 => Attempt::Backoff("busy"),
                    _ => Attempt::Done(tries),
                }
            })
            .await;
        assert_eq!(result, Ok(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hopeless_failure_is_not_retried() {
        let mut calls = 0;
        let result: Result<(), _> = policy(5)
            .run(|_| {
                calls += 1;
                async { Attempt::Fail("refused") }
            })
            .await;
        assert_eq!(result, Err(GaveUp::Failed("refused")));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn immediate_retries_do_not_wait_and_backoff_stays_under_its_ceilings() {
        let start = tokio::time::Instant::now();
        let _: Result<(), _> = policy(4).run(|_| async { Attempt::Again("renewed") }).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Three waits of at most 100, 200 and 400 ms.
        let _: Result<(), _> = policy(4).run(|_| async { Attempt::Backoff("busy") }).await;
        assert!(start.elapsed() <= Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn a_crowded_service_is_retried_after_waits_that_do_not_grow() {
        let start = tokio::time::Instant::now();
        // Nine waits of at most 100 ms each, where a growing backoff would allow 5.2 s.
        let mut calls = 0;
        let result: Result<(), _> = policy(10)
            .run(|_| {
                calls += 1;
                async { Attempt::Crowded("at capacity") }
            })
            .await;
        assert_eq!(calls, 10);
        assert!(matches!(result, Err(GaveUp::Exhausted { tries: 10, .. })));
        assert!(start.elapsed() <= Duration::from_millis(900));
    }
}
