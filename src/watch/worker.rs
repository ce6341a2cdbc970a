//! One site's worker: watches its folder, gathers events into batches, and runs a deploy cycle
//! when a batch is due. Events that arrive during a cycle make one follow-up cycle, not one per
//! event. A missing or empty folder is waited for, never deployed as final. A failed cycle is
//! tried again as `retry` says; while a permanent failure waits, the credential files are
//! looked at every couple of seconds, and a change in one (or SIGHUP's nudge) tries again at once.
//!
//! The worker writes no shared state. It reports how each cycle ended to the daemon's loop
//! (`report.rs`), and returns only when it ends: `Ok(())` once its site's token is cancelled
//! (after the cycle in flight, which starts no new upload from then on), or a
//! [`CriticalError`] when it cannot go on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, Interval, sleep_until};
use tokio_util::sync::CancellationToken;

use super::batch::{Batch, Timing};
use super::credentials::{self, CredentialFiles};
use super::folder::Folder;
use super::outcome::{Outcome, settle};
use super::report::{CriticalError, Deployed, Report, Reporter};
use super::retry::{Failure, Retry};
use crate::config::Site;
use crate::deploy::{CycleSettings, SiteDeployer};
use crate::remote::Remote;
use crate::site::scan::Focus;

/// A site with no change for this long lets go of its manifest in memory until the next one:
/// an idle daemon watching many files holds little memory.
const REST_AFTER: Duration = Duration::from_secs(10);

pub struct SiteWorker {
    pub site: Arc<Site>,
    pub remote: Arc<Remote>,
    pub state_dir: PathBuf,
    pub settings: CycleSettings,
    pub timing: Timing,
    pub poll: Option<Duration>,
    /// Cancelled when the site stops: no new upload starts, and the worker ends after its
    /// cycle in flight.
    pub stop: CancellationToken,
    /// Notified at SIGHUP: a failed cycle is tried again now.
    pub nudge: Arc<Notify>,
    pub reporter: Reporter,
}

/// What the worker keeps between cycles.
struct Cycles {
    deployer: SiteDeployer,
    retry: Retry,
    credentials: CredentialFiles,
    /// The last look found the folder missing or empty (or there was none yet): the next
    /// cycle that finds it says it is back.
    missing: bool,
}

impl SiteWorker {
    pub async fn run(self) -> Result<(), CriticalError> {
        let name = self.site.name.clone();
        let mut folder = Folder::start(&self.site, self.poll);
        self.reporter.send(Report::Watching)?;
        let mut cycles = Cycles {
            deployer: SiteDeployer::new(Arc::clone(&self.site), &self.state_dir, self.settings),
            retry: Retry::default(),
            credentials: CredentialFiles::new(self.remote.credential_files()),
            missing: true,
        };
        let mut credential_check: Option<Interval> = None;
        self.cycle(&mut cycles, &folder, None).await?;
        let mut rest_at = Some(Instant::now() + REST_AFTER);
        let mut batch = Batch::default();
        loop {
            let pending = batch.deadline(self.timing);
            let due = match (pending, cycles.retry.due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // The credential files are looked at only while a change in them could help.
            if cycles.retry.waits_for_a_fix() && !cycles.credentials.is_empty() {
                credential_check.get_or_insert_with(|| {
                    let every = credentials::CHECK_EVERY;
                    tokio::time::interval_at(Instant::now() + every, every)
                });
            } else {
                credential_check = None;
            }
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                _ = self.nudge.notified() => {
                    if cycles.retry.hasten(Instant::now()) {
                        tracing::info!(site = %name, "SIGHUP: trying again now");
                    }
                }
                _ = super::next_tick(&mut credential_check) => {
                    if cycles.credentials.changed() && cycles.retry.hasten(Instant::now()) {
                        tracing::info!(site = %name, "a credential file changed; trying again now");
                    }
                }
                change = folder.next_change() => folder.note(change, &mut batch),
                // Not while a batch gathers; a retry far off (after a permanent failure) is no
                // reason to hold the manifest.
                _ = sleep_until(rest_at.unwrap_or_else(Instant::now)), if rest_at.is_some() && pending.is_none() => {
                    rest_at = None;
                    if cycles.deployer.rest() {
                        tracing::debug!(site = %name, "resting: the manifest is out of memory until the next change");
                    }
                    // A daemon spends far longer idle than deploying: it should not hold on to
                    // what its last cycle needed.
                    crate::memory::release_freed();
                }
                _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let focus = folder.take(&mut batch);
                    // A retry looks at everything: what failed is not dirty any more.
                    let focus = focus.filter(|_| cycles.retry.due().is_none());
                    cycles.credentials.mark();
                    self.cycle(&mut cycles, &folder, focus).await?;
                    rest_at = Some(Instant::now() + REST_AFTER);
                }
            }
        }
        tracing::debug!(site = %name, "worker stopped");
        Ok(())
    }

    /// Runs one cycle unless the folder is missing or empty, and reports how it ended.
    async fn cycle(
        &self,
        cycles: &mut Cycles,
        folder: &Folder,
        focus: Option<Focus>,
    ) -> Result<(), CriticalError> {
        let outcome = if folder.has_entries() {
            if std::mem::take(&mut cycles.missing) {
                self.reporter.send(Report::FolderBack)?;
            }
            self.deploy(&mut cycles.deployer, focus).await
        } else {
            cycles.missing = true;
            Outcome::NoFolder {
                dir: folder.dir().to_owned(),
            }
        };
        let report = settle(&mut cycles.retry, outcome, Instant::now());
        self.reporter.send(report)
    }

    async fn deploy(&self, deployer: &mut SiteDeployer, focus: Option<Focus>) -> Outcome {
        match deployer.cycle(&self.remote, focus, &self.stop).await {
            Ok(report) => Outcome::Deployed(Deployed {
                uploaded: report.uploaded,
                unchanged: report.unchanged,
                failed: report.failed,
                stale: report.stale_remote.len(),
                bytes: report.bytes_uploaded,
                ms: report.duration_ms,
                url: deployer.url().map(str::to_owned),
            }),
            Err(e) => Outcome::Failed {
                failure: if e.is_permanent() {
                    Failure::Permanent
                } else {
                    Failure::Transient
                },
                error: e.to_string(),
                cause: e.cause(),
            },
        }
    }
}
