//! The performance benchmark: checks the targets of the performance issue against the release
//! binary, and prints each as PASS or FAIL with its numbers.
//!
//! 1. `nochange`: `plan` of an unchanged, already deployed 50,000-file / 2 GB tree (stat cache
//!    warm) takes at most 0.25 s and no longer than `git status` on the same tree.
//! 2. `hash`: `plan` with no stat cache against an empty store hashes the tree at least 3× as
//!    fast as coreutils' `sha256sum` over the same files (page cache warm for both).
//! 3. `upload`: 5,000 small files, 20 ms of injected latency per API call and per PUT,
//!    `--concurrency 16 --fixed-concurrency`: at least 85 % of the ideal `files × 40 ms / 16`.
//! 4. `rss`: the peak resident memory of a 100,000-file deploy stays at or under 64 MB.
//!
//! The machine is shared and noisy, so no figure stands alone: each is compared with a peer
//! measured in the same run (interleaved where the two can be), or with a fixed limit, and runs
//! are repeated (median and min). Everything is generated under a temporary folder in /tmp,
//! deterministically from a seed, and removed at the end; the emulators run as separate
//! processes on 127.0.0.1, so the tool talks to nothing else and their memory is not counted.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench deploy [-- nochange hash upload rss]
//! BENCH_SCALE=0.1 cargo bench --bench deploy      # a quick smoke run on a tenth of the data
//! BENCH_KEEP=1 cargo bench --bench deploy         # keep the data (its path is printed)
//! ```

mod lab;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;

use lab::{
    BenchResult, Cmd, Emulator, Lab, MB, Row, SEED, Settings, Sizes, Stats, Timing, Tree, chosen,
    generate, json_report, number, verdict,
};

fn main() -> ExitCode {
    let options = match Options::from_env() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let rows = run(&options);
    let title = format!(
        "tcb-deploy benchmark (scale {}, {:.0} s)",
        options.settings.scale,
        started.elapsed().as_secs_f64()
    );
    verdict(&title, &rows)
}

/// Runs the chosen benchmarks; one that cannot run becomes a failed row, and the others go on.
fn run(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    let needed = options
        .benches
        .iter()
        .map(|b| b.needed_bytes())
        .fold(0.0_f64, f64::max);
    let lab = match Lab::new(needed, options.settings) {
        Ok(lab) => lab,
        Err(e) => {
            rows.push(Row::error("setup", e.as_ref()));
            return rows;
        }
    };
    let mut shared = None;
    for bench in &options.benches {
        eprintln!("\n--- {} ---", bench.name());
        let result = match bench {
            Bench::NoChange => big_tree(&lab, &mut shared).and_then(|s| bench_no_change(&lab, s)),
            Bench::Hash => big_tree(&lab, &mut shared).and_then(|s| bench_hash(&lab, s)),
            Bench::Upload => bench_upload(&lab),
            Bench::Rss => bench_rss(&lab),
        };
        match result {
            Ok(mut new) => rows.append(&mut new),
            Err(e) => rows.push(Row::error(bench.name(), e.as_ref())),
        }
    }
    // Emulators stop before their data folder goes.
    drop(shared);
    lab.finish();
    rows
}

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bench {
    NoChange,
    Hash,
    Upload,
    Rss,
}

impl Bench {
    const NAMED: [(&str, Bench); 4] = [
        ("nochange", Bench::NoChange),
        ("hash", Bench::Hash),
        ("upload", Bench::Upload),
        ("rss", Bench::Rss),
    ];

    fn name(self) -> &'static str {
        Bench::NAMED
            .iter()
            .find(|(_, bench)| *bench == self)
            .map_or("?", |(name, _)| name)
    }

    /// Disk space it needs at full scale: the tree, the emulator's copy, git's objects.
    fn needed_bytes(self) -> f64 {
        match self {
            Bench::NoChange | Bench::Hash => 7.0e9,
            Bench::Upload => 0.3e9,
            Bench::Rss => 2.0e9,
        }
    }
}

