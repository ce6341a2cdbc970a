//! The performance benchmark: checks the targets of the performance issue against the release
//! binary, and prints each as PASS or FAIL with its numbers.
//!
//! 1. `nochange`: `plan` of an unchanged, already deployed 50,000-file / 2 GB tree (stat cache
//!    warm) takes at most 0.25 s and no longer than `git status` on the same tree.
//! 2. `hash`: `plan` with no stat cache against an empty store hashes the tree at least 3× as
//!    fast as coreutils' `sha256sum` over the same files (page cache warm for both).
//! 3. `upload`: 5,000 small files, 20 ms of injected latency per API call and per PUT,
//!    `--concurrency 16`: at least 85 % of the ideal `files × 40 ms / 16`.
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

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test: the one cargo built for this bench (release profile).
const BIN: &str = env!("CARGO_BIN_EXE_tcb-deploy");

/// The emulator's well-known component credentials (see README, "The emulator").
const CREDENTIALS: [(&str, &str); 3] = [
    ("TCB_COMPONENT_APPID", "wx-emulator-component"),
    ("TCB_COMPONENT_APPSECRET", "emulator-component-secret"),
    ("TCB_COMPONENT_VERIFY_TICKET", "emulator-verify-ticket"),
];

/// Every generated tree derives from this, so two runs measure the same bytes.
const SEED: u64 = 0x7cb_de91_0ced;

const MB: f64 = 1_000_000.0;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

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
    println!(
        "\n== tcb-deploy benchmark (scale {}, {:.0} s) ==",
        options.scale,
        started.elapsed().as_secs_f64()
    );
    print_table(&rows);
    if rows.iter().all(|row| row.pass) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs the chosen benchmarks; one that cannot run becomes a failed row, and the others go on.
fn run(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    let lab = match Lab::new(options) {
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
    const ALL: [Bench; 4] = [Bench::NoChange, Bench::Hash, Bench::Upload, Bench::Rss];

    fn name(self) -> &'static str {
        match self {
            Bench::NoChange => "nochange",
            Bench::Hash => "hash",
            Bench::Upload => "upload",
            Bench::Rss => "rss",
        }
    }
}

struct Options {
    benches: Vec<Bench>,
    /// Multiplies every file count and byte total (`BENCH_SCALE`, default 1).
    scale: f64,
    /// Leave the generated data in place (`BENCH_KEEP=1`).
    keep: bool,
}

