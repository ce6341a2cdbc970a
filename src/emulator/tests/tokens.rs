//! The token endpoints, and which token each call needs.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::super::{
    AUTHORIZER_APPID, AUTHORIZER_REFRESH_TOKEN, COMPONENT_APPID, COMPONENT_APPSECRET, VERIFY_TICKET,
};
use super::Harness;

const DESCRIBE: &str = "componenttcb/describestaticstore";

/// A fresh component access token, obtained as a client would.
pub(super) async fn component_token(h: &Harness) -> String {
    let url = format!("{}/cgi-bin/component/api_component_token", h.emu.base_url());
    let body = json!({
        "component_appid": COMPONENT_APPID,
        "component_appsecret": COMPONENT_APPSECRET,
        "component_verify_ticket": VERIFY_TICKET,
    });
    let answer = h.post_json(&url, body).await;
    assert_eq!(
        answer.get("errcode"),
        None,
        "success omits errcode: {answer}"
    );
    assert_eq!(answer["expires_in"], 7200);
    answer["component_access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// `api_authorizer_token` with `component` and `refresh`; the answer.
pub(super) async fn authorizer_call(h: &Harness, component: &str, refresh: &str) -> Value {
    let url = format!(
        "{}/cgi-bin/component/api_authorizer_token?component_access_token={component}",
        h.emu.base_url()
    );
    let body = json!({
        "component_appid": COMPONENT_APPID,
        "authorizer_appid": AUTHORIZER_APPID,
        "authorizer_refresh_token": refresh,
    });
    h.post_json(&url, body).await
}

#[tokio::test]
async fn tokens_expire_with_time() {
    let h = Harness::start().await;
    let token = component_token(&h).await;
    h.emu.advance_clock(Duration::from_secs(7200));
    let answer = h.call(DESCRIBE, &token, json!({"env": "a"})).await;
    assert_eq!(answer["errcode"], 42001);
}

#[tokio::test]
async fn token_endpoints_check_credentials() {
    let h = Harness::start().await;
    let url = format!("{}/cgi-bin/component/api_component_token", h.emu.base_url());
    let good = json!({
        "component_appid": COMPONENT_APPID,
        "component_appsecret": COMPONENT_APPSECRET,
        "component_verify_ticket": VERIFY_TICKET,
    });
    for (field, value, errcode) in [
        ("component_appid", "wx-other", 40013),
        ("component_appsecret", "wrong", 40125),
        ("component_verify_ticket", "stale", 61006),
    ] {
        let mut body = good.clone();
        body[field] = json!(value);
        assert_eq!(h.post_json(&url, body).await["errcode"], errcode, "{field}");
    }

    let component = component_token(&h).await;
    let answer = authorizer_call(&h, &component, AUTHORIZER_REFRESH_TOKEN).await;
    assert_eq!(answer.get("errcode"), None, "{answer}");
    assert_eq!(answer["authorizer_refresh_token"], AUTHORIZER_REFRESH_TOKEN);
    assert_eq!(answer["expires_in"], 7200);
    assert!(
        answer["authorizer_access_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 64)
    );

    let bad = authorizer_call(&h, &component, "wrong").await;
    assert_eq!(
        bad,
        json!({"errcode": 61023, "errmsg": "invalid refresh token"})
    );
    let unknown = authorizer_call(&h, "nope", AUTHORIZER_REFRESH_TOKEN).await;
    assert_eq!(unknown["errcode"], 40014);
    let (_, missing) = h
        .raw(
            Method::POST,
            "/cgi-bin/component/api_authorizer_token",
            "{}",
        )
        .await;
    assert_eq!(missing["errcode"], 41001);
}

#[tokio::test]
async fn env_info_needs_the_authorizer_token() {
    let h = Harness::start().await;
    h.create_store("env-a").await;
    h.create_store("env-b").await;
    let component = component_token(&h).await;
    let authorizer = authorizer_call(&h, &component, AUTHORIZER_REFRESH_TOKEN).await;
    let authorizer = authorizer["authorizer_access_token"]
        .as_str()
        .expect("token");

    let wrong = h.call("tcb/getenvinfo", &component, json!({})).await;
    assert_eq!(
        wrong,
        json!({"errcode": 40001, "errmsg": "invalid credential"})
    );
    let wrong_way = h.call(DESCRIBE, authorizer, json!({"env": "env-a"})).await;
    assert_eq!(wrong_way["errcode"], 40001);

    let all = h.call("tcb/getenvinfo", authorizer, json!({})).await;
    assert_eq!(all["errcode"], 0, "{all}");
    let list = all["info_list"].as_array().expect("info_list");
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_eq!(
        (&first["env"], &first["alias"]),
        (&json!("env-a"), &json!("env-a"))
    );
    assert_eq!(first["status"], "NORMAL");
    assert_eq!(
        (&first["package_id"], &first["package_name"]),
        (&json!("basic"), &json!("Basic"))
    );
    let created = first["create_time"].as_str().expect("create_time");
    assert!(
        created.len() == 19 && created.as_bytes()[10] == b' ',
        "{created}"
    );

    let one = h
        .call("tcb/getenvinfo", authorizer, json!({"env": "env-b"}))
        .await;
    assert_eq!(one["info_list"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["info_list"][0]["env"], "env-b");
    let (_, empty_body) = h
        .raw(
            Method::POST,
            &format!("/tcb/getenvinfo?access_token={authorizer}"),
            "",
        )
        .await;
    assert_eq!(empty_body["errcode"], 44002);
}