struct Options {
    benches: Vec<Bench>,
    settings: Settings,
}

impl Options {
    fn from_env() -> BenchResult<Options> {
        Ok(Options {
            benches: chosen(&Bench::NAMED)?,
            settings: Settings::from_env()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmarks 1 and 2: the big tree

/// The 50,000-file / 2 GB tree, deployed once to an emulator; shared by `nochange` and `hash`.
struct BigTree {
    tree: Tree,
    /// State folder whose manifest holds the whole tree (warm stat cache).
    state: PathBuf,
    env: &'static str,
    git_done: bool,
    emulator: Emulator,
}

fn big_tree<'a>(lab: &Lab, shared: &'a mut Option<BigTree>) -> BenchResult<&'a mut BigTree> {
    if shared.is_none() {
        let sizes = Sizes::Skewed {
            median: 4096.0,
            sigma: 2.2,
            min: 8,
            max: 6 * 1024 * 1024,
            total: (2.0e9 * lab.scale) as u64,
        };
        let tree = generate(
            &lab.path("site"),
            lab.count(50_000),
            lab.count(400),
            &sizes,
            SEED,
        )?;
        let emulator = Emulator::start(lab, "emulator-big", &[])?;
        let env = "bench-full";
        emulator.create(env)?;
        let state = lab.path("state-full");
        // The first deploy fills the store and writes the manifest; it is not a target, but
        // its figures say where a full deploy's time goes.
        let timing = emulator
            .tool()
            .args(["-q", "deploy", "--env", env, "--dir"])
            .arg(&tree.dir)
            .arg("--state-dir")
            .arg(&state)
            .args(["--concurrency", "16", "--json"])
            .timed(
                &lab.path("time-initial.txt"),
                Some(&lab.path("initial.json")),
            )?;
        let report = json_report(&fs::read_to_string(lab.path("initial.json"))?)?;
        let uploaded = number(&report, "uploaded");
        eprintln!(
            "initial deploy: {uploaded} files, {:.1} MB in {:.1} s wall ({:.1} s CPU, peak RSS {} MB)",
            number(&report, "bytes_uploaded") as f64 / MB,
            timing.wall,
            timing.cpu(),
            timing.max_rss_kb / 1024
        );
        if uploaded != tree.files as u64 || number(&report, "failed") != 0 {
            return Err(
                format!("initial deploy uploaded {uploaded} of {} files", tree.files).into(),
            );
        }
        *shared = Some(BigTree {
            tree,
            state,
            env,
            git_done: false,
            emulator,
        });
    }
    shared.as_mut().ok_or_else(|| "no big tree".into())
}

/// git with no user or system configuration, so its defaults are what is measured, except
/// automatic gc: after the commit of 50,000 loose objects, `gc --auto` would repack them in the
/// background for minutes and take a core from every later measurement.
fn git(tree: &Path) -> Cmd {
    Cmd::new("git")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "gc.auto")
        .env("GIT_CONFIG_VALUE_0", "0")
        .env("GIT_CONFIG_KEY_1", "maintenance.auto")
        .env("GIT_CONFIG_VALUE_1", "false")
        .arg("-C")
        .arg(tree)
}

fn bench_no_change(lab: &Lab, big: &mut BigTree) -> BenchResult<Vec<Row>> {
    let dir = &big.tree.dir;
    if !big.git_done {
        let begun = Instant::now();
        git(dir).args(["init", "-q"]).output()?;
        // Storing objects uncompressed only makes `git add` quicker; status never reads them.
        git(dir)
            .args(["-c", "core.compression=0", "add", "-A"])
            .output()?;
        git(dir)
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@localhost",
                "commit",
                "-q",
                "-m",
                "tree",
            ])
            .output()?;
        big.git_done = true;
        eprintln!(
            "git init/add/commit in {:.1} s",
            begun.elapsed().as_secs_f64()
        );
    }
    let plan = big
        .emulator
        .tool()
        .args(["-q", "plan", "--env", big.env, "--dir"])
        .arg(dir)
        .arg("--state-dir")
        .arg(&big.state);
    let status = git(dir).args(["status", "--porcelain"]);

    // Both must be on their fast path: the plan uploads nothing, the work tree is clean.
    let out = plan.clone().arg("--json").output()?;
    let report = json_report(&String::from_utf8_lossy(&out.stdout))?;
    let planned = report
        .get("planned")
        .and_then(Value::as_array)
        .map_or(usize::MAX, Vec::len);
    if planned != 0 || number(&report, "unchanged") != big.tree.files as u64 {
        return Err(format!(
            "the no-change plan is not empty: {planned} planned, {} unchanged",
            number(&report, "unchanged")
        )
        .into());
    }
    let out = status.output()?;
    if !out.stdout.is_empty() {
        return Err("git status is not clean".into());
    }

    // Two hyperfine rounds in opposite orders, so a drift in the machine's load during one
    // command's runs hits both commands alike.
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..2 {
        let json = lab.path(&format!("hyperfine-nochange-{round}.json"));
        let order = if round == 0 { [0, 1] } else { [1, 0] };
        let lines = [plan.line()?, status.line()?];
        let mut hyperfine = Cmd::new("hyperfine").args([
            "-N",
            "--style",
            "basic",
            "--warmup",
            "3",
            "--runs",
            "20",
            "--export-json",
        ]);
        hyperfine = hyperfine.arg(&json);
        for i in order {
            hyperfine = hyperfine.arg(&lines[i]);
        }
        // Both commands inherit hyperfine's environment: the tool's and git's variables.
        hyperfine.env = plan.env.iter().chain(&status.env).cloned().collect();
        let out = hyperfine.output()?;
        eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim_end());
        let parsed: Value = serde_json::from_str(&fs::read_to_string(&json)?)?;
        let results = parsed
            .get("results")
            .and_then(Value::as_array)
            .ok_or("no results in hyperfine's JSON")?;
        for (slot, result) in order.iter().zip(results) {
            let runs = result
                .get("times")
                .and_then(Value::as_array)
                .ok_or("no times in hyperfine's JSON")?;
            times[*slot].extend(runs.iter().filter_map(Value::as_f64));
        }
    }
    let tool = Stats::of(&times[0]);
    let peer = Stats::of(&times[1]);
    let ratio = tool.median / peer.median;
    let limit = 0.25;
    Ok(vec![Row {
        target: format!("1 no-change plan, {} files", big.tree.files),
        measured: tool.ms(),
        peer: format!("git status {}", peer.ms()),
        limit: format!("{ratio:.2}× git (≤ 1.00), ≤ {:.0} ms", limit * 1e3),
        pass: tool.median <= limit && ratio <= 1.0,
    }])
}

