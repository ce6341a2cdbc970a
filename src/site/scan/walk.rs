//! The walk itself: folders are listed by one thread per core (at most [`MAX_THREADS`]) taking
//! them from a shared queue. A folder is read with `getdents64` into a buffer each thread
//! reuses, and each file is stat'ed relative to the open folder (`fstatat`), so no path is
//! resolved from the root and nothing is allocated for an entry but the key of a file kept.
//!
//! The files come out sorted by key without a sort of all the keys: each folder's files and
//! subfolders are sorted by name (a subfolder's name followed by `/`, as in its files' keys),
//! and the folders are then read in that order, depth first.
//!
//! A folder's `.deployignore` is read before its entries are judged, so it applies to its
//! siblings whatever order the folder lists them in.

use std::ffi::{CStr, OsStr};
use std::fs::Metadata;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ignore::Match;
use ignore::gitignore::Gitignore;
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RawDir, Stat};

use super::focus::{Focus, Place};
use super::{
    IgnoreRules, LocalFile, MAX_OBJECT_SIZE, Root, ScanError, ScanOptions, SkipReason, Skipped,
    skip, unreadable_reason,
};
use crate::site::FileStat;
use crate::site::ignore_rules::{IGNORE_FILE_NAME, folder_rules};

/// Walker threads, at most: listing and stat'ing are short system calls, and beyond a few
/// threads they mostly contend for the same directory locks.
const MAX_THREADS: usize = 8;

/// Bytes of directory entries read per `getdents64` call, per thread.
const LISTING_BUFFER: usize = 32 * 1024;

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
    let mut listed: Vec<Vec<Item>> = Vec::new();
    listed.resize_with(walk.folders.load(Ordering::SeqCst), Vec::new);
    let mut skipped = Vec::new();
    let mut count = 0;
    for mut f in found {
        for folder in f.listed {
            count += folder.files;
            if let Some(slot) = listed.get_mut(folder.id) {
                *slot = folder.items;
            }
        }
        skipped.append(&mut f.skipped);
    }
    Ok((in_key_order(listed, count), skipped))
}

