//! What the sites of one run share, so that a folder deployed to many environments is scanned
//! once and each of its files hashed at most once, whatever the number of environments: the
//! first site to need a folder's scan makes it while the others wait for it, and a digest is
//! kept by path and stat for the sites after the first.
//!
//! A watching daemon keeps none: its cycles look at the folder as it is now.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::{DeployError, blocking};
use crate::site::FileStat;
use crate::site::hash::Digest;
use crate::site::scan::{Scan, ScanOptions, scan};

/// The scans and digests of one run.
#[derive(Debug, Default)]
pub struct RunCache {
    scans: Mutex<HashMap<ScanKey, Arc<OnceCell<Arc<Scan>>>>>,
    /// Held while a site hashes, so that two sites never hash the same file at once.
    pub(super) digests: tokio::sync::Mutex<Digests>,
}

/// What a scan depends on: the folder, the prefix and the exclusions.
type ScanKey = (PathBuf, String, Vec<String>);

/// Digests by path, each with the stat the file had when it was hashed.
pub(super) type Digests = HashMap<PathBuf, (FileStat, Digest)>;

impl RunCache {
    /// The scan `options` ask for: made by the first caller, shared with the others. A scan
    /// that failed is not kept: the next caller tries again (and most likely fails the same).
    pub(super) async fn scan(&self, options: ScanOptions) -> Result<Scan, DeployError> {
        let key = (
            options.root.clone(),
            options.prefix.clone(),
            options.ignore.clone(),
        );
        let cell = Arc::clone(
            self.scans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key)
                .or_default(),
        );
        let scanned = cell
            .get_or_try_init(|| async move {
                let scanned = blocking(move || scan(&options)).await?;
                Ok::<_, DeployError>(Arc::new(scanned?))
            })
            .await?;
        Ok(Scan::clone(scanned))
    }
}
