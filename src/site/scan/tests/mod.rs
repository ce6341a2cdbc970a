//! Tests of the scan through [`scan`] and [`scan_within`], on folders built for each test:
//! `walk.rs` the keys and their order, `root.rs` the site folder itself, `ignore.rs` the rules,
//! `symlinks.rs` links followed or skipped, `skipped.rs` the other entries that cannot be
//! deployed, and `focus.rs` a scan narrowed to some paths.

mod focus;
mod ignore;
mod root;
mod skipped;
mod symlinks;
mod walk;

use std::os::unix::fs::symlink;

use super::*;

/// A site folder inside a temp dir, so tests can also put things next to it.
struct Site {
    _temp: tempfile::TempDir,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().join("site");
        std::fs::create_dir(&root).expect("create site folder");
        Site { _temp: temp, root }
    }

    fn with_files(paths: &[&str]) -> Site {
        let site = Site::new();
        for path in paths {
            site.write(path, "x");
        }
        site
    }

    fn write(&self, relative: impl AsRef<Path>, contents: &str) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
        std::fs::write(path, contents).expect("write file");
    }

    fn link(&self, relative: &str, target: impl AsRef<Path>) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
        symlink(target, path).expect("symlink");
    }

    /// A folder beside the site folder, outside it.
    fn outside(&self) -> PathBuf {
        let outside = self.root.with_file_name("outside");
        std::fs::create_dir_all(&outside).expect("create outside folder");
        std::fs::write(outside.join("secret.txt"), "secret").expect("write");
        outside
    }

    fn options(&self) -> ScanOptions {
        ScanOptions {
            root: self.root.clone(),
            prefix: String::new(),
            ignore: Vec::new(),
        }
    }

    fn scan(&self) -> Scan {
        scan(&self.options()).expect("scan")
    }

    /// Skipped entries as (path below the site folder, reason).
    fn skipped(&self, scan: &Scan) -> Vec<(String, SkipReason)> {
        scan.skipped
            .iter()
            .map(|s| {
                let relative = s.path.strip_prefix(&self.root).expect("inside the site");
                (relative.to_string_lossy().into_owned(), s.reason.clone())
            })
            .collect()
    }
}

fn keys(scan: &Scan) -> Vec<&str> {
    scan.files.iter().map(|f| f.key.as_str()).collect()
}
