//! The JSON API: each endpoint's happy path and each validation errcode.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::Harness;
use super::tokens::component_token;

const DESCRIBE: &str = "componenttcb/describestaticstore";
const UPLOAD: &str = "componenttcb/staticuploadfile";

#[tokio::test]
async fn store_is_processing_then_online() {
    let h = Harness::start_with(|o| o.create_delay = Duration::from_secs(2)).await;
    let empty = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    assert_eq!(empty, json!({"errcode": 0, "errmsg": "ok", "Data": []}));

    h.create_store("demo").await;
    let answer = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    let port = h.emu.addr().port();
    let expected = json!({"errcode": 0, "errmsg": "ok", "Data": [{
        "env": "demo",
        "domain": format!("demo.localhost:{port}"),
        "bucket": "emu-static-demo",
        "regoin": "emulator-local",
        "status": "processing",
    }]});
    assert_eq!(answer, expected);

    h.emu.advance_clock(Duration::from_secs(3));
    let answer = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    assert_eq!(answer["Data"][0]["status"], "online");
    // Creating again is fine and changes nothing.
    h.create_store("demo").await;
    let again = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    assert_eq!(again, answer);
}

#[tokio::test]
async fn upload_link_has_the_service_shape() {
    let h = Harness::start_with(|o| o.create_delay = Duration::from_secs(60)).await;
    h.create_store("demo").await;
    // Still processing: links are handed out all the same.
    let (url, token) = h.link("demo", "dir/a b+é.html").await;
    let prefix = format!(
        "{}/emu-static-demo/dir/a%20b%2B%C3%A9.html?sign=q-sign-algorithm%3Dsha1%26q-ak%3DAKIDemulator%26q-sign-time%3D",
        h.emu.base_url()
    );
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.contains("%26q-header-list%3D%26q-url-param-list%3D%26q-signature%3D"));
    assert!(token.len() >= 64);
    let (_, other) = h.link("demo", "dir/a b+é.html").await;
    assert_ne!(token, other, "a fresh token per link");
}

#[tokio::test]
async fn upload_link_needs_a_store() {
    let h = Harness::start().await;
    let answer = h
        .dev(UPLOAD, json!({"env": "demo", "filename": "index.html"}))
        .await;
    assert_eq!(
        answer,
        json!({"errcode": 40097, "errmsg": "static store not created"})
    );
}

#[tokio::test]
async fn bad_filenames_are_invalid_args() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let long = "a".repeat(1025);
    for bad in [
        "",
        "/index.html",
        "a/../b",
        "..",
        "a\\b",
        "a\u{1}b",
        long.as_str(),
    ] {
        let answer = h.dev(UPLOAD, json!({"env": "demo", "filename": bad})).await;
        assert_eq!(answer["errcode"], 40097, "{bad:?}: {answer}");
    }
    let wrong_type = h.dev(UPLOAD, json!({"env": "demo", "filename": 7})).await;
    assert_eq!(wrong_type["errcode"], 40097);
    let bad_env = h
        .dev(UPLOAD, json!({"env": "Demo!", "filename": "a"}))
        .await;
    assert_eq!(bad_env["errcode"], 40097);
}

