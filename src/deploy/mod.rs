//! The deploy engine: make the store hold what the site folder holds, uploading only what
//! changed, in an order that never shows a visitor a page whose assets are not online yet, and
//! keeping a manifest that never names a file that is not online.
//!
//! A cycle ([`SiteDeployer`], `cycle.rs`) is three steps:
//! 1. **gather** (`gather.rs`): the store's state, the scan, the manifest and, when asked, the
//!    store's listing, fetched at once; digests from the manifest or by hashing (`digests.rs`);
//! 2. **plan** (`plan.rs`): a pure function of those inputs;
//! 3. **apply**: note the files about to be replaced (`checkpoint.rs`), upload stage by stage
//!    (`stages.rs`, each file through `upload.rs`), save the manifest as uploads complete
//!    (`checkpoint.rs`), and report (`report.rs`).
//!
//! `plan`-only stops after the second step: nothing is uploaded or saved.

mod checkpoint;
mod cycle;
mod digests;
mod gather;
pub mod plan;
pub mod report;
mod run_cache;
mod stages;
pub mod upload;

use std::path::Path;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use self::cycle::SiteDeployer;
use self::report::Report;
pub use self::run_cache::RunCache;
use crate::config::Site;
use crate::remote::{Remote, RemoteError};
use crate::site::manifest::ManifestError;
use crate::site::scan::ScanError;

/// One site to deploy (or plan) once.
#[derive(Debug)]
pub struct Request<'a> {
    pub site: &'a Site,
    pub state_dir: &'a Path,
    pub settings: CycleSettings,
    /// Shared with the other sites of the run, when there are others.
    pub cache: Option<&'a Arc<RunCache>>,
}

/// How cycles upload.
#[derive(Clone, Copy, Debug)]
pub struct CycleSettings {
    /// List the store on the first cycle even when a manifest exists, and trust the listing
    /// over it.
    pub verify_remote: bool,
}

/// What stops a deploy as a whole (a single file's failure does not: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(
        "environment {env} has no static website; open one with `tcb-deploy create --env {env}`"
    )]
    NoStore { env: String },
    #[error(
        "{files} files in a row gave up after retries (the last: {last}); the service seems down, try again later"
    )]
    ServiceDown { files: usize, last: String },
    #[error("internal error: {0}")]
    Task(String),
}

impl DeployError {
    /// Whether the next cycle would fail the same way until something outside the folder
    /// changes: the service refused for good (credentials, permissions, a quota, the
    /// configuration), or the environment has no static website.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Remote(e) => e.is_permanent(),
            Self::NoStore { .. } => true,
            Self::Scan(_) | Self::Manifest(_) | Self::ServiceDown { .. } | Self::Task(_) => false,
        }
    }

    /// Whether every other environment of a rollout would fail the same way (credentials, a
    /// quota, the folder, the state folder, a service that is down), so the rollout stops; an
    /// environment's own refusal, or its missing static website, does not.
    pub fn concerns_everyone(&self) -> bool {
        match self {
            Self::Remote(e) => !e.concerns_one_env(),
            Self::NoStore { .. } => false,
            Self::Scan(_) | Self::Manifest(_) | Self::ServiceDown { .. } | Self::Task(_) => true,
        }
    }

    /// What went wrong, short and without advice, for a one-line status: the service's
    /// answer rather than what to do about it.
    pub fn cause(&self) -> String {
        match self {
            Self::Remote(e) => e.answer(),
            Self::NoStore { env } => format!("environment {env} has no static website"),
            other => other.to_string(),
        }
    }
}

/// Deploys a site once: one full cycle of a fresh [`SiteDeployer`]. Once `stop` is cancelled
/// no new upload starts; those in flight finish and are recorded.
pub async fn deploy(
    remote: &Remote,
    request: &Request<'_>,
    stop: &CancellationToken,
) -> Result<Report, DeployError> {
    SiteDeployer::for_request(request)
        .cycle(remote, None, stop)
        .await
}

/// What [`deploy`] would upload, and why, without uploading or saving anything.
pub async fn plan_only(remote: &Remote, request: &Request<'_>) -> Result<Report, DeployError> {
    SiteDeployer::for_request(request).plan_only(remote).await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeployError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DeployError::Task(e.to_string()))
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
