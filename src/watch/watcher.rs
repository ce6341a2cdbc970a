//! Filesystem events of one site folder. The folder is watched recursively, and its parent
//! non-recursively, so that a build tool deleting and recreating the folder (`rm -rf dist &&
//! mkdir dist`) is seen: when the folder reappears it is watched again.
//!
//! The notify callback never blocks: it `try_send`s into a bounded channel, and when the channel
//! is full it marks the site for a full rescan instead.
//!
//! Polling is not done here: a polling site simply rescans on a timer (see `folder.rs`), which the
//! stat cache makes cheap and which, unlike notify's poll watcher (whole-second modification
//! times, no sizes), misses no edit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
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
    watcher: RecommendedWatcher,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {reason}", path.display())]
pub struct WatchError {
    pub path: PathBuf,
    pub reason: String,
    /// inotify ran out of watches (`fs.inotify.max_user_watches`).
    pub limit_reached: bool,
}

impl SiteWatcher {
    /// Starts watching `dir` (absolute). Events go to `events`; when it is full, `overflow` is
    /// set.
    pub fn start(
        dir: &Path,
        events: mpsc::Sender<FsEvent>,
        overflow: Arc<AtomicBool>,
    ) -> Result<SiteWatcher, WatchError> {
        let handler = Handler {
            dir: dir.to_owned(),
            events,
            overflow,
        };
        let watcher = RecommendedWatcher::new(handler, notify::Config::default()).map_err(|e| {
            WatchError {
                path: dir.to_owned(),
                limit_reached: false,
                reason: e.to_string(),
            }
        })?;
        let mut site = SiteWatcher {
            dir: dir.to_owned(),
            watcher,
        };
        site.attach()?;
        Ok(site)
    }

    /// Watches the parent (always) and the folder (when it exists). Called again when the
    /// folder reappears.
    pub fn attach(&mut self) -> Result<(), WatchError> {
        let parent = self.dir.parent().unwrap_or(Path::new("/")).to_owned();
        watch(&mut self.watcher, &parent, RecursiveMode::NonRecursive)?;
        if self.dir.is_dir() {
            watch(&mut self.watcher, &self.dir, RecursiveMode::Recursive)?;
        }
        Ok(())
    }
}

fn watch(watcher: &mut dyn Watcher, path: &Path, mode: RecursiveMode) -> Result<(), WatchError> {
    watcher.watch(path, mode).map_err(|e| {
        let limit_reached = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
        WatchError {
            path: path.to_owned(),
            limit_reached,
            reason: if limit_reached {
                "the inotify watch limit is reached".to_owned()
            } else {
                e.to_string()
            },
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
