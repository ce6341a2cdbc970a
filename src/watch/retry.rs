//! When a site tries again after a failed cycle. A transient failure (the service busy, a file
//! that failed) is tried again in 30 s or at the next change, as often as it takes. A permanent
//! one (a refused token or permission, a quota, no static website) would fail the same way
//! until something outside the folder changes, and every try spends API quota a provider's
//! merchants share: it is tried again after a wait that doubles with each such failure, from
//! 30 s up to 10 minutes, or at once when a change could have fixed it (a credential file,
//! SIGHUP, the folder). A success starts over. A pure state machine over `Instant`s, tested
//! without a clock, like `batch`.

use std::time::Duration;

use tokio::time::Instant;

/// The wait after a transient failure.
pub const TRANSIENT_WAIT: Duration = Duration::from_secs(30);
/// The wait after a first permanent failure; it doubles with each one in a row…
pub const FIRST_PERMANENT_WAIT: Duration = Duration::from_secs(30);
/// …up to this.
pub const LONGEST_WAIT: Duration = Duration::from_secs(600);
/// The wait before restarting a worker that panicked for the first time; it doubles with each
/// panic in a row, up to [`LONGEST_WAIT`].
pub const FIRST_RESTART_WAIT: Duration = Duration::from_secs(1);

/// How a cycle failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It may pass by itself: try again soon.
    Transient,
    /// It will not pass until something outside the folder changes.
    Permanent,
}

/// A retry waiting to happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub failure: Failure,
    pub at: Instant,
}

/// What a failure leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub at: Instant,
    pub wait: Duration,
    /// The same permanent failure as the last one, with no success between: worth less than
    /// a full report in the log.
    pub repeat: bool,
}

/// One site's retry state.
#[derive(Debug, Default)]
pub struct Retry {
    /// Permanent failures since the last success.
    permanent: u32,
    /// The cause of the last permanent failure.
    last_cause: Option<String>,
    pending: Option<Pending>,
}

impl Retry {
    /// A cycle failed at `now` because of `cause`: when to try again.
    pub fn failed(&mut self, failure: Failure, cause: &str, now: Instant) -> Decision {
        let (wait, repeat) = match failure {
            Failure::Transient => (TRANSIENT_WAIT, false),
            Failure::Permanent => {
                let wait = doubling(FIRST_PERMANENT_WAIT, self.permanent);
                self.permanent = self.permanent.saturating_add(1);
                let repeat = self.last_cause.as_deref() == Some(cause);
                self.last_cause = Some(cause.to_owned());
                (wait, repeat)
            }
        };
        let at = now + wait;
        self.pending = Some(Pending { failure, at });
        Decision { at, wait, repeat }
    }

    /// A cycle succeeded: nothing to retry, and the next permanent failure waits the least.
    pub fn succeeded(&mut self) {
        *self = Retry::default();
    }

    /// Nothing to retry until the folder is back (it went missing or empty); the waits
    /// already grown are kept.
    pub fn cancel(&mut self) {
        self.pending = None;
    }

    /// Something that may have fixed the failure happened at `now` (a credential file changed,
    /// SIGHUP): try again now. Returns whether a retry was pending.
    pub fn hasten(&mut self, now: Instant) -> bool {
        match &mut self.pending {
            Some(pending) => {
                pending.at = pending.at.min(now);
                true
            }
            None => false,
        }
    }

    pub fn pending(&self) -> Option<Pending> {
        self.pending
    }

    /// When to try again, if a cycle failed.
    pub fn due(&self) -> Option<Instant> {
        self.pending.map(|p| p.at)
    }

    /// Whether the site waits after a permanent failure: a change of its credentials is worth
    /// watching for.
    pub fn waits_for_a_fix(&self) -> bool {
        self.pending
            .is_some_and(|p| p.failure == Failure::Permanent)
    }
}

/// The wait before restarting a worker after `panics` panics in a row (the first is 0).
pub fn restart_wait(panics: u32) -> Duration {
    doubling(FIRST_RESTART_WAIT, panics)
}

/// `first` doubled `times` times, at most [`LONGEST_WAIT`].
fn doubling(first: Duration, times: u32) -> Duration {
    let factor = 2u32.saturating_pow(times.min(16));
    first.saturating_mul(factor).min(LONGEST_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = "staticuploadfile answered errcode 61007 (api unauthorized)";

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_transient_failure_is_tried_again_in_30_s_every_time() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        for i in 0..5 {
            let now = t0 + secs(30 * i);
            let decision = retry.failed(Failure::Transient, "busy", now);
            assert_eq!(decision.at, now + secs(30));
            assert!(!decision.repeat);
        }
        assert!(!retry.waits_for_a_fix());
    }

    #[test]
    fn permanent_failures_wait_longer_each_time_up_to_ten_minutes() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        let waits: Vec<u64> = (0..8)
            .map(|_| retry.failed(Failure::Permanent, REFUSED, t0).wait.as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert!(retry.waits_for_a_fix());
        assert_eq!(retry.due(), Some(t0 + secs(600)));
    }

    #[test]
    fn only_the_first_of_the_same_permanent_failures_is_new() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        assert!(!retry.failed(Failure::Permanent, REFUSED, t0).repeat);
        assert!(retry.failed(Failure::Permanent, REFUSED, t0).repeat);
        assert!(
            !retry
                .failed(Failure::Permanent, "no static website", t0)
                .repeat
        );
        // A transient failure between two of the same leaves the wait and the cause as they were.
        retry.failed(Failure::Transient, "busy", t0);
        let after = retry.failed(Failure::Permanent, "no static website", t0);
        assert!(after.repeat);
        assert_eq!(after.wait, secs(240));
    }

    #[test]
    fn a_success_starts_over() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        retry.failed(Failure::Permanent, REFUSED, t0);
        retry.failed(Failure::Permanent, REFUSED, t0);
        retry.succeeded();
        assert_eq!(retry.due(), None);
        let again = retry.failed(Failure::Permanent, REFUSED, t0);
        assert_eq!(again.wait, secs(30));
        assert!(!again.repeat, "reported again after a success");
    }

    #[test]
    fn a_fix_makes_the_retry_due_now() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        assert!(!retry.hasten(t0), "nothing pending");
        retry.failed(Failure::Permanent, REFUSED, t0);
        let later = t0 + secs(3);
        assert!(retry.hasten(later));
        assert_eq!(retry.due(), Some(later));
        // The failure is still what is waited on, and the next one waits longer.
        assert!(retry.waits_for_a_fix());
        assert_eq!(
            retry.failed(Failure::Permanent, REFUSED, later).wait,
            secs(60)
        );
    }

    #[test]
    fn a_missing_folder_cancels_the_retry_but_keeps_the_wait() {
        let t0 = Instant::now();
        let mut retry = Retry::default();
        retry.failed(Failure::Permanent, REFUSED, t0);
        retry.cancel();
        assert_eq!(retry.pending(), None);
        assert_eq!(retry.failed(Failure::Permanent, REFUSED, t0).wait, secs(60));
    }

    #[test]
    fn restarts_wait_from_a_second_up_to_ten_minutes() {
        let waits: Vec<u64> = (0..12).map(|n| restart_wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(restart_wait(u32::MAX), LONGEST_WAIT);
    }
}
