//! `deploy` and `plan`: one site from flags, or the config's `[[site]]` tables.

use crate::cli::SiteArgs;
use crate::config::{Config, SiteChoice};
use crate::deploy::{self, CycleSettings, Request};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

use super::{print, print_json_line};

pub async fn run(
    remote: &Remote,
    config: &Config,
    args: &SiteArgs,
    json: bool,
    dry_run: bool,
) -> Result<ExitCode, Error> {
    let sites = config.sites_for(&site_choice(args))?;
    if !dry_run {
        super::create::open_local_stores(config, remote, &sites).await?;
    }
    let mut failed = 0;
    let mut first_failure = None;
    for site in sites {
        let request = Request {
            site: &site,
            state_dir: &config.state_dir,
            settings: CycleSettings {
                concurrency: config.concurrency,
                verify_remote: args.verify_remote,
            },
        };
        let report = if dry_run {
            deploy::plan_only(remote, &request).await
        } else {
            deploy::deploy(remote, &request).await
        };
        let report = report.map_err(Error::from)?;
        if json {
            print_json_line(&report)?;
        } else {
            print(&report.summary())?;
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
