//! The soak benchmark: a 20,000-file deploy against an emulator that fails on purpose finishes
//! with every file online byte-identical, exit 0, in no more than 3× the time of the same
//! deploy against an emulator that does not.
//!
//! The faults: 20 % of API calls answer errcode -1, 10 % of PUTs answer HTTP 500, 2 % of all
//! connections are dropped without an answer, issued tokens expire after 200 uses, and signed
//! links live 2 s. Both emulators add 20 ms of latency to every API call and PUT (a service on
//! the other side of a network, as in the `upload` benchmark), and the tool runs with its
//! defaults and `--concurrency 16`. The two deploys alternate, twice each, on fresh
//! environments; the ratio is of the medians.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench soak
//! BENCH_SCALE=0.1 cargo bench --bench soak      # a quick run on 2,000 files
//! ```

mod lab;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use sha2::{Digest, Sha256};

use lab::{
    BenchResult, Emulator, Lab, Row, SEED, Settings, Sizes, Stats, Tree, files_below, generate,
    json_report, number, verdict,
};

const FILES: usize = 20_000;
const LATENCY: [&str; 4] = ["--api-latency-ms", "20", "--put-latency-ms", "20"];
const FAULTS: [&str; 12] = [
    "--api-error-rate",
    "0.2",
    "--put-error-rate",
    "0.1",
    "--reset-rate",
    "0.02",
    "--token-lifetime-calls",
    "200",
    "--link-lifetime-secs",
    "2",
    "--seed",
    "5",
];
const LIMIT: f64 = 3.0;
const ROUNDS: usize = 2;

fn main() -> ExitCode {
    let row = match Settings::from_env().and_then(soak) {
        Ok(row) => row,
        Err(e) => Row::error("soak", e.as_ref()),
    };
    verdict("tcb-deploy soak benchmark", &[row])
}

fn soak(settings: Settings) -> BenchResult<Row> {
    let lab = Lab::new(FILES as f64 * 2_500.0 * 3.0, settings)?;
    let files = lab.count(FILES);
    let tree = generate(
        &lab.path("site"),
        files,
        (files / 50).max(1),
        &Sizes::Uniform {
            min: 100,
            max: 4_900,
        },
        SEED,
    )?;
    let calm = Emulator::start(&lab, "emulator-calm", &LATENCY)?;
    let faulty_args: Vec<&str> = LATENCY.iter().chain(FAULTS.iter()).copied().collect();
    let faulty = Emulator::start(&lab, "emulator-faulty", &faulty_args)?;

    let (mut calm_secs, mut faulty_secs) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        calm_secs.push(deploy(&lab, &calm, &tree, &format!("calm-{round}"))?);
        let before = faulty.counters()?;
        faulty_secs.push(deploy(&lab, &faulty, &tree, &format!("faulty-{round}"))?);
        let after = faulty.counters()?;
        let delta = |k: &str| number(&after, k) - number(&before, k);
        let calls = api_calls(&after) - api_calls(&before);
        eprintln!(
            "faulty run: {} PUTs for {} stored, {calls} API calls for {files} files",
            delta("puts"),
            delta("puts_stored"),
        );
    }
    drop(calm);
    drop(faulty);
    let calm = Stats::of(&calm_secs);
    let faulty = Stats::of(&faulty_secs);
    let ratio = faulty.median / calm.median;
    lab.finish();
    Ok(Row {
        target: format!("soak: {files} files, faults on, all online byte-identical"),
        measured: format!("{:.1} s (runs {})", faulty.median, secs(&faulty_secs)),
        peer: format!(
            "fault-free {:.1} s (runs {})",
            calm.median,
            secs(&calm_secs)
        ),
        limit: format!("{ratio:.2}× (≤ {LIMIT}×)"),
        pass: ratio <= LIMIT,
    })
}

/// API calls of every endpoint in an emulator's counters.
fn api_calls(counters: &serde_json::Value) -> u64 {
    counters["api_calls"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0)
}

fn secs(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.1}")).collect();
    parts.join(", ")
}

/// Deploys the tree to a fresh environment of `emulator`; checks exit 0, every file uploaded
/// and every object byte-identical; returns the wall time.
fn deploy(lab: &Lab, emulator: &Emulator, tree: &Tree, name: &str) -> BenchResult<f64> {
    let env = format!("soak-{name}");
    emulator.create(&env)?;
    let json = lab.path(&format!("{name}.json"));
    let timing = emulator
        .tool()
        .args(["-q", "deploy", "--env", &env, "--dir"])
        .arg(&tree.dir)
        .arg("--state-dir")
        .arg(lab.path(&format!("state-{name}")))
        .args(["--concurrency", "16", "--json"])
        .timed_logging(
            &lab.path(&format!("time-{name}.txt")),
            &json,
            &lab.path(&format!("{name}.log")),
        )?;
    let report = json_report(&fs::read_to_string(&json)?)?;
    let uploaded = number(&report, "uploaded");
    if uploaded != tree.files as u64 || number(&report, "failed") != 0 {
        return Err(format!("{name}: uploaded {uploaded} of {} files", tree.files).into());
    }
    let checked = check_online(&lab.path(&emulator.name), &env, &tree.dir)?;
    eprintln!(
        "{name}: {uploaded} files in {:.1} s wall, {:.1} s CPU; {checked} objects byte-identical",
        timing.wall,
        timing.cpu()
    );
    Ok(timing.wall)
}

/// Compares every file under `dir` with its object in the emulator's data folder
/// (`objects/ENV/<sha256(key)>.<md5>.data`); the number of files compared.
fn check_online(data: &Path, env: &str, dir: &Path) -> BenchResult<usize> {
    let mut stored: HashMap<String, std::path::PathBuf> = HashMap::new();
    for entry in fs::read_dir(data.join("objects").join(env))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(stem) = name.strip_suffix(".data")
            && let Some((key_hash, _md5)) = stem.split_once('.')
        {
            stored.insert(key_hash.to_owned(), path);
        }
    }
    let files = files_below(dir)?;
    for path in &files {
        let key = path.strip_prefix(dir)?.to_str().ok_or("a non-UTF-8 name")?;
        let key_hash = hex::encode(Sha256::digest(key.as_bytes()));
        let object = stored
            .get(&key_hash)
            .ok_or_else(|| format!("{key} is not online"))?;
        if fs::read(object)? != fs::read(path)? {
            return Err(format!("{key} differs online").into());
        }
    }
    Ok(files.len())
}
