//! What the benchmark binaries share: a temporary folder to generate data in, commands to run
//! and time, the emulator as a child process, generated trees, and the results table.
//!
//! Each bench binary compiles this module for itself and uses part of it.
#![allow(dead_code, unused_imports)]

mod cmd;
mod emulator;
mod results;
mod tree;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use cmd::{Cmd, Timing, tail};
pub use emulator::{Emulator, http_get, json_report, number};
pub use results::{Row, Stats, verdict};
pub use tree::{Rng, Sizes, Tree, files_below, generate};

/// The binary under test: the one cargo built for this bench (release profile).
pub const BIN: &str = env!("CARGO_BIN_EXE_tcb-deploy");

/// The emulator's well-known component credentials (see README, "The emulator").
pub const CREDENTIALS: [(&str, &str); 3] = [
    ("TCB_COMPONENT_APPID", "wx-emulator-component"),
    ("TCB_COMPONENT_APPSECRET", "emulator-component-secret"),
    ("TCB_COMPONENT_VERIFY_TICKET", "emulator-verify-ticket"),
];

/// Every generated tree derives from this, so two runs measure the same bytes.
pub const SEED: u64 = 0x7cb_de91_0ced;

pub const MB: f64 = 1_000_000.0;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The settings every bench reads from its environment.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Multiplies every file count and byte total (`BENCH_SCALE`, default 1).
    pub scale: f64,
    /// Leave the generated data in place (`BENCH_KEEP=1`).
    pub keep: bool,
}

impl Settings {
    pub fn from_env() -> BenchResult<Settings> {
        let scale = match std::env::var("BENCH_SCALE") {
            Ok(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s <= 1.0)
                .ok_or_else(|| format!("BENCH_SCALE={text:?}: a number in (0, 1]"))?,
            Err(_) => 1.0,
        };
        let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
        Ok(Settings { scale, keep })
    }
}

/// The arguments naming which of `known` to run (all when none is named). cargo passes
/// `--bench` to a harness-less bench; flags are not ours.
pub fn chosen<T: Copy + PartialEq>(known: &[(&str, T)]) -> BenchResult<Vec<T>> {
    let mut chosen = Vec::new();
    for arg in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        let (_, bench) = known.iter().find(|(name, _)| *name == arg).ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
            format!("unknown benchmark {arg:?}: {}", names.join(", "))
        })?;
        if !chosen.contains(bench) {
            chosen.push(*bench);
        }
    }
    if chosen.is_empty() {
        chosen = known.iter().map(|(_, bench)| *bench).collect();
    }
    Ok(chosen)
}

/// The temporary folder everything is generated in.
pub struct Lab {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    keep: bool,
    /// `BENCH_SCALE`: multiplies every file count and byte total.
    pub scale: f64,
}

impl Lab {
    /// A fresh folder under /tmp, once there is room there for `needed` bytes.
    pub fn new(needed: f64, settings: Settings) -> BenchResult<Lab> {
        let needed = needed * settings.scale + 0.5e9;
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
            keep: settings.keep,
            scale: settings.scale,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn count(&self, full: usize) -> usize {
        ((full as f64 * self.scale).round() as usize).max(1)
    }

    pub fn finish(mut self) {
        if let Some(dir) = self.dir.take() {
            if self.keep {
                eprintln!("kept the data in {}", dir.keep().display());
            } else {
                eprintln!("removing {}", dir.path().display());
            }
        }
    }
}

pub fn available_bytes(path: &Path) -> BenchResult<f64> {
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
