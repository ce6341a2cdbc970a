//! The upload of one file: read it (small files into a buffer, large ones as a stream), hash the
//! bytes actually sent, ask for a signed link right before the PUT (links live 60 s), PUT, and
//! check the returned ETag against the MD5 of what was sent. Only then is the file recorded.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio_util::io::ReaderStream;

use super::headers::FileHeaders;
use crate::api::{CosError, CosReaction, PutObject, UploadLink};
use crate::congestion::Load;
use crate::remote::{CallTries, Remote, RemoteError};
use crate::retry::{Attempt, GaveUp};
use crate::site::FileStat;
use crate::site::hash::{Digest, Hasher, digest_of};
use crate::site::manifest::ManifestEntry;

/// Files up to this size are read whole and sent from the buffer they were hashed from; larger
/// ones are streamed and hashed while streaming. Small, so that many uploads in flight hold
/// little memory: 16 at once hold at most 16 MiB.
pub const BUFFER_LIMIT: u64 = 1024 * 1024;

/// How often a file that keeps changing while it is read is read again before giving up.
const READ_ATTEMPTS: u32 = 3;

/// One file to upload.
#[derive(Debug)]
pub struct UploadJob<'a> {
    pub key: &'a str,
    pub path: PathBuf,
    pub headers: FileHeaders,
}

/// A file that is online now, and what to record of it.
#[derive(Debug)]
pub struct Uploaded {
    pub entry: ManifestEntry,
    pub bytes: u64,
}

#[derive(Debug)]
pub enum UploadError {
    /// The file disappeared: nothing to upload, nothing to report.
    Vanished,
    /// This file failed; the others can go on.
    File(String),
    /// The service kept failing this file's tries (busy, overloaded, unreachable): the others
    /// may go on, but many of these in a row mean the service is down.
    GaveUp(String),
    /// A failure every other file would meet too (credentials, quota): stop the deploy.
    Fatal(RemoteError),
}

/// The bytes of one attempt.
enum Payload {
    Buffer { bytes: Vec<u8>, digest: Digest },
    Stream { file: tokio::fs::File },
}

/// Uploads one file, retrying as the remote's policy says: an expired link is replaced, a
/// refused signature gets one fresh link, an overloaded store or a changed file waits and tries
/// again.
pub async fn upload_file(
    remote: &Remote,
    env: &str,
    job: &UploadJob<'_>,
) -> Result<Uploaded, UploadError> {
    // Shared by the tries, which run one after another.
    let fresh_link_for_signature = &AtomicBool::new(false);
    let link_tries = &CallTries::default();
    let congestion = remote.congestion();
    let result = remote
        .retry()
        .run(|_| async move {
            let (stat, payload) = match read(&job.path).await {
                Ok(read) => read,
                Err(e) => return Attempt::Fail(e),
            };
            // The link is one try of the file's, as the PUT is: whatever fails, a file costs
            // at most `retry_attempts` link calls (and one more per token renewal) and PUTs.
            let link = match link_of(remote.try_upload_link(env, job.key, link_tries).await) {
                Ok(link) => link,
                Err(outcome) => return outcome,
            };
            let put = PutObject {
                signed_url: &link.signed_url,
                token: &link.token,
                content_length: stat.size,
                content_type: Some(&job.headers.content_type),
                cache_control: job.headers.cache_control.as_deref(),
            };
            let outcome = match payload {
                Payload::Buffer { bytes, digest } => remote
                    .api()
                    .put_object(&put, bytes)
                    .await
                    .map(|answer| (answer.etag, digest))
                    .map_err(PutError::Cos),
                Payload::Stream { file } => put_stream(remote, &put, file, stat.size).await,
            };
            let e = match outcome {
                Ok((Some(etag), digest)) if etag != digest.md5_hex() => {
                    let reason =
                        format!("the store's ETag {etag} does not match the MD5 of the bytes sent");
                    tracing::warn!(path = job.key, reason, "upload failed; retrying");
                    return Attempt::Backoff(UploadError::GaveUp(reason));
                }
                Ok((_, digest)) => {
                    congestion.record(Load::Served);
                    let entry = ManifestEntry { stat, digest };
                    return Attempt::Done(Uploaded {
                        entry,
                        bytes: stat.size,
                    });
                }
                Err(PutError::Changed) => {
                    let reason = "the file kept changing while it was sent";
                    tracing::debug!(path = job.key, reason, "reading it again");
                    return Attempt::Backoff(UploadError::File(reason.into()));
                }
                Err(PutError::Cos(e)) => e,
            };
            if e.overloaded() {
                congestion.record(Load::Overloaded);
            }
            let reason = e.to_string();
            let reaction = e.reaction();
            let fresh_link = match reaction {
                CosReaction::FreshLink => true,
                CosReaction::FreshLinkOnce => {
                    !fresh_link_for_signature.swap(true, Ordering::Relaxed)
                }
                CosReaction::Retry | CosReaction::Fail => false,
            };
            if fresh_link {
                tracing::debug!(path = job.key, reason, "asking for a fresh link");
                Attempt::Again(UploadError::File(reason))
            } else if reaction == CosReaction::Retry {
                tracing::warn!(path = job.key, reason, "upload failed; retrying");
                Attempt::Backoff(UploadError::GaveUp(reason))
            } else {
                Attempt::Fail(UploadError::File(reason))
            }
        })
        .await;
    result.map_err(|gave_up| match gave_up {
        GaveUp::Exhausted { error, tries } => error.after_tries(tries),
        GaveUp::Failed(error) => error,
    })
}

