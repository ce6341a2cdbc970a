//! The walk itself: folders are listed by one thread per core (at most [`MAX_THREADS`]) taking
//! them from a shared queue, until the queue is empty and no thread can add to it. This file is
//! that traversal and what the threads share; `listing.rs` reads one folder, `entry.rs` judges
//! each of its entries, and `order.rs` puts the files found in key order.
//!
//! A folder is read with `getdents64` into a buffer each thread reuses, and each file is
//! stat'ed relative to the open folder (`fstatat`), so no path is resolved from the root and
//! nothing is allocated for an entry but the key of a file kept.
//!
//! The files come out sorted by key without a sort of all the keys: each folder's files and
//! subfolders are sorted by name (a subfolder's name followed by `/`, as in its files' keys),
//! and the folders are then read in that order, depth first.
//!
//! A folder's `.deployignore` is read before its entries are judged, so it applies to its
//! siblings whatever order the folder lists them in.

mod entry;
mod listing;
mod order;

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ignore::gitignore::Gitignore;
use rustix::fs::Stat;

use super::focus::Focus;
use super::{IgnoreRules, LocalFile, Root, ScanError, ScanOptions, Skipped};
use listing::Scratch;
use order::{Listed, gathered};

/// Walker threads, at most: listing and stat'ing are short system calls, and beyond a few
/// threads they mostly contend for the same directory locks.
const MAX_THREADS: usize = 8;

/// Walks the site folder, or only the way to the focused paths; returns the files sorted by
/// key, and the skipped entries unsorted.
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
                id: 0,
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
        folders: AtomicUsize::new(1),
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
    Ok(gathered(found, walk.folders.load(Ordering::SeqCst)))
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
    /// Folder ids handed out so far.
    folders: AtomicUsize,
}

struct Queue {
    folders: Vec<Folder>,
    /// Threads listing a folder now, which may queue more.
    busy: usize,
}

/// A folder to list.
struct Folder {
    /// Where its listing goes: the root is 0.
    id: usize,
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
    /// The files of the folder being listed.
    files: Vec<LocalFile>,
    listed: Vec<Listed>,
    skipped: Vec<Skipped>,
}

impl Walk<'_> {
    /// Lists folders until none is left (or the walk stopped), and returns what it found.
    fn work(&self) -> Found {
        let mut found = Found::default();
        let mut scratch = Scratch::new();
        while let Some(folder) = self.next_folder() {
            let subfolders = match self.list(&folder, &mut scratch, &mut found) {
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
}

/// A folder to walk below `folder`; `id` is its device and inode.
fn subfolder(
    folder: &Folder,
    rules: Option<&Arc<FolderRules>>,
    focus: Option<Arc<Focus>>,
    path: PathBuf,
    mut relative: String,
    id: (u64, u64),
) -> Folder {
    relative.push('/');
    Folder {
        // Given when the listing is recorded.
        id: 0,
        path,
        relative,
        focus,
        rules: rules.cloned(),
        ancestors: Arc::new(Ancestors {
            id,
            parent: Some(Arc::clone(&folder.ancestors)),
        }),
    }
}

fn id_of(metadata: &Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}

// A raw stat's field types differ between architectures; the casts are needed on some.

#[allow(clippy::unnecessary_cast)]
fn raw_id_of(stat: &Stat) -> (u64, u64) {
    (stat.st_dev as u64, stat.st_ino as u64)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked left nothing half-written that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
