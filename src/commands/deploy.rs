//! `deploy` and `plan`: one site from flags, or the config's `[[site]]` tables.

use crate::cli::SiteArgs;
use crate::config::{Config, ConfigError, Site, normalize_prefix};
use crate::deploy::{DeployOptions, deploy};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;
use crate::site::headers::HeaderRules;

use super::{print, print_json_line};

pub async fn run(
    remote: &Remote,
    config: &Config,
    args: &SiteArgs,
    json: bool,
    dry_run: bool,
) -> Result<ExitCode, Error> {
    let sites = chosen_sites(config, args)?;
    if !dry_run {
        super::create::open_local_stores(config, remote, &sites).await?;
    }
    let mut failed = 0;
    let mut first_failure = None;
    for site in sites {
        let options = DeployOptions {
            site: &site,
            state_dir: &config.state_dir,
            concurrency: config.concurrency,
            dry_run,
            verify_remote: args.verify_remote,
        };
        let report = deploy(remote, &options).await.map_err(Error::from)?;
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

/// The sites a command works on: one from `--dir` (with `--env`, `--prefix`), else the
/// config's `[[site]]` tables picked by `--site` / `--env`.
pub fn chosen_sites(config: &Config, args: &SiteArgs) -> Result<Vec<Site>, Error> {
    if let Some(dir) = &args.dir {
        let env = config.env(args.env.as_deref())?;
        return Ok(vec![Site {
            name: env.clone(),
            env,
            dir: dir.clone(),
            prefix: normalize_prefix(args.prefix.as_deref().unwrap_or(""))?,
            ignore: Vec::new(),
            headers: HeaderRules::default(),
            rules: Vec::new(),
        }]);
    }
    select_sites(config, args.site.as_deref(), args.env.as_deref())
}

pub fn select_sites(
    config: &Config,
    name: Option<&str>,
    env: Option<&str>,
) -> Result<Vec<Site>, Error> {
    if config.sites.is_empty() {
        return Err(ConfigError::Conflict(
            "nothing to deploy: pass --dir (and --env), or add [[site]] tables to the config file"
                .into(),
        )
        .into());
    }
    let chosen: Vec<Site> = config
        .sites
        .iter()
        .filter(|s| name.is_none_or(|n| s.name == n))
        .filter(|s| env.is_none_or(|e| s.env == e))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = config.sites.iter().map(|s| s.name.as_str()).collect();
        return Err(ConfigError::Conflict(format!(
            "no [[site]] matches --site/--env; the config has: {}",
            names.join(", ")
        ))
        .into());
    }
    Ok(chosen)
}
