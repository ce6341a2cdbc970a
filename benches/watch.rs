//! The watch benchmark: checks the watch daemon's targets against the release binary, and prints
//! each as PASS or FAIL with its numbers.
//!
//! One daemon watches a generated 50,000-file site (small files) deployed to an emulator:
//!
//! 1. `idle`: once its first deploy is done (it says `READY=1` on `NOTIFY_SOCKET`) and it has
//!    settled, the daemon is left alone for 60 s: it may use at most 0.1 s of CPU, and its
//!    resident memory at the end is at most 20 MB (read from `/proc`).
//! 2. `latency`: 100 edits, one at a time, with a 200 ms quiet period: the time from writing a
//!    file to the daemon's log line saying that file's PUT completed. p50 ≤ 250 ms, p95 ≤ 400 ms.
//!    The next edit waits for the cycle's end (its `deployed` line), so edits do not queue.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench watch [-- idle latency]
//! BENCH_SCALE=0.1 cargo bench --bench watch      # a tenth of the files, a tenth of the edits
//! ```

mod lab;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use lab::{
    BIN, BenchResult, Emulator, Lab, Row, SEED, Settings, Sizes, chosen, files_below, generate,
};

/// The quiet period the latency target is stated for.
const QUIET_MS: u64 = 200;
/// How long the idle daemon is watched.
const IDLE: Duration = Duration::from_secs(60);
/// After `READY=1`, the daemon is idle once it logged nothing for this long.
const SETTLE: Duration = Duration::from_secs(3);
/// The longest the first deploy may take before the run is called failed.
const DEADLINE: Duration = Duration::from_secs(600);
/// The longest a log line awaited after an edit may take.
const LINE_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bench {
    Idle,
    Latency,
}

impl Bench {
    const NAMED: [(&str, Bench); 2] = [("idle", Bench::Idle), ("latency", Bench::Latency)];
}

