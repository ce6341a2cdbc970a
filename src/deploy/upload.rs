//! The upload of one file: read it (small files into a buffer, large ones as a stream), hash the
//! bytes actually sent, ask for a signed link right before the PUT (links live 60 s), PUT, and
//! check the returned ETag against the MD5 of what was sent. Only then is the file recorded.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::io::ReaderStream;

use crate::site::headers::FileHeaders;

use crate::api::{CosError, CosReaction, PutBody, PutObject, UploadLink, link_lifetime};
use crate::congestion::{Congestion, Signal};
use crate::remote::{CallTries, Remote, RemoteError};
use crate::retry::{Attempt, GaveUp, RetryPolicy};
use crate::site::FileStat;
use crate::site::cached::read_cached;
use crate::site::hash::{Digest, Hasher, digest_of};
use crate::site::manifest::ManifestEntry;

/// Files up to this size are read whole and sent from the buffer they were hashed from; larger
/// ones are streamed and hashed while streaming. Small, so that many uploads in flight hold
/// little memory: 16 at once hold at most 16 MiB.
pub const BUFFER_LIMIT: u64 = 1024 * 1024;

/// Files up to this size whose bytes are in the page cache are read and hashed on the
/// runtime's thread, which that holds up for about a tenth of a millisecond at most.
const READ_HERE_LIMIT: u64 = 64 * 1024;

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

/// Uploads one file, to the `early` link if one was asked for before (ahead of its stage),
/// retrying as the remote's policy says: an expired link is replaced, a
/// refused signature gets one fresh link, an overloaded store or a changed file waits and tries
/// again, with the link again while it is fresh.
///
/// The file's tries cover its link requests and its PUTs alike: whatever fails, it makes at
/// most `retry_attempts` link requests (and one more per token renewal) and `retry_attempts`
/// PUTs; a try that fails costs the file one of the two.
pub async fn upload_file(
    remote: &Remote,
    env: &str,
    job: &UploadJob<'_>,
    early: Option<UploadLink>,
) -> Result<Uploaded, UploadError> {
    let budget = remote.retry().attempts.max(1);
    // Each try asks for a link or PUTs (or both), so the two budgets bound the tries.
    let policy = RetryPolicy {
        attempts: budget.saturating_mul(2),
        ..*remote.retry()
    };
    // Shared by the tries, which run one after another.
    let mut first = FileTries::new(budget);
    if let Some(link) = early {
        first.links = 1;
        first.hold(&link);
    }
    let tries = &Mutex::new(first);
    let link_tries = &CallTries::default();
    let congestion = remote.congestion();
    let result = policy
        .run(|_| async move {
            let (stat, payload) = match read(&job.path).await {
                Ok(read) => read,
                Err(e) => return Attempt::Fail(e),
            };
            let next = lock(tries).next_link();
            let link = match next {
                NextLink::Held(link) => link,
                NextLink::Spent(error) => return Attempt::Fail(error),
                NextLink::Ask => {
                    let outcome = link_of(remote.try_upload_link(env, job.key, link_tries).await);
                    let mut tries = lock(tries);
                    tries.links += 1;
                    match outcome {
                        Ok(link) => {
                            tries.hold(&link);
                            link
                        }
                        Err(failed) => return tries.limit(failed),
                    }
                }
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
                    .put_object(&put, PutBody::Bytes(bytes))
                    .await
                    .map(|answer| (answer.etag, digest))
                    .map_err(PutError::Cos),
                Payload::Stream { file } => put_stream(remote, &put, file, stat.size).await,
            };
            let mut tries = lock(tries);
            tries.puts += 1;
            let failed = match outcome {
                Ok((Some(etag), digest)) if etag != digest.md5_hex() => {
                    let reason =
                        format!("the store's ETag {etag} does not match the MD5 of the bytes sent");
                    tracing::warn!(path = job.key, reason, "upload failed; retrying");
                    Attempt::Backoff(UploadError::GaveUp(reason))
                }
                Ok((_, digest)) => {
                    congestion.tell(Signal::Uploaded);
                    let entry = ManifestEntry { stat, digest };
                    return Attempt::Done(Uploaded {
                        entry,
                        bytes: stat.size,
                    });
                }
                Err(PutError::Changed) => {
                    let reason = "the file kept changing while it was sent";
                    tracing::debug!(path = job.key, reason, "reading it again");
                    Attempt::Backoff(UploadError::File(reason.into()))
                }
                Err(PutError::Cos(e)) => tries.put_refused(job.key, &e, congestion),
            };
            tries.limit(failed)
        })
        .await;
    result.map_err(|gave_up| match gave_up {
        GaveUp::Exhausted { error, tries } => error.after_tries(tries),
        GaveUp::Failed(error) => error,
    })
}

