//! The single-endpoint commands against the emulator, through the real binary: what a person
//! sees on the terminal, and the exit code a script sees.

mod common;

use common::{Harness, run_tool, vars};

#[tokio::test(flavor = "multi_thread")]
async fn create_wait_then_status_shows_the_site_online() {
    let h = Harness::start().await;
    let run = h.run(&["create", "--env", "demo-1", "--wait"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let url = h.emulator.site_url("demo-1");
    assert!(
        run.stdout.contains(&format!("demo-1 is online at {url}")),
        "{run:?}"
    );
    // The store went through `processing` on the way, so --wait really waited.
    assert!(run.stderr.contains("processing"), "{run:?}");

    let run = h.run(&["status", "--env", "demo-1"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("status  online"), "{run:?}");
    assert!(run.stdout.contains(&format!("url     {url}")), "{run:?}");

    let run = h.run(&["status", "--env", "demo-1", "--json"]).await;
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["status"], "online");
    assert_eq!(report["url"], url.as_str());
    assert_eq!(report["env"], "demo-1");
    assert!(report["bucket"].as_str().is_some_and(|b| !b.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_wait_gives_up_after_the_timeout() {
    let h = Harness::with(|o| o.create_delay = std::time::Duration::from_secs(3600)).await;
    let run = h
        .run(&["create", "--env", "slow", "--wait", "--timeout", "1"])
        .await;
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.error_line().contains("still processing"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn envs_lists_environments_through_the_authorizer_token() {
    let h = Harness::start().await;
    h.create_store("alpha").await;
    h.create_store("beta").await;
    let run = h.run(&["envs"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("ENV "), "{run:?}");
    assert!(lines.iter().any(|l| l.starts_with("alpha ")), "{run:?}");
    assert!(lines.iter().any(|l| l.starts_with("beta ")), "{run:?}");
    assert_eq!(h.api_calls("cgi-bin/component/api_authorizer_token"), 1);

    let run = h.run(&["envs", "--env", "beta", "--json"]).await;
    let envs: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(envs.as_array().map(Vec::len), Some(1), "{run:?}");
    assert_eq!(envs[0]["env"], "beta");
}

#[tokio::test(flavor = "multi_thread")]
async fn share_prints_each_confirmation_url_and_fails_on_a_bad_appid() {
    let h = Harness::start().await;
    h.create_store("shared").await;
    let good = "wx0123456789abcdef";
    let run = h
        .run(&[
            "share", "--env", "shared", "--appid", good, "--appid", "wxnothex",
        ])
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    let confirm = run
        .stdout
        .lines()
        .find(|l| l.starts_with(good))
        .unwrap_or_else(|| panic!("no line for {good}: {run:?}"));
    assert!(confirm.contains("confirm at http://"), "{confirm}");
    assert!(run.stderr.contains("wxnothex"), "{run:?}");
    assert!(run.stderr.contains("invalid appid"), "{run:?}");

    let run = h
        .run(&["share", "--env", "shared", "--appid", good, "--json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["confirmations"][0]["appid"], good);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_emulator_needs_no_account() {
    let state = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let vars = vars(&[
        ("TCB_API_BASE", "local"),
        ("TCB_EMULATOR_ADDR", &format!("127.0.0.1:{port}")),
        ("TCB_STATE_DIR", &state.path().display().to_string()),
        ("TCB_ENV", "try-it"),
    ]);
    let run = run_tool(&["create", "--wait"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    // A second process finds the store the first one created: the data lives in the state dir.
    let run = run_tool(&["status"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("status  online"), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("http://try-it.localhost:{port}/")),
        "{run:?}"
    );
    let run = run_tool(&["envs"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("try-it"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_emulator_on_port_0_is_reached_on_the_port_it_got() {
    let state = tempfile::tempdir().expect("temp dir");
    let vars = vars(&[
        ("TCB_API_BASE", "local"),
        ("TCB_EMULATOR_ADDR", "127.0.0.1:0"),
        ("TCB_STATE_DIR", &state.path().display().to_string()),
    ]);
    let run = run_tool(&["create", "--env", "anyport", "--wait"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("anyport is online at"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_mode_shares_an_emulator_that_already_runs() {
    let h = Harness::start().await;
    h.create_store("running").await;
    let vars = vars(&[
        ("TCB_API_BASE", "local"),
        ("TCB_EMULATOR_ADDR", &h.emulator.addr().to_string()),
        (
            "TCB_STATE_DIR",
            &h.state.path().join("elsewhere").display().to_string(),
        ),
    ]);
    let run = run_tool(&["status", "--env", "running"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(h.api_calls("componenttcb/describestaticstore") >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_never_show_a_token() {
    let h = Harness::start().await;
    h.create_store("quiet").await;
    let mut vars = h.vars();
    vars.push(("RUST_LOG".into(), "trace".into()));
    for args in [
        vec!["status", "--env", "quiet"],
        vec!["envs"],
        vec!["share", "--env", "quiet", "--appid", "wx0123456789abcdef"],
    ] {
        let run = run_tool(&args, &vars).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        let out = run.output();
        for secret in [
            tcb_deploy::emulator::COMPONENT_APPSECRET,
            tcb_deploy::emulator::VERIFY_TICKET,
            tcb_deploy::emulator::AUTHORIZER_REFRESH_TOKEN,
        ] {
            assert!(!out.contains(secret), "{args:?} printed {secret}");
        }
        assert!(
            !out.contains("access_token="),
            "{args:?} printed a token URL"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
