//! The daemon's main loop. Site workers and status pollers run as tasks; this loop takes one
//! event at a time from one `select!` — a signal, the watchdog tick, a status tick, the build
//! command's exit — and is the only place that starts or stops workers.
//!
//! SIGTERM / SIGINT: stop watching, let uploads in flight finish within the grace period (a
//! second signal aborts them), save manifests, exit 0. SIGHUP: reload the config; sites added,
//! removed or changed are started or stopped; an invalid config is logged and the old one kept;
//! and every site waiting to try a failed cycle again tries now.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::batch::Timing;
use super::child::{BuildCommand, Signal};
use super::health::Health;
use super::poller::poll_status;
use super::supervisor::supervise;
use super::systemd::Notifier;
use super::worker::{SiteWorker, unix_now};
use crate::config::Site;
use crate::deploy::CycleSettings;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::remote::Remote;

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct DaemonSettings {
    pub state_dir: PathBuf,
    pub cycle: CycleSettings,
    pub timing: Timing,
    pub poll: Option<Duration>,
    pub status_interval: Duration,
    pub grace: Duration,
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Reads the configuration again, for SIGHUP.
pub type Reload = Box<dyn Fn() -> Result<Vec<Site>, Error> + Send>;

/// A running site: its worker and poller, and the switches that stop them.
struct Running {
    site: Site,
    stop: CancellationToken,
    shutdown: watch::Sender<bool>,
    /// Tells the worker to try a failed cycle again now.
    nudge: watch::Sender<()>,
    tasks: JoinSet<()>,
}

impl Running {
    fn start(
        site: Site,
        remote: &Arc<Remote>,
        settings: &DaemonSettings,
        health: &Health,
    ) -> (Running, oneshot::Receiver<()>) {
        let shared = Arc::new(site.clone());
        let stop = CancellationToken::new();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (nudge, nudge_rx) = watch::channel(());
        let (ready_tx, ready) = oneshot::channel();
        // Only the first worker tells when the initial deploy is done; one started again
        // after a panic has no one waiting.
        let mut ready_tx = Some(ready_tx);
        let worker = {
            let (site, remote, settings) =
                (Arc::clone(&shared), Arc::clone(remote), settings.clone());
            let (stop, shutdown, health) = (stop.clone(), shutdown_rx.clone(), health.clone());
            move || {
                SiteWorker {
                    site: Arc::clone(&site),
                    remote: Arc::clone(&remote),
                    state_dir: settings.state_dir.clone(),
                    settings: settings.cycle,
                    timing: settings.timing,
                    poll: settings.poll,
                    stop: stop.clone(),
                    shutdown: shutdown.clone(),
                    nudge: nudge_rx.clone(),
                    health: health.clone(),
                    ready: ready_tx.take(),
                }
                .run()
            }
        };
        let mut tasks = JoinSet::new();
        tasks.spawn(supervise(
            site.name.clone(),
            health.clone(),
            shutdown_rx.clone(),
            worker,
        ));
        tasks.spawn(poll_status(
            shared,
            Arc::clone(remote),
            settings.status_interval,
            health.clone(),
            shutdown_rx,
        ));
        (
            Running {
                site,
                stop,
                shutdown,
                nudge,
                tasks,
            },
            ready,
        )
    }

    /// Asks the tasks to end: no new upload starts, uploads in flight finish.
    fn request_stop(&self) {
        self.stop.cancel();
        let _ = self.shutdown.send(true);
    }
}

pub struct Daemon {
    pub remote: Arc<Remote>,
    pub settings: DaemonSettings,
    pub notifier: Notifier,
    pub reload: Option<Reload>,
    pub build: Option<BuildCommand>,
}

impl Daemon {
    pub async fn run(mut self, sites: Vec<Site>) -> Result<ExitCode, Error> {
        let health = Health::default();
        let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(signal_error)?;
        let mut hangup = signal(SignalKind::hangup()).map_err(signal_error)?;

        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        let mut readies = Vec::new();
        for site in sites {
            let (r, ready) = Running::start(site, &self.remote, &self.settings, &health);
            running.insert(r.site.name.clone(), r);
            readies.push(ready);
        }
        tracing::info!(sites = running.len(), "watching; first deploy under way");
        let (endpoints_stop, endpoints_stop_rx) = watch::channel(false);
        if let Some(addr) = self.settings.metrics_addr {
            let calls = self.remote.api().calls().clone();
            match super::endpoints::serve(addr, health.clone(), calls, endpoints_stop_rx).await {
                Ok(bound) => tracing::info!(
                    "health and metrics at http://{bound}/healthz, /status and /metrics"
                ),
                Err(e) => {
                    return Err(Error::Config(crate::config::ConfigError::Invalid {
                        key: "metrics_addr",
                        value: addr.to_string(),
                        reason: format!("cannot listen there: {e}"),
                    }));
                }
            }
        }

        // The initial deploys, unless a signal or the build command's end comes first.
        let initial = async {
            for ready in readies {
                let _ = ready.await;
            }
        };
        let mut ended = tokio::select! {
            _ = initial => None,
            _ = terminate.recv() => Some(End::Signal),
            _ = interrupt.recv() => Some(End::Signal),
            code = wait_build(&mut self.build) => Some(End::Build(code)),
        };
        if ended.is_none() {
            self.notifier.ready();
            self.notifier.status(&health.summary(unix_now()));
            for (name, h) in health.lock().iter() {
                if let Some(url) = &h.url {
                    tracing::info!(site = %name, url = %url, "watching for changes; the site is at this address");
                }
            }
        }

        let mut watchdog = self.notifier.watchdog_interval().map(tokio::time::interval);
        let mut status_tick = tokio::time::interval(Duration::from_secs(5));
        let mut last_status = String::new();
        while ended.is_none() {
            tokio::select! {
                _ = terminate.recv() => ended = Some(End::Signal),
                _ = interrupt.recv() => ended = Some(End::Signal),
                _ = hangup.recv() => {
                    for r in running.values() {
                        let _ = r.nudge.send(());
                    }
                    self.reload(&mut running, &health);
                }
                code = wait_build(&mut self.build) => ended = Some(End::Build(code)),
                _ = super::next_tick(&mut watchdog) => self.notifier.watchdog(),
                _ = status_tick.tick() => {
                    let status = health.summary(unix_now());
                    if status != last_status {
                        self.notifier.status(&status);
                        last_status = status;
                    }
                }
            }
        }

        tracing::info!("stopping: uploads in flight may finish");
        let _ = endpoints_stop.send(true);
        self.notifier.stopping();
        for r in running.values() {
            r.request_stop();
        }
        if let Some(build) = self.build.as_ref() {
            build.signal(Signal::Term);
        }
        let drained = async {
            for r in running.values_mut() {
                while r.tasks.join_next().await.is_some() {}
            }
        };
        tokio::select! {
            _ = drained => tracing::info!("stopped"),
            _ = tokio::time::sleep(self.settings.grace) => {
                tracing::warn!(grace_secs = self.settings.grace.as_secs(), "uploads did not finish within the grace period; aborting them");
            }
            _ = terminate.recv() => tracing::warn!("second signal: aborting uploads in flight"),
            _ = interrupt.recv() => tracing::warn!("second signal: aborting uploads in flight"),
        }
        for r in running.values_mut() {
            r.tasks.abort_all();
        }
        let code = match ended {
            Some(End::Build(code)) => build_exit(code),
            _ => match self.build.as_mut() {
                Some(build) => {
                    let _ = build.stop(self.settings.grace).await;
                    ExitCode::Ok
                }
                None => ExitCode::Ok,
            },
        };
        Ok(code)
    }

    fn reload(&mut self, running: &mut BTreeMap<String, Running>, health: &Health) {
        let Some(reload) = &self.reload else {
            tracing::info!("SIGHUP: nothing to reload (the site comes from the command line)");
            return;
        };
        self.notifier.reloading();
        let sites = match reload() {
            Ok(sites) => sites,
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: the new configuration is invalid; keeping the running one");
                self.notifier.ready();
                return;
            }
        };
        let wanted: BTreeMap<String, Site> =
            sites.into_iter().map(|s| (s.name.clone(), s)).collect();
        let gone: Vec<String> = running
            .iter()
            .filter(|(name, r)| wanted.get(*name).is_none_or(|s| !s.same_as(&r.site)))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(mut r) = running.remove(&name) {
                tracing::info!(site = %name, "SIGHUP: stopping site");
                r.request_stop();
                health.remove(&name);
                // Let its cycle in flight finish in the background.
                tokio::spawn(async move { while r.tasks.join_next().await.is_some() {} });
            }
        }
        for (name, site) in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = running.entry(name) {
                tracing::info!(site = %slot.key(), "SIGHUP: starting site");
                let (r, _ready) = Running::start(site, &self.remote, &self.settings, health);
                slot.insert(r);
            }
        }
        self.notifier.ready();
    }
}

enum End {
    Signal,
    Build(std::io::Result<i32>),
}

/// Resolves when the build command exits; never, when there is none.
async fn wait_build(build: &mut Option<BuildCommand>) -> std::io::Result<i32> {
    match build {
        Some(b) => b.wait().await,
        None => std::future::pending().await,
    }
}

fn build_exit(code: std::io::Result<i32>) -> ExitCode {
    match code {
        Ok(0) => {
            tracing::info!("the build command ended; stopping");
            ExitCode::Ok
        }
        Ok(code) => {
            tracing::warn!(code, "the build command failed; stopping");
            ExitCode::Child(u8::try_from(code.clamp(1, 255)).unwrap_or(1))
        }
        Err(e) => {
            tracing::error!(error = %e, "lost track of the build command");
            ExitCode::Remote
        }
    }
}

fn signal_error(e: std::io::Error) -> Error {
    Error::Output(std::io::Error::other(format!(
        "cannot install signal handlers: {e}"
    )))
}
