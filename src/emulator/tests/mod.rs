//! End-to-end tests of the emulator over real HTTP on 127.0.0.1, one file per role. This file
//! holds the small harness they share, so each test reads as the scenario it checks.

mod api;
mod faults;
mod persistence;
mod tokens;
mod upload;
mod website;

use std::path::Path;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{DEV_ACCESS_TOKEN, Emulator, EmulatorOptions};

/// A running emulator on a fresh data dir, and a client for it.
pub(super) struct Harness {
    pub emu: Emulator,
    pub http: reqwest::Client,
    // Dropped last: the emulator's files live here.
    pub dir: TempDir,
}

pub(super) fn options(dir: &Path) -> EmulatorOptions {
    let addr = ([127, 0, 0, 1], 0).into();
    let mut opts = EmulatorOptions::new(addr, dir.to_path_buf());
    opts.create_delay = std::time::Duration::ZERO;
    opts
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Harness {
    /// Default options (stores online at once).
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Options adjusted by `adjust` before start.
    pub async fn start_with(adjust: impl FnOnce(&mut EmulatorOptions)) -> Harness {
        let dir = TempDir::new().expect("temp dir");
        let mut opts = options(dir.path());
        adjust(&mut opts);
        let emu = Emulator::start(opts).await.expect("emulator starts");
        Harness {
            emu,
            http: client(),
            dir,
        }
    }

    /// `POST /path?access_token=token` with a JSON body; the answer as JSON.
    pub async fn call(&self, path: &str, token: &str, body: Value) -> Value {
        let url = format!("{}/{path}?access_token={token}", self.emu.base_url());
        self.post_json(&url, body).await
    }

    /// A call with the forever-valid component token.
    pub async fn dev(&self, path: &str, body: Value) -> Value {
        self.call(path, DEV_ACCESS_TOKEN, body).await
    }

    pub async fn post_json(&self, url: &str, body: Value) -> Value {
        let response = self.http.post(url).json(&body).send().await.expect("send");
        assert_eq!(response.status(), 200, "API answers are HTTP 200");
        response.json().await.expect("JSON answer")
    }

    /// A raw request to the API host; the status and the answer as JSON.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: &'static str,
    ) -> (u16, Value) {
        let url = format!("{}{path_and_query}", self.emu.base_url());
        let response = self
            .http
            .request(method, url)
            .body(body)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON answer"))
    }

    pub async fn create_store(&self, env: &str) {
        let answer = self
            .dev("componenttcb/createstaticstore", json!({ "env": env }))
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
    }

    /// An upload link for `env`/`filename`: (signed_url, token).
    pub async fn link(&self, env: &str, filename: &str) -> (String, String) {
        let answer = self
            .dev(
                "componenttcb/staticuploadfile",
                json!({ "env": env, "filename": filename }),
            )
            .await;
        assert_eq!(answer["errcode"], 0, "{answer}");
        let url = answer["signed_url"]
            .as_str()
            .expect("signed_url")
            .to_owned();
        let token = answer["token"].as_str().expect("token").to_owned();
        (url, token)
    }

    /// PUTs `bytes` to a link.
    pub async fn put(&self, url: &str, token: &str, bytes: &'static [u8]) -> reqwest::Response {
        self.http
            .put(url)
            .header("x-cos-security-token", token)
            .body(bytes)
            .send()
            .await
            .expect("send")
    }

    /// Gets a link for `filename` and uploads `bytes` with `content_type`.
    pub async fn upload(
        &self,
        env: &str,
        filename: &str,
        bytes: &'static [u8],
        content_type: &str,
    ) {
        let (url, token) = self.link(env, filename).await;
        let response = self
            .http
            .put(&url)
            .header("x-cos-security-token", token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
    }

    /// A client that reaches `env`'s website (`ENV.localhost` resolved to the emulator).
    pub fn site_client(&self, env: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&format!("{env}.localhost"), self.emu.addr())
            .build()
            .expect("client")
    }
}

/// The `<Code>` and `<Message>` of a COS XML error.
pub(super) fn xml_error(body: &str) -> (String, String) {
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        body.split_once(&open)
            .and_then(|(_, rest)| rest.split_once(&close))
            .map(|(v, _)| v.to_owned())
            .unwrap_or_default()
    };
    (field("Code"), field("Message"))
}

#[test]
fn the_api_url_of_an_address_is_reached_on_loopback_when_unspecified() {
    let url = |addr: &str| super::api_url(addr.parse().expect("addr")).to_string();
    assert_eq!(url("0.0.0.0:8790"), "http://127.0.0.1:8790/");
    assert_eq!(url("[::]:1"), "http://[::1]:1/");
    assert_eq!(url("127.0.0.2:80"), "http://127.0.0.2/");
}
