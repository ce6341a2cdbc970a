//! Everything the daemon's loop reacts to, as one closed [`Event`] from one place: the signals,
//! the systemd watchdog and status ticks, the build command's exit, the sites' reports, and the
//! end of the grace period. Which sources are listened to follows the loop's phase, as the loop
//! sets it:
//!
//! - starting (the first deploys): SIGTERM / SIGINT, the build command, reports. A SIGHUP waits
//!   (the signal stream keeps it) until the sites run.
//! - running: all of them but the grace period.
//! - draining (uploads in flight finish): SIGTERM / SIGINT (a second one aborts), reports, the
//!   grace period. The build command was told to stop; its end is waited for after the loop.
//!
//! The stream ends (`next` gives `None`) when the reports channel closes: the loop let go of its
//! sender when it began draining, and every site's tasks have ended since.

use std::io;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::{Instant, Interval, sleep_until};

use super::child::BuildCommand;
use super::report::{Inbox, Report, SiteId};

/// How often the systemd status line is refreshed (when it changed).
const STATUS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum Event {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP.
    Reload,
    /// The build command exited, with its code.
    BuildExited(io::Result<i32>),
    /// Time to feed the systemd watchdog.
    Watchdog,
    /// Time to refresh the systemd status line.
    StatusTick,
    /// A site's worker, supervisor or poller reports.
    Report(SiteId, Report),
    /// The grace period for uploads in flight is over.
    GraceOver,
}

/// Which sources are listened to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Draining,
}

pub struct Events {
    phase: Phase,
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
    /// The build command, until its exit has been told.
    build: Option<BuildCommand>,
    build_told: bool,
    watchdog: Option<Interval>,
    status: Option<Interval>,
    reports: Inbox,
    grace_over: Option<Instant>,
}

impl Events {
    /// Installs the signal handlers; the daemon starts its first deploys.
    pub fn new(reports: Inbox, build: Option<BuildCommand>) -> io::Result<Events> {
        Ok(Events {
            phase: Phase::Starting,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            build,
            build_told: false,
            watchdog: None,
            status: None,
            reports,
            grace_over: None,
        })
    }

    /// The sites run: SIGHUP and the ticks join in (the watchdog's every `watchdog`, when
    /// systemd asked for one). Both ticks come at once first.
    pub fn run(&mut self, watchdog: Option<Duration>) {
        self.phase = Phase::Running;
        self.watchdog = watchdog.map(tokio::time::interval);
        self.status = Some(tokio::time::interval(STATUS_EVERY));
    }

    /// The daemon drains: only a second signal, the reports and the end of `grace` are left.
    pub fn drain(&mut self, grace: Duration) {
        self.phase = Phase::Draining;
        self.watchdog = None;
        self.status = None;
        self.grace_over = Some(Instant::now() + grace);
    }

    /// The build command, to signal it.
    pub fn build(&self) -> Option<&BuildCommand> {
        self.build.as_ref()
    }

    /// The build command, handed back once the loop is over.
    pub fn into_build(self) -> Option<BuildCommand> {
        self.build
    }

    /// The next event; `None` once every site's tasks have ended while draining.
    pub async fn next(&mut self) -> Option<Event> {
        let hangup = self.phase == Phase::Running;
        let build = self.phase != Phase::Draining && !self.build_told;
        let event = tokio::select! {
            _ = self.terminate.recv() => Event::Stop,
            _ = self.interrupt.recv() => Event::Stop,
            _ = self.hangup.recv(), if hangup => Event::Reload,
            code = wait(&mut self.build), if build => Event::BuildExited(code),
            _ = super::next_tick(&mut self.watchdog) => Event::Watchdog,
            _ = super::next_tick(&mut self.status) => Event::StatusTick,
            report = self.reports.recv() => {
                let (site, report) = report?;
                Event::Report(site, report)
            }
            _ = sleep_until(self.grace_over.unwrap_or_else(Instant::now)), if self.grace_over.is_some() => Event::GraceOver,
        };
        match event {
            // `wait` would answer at once from now on.
            Event::BuildExited(_) => self.build_told = true,
            Event::GraceOver => self.grace_over = None,
            _ => {}
        }
        Some(event)
    }
}

/// Resolves when the build command exits; never, when there is none.
async fn wait(build: &mut Option<BuildCommand>) -> io::Result<i32> {
    match build {
        Some(b) => b.wait().await,
        None => std::future::pending().await,
    }
}
