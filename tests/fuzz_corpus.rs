//! Replays the fuzz corpora checked in under `fuzz/corpus/<target>/` through the checks of the
//! fuzz targets, on the stable toolchain: the seeds, and every input that once failed, keep
//! passing without nightly or libFuzzer. The checks are `fuzz/src/lib.rs`, included as is.

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
mod targets;

/// The checked-in files of a target's corpus, sorted by name: those with an extension. (What
/// libFuzzer adds to the folder on a developer's machine is named by its SHA-1, without one,
/// and is left to `cargo fuzz`.)
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.extension().is_some())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// Runs `check` on every file of the target's corpus; a failure names the file.
fn replay(target: &str, check: fn(&[u8])) {
    for file in corpus(target) {
        let data = std::fs::read(&file).expect("a readable corpus file");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{} fails its fuzz target's checks", file.display());
        }
    }
}

#[test]
fn api_answer_corpus_passes() {
    replay("api_answer", targets::api_answer);
}

#[test]
fn config_corpus_passes() {
    replay("config", targets::config);
}

#[test]
fn ignore_file_corpus_passes() {
    replay("ignore_file", targets::ignore_file);
}

/// The seeds start with 6 bytes that choose the parser and the status; their names say which
/// parser (`cos` or the endpoint's last path segment), so a change in how `arbitrary` reads the
/// bytes is caught here rather than leaving every seed on one parser.
#[test]
fn api_answer_seeds_reach_the_parser_their_name_says() {
    for file in corpus("api_answer") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&file).expect("a readable corpus file");
        let answer = targets::Answer::from_bytes(&data).expect("a decodable seed");
        let parser = match answer.parser.endpoint() {
            Some(endpoint) => endpoint.path().rsplit('/').next().unwrap(),
            None => "cos",
        };
        assert!(
            name.starts_with(&format!("{parser}-")),
            "{name} reaches the {parser} parser"
        );
    }
}
