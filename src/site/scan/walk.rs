//! The walk itself: folders are listed by one thread per core (at most [`MAX_THREADS`]) taking
//! them from a shared queue, and each file is stat'ed relative to its open folder (`fstatat`),
//! so no path is resolved from the root for every file.
//!
//! A folder's `.deployignore` is read before its entries are judged, so it applies to its
//! siblings whatever order the folder lists them in.

use std::fs::{DirEntry, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ignore::Match;
use ignore::gitignore::Gitignore;

use super::focus::{Focus, Place};
use super::{
    IgnoreRules, LocalFile, MAX_OBJECT_SIZE, Root, ScanError, ScanOptions, SkipReason, Skipped,
    skip, unreadable_reason,
};
use crate::site::FileStat;
use crate::site::ignore_rules::folder_rules;

/// Walker threads, at most: listing and stat'ing are short system calls, and beyond a few
/// threads they mostly contend for the same directory locks.
const MAX_THREADS: usize = 8;

/// Walks the site folder, or only the way to the focused paths; returns the files and the
/// skipped entries, unsorted.
pub(super) fn walk(
    options: &ScanOptions,
    root: &Root,
    rules: &IgnoreRules,
    focus: Option<Arc<Focus>>,
) -> Result<(Vec<LocalFile>, Vec<Skipped>), ScanError> {
    let walk = Walk {
        prefix: &options.prefix,
        canonical_root: &root.canonical,
        rules,
        queue: Mutex::new(Queue {
            folders: vec![Folder {
                path: options.root.clone(),
                relative: String::new(),
                focus,
                rules: None,
                ancestors: Arc::new(Ancestors {
                    id: id_of(&root.metadata),
                    parent: None,
                }),
            }],
            busy: 0,
        }),
        wake: Condvar::new(),
        stopped: AtomicBool::new(false),
        fatal: Mutex::new(None),
    };
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(MAX_THREADS);
    let found: Vec<Found> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(|| walk.work())).collect();
        let mut found = vec![walk.work()];
        for helper in helpers {
            match helper.join() {
                Ok(f) => found.push(f),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        found
    });
    if let Some(error) = lock(&walk.fatal).take() {
        return Err(error);
    }
    let mut files = Vec::with_capacity(found.iter().map(|f| f.files.len()).sum());
    let mut skipped = Vec::new();
    for mut f in found {
        files.append(&mut f.files);
        skipped.append(&mut f.skipped);
    }
    Ok((files, skipped))
}

/// What the threads share.
struct Walk<'w> {
    prefix: &'w str,
    canonical_root: &'w Path,
    rules: &'w IgnoreRules,
    queue: Mutex<Queue>,
    /// Signalled when folders are queued, and when the last busy thread finds nothing left.
    wake: Condvar,
    /// Set on a fatal error: every thread stops at its next folder.
    stopped: AtomicBool,
    fatal: Mutex<Option<ScanError>>,
}

struct Queue {
    folders: Vec<Folder>,
    /// Threads listing a folder now, which may queue more.
    busy: usize,
}

/// A folder to list.
struct Folder {
    /// Where it is: the root joined with `relative`.
    path: PathBuf,
    /// Its path below the root with a trailing `/`, or "" for the root.
    relative: String,
    /// The focused paths below it, if only those are to be looked at.
    focus: Option<Arc<Focus>>,
    /// The `.deployignore` rules of the subfolders on the way, deepest first.
    rules: Option<Arc<FolderRules>>,
    /// The folders on the way, to tell a linked folder that leads back up (a loop).
    ancestors: Arc<Ancestors>,
}

/// A subfolder's `.deployignore`, and the one of the folder above it that has one.
struct FolderRules {
    /// The length of the folder's `relative`: what to cut from a path to match it here.
    folder_len: usize,
    matcher: Gitignore,
    outer: Option<Arc<FolderRules>>,
}

/// Device and inode of a folder on the way, and the one above it.
struct Ancestors {
    id: (u64, u64),
    parent: Option<Arc<Ancestors>>,
}

impl Ancestors {
    fn contains(&self, id: (u64, u64)) -> bool {
        let mut next = Some(self);
        while let Some(folder) = next {
            if folder.id == id {
                return true;
            }
            next = folder.parent.as_deref();
        }
        false
    }
}

/// One thread's findings.
#[derive(Default)]
struct Found {
    files: Vec<LocalFile>,
    skipped: Vec<Skipped>,
}

