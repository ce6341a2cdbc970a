//! Files that change, vanish or cannot be read while a deploy runs: what is recorded is always
//! what was sent, a vanished file is dropped without noise, an unreadable one fails alone.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Harness;
use tcb_deploy::emulator::PutHook;

const ENV: &str = "site";

/// A harness whose emulator runs `hook` on the first PUT of `key`.
async fn on_first_put(key: &'static str, hook: impl Fn() + Send + Sync + 'static) -> Harness {
    let fired = AtomicBool::new(false);
    let h = Harness::with(move |o| {
        o.on_put = Some(PutHook(Arc::new(move |put: &str| {
            if put == key && !fired.swap(true, Ordering::SeqCst) {
                hook();
            }
        })));
    })
    .await;
    h.create_store(ENV).await;
    h
}

/// One upload at a time, so the order of PUTs is the plan's; the report as JSON.
const ONE_AT_A_TIME: &[&str] = &["--json", "--concurrency", "1"];

/// `key` is recorded, and what the manifest records is online.
fn assert_recorded(h: &Harness, key: &str) {
    let manifest = h.online_manifest(ENV, key);
    assert!(manifest.files.contains_key(key), "{key} recorded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_rewritten_during_its_put_is_recorded_as_the_bytes_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.txt");
    std::fs::write(&path, "first").expect("write");
    let rewrite = path.clone();
    let h = on_first_put("a.txt", move || {
        std::fs::write(&rewrite, "second, longer").expect("rewrite");
    })
    .await;

    let run = h.deploy(ENV, dir.path(), ONE_AT_A_TIME, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        h.emulator.object(ENV, "a.txt").expect("online").bytes,
        b"first"
    );
    assert_recorded(&h, "a.txt");

    // The next deploy sees the new content and sends it.
    let run = h.deploy(ENV, dir.path(), ONE_AT_A_TIME, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["uploaded"], 1, "{run:?}");
    let online = h.emulator.object(ENV, "a.txt").expect("online");
    assert_eq!(online.bytes, b"second, longer");
    assert_recorded(&h, "a.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_changed_while_streamed_is_recorded_as_what_arrived() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.bin");
    let first: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&path, &first).expect("write");
    let rewrite = path.clone();
    let h = on_first_put("big.bin", move || {
        // Longer than announced: whatever part of it the stream still reads, the length sent
        // no longer matches, or the bytes that arrived are what gets recorded.
        let second: Vec<u8> = (0..(8 << 20) + 4096)
            .map(|i: u32| (i % 241) as u8)
            .collect();
        std::fs::write(&rewrite, second).expect("rewrite");
    })
    .await;

    let run = h.deploy(ENV, dir.path(), ONE_AT_A_TIME, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_recorded(&h, "big.bin");
    let run = h.deploy(ENV, dir.path(), ONE_AT_A_TIME, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let local = std::fs::read(&path).expect("read");
    let online = h.emulator.object(ENV, "big.bin").expect("online");
    assert!(
        online.bytes == local,
        "the second deploy leaves the current file online"
    );
    assert_recorded(&h, "big.bin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_vanishes_before_its_upload_is_dropped_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(dir.path().join(name), name).expect("write");
    }
    let doomed = dir.path().join("b.txt");
    // One upload at a time, in key order: b.txt goes while a.txt is on the wire.
    let h = on_first_put("a.txt", move || {
        std::fs::remove_file(&doomed).expect("remove")
    })
    .await;

    let run = h.deploy(ENV, dir.path(), ONE_AT_A_TIME, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], 2, "{run:?}");
    assert_eq!(report["failed"], 0, "{run:?}");
    assert!(!run.stderr.contains("b.txt"), "no noise about it: {run:?}");
    assert!(h.emulator.object(ENV, "b.txt").is_none());
    assert_recorded(&h, "a.txt");
    assert_recorded(&h, "c.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_file_fails_alone_with_its_path_and_reason() {
    let h = Harness::start().await;
    h.create_store(ENV).await;
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["a.txt", "secret.txt", "c.txt"] {
        std::fs::write(dir.path().join(name), name).expect("write");
    }
    let dir_arg = dir.path().to_str().expect("utf-8");
    let args = ["deploy", "--env", ENV, "--dir", dir_arg, "--json"];
    let mut command = common::tool(&args, &h.vars());
    common::as_unprivileged_user(&mut command, &[h.state.path(), dir.path()]);
    let locked = dir.path().join("secret.txt");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let run = common::finish(&mut command).await;

    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], 2, "{run:?}");
    let failure = &report["failures"][0];
    assert_eq!(failure["path"], "secret.txt", "{run:?}");
    let reason = failure["error"].as_str().expect("reason");
    assert!(reason.contains("Permission denied"), "{reason}");
    assert!(h.emulator.object(ENV, "a.txt").is_some());
    assert!(h.emulator.object(ENV, "c.txt").is_some());
    assert!(h.emulator.object(ENV, "secret.txt").is_none());
}
