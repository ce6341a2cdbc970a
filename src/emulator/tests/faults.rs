//! Fault injection: seeded error rates, dropped connections, quotas, token use limits.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::Faults;
use super::{Harness, xml_error};

const DESCRIBE: &str = "componenttcb/describestaticstore";

async fn errcodes(faults: Faults, calls: usize) -> Vec<Value> {
    let h = Harness::start_with(|o| o.faults = faults).await;
    let mut codes = Vec::new();
    for _ in 0..calls {
        codes.push(h.dev(DESCRIBE, json!({"env": "demo"})).await["errcode"].clone());
    }
    assert_eq!(
        h.emu.counters().api_calls[DESCRIBE],
        calls as u64,
        "faulted calls count"
    );
    codes
}

#[tokio::test]
async fn api_error_rate_one_always_fails() {
    let faults = Faults {
        api_error_rate: 1.0,
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    let answer = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    assert_eq!(answer, json!({"errcode": -1, "errmsg": "system error"}));
    // Faults come before validation.
    let (_, answer) = h
        .raw(reqwest::Method::GET, &format!("/{DESCRIBE}"), "")
        .await;
    assert_eq!(answer["errcode"], -1);
}

#[tokio::test]
async fn seeded_error_rate_is_reproducible() {
    let faults = Faults {
        api_error_rate: 0.5,
        seed: 7,
        ..Faults::default()
    };
    let first = errcodes(faults.clone(), 20).await;
    assert_eq!(first, errcodes(faults, 20).await);
    assert!(
        first.contains(&json!(-1)) && first.contains(&json!(0)),
        "{first:?}"
    );
}

#[tokio::test]
async fn reset_rate_drops_connections() {
    let faults = Faults {
        reset_rate: 1.0,
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    let url = format!("{}/{DESCRIBE}?access_token=x", h.emu.base_url());
    let result = h.http.post(&url).body("{}").send().await;
    assert!(result.is_err(), "no answer expected: {result:?}");
    let put = h
        .http
        .put(format!("{}/emu-static-demo/a", h.emu.base_url()))
        .body("x")
        .send()
        .await;
    assert!(put.is_err(), "no answer expected: {put:?}");
    let counters = h.emu.counters();
    assert_eq!((counters.api_calls[DESCRIBE], counters.puts), (1, 1));
}

#[tokio::test]
async fn put_error_rate_answers_internal_error() {
    let faults = Faults {
        put_error_rate: 1.0,
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    let response = h.put(&url, &token, b"x").await;
    assert_eq!(response.status(), 500);
    let (code, message) = xml_error(&response.text().await.expect("body"));
    assert_eq!(code, "InternalError");
    assert_eq!(
        message,
        "We encountered an internal error. Please try again."
    );
    assert!(h.emu.object("demo", "a.txt").is_none());
}

#[tokio::test]
async fn quota_per_minute() {
    let faults = Faults {
        quota_per_minute: Some(3),
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    // Start at the top of a minute so the four calls share one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    h.emu.advance_clock(Duration::from_secs(60 - now % 60));
    for _ in 0..3 {
        assert_eq!(h.dev(DESCRIBE, json!({"env": "demo"})).await["errcode"], 0);
    }
    let answer = h.dev(DESCRIBE, json!({"env": "demo"})).await;
    assert_eq!(
        answer,
        json!({"errcode": 45011, "errmsg": "api freq out of limit"})
    );
    h.emu.advance_clock(Duration::from_secs(60));
    assert_eq!(h.dev(DESCRIBE, json!({"env": "demo"})).await["errcode"], 0);
}

#[tokio::test]
async fn tokens_expire_after_their_calls() {
    let faults = Faults {
        token_lifetime_calls: Some(2),
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    let url = format!("{}/cgi-bin/component/api_component_token", h.emu.base_url());
    let body = json!({
        "component_appid": super::super::COMPONENT_APPID,
        "component_appsecret": super::super::COMPONENT_APPSECRET,
        "component_verify_ticket": super::super::VERIFY_TICKET,
    });
    let token = h.post_json(&url, body).await["component_access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    for expected in [0, 0, 42001, 42001] {
        let answer = h.call(DESCRIBE, &token, json!({"env": "demo"})).await;
        assert_eq!(answer["errcode"], expected);
    }
    for _ in 0..3 {
        assert_eq!(h.dev(DESCRIBE, json!({"env": "demo"})).await["errcode"], 0);
    }
}

#[tokio::test]
async fn latency_delays_answers() {
    let faults = Faults {
        api_latency: Duration::from_millis(150),
        put_latency: Duration::from_millis(150),
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    let started = Instant::now();
    h.create_store("demo").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let (url, token) = h.link("demo", "a").await;
    let started = Instant::now();
    assert_eq!(h.put(&url, &token, b"x").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
