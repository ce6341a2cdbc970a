//! The keys a deploy is replacing, noted beside the manifest before the first PUT that
//! replaces them (`<manifest>.replacing`, one key a line, appended and flushed to disk).
//!
//! Between such a PUT and the next save, the manifest on disk still holds the old content's
//! entry. Should the deploy be killed there, and the file later be reverted to that old content,
//! the entry would call it unchanged while the store holds the new bytes. A loaded manifest
//! therefore drops every key the note names; a successful save, which wrote the true entries,
//! removes the note. Noting a few keys costs far less than saving a large manifest, which a
//! watched site would otherwise do before every edit's upload.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Manifest;

/// The note beside the manifest at `manifest_path`.
fn note_path(manifest_path: &Path) -> PathBuf {
    let mut path = manifest_path.as_os_str().to_owned();
    path.push(".replacing");
    PathBuf::from(path)
}

/// Appends `keys` to the note of the manifest at `manifest_path` and flushes it to disk. Keys
/// hold no line breaks (see `site::key`). Appending, not replacing: keys noted by a cycle whose
/// save failed stay noted.
pub(super) fn note<'a>(
    manifest_path: &Path,
    keys: impl Iterator<Item = &'a str>,
) -> io::Result<()> {
    let mut text = String::new();
    for key in keys {
        text.push_str(key);
        text.push('\n');
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(note_path(manifest_path))?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// Drops from `manifest` every key its note names; a missing note drops nothing. An
/// unreadable note drops every entry: none can be trusted.
pub(super) fn apply(manifest_path: &Path, manifest: &mut Manifest) {
    let path = note_path(manifest_path);
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the note of files being replaced; every file will be read again");
            manifest.files.retain(|_, _| false);
            return;
        }
    };
    let text = String::from_utf8_lossy(&text);
    let keys: HashSet<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let before = manifest.files.len();
    manifest.files.retain(|key, _| !keys.contains(key));
    tracing::debug!(
        dropped = before - manifest.files.len(),
        "a deploy was stopped while replacing files; their entries are dropped"
    );
}

/// Removes the note after a save; a missing one is fine, and a note that cannot be removed only
/// makes the next load read a few files again.
pub(super) fn clear(manifest_path: &Path) {
    let path = note_path(manifest_path);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the note of files being replaced")
        }
    }
}
