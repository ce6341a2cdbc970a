//! `deploy` and `plan` through the real binary against the emulator: what arrives, how many
//! requests it took, and what the user is told.

mod common;

use std::path::Path;

use common::{Harness, run_tool};

/// A site folder with the kinds of files a front-end build produces.
fn build_site(root: &Path) -> Vec<(String, Vec<u8>)> {
    let big: Vec<u8> = (0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "index.html",
            b"<!doctype html><script type=module src=/assets/app.js></script>".to_vec(),
        ),
        ("about us/index.html", b"<p>about</p>".to_vec()),
        ("文档/说明.html", "<p>说明</p>".as_bytes().to_vec()),
        ("assets/app.js", b"document.body.dataset.ok = 1;".to_vec()),
        ("assets/style.css", b"body { color: red }".to_vec()),
        ("assets/logo.png", vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3]),
        (
            "assets/icon.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("assets/mod.wasm", vec![0, b'a', b's', b'm', 1, 0, 0, 0]),
        ("data/config.json", b"{\"ok\":true}".to_vec()),
        ("data/empty.txt", Vec::new()),
        ("media/big.bin", big),
        (
            "sw.js",
            b"self.addEventListener('fetch', () => {});".to_vec(),
        ),
    ];
    for (key, bytes) in &files {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
    }
    files.into_iter().map(|(k, b)| (k.to_owned(), b)).collect()
}

