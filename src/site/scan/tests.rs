use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::sync::Arc;

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

#[test]
fn default_ignores_leave_out_vcs_folders_os_litter_and_editor_files() {
    let site = Site::with_files(&[
        "index.html",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        ".svn/entries",
        ".hg/store/data",
        ".DS_Store",
        "img/.DS_Store",
        "img/logo.png",
        "Thumbs.db",
        "desktop.ini",
        ".index.html.swp",
        ".index.html.swo",
        "a~",
        "#b#",
        ".#index.html",
    ]);
    assert_eq!(keys(&site.scan()), ["img/logo.png", "index.html"]);
}

#[test]
fn gitignore_and_dot_ignore_files_are_not_applied() {
    let site = Site::with_files(&["app.js", "style.css", "sub/page.html"]);
    site.write(".gitignore", "*.js\n");
    site.write(".ignore", "*.css\n");
    site.write("sub/.gitignore", "*\n");
    assert_eq!(
        keys(&site.scan()),
        [
            ".gitignore",
            ".ignore",
            "app.js",
            "style.css",
            "sub/.gitignore",
            "sub/page.html"
        ]
    );
}

#[test]
fn config_globs_exclude_in_gitignore_syntax() {
    let site = Site::with_files(&[
        "index.html",
        "app.js.map",
        "js/vendor.js.map",
        "js/keep.map",
        "drafts/post.html",
        "blog/drafts/post.html",
    ]);
    let options = ScanOptions {
        ignore: vec![
            "*.map".to_owned(),
            "!keep.map".to_owned(),
            "/drafts/".to_owned(),
        ],
        ..site.options()
    };
    let scan = scan(&options).expect("scan");
    assert_eq!(
        keys(&scan),
        ["blog/drafts/post.html", "index.html", "js/keep.map"]
    );
}

#[test]
fn root_deployignore_applies_with_negation_and_is_not_deployed() {
    let site = Site::with_files(&["index.html", "notes.txt", "docs/todo.txt", "keep.txt", "a~"]);
    site.write(".deployignore", "# drafts\n*.txt\n!keep.txt\n!a~\n");
    assert_eq!(keys(&site.scan()), ["a~", "index.html", "keep.txt"]);
}

#[test]
fn subfolder_deployignores_apply_below_them_deepest_first_and_are_not_deployed() {
    let site = Site::with_files(&[
        "debug.log",
        "sub/debug.log",
        "sub/page.html",
        "sub/deeper/trace.log",
        "sub/deeper/keep.log",
    ]);
    site.write("sub/.deployignore", "*.log\n");
    site.write("sub/deeper/.deployignore", "!keep.log\n");
    assert_eq!(
        keys(&site.scan()),
        ["debug.log", "sub/deeper/keep.log", "sub/page.html"]
    );
}

#[test]
fn subfolder_deployignore_cannot_bring_back_what_the_root_rules_exclude() {
    // Documented limit: the walker leaves out what either the root rules or the subfolder's
    // file excludes.
    let site = Site::with_files(&["a.map", "sub/b.map"]);
    site.write(".deployignore", "*.map\n");
    site.write("sub/.deployignore", "!b.map\n");
    assert!(keys(&site.scan()).is_empty());
}

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

#[test]
fn names_that_cannot_be_keys_are_skipped_with_their_folder_contents() {
    let site = Site::with_files(&[
        "ok.html",
        "bad\x07name",
        "back\\slash.html",
        "tab\tdir/inner.html",
    ]);
    let non_utf8 = OsStr::from_bytes(b"caf\xe9");
    site.write(non_utf8, "x");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["ok.html"]);
    let mut skipped: Vec<(PathBuf, SkipReason)> = scan
        .skipped
        .iter()
        .map(|s| {
            (
                s.path
                    .strip_prefix(&site.root)
                    .expect("inside")
                    .to_path_buf(),
                s.reason.clone(),
            )
        })
        .collect();
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        skipped,
        [
            (
                PathBuf::from("back\\slash.html"),
                SkipReason::ControlCharacter
            ),
            (PathBuf::from("bad\x07name"), SkipReason::ControlCharacter),
            (PathBuf::from(non_utf8), SkipReason::NonUtf8Name),
            (PathBuf::from("tab\tdir"), SkipReason::ControlCharacter),
        ]
    );
}

