//! The plan: what to upload and why, what is already online, and what is online but no longer
//! local. A pure function of the local files (with their digests), the manifest of the last
//! deploy, and optionally the remote listing; no I/O, so it is tested with plain data.
//!
//! Uploads are ordered in stages so that a visitor never loads a page that references an asset
//! not yet online: assets first, then pages, then service workers (which may cache pages).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::RemoteFile;
use crate::site::FileStat;
use crate::site::hash::Digest;
use crate::site::manifest::{Entries, ManifestEntry};
use crate::site::stage::Stage;

/// Why a file is uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not deployed before.
    New,
    /// Deployed before with other content.
    Changed,
    /// The last deploy recorded it, but the store does not have it (or has other bytes).
    MissingRemotely,
    /// Online, but the listing gives no MD5 to compare (the ETag of an object uploaded in
    /// parts, `hex-N`): uploaded once, so that the manifest knows its bytes from then on.
    NoRemoteMd5,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::MissingRemotely => "missing remotely",
            Reason::NoRemoteMd5 => "no remote md5",
        })
    }
}

/// A local file with what it contains.
#[derive(Clone, Debug)]
pub struct LocalItem {
    /// Remote key (prefix included).
    pub key: String,
    pub stat: FileStat,
    pub digest: Digest,
}

#[derive(Clone, Debug)]
pub struct PlannedUpload {
    /// Index into the local items given to [`plan`].
    pub local: usize,
    pub reason: Reason,
    pub stage: Stage,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// In upload order: by stage, then by key.
    pub uploads: Vec<PlannedUpload>,
    /// Local files already online as they are.
    pub unchanged: usize,
    /// Keys online (per the listing, else per the manifest) with no local file: this API cannot
    /// delete them, so they are reported, never claimed deleted.
    pub stale: Vec<String>,
    /// Whether [`plan`] changed the record it was given.
    pub record_changed: bool,
}

/// Decides what to upload. `local` must be sorted by key (as the scan gives it); `remote`,
/// when given, is the store's listing under the site's prefix; `in_scope` says which recorded
/// keys the cycle looked at (a focused watch cycle looks at some, any other at all): those
/// outside it are neither compared nor stale.
///
/// `record` comes in as the manifest of the last deploy and goes out as the manifest to start
/// this deploy from, each uploaded file to be added as it succeeds. It names only what is
/// online: unchanged files get their current stat; a changed file keeps its entry, which still
/// describes the bytes online until the upload replaces them. With a listing, the listing is
/// the truth: files online as they are locally are adopted, and entries the store contradicts
/// are dropped.
pub fn plan(
    local: &[LocalItem],
    record: &mut Entries,
    remote: Option<&BTreeMap<String, RemoteFile>>,
    in_scope: impl Fn(&str) -> bool,
) -> Plan {
    debug_assert!(local.windows(2).all(|w| w[0].key < w[1].key));
    let mut out = Plan::default();
    match remote {
        None => against_record(local, record, in_scope, &mut out),
        Some(listing) => against_listing(local, record, listing, &mut out),
    }
    out.uploads
        .sort_by(|a, b| (a.stage, &local[a.local].key).cmp(&(b.stage, &local[b.local].key)));
    out
}

/// Trusts the record: one merge of two sorted sequences, then a lookup for each unchanged file
/// whose stat moved (touched, or copied afresh), to record its new stat.
fn against_record(
    local: &[LocalItem],
    record: &mut Entries,
    in_scope: impl Fn(&str) -> bool,
    out: &mut Plan,
) {
    let mut touched = Vec::new();
    let mut recorded = record.iter().filter(|(key, _)| in_scope(key)).peekable();
    for (index, item) in local.iter().enumerate() {
        while let Some((key, _)) = recorded.next_if(|(key, _)| *key < item.key.as_str()) {
            out.stale.push(key.to_owned());
        }
        let reason = match recorded.next_if(|(key, _)| *key == item.key) {
            Some((_, entry)) if entry.digest == item.digest => {
                out.unchanged += 1;
                if entry.stat != item.stat {
                    touched.push(item);
                }
                continue;
            }
            Some(_) => Reason::Changed,
            None => Reason::New,
        };
        out.uploads.push(upload(index, item, reason));
    }
    out.stale.extend(recorded.map(|(key, _)| key.to_owned()));
    out.record_changed = !touched.is_empty();
    for item in touched {
        let entry = ManifestEntry {
            stat: item.stat,
            digest: item.digest,
        };
        record.insert(&item.key, entry);
    }
}

