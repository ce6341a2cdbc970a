//! A site kept in step with its folder, cycle after cycle: each cycle gathers its inputs, plans,
//! and applies the plan (or, for `plan`, only reports it). The manifest lives here between
//! cycles, so a watching daemon neither reloads nor re-hashes what it already knows.

use std::path::Path;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{Checkpoint, forget_replaced};
use super::gather::{Inputs, Start, gather};
use super::plan::{self, LocalItem, Plan};
use super::report::{PlannedFile, Report};
use super::run_cache::RunCache;
use super::stages::{Progress, Uploader};
use super::{CycleSettings, DeployError, Request, elapsed_ms};
use crate::config::Site;
use crate::remote::Remote;
use crate::site::manifest::{Manifest, ManifestStore};
use crate::site::scan::Focus;

/// A site kept in step with its folder. The manifest is loaded on the first cycle and kept in
/// memory after that, unless the site rests ([`SiteDeployer::rest`]); the store's status is
/// checked on the first cycle.
pub struct SiteDeployer {
    site: Arc<Site>,
    manifests: Arc<ManifestStore>,
    settings: CycleSettings,
    /// Scans and digests shared with the other sites of a one-shot run.
    cache: Option<Arc<RunCache>>,
    /// `None` until the first cycle has loaded it, and while the site rests.
    manifest: Option<Manifest>,
    /// Whether a cycle got as far as its plan: the first cycle's checks are done.
    started: bool,
    /// Whether the manifest in memory is the one on disk.
    saved: bool,
    url: Option<String>,
}

/// What a cycle does with its plan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Deploy,
    /// Report the plan; upload and save nothing.
    PlanOnly,
}

impl SiteDeployer {
    pub fn new(site: Arc<Site>, state_dir: &Path, settings: CycleSettings) -> Self {
        SiteDeployer {
            manifests: Arc::new(ManifestStore::new(state_dir, &site.env, &site.prefix)),
            site,
            settings,
            cache: None,
            manifest: None,
            started: false,
            saved: true,
            url: None,
        }
    }

    pub(super) fn for_request(request: &Request<'_>) -> Self {
        let site = Arc::new(request.site.clone());
        let mut deployer = SiteDeployer::new(site, request.state_dir, request.settings);
        deployer.cache = request.cache.cloned();
        deployer
    }

    /// Lets go of the manifest in memory if it is saved; the next cycle loads it again (about
    /// 20 ms for 50,000 files). A daemon calls this when its site has been quiet for a while.
    /// Returns whether the manifest was let go.
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
        self.run(remote, Mode::Deploy, focus, stop).await
    }

    /// What a full cycle would upload, and why: nothing is uploaded or saved.
    pub async fn plan_only(&mut self, remote: &Remote) -> Result<Report, DeployError> {
        self.run(remote, Mode::PlanOnly, None, &CancellationToken::new())
            .await
    }

    /// Gather → plan → apply (or report the plan).
    async fn run(
        &mut self,
        remote: &Remote,
        mode: Mode,
        focus: Option<Focus>,
        stop: &CancellationToken,
    ) -> Result<Report, DeployError> {
        let started = Instant::now();
        let connected = remote.connections_opened();
        let site = Arc::clone(&self.site);
        let mut report = Report {
            site: site.name.clone(),
            env: site.env.clone(),
            dry_run: mode == Mode::PlanOnly,
            ..Report::default()
        };
        let first = !self.started;
        let focus = focus.filter(|_| !first).map(Arc::new);
        let start = Start {
            site: &site,
            manifests: &self.manifests,
            first,
            focus: focus.clone(),
            manifest: self.manifest.take(),
            verify_remote: self.settings.verify_remote,
            cache: self.cache.as_deref(),
            started,
        };
        let Inputs {
            store,
            mut manifest,
            local,
            listing,
        } = gather(remote, start, &mut report).await?;
        if let Some(store) = store {
            if store.status != "online" {
                tracing::warn!(env = %site.env, status = %store.status, "the static website is not online yet");
            }
            self.url = Some(store.url());
        }
        report.url = self.url.clone();

        // The manifest goes in as the record of the last deploy and comes out as the one this
        // deploy starts from, updated in place as uploads succeed.
        let in_scope = |key: &str| match &focus {
            Some(focus) => focus.covers(site.relative(key)),
            None => true,
        };
        let mut plan = plan::plan(&local, &mut manifest.files, listing.as_ref(), in_scope);
        drop(listing);
        tracing::debug!(
            uploads = plan.uploads.len(),
            ms = elapsed_ms(started),
            "planned"
        );
        report.unchanged = plan.unchanged;
        report.stale_remote = std::mem::take(&mut plan.stale);

        let mut report = match mode {
            Mode::PlanOnly => {
                report.planned = Some(planned_files(&local, &plan));
                self.keep(manifest, !plan.record_changed);
                report
            }
            Mode::Deploy => {
                self.apply(remote, &local, &plan, manifest, report, stop)
                    .await?
            }
        };
        if mode == Mode::Deploy {
            report.connections = Some(remote.connections_opened() - connected);
        }
        report.duration_ms = elapsed_ms(started);
        Ok(report)
    }

    /// The third step: forgets what is about to be replaced, uploads stage by stage, and saves
    /// the manifest, which is kept whatever happens.
    async fn apply(
        &mut self,
        remote: &Remote,
        local: &[LocalItem],
        plan: &Plan,
        mut manifest: Manifest,
        report: Report,
        stop: &CancellationToken,
    ) -> Result<Report, DeployError> {
        let first = !self.started;
        let forgotten =
            forget_replaced(&mut manifest, local, &plan.uploads, &self.manifests, first);
        let replaced = match forgotten.await {
            Ok(replaced) => replaced,
            Err(e) => {
                self.keep(manifest, false);
                return Err(e);
            }
        };
        let dirty = plan.record_changed || replaced;
        let checkpoint = Checkpoint::new(Arc::clone(&self.manifests), dirty);
        // Room for the keys the uploads will add, made once.
        manifest
            .files
            .reserve(plan.uploads.iter().map(|u| local[u.local].key.as_str()));
        if first && !plan.uploads.is_empty() {
            // What the full scan and the hashing freed goes back to the system before a deploy
            // that may take minutes. Later (focused) cycles free little.
            crate::memory::release_freed();
        }
        let mut progress = Progress::new(manifest, checkpoint, report);
        let uploader = Uploader {
            remote,
            site: &self.site,
            stop,
        };
        let result = uploader.upload(local, &plan.uploads, &mut progress).await;
        let Progress {
            mut manifest,
            mut checkpoint,
            mut report,
            ..
        } = progress;
        report.window = Some(remote.congestion().widest());
        let saved = checkpoint.save(&mut manifest).await;
        self.keep(manifest, saved.is_ok());
        result?;
        saved?;
        Ok(report)
    }

    /// Keeps the manifest a cycle ends with; `saved` says whether it is the one on disk.
    fn keep(&mut self, manifest: Manifest, saved: bool) {
        self.manifest = Some(manifest);
        self.started = true;
        self.saved = saved;
    }
}

/// What `plan` shows: the uploads in upload order, with why and how large.
fn planned_files(local: &[LocalItem], plan: &Plan) -> Vec<PlannedFile> {
    plan.uploads
        .iter()
        .map(|u| PlannedFile {
            path: local[u.local].key.clone(),
            reason: u.reason,
            bytes: local[u.local].stat.size,
        })
        .collect()
}
