//! Entries that are not symlinks and cannot be deployed: names no key may hold, files too
//! large for one upload, sockets.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::*;

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
