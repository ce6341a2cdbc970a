//! The upload-window benchmark: throughput at real latency, against the strategy a user would
//! otherwise have, and the cost of the window where there is no latency at all. Each target is
//! a ratio measured in one run, or a fixed limit; each prints PASS or FAIL with its numbers.
//!
//! 1. `far` (T1): 600 small files, 100 ms added to every API call and PUT, default settings:
//!    at most 0.5× the wall time of the official CloudBase CLI's strategy (every file, 20 at
//!    once, no retry; modelled here on the product's API client, not in the product), and at
//!    least 80 % of the ideal at the window reached (`files × 200 ms / window`) while it
//!    uploads: the deploy's wall time less what comes before its first upload (a token, the
//!    store's description and listing, the scan and plan), measured as a `plan` of the same
//!    folder to a fresh environment. The figure for the whole deploy is printed beside it.
//! 2. `near` (T2, T4): the upload benchmark's 5,000 files at 20 + 20 ms: default settings at
//!    least as fast as a fixed 16, opening at most `window + 8` connections.
//! 3. `admits` (T3): an emulator admitting 24 requests at once (`--max-inflight 24`), 100 ms
//!    each, 400 files: at most 5 % of all requests refused as overload, and at least 75 % of
//!    the ideal at 24 (`files × 200 ms / 24`).
//! 4. `cpu` (T5): 5,000 small files on loopback with no added latency: the client's CPU time
//!    at most 0.25 ms a file.
//!
//! The runs of a comparison alternate, twice each; figures are medians.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench window [-- far near admits cpu]
//! BENCH_SCALE=0.1 cargo bench --bench window      # a tenth of the files
//! ```

mod lab;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

use lab::{
    BenchResult, Emulator, Lab, Row, SEED, Settings, Sizes, Stats, Tree, chosen, generate,
    json_report, number, verdict,
};
use tcb_deploy::api::{ApiClient, PutBody, PutObject, Timeouts};
use tcb_deploy::secret::Secret;

/// The official CLI uploads this many files at once.
const CLI_AT_ONCE: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Bench {
    Far,
    Near,
    Admits,
    Cpu,
}