fn main() -> ExitCode {
    let setup = chosen(&Bench::NAMED).and_then(|b| Ok((b, Settings::from_env()?)));
    let (benches, settings) = match setup {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let rows = match run(&benches, settings) {
        Ok(rows) => rows,
        Err(e) => vec![Row::error("watch", e.as_ref())],
    };
    let title = format!(
        "tcb-deploy watch benchmark (scale {}, {:.0} s)",
        settings.scale,
        started.elapsed().as_secs_f64()
    );
    lab::verdict(&title, &rows)
}

fn run(benches: &[Bench], settings: Settings) -> BenchResult<Vec<Row>> {
    let lab = Lab::new(0.3e9, settings)?;
    let files = lab.count(50_000);
    let tree = generate(
        &lab.path("site"),
        files,
        lab.count(400),
        &Sizes::Uniform {
            min: 100,
            max: 2000,
        },
        SEED,
    )?;
    let emulator = Emulator::start(&lab, "emulator", &[])?;
    emulator.create("watch")?;
    let mut daemon = Daemon::start(&lab, &emulator, &tree.dir)?;
    let begun = Instant::now();
    daemon.wait_ready()?;
    eprintln!(
        "first deploy of {files} files done in {:.1} s",
        begun.elapsed().as_secs_f64()
    );
    daemon.settle()?;

    let mut rows = Vec::new();
    if benches.contains(&Bench::Idle) {
        match bench_idle(&mut daemon, files) {
            Ok(mut new) => rows.append(&mut new),
            Err(e) => rows.push(Row::error("idle", e.as_ref())),
        }
    }
    if benches.contains(&Bench::Latency) {
        let edits = lab.count(100).max(20);
        match bench_latency(&mut daemon, &tree.dir, edits) {
            Ok(mut new) => rows.append(&mut new),
            Err(e) => rows.push(Row::error("latency", e.as_ref())),
        }
    }
    if let Err(e) = daemon.stop() {
        rows.push(Row::error("stop", e.as_ref()));
    }
    drop(emulator);
    lab.finish();
    Ok(rows)
}

fn bench_idle(daemon: &mut Daemon, files: usize) -> BenchResult<Vec<Row>> {
    eprintln!("\n--- idle: {} s ---", IDLE.as_secs());
    let before = daemon.cpu_seconds()?;
    // Nothing to wait for: the time passing is what is measured.
    std::thread::sleep(IDLE);
    let cpu = daemon.cpu_seconds()? - before;
    let rss_mb = daemon.rss_kb()? as f64 / 1024.0;
    let lines = daemon.drain();
    eprintln!(
        "idle {} s: {cpu:.3} s CPU, {rss_mb:.1} MiB resident, {} log lines",
        IDLE.as_secs(),
        lines.len()
    );
    for line in lines.iter().take(5) {
        eprintln!("  {line}");
    }
    Ok(vec![
        Row {
            target: format!("idle CPU, {} s watching {files} files", IDLE.as_secs()),
            measured: format!("{cpu:.3} s"),
            peer: String::new(),
            limit: "≤ 0.1 s".into(),
            pass: cpu <= 0.1,
        },
        Row {
            target: "idle RSS".into(),
            measured: format!("{rss_mb:.1} MiB"),
            peer: String::new(),
            limit: "≤ 20 MB".into(),
            pass: rss_mb * 1.048_576 <= 20.0,
        },
    ])
}

fn bench_latency(daemon: &mut Daemon, dir: &Path, edits: usize) -> BenchResult<Vec<Row>> {
    eprintln!("\n--- latency: {edits} edits, quiet period {QUIET_MS} ms ---");
    let targets = edit_targets(dir, edits)?;
    let mut latencies = Vec::with_capacity(edits);
    for (n, (path, key)) in targets.iter().enumerate() {
        daemon.drain();
        let content = format!("edit {n} of {key}\n");
        let written = Instant::now();
        std::fs::write(path, content)?;
        let uploaded = daemon.wait_line(|line| {
            event(line, "uploaded").is_some_and(|e| e["path"].as_str() == Some(key.as_str()))
        })?;
        latencies.push(uploaded.duration_since(written).as_secs_f64());
        daemon.wait_line(|line| event(line, "deployed").is_some())?;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize] * 1e3;
    let (p50, p95) = (at(0.5), at(0.95));
    eprintln!(
        "write → PUT done: min {:.0} ms, p50 {p50:.0} ms, p95 {p95:.0} ms, max {:.0} ms",
        at(0.0),
        at(1.0)
    );
    let row = |name: &str, ms: f64, limit: f64| Row {
        target: format!("write → PUT done, {name} of {edits} edits"),
        measured: format!("{ms:.0} ms"),
        peer: format!("quiet period {QUIET_MS} ms"),
        limit: format!("≤ {limit:.0} ms"),
        pass: ms <= limit,
    };
    Ok(vec![row("p50", p50, 250.0), row("p95", p95, 400.0)])
}

/// The JSON log line `line` if its message is `message`. The daemon logs JSON: its field names
/// are stable, whatever the layout of the text lines.
fn event(line: &str, message: &str) -> Option<serde_json::Value> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    (event["message"] == message).then_some(event)
}

/// `count` files of the tree spread over its folders, with their keys.
fn edit_targets(dir: &Path, count: usize) -> BenchResult<Vec<(PathBuf, String)>> {
    let files = files_below(dir)?;
    if files.len() < count {
        return Err(format!("{} files, {count} edits wanted", files.len()).into());
    }
    let step = files.len() / count;
    files
        .into_iter()
        .step_by(step)
        .take(count)
        .map(|path| {
            let key = path
                .strip_prefix(dir)?
                .to_str()
                .ok_or("a generated name is not UTF-8")?
                .to_owned();
            Ok((path, key))
        })
        .collect()
}

/// A `tcb-deploy watch` child: its log lines arrive, stamped, on a channel.
struct Daemon {
    child: Child,
    lines: Receiver<(Instant, String)>,
    notify: UnixDatagram,
}

