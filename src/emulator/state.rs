//! The emulator's durable state: which envs have a static store, the objects in each store,
//! and the secret key that signs upload links. Kept in memory for answers and written through
//! to `data_dir` (every write atomic: temp file + rename) so a restart finds it all again.
//!
//! Layout of `data_dir`:
//! - `emulator.json`: the link-signing secret key (random per data dir).
//! - `stores.json`: env id → store creation time.
//! - `objects/ENV/<sha256(key)>.json`: an object's metadata (key included), and
//!   `objects/ENV/<sha256(key)>.<md5>.data` its bytes. Hashed names because keys nest and
//!   collide with directory names (`a` and `a/b`); the MD5 in the blob name means the metadata
//!   always points at a complete blob, even after a crash between the two writes.
//! - `tmp/`: uploads in progress, emptied at start.
//! - `links.json`: upload links still valid at the last shutdown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::call::valid_env_id;
use super::clock::{from_unix_millis, unix_millis};
use super::tokens::random_hex;
use super::{EmulatorError, StoredObject, lock};

/// One env's static store.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct StaticStore {
    pub created_ms: u64,
}

/// An object's metadata, as saved next to its bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    pub key: String,
    pub md5: String,
    pub size: u64,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub last_modified_ms: u64,
    /// File name of the bytes inside `objects/ENV/`.
    pub blob: String,
}

#[derive(Serialize, Deserialize)]
struct Settings {
    secret_key: String,
}

/// Stores and objects, in memory and on disk.
pub(crate) struct StoreState {
    dir: PathBuf,
    secret_key: String,
    stores: Mutex<BTreeMap<String, StaticStore>>,
    objects: Mutex<HashMap<String, BTreeMap<String, ObjectMeta>>>,
    /// Serialises store and object commits, so files and index change in the same order.
    commit: tokio::sync::Mutex<()>,
}

impl StoreState {
    /// Opens (creating if needed) `dir` and loads everything in it. Blocking: run it off the
    /// async threads.
    pub(crate) fn open(dir: &Path) -> Result<StoreState, EmulatorError> {
        let dir_err = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| EmulatorError::DataDir {
                action,
                path,
                source,
            }
        };
        for sub in ["tmp", "objects"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(dir_err("create", &path))?;
        }
        // Leftovers of uploads cut short by a crash; a failure here is harmless.
        if let Ok(entries) = std::fs::read_dir(dir.join("tmp")) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // Find out now, not at the first upload, whether the directory is writable.
        let probe = dir.join("tmp").join("write-probe");
        std::fs::write(&probe, b"ok").map_err(dir_err("write", &probe))?;
        let _ = std::fs::remove_file(&probe);

        let settings_path = dir.join("emulator.json");
        let settings: Settings = match read_json(&settings_path)? {
            Some(s) => s,
            None => {
                let s = Settings {
                    secret_key: random_hex(32),
                };
                let json = serde_json::to_vec_pretty(&s).unwrap_or_default();
                write_atomic_blocking(dir, &settings_path, &json)
                    .map_err(dir_err("write", &settings_path))?;
                s
            }
        };
        let mut stores: BTreeMap<String, StaticStore> =
            read_json(&dir.join("stores.json"))?.unwrap_or_default();
        // A hand-edited file must not lead outside `objects/`.
        stores.retain(|env, _| {
            let valid = valid_env_id(env);
            if !valid {
                tracing::warn!(env, "skipping a store whose env id is invalid");
            }
            valid
        });

