//! README's quick start seen in a real browser: `watch --config deploy.example.toml` deploys the
//! example site to the embedded emulator, headless Chromium loads it and finds that the module
//! script ran, the stylesheet applied, the image loaded and the JSON fetch succeeded (each fails
//! when its file is served with the wrong Content-Type, as the second test shows), and an edit
//! made under `watch` is seen after a reload. Screenshots are kept under
//! `target/tmp/browser/`.

mod common;

use std::path::Path;

use common::browser::{Browser, artefact};
use common::daemon::Daemon;
use common::{copy_tree, finish, tool};
use serde_json::Value;

/// What the example's index page shows once its checks have run.
#[derive(Debug, PartialEq)]
struct Checks {
    title: String,
    stylesheet: bool,
    script: String,
    data: String,
    image: bool,
}

/// Waits until the page says its checks ran (or its module script failed to load), then reads
/// them off the page.
async fn checks(browser: &Browser) -> Checks {
    let value = browser
        .eval_when(
            r#"
            const root = document.documentElement;
            const read = () => {
              const h1 = document.querySelector("h1");
              const image = document.querySelector("header img");
              const text = (id) => document.getElementById(id)?.textContent ?? "";
              done({
                title: h1.textContent,
                stylesheet: getComputedStyle(h1).color === "rgb(42, 157, 143)",
                script: text("script"),
                data: text("data"),
                image: image.complete && image.naturalWidth > 0,
              });
            };
            if (root.dataset.checks === "done") {
              read();
            } else {
              new MutationObserver((_, observer) => {
                if (root.dataset.checks === "done") { observer.disconnect(); read(); }
              }).observe(root, { attributes: true });
            }
            "#,
        )
        .await;
    let text = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
    Checks {
        title: text("title"),
        stylesheet: value["stylesheet"] == Value::Bool(true),
        script: text("script"),
        data: text("data"),
        image: value["image"] == Value::Bool(true),
    }
}

/// A copy of the repository's example (config and site) that the test may edit, and a free
/// port for its emulator.
fn example_project() -> (tempfile::TempDir, u16) {
    let work = tempfile::tempdir().expect("temp dir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        repo.join("deploy.example.toml"),
        work.path().join("deploy.example.toml"),
    )
    .expect("copy config");
    copy_tree(
        &repo.join("example/site"),
        &work.path().join("example/site"),
    );
    (work, common::free_port())
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_start_site_works_in_a_browser_and_follows_edits() {
    let (work, port) = example_project();
    let vars = common::vars(&[("TCB_EMULATOR_ADDR", &format!("127.0.0.1:{port}"))]);
    let mut daemon = Daemon::spawn(
        &["--config", "deploy.example.toml", "watch"],
        &vars,
        Some(work.path()),
    );
    let url = format!("http://demo.localhost:{port}/");
    daemon.wait_for(&["watching for changes", &url]).await;

    let browser = Browser::start().await;
    browser.open(&url).await;
    let seen = checks(&browser).await;
    browser.screenshot(&artefact("example-site.png")).await;
    assert_eq!(seen, passed());

    browser.open(&format!("{url}guide")).await;
    let guide = browser
        .eval("return [location.pathname, document.querySelector('h1').textContent];")
        .await;
    assert_eq!(guide, serde_json::json!(["/guide/", "How it got here"]));
    browser.open(&format!("{url}no/such/page")).await;
    let missing = browser
        .eval("return document.querySelector('h1').textContent;")
        .await;
    assert_eq!(missing, "Not found");

    browser.open(&url).await;
    let index = work.path().join("example/site/index.html");
    let edited = std::fs::read_to_string(&index)
        .expect("read")
        .replace("Deployed by tcb-deploy", "Edited while watching");
    std::fs::write(&index, edited).expect("write");
    daemon.wait_for(&["uploaded", "index.html"]).await;
    browser.reload().await;
    let seen = checks(&browser).await;
    browser
        .screenshot(&artefact("example-site-edited.png"))
        .await;
    assert_eq!(
        seen,
        Checks {
            title: "Edited while watching".into(),
            ..passed()
        }
    );

    daemon.signal("INT");
    assert_eq!(daemon.exit_code().await, 0);
}

/// Each check of the example page fails when its file is served with a wrong Content-Type, so
/// the first test's passing checks mean the types were right.
#[tokio::test(flavor = "multi_thread")]
async fn each_check_fails_when_its_file_has_the_wrong_content_type() {
    let (work, port) = example_project();
    let vars = common::vars(&[("TCB_EMULATOR_ADDR", &format!("127.0.0.1:{port}"))]);
    let mut emulator = Daemon::spawn(
        &[
            "emulator",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--create-delay-ms",
            "0",
        ],
        &vars,
        Some(work.path()),
    );
    emulator
        .wait_for(&["emulator listening", &format!("127.0.0.1:{port}")])
        .await;
    let browser = Browser::start().await;
    let cases = [
        (
            "wrong-js",
            "assets/*.js",
            Checks {
                script: "The module script did not run.".into(),
                data: "The JSON file was not fetched.".into(),
                ..passed()
            },
        ),
        (
            "wrong-css",
            "assets/*.css",
            Checks {
                stylesheet: false,
                ..passed()
            },
        ),
        (
            "wrong-json",
            "data/*.json",
            Checks {
                data: "The JSON fetch failed: HTTP 200, Content-Type \"text/plain\".".into(),
                ..passed()
            },
        ),
        (
            "wrong-svg",
            "assets/*.svg",
            Checks {
                image: false,
                ..passed()
            },
        ),
    ];
    for (env, glob, expected) in cases {
        let config = work.path().join(format!("{env}.toml"));
        std::fs::write(
            &config,
            format!(
                "api_base = \"local\"\nenv = \"{env}\"\n\n[[site]]\ndir = \"example/site\"\n\
                 [[site.rules]]\nglob = \"{glob}\"\ncontent_type = \"text/plain\"\n"
            ),
        )
        .expect("config");
        let mut deploy = tool(&["--config", &format!("{env}.toml"), "deploy"], &vars);
        let run = finish(deploy.current_dir(work.path())).await;
        assert_eq!(run.code, 0, "{run:?}");

        browser
            .open(&format!("http://{env}.localhost:{port}/"))
            .await;
        let seen = checks(&browser).await;
        assert_eq!(seen, expected, "{env}: {glob} served as text/plain");
    }
    emulator.signal("INT");
    assert_eq!(emulator.exit_code().await, 0);
}

/// The index page's checks when every file was served right.
fn passed() -> Checks {
    Checks {
        title: "Deployed by tcb-deploy".into(),
        stylesheet: true,
        script: "The module script ran.".into(),
        data: "Fetched the tcb-deploy example: 2 pages, deployed by tcb-deploy.".into(),
        image: true,
    }
}
