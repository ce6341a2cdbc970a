//! The watch daemon: keeps sites in step with their folders until stopped.
//!
//! Each site has a worker (`worker`) that turns its folder's changes (`folder`, over `watcher`)
//! into batches (`batch`) and deploy cycles, tries failed ones again as `retry` says
//! (`credentials` tells when a credential file changed), and reports how each ended
//! (`outcome`) on a channel (`report`) instead of writing shared state. A `supervisor` runs the
//! worker and reports and restarts it after a panic; a `poller` reports its store's status.
//!
//! `daemon` is the main loop: one loop over one closed `Event` from `events` (signals, the
//! systemd ticks, the build command of `child`, the sites' reports), whose phase — starting,
//! running, draining — is a field. It starts and stops sites through `sites` (one cancellation
//! token per site, children of the daemon's) and writes every report into the `health` state
//! through the `HealthBook`, the state's only writer, which logs each report after writing it.
//! `systemd`, `endpoints` and `metrics` read the health state.

pub mod batch;
pub mod child;
pub mod credentials;
pub mod daemon;
pub mod endpoints;
pub mod events;
pub mod folder;
pub mod health;
pub mod metrics;
mod outcome;
pub mod poller;
pub mod report;
pub mod retry;
pub mod sites;
pub mod supervisor;
pub mod systemd;
pub mod watcher;
pub mod worker;

/// The next tick of an optional interval; never, when there is none.
async fn next_tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
