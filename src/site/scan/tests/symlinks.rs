//! Symlinks: followed under the link's name while they stay inside the folder, skipped when
//! they leave it, lead into an excluded path, loop or point to nothing.

use super::*;

#[test]
fn symlinks_inside_the_folder_are_followed_under_the_link_name() {
    let site = Site::with_files(&["real/a.txt", "real/sub/b.txt"]);
    site.link("link-file.txt", "real/a.txt");
    site.link("link-dir", "real");
    site.link("nested/abs-link", site.root.join("real/sub"));
    let scan = site.scan();
    assert_eq!(
        keys(&scan),
        [
            "link-dir/a.txt",
            "link-dir/sub/b.txt",
            "link-file.txt",
            "nested/abs-link/b.txt",
            "real/a.txt",
            "real/sub/b.txt",
        ]
    );
    assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
    let linked = scan
        .files
        .iter()
        .find(|f| f.key == "link-file.txt")
        .expect("listed");
    assert_eq!(linked.stat.size, 1, "the target's stat, not the link's");
}

#[test]
fn symlinks_leaving_the_folder_are_skipped() {
    let site = Site::with_files(&["index.html"]);
    let outside = site.outside();
    site.link("out-dir", "../outside");
    site.link("out-file", outside.join("secret.txt"));
    site.link("sub/root", "/");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["index.html"]);
    assert_eq!(
        site.skipped(&scan),
        [
            ("out-dir".to_owned(), SkipReason::SymlinkOutside),
            ("out-file".to_owned(), SkipReason::SymlinkOutside),
            ("sub/root".to_owned(), SkipReason::SymlinkOutside),
        ]
    );
}

#[test]
fn symlinks_into_excluded_paths_are_skipped() {
    let site = Site::with_files(&["index.html", ".git/config", "drafts/a.html"]);
    site.link("repo", ".git");
    site.link("config-copy", ".git/config");
    site.link("published", "drafts");
    let mut options = site.options();
    options.ignore = vec!["drafts/".into()];
    let scan = super::scan(&options).expect("scan");
    assert_eq!(keys(&scan), ["index.html"]);
    assert_eq!(
        site.skipped(&scan),
        [
            ("config-copy".to_owned(), SkipReason::SymlinkToExcluded),
            ("published".to_owned(), SkipReason::SymlinkToExcluded),
            ("repo".to_owned(), SkipReason::SymlinkToExcluded),
        ]
    );
}

#[test]
fn symlink_loops_are_skipped_not_walked() {
    let site = Site::with_files(&["a/file.txt"]);
    site.link("a/up", "..");
    site.link("a/self", "../a");
    site.link("me", "me");
    site.link("ping", "pong");
    site.link("pong", "ping");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["a/file.txt"]);
    assert_eq!(
        site.skipped(&scan),
        [
            ("a/self".to_owned(), SkipReason::SymlinkLoop),
            ("a/up".to_owned(), SkipReason::SymlinkLoop),
            ("me".to_owned(), SkipReason::SymlinkLoop),
            ("ping".to_owned(), SkipReason::SymlinkLoop),
            ("pong".to_owned(), SkipReason::SymlinkLoop),
        ]
    );
}

#[test]
fn broken_symlinks_are_skipped() {
    let site = Site::with_files(&["index.html"]);
    site.link("gone.html", "missing.html");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["index.html"]);
    assert_eq!(
        site.skipped(&scan),
        [("gone.html".to_owned(), SkipReason::BrokenSymlink)]
    );
}
