//! `deploy` and `plan`: one site from flags, or the config's `[[site]]` tables.

use crate::cli::SiteArgs;
use crate::config::{Config, ConfigError, Site, normalize_prefix};
use crate::deploy::headers::HeaderRules;
use crate::deploy::{DeployError, DeployOptions, deploy};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;
use crate::retry::RetryPolicy;

use super::{print, print_json_line};

pub async fn run(
    remote: &Remote,
    config: &Config,
    args: &SiteArgs,
    dry_run: bool,
) -> Result<ExitCode, Error> {
    let adhoc;
    let sites: Vec<&Site> = match &args.dir {
        Some(dir) => {
            adhoc = Site {
                name: config.env(args.env.as_deref())?,
                env: config.env(args.env.as_deref())?,
                dir: dir.clone(),
                prefix: normalize_prefix(args.prefix.as_deref().unwrap_or(""))?,
                ignore: Vec::new(),
                headers: HeaderRules::default(),
            };
            vec![&adhoc]
        }
        None => select_sites(config, args)?,
    };
    let mut code = ExitCode::Ok;
    for site in sites {
        let options = DeployOptions {
            site,
            state_dir: &config.state_dir,
            concurrency: config.concurrency,
            dry_run,
            verify_remote: args.verify_remote,
            retry: RetryPolicy::default(),
        };
        let report = deploy(remote, &options).await.map_err(Error::from)?;
        if args.json {
            print_json_line(&report)?;
        } else {
            print(&report.summary())?;
        }
        if report.failed > 0 {
            code = ExitCode::Partial;
        }
    }
    Ok(code)
}

fn select_sites<'a>(config: &'a Config, args: &SiteArgs) -> Result<Vec<&'a Site>, Error> {
    if config.sites.is_empty() {
        return Err(ConfigError::Conflict(
            "nothing to deploy: pass --dir (and --env), or add [[site]] tables to the config file"
                .into(),
        )
        .into());
    }
    let chosen: Vec<&Site> = config
        .sites
        .iter()
        .filter(|s| args.site.as_ref().is_none_or(|name| &s.name == name))
        .filter(|s| args.env.as_ref().is_none_or(|env| &s.env == env))
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

impl From<DeployError> for Error {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Remote(e) => Error::Remote(e),
            DeployError::NoStore { env } => Error::NoStore { env },
            other => Error::Deploy(other),
        }
    }
}