impl UploadError {
    /// The same failure, saying how many tries it took.
    fn after_tries(self, tries: u32) -> Self {
        let told = |reason| format!("{reason} (gave up after {tries} tries)");
        match self {
            Self::File(reason) => Self::File(told(reason)),
            Self::GaveUp(reason) => Self::GaveUp(told(reason)),
            other => other,
        }
    }
}

enum PutError {
    Cos(CosError),
    /// The streamed file did not have the length it had when opened.
    Changed,
}

/// Reads a small file whole, or opens a large one for streaming; the stat returned was the
/// same before and after a whole read. All of it is one trip to the blocking pool: for the
/// small files most sites are made of, hand-offs between threads would cost more than the read.
async fn read(path: &Path) -> Result<(FileStat, Payload), UploadError> {
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || read_blocking(&owned))
        .await
        .map_err(|e| UploadError::File(format!("internal error while reading: {e}")))?;
    match read {
        Ok(Some(read)) => Ok(read),
        Ok(None) => Err(UploadError::File(format!(
            "the file kept changing while being read ({READ_ATTEMPTS} tries); it will be picked up by the next deploy"
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(UploadError::Vanished),
        Err(e) => Err(UploadError::File(format!("cannot read the file: {e}"))),
    }
}

/// [`read`]'s blocking part; `None` when the file kept changing.
fn read_blocking(path: &Path) -> std::io::Result<Option<(FileStat, Payload)>> {
    for _ in 0..READ_ATTEMPTS {
        let mut file = std::fs::File::open(path)?;
        let before = FileStat::of(&file.metadata()?);
        if before.size > BUFFER_LIMIT {
            let file = tokio::fs::File::from_std(file);
            return Ok(Some((before, Payload::Stream { file })));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(before.size).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        let after = FileStat::of(&std::fs::metadata(path)?);
        if after == before && bytes.len() as u64 == before.size {
            let digest = digest_of(&bytes);
            return Ok(Some((before, Payload::Buffer { bytes, digest })));
        }
        tracing::debug!(path = %path.display(), "file changed while being read; reading again");
    }
    Ok(None)
}

/// PUTs a file as a stream, hashing the bytes as they go out.
async fn put_stream(
    remote: &Remote,
    put: &PutObject<'_>,
    file: tokio::fs::File,
    size: u64,
) -> Result<(Option<String>, Digest), PutError> {
    let hasher = Arc::new(Mutex::new((Hasher::new(), 0u64)));
    let tap = Arc::clone(&hasher);
    let stream = ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
        if let Ok(bytes) = &chunk
            && let Ok(mut state) = tap.lock()
        {
            state.0.update(bytes);
            state.1 += bytes.len() as u64;
        }
        chunk
    });
    let answer = remote
        .api()
        .put_object(put, reqwest::Body::wrap_stream(stream))
        .await;
    // The body may still be held by the connection when the answer arrives: take the state
    // out rather than unwrapping the Arc.
    let (hasher, sent) = match hasher.lock() {
        Ok(mut state) => std::mem::take(&mut *state),
        Err(_) => return Err(PutError::Changed),
    };
    let answer = answer.map_err(|e| {
        if sent != size {
            PutError::Changed
        } else {
            PutError::Cos(e)
        }
    })?;
    if sent != size {
        return Err(PutError::Changed);
    }
    Ok((answer.etag, hasher.finish()))
}

/// What one try at a link means for the file: go on to the PUT, try again (the service was
/// busy), give up on this file, or stop the deploy when every file would meet the same refusal.
fn link_of(
    outcome: Attempt<UploadLink, RemoteError>,
) -> Result<UploadLink, Attempt<Uploaded, UploadError>> {
    match outcome {
        Attempt::Done(link) => Ok(link),
        Attempt::Backoff(e) => Err(Attempt::Backoff(UploadError::GaveUp(e.to_string()))),
        Attempt::Again(e) => Err(Attempt::Again(UploadError::GaveUp(e.to_string()))),
        Attempt::Fail(e) if e.stops_deploy() => Err(Attempt::Fail(UploadError::Fatal(e))),
        Attempt::Fail(e) => Err(Attempt::Fail(UploadError::File(e.to_string()))),
    }
}
