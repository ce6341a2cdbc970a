//! The site folder itself: missing, a file, or given as a relative path.

use super::*;

#[test]
fn a_missing_root_says_to_build_first() {
    let site = Site::new();
    let options = ScanOptions {
        root: site.root.join("dist"),
        ..site.options()
    };
    let err = scan(&options).expect_err("missing");
    assert!(matches!(err, ScanError::RootMissing { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("build the site first or fix `dir`"),
        "{err}"
    );
}

#[test]
fn a_root_that_is_a_file_is_refused() {
    let site = Site::with_files(&["index.html"]);
    let options = ScanOptions {
        root: site.root.join("index.html"),
        ..site.options()
    };
    let err = scan(&options).expect_err("not a folder");
    assert!(
        matches!(err, ScanError::RootNotADirectory { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("`dir`"), "{err}");
}

#[test]
fn a_relative_root_gives_the_same_keys() {
    let site = Site::with_files(&["index.html", "site/index.html"]);
    site.write(".deployignore", "/index.html\n");
    // Tests run in parallel, so rather than changing directory, climb from the current one
    // to the filesystem root and back down to the site folder.
    let cwd = std::env::current_dir().expect("cwd");
    let mut root: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
    root.push(site.root.strip_prefix("/").expect("absolute"));
    let options = ScanOptions {
        root,
        ..site.options()
    };
    let scan = scan(&options).expect("scan");
    assert_eq!(keys(&scan), ["site/index.html"]);
    let path = path_of(&options.root, "", &scan.files[0].key);
    assert_eq!(path, options.root.join("site/index.html"));
}