fn bench_hash(lab: &Lab, big: &mut BigTree) -> BenchResult<Vec<Row>> {
    // A second env with an empty store, so the plan lists nothing and hashes everything.
    let env = "bench-empty";
    big.emulator.create(env)?;
    let dir = &big.tree.dir;
    let dir_text = dir.to_str().ok_or("temp path is not UTF-8")?;
    let plan_in = |state: &Path| {
        big.emulator
            .tool()
            .args(["-q", "plan", "--env", env, "--dir"])
            .arg(dir)
            .arg("--state-dir")
            .arg(state)
    };
    // The same files: everything but `.git/` (the tool leaves it out; `find` would not).
    let sha = Cmd::new("sh").arg("-c").arg(format!(
        "find {dir_text} -path {dir_text}/.git -prune -o -type f -print0 | xargs -0 sha256sum > /dev/null"
    ));
    let fresh_state = |n: usize| -> BenchResult<PathBuf> {
        let path = lab.path(&format!("state-cold-{n}"));
        if path.exists() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir_all(&path)?;
        Ok(path)
    };

    // Warm-up, one of each: brings the tree into the page cache and checks the plan hashes
    // (plans) every file.
    let state = fresh_state(0)?;
    let out = plan_in(&state).arg("--json").output()?;
    let report = json_report(&String::from_utf8_lossy(&out.stdout))?;
    let planned = report
        .get("planned")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if planned != big.tree.files {
        return Err(format!(
            "the cold plan planned {planned} of {} files",
            big.tree.files
        )
        .into());
    }
    sha.output()?;

    let rounds = 5;
    let mut tool = Vec::new();
    let mut peer = Vec::new();
    for round in 0..rounds {
        // Alternate which goes first, so neither always runs right after the other.
        for first in [round % 2 == 0, round % 2 != 0] {
            if first {
                let state = fresh_state(round + 1)?;
                let t = plan_in(&state).timed(&lab.path("time-plan.txt"), None)?;
                eprintln!(
                    "  cold plan   {:6.2} s  ({:.0} MB/s, CPU {:.2} s = {:.2} cores, RSS {} MB)",
                    t.wall,
                    big.tree.bytes as f64 / MB / t.wall,
                    t.cpu(),
                    t.cpu() / t.wall,
                    t.max_rss_kb / 1024
                );
                tool.push(t);
            } else {
                let t = sha.timed(&lab.path("time-sha.txt"), None)?;
                eprintln!(
                    "  sha256sum   {:6.2} s  ({:.0} MB/s, CPU {:.2} s = {:.2} cores)",
                    t.wall,
                    big.tree.bytes as f64 / MB / t.wall,
                    t.cpu(),
                    t.cpu() / t.wall
                );
                peer.push(t);
            }
        }
    }
    let gb = big.tree.bytes as f64 / 1e9;
    let walls = |ts: &[Timing]| Stats::of(&ts.iter().map(|t| t.wall).collect::<Vec<_>>());
    let cpu_per_gb =
        |ts: &[Timing]| Stats::of(&ts.iter().map(|t| t.cpu() / gb).collect::<Vec<_>>());
    let (tool_time, peer_time) = (walls(&tool), walls(&peer));
    // Throughput from the median and the best time; the ratio is of the medians.
    let rate = |seconds: f64| gb * 1e3 / seconds;
    let ratio = peer_time.median / tool_time.median;
    Ok(vec![Row {
        target: format!("2 cold hash, {} files / {gb:.2} GB", big.tree.files),
        measured: format!(
            "{:.0} MB/s (best {:.0}), {:.2} s, {:.2} CPU-s/GB",
            rate(tool_time.median),
            rate(tool_time.min),
            tool_time.median,
            cpu_per_gb(&tool).median
        ),
        peer: format!(
            "sha256sum {:.0} MB/s (best {:.0}), {:.2} s, {:.2} CPU-s/GB",
            rate(peer_time.median),
            rate(peer_time.min),
            peer_time.median,
            cpu_per_gb(&peer).median
        ),
        limit: format!("{ratio:.2}× (≥ 3.00×)"),
        pass: ratio >= 3.0,
    }])
}

