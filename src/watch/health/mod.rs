//! What the daemon knows of each site: written by the daemon's loop alone, through its
//! [`HealthBook`] (`book.rs`), and read by the systemd status line, `/healthz`, `/status` and
//! `/metrics`. The writing methods are private to this folder, so nothing else can write it.

mod book;

pub use book::HealthBook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::retry::Failure;

/// A cause in the status line is cut to this many characters.
const SHORT_CAUSE_CHARS: usize = 80;

/// How a site is failing, as `/status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Tried again in 30 s or at the next change.
    Transient,
    /// Tried again after a growing wait, or when a credential file, the folder or SIGHUP
    /// could have fixed it.
    Permanent,
    /// The site's worker panicked; it is restarted after a growing wait.
    Panic,
}

impl From<Failure> for FailureKind {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Transient => Self::Transient,
            Failure::Permanent => Self::Permanent,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SiteHealth {
    pub env: String,
    pub url: Option<String>,
    /// The store's status from the last poll (`online`, `processing`, …).
    pub status: Option<String>,
    /// Unix seconds of the last cycle that uploaded without failures.
    pub last_deploy_unix: Option<u64>,
    pub last_uploaded: usize,
    pub last_failed: usize,
    pub last_bytes: u64,
    /// Why the last cycle failed, with what to do about it.
    pub last_error: Option<String>,
    /// How the last cycle failed (or the worker, when it panicked); `None` after a success.
    pub failure: Option<FailureKind>,
    /// Why, in short and without advice (the service's answer).
    pub cause: Option<String>,
    /// Unix seconds of the next try, when one is scheduled.
    pub next_retry_unix: Option<u64>,
    pub cycles: u64,
    pub cycles_failed: u64,
    pub files_uploaded_total: u64,
    pub bytes_uploaded_total: u64,
    pub upload_failures_total: u64,
    /// The folder is missing or empty: waiting for the build.
    pub waiting_for_folder: bool,
    /// The watcher runs (false: it could not start).
    pub watching: bool,
}

/// Every site's health, by site name.
#[derive(Clone, Debug, Default)]
pub struct Health(Arc<Mutex<BTreeMap<String, SiteHealth>>>);

impl Health {
    /// Every site's state as it is now.
    pub fn snapshot(&self) -> BTreeMap<String, SiteHealth> {
        self.lock().clone()
    }

    /// A health state holding `sites`, for tests of its readers.
    #[cfg(test)]
    pub fn of(sites: impl IntoIterator<Item = (String, SiteHealth)>) -> Health {
        Health(Arc::new(Mutex::new(sites.into_iter().collect())))
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, SiteHealth>> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, site: &str, change: impl FnOnce(&mut SiteHealth)) {
        change(self.lock().entry(site.to_owned()).or_default());
    }

    fn remove(&self, site: &str) {
        self.lock().remove(site);
    }

    /// Notes a failure of `site`: how, why, and when the next try is (unix seconds).
    fn failed(
        &self,
        site: &str,
        failure: FailureKind,
        error: String,
        cause: String,
        next_retry_unix: Option<u64>,
    ) {
        self.update(site, |h| {
            h.last_error = Some(error);
            h.failure = Some(failure);
            h.cause = Some(cause);
            h.next_retry_unix = next_retry_unix;
        });
    }

    /// One line for systemd's STATUS: "2 sites; last deploy 12 files 3 s ago; online".
    pub fn summary(&self, now_unix: u64) -> String {
        let sites = self.lock();
        let mut parts = vec![format!(
            "{} site{}",
            sites.len(),
            if sites.len() == 1 { "" } else { "s" }
        )];
        if let Some(last) = sites
            .values()
            .filter_map(|s| s.last_deploy_unix.map(|t| (t, s)))
            .max_by_key(|(t, _)| *t)
        {
            parts.push(format!(
                "last deploy {} files {} s ago",
                last.1.last_uploaded,
                now_unix.saturating_sub(last.0)
            ));
        }
        let failing: Vec<(&String, &SiteHealth)> = sites
            .iter()
            .filter(|(_, s)| s.last_error.is_some())
            .collect();
        if let Some((name, first)) = failing.first() {
            parts.push(format!(
                "{} failing ({})",
                failing.len(),
                failing_detail(name, first, failing.len() - 1, now_unix)
            ));
        }
        let statuses: std::collections::BTreeSet<&str> =
            sites.values().filter_map(|s| s.status.as_deref()).collect();
        if !statuses.is_empty() {
            parts.push(statuses.into_iter().collect::<Vec<_>>().join("/"));
        }
        parts.join("; ")
    }
}

/// Seconds since the Unix epoch, as the health state counts time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// "www: <cause>; next try in 600 s; and 2 more", one line however long the cause.
fn failing_detail(name: &str, site: &SiteHealth, others: usize, now_unix: u64) -> String {
    let cause = site
        .cause
        .as_deref()
        .or(site.last_error.as_deref())
        .unwrap_or_default();
    let mut detail = format!("{name}: {}", short(cause));
    if let Some(at) = site.next_retry_unix {
        detail.push_str(&format!("; next try in {} s", at.saturating_sub(now_unix)));
    }
    if others > 0 {
        detail.push_str(&format!("; and {others} more"));
    }
    detail
}

/// `text` on one line, cut to [`SHORT_CAUSE_CHARS`].
fn short(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match line.char_indices().nth(SHORT_CAUSE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_like_a_status_line() {
        let health = Health::default();
        health.update("www", |s| {
            s.last_deploy_unix = Some(100);
            s.last_uploaded = 12;
            s.status = Some("online".into());
        });
        health.update("docs", |s| s.status = Some("online".into()));
        assert_eq!(
            health.summary(103),
            "2 sites; last deploy 12 files 3 s ago; online"
        );
        health.update("docs", |s| s.last_error = Some("boom".into()));
        assert_eq!(
            health.summary(103),
            "2 sites; last deploy 12 files 3 s ago; 1 failing (docs: boom); online"
        );
    }

    #[test]
    fn summary_names_a_failing_sites_cause_and_next_try() {
        let health = Health::default();
        health.failed(
            "www",
            FailureKind::Permanent,
            "componenttcb/staticuploadfile answered errcode 61007 (api unauthorized): the merchant has not granted…".into(),
            "componenttcb/staticuploadfile answered errcode 61007 (api unauthorized)".into(),
            Some(700),
        );
        assert_eq!(
            health.summary(100),
            "1 site; 1 failing (www: componenttcb/staticuploadfile answered errcode 61007 (api unauthorized); next try in 600 s)"
        );
        health.failed(
            "docs",
            FailureKind::Transient,
            "x".into(),
            format!("line one\n{}", "y".repeat(200)),
            None,
        );
        let summary = health.summary(100);
        assert!(
            summary.starts_with("2 sites; 2 failing (docs: line one yyy"),
            "{summary}"
        );
        assert!(summary.ends_with("…; and 1 more)"), "{summary}");
        assert!(summary.chars().count() < 140, "{summary}");
    }
}
