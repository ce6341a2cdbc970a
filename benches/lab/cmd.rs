//! Commands to run, time and hand to hyperfine.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use super::BenchResult;

/// A command line with its environment: run as is, under `/usr/bin/time`, or handed to
/// hyperfine as one string.
#[derive(Clone)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new(program: &str) -> Cmd {
        Cmd {
            argv: vec![program.to_owned()],
            env: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.argv.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Cmd {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn command(&self) -> Command {
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
    pub fn line(&self) -> BenchResult<String> {
        if let Some(bad) = self.argv.iter().find(|a| a.contains(' ')) {
            return Err(format!("argument with a space cannot go to hyperfine: {bad:?}").into());
        }
        Ok(self.argv.join(" "))
    }

    /// Runs to the end with output captured; an exit other than 0 is an error.
    pub fn output(&self) -> BenchResult<Output> {
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
    pub fn timed(&self, report: &Path, stdout: Option<&Path>) -> BenchResult<Timing> {
        self.run_timed(report, stdout, None)
    }

    /// Like [`Cmd::timed`], with standard output to `stdout` and standard error to `stderr`.
    pub fn timed_logging(
        &self,
        report: &Path,
        stdout: &Path,
        stderr: &Path,
    ) -> BenchResult<Timing> {
        self.run_timed(report, Some(stdout), Some(stderr))
    }

    pub fn run_timed(
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
pub struct Timing {
    pub wall: f64,
    pub user: f64,
    pub sys: f64,
    pub max_rss_kb: u64,
}

impl Timing {
    /// Reads GNU time's `-v` report.
    pub fn parse(wall: f64, report: &str) -> BenchResult<Timing> {
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

    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

pub fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim()
}
