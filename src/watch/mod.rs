//! The watch daemon: keeps sites in step with their folders until stopped. `watcher` turns
//! filesystem events into dirty paths, `batch` decides when a cycle is due, `site` runs each
//! site's cycles, `poller` checks each store's status, `daemon` is the main loop (signals,
//! reload, systemd), `child` runs a build command beside it.

pub mod batch;
pub mod child;
pub mod daemon;
pub mod endpoints;
pub mod health;
pub mod metrics;
pub mod poller;
pub mod site;
pub mod systemd;
pub mod watcher;

/// The next tick of an optional interval; never, when there is none.
async fn next_tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