// ---------------------------------------------------------------------------------------------
// Benchmark 3: uploads under latency

fn bench_upload(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = generate(
        &lab.path("small"),
        lab.count(5_000),
        lab.count(50),
        &Sizes::Uniform {
            min: 1024,
            max: 4096,
        },
        SEED + 1,
    )?;
    let emulator = Emulator::start(
        lab,
        "emulator-latency",
        &["--api-latency-ms", "20", "--put-latency-ms", "20"],
    )?;
    let concurrency = 16;
    // Each file is one API call (its upload link) and one PUT, 20 ms each.
    let ideal = tree.files as f64 * 0.040 / f64::from(concurrency);
    // The peer: what one file costs end to end with nothing else in flight (the emulator's
    // sleeps overshoot their 20 ms, and both sides do some work), measured on one folder at
    // concurrency 1 before each run; × files / 16 is the best perfect pipelining could do.
    let floor_dir = tree.dir.join("sec-00/grp-0000");
    let mut rows = Vec::new();
    let mut efficiencies = Vec::new();
    for run in 1..=3 {
        let floor_env = format!("bench-floor-{run}");
        emulator.create(&floor_env)?;
        let floor = upload_run(
            lab,
            &emulator,
            &floor_env,
            &floor_dir,
            1,
            &format!("floor-{run}"),
        )?;
        let per_file = floor.mean_file_ms / 1e3;
        let floor_total = tree.files as f64 * per_file / f64::from(concurrency);

        let env = format!("bench-up-{run}");
        emulator.create(&env)?;
        let before = emulator.counters()?;
        let measured = upload_run(
            lab,
            &emulator,
            &env,
            &tree.dir,
            concurrency,
            &format!("up-{run}"),
        )?;
        let after = emulator.counters()?;
        if measured.uploaded != tree.files {
            return Err(format!(
                "run {run} uploaded {} of {} files",
                measured.uploaded, tree.files
            )
            .into());
        }
        let t = measured.timing;
        let efficiency = ideal / t.wall;
        efficiencies.push(efficiency);
        eprintln!(
            "  run {run}: {:.2} s wall, CPU {:.2} s; per file {:.1} ms (alone: {:.1} ms), {:.1} in flight on average; {}",
            t.wall,
            t.cpu(),
            measured.mean_file_ms,
            floor.mean_file_ms,
            measured.in_flight,
            counter_delta(&before, &after)
        );
        rows.push(Row {
            target: format!(
                "3 upload run {run}, {} files, c={concurrency}, 20+20 ms",
                tree.files
            ),
            measured: format!("{:.2} s", t.wall),
            peer: format!(
                "ideal {ideal:.2} s; floor {floor_total:.2} s ({:.1} ms/file alone)",
                floor.mean_file_ms
            ),
            limit: format!(
                "{:.1} % of ideal (≥ 85 %), {:.1} % of floor",
                efficiency * 100.0,
                floor_total / t.wall * 100.0
            ),
            pass: efficiency >= 0.85,
        });
    }
    let eff = Stats::of(&efficiencies);
    eprintln!(
        "  efficiency: median {:.1} %, worst {:.1} %",
        eff.median * 100.0,
        eff.min * 100.0
    );
    Ok(rows)
}

