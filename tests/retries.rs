//! The retry policy as a user meets it: `retry_attempts` bounds the tries, and a storm of
//! overload answers makes the deploy send fewer uploads at once.

mod common;

use common::{Harness, run_tool};

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

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_server_errors_halves_the_uploads_in_flight() {
    let h = Harness::with(|o| o.faults.put_error_rate = 1.0).await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..40 {
        std::fs::write(dir.path().join(format!("f{i:02}.txt")), format!("{i}")).expect("write");
    }
    let mut vars = h.vars();
    vars.push(("TCB_RETRY_ATTEMPTS".into(), "2".into()));
    let dir_arg = dir.path().to_str().expect("utf-8");
    let args = ["deploy", "--env", "site", "--dir", dir_arg, "--json"];
    let run = run_tool(&[&args[..], &["--concurrency", "8"]].concat(), &vars).await;
    assert_eq!(run.code, 1, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
    assert_eq!(report["failed"], 40, "{run:?}");
    let reason = report["failures"][0]["error"].as_str().expect("reason");
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(reason.contains("gave up after 2 tries"), "{reason}");
    assert!(
        run.stderr
            .contains("the service is overloaded; fewer uploads at once from=8 to=4"),
        "{run:?}"
    );
    assert!(run.stderr.contains("from=4 to=2"), "{run:?}");
    assert_eq!(h.emulator.counters().puts, 80, "two tries for each file");
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
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..30 {
        std::fs::write(dir.path().join(format!("f{i:02}.txt")), format!("{i}")).expect("write");
    }
    let dir_arg = dir.path().to_str().expect("utf-8");
    let args = ["deploy", "--env", "site", "--dir", dir_arg, "--json"];
    let run = run_tool(&[&args[..], &["--concurrency", "1"]].concat(), &h.vars()).await;
    assert_eq!(run.code, 0, "{run:?}");
    let renewals = h.api_calls("cgi-bin/component/api_component_token");
    assert!(
        renewals > 5,
        "tokens were renewed, some renewals failed: {renewals}"
    );
    for i in 0..30 {
        let key = format!("f{i:02}.txt");
        let online = h.emulator.object("site", &key).expect("online");
        assert_eq!(online.bytes, format!("{i}").as_bytes(), "{key}");
    }
}
