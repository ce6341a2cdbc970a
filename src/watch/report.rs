//! What a site's tasks tell the daemon's loop. A worker returns only when it ends: `Ok(())`
//! when its token asked it to, or a [`CriticalError`] when it cannot go on. Everything else it
//! has to say is a runtime report sent on one channel to the loop — a cycle's end (done, or
//! failed with its cause and next try), the folder missing or back — and so are the panics its
//! supervisor catches and the store statuses its poller reads. The loop writes each report into
//! the health state and then into the log (`health::book`), so the workers, the supervisor and
//! the poller never touch the health state.
//!
//! The channel is unbounded: a site sends a few reports per cycle, and a worker must never wait
//! on the loop. It closes when the loop and every site's tasks have let go of their senders,
//! which is how the loop learns, while stopping, that every site has ended.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::retry::Failure;

/// Which running site a report is about. A site stopped at SIGHUP may still report the end of
/// its cycle in flight; its number, never given again, keeps that from being taken for a new
/// site of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(pub u64);

/// What ends a site's worker: it cannot go on, and retrying a cycle would not help.
#[derive(Debug, thiserror::Error)]
pub enum CriticalError {
    /// A bug. The supervisor reports it and starts a fresh worker after a growing wait.
    #[error("the worker panicked ({message})")]
    Panicked { message: String },
    /// The daemon's loop no longer takes reports: the daemon is ending, and a worker that
    /// cannot say what it does must not go on doing it.
    #[error("the daemon no longer takes the site's reports")]
    Unheard,
}

/// A runtime report of one site.
#[derive(Debug)]
pub enum Report {
    /// The worker started: it watches the folder, or polls it.
    Watching,
    /// The folder is missing or empty: no cycle ran, and none is due until it changes.
    NoFolder { dir: PathBuf },
    /// The folder has entries again: a cycle runs.
    FolderBack,
    /// A cycle ended.
    Cycle(CycleEnd),
    /// The worker panicked (from its supervisor); a fresh one starts after `restart_in`.
    Panicked {
        message: String,
        restart_in: Duration,
    },
    /// The store's status changed (from the status poller): `online`, `processing`, `absent`…
    StoreStatus(String),
}

impl Report {
    /// Whether the report ends a cycle of the site, or its worker: the first such report tells
    /// the loop that the site's first deploy is over.
    pub fn ends_a_cycle(&self) -> bool {
        matches!(
            self,
            Report::NoFolder { .. } | Report::Cycle(_) | Report::Panicked { .. }
        )
    }
}

/// How a cycle that ran ended.
#[derive(Debug)]
pub struct CycleEnd {
    /// What it uploaded; `None` when it failed as a whole.
    pub deployed: Option<Deployed>,
    /// Why it failed and when it is tried again; `None` when everything is online.
    pub failed: Option<Failed>,
}

/// What a cycle uploaded.
#[derive(Debug, Default)]
pub struct Deployed {
    pub uploaded: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub stale: usize,
    pub bytes: u64,
    pub ms: u64,
    /// The site's address, once a cycle has looked it up.
    pub url: Option<String>,
}

/// Why a cycle failed, and what the site's retry made of it.
#[derive(Debug)]
pub struct Failed {
    pub failure: Failure,
    /// The cause and what to do.
    pub error: String,
    /// The cause, short.
    pub cause: String,
    /// When the site tries again, unless a change comes first.
    pub retry_in: Duration,
    /// The same permanent failure as the last one, with no success between: worth a short
    /// line, not the full report again.
    pub repeat: bool,
}

/// The loop's end of the channel.
pub type Inbox = mpsc::UnboundedReceiver<(SiteId, Report)>;

/// Where reports go; the loop holds one to make each new site's [`Reporter`].
#[derive(Clone, Debug)]
pub struct Reports(mpsc::UnboundedSender<(SiteId, Report)>);

/// The channel between the sites and the loop.
pub fn channel() -> (Reports, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Reports(tx), rx)
}

impl Reports {
    pub fn reporter(&self, site: SiteId) -> Reporter {
        Reporter {
            site,
            tx: self.0.clone(),
        }
    }
}

/// One site's sender of reports.
#[derive(Clone, Debug)]
pub struct Reporter {
    site: SiteId,
    tx: mpsc::UnboundedSender<(SiteId, Report)>,
}

impl Reporter {
    pub fn send(&self, report: Report) -> Result<(), CriticalError> {
        self.tx
            .send((self.site, report))
            .map_err(|_| CriticalError::Unheard)
    }
}
