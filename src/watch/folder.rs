//! A site folder as its worker sees it: the changes that come from notify (or from a poll
//! timer, when notify cannot watch it), the `.deployignore` rules that let changes of excluded
//! paths go, and what a due batch asks the next cycle to look at.
//!
//! Polling (asked for with `--poll`, or because inotify cannot watch the tree) is a rescan on a
//! timer; the stat cache makes it cheap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

use super::batch::{Batch, Dirty};
use super::watcher::{FsEvent, SiteWatcher};
use crate::config::Site;
use crate::site::scan::{Focus, IGNORE_FILE_NAME, IgnoreRules, ScanOptions};

/// How often to rescan when inotify cannot watch the folder and no `--poll` was given.
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// Events buffered between the watcher and the worker; past that the site is rescanned.
const EVENT_BUFFER: usize = 4096;

pub struct Folder {
    site: String,
    dir: PathBuf,
    events: mpsc::Receiver<FsEvent>,
    /// Held so that `events` never closes, even when no watcher could start and polling
    /// takes over.
    _events_tx: mpsc::Sender<FsEvent>,
    /// Set by the watcher when `events` was full: the next cycle looks at everything.
    overflow: Arc<AtomicBool>,
    watcher: Option<SiteWatcher>,
    poll_tick: Option<Interval>,
    scan_options: ScanOptions,
    rules: Option<IgnoreRules>,
}

