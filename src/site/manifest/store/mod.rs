//! Where one (environment, prefix)'s manifest is kept, `state_dir/manifests/<env>/<name>.manifest`
//! under a name a person can read and no other prefix shares, and what can go wrong with it.
//! `load.rs` reads it, setting aside a file that cannot be used; `save.rs` replaces it
//! atomically and notes the keys about to be replaced.

mod load;
mod save;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::EncodeError;
use crate::site::hash::digest_of;

/// The longest readable part of a manifest's file name; the hash after it keeps names unique.
const READABLE_NAME_MAX: usize = 48;

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
}

/// Why a manifest could not be loaded or saved; a file that is there but unusable is no error.
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

/// The time now in nanoseconds since the Unix epoch, as manifests stamp their saves.
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
