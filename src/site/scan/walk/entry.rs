//! Judging one entry of a listed folder: whether it is on the way to a focused path, excluded
//! by the rules, a name no key may hold, a symlink to follow or skip, a special file, a folder
//! to walk, or a file to deploy (unless it is too large for one upload).

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use rustix::fs::{AtFlags, FileType, Stat};

use super::{Folder, FolderRules, Found, Walk, id_of, raw_id_of, subfolder};
use crate::site::FileStat;
use crate::site::scan::focus::{Focus, Place};
use crate::site::scan::skipped::{SkipReason, skip, unreadable_reason};
use crate::site::scan::{LocalFile, MAX_OBJECT_SIZE};

/// An entry of the folder being listed.
pub(super) struct Entry<'a> {
    /// The open folder.
    pub(super) dir: &'a rustix::fd::OwnedFd,
    pub(super) folder: &'a Folder,
    pub(super) name: &'a CStr,
}

impl Entry<'_> {
    fn path(&self) -> PathBuf {
        self.folder
            .path
            .join(OsStr::from_bytes(self.name.to_bytes()))
    }

    /// The entry's own stat (a symlink's, not its target's), relative to the open folder.
    fn stat(&self) -> std::io::Result<Stat> {
        rustix::fs::statat(self.dir, self.name, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
    }
}

impl Walk<'_> {
    /// Judges one entry: a file is added to `found`, a folder to walk is returned.
    pub(super) fn entry(
        &self,
        entry: &Entry,
        listed_kind: FileType,
        rules: Option<&Arc<FolderRules>>,
        found: &mut Found,
    ) -> Option<Folder> {
        let Ok(name) = entry.name.to_str() else {
            found
                .skipped
                .push(skip(entry.path(), SkipReason::NonUtf8Name));
            return None;
        };
        // The type comes with the listing on most filesystems; others cost a stat.
        let mut stat = None;
        let kind = match listed_kind {
            FileType::Unknown => match entry.stat() {
                Ok(known) => FileType::from_raw_mode(stat.insert(known).st_mode),
                Err(e) => return self.unreadable(entry, &e, found),
            },
            kind => kind,
        };
        let is_dir = kind == FileType::Directory;
        let is_symlink = kind == FileType::Symlink;
        let mut relative = String::with_capacity(entry.folder.relative.len() + name.len() + 1);
        relative.push_str(&entry.folder.relative);
        relative.push_str(name);
        let focus = match entry.folder.focus.as_ref().map(|f| f.place(&relative)) {
            None | Some(Place::Focused) => None,
            Some(Place::OnTheWay(focus)) => Some(focus),
            Some(Place::Outside) => return None,
        };
        // On the way to a focused path, only folders matter (and links that may lead to one).
        if focus.is_some() && !is_dir && !is_symlink {
            return None;
        }
        if self.excluded(&relative, name, is_dir, rules) {
            return None;
        }
        if crate::site::key::check(name).is_err() {
            found
                .skipped
                .push(skip(entry.path(), SkipReason::ControlCharacter));
            return None;
        }
        if is_symlink {
            return self.symlink(entry.folder, rules, focus, entry.path(), relative, found);
        }
        if !is_dir && kind != FileType::RegularFile {
            found.skipped.push(skip(entry.path(), SkipReason::Special));
            return None;
        }
        let stat = match stat.map_or_else(|| entry.stat(), Ok) {
            Ok(stat) => stat,
            Err(e) => return self.unreadable(entry, &e, found),
        };
        if is_dir {
            let id = raw_id_of(&stat);
            return Some(subfolder(
                entry.folder,
                rules,
                focus,
                entry.path(),
                relative,
                id,
            ));
        }
        self.file(relative, stat_of(&stat), || entry.path(), found);
        None
    }

    /// Follows a symlink that stays inside the folder and leads neither to an excluded path nor
    /// back up to a folder on the way; anything else is skipped.
    fn symlink(
        &self,
        folder: &Folder,
        rules: Option<&Arc<FolderRules>>,
        focus: Option<Arc<Focus>>,
        path: PathBuf,
        relative: String,
        found: &mut Found,
    ) -> Option<Folder> {
        let resolved = std::fs::canonicalize(&path).and_then(|target| {
            let metadata = std::fs::metadata(&target)?;
            Ok((target, metadata))
        });
        let (target, metadata) = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                let reason = unreadable_reason(&path, &e);
                found.skipped.push(skip(path, reason));
                return None;
            }
        };
        let reason = match target.strip_prefix(self.canonical_root) {
            // An excluded path must not come back under another name.
            Ok(inside) if self.rules.is_ignored(inside, metadata.is_dir()) => {
                SkipReason::SymlinkToExcluded
            }
            Ok(_) if metadata.is_dir() && folder.ancestors.contains(id_of(&metadata)) => {
                SkipReason::SymlinkLoop
            }
            Ok(_) if metadata.is_dir() => {
                let id = id_of(&metadata);
                return Some(subfolder(folder, rules, focus, path, relative, id));
            }
            // A linked file on the way to a focused path is not itself focused.
            Ok(_) if focus.is_some() => return None,
            Ok(_) if metadata.is_file() => {
                self.file(relative, FileStat::of(&metadata), || path, found);
                return None;
            }
            Ok(_) => SkipReason::Special,
            Err(_) => SkipReason::SymlinkOutside,
        };
        found.skipped.push(skip(path, reason));
        None
    }

    /// Adds a regular file, unless it is too large for one upload.
    fn file(
        &self,
        relative: String,
        stat: FileStat,
        path: impl FnOnce() -> PathBuf,
        found: &mut Found,
    ) {
        let key = if self.prefix.is_empty() {
            relative
        } else {
            let mut key = String::with_capacity(self.prefix.len() + relative.len());
            key.push_str(self.prefix);
            key.push_str(&relative);
            key
        };
        if stat.size > MAX_OBJECT_SIZE {
            let mut skipped = skip(path(), SkipReason::TooLarge);
            skipped.key = Some(key);
            found.skipped.push(skipped);
            return;
        }
        found.files.push(LocalFile { key, stat });
    }

    /// Skips an entry whose type or stat could not be read; one that vanished since the
    /// listing is simply gone.
    fn unreadable(
        &self,
        entry: &Entry,
        error: &std::io::Error,
        found: &mut Found,
    ) -> Option<Folder> {
        if error.kind() != std::io::ErrorKind::NotFound {
            let path = entry.path();
            let reason = unreadable_reason(&path, error);
            found.skipped.push(skip(path, reason));
        }
        None
    }

    /// Whether the root rules exclude the entry, or the deepest subfolder `.deployignore` with
    /// an opinion on it does.
    fn excluded(
        &self,
        relative: &str,
        name: &str,
        is_dir: bool,
        rules: Option<&Arc<FolderRules>>,
    ) -> bool {
        if self.rules.excludes_named(Path::new(relative), name, is_dir) {
            return true;
        }
        let mut next = rules.map(Arc::as_ref);
        while let Some(folder) = next {
            let inside = Path::new(&relative[folder.folder_len..]);
            match folder.matcher.matched(inside, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => next = folder.outer.as_deref(),
            }
        }
        false
    }
}

/// The stat cache's view of a raw stat.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn stat_of(stat: &Stat) -> FileStat {
    FileStat {
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mtime_ns: (stat.st_mtime as i64)
            .saturating_mul(1_000_000_000)
            .saturating_add(stat.st_mtime_nsec as i64),
        inode: stat.st_ino as u64,
    }
}