        let mut objects = HashMap::new();
        for env in stores.keys() {
            let env_dir = dir.join("objects").join(env);
            objects.insert(env.clone(), load_env_objects(&env_dir)?);
        }
        Ok(StoreState {
            dir: dir.to_path_buf(),
            secret_key: settings.secret_key,
            stores: Mutex::new(stores),
            objects: Mutex::new(objects),
            commit: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store(&self, env: &str) -> Option<StaticStore> {
        lock(&self.stores).get(env).copied()
    }

    pub(crate) fn stores(&self) -> Vec<(String, StaticStore)> {
        lock(&self.stores)
            .iter()
            .map(|(env, s)| (env.clone(), *s))
            .collect()
    }

    /// Creates `env`'s store at `now` unless it exists. True if it was created.
    pub(crate) async fn create_store(&self, env: &str, now: SystemTime) -> io::Result<bool> {
        let _commit = self.commit.lock().await;
        let mut next = lock(&self.stores).clone();
        if next.contains_key(env) {
            return Ok(false);
        }
        let store = StaticStore {
            created_ms: unix_millis(now),
        };
        next.insert(env.to_owned(), store);
        let json = serde_json::to_vec_pretty(&next).map_err(io::Error::other)?;
        tokio::fs::create_dir_all(self.dir.join("objects").join(env)).await?;
        write_atomic(&self.dir, &self.dir.join("stores.json"), &json).await?;
        lock(&self.objects).entry(env.to_owned()).or_default();
        lock(&self.stores).insert(env.to_owned(), store);
        Ok(true)
    }

    /// A fresh path under `tmp/` for an upload in progress.
    pub(crate) fn temp_path(&self) -> PathBuf {
        self.dir
            .join("tmp")
            .join(format!("{}.part", random_hex(12)))
    }

    /// Makes the complete upload at `tmp` the object `meta.key` of `env`.
    pub(crate) async fn commit_object(
        &self,
        env: &str,
        tmp: &Path,
        mut meta: ObjectMeta,
    ) -> io::Result<()> {
        let env_dir = self.dir.join("objects").join(env);
        let name = key_file_name(&meta.key);
        meta.blob = format!("{name}.{}.data", meta.md5);
        let json = serde_json::to_vec_pretty(&meta).map_err(io::Error::other)?;

        let _commit = self.commit.lock().await;
        tokio::fs::create_dir_all(&env_dir).await?;
        tokio::fs::rename(tmp, env_dir.join(&meta.blob)).await?;
        write_atomic(&self.dir, &env_dir.join(format!("{name}.json")), &json).await?;
        let old = lock(&self.objects)
            .entry(env.to_owned())
            .or_default()
            .insert(meta.key.clone(), meta.clone());
        if let Some(old) = old.filter(|old| old.blob != meta.blob) {
            // Readers that already opened the old blob keep reading it; new ones see the new.
            let _ = tokio::fs::remove_file(env_dir.join(old.blob)).await;
        }
        Ok(())
    }

    pub(crate) fn object_meta(&self, env: &str, key: &str) -> Option<ObjectMeta> {
        lock(&self.objects).get(env)?.get(key).cloned()
    }

    /// Where the bytes of `meta` (an object of `env`) are.
    pub(crate) fn blob_path(&self, env: &str, meta: &ObjectMeta) -> PathBuf {
        self.dir.join("objects").join(env).join(&meta.blob)
    }

    /// Objects of `env` whose key starts with `prefix` and sorts after `marker`, at most
    /// `limit`, sorted by key; and whether more follow.
    pub(crate) fn list(
        &self,
        env: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> (Vec<ObjectMeta>, bool) {
        let objects = lock(&self.objects);
        let Some(env_objects) = objects.get(env) else {
            return (Vec::new(), false);
        };
        // Keys with the prefix are contiguous and sort at or after it.
        let start = if marker >= prefix {
            Bound::Excluded(marker)
        } else {
            Bound::Included(prefix)
        };
        let mut page: Vec<ObjectMeta> = env_objects
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit.saturating_add(1))
            .map(|(_, meta)| meta.clone())
            .collect();
        let truncated = page.len() > limit;
        page.truncate(limit);
        (page, truncated)
    }

    /// An object with its bytes (blocking read; for tests).
    pub(crate) fn read_object(&self, env: &str, key: &str) -> Option<StoredObject> {
        let meta = self.object_meta(env, key)?;
        let bytes = std::fs::read(self.blob_path(env, &meta)).ok()?;
        Some(StoredObject {
            bytes,
            md5: meta.md5,
            content_type: meta.content_type,
            cache_control: meta.cache_control,
            last_modified: from_unix_millis(meta.last_modified_ms),
        })
    }
}

/// `sha256(key)` as hex: a file name that any key maps to safely.
fn key_file_name(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Loads one env's object index, skipping (with a warning) entries whose blob is missing or
/// of the wrong size, and deleting blobs no metadata points at.
fn load_env_objects(env_dir: &Path) -> Result<BTreeMap<String, ObjectMeta>, EmulatorError> {
    let mut index = BTreeMap::new();
    let entries = match std::fs::read_dir(env_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(index),
        Err(source) => {
            return Err(EmulatorError::DataDir {
                action: "read",
                path: env_dir.to_path_buf(),
                source,
            });
        }
    };
    let mut blobs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "data") {
            blobs.push(path);
            continue;
        }
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let meta = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<ObjectMeta>(&b).ok());
        let Some(meta) = meta else {
            tracing::warn!(path = %path.display(), "skipping unreadable object metadata");
            continue;
        };
        // The blob name is derived, never trusted: it cannot point outside `env_dir`.
        let md5_ok = meta.md5.len() == 32
            && meta
                .md5
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !md5_ok {
            tracing::warn!(path = %path.display(), "skipping object with an invalid md5");
            continue;
        }
        let expected_blob = format!("{}.{}.data", key_file_name(&meta.key), meta.md5);
        let blob_len = std::fs::metadata(env_dir.join(&expected_blob)).map(|m| m.len());
        if meta.blob != expected_blob || blob_len.ok() != Some(meta.size) {
            tracing::warn!(path = %path.display(), "skipping object whose bytes are missing");
            continue;
        }
        index.insert(meta.key.clone(), meta);
    }
    let referenced: HashSet<&str> = index.values().map(|m| m.blob.as_str()).collect();
    for blob in blobs {
        let name = blob.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !referenced.contains(name) {
            let _ = std::fs::remove_file(&blob);
        }
    }
    Ok(index)
}

/// Reads a JSON state file: `None` if absent, an error naming the file if unreadable.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, EmulatorError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| EmulatorError::CorruptState {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EmulatorError::DataDir {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` through a temp file in `data_dir/tmp` and a rename.
pub(crate) async fn write_atomic(data_dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = data_dir
        .join("tmp")
        .join(format!("{}.part", random_hex(12)));
    tokio::fs::write(&tmp, bytes).await?;
    match tokio::fs::rename(&tmp, path).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

fn write_atomic_blocking(data_dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = data_dir
        .join("tmp")
        .join(format!("{}.part", random_hex(12)));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