/// One timed deploy with per-file logs, and what they say.
struct UploadRun {
    timing: Timing,
    uploaded: usize,
    /// Mean time from a file's start to its recorded upload (link + PUT + reads), in ms.
    mean_file_ms: f64,
    /// Sum of per-file times over the span of completions: how full the pipeline was kept.
    in_flight: f64,
}

fn upload_run(
    lab: &Lab,
    emulator: &Emulator,
    env: &str,
    dir: &Path,
    concurrency: u32,
    name: &str,
) -> BenchResult<UploadRun> {
    let json = lab.path(&format!("{name}.json"));
    let log = lab.path(&format!("{name}.log"));
    // JSON logs: one line per uploaded file, with its `ms`.
    let timing = emulator
        .tool()
        .args(["--log-format", "json", "deploy", "--env", env, "--dir"])
        .arg(dir)
        .arg("--state-dir")
        .arg(lab.path(&format!("state-{name}")))
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--fixed-concurrency",
        ])
        .arg("--json")
        .timed_logging(&lab.path("time-upload.txt"), &json, &log)?;
    let report = json_report(&fs::read_to_string(&json)?)?;
    let mut times = Vec::new();
    let mut first_done = f64::INFINITY;
    let mut last_done = f64::NEG_INFINITY;
    for line in fs::read_to_string(&log)?.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry.get("message").and_then(Value::as_str) != Some("uploaded") {
            continue;
        }
        // `ms` is whole milliseconds, cut down: half a millisecond more on average.
        let ms = entry.get("ms").and_then(Value::as_f64).unwrap_or(0.0) + 0.5;
        times.push(ms);
        if let Some(at) = entry
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(seconds_of_day)
        {
            first_done = first_done.min(at - ms / 1e3);
            last_done = last_done.max(at);
        }
    }
    let total_ms: f64 = times.iter().sum();
    Ok(UploadRun {
        timing,
        uploaded: usize::try_from(number(&report, "uploaded"))?,
        mean_file_ms: total_ms / times.len().max(1) as f64,
        in_flight: total_ms / 1e3 / (last_done - first_done),
    })
}