fn main() -> ExitCode {
    let run = || -> BenchResult<Vec<Row>> {
        let settings = Settings::from_env()?;
        let benches = chosen(&[
            ("far", Bench::Far),
            ("near", Bench::Near),
            ("admits", Bench::Admits),
            ("cpu", Bench::Cpu),
        ])?;
        // Small trees only: the lab's own margin of free space is enough.
        let lab = Lab::new(0.0, settings)?;
        let mut rows = Vec::new();
        for bench in benches {
            let (name, result) = match bench {
                Bench::Far => ("far", bench_far(&lab)),
                Bench::Near => ("near", bench_near(&lab)),
                Bench::Admits => ("admits", bench_admits(&lab)),
                Bench::Cpu => ("cpu", bench_cpu(&lab)),
            };
            eprintln!("--- {name} done ---");
            match result {
                Ok(found) => rows.extend(found),
                Err(e) => rows.push(Row::error(name, e.as_ref())),
            }
        }
        lab.finish();
        Ok(rows)
    };
    let started = Instant::now();
    match run() {
        Ok(rows) => {
            let title = format!(
                "tcb-deploy window benchmark ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
            verdict(&title, &rows)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn small_files(lab: &Lab, name: &str, files: usize) -> BenchResult<Tree> {
    generate(
        &lab.path(name),
        lab.count(files),
        (lab.count(files) / 100).max(1),
        &Sizes::Uniform {
            min: 1024,
            max: 4096,
        },
        SEED + 7,
    )
}

/// What one deploy by the tool did.
struct Deployed {
    wall: f64,
    cpu: f64,
    window: u64,
    connections: u64,
}

/// Deploys `dir` to a fresh `env` of `emulator` with `args`.
fn deploy(
    lab: &Lab,
    emulator: &Emulator,
    env: &str,
    dir: &Path,
    args: &[&str],
) -> BenchResult<Deployed> {
    emulator.create(env)?;
    let json = lab.path(&format!("{env}.json"));
    let timing = emulator
        .tool()
        .args(["-q", "deploy", "--env", env, "--dir"])
        .arg(dir)
        .arg("--state-dir")
        .arg(lab.path(&format!("state-{env}")))
        .args(args)
        .arg("--json")
        .timed(&lab.path(&format!("time-{env}.txt")), Some(&json))?;
    let report = json_report(&std::fs::read_to_string(&json)?)?;
    let files = files_of(dir)?;
    if number(&report, "uploaded") as usize != files.len() {
        return Err(format!(
            "{env}: uploaded {} of {} files",
            number(&report, "uploaded"),
            files.len()
        )
        .into());
    }
    Ok(Deployed {
        wall: timing.wall,
        cpu: timing.cpu(),
        window: number(&report, "window"),
        connections: number(&report, "connections"),
    })
}

/// The official CLI's strategy: every file, `CLI_AT_ONCE` at once, each a link call and a PUT,
/// no retry. Returns the wall time; a failed file is an error (the CLI would have lost it).
fn official_cli(emulator: &Emulator, env: &str, dir: &Path) -> BenchResult<f64> {
    emulator.create(env)?;
    let files = files_of(dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let base = emulator.base.parse()?;
    let api = ApiClient::new(base, Timeouts::default());
    let token = Secret::new(tcb_deploy::emulator::DEV_ACCESS_TOKEN);
    let begun = Instant::now();
    let failed = runtime.block_on(async {
        futures_util::stream::iter(&files)
            .map(|(key, path)| {
                let (api, token) = (&api, &token);
                async move {
                    let link = api.upload_link(token, env, key).await.ok()?;
                    let bytes = tokio::fs::read(path).await.ok()?;
                    let put = PutObject {
                        signed_url: &link.signed_url,
                        token: &link.token,
                        content_length: bytes.len() as u64,
                        content_type: None,
                        cache_control: None,
                    };
                    api.put_object(&put, PutBody::Bytes(bytes)).await.ok()
                }
            })
            .buffer_unordered(CLI_AT_ONCE)
            .filter(|done| std::future::ready(done.is_none()))
            .count()
            .await
    });
    let wall = begun.elapsed().as_secs_f64();
    if failed > 0 {
        return Err(format!("the official CLI's strategy lost {failed} files").into());
    }
    Ok(wall)
}

/// Every file below `dir`, with its store key.
fn files_of(dir: &Path) -> BenchResult<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for path in lab::files_below(dir)? {
        let key = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
        files.push((key, path));
    }
    Ok(files)
}

fn bench_far(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = small_files(lab, "far", 600)?;
    let emulator = Emulator::start(
        lab,
        "emulator-far",
        &["--api-latency-ms", "100", "--put-latency-ms", "100"],
    )?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut whole, mut uploading) = (Vec::new(), Vec::new());
    for run in 1..=2 {
        let cli = official_cli(&emulator, &format!("far-cli-{run}"), &tree.dir)?;
        let done = deploy(lab, &emulator, &format!("far-tool-{run}"), &tree.dir, &[])?;
        let before = startup(lab, &emulator, &format!("far-plan-{run}"), &tree.dir)?;
        let ideal = tree.files as f64 * 0.2 / done.window as f64;
        eprintln!(
            "  run {run}: official CLI's strategy {cli:.2} s; tcb-deploy {:.2} s ({before:.2} s of it before the first upload, as `plan` takes), window {}, {} connections (ideal at its window {ideal:.2} s)",
            done.wall, done.window, done.connections
        );
        theirs.push(cli);
        ours.push(done.wall);
        whole.push(ideal / done.wall);
        uploading.push(ideal / (done.wall - before));
    }
    let (ours, theirs) = (Stats::of(&ours), Stats::of(&theirs));
    let (whole, uploading) = (Stats::of(&whole), Stats::of(&uploading));
    let ratio = ours.median / theirs.median;
    Ok(vec![
        Row {
            target: format!("T1 {} files, 100 ms a call, default settings", tree.files),
            measured: format!("median {:.2} s", ours.median),
            peer: format!("official CLI's strategy median {:.2} s", theirs.median),
            limit: format!("{ratio:.2}× (≤ 0.50×)"),
            pass: ratio <= 0.5,
        },
        Row {
            target: format!("T1 {} files, efficiency at the window reached", tree.files),
            measured: format!(
                "median {:.1} % of the uploads' time ({:.1} % of the whole deploy)",
                uploading.median * 100.0,
                whole.median * 100.0
            ),
            peer: "files × 200 ms / window".into(),
            limit: "≥ 80 %".into(),
            pass: uploading.median >= 0.8,
        },
    ])
}

/// How long a deploy of `dir` to a fresh `env` takes before its first upload (a token, the
/// store's description and listing, the scan and the plan): the wall time of `plan`.
fn startup(lab: &Lab, emulator: &Emulator, env: &str, dir: &Path) -> BenchResult<f64> {
    emulator.create(env)?;
    let timing = emulator
        .tool()
        .args(["-q", "plan", "--env", env, "--dir"])
        .arg(dir)
        .arg("--state-dir")
        .arg(lab.path(&format!("state-{env}")))
        .timed(&lab.path(&format!("time-{env}.txt")), None)?;
    Ok(timing.wall)
}

fn bench_near(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = small_files(lab, "near", 5_000)?;
    let emulator = Emulator::start(
        lab,
        "emulator-near",
        &["--api-latency-ms", "20", "--put-latency-ms", "20"],
    )?;
    let (mut adaptive, mut fixed) = (Vec::new(), Vec::new());
    let mut worst_connections = (0, 0);
    for run in 1..=2 {
        let pinned = deploy(
            lab,
            &emulator,
            &format!("near-fixed-{run}"),
            &tree.dir,
            &["--concurrency", "16", "--fixed-concurrency"],
        )?;
        let done = deploy(
            lab,
            &emulator,
            &format!("near-default-{run}"),
            &tree.dir,
            &[],
        )?;
        eprintln!(
            "  run {run}: fixed 16 {:.2} s; default {:.2} s, window {}, {} connections",
            pinned.wall, done.wall, done.window, done.connections
        );
        fixed.push(pinned.wall);
        adaptive.push(done.wall);
        let over = done.connections as i64 - done.window as i64;
        if over >= worst_connections.0 as i64 - worst_connections.1 as i64 {
            worst_connections = (done.connections, done.window);
        }
    }
    let (adaptive, fixed) = (Stats::of(&adaptive), Stats::of(&fixed));
    let (connections, window) = worst_connections;
    Ok(vec![
        Row {
            target: format!("T2 {} files, 20 + 20 ms, default settings", tree.files),
            measured: format!("median {:.2} s", adaptive.median),
            peer: format!("fixed 16 median {:.2} s", fixed.median),
            limit: format!("{:.2}× (≤ 1.00×)", adaptive.median / fixed.median),
            pass: adaptive.median <= fixed.median,
        },
        Row {
            target: format!("T4 {} files, connections opened", tree.files),
            measured: format!("{connections}"),
            peer: format!("window {window}"),
            limit: format!("≤ {}", window + 8),
            pass: connections <= window + 8,
        },
    ])
}

fn bench_admits(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = small_files(lab, "admits", 400)?;
    let emulator = Emulator::start(
        lab,
        "emulator-admits",
        &[
            "--api-latency-ms",
            "100",
            "--put-latency-ms",
            "100",
            "--max-inflight",
            "24",
        ],
    )?;
    let ideal = tree.files as f64 * 0.2 / 24.0;
    let (mut walls, mut shares) = (Vec::new(), Vec::new());
    for run in 1..=2 {
        let before = emulator.counters()?;
        let done = deploy(lab, &emulator, &format!("admits-{run}"), &tree.dir, &[])?;
        let after = emulator.counters()?;
        let refused = delta(&before, &after, "refused_overload");
        let requests = delta(&before, &after, "puts") + api_calls(&after) - api_calls(&before);
        let share = refused as f64 / requests.max(1) as f64;
        eprintln!(
            "  run {run}: {:.2} s (ideal at 24: {ideal:.2} s), window {}, {refused} of {requests} requests refused",
            done.wall, done.window
        );
        walls.push(done.wall);
        shares.push(share);
    }
    let (walls, shares) = (Stats::of(&walls), Stats::of(&shares));
    Ok(vec![
        Row {
            target: format!("T3 {} files, 24 admitted at once, refusals", tree.files),
            measured: format!("median {:.1} % of requests", shares.median * 100.0),
            peer: "answered 503 SlowDown / errcode -1".into(),
            limit: "≤ 5 %".into(),
            pass: shares.median <= 0.05,
        },
        Row {
            target: format!("T3 {} files, 24 admitted at once, time", tree.files),
            measured: format!("median {:.2} s", walls.median),
            peer: format!("ideal at 24 {ideal:.2} s"),
            limit: format!("{:.1} % of ideal (≥ 75 %)", ideal / walls.median * 100.0),
            pass: ideal / walls.median >= 0.75,
        },
    ])
}

fn bench_cpu(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = small_files(lab, "cpu", 5_000)?;
    let emulator = Emulator::start(lab, "emulator-cpu", &[])?;
    let mut per_file = Vec::new();
    for run in 1..=2 {
        let done = deploy(lab, &emulator, &format!("cpu-{run}"), &tree.dir, &[])?;
        let ms = done.cpu * 1e3 / tree.files as f64;
        eprintln!(
            "  run {run}: {:.2} s wall, {:.2} s CPU, {ms:.3} ms a file, window {}",
            done.wall, done.cpu, done.window
        );
        per_file.push(ms);
    }
    let per_file = Stats::of(&per_file);
    Ok(vec![Row {
        target: format!("T5 {} files on loopback, client CPU", tree.files),
        measured: format!("median {:.3} ms a file", per_file.median),
        peer: "no added latency".into(),
        limit: "≤ 0.25 ms a file".into(),
        pass: per_file.median <= 0.25,
    }])
}

fn delta(before: &Value, after: &Value, key: &str) -> u64 {
    number(after, key).saturating_sub(number(before, key))
}

fn api_calls(counters: &Value) -> u64 {
    counters["api_calls"]
        .as_object()
        .map_or(0, |calls| calls.values().filter_map(Value::as_u64).sum())
}
