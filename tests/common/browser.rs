//! A headless Chromium driven through ChromeDriver's W3C WebDriver protocol, for tests that
//! check what a person sees in a browser. The few calls needed (open a page, run a script,
//! reload, screenshot) are plain JSON over HTTP, so they go through reqwest.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::time::timeout;

use super::daemon::DEADLINE;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One browser session; the browser and its driver are killed when it is dropped.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    _profile: TempDir,
}

impl Browser {
    /// Starts ChromeDriver on a free port and a fresh headless Chromium session.
    pub async fn start() -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; .ci/run does)"
            );
        }
        let mut driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            // Its own process group, so that dropping the session kills the browser too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let port = driver_port(&mut driver).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--window-size=1024,768",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let answer = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/session"),
            capabilities,
        )
        .await;
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {answer}"));
        Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
            _profile: profile,
        }
    }

    /// Opens `url` and waits for its load event.
    pub async fn open(&self, url: &str) {
        self.post("url", json!({ "url": url })).await;
    }

    /// Reloads the page and waits for its load event.
    pub async fn reload(&self) {
        self.post("refresh", json!({})).await;
    }

    /// Runs `body` (a function body; `return` gives the value) in the page.
    pub async fn eval(&self, body: &str) -> Value {
        self.post("execute/sync", json!({ "script": body, "args": [] }))
            .await
    }

    /// Runs `body` in the page as an async function body: it gets `done` and calls it with the
    /// value, whenever an event of the page makes it ready.
    pub async fn eval_when(&self, body: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1];\n{body}");
        self.post("execute/async", json!({ "script": script, "args": [] }))
            .await
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}/screenshot", self.session),
            Value::Null,
        )
        .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 text"))
            .expect("valid base64");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("artefact dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    async fn post(&self, command: &str, body: Value) -> Value {
        let url = format!("{}/{command}", self.session);
        call(&self.http, reqwest::Method::POST, &url, body).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            // SAFETY: kill(2) on the driver's own process group, which holds only the
            // driver and the browser it started.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}

/// Where test artefacts (screenshots) are kept: under the target folder, never committed.
pub fn artefact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(name)
}

/// Reads the driver's output until it says which port it listens on.
async fn driver_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("driver stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = timeout(DEADLINE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("ChromeDriver was started successfully on port ")
            {
                return rest.trim_end_matches('.').parse::<u16>().ok();
            }
        }
        None
    })
    .await;
    // Keep draining its output so that the driver never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    match port {
        Ok(Some(port)) => port,
        _ => panic!("chromedriver did not say which port it listens on"),
    }
}

/// One WebDriver command; panics with the driver's message when it fails.
async fn call(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Value) -> Value {
    let mut request = http.request(method, url).timeout(DEADLINE);
    if !body.is_null() {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("webdriver answers");
    let status = answer.status();
    let mut value: Value = answer.json().await.expect("webdriver JSON");
    let value = value["value"].take();
    assert!(status.is_success(), "webdriver {url}: {status}: {value}");
    value
}
