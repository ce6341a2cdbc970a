//! `deploy` and `plan`: one site from flags, or the config's `[[site]]` tables.

use crate::cli::SiteArgs;
use crate::config::{Config, Site, SiteChoice};
use crate::deploy::{self, CycleSettings, Request};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

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

pub async fn run(remote: &Remote, config: &Config, job: Job) -> Result<ExitCode, Error> {
    if job.action == Action::Deploy {
        super::create::open_local_stores(config, remote, &job.sites).await?;
    }
    let mut failed = 0;
    let mut first_failure = None;
    for site in &job.sites {
        let request = Request {
            site,
            state_dir: &config.state_dir,
            settings: job.settings,
        };
        let report = match job.action {
            Action::Deploy => deploy::deploy(remote, &request).await,
            Action::PlanOnly => deploy::plan_only(remote, &request).await,
        };
        let report = report.map_err(Error::from)?;
        match job.output {
            Output::Json => print_json_line(&report)?,
            Output::Text => print(&report.summary())?,
        }
        failed += report.failed;
        if first_failure.is_none() {
            first_failure = report.failures.into_iter().next();
        }
    }
    match first_failure {
        // Partly done: one `error:` line says what failed first and what to do (exit 1).
        Some(first) if failed > 0 => Err(Error::UploadsFailed {
            failed,
            path: first.path,
            reason: first.error,
        }),
        _ => Ok(ExitCode::Ok),
    }
}

/// What `--dir`, `--prefix`, `--env` and `--site` choose.
pub fn site_choice(args: &SiteArgs) -> SiteChoice {
    SiteChoice {
        dir: args.dir.clone(),
        prefix: args.prefix.clone(),
        env: args.env.clone(),
        name: args.site.clone(),
    }
}
