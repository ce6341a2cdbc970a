//! Fault injection and request counters: the two ways a test looks behind the emulator's
//! answers. Faults make a client's retry, backoff and refresh paths run on demand, reproducibly
//! (one seeded RNG); counters let a test check how many calls, uploads and connections a client
//! made. (The refusal beyond `max_inflight` is decided in `inflight.rs`.)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::inflight::InFlight;
use super::lock;

/// Faults to inject. All off by default.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Added to every API call.
    pub api_latency: Duration,
    /// Added to every PUT.
    pub put_latency: Duration,
    /// Fraction of API calls answered `{"errcode":-1,"errmsg":"system error"}`.
    pub api_error_rate: f64,
    /// Fraction of PUTs answered 500 `InternalError`.
    pub put_error_rate: f64,
    /// Fraction of API calls and PUTs whose connection is dropped without an answer.
    pub reset_rate: f64,
    /// An issued token expires (42001) after this many uses.
    pub token_lifetime_calls: Option<u64>,
    /// API calls per wall-clock minute before 45011.
    pub quota_per_minute: Option<u64>,
    /// The most API calls and PUTs handled at once; those beyond are answered at once, without
    /// the latency: a PUT 503 `SlowDown`, an API call `{"errcode":-1,"errmsg":"system busy"}`.
    pub max_inflight: Option<usize>,
    /// Seeds the RNG so a run is reproducible.
    pub seed: u64,
}

/// What fault, if any, a request gets instead of its normal handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Drop the connection without an answer.
    Reset,
    /// Answer the service's generic error (-1 for the API, 500 for a PUT).
    Error,
    /// Answer 45011 (API only).
    Quota,
}

/// Decides faults for each request, from one seeded RNG.
pub(crate) struct FaultInjector {
    faults: Faults,
    rng: Mutex<StdRng>,
    /// (minute since the epoch, calls counted in it).
    minute: Mutex<(u64, u64)>,
}

impl FaultInjector {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(StdRng::seed_from_u64(faults.seed));
        FaultInjector {
            faults,
            rng,
            minute: Mutex::new((0, 0)),
        }
    }

    /// Waits the API latency, then picks the fault for one API call made at `unix_secs`.
    pub(crate) async fn before_api(&self, unix_secs: u64) -> Option<Fault> {
        if !self.faults.api_latency.is_zero() {
            tokio::time::sleep(self.faults.api_latency).await;
        }
        if let Some(quota) = self.faults.quota_per_minute {
            let mut minute = lock(&self.minute);
            let now = unix_secs / 60;
            if minute.0 != now {
                *minute = (now, 0);
            }
            minute.1 += 1;
            if minute.1 > quota {
                return Some(Fault::Quota);
            }
        }
        if self.roll(self.faults.reset_rate) {
            return Some(Fault::Reset);
        }
        self.roll(self.faults.api_error_rate)
            .then_some(Fault::Error)
    }

    /// Waits the PUT latency, then picks the fault for one PUT.
    pub(crate) async fn before_put(&self) -> Option<Fault> {
        if !self.faults.put_latency.is_zero() {
            tokio::time::sleep(self.faults.put_latency).await;
        }
        if self.roll(self.faults.reset_rate) {
            return Some(Fault::Reset);
        }
        self.roll(self.faults.put_error_rate)
            .then_some(Fault::Error)
    }

    /// True with probability `rate`. Rates of 0 (or less) and 1 (or more) draw nothing, so
    /// turning one fault on or off does not shift another fault's sequence.
    fn roll(&self, rate: f64) -> bool {
        if rate.is_nan() || rate <= 0.0 {
            false
        } else if rate >= 1.0 {
            true
        } else {
            lock(&self.rng).random_bool(rate)
        }
    }
}

/// A snapshot of what the emulator has received.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Counters {
    /// API calls by path, e.g. `componenttcb/staticuploadfile`, faulted calls included.
    pub api_calls: BTreeMap<String, u64>,
    /// PUT requests received.
    pub puts: u64,
    /// PUTs whose object was stored.
    pub puts_stored: u64,
    /// Bytes of the stored PUTs.
    pub put_bytes: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// The most API calls and PUTs in flight at once.
    pub peak_inflight: u64,
    /// API calls and PUTs refused because `max_inflight` were in flight (they are counted in
    /// `api_calls` and `puts` too).
    pub refused_overload: u64,
}

/// The live counters behind [`Counters`].
#[derive(Debug, Default)]
pub(crate) struct CounterSet {
    api_calls: Mutex<BTreeMap<String, u64>>,
    puts: AtomicU64,
    puts_stored: AtomicU64,
    put_bytes: AtomicU64,
    connections: AtomicU64,
}

impl CounterSet {
    pub(crate) fn api_call(&self, path: &str) {
        *lock(&self.api_calls).entry(path.to_owned()).or_default() += 1;
    }

    pub(crate) fn put_received(&self) {
        self.puts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn put_stored(&self, bytes: u64) {
        self.puts_stored.fetch_add(1, Ordering::Relaxed);
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now, with the gauge of requests in flight.
    pub(crate) fn snapshot(&self, inflight: &InFlight) -> Counters {
        Counters {
            api_calls: lock(&self.api_calls).clone(),
            puts: self.puts.load(Ordering::Relaxed),
            puts_stored: self.puts_stored.load(Ordering::Relaxed),
            put_bytes: self.put_bytes.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            peak_inflight: inflight.peak(),
            refused_overload: inflight.refused(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sequence(faults: Faults, n: usize) -> Vec<Option<Fault>> {
        let injector = FaultInjector::new(faults);
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(injector.before_api(0).await);
        }
        out
    }

    #[tokio::test]
    async fn same_seed_same_faults() {
        let faults = Faults {
            api_error_rate: 0.5,
            seed: 42,
            ..Faults::default()
        };
        let a = sequence(faults.clone(), 50).await;
        assert_eq!(a, sequence(faults, 50).await);
        assert!(a.contains(&Some(Fault::Error)) && a.contains(&None));
    }

    #[tokio::test]
    async fn quota_counts_per_minute() {
        let faults = Faults {
            quota_per_minute: Some(2),
            ..Faults::default()
        };
        let injector = FaultInjector::new(faults);
        assert_eq!(injector.before_api(60).await, None);
        assert_eq!(injector.before_api(61).await, None);
        assert_eq!(injector.before_api(119).await, Some(Fault::Quota));
        assert_eq!(injector.before_api(120).await, None, "a new minute");
    }
}
