//! The status poller: asks for each site's store status every `status_interval` (with jitter, so
//! that many daemons do not call at once) and reports changes to the daemon's loop, which logs
//! them (leaving `online` is a warning) after writing them into the health state.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio_util::sync::CancellationToken;

use super::report::{Report, Reporter};
use crate::config::Site;
use crate::remote::Remote;

/// Polls until `stop` is cancelled (a call in flight ends first) or the loop stops listening.
pub async fn poll_status(
    site: Arc<Site>,
    remote: Arc<Remote>,
    interval: Duration,
    reporter: Reporter,
    stop: CancellationToken,
) {
    let mut last: Option<String> = None;
    loop {
        let jitter = rand::rng().random_range(0.9..1.1);
        tokio::select! {
            _ = stop.cancelled() => return,
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
            last = Some(status.clone());
            if reporter.send(Report::StoreStatus(status)).is_err() {
                return;
            }
        }
    }
}