#[test]
fn files_over_five_gib_are_skipped_without_being_read() {
    let site = Site::with_files(&["index.html"]);
    let exact = std::fs::File::create(site.root.join("exact.bin")).expect("create");
    exact.set_len(MAX_OBJECT_SIZE).expect("sparse length");
    let huge = std::fs::File::create(site.root.join("huge.bin")).expect("create");
    huge.set_len(MAX_OBJECT_SIZE + 1).expect("sparse length");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["exact.bin", "index.html"]);
    assert_eq!(
        site.skipped(&scan),
        [("huge.bin".to_owned(), SkipReason::TooLarge)]
    );
}

#[test]
fn sockets_are_skipped_as_special() {
    let site = Site::with_files(&["index.html"]);
    let _listener =
        std::os::unix::net::UnixListener::bind(site.root.join("app.sock")).expect("bind");
    let scan = site.scan();
    assert_eq!(keys(&scan), ["index.html"]);
    assert_eq!(
        site.skipped(&scan),
        [("app.sock".to_owned(), SkipReason::Special)]
    );
}

#[test]
fn an_invalid_config_glob_ends_the_scan_naming_it() {
    let site = Site::with_files(&["index.html"]);
    let options = ScanOptions {
        ignore: vec!["*.map".to_owned(), "[z-a].html".to_owned()],
        ..site.options()
    };
    let err = scan(&options).expect_err("invalid glob");
    assert!(matches!(&err, ScanError::InvalidGlob { glob, .. } if glob == "[z-a].html"));
    let message = err.to_string();
    assert!(
        message.contains("`[z-a].html`") && message.contains("`ignore`"),
        "{message}"
    );
}

#[test]
fn an_invalid_line_in_a_deployignore_ends_the_scan_naming_file_and_line() {
    for folder in ["", "sub/deeper/"] {
        let site = Site::with_files(&["index.html", "sub/deeper/page.html"]);
        site.write(format!("{folder}.deployignore"), "*.txt\n[z-a]\n");
        let err = scan(&site.options()).expect_err("invalid pattern");
        let ScanError::InvalidIgnoreFile { path, line, .. } = &err else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(path, &site.root.join(format!("{folder}.deployignore")));
        assert_eq!(*line, 2);
        assert!(
            err.to_string().contains(".deployignore:2: invalid pattern"),
            "{err}"
        );
    }
}

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

#[test]
fn ignore_rules_agree_with_the_scan() {
    let site = Site::with_files(&[
        "index.html",
        ".git/config",
        "img/.DS_Store",
        "notes.txt",
        "keep.txt",
        "drafts/post.html",
        "js/app.js",
        "js/app.js.map",
    ]);
    site.write(".deployignore", "*.txt\n!keep.txt\n");
    let options = ScanOptions {
        ignore: vec!["/drafts/".to_owned(), "*.map".to_owned()],
        ..site.options()
    };
    let scan = scan(&options).expect("scan");
    let rules = IgnoreRules::load(&options).expect("rules");
    for path in [
        "index.html",
        ".git/config",
        "img/.DS_Store",
        "notes.txt",
        "keep.txt",
        "drafts/post.html",
        "js/app.js",
        "js/app.js.map",
        ".deployignore",
    ] {
        let listed = scan.files.iter().any(|f| f.key == path);
        assert_eq!(rules.is_ignored(Path::new(path), false), !listed, "{path}");
    }
    assert!(rules.is_ignored(Path::new(".git"), true));
    assert!(rules.is_ignored(Path::new("drafts"), true));
    assert!(!rules.is_ignored(Path::new("js"), true));
}

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
