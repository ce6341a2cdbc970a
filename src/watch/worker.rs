//! One site's worker: watches its folder, gathers events into batches, and runs a deploy cycle
//! when a batch is due. Events that arrive during a cycle make one follow-up cycle, not one per
//! event. A missing or empty folder is waited for, never deployed as final. A failed cycle is
//! tried again as `retry` says; while a permanent failure waits, the credential files are
//! looked at every couple of seconds, and a change in one (or SIGHUP) tries again at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Interval, sleep_until};
use tokio_util::sync::CancellationToken;

use super::batch::{Batch, Dirty, Timing};
use super::credentials::{self, CredentialFiles};
use super::health::Health;
use super::outcome::{Outcome, settle};
use super::retry::{Failure, Retry};
use super::watcher::{FsEvent, SiteWatcher};
use crate::config::Site;
use crate::deploy::{CycleSettings, SiteDeployer};
use crate::remote::Remote;
use crate::site::scan::{Focus, IGNORE_FILE_NAME, IgnoreRules, ScanOptions};

/// How often to rescan when inotify cannot watch the folder and no `--poll` was given.
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// Events buffered between the watcher and the worker; past that the site is rescanned.
const EVENT_BUFFER: usize = 4096;
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
    /// Set when the daemon stops: no new upload starts.
    pub stop: CancellationToken,
    /// Turns true when the worker must end (after its cycle in flight).
    pub shutdown: watch::Receiver<bool>,
    /// Changes at SIGHUP: a failed cycle is tried again now.
    pub nudge: watch::Receiver<()>,
    pub health: Health,
    /// Told when the initial deploy is done.
    pub ready: Option<oneshot::Sender<()>>,
}

impl SiteWorker {
    pub async fn run(mut self) {
        let name = self.site.name.clone();
        let dir = std::path::absolute(&self.site.dir).unwrap_or_else(|_| self.site.dir.clone());
        let (events_tx, mut events) = mpsc::channel(EVENT_BUFFER);
        let overflow = Arc::new(AtomicBool::new(false));
        // Polling (asked for, or because inotify cannot watch this tree) is a rescan on a
        // timer; the stat cache makes it cheap.
        let mut watcher = None;
        let mut polling = self.poll;
        if polling.is_none() {
            match SiteWatcher::start(&dir, events_tx, Arc::clone(&overflow)) {
                Ok(w) => watcher = Some(w),
                Err(e) if e.limit_reached => {
                    tracing::error!(
                        site = %name,
                        "inotify ran out of watches (fs.inotify.max_user_watches); polling every {}s instead. Raise the limit with `sysctl fs.inotify.max_user_watches=524288` and persist it in /etc/sysctl.d/",
                        FALLBACK_POLL.as_secs()
                    );
                    polling = Some(FALLBACK_POLL);
                }
                Err(e) => {
                    tracing::error!(site = %name, error = %e, "cannot watch the folder; polling every {}s instead", FALLBACK_POLL.as_secs());
                    polling = Some(FALLBACK_POLL);
                }
            }
        }
        let mut poll_tick = polling.map(|every| {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        });
        self.health.update(&name, |h| {
            h.env = self.site.env.clone();
            h.watching = true;
        });
        let scan_options = ScanOptions {
            root: dir.clone(),
            prefix: self.site.prefix.clone(),
            ignore: self.site.ignore.clone(),
        };
        let mut rules = IgnoreRules::load(&scan_options).ok();
        let mut deployer =
            SiteDeployer::new(Arc::clone(&self.site), &self.state_dir, self.settings);

        let mut retry = Retry::default();
        let mut credentials = CredentialFiles::new(self.remote.credential_files());
        let mut credential_check: Option<Interval> = None;
        let outcome = self.cycle(&mut deployer, &dir, None).await;
        settle(&name, &self.health, &mut retry, outcome, &credentials);
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        let mut rest_at = Some(Instant::now() + REST_AFTER);
        let mut batch = Batch::default();
        loop {
            let pending = batch.deadline(self.timing);
            let due = match (pending, retry.due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // The credential files are looked at only while a change in them could help.
            if retry.waits_for_a_fix() && !credentials.is_empty() {
                credential_check.get_or_insert_with(|| {
                    let every = credentials::CHECK_EVERY;
                    tokio::time::interval_at(Instant::now() + every, every)
                });
            } else {
                credential_check = None;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => break,
                Ok(()) = self.nudge.changed() => {
                    if retry.hasten(Instant::now()) {
                        tracing::info!(site = %name, "SIGHUP: trying again now");
                    }
                }
                _ = super::next_tick(&mut credential_check) => {
                    if credentials.changed() && retry.hasten(Instant::now()) {
                        tracing::info!(site = %name, "a credential file changed; trying again now");
                    }
                }
                event = events.recv() => match event {
                    None => break,
                    Some(FsEvent::Rescan) => batch.add_rescan(Instant::now()),
                    Some(FsEvent::Paths(paths)) => {
                        if paths.iter().any(|p| p == &dir) {
                            // The folder itself came or went: watch it anew, look at everything.
                            if let Some(w) = watcher.as_mut()
                                && let Err(e) = w.attach()
                            {
                                tracing::debug!(site = %name, error = %e, "folder not watchable yet");
                            }
                            batch.add_rescan(Instant::now());
                        } else {
                            let kept: Vec<PathBuf> = paths
                                .into_iter()
                                .filter(|p| !ignored(rules.as_ref(), &dir, p))
                                .collect();
                            if !kept.is_empty() {
                                batch.add(Instant::now(), kept);
                            }
                        }
                    }
                },
                _ = super::next_tick(&mut poll_tick) => batch.add_rescan(Instant::now()),
                // Not while a batch gathers; a retry far off (after a permanent failure) is no
                // reason to hold the manifest.
                _ = sleep_until(rest_at.unwrap_or_else(Instant::now)), if rest_at.is_some() && pending.is_none() => {
                    rest_at = None;
                    if deployer.rest() {
                        tracing::debug!(site = %name, "resting: the manifest is out of memory until the next change");
                    }
                    // A daemon spends far longer idle than deploying: it should not hold on to
                    // what its last cycle needed.
                    crate::memory::release_freed();
                }
                _ = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    if overflow.swap(false, Ordering::SeqCst) {
                        batch.add_rescan(Instant::now());
                    }
                    let dirty = batch.take();
                    tracing::debug!(site = %name, paths = dirty.paths.len(), rescan = dirty.rescan, "cycle due");
                    let focus = focus_of(&dirty, &dir);
                    if focus.is_none() {
                        // The root `.deployignore` may have changed: the rules events pass by.
                        rules = IgnoreRules::load(&scan_options).ok();
                    }
                    // A retry looks at everything: what failed is not dirty any more.
                    let focus = focus.filter(|_| retry.due().is_none());
                    credentials.mark();
                    let outcome = self.cycle(&mut deployer, &dir, focus).await;
                    settle(&name, &self.health, &mut retry, outcome, &credentials);
                    rest_at = Some(Instant::now() + REST_AFTER);
                }
            }
        }
        tracing::debug!(site = %name, "worker stopped");
    }

