//! How the watch daemon lives with a failure that will not pass by itself (a refused
//! permission, a refused app secret): it says so once, answers 503 on /healthz, shows the cause
//! and the next try on /status, waits longer after each such failure instead of spending the
//! API quota every 30 s, and deploys at once when the fix comes with SIGHUP or a rewritten
//! credential file. Tests wait for the daemon's log lines or poll /status; a deadline only
//! bounds a failing test.

mod common;

use std::path::Path;

use common::daemon::DEADLINE;
use common::{Harness, LINK, site_dir};
use serde_json::Value;
use tcb_deploy::emulator;

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The daemon's HTTP endpoints.
struct Endpoints {
    addr: String,
    http: reqwest::Client,
}

impl Endpoints {
    fn new() -> Endpoints {
        Endpoints {
            addr: format!("127.0.0.1:{}", common::free_port()),
            http: reqwest::Client::new(),
        }
    }

    async fn healthz(&self) -> (u16, String) {
        let answer = self
            .http
            .get(format!("http://{}/healthz", self.addr))
            .send()
            .await
            .expect("healthz");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("text"))
    }

    /// The `/status` entry of site `site`.
    async fn site(&self) -> Value {
        self.try_site().await.expect("/status answers")
    }

    async fn try_site(&self) -> Result<Value, reqwest::Error> {
        let answer = self
            .http
            .get(format!("http://{}/status", self.addr))
            .send()
            .await?;
        let status: Value = answer.json().await?;
        Ok(status["sites"]["site"].clone())
    }

    /// Polls `/status` until the site's entry satisfies `wanted` (the endpoints may not listen
    /// yet at first); returns it.
    async fn site_when(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let site = self.try_site().await.unwrap_or(Value::Null);
            if wanted(&site) {
                return site;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/status never showed {what}: {site}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

fn assert_online(h: &Harness, dir: &Path) {
    for key in ["index.html", "assets/app.js"] {
        let local = std::fs::read(dir.join(key)).expect("read");
        let online = h.emulator.object("site", key).map(|o| o.bytes);
        assert_eq!(online.as_deref(), Some(&local[..]), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_permission_waits_longer_each_time_and_sighup_retries_once_fixed() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.emulator.refuse(LINK, 61007, "api unauthorized");
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let endpoints = Endpoints::new();
    let mut daemon = h
        .watch("site", &dir, &[], &[("TCB_METRICS_ADDR", &endpoints.addr)])
        .await;

    let reported = daemon
        .wait_for(&[
            "site=site",
            "deploy refused",
            "61007",
            "trying again in 30s",
        ])
        .await;
    assert!(reported.contains("on SIGHUP"), "{reported}");
    let first = endpoints
        .site_when("a permanent failure", |s| s["failure"] == "permanent")
        .await;
    let (code, body) = endpoints.healthz().await;
    assert_eq!(code, 503);
    assert!(body.contains("site: ") && body.contains("61007"), "{body}");
    let cause = first["cause"].as_str().expect("a cause");
    assert!(cause.contains("errcode 61007"), "{cause}");
    let first_retry = first["next_retry_unix"].as_u64().expect("a next try");
    assert!(first_retry >= now_unix() + 25, "{first}");

    // SIGHUP tries again at once; still refused, the next try is further away and the log
    // says so in one short line, not the full report again.
    let links = h.api_calls(LINK);
    daemon.signal("HUP");
    daemon
        .wait_for(&["site=site", "SIGHUP: trying again now"])
        .await;
    daemon
        .wait_for(&["deploy still refused the same way", "trying again in 60s"])
        .await;
    assert!(h.api_calls(LINK) > links, "the retry asked for a link");
    let second = endpoints.site().await;
    let second_retry = second["next_retry_unix"].as_u64().expect("a next try");
    assert!(second_retry >= now_unix() + 55, "{second}");
    assert!(second_retry > first_retry, "{first} then {second}");
    assert_eq!(second["cycles_failed"], 2);

    // Fixed, and told: deployed at once, healthy again.
    h.emulator.stop_refusing(LINK);
    daemon.signal("HUP");
    daemon
        .wait_for(&["deployed", "site=site", "uploaded=2"])
        .await;
    assert_online(&h, &dir);
    let healthy = endpoints
        .site_when("no failure", |s| s["failure"].is_null())
        .await;
    assert!(healthy["next_retry_unix"].is_null(), "{healthy}");
    assert!(healthy["last_error"].is_null(), "{healthy}");
    assert_eq!(endpoints.healthz().await.0, 200);

    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_app_secret_file_is_read_and_deploys_at_once() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let secret_file = root.path().join("appsecret");
    write_private(&secret_file, "not-the-secret");
    let secret_path = secret_file.to_str().expect("utf-8");
    let endpoints = Endpoints::new();
    let mut daemon = h
        .watch(
            "site",
            &dir,
            &[],
            &[
                ("TCB_METRICS_ADDR", &endpoints.addr),
                ("TCB_COMPONENT_APPSECRET", ""),
                ("TCB_COMPONENT_APPSECRET_FILE", secret_path),
            ],
        )
        .await;
    let reported = daemon
        .wait_for(&[
            "site=site",
            "deploy refused",
            "40125",
            "trying again in 30s",
        ])
        .await;
    assert!(reported.contains(secret_path), "names the file: {reported}");
    let failing = endpoints
        .site_when("a permanent failure", |s| s["failure"] == "permanent")
        .await;
    assert!(
        failing["next_retry_unix"].as_u64().expect("a next try") >= now_unix() + 25,
        "{failing}"
    );

    // The secret is put right (written aside and renamed in, as a secrets manager does).
    let fresh = root.path().join("appsecret.new");
    write_private(&fresh, emulator::COMPONENT_APPSECRET);
    std::fs::rename(&fresh, &secret_file).expect("rename");
    daemon
        .wait_for(&["site=site", "a credential file changed; trying again now"])
        .await;
    daemon
        .wait_for(&["deployed", "site=site", "uploaded=2"])
        .await;
    assert_online(&h, &dir);
    endpoints
        .site_when("no failure", |s| s["failure"].is_null())
        .await;
    assert_eq!(endpoints.healthz().await.0, 200);

    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}
