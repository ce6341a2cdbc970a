//! One build to many environments through the real binary against the emulator: every
//! environment gets the files, the folder is hashed once, a refused environment is reported
//! while the others go on, a refusal every environment would meet stops the rollout, and
//! shards split a list with no overlap.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{Harness, Run, numbered_site};
use serde_json::Value;

const FILES: usize = 12;
const THREE: &[&str] = &["--env", "shop-a", "--env", "shop-b", "--env", "shop-c"];

/// `deploy --dir DIR ARGS… --json` against `h`.
async fn deploy(h: &Harness, dir: &Path, args: &[&str]) -> Run {
    let mut line = vec!["deploy", "--dir", dir.to_str().expect("utf-8"), "--json"];
    line.extend_from_slice(args);
    h.run(&line).await
}

/// The JSON lines a run printed, by environment.
fn lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {run:?}")))
        .collect()
}

fn envs_of(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .map(|l| l["env"].as_str().expect("env").to_owned())
        .collect()
}

/// Dates `paths` `hours` back, as a build finished long before the deploy: a manifest
/// trusts only stats older than its own saving.
fn settle(paths: impl IntoIterator<Item = PathBuf>, hours: u64) {
    let past = SystemTime::now() - Duration::from_secs(3600 * hours);
    for path in paths {
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_modified(past).expect("set mtime");
    }
}

#[tokio::test]
async fn one_build_reaches_every_environment_and_is_hashed_once() {
    let h = Harness::start().await;
    let site = numbered_site(FILES);
    settle(common::files_below(site.path()), 2);
    let envs = ["shop-a", "shop-b", "shop-c"];
    for env in envs {
        h.create_store(env).await;
    }
    let run = deploy(&h, site.path(), THREE).await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines = lines(&run);
    assert_eq!(envs_of(&lines), envs.map(str::to_owned).into());
    for line in &lines {
        assert_eq!(line["uploaded"], FILES, "{line}");
    }
    assert_eq!(
        lines_hashed(&run),
        FILES as u64,
        "each file is read once for all environments"
    );
    for env in envs {
        h.assert_numbered_online(env, FILES);
    }
    assert_eq!(h.emulator.counters().puts, (FILES * envs.len()) as u64);

    // A redeploy after one file changed: one link and one PUT per environment.
    let changed = site.path().join("f003.txt");
    std::fs::write(&changed, "changed").expect("write");
    settle([changed], 1);
    let puts = h.emulator.counters().puts;
    let links = h.api_calls(common::LINK);
    let run = deploy(&h, site.path(), THREE).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(h.emulator.counters().puts - puts, envs.len() as u64);
    assert_eq!(h.api_calls(common::LINK) - links, envs.len() as u64);
    let hashed: u64 = lines_hashed(&run);
    assert_eq!(hashed, 1, "only the changed file is read, once");
    for env in envs {
        let online = h.emulator.object(env, "f003.txt").expect("online");
        assert_eq!(online.bytes, b"changed", "{env}");
    }
}

fn lines_hashed(run: &Run) -> u64 {
    lines(run)
        .iter()
        .map(|l| l["hashed"].as_u64().expect("hashed"))
        .sum()
}

