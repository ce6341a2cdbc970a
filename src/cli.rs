//! The command line, as clap parses it. These structs mirror the flags; they are turned into a
//! validated [`crate::config::Config`] before any work starts, and core code never sees them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::Shard;

#[derive(Debug, Parser)]
#[command(
    name = "tcb-deploy",
    version,
    about = "Keeps a WeChat CloudBase static website in step with a local build-output folder"
)]
pub struct Cli {
    /// Config file (TOML); see deploy.example.toml.
    #[arg(long, global = true, env = "TCB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Less log output (-q warnings only, -qq errors only).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log line format on standard error.
    #[arg(long, global = true, env = "TCB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload what changed in a build folder: one site from --env/--dir, or every [[site]] of
    /// the config file.
    Deploy(DeployArgs),
    /// Show what `deploy` would upload and why, without uploading (same as deploy --dry-run).
    Plan(PlanArgs),
    /// Deploy, then keep deploying every change: a daemon for one site (--env/--dir) or every
    /// [[site]]. After `--`, a build command to run beside it (e.g. -- npm run build -- --watch).
    Watch(WatchArgs),
    /// Show the static website of an environment: URL, status, bucket, region.
    Status(StatusArgs),
    /// Open the static website of an environment.
    Create(CreateArgs),
    /// List the merchant's cloud environments (needs the authorizer token).
    Envs(EnvsArgs),
    /// Share an environment with mini programs; prints the URL each admin must open to confirm.
    Share(ShareArgs),
    /// Run the local emulator of the API and of the upload store; it serves the deployed sites.
    Emulator(EmulatorArgs),
    /// Write a commented config file for a site: the environment, and the build folder
    /// (found among dist/, build/, out/, public/ unless --dir names it).
    Init(InitArgs),
    /// Print a shell completion script, e.g. `tcb-deploy completions bash > /etc/bash_completion.d/tcb-deploy`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `tcb-deploy man > /usr/local/share/man/man1/tcb-deploy.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Environment id to deploy to (default: TCB_ENV; left for you to fill in otherwise).
    #[arg(long, env = "TCB_ENV")]
    pub env: Option<String>,
    /// The build-output folder (default: the first of dist/, build/, out/, public/ that exists).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Where to write the config.
    #[arg(default_value = "deploy.toml")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Which site to deploy and how.
#[derive(Debug, Args)]
pub struct SiteArgs {
    /// Environment id (default: `env` from the config, or TCB_ENV); give it again for more.
    /// Without --dir, picks the [[site]] tables of these environments.
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// A file of environment ids, one a line (# comments; `-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub envs_file: Option<PathBuf>,
    /// Keep only the environments of shard K of N (by a stable hash of the id), e.g. 2/4.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// The build-output folder to deploy (instead of the config's [[site]] tables).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Store folder to deploy under, e.g. docs/ (with --dir).
    #[arg(long, requires = "dir")]
    pub prefix: Option<String>,
    /// Deploy only the [[site]] with this name.
    #[arg(long, value_name = "NAME", conflicts_with = "dir")]
    pub site: Option<String>,
    /// The most uploads in flight at once (default 64); the window finds its width up to it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// Keep --concurrency uploads in flight instead of letting the window find its width.
    #[arg(long)]
    pub fixed_concurrency: bool,
    /// List the store and trust it over the local manifest (finds files missing remotely).
    #[arg(long)]
    pub verify_remote: bool,
    /// Folder for manifests (default: state_dir, TCB_STATE_DIR, $STATE_DIRECTORY, .tcb-deploy).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Print one JSON object per site instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Plan only: print what would be uploaded and why; ask for no upload link.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Print one JSON object per site instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub site: SiteArgs,
    /// Poll the folder every SECS seconds instead of using inotify (network filesystems).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll: Option<u64>,
    /// Quiet period: deploy once no file changed for this long (default 500).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub quiet_ms: Option<u64>,
    /// A build command to run beside the watch; its output is prefixed, signals are forwarded,
    /// and the watch ends with its exit code.
    #[arg(last = true, value_name = "BUILD COMMAND")]
    pub build: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment id (default: `env` from the config, or TCB_ENV).
    #[arg(long)]
    pub env: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Environment id (default: `env` from the config, or TCB_ENV).
    #[arg(long)]
    pub env: Option<String>,
    /// Wait until the website is online.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct EnvsArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Environment id (default: `env` from the config, or TCB_ENV).
    #[arg(long)]
    pub env: Option<String>,
    /// Mini program appid to share with; repeat for several.
    #[arg(long = "appid", value_name = "APPID", required = true)]
    pub appids: Vec<String>,
    /// Kind of environment shared: 0 = a cloud-development environment, 1 = a cloud-hosting
    /// environment. Always sent (the API requires it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub source_type: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (default: `emulator_addr`, else 127.0.0.1:8790).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Data folder (default: STATE_DIR/emulator).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Validity of signed upload links.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub link_lifetime_secs: u64,
    /// Lifetime of the tokens it issues.
    #[arg(long, value_name = "SECS", default_value_t = 7200)]
    pub token_lifetime_secs: u64,
    /// How long a new static store stays `processing`.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub create_delay_ms: u64,
    /// Entries per page of `staticfilelist`.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub list_page_size: u64,
    /// Answer 85088 (no cloud-development privilege) for this environment; repeatable.
    #[arg(long, value_name = "ENV")]
    pub env_without_cloud_dev: Vec<String>,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault injection, for tests and benchmarks.
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Added latency per API call.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub api_latency_ms: u64,
    /// Added latency per PUT.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub put_latency_ms: u64,
    /// Fraction of API calls answered errcode -1.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub api_error_rate: f64,
    /// Fraction of PUTs answered 500.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub put_error_rate: f64,
    /// Fraction of connections dropped without an answer.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub reset_rate: f64,
    /// Issued tokens expire after this many uses.
    #[arg(long, value_name = "N")]
    pub token_lifetime_calls: Option<u64>,
    /// API calls allowed per minute before 45011.
    #[arg(long, value_name = "N")]
    pub quota_per_minute: Option<u64>,
    /// API calls and PUTs handled at once; more are refused at once (PUT 503 SlowDown,
    /// errcode -1 "system busy").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_inflight: Option<u64>,
    /// Seed of the fault generator, for reproducible runs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A command-line error as one line, like every other error of the tool: clap's message, its
/// hints (possible values, a similar argument), and which `--help` shows the usage. `args` is
/// the command line, to name the command when clap's message does not. (Requests for help or
/// the version are not errors; clap prints those itself.)
pub fn error_line(error: &clap::Error, args: &[String]) -> String {
    let text = error.render().to_string();
    let mut line = String::new();
    for part in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // The usage and the pointer to --help are replaced by the one `see` at the end.
        if part.starts_with("Usage: ") || part.starts_with("For more information") {
            continue;
        }
        let part = part.strip_prefix("error: ").unwrap_or(part);
        let part = part
            .strip_prefix('[')
            .and_then(|p| p.strip_suffix(']'))
            .unwrap_or(part);
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    let cli = <Cli as clap::CommandFactory>::command();
    match args
        .iter()
        .skip(1)
        .find(|a| cli.find_subcommand(a.as_str()).is_some())
    {
        Some(command) => format!("{line}; see `tcb-deploy {command} --help`"),
        None => format!("{line}; see `tcb-deploy --help`"),
    }
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("expected a fraction between 0 and 1, e.g. 0.2".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_line_errors_are_one_line_with_their_hints() {
        let line = |args: &[&str]| {
            let err = Cli::try_parse_from(args).expect_err("an error");
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let line = error_line(&err, &args);
            assert!(!line.contains('\n'), "{line}");
            line
        };
        let l = line(&["tcb-deploy", "--log-format", "xml", "status"]);
        assert!(
            l.starts_with("invalid value 'xml' for '--log-format"),
            "{l}"
        );
        assert!(l.contains("possible values: text, json"), "{l}");
        assert!(l.ends_with("see `tcb-deploy status --help`"), "{l}");
        let l = line(&["tcb-deploy", "deploy", "--concurrency", "0"]);
        assert!(l.contains("0 is not in 1..=256"), "{l}");
        assert!(l.ends_with("see `tcb-deploy deploy --help`"), "{l}");
        let l = line(&["tcb-deploy", "share", "--env", "e"]);
        assert!(l.contains("not provided: --appid <APPID>"), "{l}");
        let l = line(&["tcb-deploy", "frobnicate"]);
        assert!(l.ends_with("'frobnicate'; see `tcb-deploy --help`"), "{l}");
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(rate("0.2").is_ok());
        assert!(rate("1.5").is_err());
        assert!(rate("-0.1").is_err());
        assert!(rate("x").is_err());
    }
}