    /// Runs one cycle unless the folder is missing or empty.
    async fn cycle(
        &self,
        deployer: &mut SiteDeployer,
        dir: &Path,
        focus: Option<Focus>,
    ) -> Outcome {
        let name = &self.site.name;
        if !has_entries(dir) {
            let first_notice = self
                .health
                .lock()
                .get(name)
                .is_none_or(|h| !h.waiting_for_folder);
            if first_notice {
                tracing::info!(site = %name, dir = %dir.display(), "the folder is missing or empty; waiting for the build");
            }
            self.health.update(name, |h| h.waiting_for_folder = true);
            return Outcome::NoFolder;
        }
        self.health.update(name, |h| h.waiting_for_folder = false);
        let result = deployer.cycle(&self.remote, focus, &self.stop).await;
        let now_unix = unix_now();
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                self.health.update(name, |h| {
                    h.cycles += 1;
                    h.cycles_failed += 1;
                });
                let failure = if e.is_permanent() {
                    Failure::Permanent
                } else {
                    Failure::Transient
                };
                return Outcome::Failed {
                    failure,
                    error: e.to_string(),
                    cause: e.cause(),
                };
            }
        };
        let url = deployer.url().unwrap_or_default().to_owned();
        if report.uploaded > 0 || report.failed > 0 {
            tracing::info!(
                site = %name,
                uploaded = report.uploaded,
                unchanged = report.unchanged,
                failed = report.failed,
                stale = report.stale_remote.len(),
                ms = report.duration_ms,
                url = %url,
                "deployed"
            );
        } else {
            tracing::debug!(site = %name, url = %url, "nothing to deploy");
        }
        self.health.update(name, |h| {
            h.cycles += 1;
            h.files_uploaded_total += report.uploaded as u64;
            h.bytes_uploaded_total += report.bytes_uploaded;
            h.upload_failures_total += report.failed as u64;
            h.url = deployer.url().map(str::to_owned);
            if report.failed == 0 && (report.uploaded > 0 || h.last_deploy_unix.is_none()) {
                h.last_deploy_unix = Some(now_unix);
                h.last_uploaded = report.uploaded;
                h.last_bytes = report.bytes_uploaded;
            }
            h.last_failed = report.failed;
        });
        if report.failed == 0 {
            return Outcome::Done;
        }
        let error = format!("{} files failed", report.failed);
        Outcome::Failed {
            failure: Failure::Transient,
            cause: error.clone(),
            error,
        }
    }
}

/// Whether an event on `path` can be let go: the path is excluded. A `.deployignore` is
/// excluded from deploys but changes what is deployed, so its events count.
fn ignored(rules: Option<&IgnoreRules>, dir: &Path, path: &Path) -> bool {
    if path.file_name() == Some(IGNORE_FILE_NAME.as_ref()) {
        return false;
    }
    match (rules, path.strip_prefix(dir)) {
        (Some(rules), Ok(relative)) => rules.is_ignored(relative, path.is_dir()),
        _ => false,
    }
}

/// The paths a cycle needs to look at, relative to the site folder, or `None` for everything:
/// after a rescan, for a name that is not UTF-8, and for the root's `.deployignore`, which
/// changes every rule. A subfolder's `.deployignore` changes its folder: the folder is looked at.
fn focus_of(dirty: &Dirty, dir: &Path) -> Option<Focus> {
    if dirty.rescan {
        return None;
    }
    let mut paths = Vec::with_capacity(dirty.paths.len());
    for path in &dirty.paths {
        let relative = path.strip_prefix(dir).ok()?.to_str()?;
        let relative = match relative.strip_suffix(IGNORE_FILE_NAME) {
            Some(folder) if folder.is_empty() || folder.ends_with('/') => folder,
            _ => relative,
        };
        paths.push(relative.to_owned());
    }
    Focus::new(&paths)
}

fn has_entries(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