impl Daemon {
    fn start(lab: &Lab, emulator: &Emulator, dir: &Path) -> BenchResult<Daemon> {
        let socket = lab.path("notify.sock");
        let notify = UnixDatagram::bind(&socket)?;
        let mut child = emulator
            .tool()
            .args([
                "--log-format",
                "json",
                "watch",
                "--env",
                "watch",
                "--quiet-ms",
            ])
            .arg(QUIET_MS.to_string())
            .arg("--dir")
            .arg(dir)
            .arg("--state-dir")
            .arg(lab.path("state"))
            .env("NOTIFY_SOCKET", socket.to_str().ok_or("socket path")?)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if send.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        eprintln!("watching with {BIN} (pid {})", child.id());
        Ok(Daemon {
            child,
            lines,
            notify,
        })
    }

    /// Waits for `READY=1`: the first deploy is done.
    fn wait_ready(&mut self) -> BenchResult<()> {
        self.notify.set_read_timeout(Some(DEADLINE))?;
        let mut buf = [0u8; 4096];
        loop {
            let n = self
                .notify
                .recv(&mut buf)
                .map_err(|e| format!("no READY=1 from the daemon: {e}"))?;
            if buf[..n].starts_with(b"READY=1") {
                return Ok(());
            }
        }
    }

    /// Waits until the daemon has logged nothing for [`SETTLE`].
    fn settle(&mut self) -> BenchResult<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.lines.recv_timeout(SETTLE) {
                Ok(_) if Instant::now() < deadline => {}
                Ok(_) => return Err("the daemon never went quiet".into()),
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
            }
        }
    }

    /// The first log line that `wanted` accepts, and when it arrived.
    fn wait_line(&mut self, wanted: impl Fn(&str) -> bool) -> BenchResult<Instant> {
        let deadline = Instant::now() + LINE_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if wanted(&line) => return Ok(at),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no such log line in {} s", LINE_DEADLINE.as_secs()).into());
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
            }
        }
    }

    /// The log lines that arrived and were not read yet.
    fn drain(&mut self) -> Vec<String> {
        self.lines.try_iter().map(|(_, line)| line).collect()
    }

    fn gone(&mut self) -> Box<dyn std::error::Error> {
        let status = self.child.try_wait().ok().flatten();
        format!("the daemon ended: {status:?}").into()
    }

    /// User plus system CPU time so far (`/proc/PID/stat`, fields 14 and 15).
    fn cpu_seconds(&self) -> BenchResult<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The command name, in parentheses, may hold spaces: count fields after it.
        let after = stat.rsplit_once(')').ok_or("no command name in stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| -> BenchResult<f64> {
            Ok(fields.get(i).ok_or("short stat")?.parse::<f64>()?)
        };
        // Fields 14 and 15 of the whole line are 12 and 13 after the name (state is field 3).
        let clock = clock_ticks_per_second()?;
        Ok((ticks(11)? + ticks(12)?) / clock)
    }

    /// Resident memory now (`VmRSS` of `/proc/PID/status`).
    fn rss_kb(&self) -> BenchResult<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .ok_or("no VmRSS in status")?;
        Ok(line.trim().trim_end_matches("kB").trim().parse()?)
    }

    /// SIGTERM, and the daemon must exit 0.
    fn stop(mut self) -> BenchResult<()> {
        let pid = i32::try_from(self.child.id())?;
        // SAFETY: kill has no memory effects; the pid is our own child's, not yet reaped.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        if sent != 0 {
            return Err(format!("kill: {}", std::io::Error::last_os_error()).into());
        }
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("the daemon exited with {status} after SIGTERM").into());
        }
        Ok(())
    }
}

fn clock_ticks_per_second() -> BenchResult<f64> {
    // SAFETY: sysconf reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        return Err("sysconf(_SC_CLK_TCK) failed".into());
    }
    Ok(ticks as f64)
}
