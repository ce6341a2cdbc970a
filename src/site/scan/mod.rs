//! Walks a site folder and lists the files to deploy, each with its remote key and its stat.
//!
//! What is left out on purpose ([`IgnoreRules`], `.deployignore` files in subfolders) is
//! dropped silently. What cannot be deployed (a name that is no valid key, a symlink leaving the
//! folder or looping, a broken link, an unreadable entry, a file too large for one upload, a
//! socket or device) is reported in [`Scan::skipped`] with a warning, and the scan goes on. Only
//! a problem with the folder itself, or with the rules, ends it with a [`ScanError`].
//!
//! The walk ([`walk`]) lists folders on every core, and stats each file relative to its open
//! folder: most of a scan of a warm tree is that one `stat` per file.

mod focus;
mod walk;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::FileStat;
pub use super::ignore_rules::{DEFAULT_IGNORES, IGNORE_FILE_NAME, IgnoreRules};
pub use focus::Focus;

/// The largest object one PUT can store (5 GiB); larger files are skipped as [`SkipReason::TooLarge`].
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Symlink hops after which a link that cannot be resolved counts as a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

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

/// An entry that is not deployed, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    /// Its store key, for a file whose name makes one (a file too large to upload).
    pub key: Option<String>,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The symlink's target is not inside the site folder.
    SymlinkOutside,
    /// The symlink's target is inside the folder but excluded (e.g. `link -> .git`).
    SymlinkToExcluded,
    /// The symlink points to a folder that contains it, or resolves to itself.
    SymlinkLoop,
    /// The symlink's target does not exist.
    BrokenSymlink,
    NonUtf8Name,
    /// The name holds a control character or a backslash, which no key should.
    ControlCharacter,
    /// The folder could not be listed or the entry could not be stat'ed; the OS's reason.
    Unreadable(String),
    /// Larger than [`MAX_OBJECT_SIZE`].
    TooLarge,
    /// A socket, FIFO or device.
    Special,
}

/// Each reason says what to do about it: the skip is shown to the user as a warning.
impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SymlinkOutside => f.write_str(
                "symlink points outside the site folder; copy the target into the folder to deploy it",
            ),
            Self::SymlinkToExcluded => f.write_str(
                "symlink points to an excluded path; remove the link or stop excluding its target",
            ),
            Self::SymlinkLoop => f.write_str(
                "symlink loops back to a folder that contains it; remove the link or exclude it with `ignore`",
            ),
            Self::BrokenSymlink => {
                f.write_str("symlink points to nothing; fix or remove the link")
            }
            Self::NonUtf8Name => f.write_str("name is not valid UTF-8; rename it"),
            Self::ControlCharacter => f.write_str(
                "name contains a control character or a backslash, which no store key may hold; rename it",
            ),
            Self::Unreadable(reason) => write!(
                f,
                "cannot be read: {reason}; fix its permissions or exclude it with `ignore`"
            ),
            Self::TooLarge => f.write_str(
                "larger than 5 GiB, the most one upload can take; exclude it with `ignore`",
            ),
            Self::Special => f.write_str(
                "not a regular file (socket, FIFO or device); exclude it with `ignore`",
            ),
        }
    }
}

/// The outcome of a scan.
#[derive(Debug, Default)]
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

/// Why an entry whose metadata could not be read is skipped.
fn unreadable_reason(path: &Path, error: &std::io::Error) -> SkipReason {
    let is_symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_symlink {
        SkipReason::Unreadable(error.to_string())
    } else if error.kind() == std::io::ErrorKind::NotFound {
        SkipReason::BrokenSymlink
    } else if resolves_in_a_cycle(path) {
        SkipReason::SymlinkLoop
    } else {
        SkipReason::Unreadable(error.to_string())
    }
}

/// Whether following the link from `path` comes back to a link already seen, or goes on for
/// more hops than the OS allows (how a chain of links that point at each other fails).
fn resolves_in_a_cycle(path: &Path) -> bool {
    let mut seen = Vec::new();
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINK_HOPS {
        if seen.contains(&current) {
            return true;
        }
        let Ok(target) = std::fs::read_link(&current) else {
            return false;
        };
        let next = current
            .parent()
            .map_or_else(|| target.clone(), |dir| dir.join(&target));
        seen.push(std::mem::replace(&mut current, next));
    }
    true
}

/// Records a skipped entry, with the warning every skip gets. The path is shown escaped: names
/// that are skipped may hold control characters or bytes that are not UTF-8.
fn skip(path: PathBuf, reason: SkipReason) -> Skipped {
    tracing::warn!(path = ?path, reason = %reason, "not deployed");
    Skipped {
        path,
        key: None,
        reason,
    }
}

#[cfg(test)]
mod tests;
