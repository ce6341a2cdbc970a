//! Filesystem events of one site folder. The folder is watched recursively, and its parent
//! non-recursively, so that a build tool deleting and recreating the folder (`rm -rf dist &&
//! mkdir dist`) is seen: when the folder reappears it is watched again.
//!
//! The notify callback never blocks: it `try_send`s into a bounded channel, and when the channel
//! is full it marks the site for a full rescan instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// What the callback passes on.
#[derive(Debug)]
pub enum FsEvent {
    /// These paths (inside the folder, or the folder itself) changed.
    Paths(Vec<PathBuf>),
    /// Events may have been lost: look at everything.
    Rescan,
}

/// Watches one site folder until dropped.
pub struct SiteWatcher {
    dir: PathBuf,
    watcher: Box<dyn Watcher + Send>,
    polling: Option<Duration>,
    events: mpsc::Sender<FsEvent>,
    overflow: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {reason}", path.display())]
pub struct WatchError {
    pub path: PathBuf,
    pub reason: String,
}

/// How often to look when polling, if inotify runs out of watches and no `--poll` was given.
const FALLBACK_POLL: Duration = Duration::from_secs(2);

impl SiteWatcher {
    /// Starts watching `dir` (absolute). `poll` chooses polling at that interval instead of
    /// inotify (for network filesystems). Events go to `events`; when it is full, `overflow`
    /// is set.
    pub fn start(
        dir: &Path,
        poll: Option<Duration>,
        events: mpsc::Sender<FsEvent>,
        overflow: Arc<AtomicBool>,
    ) -> Result<SiteWatcher, WatchError> {
        let watcher = new_watcher(dir, poll, &events, &overflow)?;
        let mut site = SiteWatcher {
            dir: dir.to_owned(),
            watcher,
            polling: poll,
            events,
            overflow,
        };
        if let Err(e) = site.attach() {
            if e.reason != LIMIT_REACHED || site.polling.is_some() {
                return Err(e);
            }
            tracing::error!(
                "inotify ran out of watches (fs.inotify.max_user_watches); falling back to polling every {}s. Raise the limit with `sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/)",
                FALLBACK_POLL.as_secs()
            );
            site.polling = Some(FALLBACK_POLL);
            site.watcher = new_watcher(dir, site.polling, &site.events, &site.overflow)?;
            site.attach()?;
        }
        Ok(site)
    }

    pub fn polling(&self) -> Option<Duration> {
        self.polling
    }

    /// Watches the parent (always) and the folder (when it exists). Called again when the
    /// folder reappears.
    pub fn attach(&mut self) -> Result<(), WatchError> {
        let parent = self.dir.parent().unwrap_or(Path::new("/")).to_owned();
        watch(&mut *self.watcher, &parent, RecursiveMode::NonRecursive)?;
        if self.dir.is_dir() {
            watch(&mut *self.watcher, &self.dir, RecursiveMode::Recursive)?;
        }
        Ok(())
    }
}

const LIMIT_REACHED: &str = "the inotify watch limit is reached";

fn watch(watcher: &mut dyn Watcher, path: &Path, mode: RecursiveMode) -> Result<(), WatchError> {
    watcher.watch(path, mode).map_err(|e| WatchError {
        path: path.to_owned(),
        reason: match e.kind {
            notify::ErrorKind::MaxFilesWatch => LIMIT_REACHED.to_owned(),
            _ => e.to_string(),
        },
    })
}

fn new_watcher(
    dir: &Path,
    poll: Option<Duration>,
    events: &mpsc::Sender<FsEvent>,
    overflow: &Arc<AtomicBool>,
) -> Result<Box<dyn Watcher + Send>, WatchError> {
    let handler = Handler {
        dir: dir.to_owned(),
        events: events.clone(),
        overflow: Arc::clone(overflow),
    };
    let failed = |e: notify::Error| WatchError {
        path: dir.to_owned(),
        reason: e.to_string(),
    };
    Ok(match poll {
        Some(interval) => Box::new(
            PollWatcher::new(
                handler,
                notify::Config::default().with_poll_interval(interval),
            )
            .map_err(failed)?,
        ),
        None => {
            Box::new(RecommendedWatcher::new(handler, notify::Config::default()).map_err(failed)?)
        }
    })
}

/// Runs on notify's thread: filters, then hands events over without waiting.
struct Handler {
    dir: PathBuf,
    events: mpsc::Sender<FsEvent>,
    overflow: Arc<AtomicBool>,
}

impl notify::EventHandler for Handler {
    fn handle_event(&mut self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) if event.need_rescan() => FsEvent::Rescan,
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
            Ok(event) => {
                let paths: Vec<PathBuf> = event
                    .paths
                    .into_iter()
                    .filter(|p| p.starts_with(&self.dir))
                    .collect();
                if paths.is_empty() {
                    return;
                }
                FsEvent::Paths(paths)
            }
            Err(e) => {
                tracing::warn!(error = %e, "file watching reported an error; rescanning");
                FsEvent::Rescan
            }
        };
        if self.events.try_send(event).is_err() {
            self.overflow.store(true, Ordering::SeqCst);
        }
    }
}
