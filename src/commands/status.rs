//! `status`: the static website of one environment.

use serde::Serialize;

use super::{Output, print, print_json};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

#[derive(Serialize)]
struct StatusReport<'a> {
    env: &'a str,
    url: String,
    domain: &'a str,
    status: &'a str,
    bucket: &'a str,
    region: &'a str,
}

pub async fn run(remote: &Remote, env: &str, output: Output) -> Result<ExitCode, Error> {
    let store = remote
        .describe_static_store(env)
        .await?
        .ok_or_else(|| Error::NoStore {
            env: env.to_owned(),
        })?;
    let report = StatusReport {
        env,
        url: store.url(),
        domain: &store.domain,
        status: &store.status,
        bucket: &store.bucket,
        region: &store.region,
    };
    if output == Output::Json {
        print_json(&report)?;
    } else {
        print(&format!(
            "env     {}\nurl     {}\nstatus  {}\nbucket  {}\nregion  {}\n",
            report.env, report.url, report.status, report.bucket, report.region
        ))?;
    }
    Ok(ExitCode::Ok)
}
