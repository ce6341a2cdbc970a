//! The record of what was last deployed from a site to one (environment, prefix): for each key,
//! the stat and digest of the file that was uploaded. The next deploy trusts a recorded digest
//! when the file's stat has not moved, so an unchanged site is not read again.
//!
//! It lives at `state_dir/manifests/<env>/<name>.manifest` in a compact binary format
//! (`format.rs`), is replaced atomically, and a file that cannot be used (corrupt, another
//! site's, a newer format) is moved aside rather than refused: losing it costs one full hash,
//! never a wrong deploy.
//!
//! Speed and memory matter: the "nothing changed" check loads the whole manifest before it can
//! answer, and 100,000 entries must fit in a 64 MB deploy. Entries hold fixed arrays and sit in
//! two allocations (`entries.rs`), loading reads the file in one go and decodes the slice, and
//! saving streams.
//!
//! Version 1 was JSON, at `<name>.json`. Such files are no longer looked at, neither read nor
//! removed: no release wrote them, so nothing is migrated, and the first deploy after the change
//! hashes every file once.

mod entries;
mod format;
mod replacing;

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use entries::Entries;
pub use format::{DecodeError, EncodeError, MANIFEST_VERSION, Part};

use super::FileStat;
use super::hash::{Digest, digest_of};

/// How long before the save a recorded modification time must lie for the stat to be trusted.
/// A write in the same timestamp tick as the hash leaves size and mtime as they were, so — as
/// git does with its index — an entry modified shortly before the save is "racily clean" and
/// is read again. 2 s covers the coarsest timestamps in use (FAT's).
const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// The longest readable part of a manifest's file name; the hash after it keeps names unique.
const READABLE_NAME_MAX: usize = 48;

/// What was deployed for one key: the file's stat when it was hashed, and its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    pub stat: FileStat,
    pub digest: Digest,
}

#[derive(Clone, Debug, Default)]
pub struct Manifest {
    pub env: String,
    pub prefix: String,
    /// Remote key → what was deployed there.
    pub files: Entries,
    /// When the manifest was last saved, nanoseconds since the Unix epoch; 0 if never.
    pub saved_at_ns: i64,
}

impl Manifest {
    pub fn new(env: &str, prefix: &str) -> Self {
        Manifest {
            env: env.to_owned(),
            prefix: prefix.to_owned(),
            ..Manifest::default()
        }
    }

    /// The digest recorded in `entry` (one of this manifest's), if the file still has the
    /// recorded `stat` and that stat can be trusted: the file need not be read. A manifest never
    /// saved trusts nothing.
    pub fn trusted_digest(&self, entry: &ManifestEntry, stat: &FileStat) -> Option<Digest> {
        let racy_since = self.saved_at_ns.saturating_sub(RACY_WINDOW_NS);
        (entry.stat == *stat && entry.stat.mtime_ns < racy_since).then_some(entry.digest)
    }
}

/// Where one (environment, prefix)'s manifest is kept, and its loading and saving.
#[derive(Clone, Debug)]
pub struct ManifestStore {
    path: PathBuf,
    env: String,
    prefix: String,
}

