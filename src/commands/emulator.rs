//! `emulator`: run the local emulator in the foreground until interrupted.

use std::time::Duration;

use crate::cli::EmulatorArgs;
use crate::config::{Config, validate_env_id};
use crate::emulator::{Emulator, EmulatorOptions, Faults};
use crate::error::Error;
use crate::exit::ExitCode;

pub async fn run(config: &Config, args: &EmulatorArgs) -> Result<ExitCode, Error> {
    for env in &args.env_without_cloud_dev {
        validate_env_id(env)?;
    }
    let addr = args.addr.unwrap_or(config.emulator_addr);
    let data_dir = args
        .data
        .clone()
        .unwrap_or_else(|| config.emulator_data_dir());
    let mut options = EmulatorOptions::new(addr, data_dir.clone());
    options.link_lifetime = Duration::from_secs(args.link_lifetime_secs);
    options.token_lifetime = Duration::from_secs(args.token_lifetime_secs);
    options.create_delay = Duration::from_millis(args.create_delay_ms);
    options.list_page_size = usize::try_from(args.list_page_size).unwrap_or(usize::MAX);
    options.envs_without_cloud_dev = args.env_without_cloud_dev.clone();
    let f = &args.faults;
    options.faults = Faults {
        api_latency: Duration::from_millis(f.api_latency_ms),
        put_latency: Duration::from_millis(f.put_latency_ms),
        api_error_rate: f.api_error_rate,
        put_error_rate: f.put_error_rate,
        reset_rate: f.reset_rate,
        token_lifetime_calls: f.token_lifetime_calls,
        quota_per_minute: f.quota_per_minute,
        max_inflight: f
            .max_inflight
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        seed: f.seed,
    };
    let emulator = Emulator::start(options).await?;
    tracing::info!(
        api_base = %emulator.base_url(),
        data = %data_dir.display(),
        "emulator listening; sites are served at http://ENV.localhost:{}/ ; Ctrl-C stops it",
        emulator.addr().port()
    );
    stop_signal().await;
    emulator.shutdown().await;
    tracing::info!("emulator stopped");
    Ok(ExitCode::Ok)
}

/// Resolves on SIGINT or SIGTERM: stopping is the emulator's normal end, not a failure.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
