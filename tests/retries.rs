//! The retry policy as a user meets it: `retry_attempts` bounds the tries, and a storm of
//! overload answers makes the deploy send fewer uploads at once.

mod common;

use std::path::Path;

use common::{Harness, LINK, Run, numbered_site, run_tool};

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

/// Deploys `dir` to the env `site` of `h` with `tries` tries per file (`retry_attempts`) and
/// `args` after the folder.
async fn deploy(h: &Harness, dir: &Path, tries: &str, args: &[&str]) -> Run {
    h.deploy("site", dir, args, &[("TCB_RETRY_ATTEMPTS", tries)])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_server_errors_halves_the_uploads_in_flight_then_stops_the_deploy() {
    let h = Harness::with(|o| o.faults.put_error_rate = 1.0).await;
    h.create_store("site").await;
    let dir = numbered_site(60);
    let run = deploy(&h, dir.path(), "2", &["--concurrency", "8"]).await;
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
    let dir = numbered_site(60);
    let run = deploy(&h, dir.path(), "1", &["--concurrency", "1", "--json"]).await;
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
    let dir = numbered_site(30);
    let run = deploy(&h, dir.path(), "8", &["--concurrency", "1", "--json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let renewals = h.api_calls("cgi-bin/component/api_component_token");
    assert!(
        renewals > 5,
        "tokens that expire every few calls were renewed: {renewals}"
    );
    h.assert_numbered_online("site", 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_expire_within_a_few_calls_do_not_stop_a_busy_deploy() {
    // Eight uploads at once use a token up in three calls: a renewal often hands out a token
    // that another upload's calls exhaust before this one's retry. Twenty tries, so that only
    // a refusal to renew again, not bad luck, can end the deploy.
    let h = Harness::with(|o| o.faults.token_lifetime_calls = Some(3)).await;
    h.create_store("site").await;
    let dir = numbered_site(60);
    let run = deploy(&h, dir.path(), "20", &["--concurrency", "8"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    h.assert_numbered_online("site", 60);
}

/// Deploys `dir` to the env `site` of `h` with default settings; returns the run and how long
/// it took.
async fn timed_deploy(h: &Harness, dir: &Path) -> (Run, std::time::Duration) {
    let started = std::time::Instant::now();
    let run = h.deploy("site", dir, &[], &[]).await;
    (run, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_permission_stops_the_deploy_at_once() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator
        .refuse(LINK, 61007, "api is unauthorized to component");
    let dir = numbered_site(40);
    let (run, took) = timed_deploy(&h, dir.path()).await;
    assert_eq!(run.code, 3, "{run:?}");
    let line = run.error_line();
    assert!(
        line.contains("errcode 61007 (api is unauthorized to component)"),
        "{line}"
    );
    assert!(line.contains("permission set"), "{line}");
    assert!(line.contains("ask the merchant's admin"), "{line}");
    assert_eq!(run.stderr.matches("error: ").count(), 1, "{run:?}");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    let links = h.api_calls(LINK);
    assert!(links <= 16, "{links} link calls");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert_eq!(h.emulator.counters().puts, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_errcode_is_tried_a_little_then_stops_the_deploy() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator.refuse(LINK, 99999, "something new");
    let dir = numbered_site(40);
    let (run, took) = timed_deploy(&h, dir.path()).await;
    assert_eq!(run.code, 4, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("errcode 99999 (something new)"), "{line}");
    assert!(line.contains("3 calls in a row"), "{line}");
    assert!(line.contains("unknown to tcb-deploy"), "{line}");
    assert!(line.contains("please report it"), "{line}");
    assert!(!line.contains("busy"), "{line}");
    let links = h.api_calls(LINK);
    assert!(links <= 40, "{links} link calls");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_errcode_ends_a_command_after_three_tries() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator
        .refuse("componenttcb/describestaticstore", 99999, "something new");
    let run = h.run(&["status", "--env", "site"]).await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.error_line().contains("errcode 99999 (something new)"),
        "{run:?}"
    );
    assert_eq!(h.api_calls("componenttcb/describestaticstore"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_makes_at_most_its_tries_in_link_requests_and_in_puts() {
    // A link request is one of the file's tries, not a retry loop of its own; a PUT that failed
    // is tried again with the same link while it is fresh.
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator.refuse(LINK, -1, "system error");
    let dir = numbered_site(1);
    let run = deploy(&h, dir.path(), "3", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.error_line().contains("gave up after 3 tries"),
        "{run:?}"
    );
    assert_eq!(h.api_calls(LINK), 3);
    assert_eq!(h.emulator.counters().puts, 0);

    let h = Harness::with(|o| o.faults.put_error_rate = 1.0).await;
    h.create_store("site").await;
    let run = deploy(&h, dir.path(), "3", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.error_line().contains("HTTP 500"), "{run:?}");
    assert!(
        run.error_line().contains("gave up after 3 tries"),
        "{run:?}"
    );
    assert_eq!(h.emulator.counters().puts, 3);
    assert_eq!(
        h.api_calls(LINK),
        1,
        "the link lives 60 s: one serves every PUT"
    );

    // Links that live a second are asked for anew, and still no more than the tries.
    let h = Harness::with(|o| {
        o.faults.put_error_rate = 1.0;
        o.link_lifetime = std::time::Duration::from_secs(1);
    })
    .await;
    h.create_store("site").await;
    let run = deploy(&h, dir.path(), "3", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(h.emulator.counters().puts, 3);
    assert_eq!(h.api_calls(LINK), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn whatever_fails_a_file_costs_at_most_its_tries_in_links_and_puts() {
    let h = Harness::with(|o| {
        o.faults.api_error_rate = 0.4;
        o.faults.put_error_rate = 0.4;
        o.faults.seed = 5;
    })
    .await;
    h.create_store("site").await;
    let dir = numbered_site(20);
    let run = deploy(&h, dir.path(), "4", &["--concurrency", "4", "--json"]).await;
    let report = run.json();
    let (uploaded, failed) = (report["uploaded"].as_u64(), report["failed"].as_u64());
    assert_eq!(
        uploaded.zip(failed).map(|(u, f)| u + f),
        Some(20),
        "{run:?}"
    );
    let counters = h.emulator.counters();
    assert!(counters.api_calls[LINK] <= 20 * 4, "{counters:?}");
    assert!(counters.puts <= 20 * 4, "{counters:?}");
    assert!(
        counters.puts_stored as u64 >= uploaded.unwrap_or(0),
        "{counters:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_renewals_use_none_of_a_file_s_tries() {
    // Every token serves one call: each call is refused once and renewed. With one try a
    // file, the deploy succeeds only if a renewal is not a try.
    let h = Harness::with(|o| o.faults.token_lifetime_calls = Some(1)).await;
    h.create_store("site").await;
    let dir = numbered_site(10);
    let run = deploy(&h, dir.path(), "1", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    h.assert_numbered_online("site", 10);
    assert_eq!(h.emulator.counters().puts, 10);
    // Each upload link was refused once, then given.
    assert_eq!(h.api_calls(LINK), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_refused_again_after_every_renewal_is_renewed_a_bounded_number_of_times() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator.refuse(LINK, 40001, "invalid credential");
    let dir = numbered_site(1);
    let before = h.api_calls("cgi-bin/component/api_component_token");
    let run = deploy(&h, dir.path(), "3", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.error_line().contains("errcode 40001"), "{run:?}");
    // One call, renewed three times (`retry_attempts`), each renewal one token fetch.
    assert_eq!(h.api_calls(LINK), 4);
    let fetched = h.api_calls("cgi-bin/component/api_component_token") - before;
    assert!(fetched <= 4, "{fetched} token fetches");
}
