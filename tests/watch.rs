//! The watch daemon through the real binary against the emulator. Tests wait for the daemon's
//! own log lines (events), never for a fixed time; a deadline only bounds a failing test.

mod common;

use std::time::Duration;

use common::daemon::{DEADLINE, Daemon};
use common::{Harness, site_dir};
use tokio::time::{Instant, timeout};

fn online(h: &Harness, key: &str) -> Option<Vec<u8>> {
    h.emulator.object("site", key).map(|o| o.bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_is_online_within_the_quiet_period_and_a_second() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h.watching("site", &dir, &["--quiet-ms", "200"]).await;
    assert_eq!(online(&h, "index.html").as_deref(), Some(&b"<p>v1</p>"[..]));

    let written = Instant::now();
    std::fs::write(dir.join("index.html"), "<p>v2</p>").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    let took = written.elapsed();
    assert!(took < Duration::from_millis(1200), "took {took:?}");
    assert_eq!(online(&h, "index.html").as_deref(), Some(&b"<p>v2</p>"[..]));

    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_deleted_and_recreated_is_followed() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h.watching("site", &dir, &["--quiet-ms", "200"]).await;

    std::fs::remove_dir_all(&dir).expect("rm -rf");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<p>rebuilt</p>").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(
        online(&h, "index.html").as_deref(),
        Some(&b"<p>rebuilt</p>"[..])
    );
    // The recreated folder is watched too.
    std::fs::write(dir.join("more.css"), "p{}").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(online(&h, "more.css").as_deref(), Some(&b"p{}"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_editor_style_atomic_save_is_uploaded() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h.watching("site", &dir, &["--quiet-ms", "200"]).await;

    let temp = dir.join(".index.html.swp");
    std::fs::write(&temp, "<p>saved</p>").expect("write");
    std::fs::rename(&temp, dir.join("index.html")).expect("rename");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(
        online(&h, "index.html").as_deref(),
        Some(&b"<p>saved</p>"[..])
    );
    assert!(online(&h, ".index.html.swp").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_a_subfolder_deployignore_deploys_what_it_lets_back_in() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    std::fs::write(dir.join("assets/.deployignore"), "*.map\n").expect("write");
    std::fs::write(dir.join("assets/app.js.map"), "{}").expect("write");
    let mut daemon = h.watching("site", &dir, &["--quiet-ms", "200"]).await;
    assert!(online(&h, "assets/app.js").is_some());
    assert!(
        online(&h, "assets/app.js.map").is_none(),
        "excluded at first"
    );

    std::fs::write(dir.join("assets/.deployignore"), "").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(online(&h, "assets/app.js.map").as_deref(), Some(&b"{}"[..]));
    assert!(online(&h, "assets/.deployignore").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_a_thousand_files_takes_a_few_cycles() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h.watching("site", &dir, &["--quiet-ms", "300"]).await;

    for i in 0..1000 {
        let sub = dir.join(format!("chunks/{}", i % 10));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join(format!("{i}.js")), format!("export default {i};")).expect("write");
    }
    let mut uploaded = 0;
    let mut cycles = 0;
    while uploaded < 1000 {
        let line = daemon.wait_for(&["deployed"]).await;
        cycles += 1;
        uploaded += field(&line, "uploaded=");
    }
    assert_eq!(uploaded, 1000);
    assert!(cycles <= 3, "{cycles} cycles");
    for i in 0..1000 {
        let key = format!("chunks/{}/{i}.js", i % 10);
        assert_eq!(
            online(&h, &key),
            Some(format!("export default {i};").into_bytes()),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_cycle_lets_uploads_finish_and_exits_0() {
    let h = Harness::with(|o| o.faults.put_latency = Duration::from_millis(400)).await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h
        .watching("site", &dir, &["--quiet-ms", "100", "--concurrency", "2"])
        .await;

    for i in 0..20 {
        std::fs::write(dir.join(format!("f{i}.txt")), format!("{i}")).expect("write");
    }
    // A cycle is under way once its first file is online; stop in the middle of it.
    daemon.wait_for(&["uploaded  f"]).await;
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);

    let counters = h.emulator.counters();
    assert_eq!(
        counters.puts, counters.puts_stored,
        "every PUT in flight finished"
    );
    assert!(
        counters.puts_stored < 2 + 20,
        "the stop came before the cycle's end"
    );
    let manifest = h.online_manifest("site", "after the stop");
    assert_eq!(
        manifest.files.len() as u64,
        counters.puts_stored,
        "every file online is recorded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_adds_a_second_site() {
    let h = Harness::start().await;
    h.create_store("site").await;
    h.create_store("second").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let other = root.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("index.html"), "<p>second</p>").expect("write");
    let config = root.path().join("deploy.toml");
    let one = format!(
        "[[site]]\nname = \"first\"\nenv = \"site\"\ndir = {:?}\n",
        dir.to_str().expect("utf-8")
    );
    std::fs::write(&config, &one).expect("write");
    let config_arg = config.to_str().expect("utf-8");
    let mut daemon = Daemon::start(&h, &["--config", config_arg, "watch"], &[]).await;
    daemon
        .wait_for(&["watching for changes", "site=first"])
        .await;

    let two = format!(
        "{one}[[site]]\nname = \"second\"\nenv = \"second\"\ndir = {:?}\n",
        other.to_str().expect("utf-8")
    );
    std::fs::write(&config, two).expect("write");
    daemon.signal("HUP");
    daemon.wait_for(&["deployed", "site=second"]).await;
    assert_eq!(
        h.emulator
            .object("second", "index.html")
            .map(|o| o.bytes)
            .as_deref(),
        Some(&b"<p>second</p>"[..])
    );

    // An invalid config is refused and the running sites go on.
    std::fs::write(&config, "[[site]]\nbogus = 1\n").expect("write");
    daemon.signal("HUP");
    daemon
        .wait_for(&["invalid", "keeping the running one"])
        .await;
    std::fs::write(dir.join("index.html"), "<p>still watched</p>").expect("write");
    daemon.wait_for(&["deployed", "site=first"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_hears_ready_status_and_watchdog() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let socket_path = root.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).expect("bind");
    let args = [
        "watch",
        "--env",
        "site",
        "--dir",
        dir.to_str().expect("utf-8"),
    ];
    let daemon = Daemon::start(
        &h,
        &args,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().expect("utf-8")),
            ("WATCHDOG_USEC", "400000"),
        ],
    )
    .await;
    let mut heard: Vec<String> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let wanted = ["READY=1", "STATUS=1 site", "WATCHDOG=1"];
    let all = timeout(DEADLINE, async {
        while !wanted
            .iter()
            .all(|w| heard.iter().any(|m| m.starts_with(w)))
        {
            let n = socket.recv(&mut buf).await.expect("recv");
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    })
    .await;
    assert!(all.is_ok(), "heard only {heard:?}");
    let ready = heard
        .iter()
        .position(|m| m.starts_with("READY=1"))
        .expect("ready");
    assert!(
        heard[ready..].iter().any(|m| m.starts_with("STATUS=")),
        "{heard:?}"
    );
    daemon.signal("TERM");
    let mut stopping = false;
    let _ = timeout(DEADLINE, async {
        while !stopping {
            let n = socket.recv(&mut buf).await.expect("recv");
            stopping = buf[..n].starts_with(b"STOPPING=1");
        }
    })
    .await;
    assert!(stopping, "STOPPING=1 was sent");
    assert_eq!(daemon.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watch_ends_with_its_build_command() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let d = dir.to_str().expect("utf-8");
    // The "build" writes a file, says so, then waits on a FIFO (outside the site) until the test
    // has seen the deploy, and exits 3.
    let fifo = root.path().join("go");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let script = format!(
        "echo building; echo '<p>built</p>' > {d}/built.html; read go < {}; exit 3",
        fifo.to_str().expect("utf-8")
    );
    let mut daemon = Daemon::start(
        &h,
        &[
            "watch",
            "--env",
            "site",
            "--dir",
            d,
            "--quiet-ms",
            "100",
            "--",
            "sh",
            "-c",
            &script,
        ],
        &[],
    )
    .await;
    daemon.wait_for(&["[build] building"]).await;
    daemon.wait_for(&["uploaded  built.html"]).await;
    tokio::fs::write(&fifo, "go\n")
        .await
        .expect("write to the FIFO");
    assert_eq!(daemon.exit_code().await, 3);
    assert!(online(&h, "built.html").is_some());
}

/// A folder whose parent did not exist yet could not be watched, and its worker, meant to poll
/// it instead, ended after its first cycle: the build's output was never deployed.
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_that_cannot_be_watched_yet_is_polled_until_the_build_makes_it() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("build/out/dist");
    let d = dir.to_str().expect("utf-8");
    let args = ["watch", "--env", "site", "--dir", d, "--quiet-ms", "100"];
    let mut daemon = Daemon::start(&h, &args, &[]).await;
    daemon
        .wait_for(&["cannot watch the folder", "polling every 2s"])
        .await;
    daemon.wait_for(&["the folder is missing or empty"]).await;

    std::fs::create_dir_all(&dir).expect("mkdir -p");
    std::fs::write(dir.join("index.html"), "<p>built</p>").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(
        online(&h, "index.html").as_deref(),
        Some(&b"<p>built</p>"[..])
    );
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);
}

fn field(line: &str, name: &str) -> usize {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_status_and_prometheus_metrics_are_served() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let addr = format!("127.0.0.1:{}", common::free_port());
    let args = [
        "watch",
        "--env",
        "site",
        "--dir",
        dir.to_str().expect("utf-8"),
    ];
    let mut daemon = Daemon::start(&h, &args, &[("TCB_METRICS_ADDR", &addr)]).await;
    daemon.wait_for(&["watching for changes"]).await;

    let http = reqwest::Client::new();
    let healthz = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let status: serde_json::Value = http
        .get(format!("http://{addr}/status"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["sites"]["site"]["files_uploaded_total"], 2);
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = metrics.text().await.expect("text");
    let samples = parse_prometheus(&text);
    assert_eq!(
        samples["tcb_deploy_files_uploaded_total{site=\"site\"}"],
        2.0
    );
    assert!(
        samples.keys().any(|k| k.starts_with(
            "tcb_deploy_api_calls_total{endpoint=\"componenttcb/staticuploadfile\",errcode=\"0\"}"
        )),
        "{text}"
    );
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, 0);
}

/// A strict reader of the Prometheus text format: every sample belongs to a family declared by
/// `# HELP` and `# TYPE` lines, names and labels are well formed, values are numbers.
fn parse_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed = std::collections::BTreeSet::new();
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(name_ok(name), "{line}");
            assert!(
                matches!(
                    kind,
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                ),
                "{line}"
            );
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample and value");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let name = series.split('{').next().expect("name");
        assert!(name_ok(name), "{line}");
        assert!(typed.contains(name), "no TYPE before {line}");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .expect("{labels}");
            let mut rest = inner;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"").expect("key=\"");
                assert!(name_ok(key), "{line}");
                let mut end = None;
                let mut escaped = false;
                for (i, c) in after.char_indices() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.expect("closing quote");
                rest = after[end + 1..].trim_start_matches(',');
            }
        }
        samples.insert(series.to_owned(), value.parse().expect("number"));
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_mode_sees_edits_too() {
    let h = Harness::start().await;
    h.create_store("site").await;
    let root = tempfile::tempdir().expect("temp dir");
    let dir = site_dir(root.path());
    let mut daemon = h
        .watching("site", &dir, &["--poll", "1", "--quiet-ms", "100"])
        .await;
    std::fs::write(dir.join("index.html"), "<p>polled</p>").expect("write");
    daemon.wait_for(&["deployed", "uploaded=1"]).await;
    assert_eq!(
        online(&h, "index.html").as_deref(),
        Some(&b"<p>polled</p>"[..])
    );
}
