//! Fault injection: seeded error rates, dropped connections, quotas, token use limits, the
//! refusal of requests beyond `max_inflight`; and the connection counter.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::{DEV_ACCESS_TOKEN, Faults};
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

/// Long enough that every request of a test is in before the first admitted one is answered.
const OVERLOAD_LATENCY: Duration = Duration::from_millis(500);

/// Sends `requests` at once; their answers in the order they came back.
async fn in_completion_order<T: Send + 'static>(
    requests: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let mut running = tokio::task::JoinSet::new();
    for request in requests {
        running.spawn(request);
    }
    let mut answers = Vec::new();
    while let Some(answer) = running.join_next().await {
        answers.push(answer.expect("a request task"));
    }
    answers
}

#[tokio::test]
async fn calls_beyond_max_inflight_are_answered_busy_at_once() {
    let faults = Faults {
        api_latency: OVERLOAD_LATENCY,
        max_inflight: Some(2),
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    let url = format!(
        "{}/{DESCRIBE}?access_token={DEV_ACCESS_TOKEN}",
        h.emu.base_url()
    );
    let calls = (0..5).map(|_| {
        let (http, url) = (h.http.clone(), url.clone());
        async move {
            let response = http.post(&url).json(&json!({"env": "demo"})).send();
            let response = response.await.expect("send");
            assert_eq!(response.status(), 200, "API answers are HTTP 200");
            response.json::<Value>().await.expect("JSON answer")
        }
    });
    let answers = in_completion_order(calls).await;
    // The refused come back first: they wait neither for the latency nor for a slot.
    let busy = json!({"errcode": -1, "errmsg": "system busy"});
    assert_eq!(
        answers[..3],
        [busy.clone(), busy.clone(), busy],
        "{answers:?}"
    );
    for served in &answers[3..] {
        assert_eq!(served["errcode"], 0, "{answers:?}");
    }
    let counters = h.emu.counters();
    assert_eq!(counters.api_calls[DESCRIBE], 5, "refused calls count");
    assert_eq!((counters.peak_inflight, counters.refused_overload), (2, 3));
    // Every slot was freed with its answer.
    assert_eq!(h.dev(DESCRIBE, json!({"env": "demo"})).await["errcode"], 0);
    assert_eq!(h.emu.counters().refused_overload, 3);
}

#[tokio::test]
async fn puts_beyond_max_inflight_are_answered_slow_down_at_once() {
    let faults = Faults {
        put_latency: OVERLOAD_LATENCY,
        max_inflight: Some(2),
        ..Faults::default()
    };
    let h = Harness::start_with(|o| o.faults = faults).await;
    h.create_store("demo").await;
    let mut links = Vec::new();
    for i in 0..5 {
        links.push(h.link("demo", &format!("{i}.txt")).await);
    }
    let puts = links.into_iter().map(|(url, token)| {
        let http = h.http.clone();
        async move {
            let put = http
                .put(&url)
                .header("x-cos-security-token", token)
                .body("x");
            let response = put.send().await.expect("send");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    });
    let answers = in_completion_order(puts).await;
    for (status, body) in &answers[..3] {
        assert_eq!(*status, 503, "{answers:?}");
        let expected = ("SlowDown".into(), "Please reduce your request rate.".into());
        assert_eq!(xml_error(body), expected);
    }
    for (status, _) in &answers[3..] {
        assert_eq!(*status, 200, "{answers:?}");
    }
    let counters = h.emu.counters();
    assert_eq!((counters.puts, counters.puts_stored), (5, 2));
    assert_eq!((counters.peak_inflight, counters.refused_overload), (2, 3));
}

#[tokio::test]
async fn connections_are_counted_apart_from_requests() {
    let h = Harness::start().await;
    let addr = h.emu.addr();
    // Two requests on one connection kept alive…
    let get = |last: &str| format!("GET /_emulator/health HTTP/1.1\r\nHost: {addr}\r\n{last}\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let requests = get("") + &get("Connection: close\r\n");
    stream.write_all(requests.as_bytes()).await.expect("write");
    let mut answers = String::new();
    stream.read_to_string(&mut answers).await.expect("read");
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 2, "{answers}");
    // …then one connection a request, from a client that keeps none open.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let health = format!("{}/_emulator/health", h.emu.base_url());
    for _ in 0..2 {
        let response = http.get(&health).send().await.expect("send");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(h.emu.counters().connections, 3);
    let site = h.site_client("demo").get(h.emu.site_url("demo")).send();
    assert_eq!(site.await.expect("send").status(), 404, "no store yet");
    let counters: Value = http
        .get(format!("{}/_emulator/counters", h.emu.base_url()))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON counters");
    assert_eq!(counters["connections"], 5, "{counters}");
    // Websites and the emulator's own pages take no slot.
    assert_eq!(counters["peak_inflight"], 0, "{counters}");
    assert_eq!(counters["refused_overload"], 0, "{counters}");
}
