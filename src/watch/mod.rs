//! The watch daemon: keeps sites in step with their folders until stopped. `watcher` turns
//! filesystem events into dirty paths, `batch` decides when a cycle is due, `site` runs each
//! site's cycles, `outcome` reports how each ended, `retry` decides when a failed one is tried
//! again (`credentials` tells when a credential file changed), `supervisor` restarts a worker
//! that panicked, `poller` checks each store's status, `daemon` is the main loop (signals,
//! reload, systemd), `child` runs a build command beside it.

pub mod batch;
pub mod child;
pub mod credentials;
pub mod daemon;
pub mod endpoints;
pub mod health;
pub mod metrics;
mod outcome;
pub mod poller;
pub mod retry;
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
