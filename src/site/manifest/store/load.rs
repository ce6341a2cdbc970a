//! Loading a manifest: the file read whole and decoded, the keys noted as being replaced
//! dropped, and a file that cannot be used (corrupt, another site's, a newer format) moved aside
//! with a warning rather than refused.

use std::io;
use std::path::PathBuf;

use super::{ManifestError, ManifestStore, now_ns};
use crate::site::manifest::{Manifest, format, replacing};

impl ManifestStore {
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

#[cfg(test)]
mod tests {
    use crate::site::manifest::tests::{encoded, files_in, sample_manifest};
    use crate::site::manifest::{ManifestError, ManifestStore};

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
}