impl Options {
    fn from_env() -> BenchResult<Options> {
        let mut benches = Vec::new();
        // cargo passes `--bench` to a harness-less bench; flags are not ours.
        for arg in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
            let bench = Bench::ALL
                .into_iter()
                .find(|b| b.name() == arg)
                .ok_or_else(|| format!("unknown benchmark {arg:?}: nochange, hash, upload, rss"))?;
            if !benches.contains(&bench) {
                benches.push(bench);
            }
        }
        if benches.is_empty() {
            benches = Bench::ALL.to_vec();
        }
        let scale = match std::env::var("BENCH_SCALE") {
            Ok(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s <= 1.0)
                .ok_or_else(|| format!("BENCH_SCALE={text:?}: a number in (0, 1]"))?,
            Err(_) => 1.0,
        };
        let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
        Ok(Options {
            benches,
            scale,
            keep,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// One line of the final table.
struct Row {
    target: String,
    measured: String,
    peer: String,
    limit: String,
    pass: bool,
}

impl Row {
    fn error(what: &str, e: &dyn std::error::Error) -> Row {
        eprintln!("error in {what}: {e}");
        Row {
            target: what.to_owned(),
            measured: format!("error: {e}"),
            peer: String::new(),
            limit: String::new(),
            pass: false,
        }
    }
}

fn print_table(rows: &[Row]) {
    let header = ["target", "measured", "peer", "ratio / limit", "result"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            let result = if r.pass { "PASS" } else { "FAIL" };
            [&r.target, &r.measured, &r.peer, &r.limit, result].map(|s| s as &str)
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&header);
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &cells {
        line(row);
    }
}

/// Median and minimum of some timings.
#[derive(Clone, Copy, Debug)]
struct Stats {
    median: f64,
    min: f64,
    n: usize,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            n,
        }
    }

    fn ms(&self) -> String {
        format!(
            "median {:.1} ms, min {:.1} ms (n={})",
            self.median * 1e3,
            self.min * 1e3,
            self.n
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The lab: a temporary folder, commands, emulators

/// The temporary folder everything is generated in.
struct Lab {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    keep: bool,
    /// `BENCH_SCALE`: multiplies every file count and byte total.
    scale: f64,
}

impl Lab {
    fn new(options: &Options) -> BenchResult<Lab> {
        let needed = options
            .benches
            .iter()
            .map(|b| match b {
                // Tree, the emulator's copy, git's objects, and a margin.
                Bench::NoChange | Bench::Hash => 7.0e9 * options.scale,
                Bench::Upload => 0.3e9 * options.scale,
                Bench::Rss => 2.0e9 * options.scale,
            })
            .fold(0.0_f64, f64::max)
            + 0.5e9;
        let available = available_bytes(Path::new("/tmp"))?;
        eprintln!(
            "disk: {:.1} GB free under /tmp, about {:.1} GB needed",
            available / 1e9,
            needed / 1e9
        );
        if available < needed {
            return Err(format!(
                "not enough space under /tmp: {:.1} GB free, {:.1} GB needed (try BENCH_SCALE)",
                available / 1e9,
                needed / 1e9
            )
            .into());
        }
        let dir = tempfile::Builder::new()
            .prefix("tcb-deploy-bench-")
            .tempdir_in("/tmp")?;
        let root = dir.path().to_path_buf();
        eprintln!("data: {}", root.display());
        Ok(Lab {
            dir: Some(dir),
            root,
            keep: options.keep,
            scale: options.scale,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn count(&self, full: usize) -> usize {
        ((full as f64 * self.scale).round() as usize).max(1)
    }

    fn finish(mut self) {
        if let Some(dir) = self.dir.take() {
            if self.keep {
                eprintln!("kept the data in {}", dir.keep().display());
            } else {
                eprintln!("removing {}", dir.path().display());
            }
        }
    }
}

fn available_bytes(path: &Path) -> BenchResult<f64> {
    let out = Command::new("df").arg("-Pk").arg(path).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kb = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|f| f.parse::<f64>().ok())
        .ok_or_else(|| format!("cannot read df's answer: {text}"))?;
    Ok(kb * 1024.0)
}

/// A command line with its environment: run as is, under `/usr/bin/time`, or handed to
/// hyperfine as one string.
#[derive(Clone)]
struct Cmd {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl Cmd {
    fn new(program: &str) -> Cmd {
        Cmd {
            argv: vec![program.to_owned()],
            env: Vec::new(),
        }
    }

    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.argv.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Cmd {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]);
        // Settings of whoever runs the bench must not leak into the tool.
        for (key, _) in std::env::vars() {
            if key.starts_with("TCB_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// As one line for hyperfine's `-N` (no shell): split on spaces, so no argument may hold one.
    fn line(&self) -> BenchResult<String> {
        if let Some(bad) = self.argv.iter().find(|a| a.contains(' ')) {
            return Err(format!("argument with a space cannot go to hyperfine: {bad:?}").into());
        }
        Ok(self.argv.join(" "))
    }

    /// Runs to the end with output captured; an exit other than 0 is an error.
    fn output(&self) -> BenchResult<Output> {
        let out = self.command().stdin(Stdio::null()).output()?;
        if !out.status.success() {
            return Err(format!(
                "`{}` exited with {}: {}",
                self.argv.join(" "),
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 800)
            )
            .into());
        }
        Ok(out)
    }

    /// Runs under `/usr/bin/time` (standard output discarded unless `stdout` is given), timing
    /// the wall clock here and reading CPU time and peak RSS from `time`.
    fn timed(&self, report: &Path, stdout: Option<&Path>) -> BenchResult<Timing> {
        self.run_timed(report, stdout, None)
    }

    /// Like [`Cmd::timed`], with standard output to `stdout` and standard error to `stderr`.
    fn timed_logging(&self, report: &Path, stdout: &Path, stderr: &Path) -> BenchResult<Timing> {
        self.run_timed(report, Some(stdout), Some(stderr))
    }

    fn run_timed(
        &self,
        report: &Path,
        stdout: Option<&Path>,
        stderr: Option<&Path>,
    ) -> BenchResult<Timing> {
        let mut command = Cmd::new("/usr/bin/time")
            .args(["-v", "-o"])
            .arg(report)
            .args(&self.argv)
            .command();
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.stdin(Stdio::null());
        command.stdout(match stdout {
            Some(path) => Stdio::from(fs::File::create(path)?),
            None => Stdio::null(),
        });
        command.stderr(match stderr {
            Some(path) => Stdio::from(fs::File::create(path)?),
            None => Stdio::piped(),
        });
        let begun = Instant::now();
        let out = command.output()?;
        let wall = begun.elapsed().as_secs_f64();
        if !out.status.success() {
            let log = match stderr {
                Some(path) => fs::read_to_string(path).unwrap_or_default(),
                None => String::from_utf8_lossy(&out.stderr).into_owned(),
            };
            return Err(format!(
                "`{}` exited with {}: {}",
                self.argv.join(" "),
                out.status,
                tail(&log, 800)
            )
            .into());
        }
        Timing::parse(wall, &fs::read_to_string(report)?)
    }
}

/// What one timed run cost.
#[derive(Clone, Copy, Debug)]
struct Timing {
    wall: f64,
    user: f64,
    sys: f64,
    max_rss_kb: u64,
}

impl Timing {
    /// Reads GNU time's `-v` report.
    fn parse(wall: f64, report: &str) -> BenchResult<Timing> {
        let field = |name: &str| -> BenchResult<&str> {
            report
                .lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|rest| rest.trim_start_matches(':').trim())
                .ok_or_else(|| format!("no {name:?} in time's report: {report}").into())
        };
        Ok(Timing {
            wall,
            user: field("User time (seconds)")?.parse()?,
            sys: field("System time (seconds)")?.parse()?,
            max_rss_kb: field("Maximum resident set size (kbytes)")?.parse()?,
        })
    }

    fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim()
}

/// A `tcb-deploy emulator` child process on a free port of 127.0.0.1, killed when dropped.
struct Emulator {
    child: Child,
    base: String,
    name: String,
}

impl Emulator {
    fn start(lab: &Lab, name: &str, faults: &[&str]) -> BenchResult<Emulator> {
        // A port the kernel just handed out and took back: free unless another process grabs
        // it in the next few milliseconds.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let log = fs::File::create(lab.path(&format!("{name}.log")))?;
        let child = Cmd::new(BIN)
            .args(["-q", "emulator", "--addr", &addr, "--data"])
            .arg(lab.path(name))
            .args(["--create-delay-ms", "0"])
            .args(faults)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()?;
        let mut emulator = Emulator {
            child,
            base: format!("http://{addr}"),
            name: name.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = emulator.child.try_wait()? {
                return Err(format!("emulator {name} exited with {status}; see {name}.log").into());
            }
            if http_get(&addr, "/_emulator/health").is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("emulator {name} did not answer on {addr} in 20 s").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("emulator {name} at {} {}", emulator.base, faults.join(" "));
        Ok(emulator)
    }

    /// The binary with this emulator as its API and the component credentials.
    fn tool(&self) -> Cmd {
        let mut cmd = Cmd::new(BIN).env("TCB_API_BASE", &self.base);
        for (key, value) in CREDENTIALS {
            cmd = cmd.env(key, value);
        }
        cmd
    }

    /// Opens the static website of `env` and waits until it is online.
    fn create(&self, env: &str) -> BenchResult<()> {
        self.tool()
            .args(["-q", "create", "--env", env, "--wait", "--timeout", "60"])
            .output()?;
        Ok(())
    }

    fn counters(&self) -> BenchResult<Value> {
        let addr = self.base.trim_start_matches("http://");
        Ok(serde_json::from_str(&http_get(
            addr,
            "/_emulator/counters",
        )?)?)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("emulator {} stopped", self.name);
    }
}

/// A plain HTTP/1.1 GET on loopback, for the emulator's own pages; the body if the status is 200.
fn http_get(addr: &str, path: &str) -> BenchResult<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("no end of headers in the emulator's answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")).into());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The deploy report the tool prints with `--json` (the last line of its output).
fn json_report(stdout: &str) -> BenchResult<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("no JSON report on standard output")?;
    Ok(serde_json::from_str(line)?)
}

fn number(report: &Value, key: &str) -> u64 {
    report.get(key).and_then(Value::as_u64).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Generated trees

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// How file sizes are drawn.
enum Sizes {
    /// Log-normal around `median` (skewed: most files small, a few large), clamped to
    /// [`min`, `max`], then scaled so that the total is about `total`.
    Skewed {
        median: f64,
        sigma: f64,
        min: u64,
        max: u64,
        total: u64,
    },
    /// Uniform in [`min`, `max`].
    Uniform { min: u64, max: u64 },
}

/// A generated site folder.
struct Tree {
    dir: PathBuf,
    files: usize,
    bytes: u64,
}

/// Names by share of files: pages, scripts, styles, images, data, fonts.
const KINDS: [(&str, &str, u32); 7] = [
    ("page", "html", 10),
    ("chunk", "js", 25),
    ("style", "css", 10),
    ("img", "png", 25),
    ("data", "json", 10),
    ("icon", "svg", 10),
    ("font", "woff2", 10),
];

fn generate(
    dir: &Path,
    files: usize,
    folders: usize,
    sizes: &Sizes,
    seed: u64,
) -> BenchResult<Tree> {
    let begun = Instant::now();
    let mut rng = Rng(seed);
    let lengths = draw_sizes(&mut rng, files, sizes);
    // Folders two deep: `sec-NN/grp-NNNN`, twenty groups per section.
    let folders = folders.max(1);
    let folder_names: Vec<String> = (0..folders)
        .map(|f| format!("sec-{:02}/grp-{f:04}", f / 20))
        .collect();
    for name in &folder_names {
        fs::create_dir_all(dir.join(name))?;
    }
    let weight: u32 = KINDS.iter().map(|k| k.2).sum();
    let mut buf = Vec::new();
    for (i, &len) in lengths.iter().enumerate() {
        let path = match i {
            // A few files at the root, as a real build has, including a service worker.
            0 => dir.join("index.html"),
            1 => dir.join("sw.js"),
            2 => dir.join("404.html"),
            _ => {
                let mut pick = (rng.next() % u64::from(weight)) as u32;
                let (stem, ext, _) = KINDS
                    .iter()
                    .find(|k| {
                        let hit = pick < k.2;
                        pick = pick.saturating_sub(k.2);
                        hit
                    })
                    .copied()
                    .unwrap_or(KINDS[0]);
                let folder = &folder_names[rng.below(folders)];
                dir.join(folder).join(format!("{stem}-{i:06}.{ext}"))
            }
        };
        buf.resize(len as usize, 0);
        rng.fill(&mut buf);
        fs::write(path, &buf)?;
    }
    let bytes = lengths.iter().sum();
    eprintln!(
        "generated {}: {files} files in {folders} folders, {:.1} MB, in {:.1} s",
        dir.display(),
        bytes as f64 / MB,
        begun.elapsed().as_secs_f64()
    );
    describe_sizes(&lengths);
    Ok(Tree {
        dir: dir.to_path_buf(),
        files,
        bytes,
    })
}

fn draw_sizes(rng: &mut Rng, files: usize, sizes: &Sizes) -> Vec<u64> {
    match *sizes {
        Sizes::Uniform { min, max } => (0..files)
            .map(|_| min + rng.next() % (max - min + 1))
            .collect(),
        Sizes::Skewed {
            median,
            sigma,
            min,
            max,
            total,
        } => {
            let raw: Vec<f64> = (0..files)
                .map(|_| median * (sigma * rng.normal()).exp())
                .collect();
            // Scale toward the wanted total; clamping moves it, so repeat a few times.
            let mut factor = 1.0;
            let mut lengths = Vec::new();
            for _ in 0..20 {
                lengths = raw
                    .iter()
                    .map(|r| ((r * factor) as u64).clamp(min, max))
                    .collect();
                let sum: u64 = lengths.iter().sum();
                let off = total as f64 / sum as f64;
                if (off - 1.0).abs() < 0.002 {
                    break;
                }
                factor *= off;
            }
            lengths
        }
    }
}

fn describe_sizes(lengths: &[u64]) {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    eprintln!(
        "  sizes: min {} B, p50 {} B, p90 {} B, p99 {} B, max {} B; {} files ≥ 1 MB",
        at(0.0),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        sorted.iter().filter(|&&l| l >= 1_000_000).count()
    );
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
        .args(["--concurrency", &concurrency.to_string(), "--json"])
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
