//! The numbers a config may set and their bounds: uploads in flight, tries per call and file,
//! the API call rate, timeouts, and the `*_secs` and `*_ms` durations.

use std::time::Duration;

use super::{ConfigError, Settings};
use crate::api::Timeouts;
use crate::congestion::Limit;
use crate::remote::Pacing;
use crate::retry::RetryPolicy;

/// The most tries per call or file that may be asked for.
pub const MAX_RETRY_ATTEMPTS: u32 = 20;
/// The most uploads in flight at once when nothing else says: enough for a 200 ms path (a CI
/// runner far from the service), where one upload (a link call and a PUT) takes 400 ms.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// The most uploads in flight that may be asked for.
pub const MAX_CONCURRENCY: usize = 256;
/// The longest time a `*_secs` or `*_ms` key may set: a year, far beyond any useful value, so
/// that a deadline computed from one (now + `poll_secs`) cannot overflow the clock.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The connect and request timeouts; the idle one is not configurable.
pub(super) fn timeouts(s: &Settings) -> Result<Timeouts, ConfigError> {
    let defaults = Timeouts::default();
    Ok(Timeouts {
        connect: seconds("connect_timeout_secs", s.connect_timeout_secs)?
            .unwrap_or(defaults.connect),
        request: seconds("request_timeout_secs", s.request_timeout_secs)?
            .unwrap_or(defaults.request),
        idle: defaults.idle,
    })
}

/// The upload window: adaptive up to `concurrency`, or fixed there.
pub(super) fn window(concurrency: usize, fixed: Option<bool>) -> Limit {
    match fixed {
        Some(true) => Limit::Fixed(concurrency),
        _ => Limit::Adaptive(concurrency),
    }
}

/// The most uploads in flight at once, 1 to [`MAX_CONCURRENCY`].
pub(super) fn concurrency(value: Option<u32>) -> Result<usize, ConfigError> {
    match value {
        None => Ok(DEFAULT_CONCURRENCY),
        Some(n) if (1..=MAX_CONCURRENCY).contains(&(n as usize)) => Ok(n as usize),
        Some(n) => Err(ConfigError::Invalid {
            key: "concurrency",
            value: n.to_string(),
            reason: format!("must be between 1 and {MAX_CONCURRENCY}"),
        }),
    }
}

/// Tries per call and per file (`retry_attempts`), and the API call rate (`api_rate_limit`).
pub(super) fn pacing(
    attempts: Option<u32>,
    rate: Option<f64>,
    uploads: Limit,
) -> Result<Pacing, ConfigError> {
    let mut retry = RetryPolicy::default();
    match attempts {
        None => {}
        Some(n @ 1..=MAX_RETRY_ATTEMPTS) => retry.attempts = n,
        Some(n) => {
            return Err(ConfigError::Invalid {
                key: "retry_attempts",
                value: n.to_string(),
                reason: format!("must be between 1 and {MAX_RETRY_ATTEMPTS}"),
            });
        }
    }
    let rate_limit = match rate {
        None => None,
        Some(r) if r.is_finite() && r >= 0.01 => Some(r),
        Some(r) => {
            return Err(ConfigError::Invalid {
                key: "api_rate_limit",
                value: r.to_string(),
                reason: "must be a number of calls per second of at least 0.01; leave it out for no limit".into(),
            });
        }
    };
    Ok(Pacing {
        retry,
        rate_limit,
        uploads,
    })
}

/// A `*_secs` key: at least a second, at most [`MAX_DURATION`].
pub(super) fn seconds(
    key: &'static str,
    value: Option<u64>,
) -> Result<Option<Duration>, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Invalid {
            key,
            value: "0".into(),
            reason: "must be at least 1 second".into(),
        }),
        Some(secs) if secs > MAX_DURATION.as_secs() => {
            Err(too_long(key, secs, MAX_DURATION.as_secs().into()))
        }
        other => Ok(other.map(Duration::from_secs)),
    }
}

/// A `*_ms` key: at least a millisecond, at most [`MAX_DURATION`]; `default` when unset.
pub(super) fn millis(
    key: &'static str,
    value: Option<u64>,
    default: u64,
) -> Result<Duration, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Invalid {
            key,
            value: "0".into(),
            reason: "must be at least 1".into(),
        }),
        Some(ms) if u128::from(ms) > MAX_DURATION.as_millis() => {
            Err(too_long(key, ms, MAX_DURATION.as_millis()))
        }
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Ok(Duration::from_millis(default)),
    }
}

fn too_long(key: &'static str, value: u64, max: u128) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: format!("must be at most {max} (a year)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

    #[test]
    fn concurrency_is_bounded() {
        assert!(load(&[("TCB_CONCURRENCY", "0")]).is_err());
        assert!(load(&[("TCB_CONCURRENCY", "257")]).is_err());
        let window = |vars: &[(&str, &str)]| load(vars).unwrap().pacing.uploads;
        assert_eq!(window(&[("TCB_CONCURRENCY", "16")]), Limit::Adaptive(16));
        assert_eq!(window(&[]), Limit::Adaptive(DEFAULT_CONCURRENCY));
        let pinned = [("TCB_CONCURRENCY", "16"), ("TCB_FIXED_CONCURRENCY", "true")];
        assert_eq!(window(&pinned), Limit::Fixed(16));
    }

    /// `poll_secs = 9223372036854775807` was accepted, and the watch daemon panicked adding it
    /// to the present ("overflow when adding duration to instant").
    #[test]
    fn durations_beyond_a_year_are_refused() {
        let err = load(&[("TCB_POLL_SECS", "9223372036854775807")]).unwrap_err();
        assert!(err.to_string().contains("at most 31536000"), "{err}");
        assert!(load(&[("TCB_STOP_GRACE_SECS", "31536001")]).is_err());
        assert!(load(&[("TCB_QUIET_MS", "31536000001")]).is_err());
        let config = load(&[
            ("TCB_STATUS_INTERVAL_SECS", "31536000"),
            ("TCB_MAX_WAIT_MS", "31536000000"),
        ])
        .unwrap();
        assert_eq!(config.watch.status_interval, MAX_DURATION);
        assert_eq!(config.watch.max_wait, MAX_DURATION);
    }
}