impl ManifestStore {
    /// `state_dir/manifests/<env>/<name>.manifest`: `root.manifest` for the prefix "", else a
    /// readable form of the prefix and a short hash of it (`a/b/` → `a_b-3f….manifest`), so that
    /// prefixes that read alike never share a file.
    pub fn new(state_dir: &Path, env: &str, prefix: &str) -> Self {
        let name = if prefix.is_empty() {
            "root".to_owned()
        } else {
            hashed_name(prefix)
        };
        // Environment ids are already safe names; anything else gets the same treatment.
        let folder = if readable(env) == env && !env.starts_with('.') {
            env.to_owned()
        } else {
            hashed_name(env)
        };
        ManifestStore {
            path: state_dir
                .join("manifests")
                .join(folder)
                .join(format!("{name}.manifest")),
            env: env.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved manifest, or an empty one if there is none. A file that cannot be used
    /// (corrupt, another site's, a newer format) is moved aside with a warning and an empty
    /// manifest returned: the next deploy hashes everything and saves a good one.
    pub fn load(&self) -> Result<Manifest, ManifestError> {
        // Read whole, then decode the slice: no buffered reader in between, and the bytes
        // (about 100 an entry) are freed before the deploy goes on.
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Manifest::new(&self.env, &self.prefix));
            }
            Err(source) => return Err(self.read_error(source)),
        };
        let manifest = match format::decode(&bytes) {
            Ok(manifest) => manifest,
            Err(e) => return Ok(self.set_aside(&e.to_string())),
        };
        drop(bytes);
        if manifest.env != self.env || manifest.prefix != self.prefix {
            let reason = format!(
                "it is the manifest of env {:?} prefix {:?}",
                manifest.env, manifest.prefix
            );
            return Ok(self.set_aside(&reason));
        }
        let mut manifest = manifest;
        replacing::apply(&self.path, &mut manifest);
        Ok(manifest)
    }

    /// Notes, before the first PUT that replaces them, the keys of files whose entries the
    /// manifest on disk still holds (see `replacing`), flushed to disk. Fails as a save would
    /// when the state folder cannot be written, before any upload.
    pub fn note_replacing<'a>(
        &self,
        keys: impl Iterator<Item = &'a str>,
    ) -> Result<(), ManifestError> {
        self.made_folder()?;
        replacing::note(&self.path, keys).map_err(|source| self.write_error(source))
    }

    /// Replaces the saved manifest with `manifest`, stamped with the time now, atomically: a
    /// temporary file in the same folder is written, flushed to disk and renamed over the old
    /// one. On error the old file is as it was and `manifest` keeps its previous stamp.
    ///
    /// The temporary name holds the process id: one process must not save the same manifest
    /// from two threads at once.
    pub fn save(&self, manifest: &mut Manifest) -> Result<(), ManifestError> {
        // Saves come every few seconds at most: the moment to fold new keys into the rows.
        manifest.files.compact();
        let previous = manifest.saved_at_ns;
        manifest.saved_at_ns = now_ns();
        let result = self.write(manifest);
        match result {
            Ok(()) => replacing::clear(&self.path),
            Err(_) => manifest.saved_at_ns = previous,
        }
        result
    }

    /// Checks that a save can happen: the folder exists or can be made, and a file can be
    /// created in it. A deploy checks before it uploads, so that a read-only state folder stops
    /// it before the first upload rather than after the last.
    pub fn check_writable(&self) -> Result<(), ManifestError> {
        let temp = self.temp_path()?;
        std::fs::File::create(&temp).map_err(|source| self.write_error(source))?;
        // The file is empty and ours; one left behind is replaced by the next save's.
        let _ = std::fs::remove_file(&temp);
        Ok(())
    }

    /// The file a save writes before renaming it over the manifest; its folder is made if
    /// needed.
    fn temp_path(&self) -> Result<PathBuf, ManifestError> {
        self.made_folder()?;
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".tmp-{}", std::process::id()));
        Ok(PathBuf::from(temp))
    }

    /// The manifest's folder, made if needed.
    fn made_folder(&self) -> Result<&Path, ManifestError> {
        let folder = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder).map_err(|source| ManifestError::CreateFolder {
            path: folder.to_owned(),
            source,
        })?;
        Ok(folder)
    }

    fn write_error(&self, source: io::Error) -> ManifestError {
        ManifestError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn write(&self, manifest: &Manifest) -> Result<(), ManifestError> {
        let temp = self.temp_path()?;
        let folder = self.path.parent().unwrap_or(Path::new("."));
        if let Err(error) = write_durably(&temp, manifest, &self.path) {
            // Best effort: the temp file may not even exist, and the error that matters is
            // the one above.
            let _ = std::fs::remove_file(&temp);
            return Err(match error {
                EncodeError::Io(source) => self.write_error(source),
                source => ManifestError::Unencodable {
                    path: self.path.clone(),
                    source,
                },
            });
        }
        sync_folder(folder).map_err(|source| ManifestError::SyncFolder {
            path: self.path.clone(),
            source,
        })
    }

    /// Renames the unusable file to `<name>.manifest.bad-<unix secs>` and starts afresh. If even
    /// that fails the file stays, and the next save replaces it.
    fn set_aside(&self, reason: &str) -> Manifest {
        let secs = now_ns() / 1_000_000_000;
        let mut aside = self.path.clone().into_os_string();
        aside.push(format!(".bad-{secs}"));
        let aside = PathBuf::from(aside);
        match std::fs::rename(&self.path, &aside) {
            Ok(()) => tracing::warn!(
                path = %self.path.display(),
                moved_to = %aside.display(),
                reason,
                "manifest unusable, moved aside; every file will be read again"
            ),
            Err(e) => tracing::warn!(
                path = %self.path.display(),
                moved_to = %aside.display(),
                reason,
                error = %e,
                "manifest unusable and cannot be moved aside; the next save replaces it"
            ),
        }
        Manifest::new(&self.env, &self.prefix)
    }

    fn read_error(&self, source: io::Error) -> ManifestError {
        ManifestError::Read {
            path: self.path.clone(),
            source,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {}: {source}; make state_dir (TCB_STATE_DIR) readable or point it elsewhere", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot create the manifest folder {}: {source}; make state_dir (TCB_STATE_DIR) writable or point it elsewhere", path.display())]
    CreateFolder { path: PathBuf, source: io::Error },
    #[error("cannot write manifest {}: {source}; free space, make it writable or point state_dir (TCB_STATE_DIR) elsewhere — the previous manifest is intact", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot write manifest {}: {source}; the previous manifest is intact", path.display())]
    Unencodable { path: PathBuf, source: EncodeError },
    #[error("cannot flush the folder of manifest {} to disk: {source}; the new manifest is in place but may not survive a crash", path.display())]
    SyncFolder { path: PathBuf, source: io::Error },
}

