//! A scan narrowed to some paths sees them as a full scan does, and nothing else.

use std::sync::Arc;

use super::*;

#[test]
fn a_partial_scan_sees_only_the_paths_asked_for_as_a_full_scan_sees_them() {
    let site = Site::with_files(&[
        "index.html",
        "about.html",
        "a/b/c.js",
        "a/b/d.js",
        "a/b-e/f.js",
        "img/logo.png",
        "img/new/x.png",
        "img/new/y.png",
        "docs/notes.txt",
        "docs/page.html",
    ]);
    site.write("docs/.deployignore", "*.txt\n");
    let options = ScanOptions {
        prefix: "p/".to_owned(),
        ..site.options()
    };
    let paths: Vec<String> = [
        "index.html",
        "a/b/c.js",
        "img/new",
        "docs/notes.txt",
        "docs/page.html",
        "gone.html",
        "gone/folder/x.js",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let within = |paths: &[String]| match Focus::new(paths) {
        Some(focus) => super::scan_within(&options, Arc::new(focus)).expect("scan"),
        None => scan(&options).expect("scan"),
    };
    let partial = within(&paths);
    assert_eq!(
        keys(&partial),
        [
            "p/a/b/c.js",
            "p/docs/page.html",
            "p/img/new/x.png",
            "p/img/new/y.png",
            "p/index.html"
        ]
    );
    let full = scan(&options).expect("scan");
    for file in &partial.files {
        let same = full
            .files
            .iter()
            .find(|f| f.key == file.key)
            .expect("in both");
        assert_eq!(same.stat, file.stat);
    }
    assert!(keys(&within(&[])).is_empty(), "no paths, no files");
    assert_eq!(
        keys(&within(&[String::new()])),
        keys(&full),
        "the folder itself is everything"
    );
}
