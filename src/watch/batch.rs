//! When to start a cycle. Events only mark paths dirty; a cycle starts once the folder has been
//! quiet for the quiet period (which restarts with each event), or once the first event has
//! waited the maximum wait, whichever comes first. A pure state machine over `Instant`s, so it
//! is tested without a clock.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

/// Timing of batches.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// No event for this long: the build is done writing.
    pub quiet: Duration,
    /// Never wait longer than this after the first event, even if events keep coming.
    pub max_wait: Duration,
}

/// The dirty paths gathered since the last cycle.
#[derive(Debug, Default)]
pub struct Batch {
    first: Option<Instant>,
    last: Option<Instant>,
    paths: BTreeSet<PathBuf>,
    /// Events were lost or said "rescan": the whole site must be looked at.
    rescan: bool,
}

/// What a cycle should look at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dirty {
    pub paths: BTreeSet<PathBuf>,
    pub rescan: bool,
}

impl Batch {
    pub fn add(&mut self, now: Instant, paths: impl IntoIterator<Item = PathBuf>) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.paths.extend(paths);
    }

    pub fn add_rescan(&mut self, now: Instant) {
        self.add(now, []);
        self.rescan = true;
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// When the batch is due, if anything is pending.
    pub fn deadline(&self, timing: Timing) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + timing.quiet).min(first + timing.max_wait))
    }

    /// Empties the batch into what a cycle should look at.
    pub fn take(&mut self) -> Dirty {
        let batch = std::mem::take(self);
        Dirty {
            paths: batch.paths,
            rescan: batch.rescan,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        quiet: Duration::from_millis(500),
        max_wait: Duration::from_secs(5),
    };

    #[test]
    fn empty_batch_has_no_deadline() {
        assert_eq!(Batch::default().deadline(TIMING), None);
    }

    #[test]
    fn each_event_restarts_the_quiet_period() {
        let t0 = Instant::now();
        let mut b = Batch::default();
        b.add(t0, [PathBuf::from("/d/a")]);
        assert_eq!(b.deadline(TIMING), Some(t0 + Duration::from_millis(500)));
        b.add(t0 + Duration::from_millis(300), [PathBuf::from("/d/b")]);
        assert_eq!(b.deadline(TIMING), Some(t0 + Duration::from_millis(800)));
    }

    #[test]
    fn a_steady_stream_of_events_waits_at_most_the_maximum() {
        let t0 = Instant::now();
        let mut b = Batch::default();
        for i in 0..100 {
            b.add(
                t0 + Duration::from_millis(i * 100),
                [PathBuf::from(format!("/d/{i}"))],
            );
        }
        assert_eq!(b.deadline(TIMING), Some(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn take_empties_and_keeps_the_rescan_mark() {
        let t0 = Instant::now();
        let mut b = Batch::default();
        b.add(t0, [PathBuf::from("/d/a"), PathBuf::from("/d/a")]);
        b.add_rescan(t0);
        let dirty = b.take();
        assert_eq!(dirty.paths.len(), 1);
        assert!(dirty.rescan);
        assert!(b.is_empty());
        assert_eq!(b.take(), Dirty::default());
    }
}
