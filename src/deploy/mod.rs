//! The deploy engine: make the store hold what the site folder holds, uploading only what
//! changed, in an order that never shows a visitor a page whose assets are not online yet, and
//! keeping a manifest that never names a file that is not online.
//!
//! scan → stat cache or hash → (remote listing) → plan → uploads by stage → manifest + report.

pub mod plan;
pub mod report;
pub mod upload;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::plan::LocalItem;
use self::report::{PlannedFile, Report};
use self::upload::{UploadError, UploadJob, upload_file};
use crate::config::Site;
use crate::remote::{Remote, RemoteError};
use crate::site::FileStat;
use crate::site::hash::{Hashed, hash_files};
use crate::site::manifest::{Manifest, ManifestError, ManifestStore};
use crate::site::scan::{
    Focus, LocalFile, ScanError, ScanOptions, SkipReason, path_of, scan, scan_within,
};
use crate::site::stage::Stage;

/// Reads in flight while hashing: enough to keep the disk busy (measured: 32 threads hash a
/// 2 GB / 50k-file tree in 1.65 s, 2 threads in 3.8 s).
const HASH_IN_FLIGHT: usize = 32;
/// This many files in a row giving up on a busy or unreachable service stop the deploy: the
/// service is down, and the remaining files would each spend their tries on it too.
const SERVICE_DOWN_STREAK: usize = 16;
/// Save the manifest during a long deploy at least this often…
const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);
/// …or after this many uploads, whichever comes first…
const CHECKPOINT_FILES: usize = 200;
/// …but not more often than this: each save writes the whole manifest, so saving every few
/// hundred files of a fast, large deploy would cost time quadratic in its size.
const CHECKPOINT_GAP: Duration = Duration::from_secs(1);

/// One site to deploy (or plan) once.
#[derive(Debug)]
pub struct Request<'a> {
    pub site: &'a Site,
    pub state_dir: &'a Path,
    pub settings: CycleSettings,
}

/// What stops a deploy as a whole (a single file's failure does not: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(
        "environment {env} has no static website; open one with `tcb-deploy create --env {env}`"
    )]
    NoStore { env: String },
    #[error(
        "{files} files in a row gave up after retries (the last: {last}); the service seems down, try again later"
    )]
    ServiceDown { files: usize, last: String },
    #[error("internal error: {0}")]
    Task(String),
}

impl DeployError {
    /// Whether the next cycle would fail the same way until something outside the folder
    /// changes: the service refused for good (credentials, permissions, a quota, the
    /// configuration), or the environment has no static website.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Remote(e) => e.is_permanent(),
            Self::NoStore { .. } => true,
            Self::Scan(_) | Self::Manifest(_) | Self::ServiceDown { .. } | Self::Task(_) => false,
        }
    }

    /// What went wrong, short and without advice, for a one-line status: the service's
    /// answer rather than what to do about it.
    pub fn cause(&self) -> String {
        match self {
            Self::Remote(e) => e.answer(),
            Self::NoStore { env } => format!("environment {env} has no static website"),
            other => other.to_string(),
        }
    }
}

/// Deploys a site once: one full cycle of a fresh [`SiteDeployer`].
pub async fn deploy(remote: &Remote, request: &Request<'_>) -> Result<Report, DeployError> {
    SiteDeployer::for_request(request)
        .cycle(remote, None, &CancellationToken::new())
        .await
}

/// What [`deploy`] would upload, and why, without uploading or saving anything.
pub async fn plan_only(remote: &Remote, request: &Request<'_>) -> Result<Report, DeployError> {
    SiteDeployer::for_request(request).plan_only(remote).await
}

/// How cycles upload.
#[derive(Clone, Copy, Debug)]
pub struct CycleSettings {
    pub concurrency: usize,
    /// List the store on the first cycle even when a manifest exists.
    pub verify_remote: bool,
}

