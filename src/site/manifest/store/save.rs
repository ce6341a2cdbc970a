//! Saving a manifest: written to a temporary file in the same folder, flushed to disk, renamed
//! over the old one and the folder flushed too, so that a crash leaves the old file or the new
//! one, never half of either; and the note of keys about to be replaced, written before the
//! first PUT that replaces them.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::{ManifestError, ManifestStore, now_ns};
use crate::site::manifest::{EncodeError, Manifest, format, replacing};

impl ManifestStore {
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

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::Path;

    use super::super::now_ns;
    use crate::site::manifest::tests::{encoded, entry, files_in, sample_manifest};
    use crate::site::manifest::{Entries, ManifestError, ManifestStore};

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
}
