//! `share`: share an environment with mini programs. The binding takes effect only once each
//! mini program's admin opens the confirmation URL, so those URLs are the command's output.

use serde::Serialize;

use super::{print, print_json};
use crate::api::{ShareConfirmation, ShareError};
use crate::cli::ShareArgs;
use crate::config::ConfigError;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

#[derive(Serialize)]
struct ShareReport<'a> {
    env: &'a str,
    confirmations: &'a [ShareConfirmation],
    errors: &'a [ShareError],
}

pub async fn run(remote: &Remote, env: &str, args: &ShareArgs) -> Result<ExitCode, Error> {
    for appid in &args.appids {
        let ok = !appid.is_empty()
            && appid.len() <= 64
            && appid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ConfigError::Invalid {
                key: "appid",
                value: appid.chars().take(80).collect(),
                reason: "an appid looks like wx0123456789abcdef".into(),
            }
            .into());
        }
    }
    let answer = remote
        .share_env(env, &args.appids, args.source_type)
        .await?;
    if args.json {
        print_json(&ShareReport {
            env,
            confirmations: &answer.msg_info_list,
            errors: &answer.err_list,
        })?;
    } else {
        let mut text = String::new();
        for c in &answer.msg_info_list {
            text.push_str(&format!("{}  confirm at {}\n", c.appid, c.url));
        }
        print(&text)?;
        for e in &answer.err_list {
            tracing::error!(appid = %e.appid, env = %e.env, "not shared: {}", e.errmsg);
        }
        if !answer.msg_info_list.is_empty() {
            tracing::info!("the binding takes effect once each mini program's admin opens its URL");
        }
    }
    match answer.err_list.first() {
        // Partly done: one `error:` line says what failed first and what to do (exit 1).
        Some(first) => Err(Error::ShareFailed {
            failed: answer.err_list.len(),
            asked: args.appids.len(),
            appid: first.appid.clone(),
            errmsg: crate::text::snippet(first.errmsg.as_bytes(), 200),
        }),
        None => Ok(ExitCode::Ok),
    }
}