/// Writes `manifest` to `temp`, flushes it to disk and renames it to `target`.
fn write_durably(temp: &Path, manifest: &Manifest, target: &Path) -> Result<(), EncodeError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)?;
    format::encode(manifest, &mut file)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temp, target)?;
    Ok(())
}

/// Makes a rename in `folder` durable.
#[cfg(unix)]
fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

/// Windows cannot open a folder as a file; its renames are as durable as NTFS makes them.
#[cfg(not(unix))]
fn sync_folder(_: &Path) -> io::Result<()> {
    Ok(())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `text` as a file name a person can still read: slashes at the ends dropped, every
/// character but ASCII letters, digits, `.`, `_` and `-` turned into `_`, and cut short.
fn readable(text: &str) -> String {
    let name: String = text
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(READABLE_NAME_MAX)
        .collect();
    if name.is_empty() {
        "_".to_owned()
    } else {
        name
    }
}

/// The readable form of `text` and 12 hex digits (48 bits) of its SHA-256: two different texts
/// share a name only by a collision of those.
fn hashed_name(text: &str) -> String {
    let hash = digest_of(text.as_bytes()).sha256_hex();
    format!("{}-{}", readable(text), &hash[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVED_AT: i64 = 1_700_000_000_000_000_000;

    /// An entry whose fields all derive from `seed`, modified at `mtime_ns`.
    pub(super) fn entry(seed: u8, mtime_ns: i64) -> ManifestEntry {
        ManifestEntry {
            stat: FileStat {
                size: u64::from(seed) * 1000,
                mtime_ns,
                inode: 40 + u64::from(seed),
            },
            digest: digest_of(&[seed]),
        }
    }

    fn sample_manifest(env: &str, prefix: &str) -> Manifest {
        let mut manifest = Manifest::new(env, prefix);
        for (i, key) in ["index.html", "assets/app.js", "图片/猫.png"]
            .iter()
            .enumerate()
        {
            let i = u8::try_from(i).expect("small");
            let entry = entry(i, SAVED_AT - 10_000_000_000 + i64::from(i));
            manifest.files.insert(key, entry);
        }
        manifest
    }

    fn encoded(manifest: &Manifest) -> Vec<u8> {
        let mut bytes = Vec::new();
        format::encode(manifest, &mut bytes).expect("encode");
        bytes
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn noted_replacements_are_dropped_on_load_until_a_save() {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env-1", "");
        let mut manifest = sample_manifest("env-1", "");
        store.save(&mut manifest).expect("save");
        store
            .note_replacing(["index.html"].into_iter())
            .expect("note");
        store
            .note_replacing(["assets/app.js"].into_iter())
            .expect("a second note adds to the first");
        let loaded = store.load().expect("load");
        let keys: Vec<&str> = loaded.files.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["图片/猫.png"], "noted keys are not trusted");

        // A save writes the true entries and clears the note.
        store.save(&mut manifest).expect("save");
        assert_eq!(store.load().expect("load").files, manifest.files);
        let folder = store.path().parent().expect("folder");
        assert_eq!(files_in(folder), ["root.manifest"]);
    }

    #[test]
    fn save_then_load_round_trips() {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env-1", "site/");
        let mut manifest = sample_manifest("env-1", "site/");
        let before = now_ns();
        store.save(&mut manifest).expect("save");
        assert!(manifest.saved_at_ns >= before);

        let loaded = store.load().expect("load");
        assert_eq!(loaded.env, "env-1");
        assert_eq!(loaded.prefix, "site/");
        assert_eq!(loaded.saved_at_ns, manifest.saved_at_ns);
        assert_eq!(loaded.files, manifest.files);

        let folder = store.path().parent().expect("folder");
        let name = store.path().file_name().expect("name").to_string_lossy();
        assert_eq!(
            files_in(folder),
            vec![name.into_owned()],
            "no temp file left"
        );
        let bytes = std::fs::read(store.path()).expect("read");
        assert_eq!(
            bytes,
            encoded(&manifest),
            "the file is the format's encoding"
        );
        assert!(bytes.starts_with(b"TCBDMAN\n\x02\0\0\0"), "{bytes:?}");
    }

    #[test]
    fn missing_file_loads_empty() {
        let state = tempfile::tempdir().expect("temp dir");
        let loaded = ManifestStore::new(state.path(), "env", "")
            .load()
            .expect("load");
        assert_eq!(loaded.env, "env");
        assert!(loaded.files.is_empty());
        assert_eq!(loaded.saved_at_ns, 0);
        assert!(files_in(state.path()).is_empty(), "load creates nothing");
    }

    /// The trusted digest of `key`, as a deploy looks it up.
    fn cached(manifest: &Manifest, key: &str, stat: &FileStat) -> Option<Digest> {
        manifest.trusted_digest(manifest.files.get(key)?, stat)
    }

    #[test]
    fn trusted_digest_trusts_only_an_unchanged_settled_stat() {
        let mut manifest = Manifest::new("env", "");
        manifest.saved_at_ns = SAVED_AT;
        let settled = entry(1, SAVED_AT - 3_000_000_000);
        let racy = entry(2, SAVED_AT - 1_000_000_000);
        let future = entry(3, SAVED_AT + 1);
        manifest.files.insert("settled", settled);
        manifest.files.insert("racy", racy);
        manifest.files.insert("future", future);

        assert_eq!(
            cached(&manifest, "settled", &settled.stat),
            Some(settled.digest)
        );
        let grown = FileStat {
            size: settled.stat.size + 1,
            ..settled.stat
        };
        assert_eq!(cached(&manifest, "settled", &grown), None);
        let replaced = FileStat {
            inode: settled.stat.inode + 1,
            ..settled.stat
        };
        assert_eq!(cached(&manifest, "settled", &replaced), None);
        assert_eq!(cached(&manifest, "racy", &racy.stat), None);
        assert_eq!(cached(&manifest, "future", &future.stat), None);
        assert_eq!(cached(&manifest, "unknown", &settled.stat), None);

        manifest.saved_at_ns = 0;
        assert_eq!(cached(&manifest, "settled", &settled.stat), None);
    }

    /// Writes `content` where the store keeps its manifest, loads, and checks that the file was
    /// moved aside unchanged and an empty manifest came back.
    fn assert_set_aside(content: &[u8]) {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env", "p/");
        let folder = store.path().parent().expect("folder");
        std::fs::create_dir_all(folder).expect("mkdir");
        std::fs::write(store.path(), content).expect("write");

        let loaded = store.load().expect("load");
        assert!(loaded.files.is_empty());
        assert_eq!((loaded.env.as_str(), loaded.prefix.as_str()), ("env", "p/"));
        assert!(!store.path().exists());
        let names = files_in(folder);
        assert_eq!(names.len(), 1, "{names:?}");
        let name = store.path().file_name().expect("name").to_string_lossy();
        assert!(names[0].starts_with(&format!("{name}.bad-")), "{names:?}");
        let kept = std::fs::read(folder.join(&names[0])).expect("read");
        assert_eq!(kept, content);
    }

    #[test]
    fn corrupt_file_is_moved_aside() {
        let good = encoded(&sample_manifest("env", "p/"));
        assert_set_aside(good.get(..good.len() - 1).expect("shorter"));
        let mut flipped = good.clone();
        if let Some(byte) = flipped.get_mut(good.len() / 2) {
            *byte ^= 0x10;
        }
        assert_set_aside(&flipped);
        assert_set_aside(b"");
        // Version 1, JSON: not read any more.
        assert_set_aside(br#"{"version":1,"env":"env","prefix":"p/","saved_at_ns":1,"files":{}}"#);
    }

    #[test]
    fn future_version_is_moved_aside() {
        let mut future = encoded(&sample_manifest("env", "p/"));
        if let Some(version) = future.get_mut(8..12) {
            version.copy_from_slice(&3u32.to_le_bytes());
        }
        assert_set_aside(&future);
    }

    #[test]
    fn another_sites_manifest_is_moved_aside() {
        assert_set_aside(&encoded(&sample_manifest("other", "p/")));
        assert_set_aside(&encoded(&sample_manifest("env", "")));
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env", "");
        // A folder where the file should be opens but cannot be read.
        std::fs::create_dir_all(store.path()).expect("mkdir");
        let err = store.load().expect_err("a folder is no manifest");
        assert!(matches!(err, ManifestError::Read { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&store.path().display().to_string())
        );
        assert!(store.path().is_dir(), "not moved aside");
    }

    /// Whether this process may create files in `folder` despite its permissions (root may).
    fn can_write_in(folder: &Path) -> bool {
        let probe = folder.join("probe");
        let writable = File::create(&probe).is_ok();
        let _ = std::fs::remove_file(&probe);
        writable
    }

    #[cfg(unix)]
    #[test]
    fn failed_save_names_the_path_and_keeps_the_previous_file() {
        use std::os::unix::fs::PermissionsExt;

        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env", "");
        let mut manifest = sample_manifest("env", "");
        store.save(&mut manifest).expect("first save");
        let saved = std::fs::read(store.path()).expect("read");
        let stamp = manifest.saved_at_ns;

        let folder = store.path().parent().expect("folder").to_owned();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        let read_only_works = !can_write_in(&folder);
        if read_only_works {
            manifest.files = Entries::default();
            let err = store.save(&mut manifest).expect_err("read-only folder");
            assert!(matches!(err, ManifestError::Write { .. }), "{err:?}");
            let message = err.to_string();
            assert!(
                message.contains(&store.path().display().to_string()),
                "{message}"
            );
            assert!(message.contains("previous manifest is intact"), "{message}");
            assert_eq!(std::fs::read(store.path()).expect("read"), saved);
            assert_eq!(manifest.saved_at_ns, stamp);
        }
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).expect("chmod");

        if !read_only_works {
            // Running as root: a state folder under a regular file cannot be created.
            let blocker = state.path().join("file");
            std::fs::write(&blocker, "").expect("write");
            let store = ManifestStore::new(&blocker, "env", "");
            let err = store.save(&mut manifest).expect_err("parent is a file");
            assert!(matches!(err, ManifestError::CreateFolder { .. }), "{err:?}");
            assert!(err.to_string().contains(&blocker.display().to_string()));
        }
    }

    #[test]
    fn failed_write_removes_nothing_but_its_temp_file() {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env", "x");
        let mut manifest = sample_manifest("env", "x");
        store.save(&mut manifest).expect("first save");
        let saved = std::fs::read(store.path()).expect("read");

        // A folder in the temp file's place makes the write fail, even for root.
        let mut temp = store.path().as_os_str().to_owned();
        temp.push(format!(".tmp-{}", std::process::id()));
        std::fs::create_dir(&temp).expect("mkdir");
        manifest.files = Entries::default();
        let err = store.save(&mut manifest).expect_err("temp path taken");
        assert!(matches!(err, ManifestError::Write { .. }), "{err:?}");
        assert_eq!(std::fs::read(store.path()).expect("read"), saved);
        assert_eq!(store.load().expect("load").files.len(), 3);
    }

    #[test]
    fn unencodable_manifest_is_an_error_and_keeps_the_previous_file() {
        let state = tempfile::tempdir().expect("temp dir");
        let store = ManifestStore::new(state.path(), "env", "");
        let mut manifest = sample_manifest("env", "");
        store.save(&mut manifest).expect("first save");
        let saved = std::fs::read(store.path()).expect("read");

        manifest.files.insert(&"k".repeat(70_000), entry(9, 1));
        let err = store.save(&mut manifest).expect_err("key too long");
        assert!(matches!(err, ManifestError::Unencodable { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("65,535"), "{message}");
        assert!(message.contains("previous manifest is intact"), "{message}");
        assert_eq!(std::fs::read(store.path()).expect("read"), saved);
        let folder = store.path().parent().expect("folder");
        assert_eq!(files_in(folder).len(), 1, "temp file removed");
    }

    #[test]
    fn prefixes_get_distinct_readable_names() {
        let state = Path::new("/state");
        let path =
            |env: &str, prefix: &str| ManifestStore::new(state, env, prefix).path().to_owned();
        assert_eq!(
            path("env-1", ""),
            Path::new("/state/manifests/env-1/root.manifest")
        );

        let nested = path("env-1", "a/b/");
        let name = nested
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("a_b-") && name.ends_with(".manifest"),
            "{name}"
        );
        assert_eq!(name.len(), "a_b-".len() + 12 + ".manifest".len(), "{name}");

        // Prefixes whose readable forms are alike still get files of their own.
        let alike = ["a/b/", "a/b", "a_b", "/a/b/", "a?b", "root", "A/B/"];
        let mut paths: Vec<PathBuf> = alike.iter().map(|p| path("env-1", p)).collect();
        paths.push(path("env-1", ""));
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), alike.len() + 1);

        assert_ne!(path("env-1", "x"), path("env-2", "x"));
        let odd_env = path("../up", "");
        assert!(
            odd_env.starts_with("/state/manifests/"),
            "{}",
            odd_env.display()
        );
        assert!(
            !odd_env
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        );
        let long = path("env", &"x".repeat(500));
        let name = long
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.len() < 100, "{name}");
    }
}
