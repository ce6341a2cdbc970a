//! How many uploads may be in flight while the service is struggling. A burst of overload
//! answers (HTTP 5xx, 429, COS `SlowDown`, errcode -1/-1000, from the API or the store) halves
//! the window; finished uploads grow it back by one per window's worth, up to the configured
//! concurrency. Isolated failures, the kind a flaky network or a busy moment gives, do not count
//! as a burst.

use std::sync::Mutex;

/// Outcomes looked at: the last this many.
const SAMPLE: u32 = u32::BITS;
/// Overload answers among the last [`SAMPLE`] outcomes that make a burst.
const BURST: u32 = SAMPLE / 2;

/// One request's outcome, as far as load is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    Served,
    Overloaded,
}

#[derive(Debug, Default)]
pub struct Congestion {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The reduced window; `None` while at the configured concurrency.
    window: Option<usize>,
    /// The configured concurrency, as last asked for.
    configured: usize,
    /// One bit per recent outcome ([`SAMPLE`] of them), newest lowest; 1 = overloaded.
    recent: u32,
    /// Successes since the window last grew.
    served: usize,
}

impl Congestion {
    /// Uploads allowed in flight now, given the configured concurrency.
    pub fn allowed(&self, configured: usize) -> usize {
        let mut state = self.lock();
        state.configured = configured;
        state
            .window
            .map_or(configured, |w| w.min(configured))
            .max(1)
    }

    pub fn record(&self, load: Load) {
        let mut state = self.lock();
        state.recent = (state.recent << 1) | u32::from(load == Load::Overloaded);
        match load {
            Load::Overloaded if state.recent.count_ones() >= BURST => {
                let current = state.window.unwrap_or(state.configured).max(1);
                let halved = (current / 2).max(1);
                tracing::warn!(
                    from = current,
                    to = halved,
                    "the service is overloaded; fewer uploads at once"
                );
                state.window = Some(halved);
                // The next cut needs a burst of its own.
                state.recent = 0;
                state.served = 0;
            }
            Load::Overloaded => {}
            Load::Served => {
                let Some(window) = state.window else { return };
                state.served += 1;
                if state.served >= window {
                    state.served = 0;
                    let grown = window + 1;
                    if grown >= state.configured {
                        tracing::info!(uploads = state.configured, "back to full concurrency");
                        state.window = None;
                    } else {
                        state.window = Some(grown);
                    }
                }
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

    fn feed(c: &Congestion, pattern: &[Load], times: usize) {
        for _ in 0..times {
            for &load in pattern {
                c.record(load);
            }
        }
    }

    #[test]
    fn isolated_failures_leave_the_window_alone() {
        let c = Congestion::default();
        assert_eq!(c.allowed(16), 16);
        // One in five answers overloaded: 20 %, below a burst.
        let pattern = [
            Load::Overloaded,
            Load::Served,
            Load::Served,
            Load::Served,
            Load::Served,
        ];
        feed(&c, &pattern, 1000);
        assert_eq!(c.allowed(16), 16);
    }

    #[test]
    fn a_burst_halves_the_window_and_another_burst_halves_it_again() {
        let c = Congestion::default();
        assert_eq!(c.allowed(16), 16);
        feed(&c, &[Load::Overloaded], BURST as usize);
        assert_eq!(c.allowed(16), 8);
        feed(&c, &[Load::Overloaded], BURST as usize - 1);
        assert_eq!(c.allowed(16), 8, "one burst, one cut");
        feed(&c, &[Load::Overloaded], 1);
        assert_eq!(c.allowed(16), 4);
        feed(&c, &[Load::Overloaded], 10 * BURST as usize);
        assert_eq!(c.allowed(16), 1, "never below one");
    }

    #[test]
    fn successes_grow_it_back_slowly_to_the_configured_concurrency() {
        let c = Congestion::default();
        assert_eq!(c.allowed(8), 8);
        feed(&c, &[Load::Overloaded], 3 * BURST as usize);
        assert_eq!(c.allowed(8), 1);
        // One more upload per window's worth of successes: 1, then 2, then 3 ...
        feed(&c, &[Load::Served], 1);
        assert_eq!(c.allowed(8), 2);
        feed(&c, &[Load::Served], 1);
        assert_eq!(c.allowed(8), 2);
        feed(&c, &[Load::Served], 1);
        assert_eq!(c.allowed(8), 3);
        feed(&c, &[Load::Served], 3 + 4 + 5 + 6 + 7);
        assert_eq!(c.allowed(8), 8);
        assert_eq!(c.lock().window, None);
    }
}