/// What one file's tries carry from one to the next.
struct FileTries {
    /// Link requests, and PUTs, a file may make.
    budget: u32,
    links: u32,
    puts: u32,
    /// The last link, and until when it may be PUT to again.
    held: Option<(UploadLink, Instant)>,
    /// A refused signature has had its one fresh link.
    fresh_link_for_signature: bool,
    /// The last failure, for the file's report when its link requests are spent.
    last: Option<(bool, String)>,
}

/// Where a try's link comes from.
enum NextLink {
    /// The last try's, still fresh.
    Held(UploadLink),
    /// A new one, asked for now.
    Ask,
    /// None: the file has made its link requests; this was its last failure.
    Spent(UploadError),
}

/// A link is PUT to again only with this much of its life left: the PUT must arrive in time.
const LINK_REUSE_MARGIN: Duration = Duration::from_secs(1);

impl FileTries {
    fn new(budget: u32) -> Self {
        FileTries {
            budget,
            links: 0,
            puts: 0,
            held: None,
            fresh_link_for_signature: false,
            last: None,
        }
    }

    /// The link this try PUTs to.
    fn next_link(&mut self) -> NextLink {
        if let Some((link, until)) = &self.held
            && Instant::now() + LINK_REUSE_MARGIN < *until
        {
            return NextLink::Held(link.clone());
        }
        self.held = None;
        match self.last.take() {
            Some((service, reason)) if self.links >= self.budget => {
                let error = match service {
                    true => UploadError::GaveUp(reason),
                    false => UploadError::File(reason),
                };
                NextLink::Spent(error.after_tries(self.links))
            }
            last => {
                self.last = last;
                NextLink::Ask
            }
        }
    }

    /// Keeps a new link for the next tries, if it says how long it lives.
    fn hold(&mut self, link: &UploadLink) {
        self.held =
            link_lifetime(&link.signed_url).map(|life| (link.clone(), Instant::now() + life));
    }

    /// What a store's refusal of a PUT means: a fresh link at once, a retry with backoff (with
    /// the same link), or the end of this file.
    fn put_refused(
        &mut self,
        key: &str,
        e: &CosError,
        congestion: &Congestion,
    ) -> Attempt<Uploaded, UploadError> {
        if let Some(pressure) = e.pressure() {
            congestion.tell(pressure.into());
        }
        let reason = e.to_string();
        let reaction = e.reaction();
        let fresh_link = match reaction {
            CosReaction::FreshLink => true,
            CosReaction::FreshLinkOnce => {
                !std::mem::replace(&mut self.fresh_link_for_signature, true)
            }
            CosReaction::Retry | CosReaction::Fail => false,
        };
        if fresh_link {
            self.held = None;
            tracing::debug!(path = key, reason, "asking for a fresh link");
            Attempt::Again(UploadError::File(reason))
        } else if reaction == CosReaction::Retry {
            tracing::warn!(path = key, reason, "upload failed; retrying");
            let error = UploadError::GaveUp(reason);
            match congestion.crowded(e.pressure()) {
                true => Attempt::Crowded(error),
                false => Attempt::Backoff(error),
            }
        } else {
            Attempt::Fail(UploadError::File(reason))
        }
    }

    /// A failed try, unless the file has spent its PUTs or its link requests: then the end of
    /// the file, saying how many tries it took.
    fn limit(&mut self, failed: Attempt<Uploaded, UploadError>) -> Attempt<Uploaded, UploadError> {
        let retried = match &failed {
            Attempt::Backoff(error) | Attempt::Again(error) | Attempt::Crowded(error) => error,
            Attempt::Done(_) | Attempt::Fail(_) => return failed,
        };
        self.last = match retried {
            UploadError::GaveUp(reason) => Some((true, reason.clone())),
            UploadError::File(reason) => Some((false, reason.clone())),
            _ => None,
        };
        let spent = self.puts.max(self.links);
        if self.puts >= self.budget || (self.held.is_none() && self.links >= self.budget) {
            return match failed {
                Attempt::Backoff(error) | Attempt::Again(error) | Attempt::Crowded(error) => {
                    Attempt::Fail(error.after_tries(spent))
                }
                done_or_fail => done_or_fail,
            };
        }
        failed
    }
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
/// same before and after a whole read. A file of at most [`READ_HERE_LIMIT`] bytes, all in the
/// page cache (as right after hashing), is read here; anything else is one trip to the
/// blocking pool: for the small files most sites are made of, hand-offs between threads would
/// cost more than the read.
async fn read(path: &Path) -> Result<(FileStat, Payload), UploadError> {
    if let Some((stat, bytes)) = read_cached(path, READ_HERE_LIMIT) {
        let digest = digest_of(&bytes);
        return Ok((stat, Payload::Buffer { bytes, digest }));
    }
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
        .put_object(put, PutBody::Stream(Box::pin(stream)))
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
        Attempt::Crowded(e) => Err(Attempt::Crowded(UploadError::GaveUp(e.to_string()))),
        Attempt::Fail(e) if e.stops_deploy() => Err(Attempt::Fail(UploadError::Fatal(e))),
        Attempt::Fail(e) => Err(Attempt::Fail(UploadError::File(e.to_string()))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
