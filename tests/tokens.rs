//! Token sources and renewal, against the emulator.

mod common;

use std::sync::Arc;

use common::{Harness, connect, run_tool, vars};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_after_expiry_share_one_token_refresh() {
    let h = Harness::start().await;
    h.create_store("many").await;
    let connection = Arc::new(h.connect().await);
    connection
        .remote
        .describe_static_store("many")
        .await
        .expect("first call");
    let fetched = h.api_calls("cgi-bin/component/api_component_token");

    h.emulator.expire_tokens();
    let calls = (0..16).map(|_| {
        let connection = Arc::clone(&connection);
        tokio::spawn(async move { connection.remote.describe_static_store("many").await })
    });
    for call in calls {
        let store = call
            .await
            .expect("task")
            .expect("call succeeds after refresh");
        assert_eq!(store.expect("store").env, "many");
    }
    assert_eq!(
        h.api_calls("cgi-bin/component/api_component_token"),
        fetched + 1,
        "one refresh for sixteen callers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_file_is_read_again_when_it_changes() {
    let h = Harness::start().await;
    h.create_store("filed").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "not-valid\n").expect("write");
    let vars = vars(&[
        ("TCB_API_BASE", &h.emulator.base_url()),
        ("TCB_TOKEN_FILE", token_file.to_str().expect("utf-8")),
    ]);
    let connection = connect(&vars).await;
    let err = connection
        .remote
        .describe_static_store("filed")
        .await
        .expect_err("an invalid token is refused");
    assert!(err.to_string().contains("token_file"), "{err}");

    // Another service writes a valid token: the next call picks it up without a restart.
    std::fs::write(
        &token_file,
        format!("{}\n", tcb_deploy::emulator::DEV_ACCESS_TOKEN),
    )
    .expect("write");
    let store = connection
        .remote
        .describe_static_store("filed")
        .await
        .expect("the new token works");
    assert_eq!(store.expect("store").env, "filed");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_command_output_is_the_token() {
    let h = Harness::start().await;
    h.create_store("cmd").await;
    let good = format!("echo {}", tcb_deploy::emulator::DEV_ACCESS_TOKEN);
    let run = run_tool(
        &["status", "--env", "cmd"],
        &vars(&[
            ("TCB_API_BASE", &h.emulator.base_url()),
            ("TCB_TOKEN_COMMAND", &good),
        ]),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
}
