//! `create`: open an environment's static website, and with `--wait` poll until it is online.

use std::time::Duration;

use tokio::time::Instant;

use super::print;
use crate::api::StaticStore;
use crate::cli::CreateArgs;
use crate::config::{ApiTarget, Config, Site};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

/// Polling starts fast (a store is often ready in seconds) and settles at this interval.
const MAX_POLL: Duration = Duration::from_secs(2);

pub async fn run(remote: &Remote, env: &str, args: &CreateArgs) -> Result<ExitCode, Error> {
    remote.create_static_store(env).await?;
    tracing::info!(env, "static website requested");
    if !args.wait {
        print(&format!("requested the static website of {env}\n"))?;
        return Ok(ExitCode::Ok);
    }
    let store = wait_online(remote, env, Duration::from_secs(args.timeout)).await?;
    print(&format!("{env} is online at {}\n", store.url()))?;
    Ok(ExitCode::Ok)
}

/// Polls until the env's static website is online, for at most `timeout`.
pub async fn wait_online(
    remote: &Remote,
    env: &str,
    timeout: Duration,
) -> Result<StaticStore, Error> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pause = Duration::from_millis(250);
    let mut last_status = String::new();
    loop {
        let store = remote.describe_static_store(env).await?;
        let status = store.as_ref().map_or("absent", |s| s.status.as_str());
        if status != last_status {
            tracing::info!(env, status, "static website status");
            last_status = status.to_owned();
        }
        if let Some(store) = store.filter(|s| s.status == "online") {
            return Ok(store);
        }
        if Instant::now() + pause > deadline {
            return Err(Error::WaitTimeout {
                env: env.to_owned(),
                status: last_status,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// With the embedded emulator there is no account to set up: open each site's static website
/// if it has none yet. On the real service that stays a deliberate `tcb-deploy create`.
pub async fn open_local_stores(
    config: &Config,
    remote: &Remote,
    sites: &[Site],
) -> Result<(), Error> {
    if !matches!(config.api, ApiTarget::Local) {
        return Ok(());
    }
    for site in sites {
        if remote.describe_static_store(&site.env).await?.is_none() {
            tracing::info!(env = %site.env, "opening the static website on the local emulator");
            remote.create_static_store(&site.env).await?;
            wait_online(remote, &site.env, Duration::from_secs(60)).await?;
        }
    }
    Ok(())
}
