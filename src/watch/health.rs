//! What the daemon knows of each site, shared by the site workers (which write it) and the
//! systemd status line and health endpoints (which read it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

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
    pub last_error: Option<String>,
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
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<String, SiteHealth>> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn update(&self, site: &str, change: impl FnOnce(&mut SiteHealth)) {
        change(self.lock().entry(site.to_owned()).or_default());
    }

    pub fn remove(&self, site: &str) {
        self.lock().remove(site);
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
        let failing = sites.values().filter(|s| s.last_error.is_some()).count();
        if failing > 0 {
            parts.push(format!("{failing} failing"));
        }
        let statuses: std::collections::BTreeSet<&str> =
            sites.values().filter_map(|s| s.status.as_deref()).collect();
        if !statuses.is_empty() {
            parts.push(statuses.into_iter().collect::<Vec<_>>().join("/"));
        }
        parts.join("; ")
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
        assert!(health.summary(103).contains("1 failing"));
    }
}
