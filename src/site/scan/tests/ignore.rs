//! What the default ignores, the config globs and `.deployignore` files leave out, and the
//! errors that end a scan when a rule cannot be used.

use super::*;

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
