//! `create`: open an environment's static website, and with `--wait` poll until it is online.

use std::time::Duration;

use tokio::time::Instant;

use super::print;
use crate::cli::CreateArgs;
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
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
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
            print(&format!("{env} is online at {}\n", store.url()))?;
            return Ok(ExitCode::Ok);
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
