//! The daemon's main loop: one loop over one stream of [`Event`]s (`events.rs`), from the first
//! deploys to the end of the grace period. Where it is — starting, running, draining — is a
//! field of its state, not a loop of its own. It is the only place that starts or stops sites
//! (through `sites.rs`), and through its [`HealthBook`] the only writer of the health state.
//!
//! SIGTERM / SIGINT: stop watching, let uploads in flight finish within the grace period (a
//! second signal aborts them), save manifests, exit 0. SIGHUP: reload the config; sites added,
//! removed or changed are started or stopped; an invalid config is logged and the old one kept;
//! and every site waiting to try a failed cycle again tries now. The build command's end ends
//! the daemon too, with the command's code.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::batch::Timing;
use super::child::{BuildCommand, Signal};
use super::events::{Event, Events};
use super::health::{Health, HealthBook, unix_now};
use super::report::{self, Report, SiteId};
use super::sites::Fleet;
use super::systemd::Notifier;
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
pub type Reload = Box<dyn Fn() -> Result<Vec<Site>, Error> + Send + Sync>;

pub struct Daemon {
    pub remote: Arc<Remote>,
    pub settings: DaemonSettings,
    pub notifier: Notifier,
    pub reload: Option<Reload>,
    pub build: Option<BuildCommand>,
}

/// Where the loop is.
enum Phase {
    /// The first deploys: the sites whose first cycle has not ended yet.
    Starting {
        awaiting: BTreeSet<SiteId>,
    },
    Running,
    /// Uploads in flight finish; why the daemon ends.
    Draining(End),
}

enum End {
    Signal,
    Build(std::io::Result<i32>),
}

/// The loop's state.
struct State {
    phase: Phase,
    fleet: Fleet,
    book: HealthBook,
    notifier: Notifier,
    reload: Option<Reload>,
    /// The daemon's token: each site's, and the endpoints', are its children.
    stop: CancellationToken,
    grace: Duration,
    /// The systemd status line last sent by the status tick.
    last_status: String,
}

impl Daemon {
    pub async fn run(self, sites: Vec<Site>) -> Result<ExitCode, Error> {
        let (reports, inbox) = report::channel();
        let mut events = Events::new(inbox, self.build).map_err(signal_error)?;
        let health = Health::default();
        let stop = CancellationToken::new();
        let mut fleet = Fleet::new(
            Arc::clone(&self.remote),
            self.settings.clone(),
            &stop,
            reports,
        );
        let mut book = HealthBook::new(health.clone(), &self.remote.credential_files());
        let awaiting = sites
            .into_iter()
            .filter_map(|site| fleet.start(site, &mut book))
            .collect();
        tracing::info!(sites = fleet.len(), "watching; first deploy under way");
        if let Some(addr) = self.settings.metrics_addr {
            serve_endpoints(addr, health, &self.remote, stop.child_token()).await?;
        }
        let mut state = State {
            phase: Phase::Starting { awaiting },
            fleet,
            book,
            notifier: self.notifier,
            reload: self.reload,
            stop,
            grace: self.settings.grace,
            last_status: String::new(),
        };
        // With no site, the first deploys are done already.
        state.first_deploys_done(&mut events);

        let mut aborted = false;
        while let Some(event) = events.next().await {
            match event {
                Event::Report(site, report) => state.report(site, report, &mut events),
                Event::Stop if state.draining() => {
                    tracing::warn!("second signal: aborting uploads in flight");
                    aborted = true;
                    break;
                }
                Event::Stop => state.drain(End::Signal, &mut events),
                Event::BuildExited(code) => state.drain(End::Build(code), &mut events),
                Event::Reload => state.reload(),
                Event::Watchdog => state.notifier.watchdog(),
                Event::StatusTick => state.refresh_status(),
                Event::GraceOver => {
                    tracing::warn!(
                        grace_secs = state.grace.as_secs(),
                        "uploads did not finish within the grace period; aborting them"
                    );
                    aborted = true;
                    break;
                }
            }
        }
        if !aborted {
            tracing::info!("stopped");
        }
        state.fleet.abort();
        Ok(state.exit_code(events.into_build()).await)
    }
}

