//! The daemon's running sites, and the only place that starts or stops them. Each site has two
//! tasks — its worker under a supervisor, and its status poller — a token of its own, a child
//! of the daemon's, that stops both (no new upload starts; the cycle in flight finishes), and a
//! nudge that makes its worker try a failed cycle again now. Every task of every site holds a
//! sender of the reports channel; so does this fleet until the daemon stops, which is how the
//! loop learns that the last site has ended (see `events.rs`).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::daemon::DaemonSettings;
use super::health::HealthBook;
use super::poller::poll_status;
use super::report::{Reports, SiteId};
use super::supervisor::supervise;
use super::worker::SiteWorker;
use crate::config::Site;
use crate::remote::Remote;

/// A running site.
struct Running {
    id: SiteId,
    site: Site,
    stop: CancellationToken,
    nudge: Arc<Notify>,
}

pub struct Fleet {
    remote: Arc<Remote>,
    settings: DaemonSettings,
    /// The daemon's token: every site's is a child of it.
    parent: CancellationToken,
    /// Where new sites report; `None` once the daemon stops, so that the reports channel
    /// closes when the last site's tasks end.
    reports: Option<Reports>,
    sites: BTreeMap<String, Running>,
    /// Every site's tasks, those of sites stopped at SIGHUP too (they finish their cycle).
    tasks: JoinSet<()>,
    next_id: u64,
}

impl Fleet {
    pub fn new(
        remote: Arc<Remote>,
        settings: DaemonSettings,
        parent: &CancellationToken,
        reports: Reports,
    ) -> Fleet {
        Fleet {
            remote,
            settings,
            parent: parent.clone(),
            reports: Some(reports),
            sites: BTreeMap::new(),
            tasks: JoinSet::new(),
            next_id: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.sites.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Starts `site`'s worker and poller; `None` once the daemon stops, or when a site of that
    /// name runs.
    pub fn start(&mut self, site: Site, book: &mut HealthBook) -> Option<SiteId> {
        let reports = self.reports.as_ref()?;
        let Entry::Vacant(slot) = self.sites.entry(site.name.clone()) else {
            return None;
        };
        let id = SiteId(self.next_id);
        self.next_id += 1;
        book.add(id, &site.name, &site.env);
        let stop = self.parent.child_token();
        let nudge = Arc::new(Notify::new());
        let reporter = reports.reporter(id);
        let shared = Arc::new(site.clone());
        let worker = {
            let (site, remote, settings) = (
                Arc::clone(&shared),
                Arc::clone(&self.remote),
                self.settings.clone(),
            );
            let (stop, nudge, reporter) = (stop.clone(), Arc::clone(&nudge), reporter.clone());
            move || {
                SiteWorker {
                    site: Arc::clone(&site),
                    remote: Arc::clone(&remote),
                    state_dir: settings.state_dir.clone(),
                    settings: settings.cycle,
                    timing: settings.timing,
                    poll: settings.poll,
                    stop: stop.clone(),
                    nudge: Arc::clone(&nudge),
                    reporter: reporter.clone(),
                }
                .run()
            }
        };
        self.tasks
            .spawn(supervise(stop.clone(), reporter.clone(), worker));
        self.tasks.spawn(poll_status(
            shared,
            Arc::clone(&self.remote),
            self.settings.status_interval,
            reporter,
            stop.clone(),
        ));
        slot.insert(Running {
            id,
            site,
            stop,
            nudge,
        });
        Some(id)
    }

    /// Makes every site waiting to try a failed cycle again try now.
    pub fn nudge(&self) {
        for running in self.sites.values() {
            running.nudge.notify_one();
        }
    }

    /// Makes the running sites those of `wanted`: sites gone or changed are stopped (their
    /// cycle in flight finishes), new or changed ones started.
    pub fn replace(&mut self, wanted: Vec<Site>, book: &mut HealthBook) {
        // The tasks of sites stopped before, reaped.
        while self.tasks.try_join_next().is_some() {}
        let wanted: BTreeMap<String, Site> =
            wanted.into_iter().map(|s| (s.name.clone(), s)).collect();
        let gone: Vec<String> = self
            .sites
            .iter()
            .filter(|(name, r)| wanted.get(*name).is_none_or(|s| !s.same_as(&r.site)))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(running) = self.sites.remove(&name) {
                tracing::info!(site = %name, "SIGHUP: stopping site");
                running.stop.cancel();
                book.remove(running.id);
            }
        }
        for (name, site) in wanted {
            if !self.sites.contains_key(&name) {
                tracing::info!(site = %name, "SIGHUP: starting site");
                self.start(site, book);
            }
        }
    }

    /// No site starts any more (the daemon stops): the fleet lets go of its sender of
    /// reports, so the channel closes once the last site's tasks have ended.
    pub fn close(&mut self) {
        self.reports = None;
    }

    /// Ends every site's tasks now, uploads in flight included.
    pub fn abort(&mut self) {
        self.tasks.abort_all();
    }
}