/// The files of every listed folder (indexed by folder id, the root's 0), depth first with
/// each folder's items in their order: the order of their keys.
fn in_key_order(mut listed: Vec<Vec<Item>>, count: usize) -> Vec<LocalFile> {
    let mut files = Vec::with_capacity(count);
    let Some(root) = listed.first_mut() else {
        return files;
    };
    let mut open = vec![std::mem::take(root).into_iter()];
    while let Some(folder) = open.last_mut() {
        match folder.next() {
            Some(Item::File(file)) => files.push(file),
            Some(Item::Folder { id, .. }) => {
                let items = listed.get_mut(id).map(std::mem::take).unwrap_or_default();
                open.push(items.into_iter());
            }
            None => {
                open.pop();
            }
        }
    }
    files
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

/// A listed folder's files and subfolders, in the order of their keys.
struct Listed {
    id: usize,
    items: Vec<Item>,
    /// How many of the items are files.
    files: usize,
}

enum Item {
    File(LocalFile),
    /// A subfolder to walk; `name` is followed by `/`, as in its files' keys.
    Folder {
        id: usize,
        name: String,
    },
}

/// One folder's entries as read, kept until its `.deployignore` has been read: the names back
/// to back, each with its NUL, and where each starts. A thread reuses one for every folder.
#[derive(Default)]
struct Listing {
    names: Vec<u8>,
    entries: Vec<(usize, FileType)>,
}

impl Listing {
    /// The entry names, each with its NUL, and their types as the listing gave them.
    fn entries(&self) -> impl Iterator<Item = (&CStr, FileType)> {
        self.entries.iter().map(|&(start, kind)| {
            let name = CStr::from_bytes_until_nul(&self.names[start..]);
            // Every name was stored with its NUL.
            (name.unwrap_or_default(), kind)
        })
    }
}

/// What a thread keeps from folder to folder.
struct Scratch {
    buffer: Vec<MaybeUninit<u8>>,
    listing: Listing,
}

impl Walk<'_> {
    /// Lists folders until none is left (or the walk stopped), and returns what it found.
    fn work(&self) -> Found {
        let mut found = Found::default();
        let mut scratch = Scratch {
            buffer: vec![MaybeUninit::uninit(); LISTING_BUFFER],
            listing: Listing::default(),
        };
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

    /// Lists one folder: files go to `found`, subfolders are returned. Only a `.deployignore`
    /// that cannot be used is an error; everything else is a skipped entry.
    fn list(
        &self,
        folder: &Folder,
        scratch: &mut Scratch,
        found: &mut Found,
    ) -> Result<Vec<Folder>, ScanError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = match rustix::fs::openat(CWD, &folder.path, flags, Mode::empty()) {
            Ok(dir) => dir,
            Err(e) => {
                let reason = unreadable_reason(&folder.path, &e.into());
                found.skipped.push(skip(folder.path.clone(), reason));
                return Ok(Vec::new());
            }
        };
        let listing = &mut scratch.listing;
        listing.names.clear();
        listing.entries.clear();
        let mut has_ignore_file = false;
        let mut entries = RawDir::new(&dir, &mut scratch.buffer);
        while let Some(entry) = entries.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let reason = SkipReason::Unreadable(std::io::Error::from(e).to_string());
                    found.skipped.push(skip(folder.path.clone(), reason));
                    return Ok(Vec::new());
                }
            };
            let name = entry.file_name().to_bytes_with_nul();
            if name == b".\0" || name == b"..\0" {
                continue;
            }
            has_ignore_file |= name.strip_suffix(b"\0") == Some(IGNORE_FILE_NAME.as_bytes());
            listing
                .entries
                .push((listing.names.len(), entry.file_type()));
            listing.names.extend_from_slice(name);
        }
        // The root's own `.deployignore` is part of the root rules.
        let own = if has_ignore_file && !folder.relative.is_empty() {
            folder_rules(&folder.path)?
        } else {
            None
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
        for (name, kind) in scratch.listing.entries() {
            let entry = Entry {
                dir: &dir,
                folder,
                name,
            };
            if let Some(sub) = self.entry(&entry, kind, rules.as_ref(), found) {
                subfolders.push(sub);
            }
        }
        self.record(folder, &mut subfolders, found);
        Ok(subfolders)
    }

    /// Files the folder's files and subfolders (which get their ids here) under its id, sorted
    /// by name as their keys sort.
    fn record(&self, folder: &Folder, subfolders: &mut [Folder], found: &mut Found) {
        let files = found.files.len();
        let mut items: Vec<Item> = found.files.drain(..).map(Item::File).collect();
        for sub in subfolders.iter_mut() {
            sub.id = self.folders.fetch_add(1, Ordering::SeqCst);
            items.push(Item::Folder {
                id: sub.id,
                name: sub.relative[folder.relative.len()..].to_owned(),
            });
        }
        // Every key in the folder starts with the prefix and the folder's path.
        let common = self.prefix.len() + folder.relative.len();
        items.sort_unstable_by(|a, b| a.name(common).cmp(b.name(common)));
        found.listed.push(Listed {
            id: folder.id,
            items,
            files,
        });
    }

    /// Judges one entry: a file is added to `found`, a folder to walk is returned.
    fn entry(
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

impl Item {
    /// What the item's keys hold after the `common` bytes every key in its folder starts with.
    fn name(&self, common: usize) -> &str {
        match self {
            Item::File(file) => file.key.get(common..).unwrap_or_default(),
            Item::Folder { name, .. } => name,
        }
    }
}

/// An entry of the folder being listed.
struct Entry<'a> {
    /// The open folder.
    dir: &'a rustix::fd::OwnedFd,
    folder: &'a Folder,
    name: &'a CStr,
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked left nothing half-written that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
