//! The uploads of a cycle, stage by stage: assets, then pages, then service workers, each stage
//! only once the one before it is online, so that no page references a file that is not. Within
//! a stage, as many uploads are in flight as the remote's upload window allows; each
//! success goes into the manifest at once and may trigger a checkpoint.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::checkpoint::Checkpoint;
use super::plan::{LocalItem, PlannedUpload};
use super::report::Report;
use super::upload::{UploadError, UploadJob, Uploaded, upload_file};
use super::{DeployError, elapsed_ms};
use crate::config::Site;
use crate::remote::Remote;
use crate::site::manifest::Manifest;
use crate::site::stage::Stage;

/// This many files in a row giving up on a busy or unreachable service stop the deploy: the
/// service is down, and the remaining files would each spend their tries on it too.
const SERVICE_DOWN_STREAK: usize = 16;

const HELD_BACK: &str = "held back because files of an earlier stage failed, so that no page references a file that is not online";

/// What a cycle's uploads update as they complete.
pub(super) struct Progress {
    pub manifest: Manifest,
    pub checkpoint: Checkpoint,
    pub report: Report,
    /// Files in a row whose every try met a busy or unreachable service.
    gave_up_in_a_row: usize,
}

impl Progress {
    pub fn new(manifest: Manifest, checkpoint: Checkpoint, report: Report) -> Progress {
        Progress {
            manifest,
            checkpoint,
            report,
            gave_up_in_a_row: 0,
        }
    }

    /// Records how one upload ended; an error stops the deploy as a whole.
    async fn settle(
        &mut self,
        job: UploadJob<'_>,
        result: Result<Uploaded, UploadError>,
        ms: u64,
    ) -> Result<(), DeployError> {
        self.gave_up_in_a_row = match result {
            Err(UploadError::GaveUp(_)) => self.gave_up_in_a_row + 1,
            _ => 0,
        };
        match result {
            Ok(done) => {
                tracing::info!(path = job.key, bytes = done.bytes, ms, "uploaded");
                self.report.uploaded += 1;
                self.report.bytes_uploaded += done.bytes;
                self.manifest.files.insert(job.key, done.entry);
                self.checkpoint.uploaded(&mut self.manifest).await?;
            }
            Err(UploadError::Vanished) => {
                tracing::debug!(path = job.key, "vanished before upload");
                self.report.skipped += 1;
            }
            Err(UploadError::File(error) | UploadError::GaveUp(error)) => {
                tracing::error!(path = job.key, error, "upload failed");
                if self.gave_up_in_a_row >= SERVICE_DOWN_STREAK {
                    return Err(DeployError::ServiceDown {
                        files: self.gave_up_in_a_row,
                        last: error,
                    });
                }
                self.report.fail(job.key, error);
            }
            Err(UploadError::Fatal(e)) => return Err(e.into()),
        }
        Ok(())
    }
}

/// Where and how a cycle uploads.
pub(super) struct Uploader<'a> {
    pub remote: &'a Remote,
    pub site: &'a Site,
    /// Once cancelled, no new upload starts; those in flight finish and are recorded.
    pub stop: &'a CancellationToken,
}

impl Uploader<'_> {
    /// Uploads the planned files stage by stage, recording each as it succeeds. A stage after
    /// one with failed uploads is held back: its files fail with a note saying why.
    pub async fn upload(
        &self,
        local: &[LocalItem],
        uploads: &[PlannedUpload],
        progress: &mut Progress,
    ) -> Result<(), DeployError> {
        // Held back by failed uploads only: a file that cannot be read or is too large fails
        // the same way on every run, and holding pages back would not bring it online.
        let failed_before = progress.report.failed;
        let mut held_back = false;
        for stage in [Stage::Asset, Stage::Page, Stage::Worker] {
            let keys = uploads
                .iter()
                .filter(|u| u.stage == stage)
                .map(|u| local[u.local].key.as_str());
            if held_back {
                for key in keys {
                    progress.report.fail(key, HELD_BACK);
                }
                continue;
            }
            self.stage(keys, progress).await?;
            if self.stop.is_cancelled() {
                return Ok(());
            }
            held_back = progress.report.failed > failed_before;
        }
        Ok(())
    }

    /// Uploads one stage's files. A job (path, headers) exists only while in flight.
    async fn stage<'k>(
        &self,
        mut keys: impl Iterator<Item = &'k str>,
        progress: &mut Progress,
    ) -> Result<(), DeployError> {
        let site = self.site;
        let congestion = self.remote.congestion();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < congestion.allowed() && !self.stop.is_cancelled() {
                let Some(key) = keys.next() else { break };
                let job = UploadJob {
                    key,
                    path: site.path_of(key),
                    headers: site.headers.for_path(site.relative(key)),
                };
                in_flight.push(self.timed(job));
            }
            let Some((job, result, ms)) = in_flight.next().await else {
                return Ok(());
            };
            progress.settle(job, result, ms).await?;
        }
    }

    /// One upload, with its job and how long it took.
    async fn timed<'j>(
        &self,
        job: UploadJob<'j>,
    ) -> (UploadJob<'j>, Result<Uploaded, UploadError>, u64) {
        let begun = Instant::now();
        let result = upload_file(self.remote, &self.site.env, &job).await;
        (job, result, elapsed_ms(begun))
    }
}