/// Trusts the store's listing over the record.
fn against_listing(
    local: &[LocalItem],
    record: &mut Entries,
    listing: &BTreeMap<String, RemoteFile>,
    out: &mut Plan,
) {
    let mut online = listing.iter().peekable();
    for (index, item) in local.iter().enumerate() {
        while let Some((key, _)) = online.next_if(|(key, _)| key.as_str() < item.key.as_str()) {
            out.stale.push(key.clone());
        }
        let reason = match online.next_if(|(key, _)| **key == item.key) {
            Some((_, file)) if same_bytes(file, item) => {
                out.unchanged += 1;
                let entry = ManifestEntry {
                    stat: item.stat,
                    digest: item.digest,
                };
                if record.get(&item.key) != Some(&entry) {
                    record.insert(&item.key, entry);
                    out.record_changed = true;
                }
                continue;
            }
            Some((_, file)) if !is_md5(&file.md5) => Reason::NoRemoteMd5,
            Some(_) => Reason::Changed,
            None if record.contains_key(&item.key) => Reason::MissingRemotely,
            None => Reason::New,
        };
        // The store does not hold these bytes, whatever the record said.
        out.record_changed |= record.remove(&item.key).is_some();
        out.uploads.push(upload(index, item, reason));
    }
    out.stale.extend(online.map(|(key, _)| key.clone()));
    // Recorded but neither local nor online: nothing to say about it any more.
    let before = record.len();
    record.retain(|key, _| {
        listing.contains_key(key)
            || local
                .binary_search_by(|item| item.key.as_str().cmp(key))
                .is_ok()
    });
    out.record_changed |= record.len() != before;
}

fn upload(index: usize, item: &LocalItem, reason: Reason) -> PlannedUpload {
    PlannedUpload {
        local: index,
        reason,
        stage: Stage::of(&item.key),
    }
}

/// Whether the listing shows `item`'s bytes: same size and same MD5. A listed `md5` that is not
/// 32 hex digits (a multipart ETag) is no digest and never matches.
fn same_bytes(online: &RemoteFile, item: &LocalItem) -> bool {
    online.size == item.stat.size && is_md5(&online.md5) && online.md5 == item.digest.md5_hex()
}