/// A site kept in step with its folder, cycle after cycle. The manifest is loaded on the first
/// cycle and kept in memory after that, unless the site rests ([`SiteDeployer::rest`]); the
/// store's status is checked on the first cycle.
pub struct SiteDeployer {
    site: Arc<Site>,
    store: Arc<ManifestStore>,
    settings: CycleSettings,
    /// `None` until the first cycle has loaded it, and while the site rests.
    manifest: Option<Manifest>,
    /// Whether a cycle got as far as its plan: the first cycle's checks are done.
    started: bool,
    /// Whether the manifest in memory is the one on disk.
    saved: bool,
    url: Option<String>,
}

impl SiteDeployer {
    pub fn new(site: Arc<Site>, state_dir: &Path, settings: CycleSettings) -> Self {
        SiteDeployer {
            store: Arc::new(ManifestStore::new(state_dir, &site.env, &site.prefix)),
            site,
            settings,
            manifest: None,
            started: false,
            saved: true,
            url: None,
        }
    }

    /// Lets go of the manifest in memory if it is saved; the next cycle loads it again (about
    /// 20 ms for 50,000 files). A daemon calls this when its site has been quiet for a while.
    /// Returns whether the manifest was let go.
    fn for_request(request: &Request<'_>) -> Self {
        let site = Arc::new(request.site.clone());
        SiteDeployer::new(site, request.state_dir, request.settings)
    }

