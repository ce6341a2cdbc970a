//! The `watch` daemon's timing and its endpoints' address, from the settings.

use std::net::SocketAddr;
use std::time::Duration;

use super::limits::{millis, seconds};
use super::{ConfigError, Settings};

/// Timing of the `watch` daemon.
#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    pub quiet: Duration,
    pub max_wait: Duration,
    pub poll: Option<Duration>,
    pub status_interval: Duration,
    pub stop_grace: Duration,
    /// Where to serve /healthz, /status and /metrics; off when `None`.
    pub metrics_addr: Option<SocketAddr>,
}

impl WatchConfig {
    pub(super) fn from_settings(s: &Settings) -> Result<WatchConfig, ConfigError> {
        Ok(WatchConfig {
            quiet: millis("quiet_ms", s.quiet_ms, 500)?,
            max_wait: millis("max_wait_ms", s.max_wait_ms, 5000)?,
            poll: seconds("poll_secs", s.poll_secs)?,
            status_interval: seconds("status_interval_secs", s.status_interval_secs)?
                .unwrap_or(Duration::from_secs(60)),
            stop_grace: seconds("stop_grace_secs", s.stop_grace_secs)?
                .unwrap_or(Duration::from_secs(30)),
            metrics_addr: match &s.metrics_addr {
                None => None,
                Some(text) => {
                    Some(
                        text.parse::<SocketAddr>()
                            .map_err(|_| ConfigError::Invalid {
                                key: "metrics_addr",
                                value: text.clone(),
                                reason: "expected IP:PORT, e.g. 127.0.0.1:9464".into(),
                            })?,
                    )
                }
            },
        })
    }
}
