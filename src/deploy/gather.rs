//! The first step of a cycle: everything the plan is a function of. On a first cycle the
//! store's state, the folder, the manifest and (with no manifest, or `--verify-remote`) the
//! store's listing do not depend on each other, so they are fetched, scanned, loaded and listed
//! at once; then the digests (from the manifest, or by hashing).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::time::Instant;

use super::digests::resolve_digests;
use super::plan::LocalItem;
use super::report::Report;
use super::run_cache::RunCache;
use super::{DeployError, blocking, elapsed_ms};
use crate::api::{RemoteFile, StaticStore};
use crate::config::Site;
use crate::remote::Remote;
use crate::site::manifest::{Manifest, ManifestStore};
use crate::site::scan::{Focus, Scan, ScanOptions, SkipReason, scan, scan_within};

/// What a cycle starts from.
pub(super) struct Start<'a> {
    pub site: &'a Site,
    pub manifests: &'a Arc<ManifestStore>,
    /// The first cycle also describes the store, and may list it.
    pub first: bool,
    /// Only these paths changed (a later watch cycle); `None` looks at everything.
    pub focus: Option<Arc<Focus>>,
    /// The manifest kept in memory by the last cycle; loaded from disk when `None`.
    pub manifest: Option<Manifest>,
    /// List the store even when a manifest exists.
    pub verify_remote: bool,
    /// Scans and digests shared with the other sites of the run.
    pub cache: Option<&'a RunCache>,
    pub started: Instant,
}

/// What the plan is made from.
pub(super) struct Inputs {
    /// The store's state, on a first cycle.
    pub store: Option<StaticStore>,
    pub manifest: Manifest,
    /// The folder's files with their digests, sorted by key.
    pub local: Vec<LocalItem>,
    /// The store's files under the site's prefix, by key, when it was listed.
    pub listing: Option<BTreeMap<String, RemoteFile>>,
}

/// Gathers a cycle's inputs. Files that cannot be deployed (too large, unreadable, changing
/// while read) go into `report` as they are found.
pub(super) async fn gather(
    remote: &Remote,
    start: Start<'_>,
    report: &mut Report,
) -> Result<Inputs, DeployError> {
    let Start {
        site,
        manifests,
        first,
        focus,
        manifest,
        verify_remote,
        cache,
        started,
    } = start;
    // A first cycle with no manifest on disk lists the store too, at once: on a runner far
    // from the service, that is one round trip less before the first upload.
    let list_now = first && (verify_remote || !manifests.path().exists());
    let (store, scanned, manifest, listed) = tokio::join!(
        describe(remote, site, first),
        scan_folder(site, focus.clone(), cache, started),
        load(manifests, manifest, started),
        async {
            if list_now {
                list(remote, site).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    // In this order: a store that does not exist explains a listing that failed.
    let (store, scanned, manifest, listed) = (store?, scanned?, manifest?, listed?);
    tracing::debug!(
        files = scanned.files.len(),
        focused = focus.is_some(),
        known = manifest.files.len(),
        ms = elapsed_ms(started),
        "scanned and loaded"
    );
    // A file too large to upload fails the same way on every run: a failure, reported by
    // its key.
    for skipped in &scanned.skipped {
        match (&skipped.reason, &skipped.key) {
            (SkipReason::TooLarge, Some(key)) => report.fail(key, skipped.reason.to_string()),
            _ => report.skipped += 1,
        }
    }
    let local = resolve_digests(site, scanned.files, &manifest, cache, report).await;
    tracing::debug!(ms = elapsed_ms(started), "digests resolved");
    let listing = match listed {
        Some(listing) => Some(listing),
        // An unusable manifest was moved aside and reads as empty: list after all.
        None if first && manifest.files.is_empty() => Some(list(remote, site).await?),
        None => None,
    };
    Ok(Inputs {
        store,
        manifest,
        local,
        listing,
    })
}

/// The store's state, on a first cycle; an environment without one stops the deploy.
async fn describe(
    remote: &Remote,
    site: &Site,
    first: bool,
) -> Result<Option<StaticStore>, DeployError> {
    if !first {
        return Ok(None);
    }
    match remote.describe_static_store(&site.env).await? {
        Some(store) => Ok(Some(store)),
        None => Err(DeployError::NoStore {
            env: site.env.clone(),
        }),
    }
}

async fn scan_folder(
    site: &Site,
    focus: Option<Arc<Focus>>,
    cache: Option<&RunCache>,
    started: Instant,
) -> Result<Scan, DeployError> {
    let options = ScanOptions {
        root: site.dir.clone(),
        prefix: site.prefix.clone(),
        ignore: site.ignore.clone(),
    };
    let scanned = match (focus, cache) {
        (None, Some(cache)) => cache.scan(options).await?,
        (focus, _) => {
            blocking(move || match focus {
                Some(focus) => scan_within(&options, focus),
                None => scan(&options),
            })
            .await??
        }
    };
    tracing::debug!(ms = elapsed_ms(started), "scanned");
    Ok(scanned)
}

async fn load(
    manifests: &Arc<ManifestStore>,
    held: Option<Manifest>,
    started: Instant,
) -> Result<Manifest, DeployError> {
    if let Some(manifest) = held {
        return Ok(manifest);
    }
    let manifests = Arc::clone(manifests);
    let loaded = blocking(move || manifests.load()).await?;
    tracing::debug!(ms = elapsed_ms(started), "manifest loaded");
    Ok(loaded?)
}

async fn list(remote: &Remote, site: &Site) -> Result<BTreeMap<String, RemoteFile>, DeployError> {
    let prefix = (!site.prefix.is_empty()).then_some(site.prefix.as_str());
    let files = remote.list_files(&site.env, prefix).await?;
    tracing::info!(env = %site.env, files = files.len(), "listed the store");
    Ok(files.into_iter().map(|f| (f.key.clone(), f)).collect())
}
