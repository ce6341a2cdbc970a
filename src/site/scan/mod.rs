//! Walks a site folder and lists the files to deploy, each with its remote key and its stat.
//!
//! What is left out on purpose ([`IgnoreRules`], `.deployignore` files in subfolders) is
//! dropped silently. What cannot be deployed (a name that is no valid key, a symlink leaving the
//! folder or looping, a broken link, an unreadable entry, a file too large for one upload, a
//! socket or device) is reported in [`Scan::skipped`] with a warning, and the scan goes on. Only
//! a problem with the folder itself, or with the rules, ends it with a [`ScanError`].
//!
//! The walk ([`walk`]) lists folders on every core, and stats each file relative to its open
//! folder: most of a scan of a warm tree is that one `stat` per file. What it skips, and why,
//! is `skipped.rs`; `focus.rs` narrows a scan to the paths a watch cycle asks for.

mod focus;
mod skipped;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::FileStat;
pub use super::ignore_rules::{DEFAULT_IGNORES, IGNORE_FILE_NAME, IgnoreRules};
pub use focus::Focus;
pub use skipped::{SkipReason, Skipped};

/// The largest object one PUT can store (5 GiB); larger files are skipped as [`SkipReason::TooLarge`].
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// The site folder.
    pub root: PathBuf,
    /// Prepended to every key: "" or "a/b/" (forward slashes, trailing slash, no leading one).
    pub prefix: String,
    /// Extra exclusions from the config, gitignore syntax.
    pub ignore: Vec<String>,
}

/// A file to deploy. It is read from the site folder joined with its key's path below the
/// prefix ([`path_of`]), through any symlink on the way.
#[derive(Clone, Debug)]
pub struct LocalFile {
    /// The remote key: the prefix, then the path below the site folder with `/` between names.
    pub key: String,
    /// The file's (a symlink's target's) stat when the scan saw it.
    pub stat: FileStat,
}

/// The outcome of a scan.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Sorted by key; keys are unique.
    pub files: Vec<LocalFile>,
    /// Sorted by path.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the site folder {} does not exist; build the site first or fix `dir`", path.display())]
    RootMissing { path: PathBuf },
    #[error("the site folder {} is not a folder; point `dir` at the build output folder", path.display())]
    RootNotADirectory { path: PathBuf },
    #[error("cannot read the site folder {}: {source}; check its permissions or fix `dir`", path.display())]
    RootUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid prefix {prefix:?}: {problem}; fix `prefix`")]
    InvalidPrefix {
        prefix: String,
        problem: super::key::KeyProblem,
    },
    // A config glob may hold any character: it is shown escaped, so the message stays one line.
    #[error("invalid ignore glob `{}`: {reason}; fix it in `ignore`", crate::text::snippet(glob.as_bytes(), 200))]
    InvalidGlob { glob: String, reason: String },
    #[error("{}:{line}: invalid pattern: {reason}; fix or remove the line", path.display())]
    InvalidIgnoreFile {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("cannot read the ignore file {}: {source}; fix its permissions or remove it", path.display())]
    IgnoreFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Lists the files to deploy from `options.root`, sorted by key. Blocking: run it on tokio's
/// blocking pool.
pub fn scan(options: &ScanOptions) -> Result<Scan, ScanError> {
    scan_focused(options, None)
}

/// Like [`scan`], but looks only at the focused paths (a folder with everything in it), as a
/// full scan would see them. A path that is gone, or excluded, is simply not listed.
pub fn scan_within(options: &ScanOptions, focus: Arc<Focus>) -> Result<Scan, ScanError> {
    scan_focused(options, Some(focus))
}

fn scan_focused(options: &ScanOptions, focus: Option<Arc<Focus>>) -> Result<Scan, ScanError> {
    // Every key starts with the prefix: a bad one would make every key bad.
    super::key::check(&options.prefix).map_err(|problem| ScanError::InvalidPrefix {
        prefix: options.prefix.chars().take(80).collect(),
        problem,
    })?;
    let root = check_root(&options.root)?;
    let rules = IgnoreRules::load(options)?;
    let (files, mut skipped) = walk::walk(options, &root, &rules, focus)?;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scan { files, skipped })
}

/// Where the file with `key`, found by a scan of `root` with `prefix`, is read from.
pub fn path_of(root: &Path, prefix: &str, key: &str) -> PathBuf {
    root.join(key.strip_prefix(prefix).unwrap_or(key))
}

/// The site folder, checked.
struct Root {
    canonical: PathBuf,
    metadata: std::fs::Metadata,
}

/// Checks that the root is a readable folder.
fn check_root(root: &Path) -> Result<Root, ScanError> {
    let unreadable = |source| ScanError::RootUnreadable {
        path: root.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(root).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ScanError::RootMissing {
                path: root.to_path_buf(),
            }
        } else {
            unreadable(source)
        }
    })?;
    if !metadata.is_dir() {
        return Err(ScanError::RootNotADirectory {
            path: root.to_path_buf(),
        });
    }
    std::fs::read_dir(root).map_err(unreadable)?;
    let canonical = std::fs::canonicalize(root).map_err(unreadable)?;
    Ok(Root {
        canonical,
        metadata,
    })
}

#[cfg(test)]
mod tests;