    pub fn rest(&mut self) -> bool {
        if !self.saved || self.manifest.is_none() {
            return false;
        }
        self.manifest = None;
        true
    }

    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }

    /// The site's address, once a cycle has looked it up.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Scans the folder (only the focused paths, once a first cycle has looked at everything)
    /// and uploads what changed. Once `stop` is cancelled no new upload starts; those in flight
    /// finish and are recorded.
    pub async fn cycle(
        &mut self,
        remote: &Remote,
        focus: Option<Focus>,
        stop: &CancellationToken,
    ) -> Result<Report, DeployError> {
        self.run(remote, false, focus, stop).await
    }

    /// What a full cycle would upload, and why: nothing is uploaded or saved.
    pub async fn plan_only(&mut self, remote: &Remote) -> Result<Report, DeployError> {
        self.run(remote, true, None, &CancellationToken::new())
            .await
    }

    async fn run(
        &mut self,
        remote: &Remote,
        dry_run: bool,
        focus: Option<Focus>,
        stop: &CancellationToken,
    ) -> Result<Report, DeployError> {
        let started = Instant::now();
        let site = Arc::clone(&self.site);
        let site = &*site;
        let mut report = Report {
            site: site.name.clone(),
            env: site.env.clone(),
            dry_run,
            ..Report::default()
        };
        let first = !self.started;
        let focus = focus.filter(|_| !first).map(Arc::new);
        let scan_options = ScanOptions {
            root: site.dir.clone(),
            prefix: site.prefix.clone(),
            ignore: site.ignore.clone(),
        };
        // On the first cycle the store's state, the folder and the manifest do not depend on
        // each other: fetch, scan and load them at once.
        let loader = Arc::clone(&self.store);
        let known = self.manifest.take();
        let (store, scanned, manifest) = tokio::try_join!(
            async {
                if !first {
                    return Ok(None);
                }
                match remote.describe_static_store(&site.env).await? {
                    Some(store) => Ok(Some(store)),
                    None => Err(DeployError::NoStore {
                        env: site.env.clone(),
                    }),
                }
            },
            async {
                let focus = focus.clone();
                let scanned = blocking(move || match focus {
                    Some(focus) => scan_within(&scan_options, focus),
                    None => scan(&scan_options),
                })
                .await?
                .map_err(DeployError::from);
                tracing::debug!(ms = elapsed_ms(started), "scanned");
                scanned
            },
            async {
                match known {
                    Some(manifest) => Ok(manifest),
                    None => {
                        let loaded = blocking(move || loader.load()).await?;
                        tracing::debug!(ms = elapsed_ms(started), "manifest loaded");
                        loaded.map_err(DeployError::from)
                    }
                }
            },
        )?;
        if let Some(store) = store {
            if store.status != "online" {
                tracing::warn!(env = %site.env, status = %store.status, "the static website is not online yet");
            }
            self.url = Some(store.url());
        }
        tracing::debug!(
            files = scanned.files.len(),
            focused = focus.is_some(),
            known = manifest.files.len(),
            ms = elapsed_ms(started),
            "scanned and loaded"
        );
        report.url = self.url.clone();
        // A file too large to upload fails the same way on every run: a failure, reported by
        // its key.
        for skipped in &scanned.skipped {
            match (&skipped.reason, &skipped.key) {
                (SkipReason::TooLarge, Some(key)) => report.fail(key, skipped.reason.to_string()),
                _ => report.skipped += 1,
            }
        }

        let local = resolve_digests(site, scanned.files, &manifest, &mut report).await;
        tracing::debug!(ms = elapsed_ms(started), "digests resolved");

        let listing = if first && (manifest.files.is_empty() || self.settings.verify_remote) {
            let prefix = (!site.prefix.is_empty()).then_some(site.prefix.as_str());
            let files = remote.list_files(&site.env, prefix).await?;
            tracing::info!(env = %site.env, files = files.len(), "listed the store");
            Some(
                files
                    .into_iter()
                    .map(|f| (f.key.clone(), f))
                    .collect::<BTreeMap<_, _>>(),
            )
        } else {
            None
        };

        // The manifest becomes the record of this deploy, updated in place.
        let mut record = manifest;
        let in_scope = |key: &str| match &focus {
            Some(focus) => focus.covers(key.strip_prefix(site.prefix.as_str()).unwrap_or(key)),
            None => true,
        };
        let plan = plan::plan(&local, &mut record.files, listing.as_ref(), in_scope);
        drop(listing);
        tracing::debug!(
            uploads = plan.uploads.len(),
            ms = elapsed_ms(started),
            "planned"
        );
        report.unchanged = plan.unchanged;
        report.stale_remote = plan.stale;

        if dry_run {
            report.planned = Some(
                plan.uploads
                    .iter()
                    .map(|u| PlannedFile {
                        path: local[u.local].key.clone(),
                        reason: u.reason,
                        bytes: local[u.local].stat.size,
                    })
                    .collect(),
            );
            self.keep(record, !plan.record_changed);
            report.duration_ms = elapsed_ms(started);
            return Ok(report);
        }

        let forgotten = forget_replaced(&mut record, &local, &plan.uploads, &self.store, first);
        let replaced = match forgotten.await {
            Ok(replaced) => replaced,
            Err(e) => {
                self.keep(record, false);
                return Err(e);
            }
        };
        let dirty = plan.record_changed || replaced;
        let checkpoint = Checkpoint::new(Arc::clone(&self.store), dirty);
        // Room for the keys the uploads will add, made once.
        record
            .files
            .reserve(plan.uploads.iter().map(|u| local[u.local].key.as_str()));
        if first && !plan.uploads.is_empty() {
            // What the full scan and the hashing freed goes back to the system before a deploy
            // that may take minutes. Later (focused) cycles free little.
            crate::memory::release_freed();
        }
        let mut progress = Progress {
            record,
            checkpoint,
            report,
        };
        let result = self
            .upload(remote, &local, &plan.uploads, &mut progress, stop)
            .await;
        let Progress {
            mut record,
            mut checkpoint,
            mut report,
        } = progress;
        let saved = checkpoint.save(&mut record).await;
        self.keep(record, saved.is_ok());
        result?;
        saved?;
        report.duration_ms = elapsed_ms(started);
        Ok(report)
    }

    /// Keeps the manifest a cycle ends with; `saved` says whether it is the one on disk.
    fn keep(&mut self, record: Manifest, saved: bool) {
        self.manifest = Some(record);
        self.started = true;
        self.saved = saved;
    }

    /// Uploads the planned files stage by stage, recording each as it succeeds.
    async fn upload(
        &self,
        remote: &Remote,
        local: &[LocalItem],
        uploads: &[plan::PlannedUpload],
        progress: &mut Progress,
        stop: &CancellationToken,
    ) -> Result<(), DeployError> {
        let site = &*self.site;
        let Progress {
            record,
            checkpoint,
            report,
        } = progress;
        // Held back by failed uploads only: a file that cannot be read or is too large fails
        // the same way on every run, and holding pages back would not bring it online.
        let failed_before = report.failed;
        let mut held_back = false;
        // Files in a row whose every try met a busy or unreachable service.
        let mut gave_up_in_a_row = 0;
        for stage in [Stage::Asset, Stage::Page, Stage::Worker] {
            let keys = uploads
                .iter()
                .filter(|u| u.stage == stage)
                .map(|u| local[u.local].key.as_str());
            if held_back {
                for key in keys {
                    report.fail(
                        key,
                        "held back because files of an earlier stage failed, so that no page references a file that is not online",
                    );
                }
                continue;
            }
            // Keep `concurrency` uploads in flight (fewer while the service is overloaded);
            // once stopping, start nothing new and let those in flight finish. A job (path,
            // headers) exists only while in flight.
            let mut pending = keys;
            let mut in_flight = FuturesUnordered::new();
            let congestion = remote.congestion();
            loop {
                while in_flight.len() < congestion.allowed(self.settings.concurrency)
                    && !stop.is_cancelled()
                {
                    let Some(key) = pending.next() else { break };
                    let job = UploadJob {
                        key,
                        path: path_of(&site.dir, &site.prefix, key),
                        headers: site.headers.for_path(&key[site.prefix.len()..]),
                    };
                    in_flight.push(timed_upload(remote, &site.env, job));
                }
                let Some((job, result, ms)) = in_flight.next().await else {
                    break;
                };
                gave_up_in_a_row = match result {
                    Err(UploadError::GaveUp(_)) => gave_up_in_a_row + 1,
                    _ => 0,
                };
                match result {
                    Ok(done) => {
                        tracing::info!(path = job.key, bytes = done.bytes, ms, "uploaded");
                        report.uploaded += 1;
                        report.bytes_uploaded += done.bytes;
                        record.files.insert(job.key, done.entry);
                        checkpoint.uploaded(record).await?;
                    }
                    Err(UploadError::Vanished) => {
                        tracing::debug!(path = job.key, "vanished before upload");
                        report.skipped += 1;
                    }
                    Err(UploadError::File(error) | UploadError::GaveUp(error)) => {
                        tracing::error!(path = job.key, error, "upload failed");
                        if gave_up_in_a_row >= SERVICE_DOWN_STREAK {
                            return Err(DeployError::ServiceDown {
                                files: gave_up_in_a_row,
                                last: error,
                            });
                        }
                        report.fail(job.key, error);
                    }
                    Err(UploadError::Fatal(e)) => return Err(e.into()),
                }
            }
            if stop.is_cancelled() {
                return Ok(());
            }
            held_back = report.failed > failed_before;
        }
        Ok(())
    }
}