impl Walk<'_> {
    /// Lists folders until none is left (or the walk stopped), and returns what it found.
    fn work(&self) -> Found {
        let mut found = Found::default();
        while let Some(folder) = self.next_folder() {
            let subfolders = match self.list(&folder, &mut found) {
                Ok(subfolders) => subfolders,
                Err(error) => {
                    lock(&self.fatal).get_or_insert(error);
                    self.stopped.store(true, Ordering::SeqCst);
                    Vec::new()
                }
            };
            self.finished(subfolders);
        }
        found
    }

    /// The next folder to list; `None` once the queue is empty and no thread can add to it.
    fn next_folder(&self) -> Option<Folder> {
        let mut queue = lock(&self.queue);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(folder) = queue.folders.pop() {
                queue.busy += 1;
                return Some(folder);
            }
            if queue.busy == 0 {
                return None;
            }
            queue = self
                .wake
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Queues the subfolders a thread found and marks it idle, waking whoever can go on.
    fn finished(&self, subfolders: Vec<Folder>) {
        let mut queue = lock(&self.queue);
        queue.busy -= 1;
        let last = queue.busy == 0;
        queue.folders.extend(subfolders);
        drop(queue);
        // Waiters may take the new folders, or, if this was the end, return.
        if last || self.stopped.load(Ordering::SeqCst) {
            self.wake.notify_all();
        } else {
            self.wake.notify_one();
        }
    }

    /// Lists one folder: files go to `found`, subfolders are returned. Only a `.deployignore`
    /// that cannot be used is an error; everything else is a skipped entry.
    fn list(&self, folder: &Folder, found: &mut Found) -> Result<Vec<Folder>, ScanError> {
        let entries = match std::fs::read_dir(&folder.path) {
            Ok(entries) => entries,
            Err(e) => {
                let reason = unreadable_reason(&folder.path, &e);
                found.skipped.push(skip(folder.path.clone(), reason));
                return Ok(Vec::new());
            }
        };
        let mut listed = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => listed.push(entry),
                Err(e) => {
                    let reason = SkipReason::Unreadable(e.to_string());
                    found.skipped.push(skip(folder.path.clone(), reason));
                    return Ok(Vec::new());
                }
            }
        }
        // The root's own `.deployignore` is part of the root rules.
        let own = match folder.relative.is_empty() {
            true => None,
            false => folder_rules(&folder.path)?,
        };
        let rules = match own {
            Some(matcher) => Some(Arc::new(FolderRules {
                folder_len: folder.relative.len(),
                matcher,
                outer: folder.rules.clone(),
            })),
            None => folder.rules.clone(),
        };
        let mut subfolders = Vec::new();
        for entry in listed {
            if let Some(sub) = self.entry(folder, rules.as_ref(), &entry, found) {
                subfolders.push(sub);
            }
        }
        Ok(subfolders)
    }

    /// Judges one entry: a file is added to `found`, a folder to walk is returned.
    fn entry(
        &self,
        folder: &Folder,
        rules: Option<&Arc<FolderRules>>,
        entry: &DirEntry,
        found: &mut Found,
    ) -> Option<Folder> {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            found
                .skipped
                .push(skip(entry.path(), SkipReason::NonUtf8Name));
            return None;
        };
        // `file_type` comes with the listing on most filesystems; others cost an lstat.
        let file_type = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(e) => return self.unreadable(entry, &e, found),
        };
        let mut relative = String::with_capacity(folder.relative.len() + name.len() + 1);
        relative.push_str(&folder.relative);
        relative.push_str(name);
        let focus = match folder.focus.as_ref().map(|f| f.place(&relative)) {
            None | Some(Place::Focused) => None,
            Some(Place::OnTheWay(focus)) => Some(focus),
            Some(Place::Outside) => return None,
        };
        // On the way to a focused path, only folders matter (and links that may lead to one).
        if focus.is_some() && !file_type.is_dir() && !file_type.is_symlink() {
            return None;
        }
        if self.excluded(&relative, file_type.is_dir(), rules) {
            return None;
        }
        if name.chars().any(|c| c.is_control() || c == '\\') {
            found
                .skipped
                .push(skip(entry.path(), SkipReason::ControlCharacter));
            return None;
        }
        if file_type.is_dir() {
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                Err(e) => return self.unreadable(entry, &e, found),
            };
            return Some(subfolder(
                folder,
                rules,
                focus,
                entry.path(),
                relative,
                &metadata,
            ));
        }
        if file_type.is_symlink() {
            return self.symlink(folder, rules, focus, entry.path(), relative, found);
        }
        if !file_type.is_file() {
            found.skipped.push(skip(entry.path(), SkipReason::Special));
            return None;
        }
        // Stat'ed relative to the open folder; a symlink's target is stat'ed by its path.
        match entry.metadata() {
            Ok(metadata) => {
                self.file(relative, &metadata, || entry.path(), found);
                None
            }
            Err(e) => self.unreadable(entry, &e, found),
        }
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
                return Some(subfolder(folder, rules, focus, path, relative, &metadata));
            }
            // A linked file on the way to a focused path is not itself focused.
            Ok(_) if focus.is_some() => return None,
            Ok(_) if metadata.is_file() => {
                self.file(relative, &metadata, || path, found);
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
        metadata: &Metadata,
        path: impl FnOnce() -> PathBuf,
        found: &mut Found,
    ) {
        if metadata.len() > MAX_OBJECT_SIZE {
            found.skipped.push(skip(path(), SkipReason::TooLarge));
            return;
        }
        let key = if self.prefix.is_empty() {
            relative
        } else {
            let mut key = String::with_capacity(self.prefix.len() + relative.len());
            key.push_str(self.prefix);
            key.push_str(&relative);
            key
        };
        found.files.push(LocalFile {
            key,
            stat: FileStat::of(metadata),
        });
    }

    /// Skips an entry whose type or stat could not be read; one that vanished since the
    /// listing is simply gone.
    fn unreadable(
        &self,
        entry: &DirEntry,
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
    fn excluded(&self, relative: &str, is_dir: bool, rules: Option<&Arc<FolderRules>>) -> bool {
        if self.rules.excludes_entry(Path::new(relative), is_dir) {
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

/// A folder to walk below `folder`.
fn subfolder(
    folder: &Folder,
    rules: Option<&Arc<FolderRules>>,
    focus: Option<Arc<Focus>>,
    path: PathBuf,
    mut relative: String,
    metadata: &Metadata,
) -> Folder {
    relative.push('/');
    Folder {
        path,
        relative,
        focus,
        rules: rules.cloned(),
        ancestors: Arc::new(Ancestors {
            id: id_of(metadata),
            parent: Some(Arc::clone(&folder.ancestors)),
        }),
    }
}

fn id_of(metadata: &Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked left nothing half-written that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
