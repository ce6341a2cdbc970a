//! `envs`: the merchant's cloud environments, as a table or JSON.

use super::{print, print_json};
use crate::cli::EnvsArgs;
use crate::config::validate_env_id;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

pub async fn run(remote: &Remote, args: &EnvsArgs) -> Result<ExitCode, Error> {
    if let Some(env) = &args.env {
        validate_env_id(env)?;
    }
    let envs = remote.env_info(args.env.as_deref()).await?;
    if args.json {
        print_json(&envs)?;
        return Ok(ExitCode::Ok);
    }
    let mut rows = vec![[
        "ENV".to_owned(),
        "ALIAS".to_owned(),
        "STATUS".to_owned(),
        "PACKAGE".to_owned(),
        "CREATED".to_owned(),
    ]];
    rows.extend(envs.iter().map(|e| {
        [
            e.env.clone(),
            e.alias.clone(),
            e.status.clone(),
            e.package_name.trim().to_owned(),
            e.create_time.clone(),
        ]
    }));
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    if envs.is_empty() {
        tracing::info!("no environments found");
    }
    print(&text)?;
    Ok(ExitCode::Ok)
}
