//! A manifest's entries in memory: remote key → what was deployed there, in byte order of the
//! keys.
//!
//! Every deploy loads the whole manifest before it can say "nothing changed", and a site has
//! tens of thousands of files. A tree with one allocation per key cost more to build, walk and
//! free than the rest of that check, so the entries a manifest is loaded with sit in two
//! allocations: every key in one string, every entry in one sorted vector. Keys added since
//! (new files) wait in a small map until [`Entries::compact`], which each save calls.
//!
//! Compaction grows the two buffers in place rather than building new ones: a first deploy of
//! 100,000 files saves every few seconds, and a fresh pair of ever larger buffers at each save
//! left the allocator holding three times the memory in use.

use std::collections::{BTreeMap, btree_map};
use std::fmt;
use std::iter::Peekable;

use super::ManifestEntry;

#[derive(Clone, Default)]
pub struct Entries {
    /// The keys of `rows`, in no particular order; a removed row leaves its key here until
    /// they take more room than the live ones.
    keys: String,
    /// Strictly increasing by key.
    rows: Vec<Row>,
    /// Keys that are not in `rows`.
    added: BTreeMap<String, ManifestEntry>,
    /// Bytes of `keys` that belong to removed rows.
    waste: usize,
}

#[derive(Clone, Copy)]
struct Row {
    /// The key is `keys[start..end]`.
    start: usize,
    end: usize,
    entry: ManifestEntry,
}

impl Row {
    fn key<'k>(&self, keys: &'k str) -> &'k str {
        &keys[self.start..self.end]
    }
}

impl Entries {
    /// Room for `count` entries whose keys take `key_bytes` in all, to be given in key order by
    /// [`Entries::push_last`].
    pub(super) fn with_capacity(count: usize, key_bytes: usize) -> Entries {
        Entries {
            keys: String::with_capacity(key_bytes),
            rows: Vec::with_capacity(count),
            ..Entries::default()
        }
    }

    /// Appends an entry whose key sorts after every key held; the caller has checked the order.
    pub(super) fn push_last(&mut self, key: &str, entry: ManifestEntry) {
        debug_assert!(self.added.is_empty());
        debug_assert!(self.rows.last().is_none_or(|row| self.key(row) < key));
        let start = self.keys.len();
        self.keys.push_str(key);
        self.rows.push(Row {
            start,
            end: self.keys.len(),
            entry,
        });
    }