#[tokio::test]
async fn an_envs_file_lists_the_environments_and_its_summary_counts_them() {
    let h = Harness::start().await;
    let site = numbered_site(FILES);
    for env in ["shop-a", "shop-b"] {
        h.create_store(env).await;
    }
    let list = h.state.path().join("envs.txt");
    std::fs::write(&list, "# merchants\nshop-a\n\n  shop-b   # the second\n").expect("write");
    let run = h
        .run(&[
            "deploy",
            "--dir",
            site.path().to_str().expect("utf-8"),
            "--envs-file",
            list.to_str().expect("utf-8"),
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("shop-a: uploaded 12 files"), "{run:?}");
    assert!(run.stdout.contains("shop-b: uploaded 12 files"), "{run:?}");
    assert!(
        run.stdout
            .contains("2 of 2 environments done, 0 failed: 24 files"),
        "{run:?}"
    );
    assert!(run.stdout.contains("12 hashed"), "{run:?}");
}

#[tokio::test]
async fn a_bad_or_repeated_id_is_refused_by_its_line_before_any_call() {
    let h = Harness::start().await;
    let site = numbered_site(1);
    let list = h.state.path().join("envs.txt");
    for (text, line, cause) in [
        ("shop-a\n# next\nshop_b\n", 3, "shop_b"),
        ("shop-a\nshop-b\nshop-a\n", 3, "listed twice"),
    ] {
        std::fs::write(&list, text).expect("write");
        let run = deploy(
            &h,
            site.path(),
            &["--envs-file", list.to_str().expect("utf-8")],
        )
        .await;
        assert_eq!(run.code, 2, "{run:?}");
        let error = run.error_line();
        assert!(error.contains(&format!("envs.txt:{line}:")), "{error}");
        assert!(error.contains(cause), "{error}");
    }
    let calls: u64 = h.emulator.counters().api_calls.values().sum();
    assert_eq!(calls, 0, "nothing is sent for a bad list");
}

#[tokio::test]
async fn a_refused_environment_is_reported_and_the_others_go_on() {
    let h = Harness::with(|options| options.envs_without_cloud_dev = vec!["shop-x".into()]).await;
    let site = numbered_site(FILES);
    for env in ["shop-a", "shop-b"] {
        h.create_store(env).await;
    }
    // shop-x may not use cloud development; shop-y has no static website.
    let args = [
        "--env", "shop-a", "--env", "shop-x", "--env", "shop-y", "--env", "shop-b",
    ];
    let run = deploy(&h, site.path(), &args).await;
    assert_eq!(run.code, 1, "{run:?}");
    let lines = lines(&run);
    assert_eq!(lines.len(), 4, "{run:?}");
    for line in &lines {
        match line["env"].as_str() {
            Some("shop-x") => {
                let error = line["error"].as_str().expect("error");
                assert!(error.contains("85088"), "{line}");
                assert_eq!(line["exit_code"], 3, "{line}");
            }
            Some("shop-y") => {
                let error = line["error"].as_str().expect("error");
                assert!(error.contains("no static website"), "{line}");
                assert_eq!(line["exit_code"], 2, "{line}");
            }
            _ => assert_eq!(line["uploaded"], FILES, "{line}"),
        }
    }
    h.assert_numbered_online("shop-a", FILES);
    h.assert_numbered_online("shop-b", FILES);
    let error = run.error_line();
    assert!(error.contains("2 of 4 environments failed"), "{error}");
}

#[tokio::test]
async fn a_refusal_every_environment_would_meet_stops_the_rollout() {
    let h = Harness::start().await;
    let site = numbered_site(FILES);
    for env in ["shop-a", "shop-b", "shop-c"] {
        h.create_store(env).await;
    }
    let dir = site.path().to_str().expect("utf-8");
    let args = [
        "deploy", "--dir", dir, "--env", "shop-a", "--env", "shop-b", "--env", "shop-c",
    ];
    let mut vars = h.vars();
    vars.push(("TCB_COMPONENT_APPSECRET".into(), "wrong".into()));
    let run = common::run_tool(&args, &vars).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.error_line().contains("40125"), "{run:?}");
    assert_eq!(h.emulator.counters().puts, 0);
}

#[tokio::test]
async fn shards_split_the_environments_with_no_overlap() {
    let h = Harness::start().await;
    let site = numbered_site(2);
    let envs: Vec<String> = (0..8).map(|i| format!("shop-{i}")).collect();
    let mut args = Vec::new();
    for env in &envs {
        h.create_store(env).await;
        args.extend(["--env", env.as_str()]);
    }
    let mut seen = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let mut line = args.clone();
        line.extend(["--shard", shard]);
        let run = deploy(&h, site.path(), &line).await;
        assert_eq!(run.code, 0, "{run:?}");
        seen.extend(envs_of(&lines(&run)));
    }
    seen.sort();
    assert_eq!(seen, envs, "every environment in exactly one shard");
    for env in &envs {
        h.assert_numbered_online(env, 2);
    }
}
