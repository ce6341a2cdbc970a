//! Every `errcode` of the API pages, and answers that are not the API's, reach the user as a
//! one-line message naming the cause and the fix, with the documented exit code.

mod common;

use common::{Harness, canned, canned_vars, run_tool};

/// (errcode, text the message must contain, exit code)
const ERRCODES: &[(i64, &str, i32)] = &[
    (-1, "try again later", 4),
    (-1000, "try again later", 4),
    (40001, "refused", 3),
    (40014, "refused", 3),
    (40097, "rejected an argument", 2),
    (40101, "required argument was missing", 2),
    (41001, "configure a token source", 3),
    (42001, "refused", 3),
    (43002, "bug in tcb-deploy", 4),
    (44002, "bug in tcb-deploy", 4),
    (45009, "daily API quota", 4),
    (47001, "bug in tcb-deploy", 4),
    (61004, "IP whitelist", 3),
    (61005, "verify ticket", 3),
    (61006, "verify ticket", 3),
    (85088, "cloud-development privilege", 3),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_errcode_reaches_the_user_with_advice_and_exit_code() {
    for &(code, advice, exit) in ERRCODES {
        let body = format!(r#"{{"errcode":{code},"errmsg":"canned message"}}"#);
        let addr = canned(200, "application/json", &body).await;
        let run = run_tool(&["status", "--env", "e1"], &canned_vars(addr)).await;
        assert_eq!(run.code, exit, "errcode {code}: {run:?}");
        let line = run.error_line();
        assert!(
            line.contains(&format!("errcode {code}")),
            "errcode {code}: {line}"
        );
        assert!(line.contains("canned message"), "errcode {code}: {line}");
        assert!(line.contains(advice), "errcode {code}: {line}");
        assert!(!run.stderr.contains("panicked"), "errcode {code}: {run:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_token_that_is_refused_says_where_it_came_from() {
    let h = Harness::start().await;
    let mut vars = h.vars();
    vars.retain(|(k, _)| !k.starts_with("TCB_COMPONENT") && !k.starts_with("TCB_AUTHORIZER"));
    vars.push(("TCB_ACCESS_TOKEN".into(), "not-a-real-token".into()));
    let run = run_tool(&["status", "--env", "e1"], &vars).await;
    assert_eq!(run.code, 3, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("TCB_ACCESS_TOKEN"), "{line}");
    assert!(line.contains("40014"), "{line}");
    assert!(!run.output().contains("not-a-real-token"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_env_without_cloud_development_is_a_permission_error() {
    let h = Harness::with(|o| o.envs_without_cloud_dev = vec!["noqbase".into()]).await;
    let run = h.run(&["status", "--env", "noqbase"]).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.error_line().contains("85088"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_service_is_retried_then_reported() {
    let h = Harness::with(|o| o.faults.api_error_rate = 1.0).await;
    let run = h.run(&["status", "--env", "busy"]).await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.error_line().contains("errcode -1"), "{run:?}");
    // One token fetch, then four tries of the call itself: all answered -1.
    let calls = h.api_calls("cgi-bin/component/api_component_token")
        + h.api_calls("componenttcb/describestaticstore");
    assert!(calls >= 4, "{calls} calls");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_html_page_from_a_proxy_shows_status_and_the_start_of_the_body() {
    let addr = canned(
        502,
        "text/html",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    )
    .await;
    let run = run_tool(&["status", "--env", "e1"], &canned_vars(addr)).await;
    assert_eq!(run.code, 4, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("HTTP 502"), "{line}");
    assert!(line.contains("<h1>502 Bad Gateway</h1>"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_body_is_reported_as_not_json() {
    let addr = canned(200, "application/json", "").await;
    let run = run_tool(&["status", "--env", "e1"], &canned_vars(addr)).await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.error_line().contains("not JSON"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrongly_typed_answer_is_reported_not_panicked() {
    let addr = canned(200, "application/json", r#"{"errcode":0,"data":"oops"}"#).await;
    let run = run_tool(&["status", "--env", "e1"], &canned_vars(addr)).await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.error_line().contains("unexpected shape"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_before_any_call() {
    let addr = canned(200, "application/json", r#"{"errcode":0}"#).await;
    let vars = canned_vars(addr);
    let cases: &[(&[&str], &str)] = &[
        (&["status"], "no environment id given"),
        (&["status", "--env", "../etc"], "invalid env"),
        (
            &["share", "--env", "e1", "--appid", "bad appid"],
            "invalid appid",
        ),
    ];
    for (args, message) in cases {
        let run = run_tool(args, &vars).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.error_line().contains(message), "{args:?}: {run:?}");
    }
    let run = run_tool(
        &["status", "--env", "e1"],
        &common::vars(&[("TCB_API_BASE", "http://api.example.com")]),
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.error_line().contains("use https"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_file_names_the_line_and_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("deploy.toml");
    std::fs::write(&file, "env = \"a\"\napi_bsae = \"local\"\n").expect("write");
    let run = run_tool(&["--config", file.to_str().expect("utf-8"), "status"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.error_line()
            .contains("unknown key `api_bsae`; did you mean `api_base`?"),
        "{run:?}"
    );

    std::fs::write(&file, "env = \"a\"\nenv = \n").expect("write");
    let run = run_tool(&["--config", file.to_str().expect("utf-8"), "status"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.error_line().contains("deploy.toml:2:"), "{run:?}");

    let run = run_tool(&["--config", "/nonexistent/deploy.toml", "status"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.error_line().contains("cannot read config file"),
        "{run:?}"
    );
}
