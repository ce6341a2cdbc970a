//! Generated site folders: deterministic names, sizes and bytes from a seed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{BenchResult, MB};

/// splitmix64: small, fast, and the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
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
pub enum Sizes {
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
pub struct Tree {
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

/// Names by share of files: pages, scripts, styles, images, data, fonts.
pub const KINDS: [(&str, &str, u32); 7] = [
    ("page", "html", 10),
    ("chunk", "js", 25),
    ("style", "css", 10),
    ("img", "png", 25),
    ("data", "json", 10),
    ("icon", "svg", 10),
    ("font", "woff2", 10),
];

pub fn generate(
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

pub fn draw_sizes(rng: &mut Rng, files: usize, sizes: &Sizes) -> Vec<u64> {
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

pub fn describe_sizes(lengths: &[u64]) {
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

/// Every file below `dir`, sorted.
pub fn files_below(dir: &Path) -> BenchResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                folders.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}
