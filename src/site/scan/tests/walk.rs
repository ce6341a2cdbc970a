//! The keys a scan lists, in byte order, with the prefix and the stat of each file.

use super::*;

#[test]
fn keys_come_in_byte_order_where_a_folder_name_meets_a_longer_file_name() {
    // `a/…` sorts after `a-c`, `a.b` and `a!` but before `a0`: `/` is 0x2f.
    let paths = [
        "a/x", "a/y/z", "a.b", "a-c", "a0", "a!", "a", "ab/c", "b/a/b", "b/a.b", "b/a-b", "b.c",
    ];
    let site = Site::new();
    for path in paths {
        if path == "a" {
            continue;
        }
        site.write(path, "x");
    }
    site.link("c", "a");
    let mut expected: Vec<&str> = paths.iter().copied().filter(|p| *p != "a").collect();
    expected.extend(["c/x", "c/y/z"]);
    expected.sort_unstable();
    for prefix in ["", "docs/"] {
        let mut options = site.options();
        options.prefix = prefix.to_owned();
        let scan = scan(&options).expect("scan");
        let want: Vec<String> = expected.iter().map(|k| format!("{prefix}{k}")).collect();
        assert_eq!(keys(&scan), want);
    }
}

#[test]
fn nested_files_become_sorted_keys_with_their_stat() {
    let site = Site::with_files(&[
        "index.html",
        "assets/app.js",
        "a/b/c/deep.txt",
        "my page.html",
        "文档/说明.html",
        ".well-known/assetlinks.json",
    ]);
    site.write("empty.txt", "");
    let scan = site.scan();
    assert_eq!(
        keys(&scan),
        [
            ".well-known/assetlinks.json",
            "a/b/c/deep.txt",
            "assets/app.js",
            "empty.txt",
            "index.html",
            "my page.html",
            "文档/说明.html",
        ]
    );
    assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
    for file in &scan.files {
        let path = path_of(&site.root, "", &file.key);
        assert_eq!(path, site.root.join(&file.key));
        let metadata = std::fs::metadata(&path).expect("stat");
        assert_eq!(file.stat, FileStat::of(&metadata));
    }
    let empty = scan
        .files
        .iter()
        .find(|f| f.key == "empty.txt")
        .expect("listed");
    assert_eq!(empty.stat.size, 0);
}

#[test]
fn the_prefix_is_prepended_to_every_key() {
    let site = Site::with_files(&["index.html", "文档/说明.html"]);
    let options = ScanOptions {
        prefix: "docs/v1/".to_owned(),
        ..site.options()
    };
    let scan = scan(&options).expect("scan");
    assert_eq!(
        keys(&scan),
        ["docs/v1/index.html", "docs/v1/文档/说明.html"]
    );
}