/// Serves `/healthz`, `/status` and `/metrics` on `addr` until `stop` is cancelled.
async fn serve_endpoints(
    addr: std::net::SocketAddr,
    health: Health,
    remote: &Remote,
    stop: CancellationToken,
) -> Result<(), Error> {
    let calls = remote.api().calls().clone();
    match super::endpoints::serve(addr, health, calls, stop).await {
        Ok(bound) => {
            tracing::info!("health and metrics at http://{bound}/healthz, /status and /metrics");
            Ok(())
        }
        Err(e) => Err(Error::Config(crate::config::ConfigError::Invalid {
            key: "metrics_addr",
            value: addr.to_string(),
            reason: format!("cannot listen there: {e}"),
        })),
    }
}

impl State {
    fn draining(&self) -> bool {
        matches!(self.phase, Phase::Draining(_))
    }

    fn report(&mut self, site: SiteId, report: Report, events: &mut Events) {
        let ends_a_cycle = report.ends_a_cycle();
        self.book.apply(site, report);
        if let Phase::Starting { awaiting } = &mut self.phase
            && ends_a_cycle
            && awaiting.remove(&site)
        {
            self.first_deploys_done(events);
        }
    }

    /// Once every site's first cycle has ended: tells systemd the daemon is ready, says where
    /// the sites are, and starts listening to SIGHUP and the ticks.
    fn first_deploys_done(&mut self, events: &mut Events) {
        match &self.phase {
            Phase::Starting { awaiting } if awaiting.is_empty() => {}
            _ => return,
        }
        self.phase = Phase::Running;
        let health = self.book.health();
        self.notifier.ready();
        self.notifier.status(&health.summary(unix_now()));
        for (name, h) in health.snapshot() {
            if let Some(url) = &h.url {
                tracing::info!(site = %name, url = %url, "watching for changes; the site is at this address");
            }
        }
        events.run(self.notifier.watchdog_interval());
    }

    /// Stops every site (no new upload starts) and the build command, and waits for the uploads
    /// in flight.
    fn drain(&mut self, end: End, events: &mut Events) {
        tracing::info!("stopping: uploads in flight may finish");
        self.stop.cancel();
        self.fleet.close();
        self.notifier.stopping();
        if let Some(build) = events.build() {
            build.signal(Signal::Term);
        }
        events.drain(self.grace);
        self.phase = Phase::Draining(end);
    }

    /// SIGHUP: every site waiting to try again tries now, and the configuration is read again.
    fn reload(&mut self) {
        self.fleet.nudge();
        let Some(reload) = &self.reload else {
            tracing::info!("SIGHUP: nothing to reload (the site comes from the command line)");
            return;
        };
        self.notifier.reloading();
        match reload() {
            Ok(sites) => self.fleet.replace(sites, &mut self.book),
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: the new configuration is invalid; keeping the running one");
            }
        }
        self.notifier.ready();
    }

    /// The daemon's exit code: the build command's, when its end stopped the daemon; else 0,
    /// once the build command (told to stop when draining began) has ended.
    async fn exit_code(&self, build: Option<BuildCommand>) -> ExitCode {
        match &self.phase {
            Phase::Draining(End::Build(code)) => build_exit(code),
            _ => {
                if let Some(mut build) = build {
                    let _ = build.stop(self.grace).await;
                }
                ExitCode::Ok
            }
        }
    }

    fn refresh_status(&mut self) {
        let status = self.book.health().summary(unix_now());
        if status != self.last_status {
            self.notifier.status(&status);
            self.last_status = status;
        }
    }
}

fn build_exit(code: &std::io::Result<i32>) -> ExitCode {
    match *code {
        Ok(0) => {
            tracing::info!("the build command ended; stopping");
            ExitCode::Ok
        }
        Ok(code) => {
            tracing::warn!(code, "the build command failed; stopping");
            ExitCode::Child(u8::try_from(code.clamp(1, 255)).unwrap_or(1))
        }
        Err(ref e) => {
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
