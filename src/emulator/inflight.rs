//! How many API calls and PUTs the emulator is handling at once: the gauge behind the
//! `peak_inflight` counter, and the admission that refuses requests beyond `max_inflight`, so a
//! client's reaction to an overloaded service (COS `SlowDown`, the API's "system busy") can be
//! tested. Only the API and PUT roles take a slot; websites and the emulator's own pages do not.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The requests in flight, the most there were at once, and the ones refused for want of room.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// `None`: admit every request (and only count them).
    limit: Option<usize>,
    now: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
}

/// One request in flight; dropping it (the response produced, or the connection gone with the
/// request's future) frees its place.
#[must_use = "a request is in flight only while its slot is held"]
pub(crate) struct Slot<'a>(&'a InFlight);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlight {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        InFlight {
            limit,
            ..InFlight::default()
        }
    }

    /// A slot for one more request, or `None` (counted as refused) when `limit` are already
    /// in flight. A refused request never counts as in flight, not even for a moment, so the
    /// peak never reads above the limit.
    pub(crate) fn admit(&self) -> Option<Slot<'_>> {
        let limit = self.limit.unwrap_or(usize::MAX);
        let taken = self
            .now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + 1, Ordering::AcqRel);
                Some(Slot(self))
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The most requests that were in flight at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Acquire) as u64
    }

    /// Requests refused because `limit` were in flight.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_limit_every_request_is_admitted_and_the_peak_kept() {
        let gauge = InFlight::new(None);
        let slots: Vec<_> = (0..3).map(|_| gauge.admit().expect("admitted")).collect();
        assert_eq!(gauge.peak(), 3);
        drop(slots);
        let _one = gauge.admit().expect("admitted");
        assert_eq!((gauge.peak(), gauge.refused()), (3, 0));
    }

    #[test]
    fn beyond_the_limit_requests_are_refused_until_a_slot_is_freed() {
        let gauge = InFlight::new(Some(2));
        let first = gauge.admit().expect("admitted");
        let _second = gauge.admit().expect("admitted");
        assert!(gauge.admit().is_none());
        assert!(gauge.admit().is_none());
        assert_eq!((gauge.peak(), gauge.refused()), (2, 2));
        drop(first);
        let _third = gauge.admit().expect("a freed slot is taken again");
        assert_eq!((gauge.peak(), gauge.refused()), (2, 2));
    }

    #[test]
    fn a_request_dropped_while_in_flight_frees_its_slot() {
        use futures_util::FutureExt;
        let gauge = InFlight::new(Some(1));
        // A handler's future holds its slot across an await; the server drops the future when
        // the connection goes.
        let mut request = Box::pin(async {
            let _slot = gauge.admit();
            std::future::pending::<()>().await;
        });
        assert!((&mut request).now_or_never().is_none());
        assert!(gauge.admit().is_none(), "the slot is held while it waits");
        drop(request);
        assert!(gauge.admit().is_some());
    }
}