impl Folder {
    /// Watches `site`'s folder, or polls it every `poll` (also when it cannot be watched).
    pub fn start(site: &Site, poll: Option<Duration>) -> Folder {
        let dir = std::path::absolute(&site.dir).unwrap_or_else(|_| site.dir.clone());
        let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
        let overflow = Arc::new(AtomicBool::new(false));
        let mut watcher = None;
        let mut polling = poll;
        if polling.is_none() {
            match SiteWatcher::start(&dir, events_tx.clone(), Arc::clone(&overflow)) {
                Ok(w) => watcher = Some(w),
                Err(e) if e.limit_reached => {
                    tracing::error!(
                        site = %site.name,
                        "inotify ran out of watches (fs.inotify.max_user_watches); polling every {}s instead. Raise the limit with `sysctl fs.inotify.max_user_watches=524288` and persist it in /etc/sysctl.d/",
                        FALLBACK_POLL.as_secs()
                    );
                    polling = Some(FALLBACK_POLL);
                }
                Err(e) => {
                    tracing::error!(site = %site.name, error = %e, "cannot watch the folder; polling every {}s instead", FALLBACK_POLL.as_secs());
                    polling = Some(FALLBACK_POLL);
                }
            }
        }
        let poll_tick = polling.map(|every| {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        });
        let scan_options = ScanOptions {
            root: dir.clone(),
            prefix: site.prefix.clone(),
            ignore: site.ignore.clone(),
        };
        Folder {
            site: site.name.clone(),
            rules: IgnoreRules::load(&scan_options).ok(),
            dir,
            events,
            _events_tx: events_tx,
            overflow,
            watcher,
            poll_tick,
            scan_options,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the folder is polled rather than watched.
    pub fn polled(&self) -> bool {
        self.poll_tick.is_some()
    }

    /// Whether the folder exists and has something in it.
    pub fn has_entries(&self) -> bool {
        std::fs::read_dir(&self.dir).is_ok_and(|mut entries| entries.next().is_some())
    }

    /// The next change: an event from the watcher, or a poll tick (a rescan). Cancel-safe.
    pub async fn next_change(&mut self) -> FsEvent {
        tokio::select! {
            biased;
            Some(event) = self.events.recv() => event,
            _ = super::next_tick(&mut self.poll_tick) => FsEvent::Rescan,
        }
    }

    /// Adds `change` to `batch`, unless it is only about excluded paths.
    pub fn note(&mut self, change: FsEvent, batch: &mut Batch) {
        match change {
            FsEvent::Rescan => batch.add_rescan(Instant::now()),
            FsEvent::Paths(paths) if paths.iter().any(|p| p == &self.dir) => {
                // The folder itself came or went: watch it anew, look at everything.
                if let Some(w) = self.watcher.as_mut()
                    && let Err(e) = w.attach()
                {
                    tracing::debug!(site = %self.site, error = %e, "folder not watchable yet");
                }
                batch.add_rescan(Instant::now());
            }
            FsEvent::Paths(paths) => {
                let kept: Vec<PathBuf> = paths
                    .into_iter()
                    .filter(|p| !ignored(self.rules.as_ref(), &self.dir, p))
                    .collect();
                if !kept.is_empty() {
                    batch.add(Instant::now(), kept);
                }
            }
        }
    }

    /// Empties the due `batch` into what the cycle looks at: `None` for everything.
    pub fn take(&mut self, batch: &mut Batch) -> Option<Focus> {
        if self.overflow.swap(false, Ordering::SeqCst) {
            batch.add_rescan(Instant::now());
        }
        let dirty = batch.take();
        tracing::debug!(site = %self.site, paths = dirty.paths.len(), rescan = dirty.rescan, "cycle due");
        let focus = focus_of(&dirty, &self.dir);
        if focus.is_none() {
            // The root `.deployignore` may have changed: the rules events pass by.
            self.rules = IgnoreRules::load(&self.scan_options).ok();
        }
        focus
    }
}

/// Whether an event on `path` can be let go: the path is excluded. A `.deployignore` is
/// excluded from deploys but changes what is deployed, so its events count.
fn ignored(rules: Option<&IgnoreRules>, dir: &Path, path: &Path) -> bool {
    if path.file_name() == Some(IGNORE_FILE_NAME.as_ref()) {
        return false;
    }
    match (rules, path.strip_prefix(dir)) {
        (Some(rules), Ok(relative)) => rules.is_ignored(relative, path.is_dir()),
        _ => false,
    }
}

/// The paths a cycle needs to look at, relative to the site folder, or `None` for everything:
/// after a rescan, for a name that is not UTF-8, and for the root's `.deployignore`, which
/// changes every rule. A subfolder's `.deployignore` changes its folder: the folder is looked at.
fn focus_of(dirty: &Dirty, dir: &Path) -> Option<Focus> {
    if dirty.rescan {
        return None;
    }
    let mut paths = Vec::with_capacity(dirty.paths.len());
    for path in &dirty.paths {
        let relative = path.strip_prefix(dir).ok()?.to_str()?;
        let relative = match relative.strip_suffix(IGNORE_FILE_NAME) {
            Some(folder) if folder.is_empty() || folder.ends_with('/') => folder,
            _ => relative,
        };
        paths.push(relative.to_owned());
    }
    Focus::new(&paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::headers::HeaderRules;

    fn site(dir: &Path) -> Site {
        Site {
            name: "www".into(),
            group: "www".into(),
            env: "env-1".into(),
            dir: dir.to_owned(),
            prefix: String::new(),
            ignore: Vec::new(),
            headers: HeaderRules::default(),
            rules: Vec::new(),
        }
    }

    /// A folder that notify cannot watch (its parent does not exist) was once left with no
    /// change ever coming, as the watcher's end of the channel went with it: it is polled.
    #[tokio::test(start_paused = true)]
    async fn a_folder_that_cannot_be_watched_is_polled() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("not/yet/dist");
        let mut folder = Folder::start(&site(&dir), None);
        assert!(folder.polled());
        assert!(!folder.has_entries());
        let started = Instant::now();
        assert!(matches!(folder.next_change().await, FsEvent::Rescan));
        assert_eq!(started.elapsed(), FALLBACK_POLL);
        assert!(matches!(folder.next_change().await, FsEvent::Rescan));
    }

    #[test]
    fn a_subfolders_deployignore_focuses_its_folder_and_the_roots_everything() {
        let dir = Path::new("/srv/dist");
        let dirty = |paths: &[&str]| Dirty {
            paths: paths.iter().map(|p| dir.join(p)).collect(),
            rescan: false,
        };
        assert!(focus_of(&dirty(&["assets/.deployignore"]), dir).is_some());
        assert!(focus_of(&dirty(&[".deployignore"]), dir).is_none());
        assert!(focus_of(&dirty(&["index.html"]), dir).is_some());
        let rescan = Dirty {
            rescan: true,
            ..dirty(&["index.html"])
        };
        assert!(focus_of(&rescan, dir).is_none());
    }
}
