//! tcb-deploy keeps a WeChat CloudBase (TCB) static website in step with a local build-output
//! folder. The binary in `main.rs` only parses the command line and sets up logging; everything
//! else lives here. ARCHITECTURE.md maps the modules.

pub mod api;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod congestion;
pub mod connection;
pub mod deploy;
pub mod emulator;
pub mod error;
pub mod exit;
pub mod logging;
pub mod memory;
pub mod remote;
pub mod retry;
pub mod secret;
pub mod site;
pub mod text;
pub mod throttle;
pub mod watch;

use std::collections::BTreeMap;

pub use error::Error;
pub use exit::ExitCode;

/// Runs a parsed command line to completion, or until SIGINT (exit code 130).
pub async fn run(cli: cli::Cli) -> Result<ExitCode, Error> {
    let vars: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    // The emulator and the watch daemon treat SIGINT as their normal stop.
    let handles_signals = matches!(
        cli.command,
        cli::Command::Emulator(_) | cli::Command::Watch(_)
    );
    let work = commands::run(cli, vars);
    if handles_signals {
        return work.await;
    }
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => {
            tracing::warn!("interrupted");
            Ok(ExitCode::Interrupted)
        }
    }
}
