//! Crash safety: a deploy killed with SIGKILL at any moment leaves a manifest that names only
//! files that are online, and the rerun completes the site, uploading only what the manifest
//! did not record. A state folder that cannot be written stops a deploy with a clear error and
//! the previous manifest intact.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Harness, Run, write_files};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tcb_deploy::site::hash::digest_of;
use tcb_deploy::site::manifest::{Manifest, ManifestStore};
use tokio::io::{AsyncBufReadExt, BufReader};

const ENV: &str = "site";

/// The site's files by key.
type Files = BTreeMap<String, Vec<u8>>;

fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(100..2000);
    (0..len).map(|_| rng.random::<u8>()).collect()
}

fn manifest(h: &Harness) -> Manifest {
    ManifestStore::new(h.state.path(), ENV, "")
        .load()
        .expect("manifest loads")
}

/// Local files the manifest does not record with their current content.
fn unrecorded(h: &Harness, files: &Files) -> usize {
    let recorded = manifest(h);
    files
        .iter()
        .filter(|(key, bytes)| {
            recorded
                .files
                .get(key)
                .is_none_or(|entry| entry.digest.sha256 != digest_of(bytes).sha256)
        })
        .count()
}

fn assert_remote_equals_local(h: &Harness, files: &Files, context: &str) {
    for (key, bytes) in files {
        let online = h
            .emulator
            .object(ENV, key)
            .unwrap_or_else(|| panic!("{context}: {key} is not online"));
        assert!(online.bytes == *bytes, "{context}: {key} differs");
    }
}