#[tokio::test]
async fn validation_errcodes_in_order() {
    let h = Harness::start_with(|o| o.envs_without_cloud_dev = vec!["nocloud".into()]).await;
    let path = format!("/{DESCRIBE}");
    let cases: [(Method, String, &'static str, i64); 9] = [
        (Method::GET, format!("{path}?access_token=x"), "", 43002),
        (Method::POST, path.clone(), r#"{"env":"a"}"#, 41001),
        (
            Method::POST,
            format!("{path}?access_token="),
            r#"{"env":"a"}"#,
            41001,
        ),
        (
            Method::POST,
            format!("{path}?access_token=nope"),
            r#"{"env":"a"}"#,
            40014,
        ),
        (
            Method::POST,
            format!("{path}?access_token=emulator-dev-token"),
            "",
            44002,
        ),
        (
            Method::POST,
            format!("{path}?access_token=emulator-dev-token"),
            "{env",
            47001,
        ),
        (
            Method::POST,
            format!("{path}?access_token=emulator-dev-token"),
            "[1]",
            47001,
        ),
        (
            Method::POST,
            format!("{path}?access_token=emulator-dev-token"),
            "{}",
            40101,
        ),
        (
            Method::POST,
            format!("{path}?access_token=emulator-dev-token"),
            r#"{"env":1}"#,
            40097,
        ),
    ];
    for (method, uri, body, errcode) in cases {
        let (status, answer) = h.raw(method, &uri, body).await;
        assert_eq!(
            (status, &answer["errcode"]),
            (200, &json!(errcode)),
            "{uri} {body}"
        );
        assert!(answer["errmsg"].is_string());
    }

    let nocloud = h.dev(DESCRIBE, json!({"env": "nocloud"})).await;
    assert_eq!(
        nocloud,
        json!({"errcode": 85088, "errmsg": "no qbase privilege"})
    );
    h.emu.add_env_without_cloud_dev("later");
    let later = h
        .dev(UPLOAD, json!({"env": "later", "filename": "a"}))
        .await;
    assert_eq!(later["errcode"], 85088);

    let token = component_token(&h).await;
    assert_eq!(
        h.call(DESCRIBE, &token, json!({"env": "a"})).await["errcode"],
        0
    );
    h.emu.expire_tokens();
    let expired = h.call(DESCRIBE, &token, json!({"env": "a"})).await;
    assert_eq!(
        expired,
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    );
    assert_eq!(
        h.dev(DESCRIBE, json!({"env": "a"})).await["errcode"],
        0,
        "dev token lives on"
    );

    let (status, unknown) = h.raw(Method::POST, "/componenttcb/nope", "{}").await;
    assert_eq!(
        (status, unknown),
        (404, json!({"errcode": 40066, "errmsg": "invalid url"}))
    );
}

#[tokio::test]
async fn batch_share_env_sorts_appids() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let body = json!({"source_type": 1, "data": [
        {"env": "demo", "appids": ["wx0123456789abcdef", "bad-appid"]},
        {"env": "nostore", "appids": ["wx0123456789abcdef"]},
    ]});
    let answer = h.dev("componenttcb/batchshareenv", body).await;
    let base = h.emu.base_url();
    let expected = json!({
        "errcode": 0,
        "errmsg": "ok",
        "err_list": [
            {"env": "demo", "appid": "bad-appid", "errmsg": "invalid appid"},
            {"env": "nostore", "appid": "wx0123456789abcdef", "errmsg": "env not found"},
        ],
        "msg_info_list": [{
            "appid": "wx0123456789abcdef",
            "url": format!(
                "{base}/_emulator/confirm-share?env=demo&appid=wx0123456789abcdef&source_type=1"
            ),
        }],
    });
    assert_eq!(answer, expected);
    let missing = h.dev("componenttcb/batchshareenv", json!({})).await;
    assert_eq!(missing["errcode"], 40101);
    let wrong = h
        .dev(
            "componenttcb/batchshareenv",
            json!({"source_type": 0, "data": "demo"}),
        )
        .await;
    assert_eq!(wrong["errcode"], 40097);
    let not_a_number = h
        .dev(
            "componenttcb/batchshareenv",
            json!({"source_type": "1", "data": []}),
        )
        .await;
    assert_eq!(not_a_number["errcode"], 40097);

    let page = h
        .http
        .get(format!("{base}/_emulator/confirm-share?env=demo&appid=<x>"))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("text").contains("&lt;x&gt;"));
}

#[tokio::test]
async fn batch_share_env_without_source_type_is_missing_a_parameter() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let body = json!({"data": [{"env": "demo", "appids": ["wx0123456789abcdef"]}]});
    let answer = h.dev("componenttcb/batchshareenv", body).await;
    assert_eq!(
        answer,
        json!({"errcode": 40101, "errmsg": "missing parameter"})
    );
}

#[tokio::test]
async fn emulator_pages() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let base = h.emu.base_url();
    let health: Value = h
        .http
        .get(format!("{base}/_emulator/health"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(health["service"], "tcb-deploy-emulator");
    assert!(health["version"].is_string());
    let counters: Value = h
        .http
        .get(format!("{base}/_emulator/counters"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["api_calls"]["componenttcb/createstaticstore"], 1);
    let index = h
        .http
        .get(format!("{base}/"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(index.contains(&h.emu.site_url("demo")), "{index}");
}
