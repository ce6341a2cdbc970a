//! `deploy` and `plan`: one site from flags, or the config's `[[site]]` tables, or a rollout of
//! one folder to many environments. The environments of a rollout go a few at a time through
//! one shared upload window; one that is refused is reported and the others go on, while a
//! refusal every environment would meet stops the rollout.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::SiteArgs;
use crate::config::{Config, Site, SiteChoice};
use crate::deploy::report::{FileFailure, Report};
use crate::deploy::{self, CycleSettings, DeployError, Request, RunCache};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;
use crate::text::human_bytes;

use super::{Output, print, print_json_line};

/// What `deploy` and `plan` are asked to do, with every value ready.
pub struct Job {
    pub sites: Vec<Site>,
    pub settings: CycleSettings,
    pub action: Action,
    pub output: Output,
}

/// Whether the plan is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Deploy,
    /// Report what would be uploaded and why; ask for no upload link.
    PlanOnly,
}

impl Job {
    /// The job `args` ask for, with the sites the config gives them.
    pub fn new(
        config: &Config,
        args: &SiteArgs,
        action: Action,
        output: Output,
    ) -> Result<Job, Error> {
        Ok(Job {
            sites: config.sites_for(&site_choice(args))?,
            settings: CycleSettings {
                verify_remote: args.verify_remote,
            },
            action,
            output,
        })
    }
}

/// Environments deployed at once in a rollout. They share one upload window, so this bounds
/// only the manifests and plans held in memory, and keeps the window full while some
/// environments are between their first calls and their uploads.
const ENVS_AT_ONCE: usize = 8;

pub async fn run(remote: &Remote, config: &Config, job: Job) -> Result<ExitCode, Error> {
    if job.sites.is_empty() {
        tracing::warn!("no environment falls in this shard; nothing to do");
        return Ok(ExitCode::Ok);
    }
    if job.action == Action::Deploy {
        super::create::open_local_stores(config, remote, &job.sites).await?;
    }
    // A rollout to many environments shares its scans and digests; one site needs no cache.
    let cache = (job.sites.len() > 1).then(|| Arc::new(RunCache::default()));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut waiting = job.sites.iter();
    let mut running = FuturesUnordered::new();
    let mut tally = Tally::default();
    loop {
        while running.len() < ENVS_AT_ONCE && !stop.is_cancelled() {
            let Some(site) = waiting.next() else { break };
            running.push(deploy_site(
                remote,
                config,
                &job,
                site,
                cache.as_ref(),
                &stop,
            ));
        }
        let Some((site, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(report) => {
                match job.output {
                    Output::Json => print_json_line(&report)?,
                    Output::Text => print(&report.summary())?,
                }
                tally.add(report);
            }
            // A single site's failure is the command's, as it always was.
            Err(e) if job.sites.len() == 1 => return Err(e.into()),
            Err(e) if e.concerns_everyone() => {
                if tally.fatal.is_none() {
                    tracing::warn!(env = %site.env, "stopping the rollout: every environment would meet this refusal; the environments under way finish what they started");
                    stop.cancel();
                    tally.fatal = Some(e);
                }
            }
            Err(e) => {
                let error = Error::from(e);
                match job.output {
                    Output::Json => print_json_line(&EnvFailure::new(site, &error))?,
                    Output::Text => {
                        print(&format!("{}: failed: {}\n", site.name, error.one_line()))?
                    }
                }
                tally.failed_envs.push((site.env.clone(), error));
            }
        }
    }
    if job.sites.len() > 1 && job.output == Output::Text {
        print(&tally.summary(job.sites.len(), started.elapsed()))?;
    }
    tally.outcome()
}

/// One site's deploy (or plan) in a rollout.
async fn deploy_site<'a>(
    remote: &Remote,
    config: &Config,
    job: &Job,
    site: &'a Site,
    cache: Option<&Arc<RunCache>>,
    stop: &CancellationToken,
) -> (&'a Site, Result<Report, DeployError>) {
    let request = Request {
        site,
        state_dir: &config.state_dir,
        settings: job.settings,
        cache,
    };
    let result = match job.action {
        Action::Deploy => deploy::deploy(remote, &request, stop).await,
        Action::PlanOnly => deploy::plan_only(remote, &request).await,
    };
    (site, result)
}

/// A failed environment, as `--json` prints it.
#[derive(Serialize)]
struct EnvFailure<'a> {
    site: &'a str,
    env: &'a str,
    error: String,
    exit_code: u8,
}

impl<'a> EnvFailure<'a> {
    fn new(site: &'a Site, error: &Error) -> Self {
        EnvFailure {
            site: &site.name,
            env: &site.env,
            error: error.one_line(),
            exit_code: error.exit_code().code(),
        }
    }
}

/// What a run's environments came to.
#[derive(Default)]
struct Tally {
    done: usize,
    uploaded: usize,
    bytes: u64,
    hashed: usize,
    failed_files: usize,
    first_file_failure: Option<FileFailure>,
    failed_envs: Vec<(String, Error)>,
    /// What stopped the rollout.
    fatal: Option<DeployError>,
}

impl Tally {
    fn add(&mut self, report: Report) {
        self.done += 1;
        self.uploaded += report.uploaded;
        self.bytes += report.bytes_uploaded;
        self.hashed += report.hashed;
        self.failed_files += report.failed;
        if self.first_file_failure.is_none() {
            self.first_file_failure = report.failures.into_iter().next();
        }
    }

    /// The closing line of a rollout.
    fn summary(&self, envs: usize, took: Duration) -> String {
        format!(
            "{} of {envs} environments done, {} failed: {} files ({}) uploaded, {} hashed, {} failed, in {:.1} s\n",
            self.done,
            self.failed_envs.len(),
            self.uploaded,
            human_bytes(self.bytes),
            self.hashed,
            self.failed_files,
            took.as_secs_f64()
        )
    }

    /// The command's result: what stopped the rollout, else the failed environments, else the
    /// failed files (exit 1 for either), else success.
    fn outcome(self) -> Result<ExitCode, Error> {
        if let Some(fatal) = self.fatal {
            return Err(fatal.into());
        }
        if let Some((env, first)) = self.failed_envs.first() {
            return Err(Error::EnvsFailed {
                failed: self.failed_envs.len(),
                total: self.failed_envs.len() + self.done,
                env: env.clone(),
                reason: first.one_line(),
            });
        }
        match self.first_file_failure {
            // Partly done: one `error:` line says what failed first and what to do (exit 1).
            Some(first) if self.failed_files > 0 => Err(Error::UploadsFailed {
                failed: self.failed_files,
                path: first.path,
                reason: first.error,
            }),
            _ => Ok(ExitCode::Ok),
        }
    }
}

/// What `--dir`, `--prefix`, `--env` and `--site` choose.
pub fn site_choice(args: &SiteArgs) -> SiteChoice {
    SiteChoice {
        dir: args.dir.clone(),
        prefix: args.prefix.clone(),
        envs: args.envs.clone(),
        envs_file: args.envs_file.clone(),
        name: args.site.clone(),
        shard: args.shard,
    }
}