fn deploy_command(h: &Harness, dir: &Path) -> tokio::process::Command {
    let dir = dir.to_str().expect("utf-8");
    let args = [
        "deploy",
        "--env",
        ENV,
        "--json",
        "--concurrency",
        "4",
        "--dir",
        dir,
    ];
    let mut command = common::tool(&args, &h.vars());
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn uploaded(run: &Run) -> u64 {
    run.json()["uploaded"].as_u64().expect("uploaded")
}

/// Starts a deploy and kills it (SIGKILL) once it has logged `after` uploads, or lets it end
/// if it uploads fewer.
async fn deploy_and_kill(h: &Harness, dir: &Path, after: usize) {
    let mut child = deploy_command(h, dir).spawn().expect("binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = 0;
    while seen < after {
        match lines.next_line().await.expect("stderr readable") {
            Some(line) if line.contains(" uploaded ") => seen += 1,
            Some(_) => {}
            None => break,
        }
    }
    // Killing a process that already ended is harmless; either way it is gone after `wait`.
    let _ = child.start_kill();
    child.wait().await.expect("child ends");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_killed_at_random_points_is_completed_by_the_rerun() {
    // Slow enough PUTs that a round lasts past a checkpoint (200 files and a second).
    let h = Harness::with(|o| o.faults.put_latency = Duration::from_millis(20)).await;
    h.create_store(ENV).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut files: Files = (0..400)
        .map(|i| (format!("d{}/f{i}.txt", i % 10), random_bytes(&mut rng)))
        .collect();
    write_files(dir.path(), &files);
    let keys: Vec<String> = files.keys().cloned().collect();

    // How many files the manifest held after each kill: the kills fell at different points.
    let mut recorded_at_kill = Vec::new();
    for round in 0..10 {
        let context = format!("seed {seed}, round {round}");
        // New content for 240 files, then a kill somewhere from before the first upload to
        // after the last.
        if round > 0 {
            for key in rand::seq::index::sample(&mut rng, keys.len(), 240) {
                let key = &keys[key];
                files.insert(key.clone(), random_bytes(&mut rng));
            }
            write_files(dir.path(), &files);
        }
        let kill_after = rng.random_range(0..=260);
        deploy_and_kill(&h, dir.path(), kill_after).await;
        h.online_manifest(ENV, &context);

        let missing = unrecorded(&h, &files);
        recorded_at_kill.push(files.len() - missing);
        let puts_before = h.emulator.counters().puts_stored;
        let rerun = common::finish(&mut deploy_command(&h, dir.path())).await;
        assert_eq!(rerun.code, 0, "{context}: {rerun:?}");
        // At most: with no manifest yet, the rerun lists the store and skips what the killed
        // run uploaded.
        let uploads = uploaded(&rerun);
        assert!(
            uploads <= missing as u64,
            "{context}: the rerun uploaded {uploads} files, the manifest missed only {missing}"
        );
        assert_eq!(
            h.emulator.counters().puts_stored - puts_before,
            uploads,
            "{context}"
        );
        assert_remote_equals_local(&h, &files, &context);
        h.online_manifest(ENV, &context);
        assert_eq!(unrecorded(&h, &files), 0, "{context}");
    }
    eprintln!("seed {seed}: files recorded at each kill {recorded_at_kill:?}");
}

/// A site deployed once, then given a new file (and, with `change_existing`, a changed one):
/// the setting for a deploy that cannot save. Also gives the manifest's bytes.
async fn deployed_then_changed(change_existing: bool) -> (Harness, tempfile::TempDir, Vec<u8>) {
    let h = Harness::start().await;
    h.create_store(ENV).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = StdRng::seed_from_u64(1);
    let mut files: Files = (0..20)
        .map(|i| (format!("f{i}.txt"), random_bytes(&mut rng)))
        .collect();
    write_files(dir.path(), &files);
    let first = common::finish(&mut deploy_command(&h, dir.path())).await;
    assert_eq!(first.code, 0, "{first:?}");
    let saved = std::fs::read(ManifestStore::new(h.state.path(), ENV, "").path())
        .expect("manifest written");
    if change_existing {
        files.insert("f0.txt".into(), b"changed".to_vec());
    }
    files.insert("new.txt".into(), b"new".to_vec());
    write_files(dir.path(), &files);
    (h, dir, saved)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_state_folder_stops_the_deploy_before_any_upload() {
    for change_existing in [false, true] {
        read_only_state_folder(change_existing).await;
    }
}

async fn read_only_state_folder(change_existing: bool) {
    let (h, dir, saved) = deployed_then_changed(change_existing).await;
    let manifest_path = ManifestStore::new(h.state.path(), ENV, "")
        .path()
        .to_owned();
    let folder = manifest_path.parent().expect("manifest folder");
    let mut command = deploy_command(&h, dir.path());
    common::as_unprivileged_user(&mut command, &[h.state.path(), dir.path()]);
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let puts = h.emulator.counters().puts;
    let run = common::finish(&mut command).await;

    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("cannot write manifest"), "{line}");
    assert!(line.contains("Permission denied"), "{line}");
    assert!(line.contains("state_dir"), "{line}");
    assert!(line.contains("previous manifest is intact"), "{line}");
    assert_eq!(h.emulator.counters().puts, puts, "nothing was uploaded");
    assert_eq!(std::fs::read(&manifest_path).expect("manifest"), saved);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_save_and_keeps_the_previous_manifest() {
    let (h, dir, saved) = deployed_then_changed(false).await;
    let manifest_path = ManifestStore::new(h.state.path(), ENV, "")
        .path()
        .to_owned();
    let mut command = deploy_command(&h, dir.path());
    // A file-size limit below the manifest's size: its writes fail as on a full disk.
    let limit = saved.len() as u64 / 2;
    // SAFETY: between fork and exec the closure only calls async-signal-safe functions.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = common::finish(&mut command).await;
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("cannot write manifest"), "{line}");
    assert!(line.contains("File too large"), "{line}");
    assert!(line.contains("free space"), "{line}");
    assert!(line.contains("previous manifest is intact"), "{line}");
    assert_eq!(std::fs::read(&manifest_path).expect("manifest"), saved);
    let leftovers: Vec<_> = std::fs::read_dir(manifest_path.parent().expect("folder"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    // The new file went online before the save failed; the manifest does not claim it, and
    // the next deploy, with room again, records it.
    assert!(h.emulator.object(ENV, "new.txt").is_some());
    let rerun = common::finish(&mut deploy_command(&h, dir.path())).await;
    assert_eq!(rerun.code, 0, "{rerun:?}");
    h.online_manifest(ENV, "after the rerun");
    assert!(manifest(&h).files.contains_key("new.txt"));
}
