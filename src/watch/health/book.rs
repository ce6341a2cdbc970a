//! The daemon's book of its sites: the one writer of the health state. The loop hands it every
//! report of a site's tasks (see `report.rs`) and every site it starts or stops. For each report
//! it writes the state first and then the log line that tells of it, so whoever reads a line
//! and then asks `/status` finds the state the line reports. Logging here rather than in the
//! worker is what makes that hold without the worker waiting for the loop: a worker that logged
//! after sending its report would race the loop writing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{FailureKind, Health, SiteHealth, unix_now};
use crate::watch::report::{CycleEnd, Deployed, Failed, Report, SiteId};
use crate::watch::retry::Failure;

/// A running site, as its reports name it.
#[derive(Debug)]
struct Entry {
    name: String,
    env: String,
}

pub struct HealthBook {
    health: Health,
    sites: BTreeMap<SiteId, Entry>,
    /// What makes a site waiting after a permanent failure try again before its time.
    sooner: String,
}

impl HealthBook {
    /// A book writing into `health`; `credential_files` are those a change of which makes a
    /// failed site try again at once (`Remote::credential_files`).
    pub fn new(health: Health, credential_files: &[PathBuf]) -> HealthBook {
        HealthBook {
            health,
            sites: BTreeMap::new(),
            sooner: sooner(credential_files),
        }
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// A site started: its reports come under `id`.
    pub fn add(&mut self, id: SiteId, name: &str, env: &str) {
        let entry = Entry {
            name: name.to_owned(),
            env: env.to_owned(),
        };
        self.sites.insert(id, entry);
    }

    /// A site stopped: it leaves the health state, and its last reports are let go.
    pub fn remove(&mut self, id: SiteId) {
        if let Some(entry) = self.sites.remove(&id) {
            self.health.remove(&entry.name);
        }
    }

    /// Writes what `report` says of site `id`, then logs it.
    pub fn apply(&self, id: SiteId, report: Report) {
        let Some(Entry { name, env }) = self.sites.get(&id) else {
            tracing::debug!(?report, "a report of a site no longer watched; let go");
            return;
        };
        match report {
            Report::Watching => self.health.update(name, |h| {
                h.env = env.clone();
                h.watching = true;
            }),
            Report::NoFolder { dir } => self.no_folder(name, &dir),
            Report::FolderBack => self.health.update(name, |h| h.waiting_for_folder = false),
            Report::Cycle(end) => self.cycle(name, end),
            Report::Panicked {
                message,
                restart_in,
            } => self.panicked(name, &message, restart_in),
            Report::StoreStatus(status) => self.store_status(name, status),
        }
    }

    fn no_folder(&self, site: &str, dir: &Path) {
        let mut first_notice = false;
        self.health.update(site, |h| {
            first_notice = !h.waiting_for_folder;
            h.waiting_for_folder = true;
            h.next_retry_unix = None;
        });
        if first_notice {
            tracing::info!(site = %site, dir = %dir.display(), "the folder is missing or empty; waiting for the build");
        }
    }

    fn cycle(&self, site: &str, end: CycleEnd) {
        let now = unix_now();
        // One write, so that no reader sees the counts of this cycle with the failure of the
        // last.
        self.health.update(site, |h| {
            h.cycles += 1;
            match &end.deployed {
                Some(deployed) => count(h, deployed, now),
                None => h.cycles_failed += 1,
            }
            h.last_error = end.failed.as_ref().map(|f| f.error.clone());
            h.failure = end.failed.as_ref().map(|f| f.failure.into());
            h.cause = end.failed.as_ref().map(|f| f.cause.clone());
            h.next_retry_unix = end.failed.as_ref().map(|f| now + f.retry_in.as_secs());
        });
        if let Some(deployed) = &end.deployed {
            log_deployed(site, deployed);
        }
        if let Some(failed) = &end.failed {
            self.log_failed(site, failed);
        }
    }

    fn log_failed(&self, site: &str, failed: &Failed) {
        let (error, cause, secs) = (&failed.error, &failed.cause, failed.retry_in.as_secs());
        match (failed.failure, failed.repeat) {
            (Failure::Transient, _) => {
                tracing::error!(site = %site, error = %error, "deploy failed; trying again in {secs}s or at the next change");
            }
            (Failure::Permanent, false) => {
                tracing::error!(
                    site = %site,
                    error = %error,
                    "deploy refused, and trying again will not help until something changes; trying again in {secs}s, or at once {}",
                    self.sooner
                );
            }
            (Failure::Permanent, true) => {
                tracing::warn!(
                    site = %site,
                    cause = %cause,
                    "deploy still refused the same way; trying again in {secs}s, or at once {}",
                    self.sooner
                );
            }
        }
    }

    fn panicked(&self, site: &str, message: &str, restart_in: Duration) {
        self.health.failed(
            site,
            FailureKind::Panic,
            format!("the worker panicked ({message}); restarting it"),
            format!("worker panicked: {message}"),
            Some(unix_now() + restart_in.as_secs()),
        );
        tracing::error!(
            site = %site,
            panic = %message,
            "the site's worker panicked (a bug; please report it); starting it again in {}s",
            restart_in.as_secs()
        );
    }

    fn store_status(&self, site: &str, status: String) {
        let mut previous = None;
        self.health
            .update(site, |h| previous = h.status.replace(status.clone()));
        match previous.as_deref() {
            Some(same) if same == status => {}
            Some("online") => {
                tracing::warn!(site = %site, status = %status, "the static website is no longer online")
            }
            Some(previous) => {
                tracing::info!(site = %site, previous, status = %status, "status changed")
            }
            None => tracing::debug!(site = %site, status = %status, "status"),
        }
    }
}

/// Adds what a cycle uploaded at `now` (unix seconds) to the site's counts.
fn count(h: &mut SiteHealth, deployed: &Deployed, now: u64) {
    h.files_uploaded_total += deployed.uploaded as u64;
    h.bytes_uploaded_total += deployed.bytes;
    h.upload_failures_total += deployed.failed as u64;
    h.url.clone_from(&deployed.url);
    if deployed.failed == 0 && (deployed.uploaded > 0 || h.last_deploy_unix.is_none()) {
        h.last_deploy_unix = Some(now);
        h.last_uploaded = deployed.uploaded;
        h.last_bytes = deployed.bytes;
    }
    h.last_failed = deployed.failed;
}

fn log_deployed(site: &str, deployed: &Deployed) {
    let url = deployed.url.as_deref().unwrap_or_default();
    if deployed.uploaded > 0 || deployed.failed > 0 {
        tracing::info!(
            site = %site,
            uploaded = deployed.uploaded,
            unchanged = deployed.unchanged,
            failed = deployed.failed,
            stale = deployed.stale,
            ms = deployed.ms,
            url = %url,
            "deployed"
        );
    } else {
        tracing::debug!(site = %site, url = %url, "nothing to deploy");
    }
}

/// What makes a site waiting after a permanent failure try again before its time.
fn sooner(credential_files: &[PathBuf]) -> String {
    if credential_files.is_empty() {
        return "when the site folder changes or on SIGHUP".to_owned();
    }
    let files: Vec<String> = credential_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "when the site folder or a credential file ({}) changes, or on SIGHUP",
        files.join(", ")
    )
}

#[cfg(test)]
mod tests;
