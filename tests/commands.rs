//! The single-endpoint commands against the emulator, through the real binary: what a person
//! sees on the terminal, and the exit code a script sees.

mod common;

use common::daemon::Daemon;
use common::{Harness, free_port, http_post, run_tool, vars};
use tcb_deploy::emulator;

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
    let report = run.json();
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
    let envs = run.json();
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
    let report = run.json();
    assert_eq!(report["confirmations"][0]["appid"], good);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn share_always_sends_a_source_type_zero_unless_told_otherwise() {
    let h = Harness::start().await;
    h.create_store("shared").await;
    let good = "wx0123456789abcdef";
    // The emulator refuses a share without `source_type` (40101) and writes the one it received
    // into its confirmation URL.
    let run = h.run(&["share", "--env", "shared", "--appid", good]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with(good) && run.stdout.contains("&source_type=0\n"),
        "{run:?}"
    );

    let run = h
        .run(&[
            "share",
            "--env",
            "shared",
            "--appid",
            good,
            "--source-type",
            "1",
            "--json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let url = run.json()["confirmations"][0]["url"].clone();
    assert!(
        url.as_str().is_some_and(|u| u.ends_with("&source_type=1")),
        "{run:?}"
    );
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

/// No command prints a credential, even at trace level with every crate's logs on: not the
/// ones configured, not an access token, link token or link signature the emulator handed out,
/// and no URL with an unredacted `access_token`, `sign` or `q-signature`.
#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_secret_even_at_trace_level() {
    let h = Harness::start().await;
    h.create_store("quiet").await;
    let site = tempfile::tempdir().expect("temp dir");
    std::fs::write(site.path().join("index.html"), "<p>one</p>").expect("write");
    std::fs::write(site.path().join("app.js"), "let one = 1;").expect("write");
    let dir = site.path().to_str().expect("utf-8");
    let mut trace = h.vars();
    trace.push(("RUST_LOG".into(), "trace".into()));
    let mut printed: Vec<(String, String)> = Vec::new();

    for args in [
        vec!["deploy", "--env", "quiet", "--dir", dir],
        vec!["plan", "--env", "quiet", "--dir", dir, "--verify-remote"],
        vec!["status", "--env", "quiet"],
        vec!["create", "--env", "other", "--wait"],
        vec!["envs"],
        vec!["share", "--env", "quiet", "--appid", "wx0123456789abcdef"],
    ] {
        let run = run_tool(&args, &trace).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        printed.push((args.join(" "), run.output()));
    }
    // `-vv` is this crate's trace level only, in JSON lines this time.
    std::fs::write(site.path().join("app.js"), "let two = 2;").expect("write");
    let args = [
        "-vv",
        "--log-format",
        "json",
        "deploy",
        "--env",
        "quiet",
        "--dir",
        dir,
    ];
    let run = h.run(&args).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("uploaded"), "{run:?}");
    printed.push((args.join(" "), run.output()));

    // `watch`: the first cycle, one change, then a stop.
    let mut watch = Daemon::spawn(&["watch", "--env", "quiet", "--dir", dir], &trace, None);
    watch.wait_for(&["watching for changes"]).await;
    std::fs::write(site.path().join("app.js"), "let three = 3;").expect("write");
    watch.wait_for(&["uploaded", "app.js"]).await;
    watch.signal("TERM");
    let (code, output) = watch.finish().await;
    assert_eq!(code, 0, "{output}");
    printed.push(("watch".into(), output));

    let mut secrets: Vec<String> = [
        emulator::COMPONENT_APPSECRET,
        emulator::VERIFY_TICKET,
        emulator::AUTHORIZER_REFRESH_TOKEN,
    ]
    .map(String::from)
    .to_vec();
    let issued = h.emulator.issued_credentials();
    // Component and authorizer tokens, and for each upload a link token and a signature.
    assert!(issued.len() >= 8, "{issued:?}");
    secrets.extend(issued);

    // `emulator`, as a process: its own logs, while it hands out a token and an upload link.
    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = data.path().to_str().expect("utf-8");
    let quiet_vars = vars(&[("RUST_LOG", "trace")]);
    let mut emulator = Daemon::spawn(
        &["emulator", "--addr", "127.0.0.1:0", "--data", data_dir],
        &quiet_vars,
        None,
    );
    let listening = emulator
        .wait_for(&["emulator listening", "api_base="])
        .await;
    let base = listening
        .split("api_base=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address");
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let token = common::component_token(addr).await;
    let with_token = |path: &str| format!("{path}?access_token={token}");
    http_post(
        addr,
        &with_token("/componenttcb/createstaticstore"),
        r#"{"env":"proc"}"#,
    )
    .await;
    let link: serde_json::Value = serde_json::from_str(
        &http_post(
            addr,
            &with_token("/componenttcb/staticuploadfile"),
            r#"{"env":"proc","filename":"a.js"}"#,
        )
        .await,
    )
    .expect("JSON");
    let signed_url = link["signed_url"].as_str().expect("a link");
    let signature = signed_url
        .split("q-signature%3D")
        .nth(1)
        .expect("a signature");
    secrets.extend([
        token.to_owned(),
        link["token"].as_str().expect("a link token").to_owned(),
        signature.to_owned(),
    ]);
    emulator.signal("TERM");
    let (code, output) = emulator.finish().await;
    assert_eq!(code, 0, "{output}");
    printed.push(("emulator".into(), output));

    for (command, output) in &printed {
        for secret in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "{command} printed {secret}"
            );
        }
        assert_eq!(unredacted(output), None, "{command} printed a credential");
    }
}

#[test]
fn the_leak_finder_finds_credentials_and_passes_redacted_ones() {
    let redacted =
        "url=http://h/p?access_token=[redacted]&env=e sign=[redacted] x-cos-security-token";
    assert_eq!(unredacted(redacted), None);
    for leak in [
        "calling http://h/p?access_token=abc123&env=e",
        "PUT http://h/b/k?sign=q-sign-algorithm%3Dsha1%26q-signature%3Ddeadbeef",
        "x-cos-security-token: 0a1b2c",
        r#"{"x-cos-security-token":"0a1b2c"}"#,
    ] {
        assert!(unredacted(leak).is_some(), "{leak}");
    }
}

/// The first credential-bearing parameter or header in `text` whose value is not redacted.
fn unredacted(text: &str) -> Option<String> {
    for name in [
        "access_token=",
        "sign=",
        "q-signature=",
        "q-signature%3D",
        "x-cos-security-token",
    ] {
        for (at, _) in text.match_indices(name) {
            let value = text[at + name.len()..].trim_start_matches([':', '=', ' ', '"', '\\']);
            let redacted = value.starts_with("[redacted]");
            if !redacted && value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return Some(text[at..].chars().take(60).collect());
            }
        }
    }
    None
}
