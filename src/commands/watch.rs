//! `watch`: deploy, then keep deploying every change, until stopped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::deploy::site_choice;
use crate::cli::WatchArgs;
use crate::config::{Config, Settings};
use crate::connection::Connection;
use crate::deploy::CycleSettings;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::watch::batch::Timing;
use crate::watch::child::BuildCommand;
use crate::watch::daemon::{Daemon, DaemonSettings, Reload};
use crate::watch::systemd::Notifier;

/// Where SIGHUP reads the configuration again from.
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    pub vars: BTreeMap<String, String>,
    pub flags: Settings,
}

pub async fn run(
    connection: &Connection,
    config: &Config,
    args: &WatchArgs,
    source: ConfigSource,
) -> Result<ExitCode, Error> {
    let choice = site_choice(&args.site);
    let sites = config.sites_for(&choice)?;
    super::create::open_local_stores(config, &connection.remote, &sites).await?;
    let notifier = Notifier::from_env(&source.vars);
    let build = if args.build.is_empty() {
        None
    } else {
        Some(
            BuildCommand::spawn(&args.build, "[build] ")
                .map_err(|e| Error::Config(crate::config::ConfigError::Conflict(e.to_string())))?,
        )
    };
    // Sites given on the command line are not in the file: nothing to reload.
    let reload: Option<Reload> = if args.site.dir.is_some() {
        None
    } else {
        Some(Box::new(move || {
            let config = Config::load(source.file.as_deref(), &source.vars, source.flags.clone())?;
            Ok(config.sites_for(&choice)?)
        }))
    };
    let daemon = Daemon {
        remote: Arc::clone(&connection.remote),
        settings: DaemonSettings {
            state_dir: config.state_dir.clone(),
            cycle: CycleSettings {
                verify_remote: args.site.verify_remote,
            },
            timing: Timing {
                quiet: config.watch.quiet,
                max_wait: config.watch.max_wait.max(config.watch.quiet),
            },
            poll: config.watch.poll,
            status_interval: config.watch.status_interval,
            grace: config.watch.stop_grace,
            metrics_addr: config.watch.metrics_addr,
        },
        notifier,
        reload,
        build,
    };
    daemon.run(sites).await
}
