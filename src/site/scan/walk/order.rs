//! The files found, in the order of their keys: each listed folder's files and subfolders are
//! sorted by name as their keys sort (a subfolder's name with its `/`), and the folders are
//! then read depth first in that order, so no sort of all the keys is needed.

use std::sync::atomic::Ordering;

use super::{Folder, Found, Walk};
use crate::site::scan::{LocalFile, Skipped};

/// A listed folder's files and subfolders, in the order of their keys.
pub(super) struct Listed {
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

impl Item {
    /// What the item's keys hold after the `common` bytes every key in its folder starts with.
    fn name(&self, common: usize) -> &str {
        match self {
            Item::File(file) => file.key.get(common..).unwrap_or_default(),
            Item::Folder { name, .. } => name,
        }
    }
}

impl Walk<'_> {
    /// Files the folder's files and subfolders (which get their ids here) under its id, sorted
    /// by name as their keys sort.
    pub(super) fn record(&self, folder: &Folder, subfolders: &mut [Folder], found: &mut Found) {
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
}

/// What the threads found, gathered: the files of the `folders` listed folders in the order of
/// their keys, and every skipped entry (unsorted).
pub(super) fn gathered(found: Vec<Found>, folders: usize) -> (Vec<LocalFile>, Vec<Skipped>) {
    let mut listed: Vec<Vec<Item>> = Vec::new();
    listed.resize_with(folders, Vec::new);
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
    (in_key_order(listed, count), skipped)
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