fn links(h: &Harness) -> u64 {
    h.api_calls("componenttcb/staticuploadfile")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_arrives_byte_identical_with_the_right_types() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());

    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], files.len());
    assert_eq!(report["failed"], 0);
    assert_eq!(report["unchanged"], 0);
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(report["bytes_uploaded"], bytes);
    assert_eq!(h.emulator.counters().puts_stored, files.len() as u64);

    for (key, bytes) in &files {
        let stored = h
            .emulator
            .object("site", key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert!(stored.bytes == *bytes, "{key} differs");
    }
    let types = [
        ("index.html", "text/html; charset=utf-8"),
        ("assets/app.js", "text/javascript; charset=utf-8"),
        ("assets/style.css", "text/css; charset=utf-8"),
        ("assets/logo.png", "image/png"),
        ("assets/icon.svg", "image/svg+xml; charset=utf-8"),
        ("assets/mod.wasm", "application/wasm"),
        ("data/config.json", "application/json; charset=utf-8"),
    ];
    for (key, content_type) in types {
        let stored = h.emulator.object("site", key).expect("stored");
        assert_eq!(stored.content_type.as_deref(), Some(content_type), "{key}");
    }
    let page = h.emulator.object("site", "index.html").expect("stored");
    assert_eq!(page.cache_control.as_deref(), Some("no-cache"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_are_uploaded_after_every_asset_and_workers_last() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    let run = h
        .deploy("site", dir.path(), &["--concurrency", "4"], &[])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let stored_at = |key: &str| {
        h.emulator
            .object("site", key)
            .expect("stored")
            .last_modified
    };
    let is_page = |k: &str| k.ends_with(".html");
    let last_asset = files
        .iter()
        .filter(|(k, _)| !is_page(k) && k != "sw.js")
        .map(|(k, _)| stored_at(k))
        .max()
        .expect("assets");
    let pages: Vec<_> = files
        .iter()
        .filter(|(k, _)| is_page(k))
        .map(|(k, _)| stored_at(k))
        .collect();
    assert!(
        pages.iter().all(|t| *t > last_asset),
        "a page was stored before an asset"
    );
    let last_page = pages.into_iter().max().expect("pages");
    assert!(
        stored_at("sw.js") > last_page,
        "the service worker was stored before a page"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_what_changed_is_uploaded() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    assert_eq!(h.deploy("site", dir.path(), &[], &[]).await.code, 0);
    let (links_before, puts_before) = (links(&h), h.emulator.counters().puts);

    // Unchanged: no link asked, nothing sent.
    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["unchanged"], files.len());
    assert_eq!(links(&h), links_before);
    assert_eq!(h.emulator.counters().puts, puts_before);

    // One changed file and one new one: exactly two PUTs.
    std::fs::write(
        dir.path().join("assets/app.js"),
        b"document.body.dataset.ok = 2;",
    )
    .expect("write");
    std::fs::write(dir.path().join("new.css"), b"p{}").expect("write");
    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], 2);
    assert_eq!(report["unchanged"], files.len() - 1);
    assert_eq!(h.emulator.counters().puts, puts_before + 2);
    assert_eq!(
        h.emulator
            .object("site", "assets/app.js")
            .expect("stored")
            .bytes,
        b"document.body.dataset.ok = 2;"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_runner_redeploying_an_unchanged_site_uploads_nothing() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    assert_eq!(h.deploy("site", dir.path(), &[], &[]).await.code, 0);
    let puts = h.emulator.counters().puts;

    // A new state dir: no manifest, as on a fresh CI runner.
    let fresh = tempfile::tempdir().expect("temp dir");
    let state = fresh.path().to_str().expect("utf-8");
    let run = h
        .deploy("site", dir.path(), &["--json", "--state-dir", state], &[])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], 0, "{run:?}");
    assert_eq!(report["unchanged"], files.len());
    assert_eq!(h.emulator.counters().puts, puts);
    assert!(h.api_calls("componenttcb/staticfilelist") >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_runner_uploads_files_listed_with_a_multipart_etag_once() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    assert_eq!(h.deploy("site", dir.path(), &[], &[]).await.code, 0);

    // No manifest, as on a fresh CI runner, and two objects the store lists with the ETag of
    // an upload in parts, which is not the MD5 of their bytes.
    std::fs::remove_dir_all(h.state.path().join("manifests")).expect("rm manifests");
    let multipart = ["assets/app.js", "media/big.bin"];
    for key in multipart {
        h.emulator.list_as_multipart("site", key);
    }
    let puts = h.emulator.counters().puts;
    let d = dir.path().to_str().expect("utf-8");
    let run = h
        .run(&["plan", "--env", "site", "--dir", d, "--json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let plan = run.json();
    let planned: Vec<(&str, &str)> = plan["planned"]
        .as_array()
        .expect("planned")
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap_or(""),
                p["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let expected: Vec<(&str, &str)> = multipart.iter().map(|k| (*k, "no_remote_md5")).collect();
    assert_eq!(planned, expected, "{run:?}");

    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], multipart.len(), "{run:?}");
    assert_eq!(report["unchanged"], files.len() - multipart.len());
    assert_eq!(h.emulator.counters().puts, puts + multipart.len() as u64);
    for (key, bytes) in &files {
        let stored = h.emulator.object("site", key).expect("stored");
        assert!(stored.bytes == *bytes, "{key} differs");
    }
    let manifest = h.online_manifest("site", "after the second deploy");
    assert_eq!(manifest.files.len(), files.len());

    // The manifest now knows them; and the store, having had them whole, lists their MD5.
    let puts = h.emulator.counters().puts;
    for extra in [&[][..], &["--verify-remote"][..]] {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let run = h.deploy("site", dir.path(), &args, &[]).await;
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["uploaded"], 0, "{extra:?}: {run:?}");
        assert_eq!(h.emulator.counters().puts, puts, "{extra:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_removed_locally_are_reported_stale_not_deleted() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    build_site(dir.path());
    assert_eq!(h.deploy("site", dir.path(), &[], &[]).await.code, 0);
    std::fs::remove_file(dir.path().join("data/config.json")).expect("rm");
    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["stale_remote"],
        serde_json::json!(["data/config.json"])
    );
    assert!(h.emulator.object("site", "data/config.json").is_some());

    let run = h.deploy("site", dir.path(), &[], &[]).await;
    assert!(
        run.stdout.contains("this API cannot delete them"),
        "{run:?}"
    );
    assert!(run.stdout.contains("stale   data/config.json"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_put_failures_the_manifest_names_only_files_that_are_online() {
    let h = Harness::with(|o| {
        o.faults.put_error_rate = 0.6;
        o.faults.seed = 7;
    })
    .await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    // One upload at a time: the seeded faults then hit the same files on every run. Two tries
    // per file, so that some files run out of them.
    let mut vars = h.vars();
    vars.push(("TCB_RETRY_ATTEMPTS".into(), "2".into()));
    let dir_arg = dir.path().to_str().expect("utf-8");
    let args = [
        "deploy",
        "--env",
        "site",
        "--dir",
        dir_arg,
        "--json",
        "--concurrency",
        "1",
    ];
    let run = run_tool(&args, &vars).await;
    let report = run.json();
    let failed = report["failed"].as_u64().expect("failed");
    assert!(failed > 0, "the fault rate should fail some files: {run:?}");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        report["failures"].as_array().map(Vec::len),
        Some(failed as usize)
    );

    let manifest = h.online_manifest("site", "after a partly failed deploy");
    assert!(!manifest.files.is_empty(), "some files were recorded");
    assert!(manifest.files.len() < files.len());
}

/// The catalogue checks the warning and that nothing leaves the folder; the report counts the
/// skip.
#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_file_is_counted_in_the_report() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("secret.txt"), b"private").expect("write");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), b"<p>").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("leak.txt"),
    )
    .expect("symlink");
    let run = h.deploy("site", dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], 1, "{run:?}");
    assert_eq!(report["skipped"], 1, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_reasons_and_asks_for_no_link() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    build_site(dir.path());
    let d = dir.path().to_str().expect("utf-8");
    let run = h.run(&["plan", "--env", "site", "--dir", d]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("upload  new               index.html"),
        "{run:?}"
    );
    assert!(run.stdout.contains("would upload 12 files"), "{run:?}");
    assert_eq!(links(&h), 0);
    assert_eq!(h.emulator.counters().puts, 0);

    let run = h
        .run(&["deploy", "--env", "site", "--dir", d, "--dry-run", "--json"])
        .await;
    let report = run.json();
    assert_eq!(report["planned"].as_array().map(Vec::len), Some(12));
    assert_eq!(report["planned"][0]["reason"], "new");
    assert_eq!(links(&h), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_sites_are_deployed_with_their_prefix_and_rules() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    build_site(dir.path());
    let config_dir = tempfile::tempdir().expect("temp dir");
    let config = config_dir.path().join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            "[[site]]\nname = \"docs\"\nenv = \"site\"\ndir = {:?}\nprefix = \"docs\"\nignore = [\"media/\"]\n\
             [[site.rules]]\nglob = \"assets/**\"\ncache_control = \"public, max-age=31536000, immutable\"\n",
            dir.path().to_str().expect("utf-8")
        ),
    )
    .expect("write");
    let run = h
        .run(&[
            "--config",
            config.to_str().expect("utf-8"),
            "deploy",
            "--site",
            "docs",
            "--json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["site"], "docs");
    let app = h
        .emulator
        .object("site", "docs/assets/app.js")
        .expect("under the prefix");
    assert_eq!(
        app.cache_control.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert!(
        h.emulator.object("site", "docs/media/big.bin").is_none(),
        "ignored"
    );
    assert!(h.emulator.object("site", "docs/index.html").is_some());
    assert!(
        h.emulator.object("site", "index.html").is_none(),
        "nothing outside the prefix"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_survives_a_busy_api_and_failing_puts() {
    let h = Harness::with(|o| {
        o.faults.api_error_rate = 0.2;
        o.faults.put_error_rate = 0.2;
        o.faults.seed = 3;
    })
    .await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = build_site(dir.path());
    // One upload at a time: the seeded faults then hit the same calls on every run.
    let run = h
        .deploy("site", dir.path(), &["--json", "--concurrency", "1"], &[])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["uploaded"], files.len());
    let counters = h.emulator.counters();
    assert!(
        counters.puts > counters.puts_stored,
        "some PUTs failed and were retried"
    );
    assert!(
        links(&h) > files.len() as u64,
        "some link requests answered -1 or were repeated after a failed PUT"
    );
    for (key, bytes) in &files {
        let stored = h
            .emulator
            .object("site", key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert!(stored.bytes == *bytes, "{key} differs");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resting_site_reloads_its_manifest_and_uploads_only_what_changed() {
    use std::sync::Arc;
    use tcb_deploy::config::Site;
    use tcb_deploy::deploy::{CycleSettings, SiteDeployer};

    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("dist");
    std::fs::create_dir(&dir).expect("site folder");
    std::fs::write(dir.join("index.html"), "<p>one</p>").expect("write");
    std::fs::write(dir.join("app.css"), "p { color: red }").expect("write");
    let site = Site {
        name: "site".into(),
        group: "site".into(),
        env: "site".into(),
        dir: dir.clone(),
        prefix: String::new(),
        ignore: Vec::new(),
        headers: Default::default(),
        rules: Vec::new(),
    };
    let settings = CycleSettings {
        verify_remote: false,
    };
    let mut deployer = SiteDeployer::new(Arc::new(site), &root.path().join("state"), settings);
    let connection = h.connect().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let first = deployer
        .cycle(&connection.remote, None, &stop)
        .await
        .expect("first cycle");
    assert_eq!(first.uploaded, 2);

    assert!(deployer.rest(), "a saved manifest is let go of");
    assert!(!deployer.rest(), "nothing left to let go of");
    std::fs::write(dir.join("app.css"), "p { color: blue }").expect("edit");
    let before = links(&h);
    let second = deployer
        .cycle(&connection.remote, None, &stop)
        .await
        .expect("second cycle");
    assert_eq!((second.uploaded, second.unchanged), (1, 1));
    assert_eq!(links(&h) - before, 1);
    // Not a first cycle again: the store is neither described nor listed a second time.
    assert_eq!(h.api_calls("componenttcb/describestaticstore"), 1);
    assert_eq!(h.api_calls("componenttcb/staticfilelist"), 1);
}

/// The emulator speaks plain HTTP: a machine without CA certificates (a minimal container) can
/// deploy to it. An `https` API base still needs them: certificates are always verified.
#[tokio::test(flavor = "multi_thread")]
async fn plain_http_needs_no_ca_certificates_but_https_does() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), b"<p>hi</p>").expect("write");
    let mut vars = h.vars();
    vars.extend(common::vars(&[
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
        ("SSL_CERT_DIR", "/nonexistent"),
    ]));
    let dir_arg = dir.path().to_str().expect("utf-8");
    let run = common::run_tool(&["deploy", "--env", "site", "--dir", dir_arg], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    let online = h.emulator.object("site", "index.html").expect("online");
    assert_eq!(online.bytes, b"<p>hi</p>");

    for (key, value) in &mut vars {
        if key == "TCB_API_BASE" {
            *value = "https://127.0.0.1:9/".to_owned();
        }
    }
    let run = common::run_tool(&["status", "--env", "site"], &vars).await;
    assert_eq!(run.code, 4, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("could not set up the HTTP client"), "{line}");
    assert!(line.contains("CA certificates"), "{line}");
}
