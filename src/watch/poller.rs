//! The status poller: asks for each site's store status every `status_interval` (with jitter, so
//! that many daemons do not call at once) and logs changes; leaving `online` is a warning.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::sync::watch;

use super::health::Health;
use crate::config::Site;
use crate::remote::Remote;

pub async fn poll_status(
    site: Arc<Site>,
    remote: Arc<Remote>,
    interval: Duration,
    health: Health,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: Option<String> = None;
    loop {
        let jitter = rand::rng().random_range(0.9..1.1);
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(interval.mul_f64(jitter)) => {}
        }
        let status = match remote.describe_static_store(&site.env).await {
            Ok(Some(store)) => store.status,
            Ok(None) => "absent".to_owned(),
            Err(e) => {
                tracing::warn!(site = %site.name, error = %e, "could not read the site's status");
                continue;
            }
        };
        if last.as_deref() != Some(status.as_str()) {
            match last.as_deref() {
                Some("online") => {
                    tracing::warn!(site = %site.name, status = %status, "the static website is no longer online")
                }
                Some(previous) => {
                    tracing::info!(site = %site.name, previous, status = %status, "status changed")
                }
                None => tracing::debug!(site = %site.name, status = %status, "status"),
            }
            health.update(&site.name, |h| h.status = Some(status.clone()));
            last = Some(status);
        }
    }
}
