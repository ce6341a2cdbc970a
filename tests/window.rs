//! The upload window as a user sees it: how wide it grew, in the report, and that it stays
//! within `--concurrency`, or at it with `--fixed-concurrency`; and the connections a deploy
//! opens, about one per upload in flight; and a service that admits few at once narrowing it.

mod common;

use std::time::Duration;

use common::{Harness, numbered_site};

/// Deploys a fresh site of `files` files with `args`; the window the report gives, once every
/// file is online byte-identical.
async fn window_of(h: &Harness, env: &str, files: usize, args: &[&str]) -> u64 {
    h.create_store(env).await;
    let dir = numbered_site(files);
    let mut args = args.to_vec();
    args.push("--json");
    let run = h.deploy(env, dir.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], files, "{report}");
    h.assert_numbered_online(env, files);
    let window = report["window"].as_u64().expect("a window");
    // Connections are kept alive between files: at most a few more than the uploads in flight
    // at once, never one per request (two a file).
    let connections = report["connections"].as_u64().expect("connections");
    assert!(
        (1..=2 * window).contains(&connections),
        "{connections} connections for a window of {window}"
    );
    window
}

#[tokio::test(flavor = "multi_thread")]
async fn a_far_service_widens_the_window_within_its_ceiling() {
    let h = Harness::with(|o| {
        o.faults.api_latency = Duration::from_millis(50);
        o.faults.put_latency = Duration::from_millis(50);
    })
    .await;
    // Each round of uploads takes the path's time whatever its width: the window doubles.
    let wide = window_of(&h, "far", 300, &[]).await;
    assert!((32..=64).contains(&wide), "{wide}");
    let capped = window_of(&h, "capped", 300, &["--concurrency", "12"]).await;
    assert!((9..=12).contains(&capped), "{capped}");
    let fixed = window_of(
        &h,
        "fixed",
        40,
        &["--concurrency", "5", "--fixed-concurrency"],
    )
    .await;
    assert_eq!(fixed, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_admitting_few_at_once_narrows_the_window_and_loses_nothing() {
    let h = Harness::with(|o| {
        o.faults.api_latency = Duration::from_millis(20);
        o.faults.put_latency = Duration::from_millis(20);
        o.faults.max_inflight = Some(6);
    })
    .await;
    h.create_store("site").await;
    let dir = numbered_site(200);
    let before = h.emulator.counters();
    let run = h.deploy("site", dir.path(), &["-v", "--json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["uploaded"], 200);
    h.assert_numbered_online("site", 200);
    assert!(
        run.stderr
            .contains("the service asks to slow down; fewer uploads at once"),
        "{}",
        run.stderr
    );
    let after = h.emulator.counters();
    assert!(after.peak_inflight <= 6, "{after:?}");
    // The first wave of 16 meets the limit; after that the window stays near it.
    let refused = after.refused_overload - before.refused_overload;
    let requests = (after.puts - before.puts) + 200;
    assert!(
        refused * 4 <= requests,
        "{refused} of about {requests} requests refused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_says_how_wide_the_window_grew() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = numbered_site(3);
    let run = h
        .deploy(
            "site",
            dir.path(),
            &["--concurrency", "2", "--fixed-concurrency"],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("site: uploaded 3 files (3 B) in ")
            && run.stdout.contains(" s (window 2), 0 unchanged"),
        "{}",
        run.stdout
    );
    let plan = h
        .deploy("site", dir.path(), &["--dry-run", "--json"], &[])
        .await;
    let plan = plan.json();
    assert!(plan.get("window").is_none(), "{plan}");
    assert!(plan.get("connections").is_none(), "{plan}");
}
