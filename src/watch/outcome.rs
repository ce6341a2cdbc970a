//! How a site's cycle ended, and what follows from it: the log line (a permanent failure is
//! reported in full once, then in a short line at each repeat), the health state (`/healthz`,
//! `/status`, the systemd status line) and the site's [`Retry`] state.

use super::credentials::CredentialFiles;
use super::health::Health;
use super::retry::{Failure, Retry};
use super::worker::unix_now;
use tokio::time::Instant;

/// How a cycle ended.
pub enum Outcome {
    /// Nothing was done: the folder is missing or empty.
    NoFolder,
    /// Everything is online.
    Done,
    Failed {
        failure: Failure,
        /// The cause and what to do.
        error: String,
        /// The cause, short.
        cause: String,
    },
}

/// Says how `site`'s cycle ended, in the log and the health state, and notes it in `retry`.
pub fn settle(
    site: &str,
    health: &Health,
    retry: &mut Retry,
    outcome: Outcome,
    credentials: &CredentialFiles,
) {
    let (failure, error, cause) = match outcome {
        Outcome::NoFolder => {
            retry.cancel();
            health.update(site, |h| h.next_retry_unix = None);
            return;
        }
        Outcome::Done => {
            retry.succeeded();
            health.update(site, |h| {
                h.last_error = None;
                h.failure = None;
                h.cause = None;
                h.next_retry_unix = None;
            });
            return;
        }
        Outcome::Failed {
            failure,
            error,
            cause,
        } => (failure, error, cause),
    };
    let decision = retry.failed(failure, &cause, Instant::now());
    let secs = decision.wait.as_secs();
    // The health state first: whoever reads the log line finds the state it reports.
    health.failed(
        site,
        failure.into(),
        error.clone(),
        cause.clone(),
        Some(unix_now() + secs),
    );
    match (failure, decision.repeat) {
        (Failure::Transient, _) => {
            tracing::error!(site = %site, error = %error, "deploy failed; trying again in {secs}s or at the next change");
        }
        (Failure::Permanent, false) => {
            tracing::error!(
                site = %site,
                error = %error,
                "deploy refused, and trying again will not help until something changes; trying again in {secs}s, or at once {}",
                sooner(credentials)
            );
        }
        (Failure::Permanent, true) => {
            tracing::warn!(
                site = %site,
                cause = %cause,
                "deploy still refused the same way; trying again in {secs}s, or at once {}",
                sooner(credentials)
            );
        }
    }
}

/// What makes a site waiting after a permanent failure try again before its time.
fn sooner(credentials: &CredentialFiles) -> String {
    if credentials.is_empty() {
        return "when the site folder changes or on SIGHUP".to_owned();
    }
    let files: Vec<String> = credentials
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "when the site folder or a credential file ({}) changes, or on SIGHUP",
        files.join(", ")
    )
}
