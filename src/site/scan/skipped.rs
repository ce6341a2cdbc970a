//! What a scan cannot deploy and why: each reason is shown to the user as a warning saying what
//! to do about it, and the scan goes on. An entry whose metadata cannot be read is told apart
//! here: a broken link, a chain of links that loops, or a plain read error.

use std::fmt;
use std::path::{Path, PathBuf};

/// Symlink hops after which a link that cannot be resolved counts as a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

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
    /// Larger than [`MAX_OBJECT_SIZE`](super::MAX_OBJECT_SIZE).
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

/// Why an entry whose metadata could not be read is skipped.
pub(super) fn unreadable_reason(path: &Path, error: &std::io::Error) -> SkipReason {
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
pub(super) fn skip(path: PathBuf, reason: SkipReason) -> Skipped {
    tracing::warn!(path = ?path, reason = %reason, "not deployed");
    Skipped {
        path,
        key: None,
        reason,
    }
}