/// Digests of the scanned files, in their (key) order: from the manifest when the stat
/// matches (no read), else by hashing. A file that changes while read is hashed once more; a
/// vanished one is dropped. The keys move from `files` into the items.
async fn resolve_digests(
    site: &Site,
    files: Vec<LocalFile>,
    manifest: &Manifest,
    report: &mut Report,
) -> Vec<LocalItem> {
    let mut local = Vec::with_capacity(files.len());
    let mut to_hash = Vec::new();
    // Both are sorted by key: one merge, no lookups.
    let mut recorded = manifest.files.iter().peekable();
    for (i, f) in files.into_iter().enumerate() {
        while recorded.next_if(|(key, _)| *key < f.key.as_str()).is_some() {}
        let cached = recorded
            .next_if(|(key, _)| *key == f.key)
            .and_then(|(_, entry)| manifest.trusted_digest(entry, &f.stat));
        if cached.is_none() {
            to_hash.push((i, path_of(&site.dir, &site.prefix, &f.key), f.stat));
        }
        // A file to hash holds a placeholder digest until its hash comes back, or is dropped.
        local.push(LocalItem {
            key: f.key,
            stat: f.stat,
            digest: cached.unwrap_or_default(),
        });
    }
    // Items whose digest could not be had: vanished, failed, or still changing.
    let mut dropped = Vec::new();
    for attempt in 0..2 {
        if to_hash.is_empty() {
            break;
        }
        let results = hash_files(std::mem::take(&mut to_hash), HASH_IN_FLIGHT).await;
        for (i, path, result) in results {
            let item = &mut local[i];
            match result {
                Ok(Hashed::Done { digest, stat }) => {
                    item.digest = digest;
                    item.stat = stat;
                }
                Ok(Hashed::Changing) if attempt == 0 => {
                    // Hash it again as it is now, once the others are done.
                    let stat = tokio::fs::metadata(&path)
                        .await
                        .map(|m| FileStat::of(&m))
                        .unwrap_or(item.stat);
                    to_hash.push((i, path, stat));
                }
                Ok(Hashed::Changing) => {
                    report.fail(
                        &item.key,
                        "kept changing while being read; it will be picked up by the next deploy",
                    );
                    dropped.push(i);
                }
                Ok(Hashed::Vanished) => {
                    report.skipped += 1;
                    dropped.push(i);
                }
                Err(e) => {
                    report.fail(&item.key, format!("cannot read {}: {e}", path.display()));
                    dropped.push(i);
                }
            }
        }
    }
    if dropped.is_empty() {
        return local;
    }
    dropped.sort_unstable();
    local
        .into_iter()
        .enumerate()
        .filter(|(i, _)| dropped.binary_search(i).is_err())
        .map(|(_, item)| item)
        .collect()
}