/// A listing's `md5` is an MD5 only as 32 hex digits (lowercased when read). COS gives an object
/// uploaded in parts an ETag of another form (`hex-N`, N the part count), which says nothing of
/// the bytes.
fn is_md5(listed: &str) -> bool {
    listed.len() == 32 && listed.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::hash::digest_of;

    fn item(key: &str, content: &str) -> LocalItem {
        LocalItem {
            key: key.into(),
            stat: FileStat {
                size: content.len() as u64,
                mtime_ns: 1,
                inode: 1,
            },
            digest: digest_of(content.as_bytes()),
        }
    }

    /// The scope of a cycle that looked at everything.
    fn everything(_: &str) -> bool {
        true
    }

    fn record_of(items: &[LocalItem]) -> Entries {
        items
            .iter()
            .map(|i| {
                let entry = ManifestEntry {
                    stat: i.stat,
                    digest: i.digest,
                };
                (i.key.as_str(), entry)
            })
            .collect()
    }

    fn listing_of(items: &[LocalItem]) -> BTreeMap<String, RemoteFile> {
        items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    RemoteFile {
                        key: i.key.clone(),
                        md5: i.digest.md5_hex(),
                        size: i.stat.size,
                        last_modified: String::new(),
                    },
                )
            })
            .collect()
    }

    fn uploads(p: &Plan, local: &[LocalItem]) -> Vec<(String, Reason)> {
        p.uploads
            .iter()
            .map(|u| (local[u.local].key.clone(), u.reason))
            .collect()
    }

    #[test]
    fn first_deploy_uploads_everything_assets_before_pages_before_workers() {
        let mut local = vec![
            item("index.html", "<p>"),
            item("sw.js", "self"),
            item("app.js", "js"),
            item("about/index.htm", "<p>a"),
            item("style.css", "css"),
        ];
        local.sort_by(|a, b| a.key.cmp(&b.key));
        let p = plan(&local, &mut Entries::default(), None, everything);
        let keys: Vec<String> = uploads(&p, &local).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "app.js",
                "style.css",
                "about/index.htm",
                "index.html",
                "sw.js"
            ]
        );
        assert!(p.uploads.iter().all(|u| u.reason == Reason::New));
        assert!(p.unchanged == 0 && p.stale.is_empty() && !p.record_changed);
    }

    #[test]
    fn unchanged_site_uploads_nothing() {
        let local = vec![item("a.js", "1"), item("index.html", "2")];
        let mut record = record_of(&local);
        let p = plan(&local, &mut record, None, everything);
        assert!(p.uploads.is_empty());
        assert_eq!(p.unchanged, 2);
        assert_eq!(record, record_of(&local));
        assert!(!p.record_changed);
    }

    #[test]
    fn a_touched_file_is_unchanged_and_its_new_stat_recorded() {
        let local = vec![item("a.js", "1")];
        let mut record = record_of(&local);
        let mut touched = local.clone();
        touched[0].stat.mtime_ns = 99;
        let p = plan(&touched, &mut record, None, everything);
        assert!(p.uploads.is_empty());
        assert_eq!(p.unchanged, 1);
        assert_eq!(record.get("a.js").map(|e| e.stat.mtime_ns), Some(99));
        assert!(p.record_changed);
    }

    #[test]
    fn changed_and_new_files_are_uploaded_with_their_reason() {
        let before = vec![item("a.js", "1"), item("b.js", "2")];
        let now = vec![item("a.js", "1"), item("b.js", "22"), item("c.js", "3")];
        let mut record = record_of(&before);
        let p = plan(&now, &mut record, None, everything);
        assert_eq!(
            uploads(&p, &now),
            [
                ("b.js".into(), Reason::Changed),
                ("c.js".into(), Reason::New)
            ]
        );
        assert_eq!(
            record,
            record_of(&before),
            "the changed file's entry still describes what is online"
        );
    }

    #[test]
    fn fresh_runner_with_a_listing_uploads_only_what_differs() {
        let online = vec![item("a.js", "1"), item("b.js", "2"), item("gone.html", "x")];
        let now = vec![
            item("a.js", "1"),
            item("b.js", "changed"),
            item("new.css", "n"),
        ];
        let mut record = Entries::default();
        let p = plan(&now, &mut record, Some(&listing_of(&online)), everything);
        assert_eq!(
            uploads(&p, &now),
            [
                ("b.js".into(), Reason::Changed),
                ("new.css".into(), Reason::New)
            ]
        );
        assert_eq!(p.unchanged, 1);
        assert_eq!(p.stale, ["gone.html"]);
        // The unchanged file is adopted into the manifest, so the next run need not list again.
        assert_eq!(record, record_of(&now[..1]));
        assert!(p.record_changed);
    }

    #[test]
    fn verify_remote_finds_files_missing_from_the_store() {
        let local = vec![item("a.js", "1"), item("b.js", "2")];
        let listing = listing_of(&local[..1]);
        let mut record = record_of(&local);
        let copied = record.get("a.js").copied().expect("recorded");
        record.insert("deleted-everywhere.js", copied);
        let p = plan(&local, &mut record, Some(&listing), everything);
        assert_eq!(
            uploads(&p, &local),
            [("b.js".into(), Reason::MissingRemotely)]
        );
        assert_eq!(
            record,
            record_of(&local[..1]),
            "what is not online is not recorded"
        );
        assert!(p.record_changed);
    }

    #[test]
    fn same_md5_but_other_size_is_not_trusted() {
        let local = vec![item("a.js", "1")];
        let mut listing = listing_of(&local);
        listing.get_mut("a.js").unwrap().size = 99;
        let mut record = record_of(&local);
        let p = plan(&local, &mut record, Some(&listing), everything);
        assert_eq!(uploads(&p, &local), [("a.js".into(), Reason::Changed)]);
        assert!(
            record.is_empty(),
            "the online bytes are not the recorded ones"
        );
    }

    #[test]
    fn a_multipart_etag_in_the_listing_is_no_md5_so_the_file_is_uploaded_not_adopted() {
        let local = vec![item("a.js", "1"), item("big.bin", "parts")];
        let mut listing = listing_of(&local);
        listing.get_mut("big.bin").unwrap().md5 = "3858f62230ac3c915f300c664312c63f-2".into();
        let mut record = Entries::default();
        let p = plan(&local, &mut record, Some(&listing), everything);
        assert_eq!(
            uploads(&p, &local),
            [("big.bin".into(), Reason::NoRemoteMd5)]
        );
        assert_eq!(p.unchanged, 1);
        assert!(p.stale.is_empty());
        assert_eq!(
            record,
            record_of(&local[..1]),
            "only the file whose MD5 was listed is adopted"
        );

        // With --verify-remote, a recorded entry the listing cannot confirm is dropped too.
        let mut record = record_of(&local);
        let p = plan(&local, &mut record, Some(&listing), everything);
        assert_eq!(
            uploads(&p, &local),
            [("big.bin".into(), Reason::NoRemoteMd5)]
        );
        assert_eq!(record, record_of(&local[..1]));
        assert_eq!(Reason::NoRemoteMd5.to_string(), "no remote md5");
        assert_eq!(
            serde_json::to_value(Reason::NoRemoteMd5).unwrap(),
            "no_remote_md5"
        );
    }

    #[test]
    fn files_deleted_locally_are_stale_and_stay_recorded() {
        let before = vec![item("a.js", "1"), item("old.html", "o")];
        let now = vec![item("a.js", "1")];
        let mut record = record_of(&before);
        let p = plan(&now, &mut record, None, everything);
        assert_eq!(p.stale, ["old.html"]);
        assert!(record.contains_key("old.html"));
        assert!(p.uploads.is_empty());
    }

    #[test]
    fn stale_keys_are_found_before_between_and_after_local_ones() {
        let before = vec![
            item("0.js", "0"),
            item("a.js", "1"),
            item("m.js", "m"),
            item("z.js", "z"),
        ];
        let now = vec![item("a.js", "1"), item("b.js", "2")];
        let p = plan(&now, &mut record_of(&before), None, everything);
        assert_eq!(p.stale, ["0.js", "m.js", "z.js"]);
        let p = plan(
            &now,
            &mut Entries::default(),
            Some(&listing_of(&before)),
            everything,
        );
        assert_eq!(p.stale, ["0.js", "m.js", "z.js"]);
        assert_eq!(uploads(&p, &now), [("b.js".into(), Reason::New)]);
    }

    #[test]
    fn a_plan_within_a_scope_leaves_the_rest_of_the_record_alone() {
        let before = vec![item("a/x.js", "1"), item("a/y.js", "2"), item("b.js", "3")];
        let now = vec![item("a/x.js", "11")];
        let mut record = record_of(&before);
        let p = plan(&now, &mut record, None, |key| key.starts_with("a/"));
        assert_eq!(uploads(&p, &now), [("a/x.js".into(), Reason::Changed)]);
        assert_eq!(p.stale, ["a/y.js"], "b.js was not looked at");
        assert_eq!(record, record_of(&before));
    }
}
