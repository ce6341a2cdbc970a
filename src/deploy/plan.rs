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
use crate::site::manifest::{Manifest, ManifestEntry};

/// Upload order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Everything a page may reference: scripts, styles, images, data.
    Asset,
    /// `.html` / `.htm`.
    Page,
    /// Service-worker scripts, which may pre-cache pages.
    Worker,
}

impl Stage {
    pub fn of(path: &str) -> Stage {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        if name.ends_with(".html") || name.ends_with(".htm") {
            Stage::Page
        } else if matches!(
            name.as_str(),
            "sw.js" | "service-worker.js" | "serviceworker.js" | "sw.mjs" | "service-worker.mjs"
        ) {
            Stage::Worker
        } else {
            Stage::Asset
        }
    }
}

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
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::Changed => "changed",
            Reason::MissingRemotely => "missing remotely",
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
    /// Indexes of local files already online as they are.
    pub unchanged: Vec<usize>,
    /// Keys online (per the listing, else per the manifest) with no local file: this API cannot
    /// delete them, so they are reported, never claimed deleted.
    pub stale: Vec<String>,
    /// The manifest to start from: entries of unchanged files (confirmed or adopted from the
    /// listing) and of stale files still online. Uploaded files are added as they succeed.
    pub manifest: BTreeMap<String, ManifestEntry>,
}

/// Decides what to upload. `local` must be sorted by key (as the scan gives it); `remote`,
/// when given, is the store's listing under the site's prefix.
pub fn plan(
    local: &[LocalItem],
    manifest: &Manifest,
    remote: Option<&BTreeMap<String, RemoteFile>>,
) -> Plan {
    debug_assert!(local.windows(2).all(|w| w[0].key <= w[1].key));
    let mut out = Plan::default();
    // Built in key order, then turned into a map in one pass.
    let mut kept: Vec<(String, ManifestEntry)> = Vec::with_capacity(local.len());
    for (index, item) in local.iter().enumerate() {
        let recorded = manifest.files.get(&item.key);
        let verdict = match remote {
            Some(listing) => match listing.get(&item.key) {
                Some(online) if same_bytes(online, item) => None,
                Some(_) => Some(Reason::Changed),
                None if recorded.is_some() => Some(Reason::MissingRemotely),
                None => Some(Reason::New),
            },
            None => match recorded {
                Some(entry) if entry.digest == item.digest => None,
                Some(_) => Some(Reason::Changed),
                None => Some(Reason::New),
            },
        };
        match verdict {
            None => {
                out.unchanged.push(index);
                kept.push((
                    item.key.clone(),
                    ManifestEntry {
                        stat: item.stat,
                        digest: item.digest,
                    },
                ));
            }
            Some(reason) => out.uploads.push(PlannedUpload {
                local: index,
                reason,
                stage: Stage::of(&item.key),
            }),
        }
    }
    out.uploads
        .sort_by(|a, b| (a.stage, &local[a.local].key).cmp(&(b.stage, &local[b.local].key)));

    // Keys online (per the listing, else the manifest) but not local: a merge of two sorted
    // sequences.
    let online: Box<dyn Iterator<Item = &String>> = match remote {
        Some(listing) => Box::new(listing.keys()),
        None => Box::new(manifest.files.keys()),
    };
    let mut locals = local.iter().map(|l| &l.key).peekable();
    for key in online {
        while locals.next_if(|l| *l < key).is_some() {}
        if locals.peek() == Some(&key) {
            continue;
        }
        out.stale.push(key.clone());
        // Still online: keep what the last deploy knew of it.
        if let Some(entry) = manifest.files.get(key) {
            kept.push((key.clone(), entry.clone()));
        }
    }
    out.manifest = kept.into_iter().collect();
    out
}

fn same_bytes(online: &RemoteFile, item: &LocalItem) -> bool {
    online.size == item.stat.size && online.md5 == item.digest.md5_hex()
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

    fn manifest_of(items: &[LocalItem]) -> Manifest {
        let mut m = Manifest::new("e", "");
        for i in items {
            m.files.insert(
                i.key.clone(),
                ManifestEntry {
                    stat: i.stat,
                    digest: i.digest,
                },
            );
        }
        m
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
        let p = plan(&local, &Manifest::new("e", ""), None);
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
        assert!(p.unchanged.is_empty() && p.stale.is_empty());
    }

    #[test]
    fn unchanged_site_uploads_nothing() {
        let local = vec![item("a.js", "1"), item("index.html", "2")];
        let p = plan(&local, &manifest_of(&local), None);
        assert!(p.uploads.is_empty());
        assert_eq!(p.unchanged, [0, 1]);
        assert_eq!(p.manifest.len(), 2);
    }

    #[test]
    fn changed_and_new_files_are_uploaded_with_their_reason() {
        let before = vec![item("a.js", "1"), item("b.js", "2")];
        let now = vec![item("a.js", "1"), item("b.js", "22"), item("c.js", "3")];
        let p = plan(&now, &manifest_of(&before), None);
        assert_eq!(
            uploads(&p, &now),
            [
                ("b.js".into(), Reason::Changed),
                ("c.js".into(), Reason::New)
            ]
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
        let p = plan(&now, &Manifest::new("e", ""), Some(&listing_of(&online)));
        assert_eq!(
            uploads(&p, &now),
            [
                ("b.js".into(), Reason::Changed),
                ("new.css".into(), Reason::New)
            ]
        );
        assert_eq!(p.unchanged, [0]);
        assert_eq!(p.stale, ["gone.html"]);
        // The unchanged file is adopted into the manifest, so the next run need not list again.
        assert!(p.manifest.contains_key("a.js"));
    }

    #[test]
    fn verify_remote_finds_files_missing_from_the_store() {
        let local = vec![item("a.js", "1"), item("b.js", "2")];
        let listing = listing_of(&local[..1]);
        let p = plan(&local, &manifest_of(&local), Some(&listing));
        assert_eq!(
            uploads(&p, &local),
            [("b.js".into(), Reason::MissingRemotely)]
        );
        assert!(
            !p.manifest.contains_key("b.js"),
            "not online, so not recorded"
        );
    }

    #[test]
    fn same_md5_but_other_size_is_not_trusted() {
        let local = vec![item("a.js", "1")];
        let mut listing = listing_of(&local);
        listing.get_mut("a.js").unwrap().size = 99;
        let p = plan(&local, &Manifest::new("e", ""), Some(&listing));
        assert_eq!(uploads(&p, &local), [("a.js".into(), Reason::Changed)]);
    }

    #[test]
    fn files_deleted_locally_are_stale_and_stay_recorded() {
        let before = vec![item("a.js", "1"), item("old.html", "o")];
        let now = vec![item("a.js", "1")];
        let p = plan(&now, &manifest_of(&before), None);
        assert_eq!(p.stale, ["old.html"]);
        assert!(p.manifest.contains_key("old.html"));
        assert!(p.uploads.is_empty());
    }

    #[test]
    fn stages() {
        assert_eq!(Stage::of("a/b/INDEX.HTML"), Stage::Page);
        assert_eq!(Stage::of("service-worker.js"), Stage::Worker);
        assert_eq!(Stage::of("assets/sw.js.map"), Stage::Asset);
        assert_eq!(Stage::of("html"), Stage::Asset);
    }
}