/// Drops the entries of the files about to be replaced, in memory, and notes their keys on disk
/// before the first PUT (true when there were any): should the deploy be killed after a PUT but
/// before the next save, the manifest must not claim the old content is online (a file later
/// reverted to it would then be skipped). With nothing replaced, the first cycle still checks
/// that the manifest can be saved, so that a read-only state folder stops the deploy before its
/// first upload rather than after its last.
async fn forget_replaced(
    record: &mut Manifest,
    local: &[LocalItem],
    uploads: &[plan::PlannedUpload],
    store: &Arc<ManifestStore>,
    first: bool,
) -> Result<bool, DeployError> {
    if uploads.is_empty() {
        return Ok(false);
    }
    let replaced: HashSet<String> = uploads
        .iter()
        .map(|u| local[u.local].key.as_str())
        .filter(|key| record.files.contains_key(key))
        .map(str::to_owned)
        .collect();
    let store = Arc::clone(store);
    if !replaced.is_empty() {
        record.files.retain(|key, _| !replaced.contains(key));
        blocking(move || store.note_replacing(replaced.iter().map(String::as_str))).await??;
        return Ok(true);
    }
    if first {
        blocking(move || store.check_writable()).await??;
    }
    Ok(false)
}

/// One upload, with its job and how long it took.
async fn timed_upload<'j>(
    remote: &Remote,
    env: &str,
    job: UploadJob<'j>,
) -> (UploadJob<'j>, Result<upload::Uploaded, UploadError>, u64) {
    let begun = Instant::now();
    let result = upload_file(remote, env, &job).await;
    (job, result, elapsed_ms(begun))
}

/// What a cycle's uploads update as they complete.
struct Progress {
    record: Manifest,
    checkpoint: Checkpoint,
    report: Report,
}

/// Saves the manifest every few seconds or few hundred uploads, so that a crash re-uploads at
/// most what was in flight since the last save.
struct Checkpoint {
    store: Arc<ManifestStore>,
    last: Instant,
    since: usize,
    dirty: bool,
}

impl Checkpoint {
    fn new(store: Arc<ManifestStore>, dirty: bool) -> Checkpoint {
        Checkpoint {
            store,
            last: Instant::now(),
            since: 0,
            dirty,
        }
    }

    async fn uploaded(&mut self, record: &mut Manifest) -> Result<(), DeployError> {
        self.dirty = true;
        self.since += 1;
        let since_save = self.last.elapsed();
        if (self.since >= CHECKPOINT_FILES && since_save >= CHECKPOINT_GAP)
            || since_save >= CHECKPOINT_EVERY
        {
            self.save(record).await?;
        }
        Ok(())
    }

    async fn save(&mut self, record: &mut Manifest) -> Result<(), DeployError> {
        if !self.dirty {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        let mut taken = std::mem::take(record);
        let (taken, result) = blocking(move || {
            let result = store.save(&mut taken);
            (taken, result)
        })
        .await?;
        *record = taken;
        result?;
        self.dirty = false;
        self.since = 0;
        self.last = Instant::now();
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeployError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DeployError::Task(e.to_string()))
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
