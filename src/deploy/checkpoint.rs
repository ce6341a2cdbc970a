//! What keeps the manifest true while a cycle uploads: before the first PUT, the files about to
//! be replaced are forgotten (and noted on disk); after that, the manifest is saved every few
//! seconds or few hundred uploads, and once more at the end.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::plan::{LocalItem, PlannedUpload};
use super::{DeployError, blocking};
use crate::site::manifest::{Manifest, ManifestStore};

/// Save the manifest during a long deploy at least this often…
const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);
/// …or after this many uploads, whichever comes first…
const CHECKPOINT_FILES: usize = 200;
/// …but not more often than this: each save writes the whole manifest, so saving every few
/// hundred files of a fast, large deploy would cost time quadratic in its size.
const CHECKPOINT_GAP: Duration = Duration::from_secs(1);

/// Drops the entries of the files about to be replaced, in memory, and notes their keys on disk
/// before the first PUT (true when there were any): should the deploy be killed after a PUT but
/// before the next save, the manifest must not claim the old content is online (a file later
/// reverted to it would then be skipped). With nothing replaced, the first cycle still checks
/// that the manifest can be saved, so that a read-only state folder stops the deploy before its
/// first upload rather than after its last.
pub(super) async fn forget_replaced(
    manifest: &mut Manifest,
    local: &[LocalItem],
    uploads: &[PlannedUpload],
    store: &Arc<ManifestStore>,
    first: bool,
) -> Result<bool, DeployError> {
    if uploads.is_empty() {
        return Ok(false);
    }
    let replaced: HashSet<String> = uploads
        .iter()
        .map(|u| local[u.local].key.as_str())
        .filter(|key| manifest.files.contains_key(key))
        .map(str::to_owned)
        .collect();
    let store = Arc::clone(store);
    if !replaced.is_empty() {
        manifest.files.retain(|key, _| !replaced.contains(key));
        blocking(move || store.note_replacing(replaced.iter().map(String::as_str))).await??;
        return Ok(true);
    }
    if first {
        blocking(move || store.check_writable()).await??;
    }
    Ok(false)
}

/// Saves the manifest every few seconds or few hundred uploads, so that a crash re-uploads at
/// most what was in flight since the last save.
pub(super) struct Checkpoint {
    store: Arc<ManifestStore>,
    last: Instant,
    since: usize,
    dirty: bool,
}

impl Checkpoint {
    pub(super) fn new(store: Arc<ManifestStore>, dirty: bool) -> Checkpoint {
        Checkpoint {
            store,
            last: Instant::now(),
            since: 0,
            dirty,
        }
    }

    pub(super) async fn uploaded(&mut self, manifest: &mut Manifest) -> Result<(), DeployError> {
        self.dirty = true;
        self.since += 1;
        let since_save = self.last.elapsed();
        if (self.since >= CHECKPOINT_FILES && since_save >= CHECKPOINT_GAP)
            || since_save >= CHECKPOINT_EVERY
        {
            self.save(manifest).await?;
        }
        Ok(())
    }

    pub(super) async fn save(&mut self, manifest: &mut Manifest) -> Result<(), DeployError> {
        if !self.dirty {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        let mut taken = std::mem::take(manifest);
        let (taken, result) = blocking(move || {
            let result = store.save(&mut taken);
            (taken, result)
        })
        .await?;
        *manifest = taken;
        result?;
        self.dirty = false;
        self.since = 0;
        self.last = Instant::now();
        Ok(())
    }
}
