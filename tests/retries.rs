//! The retry policy as a user meets it: `retry_attempts` bounds the tries, and a storm of
//! overload answers makes the deploy send fewer uploads at once.

mod common;

use std::path::Path;

use common::{Harness, Run, run_tool};

#[tokio::test(flavor = "multi_thread")]
async fn retry_attempts_bounds_the_tries_of_a_call() {
    let h = Harness::with(|o| o.faults.api_error_rate = 1.0).await;
    let mut vars = h.vars();
    vars.push(("TCB_RETRY_ATTEMPTS".into(), "3".into()));
    let run = run_tool(&["status", "--env", "busy"], &vars).await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.error_line().contains("errcode -1"), "{run:?}");
    assert!(run.error_line().contains("try again later"), "{run:?}");
    // The token fetch is the call that fails: three tries, then the error.
    let calls = h.api_calls("cgi-bin/component/api_component_token")
        + h.api_calls("componenttcb/describestaticstore");
    assert_eq!(calls, 3, "{run:?}");
}

/// A site of `files` small files in a fresh folder.
fn site(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..files {
        std::fs::write(dir.path().join(format!("f{i:02}.txt")), format!("{i}")).expect("write");
    }
    dir
}

/// Every file of [`site`]`(files)` is online byte-identical.
fn assert_site_online(h: &Harness, files: usize) {
    for i in 0..files {
        let key = format!("f{i:02}.txt");
        let online = h.emulator.object("site", &key).expect("online");
        assert_eq!(online.bytes, format!("{i}").as_bytes(), "{key}");
    }
}

/// Deploys `dir` to the env `site` of `h` with `tries` tries per file and `concurrency`
/// uploads at once, `--json` when asked.
async fn deploy(h: &Harness, dir: &Path, tries: &str, concurrency: &str, json: bool) -> Run {
    let mut vars = h.vars();
    vars.push(("TCB_RETRY_ATTEMPTS".into(), tries.into()));
    let dir = dir.to_str().expect("utf-8");
    let mut args = vec![
        "deploy",
        "--env",
        "site",
        "--dir",
        dir,
        "--concurrency",
        concurrency,
    ];
    if json {
        args.push("--json");
    }
    run_tool(&args, &vars).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_server_errors_halves_the_uploads_in_flight_then_stops_the_deploy() {
    let h = Harness::with(|o| o.faults.put_error_rate = 1.0).await;
    h.create_store("site").await;
    let dir = site(60);
    let run = deploy(&h, dir.path(), "2", "8", false).await;
    assert!(
        run.stderr
            .contains("the service is overloaded; fewer uploads at once  from=8 to=4"),
        "{run:?}"
    );
    assert!(run.stderr.contains("from=4 to=2"), "{run:?}");
    assert_eq!(run.code, 4, "{run:?}");
    let line = run.error_line();
    assert!(
        line.contains("16 files in a row gave up after retries"),
        "{line}"
    );
    assert!(line.contains("HTTP 500"), "{line}");
    assert!(line.contains("gave up after 2 tries"), "{line}");
    assert!(line.contains("try again later"), "{line}");
    let puts = h.emulator.counters().puts;
    assert!(
        (32..60).contains(&puts),
        "stopped early, two tries a file: {puts} PUTs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_file_breaks_the_streak_of_a_failing_service() {
    // Every other PUT fails, one try each: no 16 failures in a row, so every file is tried.
    let h = Harness::with(|o| {
        o.faults.put_error_rate = 0.5;
        o.faults.seed = 2;
    })
    .await;
    h.create_store("site").await;
    let dir = site(60);
    let run = deploy(&h, dir.path(), "1", "1", true).await;
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    let (uploaded, failed) = (report["uploaded"].as_u64(), report["failed"].as_u64());
    assert_eq!(
        uploaded.zip(failed).map(|(u, f)| u + f),
        Some(60),
        "{run:?}"
    );
    assert_eq!(h.emulator.counters().puts, 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_token_endpoint_during_a_renewal_is_retried_not_fatal() {
    // Tokens expire every 5 calls and a third of all API calls answer -1, renewals included.
    let h = Harness::with(|o| {
        o.faults.token_lifetime_calls = Some(5);
        o.faults.api_error_rate = 0.3;
        o.faults.seed = 11;
    })
    .await;
    h.create_store("site").await;
    let dir = site(30);
    let run = deploy(&h, dir.path(), "8", "1", true).await;
    assert_eq!(run.code, 0, "{run:?}");
    let renewals = h.api_calls("cgi-bin/component/api_component_token");
    assert!(
        renewals > 5,
        "tokens that expire every few calls were renewed: {renewals}"
    );
    assert_site_online(&h, 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_expire_within_a_few_calls_do_not_stop_a_busy_deploy() {
    // Eight uploads at once use a token up in three calls: a renewal often hands out a token
    // that another upload's calls exhaust before this one's retry. Twenty tries, so that only
    // a refusal to renew again, not bad luck, can end the deploy.
    let h = Harness::with(|o| o.faults.token_lifetime_calls = Some(3)).await;
    h.create_store("site").await;
    let dir = site(60);
    let run = deploy(&h, dir.path(), "20", "8", false).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_site_online(&h, 60);
}