/// Seconds since midnight of an RFC 3339 UTC timestamp such as `2026-11-22T21:58:46.168621Z`.
fn seconds_of_day(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// What the emulator received between two counter snapshots, e.g. `staticuploadfile 5000, PUT 5000`.
fn counter_delta(before: &Value, after: &Value) -> String {
    let calls = |v: &Value| -> BTreeMap<String, u64> {
        v.get("api_calls")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (b, a) = (calls(before), calls(after));
    let mut parts: Vec<String> = a
        .iter()
        .filter_map(|(path, n)| {
            let d = n - b.get(path).copied().unwrap_or(0);
            (d > 0).then(|| format!("{} {d}", path.rsplit('/').next().unwrap_or(path)))
        })
        .collect();
    parts.push(format!(
        "PUT {}",
        number(after, "puts").saturating_sub(number(before, "puts"))
    ));
    parts.join(", ")
}

// ---------------------------------------------------------------------------------------------
// Benchmark 4: memory

fn bench_rss(lab: &Lab) -> BenchResult<Vec<Row>> {
    let tree = generate(
        &lab.path("tiny"),
        lab.count(100_000),
        lab.count(500),
        &Sizes::Uniform { min: 10, max: 90 },
        SEED + 2,
    )?;
    let emulator = Emulator::start(lab, "emulator-rss", &[])?;
    let env = "bench-rss";
    emulator.create(env)?;
    // 64 MB read as 64 MiB; time reports KiB.
    let limit_kb: u64 = 64 * 1024;
    let mut rows = Vec::new();
    for (run, what, want) in [(1, "deploy", tree.files as u64), (2, "no-change deploy", 0)] {
        let json = lab.path(&format!("rss-{run}.json"));
        let t = emulator
            .tool()
            .args(["-q", "deploy", "--env", env, "--dir"])
            .arg(&tree.dir)
            .arg("--state-dir")
            .arg(lab.path("state-rss"))
            .args(["--concurrency", "16", "--json"])
            .timed(&lab.path(&format!("time-rss-{run}.txt")), Some(&json))?;
        let report = json_report(&fs::read_to_string(&json)?)?;
        let uploaded = number(&report, "uploaded");
        if uploaded != want {
            return Err(format!("{what} uploaded {uploaded} files, expected {want}").into());
        }
        eprintln!(
            "  {what}: peak RSS {} kB, {:.1} s wall, CPU {:.1} s",
            t.max_rss_kb,
            t.wall,
            t.cpu()
        );
        rows.push(Row {
            target: format!("4 peak RSS, {} files, {what}", tree.files),
            measured: format!(
                "{:.1} MiB = {} KiB ({:.1} s)",
                t.max_rss_kb as f64 / 1024.0,
                t.max_rss_kb,
                t.wall
            ),
            peer: String::new(),
            limit: format!(
                "{:.0} % of 64 MiB",
                t.max_rss_kb as f64 * 100.0 / limit_kb as f64
            ),
            pass: t.max_rss_kb <= limit_kb,
        });
    }
    Ok(rows)
}