    /// Makes room for entries with these new keys, so that the rows grow once rather than
    /// doubling (and copying) as compactions add to them.
    pub fn reserve<'k>(&mut self, keys: impl IntoIterator<Item = &'k str>) {
        let (count, key_bytes) = keys
            .into_iter()
            .fold((0, 0), |(count, bytes), key| (count + 1, bytes + key.len()));
        self.rows.reserve(count);
        self.keys.reserve(key_bytes);
    }

    pub fn len(&self) -> usize {
        self.rows.len() + self.added.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.added.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&ManifestEntry> {
        match self.find(key) {
            Ok(index) => Some(&self.rows[index].entry),
            Err(_) => self.added.get(key),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets the entry of `key`, returning the one it replaces.
    pub fn insert(&mut self, key: &str, entry: ManifestEntry) -> Option<ManifestEntry> {
        match self.find(key) {
            Ok(index) => Some(std::mem::replace(&mut self.rows[index].entry, entry)),
            Err(_) => self.added.insert(key.to_owned(), entry),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<ManifestEntry> {
        match self.find(key) {
            Ok(index) => {
                let row = self.rows.remove(index);
                self.waste += row.end - row.start;
                Some(row.entry)
            }
            Err(_) => self.added.remove(key),
        }
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &ManifestEntry) -> bool) {
        let keys = &self.keys;
        let mut waste = 0;
        self.rows.retain(|row| {
            let kept = keep(row.key(keys), &row.entry);
            if !kept {
                waste += row.end - row.start;
            }
            kept
        });
        self.waste += waste;
        self.added.retain(|key, entry| keep(key, entry));
    }

    /// The entries in byte order of their keys.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            keys: &self.keys,
            rows: self.rows.iter().peekable(),
            added: self.added.iter().peekable(),
        }
    }

    /// Moves the added keys into the sorted rows, so that the entries take two allocations
    /// again, and drops the keys of removed rows once they take more room than the live ones.
    pub fn compact(&mut self) {
        if self.waste > self.keys.len() / 2 {
            self.drop_removed_keys();
        }
        if self.added.is_empty() {
            return;
        }
        // The added rows go at the end, then both sorted runs are merged from the back, in
        // place: no second vector of all the rows.
        let mut added = Vec::with_capacity(self.added.len());
        for (key, entry) in std::mem::take(&mut self.added) {
            let start = self.keys.len();
            self.keys.push_str(&key);
            added.push(Row {
                start,
                end: self.keys.len(),
                entry,
            });
        }
        let (mut old, mut new) = (self.rows.len(), added.len());
        self.rows.extend_from_slice(&added);
        while new > 0 {
            let slot = old + new - 1;
            if old > 0 && self.key(&self.rows[old - 1]) > self.key(&added[new - 1]) {
                self.rows[slot] = self.rows[old - 1];
                old -= 1;
            } else {
                self.rows[slot] = added[new - 1];
                new -= 1;
            }
        }
    }

    /// Rewrites `keys` with the live keys only.
    fn drop_removed_keys(&mut self) {
        let mut keys = String::with_capacity(self.keys.len() - self.waste);
        for row in &mut self.rows {
            let start = keys.len();
            keys.push_str(row.key(&self.keys));
            (row.start, row.end) = (start, keys.len());
        }
        self.keys = keys;
        self.waste = 0;
    }

    fn key(&self, row: &Row) -> &str {
        row.key(&self.keys)
    }

    /// Where `key` is among the rows, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.rows.binary_search_by(|row| self.key(row).cmp(key))
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Entries) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Entries {}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>> FromIterator<(K, ManifestEntry)> for Entries {
    fn from_iter<I: IntoIterator<Item = (K, ManifestEntry)>>(entries: I) -> Entries {
        let mut all = Entries::default();
        for (key, entry) in entries {
            all.insert(key.as_ref(), entry);
        }
        all
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = (&'a str, &'a ManifestEntry);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The entries in byte order of their keys: the rows and the added map, merged.
pub struct Iter<'a> {
    keys: &'a str,
    rows: Peekable<std::slice::Iter<'a, Row>>,
    added: Peekable<btree_map::Iter<'a, String, ManifestEntry>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a ManifestEntry);

    fn next(&mut self) -> Option<Self::Item> {
        let keys = self.keys;
        let row_key = self.rows.peek().map(|row| row.key(keys));
        let added_first = match (row_key, self.added.peek()) {
            (Some(row_key), Some((added_key, _))) => added_key.as_str() < row_key,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if added_first {
            self.added.next().map(|(key, entry)| (key.as_str(), entry))
        } else {
            let row = self.rows.next()?;
            Some((row.key(keys), &row.entry))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.rows.len() + self.added.len();
        (len, Some(len))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::manifest::tests::entry;

    /// Entries loaded in order (as rows), then changed through the map's operations.
    fn loaded(keys: &[&str]) -> Entries {
        let mut entries = Entries::with_capacity(keys.len(), 0);
        for (i, key) in keys.iter().enumerate() {
            entries.push_last(key, entry(u8::try_from(i).expect("few"), 1));
        }
        entries
    }

    fn keys(entries: &Entries) -> Vec<&str> {
        entries.iter().map(|(key, _)| key).collect()
    }

    #[test]
    fn added_keys_come_in_order_among_the_loaded_ones() {
        let mut entries = loaded(&["b", "d/e", "f"]);
        assert_eq!(entries.insert("a", entry(9, 1)), None);
        assert_eq!(entries.insert("d", entry(9, 2)), None);
        assert_eq!(entries.insert("g", entry(9, 3)), None);
        assert_eq!(keys(&entries), ["a", "b", "d", "d/e", "f", "g"]);
        assert_eq!(entries.len(), 6);
        assert_eq!(entries.iter().len(), 6);
        assert_eq!(entries.get("d"), Some(&entry(9, 2)));
        assert_eq!(entries.get("d/e"), Some(&entry(1, 1)));
        assert_eq!(entries.get("c"), None);
    }

    #[test]
    fn a_loaded_key_is_replaced_in_place() {
        let mut entries = loaded(&["a", "b"]);
        assert_eq!(entries.insert("b", entry(7, 7)), Some(entry(1, 1)));
        assert_eq!(entries.get("b"), Some(&entry(7, 7)));
        assert_eq!(entries.len(), 2);
        assert!(entries.added.is_empty(), "no second copy of the key");
    }

    #[test]
    fn removed_and_retained_entries_are_gone_from_every_view() {
        let mut entries = loaded(&["a", "b", "c", "d"]);
        entries.insert("bb", entry(9, 1));
        entries.insert("e", entry(9, 2));
        assert_eq!(entries.remove("b"), Some(entry(1, 1)));
        assert_eq!(entries.remove("e"), Some(entry(9, 2)));
        assert_eq!(entries.remove("zz"), None);
        entries.retain(|key, _| key != "c");
        assert_eq!(keys(&entries), ["a", "bb", "d"]);
        assert!(!entries.contains_key("b") && !entries.contains_key("c"));
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn compaction_merges_the_added_keys_into_the_rows_in_order() {
        // Added keys before, between and after the loaded ones, in runs and alone.
        let mut entries = loaded(&["b", "d", "f", "h"]);
        let mut model: BTreeMap<String, ManifestEntry> =
            entries.iter().map(|(k, e)| (k.to_owned(), *e)).collect();
        for (i, key) in ["a", "c", "c/d", "e", "i", "j", "k"].iter().enumerate() {
            let added = entry(50 + u8::try_from(i).expect("few"), 2);
            entries.insert(key, added);
            model.insert((*key).to_owned(), added);
        }
        entries.insert("d", entry(99, 3));
        model.insert("d".to_owned(), entry(99, 3));

        entries.compact();
        assert!(entries.added.is_empty());
        assert_eq!(entries.rows.len(), model.len());
        let merged: Vec<(&str, ManifestEntry)> = entries.iter().map(|(k, e)| (k, *e)).collect();
        let expected: Vec<(&str, ManifestEntry)> =
            model.iter().map(|(k, e)| (k.as_str(), *e)).collect();
        assert_eq!(merged, expected);
        for (key, entry) in &model {
            assert_eq!(entries.get(key), Some(entry), "{key} found by its row");
        }
    }

    #[test]
    fn compaction_drops_removed_keys_once_they_outweigh_the_live_ones() {
        let mut entries = loaded(&["aa", "bb", "cc", "dd"]);
        entries.remove("aa");
        entries.compact();
        assert_eq!(entries.keys, "aabbccdd", "a little waste is kept");

        entries.retain(|key, _| key == "dd");
        entries.insert("ee", entry(9, 1));
        entries.compact();
        assert_eq!(entries.keys, "ddee");
        assert_eq!(keys(&entries), ["dd", "ee"]);
        assert_eq!(entries.get("dd"), Some(&entry(3, 1)));

        // Nothing to do: the buffers stay as they are.
        let buffer = entries.keys.as_ptr();
        entries.compact();
        assert_eq!(entries.keys.as_ptr(), buffer);
    }

    #[test]
    fn equality_and_debug_see_the_entries_not_where_they_are_kept() {
        let loaded = loaded(&["a", "b"]);
        let built: Entries = [("b", entry(1, 1)), ("a", entry(0, 1))]
            .into_iter()
            .collect();
        assert!(built.rows.is_empty());
        assert_eq!(loaded, built);
        assert_eq!(format!("{loaded:?}"), format!("{built:?}"));
        assert_ne!(loaded, Entries::default());
    }
}
