//! The uploads of a cycle, stage by stage: assets, then pages, then service workers, each stage
//! only once the one before it is online, so that no page references a file that is not. Within
//! a stage, as many uploads are in flight as the remote's upload window allows; each
//! success goes into the manifest at once and may trigger a checkpoint.

use std::collections::VecDeque;
use std::iter::Peekable;

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::checkpoint::Checkpoint;
use super::plan::{LocalItem, PlannedUpload};
use super::report::Report;
use super::upload::{UploadError, UploadJob, Uploaded, upload_file};
use super::{DeployError, elapsed_ms};
use crate::api::UploadLink;
use crate::config::Site;
use crate::congestion::{Place, Share};
use crate::remote::{CallTries, Remote};
use crate::retry::Attempt;
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
        let mut stages = [Stage::Asset, Stage::Page, Stage::Worker].map(|stage| {
            let keys: Vec<&str> = uploads
                .iter()
                .filter(|u| u.stage == stage)
                .map(|u| local[u.local].key.as_str())
                .collect();
            keys.into_iter().peekable()
        });
        let share = self.remote.congestion().share();
        let mut flight = Flight::default();
        for index in 0..stages.len() {
            let (current, later) = stages.split_at_mut(index + 1);
            let keys = &mut current[index];
            if held_back {
                for key in keys {
                    progress.report.fail(key, HELD_BACK);
                }
                continue;
            }
            // The next stage with files: its links are asked for while this one ends.
            let ahead = later.iter_mut().position(|keys| keys.peek().is_some());
            let ahead = ahead.and_then(|next| later.get_mut(next));
            self.stage(index, keys, ahead, &share, &mut flight, progress)
                .await?;
            if self.stop.is_cancelled() {
                return Ok(());
            }
            held_back = progress.report.failed > failed_before;
        }
        Ok(())
    }

    /// Uploads one stage's files, `index`: first those whose links were asked for while the
    /// stage before ended, then the rest. Once no file of the stage is left to start, the
    /// window's free places ask for the links of the next stage's first files (`ahead`), so
    /// that its PUTs start the moment this stage is online. A job (path, headers) exists only
    /// while in flight; each holds a place of the deploy's `share` of the window.
    async fn stage<'k>(
        &'k self,
        index: usize,
        keys: &mut Peekable<impl Iterator<Item = &'k str>>,
        mut ahead: Option<&mut Peekable<impl Iterator<Item = &'k str>>>,
        share: &Share<'k>,
        flight: &mut Flight<'k>,
        progress: &mut Progress,
    ) -> Result<(), DeployError> {
        let congestion = self.remote.congestion();
        // Links of this stage still being asked for.
        let mut awaited = std::mem::take(&mut flight.asking);
        let mut early: VecDeque<_> = std::mem::take(&mut flight.early).into();
        loop {
            let changed = congestion.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Whether a file waits for a place in the window.
            let mut blocked = false;
            while !self.stop.is_cancelled() {
                let this_stage = !early.is_empty() || keys.peek().is_some();
                if !this_stage && ahead.as_mut().is_none_or(|keys| keys.peek().is_none()) {
                    break;
                }
                let Some(place) = share.place(flight.set.len()) else {
                    blocked = this_stage;
                    break;
                };
                if let Some((key, link)) = early.pop_front() {
                    self.start(flight, key, link, place);
                } else if let Some(key) = keys.next() {
                    self.start(flight, key, None, place);
                } else if let Some(key) = ahead.as_mut().and_then(|keys| keys.next()) {
                    flight.asking += 1;
                    flight
                        .set
                        .push(self.ask_ahead(key, index + 1, place).boxed());
                }
            }
            let waiting = !early.is_empty() && !self.stop.is_cancelled();
            if flight.uploading == 0 && awaited == 0 && !waiting && !blocked {
                return Ok(());
            }
            // Other deploys may hold every place: then nothing of this one is in flight.
            let landed = tokio::select! {
                landed = flight.set.next(), if !flight.set.is_empty() => landed,
                () = &mut changed, if blocked => continue,
                else => return Ok(()),
            };
            match landed {
                None => return Ok(()),
                Some(Landed::Upload(job, result, ms)) => {
                    flight.uploading -= 1;
                    progress.settle(job, result, ms).await?;
                }
                Some(Landed::Link { key, stage, link }) if stage == index => {
                    awaited -= 1;
                    if !self.stop.is_cancelled() {
                        early.push_back((key, link));
                    }
                }
                Some(Landed::Link { key, link, .. }) => {
                    flight.asking -= 1;
                    flight.early.push((key, link));
                }
            }
        }
    }

    /// Starts the upload of `key`, with a link already asked for, if any.
    fn start<'k>(
        &'k self,
        flight: &mut Flight<'k>,
        key: &'k str,
        link: Option<UploadLink>,
        place: Place<'k>,
    ) {
        let site = self.site;
        let job = UploadJob {
            key,
            path: site.path_of(key),
            headers: site.headers.for_path(site.relative(key)),
        };
        flight.uploading += 1;
        flight.set.push(self.timed(job, link, place).boxed());
    }

    /// One upload, with its job and how long it took.
    async fn timed<'j>(
        &self,
        job: UploadJob<'j>,
        link: Option<UploadLink>,
        _place: Place<'_>,
    ) -> Landed<'j> {
        let begun = Instant::now();
        let result = upload_file(self.remote, &self.site.env, &job, link).await;
        Landed::Upload(job, result, elapsed_ms(begun))
    }

    /// One try at the link of a file of a later stage; its upload asks again if it failed.
    async fn ask_ahead<'j>(&self, key: &'j str, stage: usize, _place: Place<'_>) -> Landed<'j> {
        let tries = CallTries::default();
        let link = match self
            .remote
            .try_upload_link(&self.site.env, key, &tries)
            .await
        {
            Attempt::Done(link) => Some(link),
            _ => None,
        };
        Landed::Link { key, stage, link }
    }
}

/// What came back from flight: an upload, or a link asked for ahead of its stage.
enum Landed<'k> {
    Upload(UploadJob<'k>, Result<Uploaded, UploadError>, u64),
    Link {
        key: &'k str,
        stage: usize,
        link: Option<UploadLink>,
    },
}

/// The uploads and link requests in flight, across stages.
struct Flight<'k> {
    set: FuturesUnordered<BoxFuture<'k, Landed<'k>>>,
    /// Uploads among them.
    uploading: usize,
    /// Link requests among them for the stage after the current one.
    asking: usize,
    /// Files of the next stage whose link request has come back (with a link, or not).
    early: Vec<(&'k str, Option<UploadLink>)>,
}

impl Default for Flight<'_> {
    fn default() -> Self {
        Flight {
            set: FuturesUnordered::new(),
            uploading: 0,
            asking: 0,
            early: Vec::new(),
        }
    }
}
