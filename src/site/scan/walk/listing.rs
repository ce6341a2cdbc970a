//! Reading one folder: its entries listed whole with `getdents64` into a buffer the thread
//! reuses, its `.deployignore` (when the listing holds one) read before any entry is judged,
//! then each entry judged and the folder's findings recorded.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::sync::Arc;

use rustix::fs::{CWD, FileType, Mode, OFlags, RawDir};

use super::entry::Entry;
use super::{Folder, FolderRules, Found, Walk};
use crate::site::ignore_rules::{IGNORE_FILE_NAME, folder_rules};
use crate::site::scan::ScanError;
use crate::site::scan::skipped::{SkipReason, skip, unreadable_reason};

/// Bytes of directory entries read per `getdents64` call, per thread.
const LISTING_BUFFER: usize = 32 * 1024;

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
pub(super) struct Scratch {
    buffer: Vec<MaybeUninit<u8>>,
    listing: Listing,
}

impl Scratch {
    pub(super) fn new() -> Scratch {
        Scratch {
            buffer: vec![MaybeUninit::uninit(); LISTING_BUFFER],
            listing: Listing::default(),
        }
    }
}

impl Walk<'_> {
    /// Lists one folder: files go to `found`, subfolders are returned. Only a `.deployignore`
    /// that cannot be used is an error; everything else is a skipped entry.
    pub(super) fn list(
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
}
