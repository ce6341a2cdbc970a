//! The record of what was last deployed from a site to one (environment, prefix): for each key,
//! the stat and digest of the file that was uploaded. The next deploy trusts a recorded digest
//! when the file's stat has not moved, so an unchanged site is not read again.
//!
//! It lives at `state_dir/manifests/<env>/<name>.manifest` (`store/`) in a compact binary
//! format (`format/`), is replaced atomically (`store/save.rs`), and a file that cannot be used
//! (corrupt, another site's, a newer format) is moved aside rather than refused
//! (`store/load.rs`): losing it costs one full hash, never a wrong deploy. Keys about to be
//! replaced are noted beside it (`replacing.rs`).
//!
//! Speed and memory matter: the "nothing changed" check loads the whole manifest before it can
//! answer, and 100,000 entries must fit in a 64 MB deploy. Entries hold fixed arrays and sit in
//! two allocations (`entries.rs`), loading reads the file in one go and decodes the slice, and
//! saving streams.
//!
//! Version 1 was JSON, at `<name>.json`. Such files are no longer looked at, neither read nor
//! removed: no release wrote them, so nothing is migrated, and the first deploy after the change
//! hashes every file once.

mod entries;
mod format;
mod replacing;
mod store;

pub use entries::Entries;
pub use format::{DecodeError, EncodeError, MANIFEST_VERSION, Part};
pub use store::{ManifestError, ManifestStore};

use super::FileStat;
use super::hash::Digest;

/// How long before the save a recorded modification time must lie for the stat to be trusted.
/// A write in the same timestamp tick as the hash leaves size and mtime as they were, so — as
/// git does with its index — an entry modified shortly before the save is "racily clean" and
/// is read again. 2 s covers the coarsest timestamps in use (FAT's).
const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// What was deployed for one key: the file's stat when it was hashed, and its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub stat: FileStat,
    pub digest: Digest,
}

#[derive(Clone, Debug, Default)]
pub struct Manifest {
    pub env: String,
    pub prefix: String,
    /// Remote key → what was deployed there.
    pub files: Entries,
    /// When the manifest was last saved, nanoseconds since the Unix epoch; 0 if never.
    pub saved_at_ns: i64,
}

impl Manifest {
    pub fn new(env: &str, prefix: &str) -> Self {
        Manifest {
            env: env.to_owned(),
            prefix: prefix.to_owned(),
            ..Manifest::default()
        }
    }

    /// The digest recorded in `entry` (one of this manifest's), if the file still has the
    /// recorded `stat` and that stat can be trusted: the file need not be read. A manifest never
    /// saved trusts nothing.
    pub fn trusted_digest(&self, entry: &ManifestEntry, stat: &FileStat) -> Option<Digest> {
        let racy_since = self.saved_at_ns.saturating_sub(RACY_WINDOW_NS);
        (entry.stat == *stat && entry.stat.mtime_ns < racy_since).then_some(entry.digest)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::site::hash::digest_of;

    pub(super) const SAVED_AT: i64 = 1_700_000_000_000_000_000;

    /// An entry whose fields all derive from `seed`, modified at `mtime_ns`.
    pub(super) fn entry(seed: u8, mtime_ns: i64) -> ManifestEntry {
        ManifestEntry {
            stat: FileStat {
                size: u64::from(seed) * 1000,
                mtime_ns,
                inode: 40 + u64::from(seed),
            },
            digest: digest_of(&[seed]),
        }
    }

    /// A manifest of three files (one with a name that is not ASCII), saved well before `SAVED_AT`.
    pub(super) fn sample_manifest(env: &str, prefix: &str) -> Manifest {
        let mut manifest = Manifest::new(env, prefix);
        for (i, key) in ["index.html", "assets/app.js", "图片/猫.png"]
            .iter()
            .enumerate()
        {
            let i = u8::try_from(i).expect("small");
            let entry = entry(i, SAVED_AT - 10_000_000_000 + i64::from(i));
            manifest.files.insert(key, entry);
        }
        manifest
    }

    pub(super) fn encoded(manifest: &Manifest) -> Vec<u8> {
        let mut bytes = Vec::new();
        format::encode(manifest, &mut bytes).expect("encode");
        bytes
    }

    pub(super) fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The trusted digest of `key`, as a deploy looks it up.
    fn cached(manifest: &Manifest, key: &str, stat: &FileStat) -> Option<Digest> {
        manifest.trusted_digest(manifest.files.get(key)?, stat)
    }

    #[test]
    fn trusted_digest_trusts_only_an_unchanged_settled_stat() {
        let mut manifest = Manifest::new("env", "");
        manifest.saved_at_ns = SAVED_AT;
        let settled = entry(1, SAVED_AT - 3_000_000_000);
        let racy = entry(2, SAVED_AT - 1_000_000_000);
        let future = entry(3, SAVED_AT + 1);
        manifest.files.insert("settled", settled);
        manifest.files.insert("racy", racy);
        manifest.files.insert("future", future);

        assert_eq!(
            cached(&manifest, "settled", &settled.stat),
            Some(settled.digest)
        );
        let grown = FileStat {
            size: settled.stat.size + 1,
            ..settled.stat
        };
        assert_eq!(cached(&manifest, "settled", &grown), None);
        let replaced = FileStat {
            inode: settled.stat.inode + 1,
            ..settled.stat
        };
        assert_eq!(cached(&manifest, "settled", &replaced), None);
        assert_eq!(cached(&manifest, "racy", &racy.stat), None);
        assert_eq!(cached(&manifest, "future", &future.stat), None);
        assert_eq!(cached(&manifest, "unknown", &settled.stat), None);

        manifest.saved_at_ns = 0;
        assert_eq!(cached(&manifest, "settled", &settled.stat), None);
    }
}
