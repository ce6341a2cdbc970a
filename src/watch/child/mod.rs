//! The build command `watch` runs beside itself (`tcb-deploy watch -- npm run build -- --watch`).
//!
//! The child gets its own process group so that a signal reaches the whole tree it starts (npm
//! starts a shell that starts vite); the terminal's Ctrl-C therefore reaches only us, and we
//! forward it. Its output is relayed line by line with a prefix, so the build's lines and ours can
//! be told apart, and the group is sent SIGTERM when the handle is dropped, so no `vite --watch`
//! is ever left running behind us.
//!
//! A process group is signalled by number. The number stays ours while the group leader is not
//! yet reaped (its zombie keeps it), or while some process of the group still holds the output
//! pipes open; outside those two cases nothing is sent, so a recycled number is never signalled.
//!
//! `error.rs` says why a build command could not start; `relay.rs` copies its output lines.

mod error;
mod relay;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

pub use self::error::ChildError;
use self::error::spawn_error;
use self::relay::relay;

/// How long `wait` keeps relaying after the child exited, for the last lines still in the pipes.
/// Only a process the child left running (and that kept our pipes open) makes it last this long.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// A signal forwarded to the build command's process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Int,
    Hup,
    Kill,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// A running build command. Dropping it while the child (or anything of its process group) still
/// runs sends SIGTERM to the group.
#[derive(Debug)]
pub struct BuildCommand {
    child: Child,
    program: String,
    /// The child's process group: its pid, as it was started with `process_group(0)`.
    pgid: libc::pid_t,
    /// The stdout and stderr relays; a slot is emptied once its relay has finished.
    relays: [Option<JoinHandle<()>>; 2],
    /// The exit code, once the child has been reaped.
    exit_code: Option<i32>,
    /// When `wait` stops waiting for the relays; set when the exit is first seen, so that a
    /// `wait` cancelled and called again does not wait longer.
    drain_deadline: Option<Instant>,
    reported_lingering: bool,
}

impl BuildCommand {
    /// Spawns `program args…` (no shell) in its own process group, with stdin null. Each line it
    /// prints goes to our stdout or stderr, the one it was printed on, as soon as it is complete,
    /// after `prefix` (written verbatim, e.g. `"[build] "`). Lines that are not UTF-8 are printed
    /// lossily; a long line is passed through whole.
    ///
    /// Must be called within a tokio runtime.
    pub fn spawn(argv: &[OsString], prefix: &str) -> Result<BuildCommand, ChildError> {
        Self::spawn_with(argv, prefix, tokio::io::stdout(), tokio::io::stderr())
    }

    /// `spawn`, with the relayed lines written to `stdout` and `stderr` (tests capture them).
    fn spawn_with<O, E>(
        argv: &[OsString],
        prefix: &str,
        stdout: O,
        stderr: E,
    ) -> Result<BuildCommand, ChildError>
    where
        O: AsyncWrite + Unpin + Send + 'static,
        E: AsyncWrite + Unpin + Send + 'static,
    {
        let (program, args) = argv.split_first().ok_or(ChildError::Empty)?;
        if program.is_empty() {
            return Err(ChildError::Empty);
        }
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|error| spawn_error(program, error))?;
        let name = program.to_string_lossy().into_owned();
        let Some(pgid) = child.id().and_then(|id| libc::pid_t::try_from(id).ok()) else {
            // Not reachable: a child that was just spawned has not been reaped.
            return Err(ChildError::Spawn {
                program: name,
                source: io::Error::other("the started process has no pid"),
            });
        };
        debug!(program = %name, pid = pgid, "build command started");
        let prefix: Arc<str> = Arc::from(prefix);
        let relays = [
            child
                .stdout
                .take()
                .map(|pipe| tokio::spawn(relay(pipe, prefix.clone(), stdout))),
            child
                .stderr
                .take()
                .map(|pipe| tokio::spawn(relay(pipe, prefix, stderr))),
        ];
        Ok(BuildCommand {
            child,
            program: name,
            pgid,
            relays,
            exit_code: None,
            drain_deadline: None,
            reported_lingering: false,
        })
    }

    /// The child's pid, until it has been reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends `signal` to the child's process group; nothing once the group is known to be gone.
    pub fn signal(&self, signal: Signal) {
        if !self.group_may_be_alive() {
            return;
        }
        // A pgid of 0 or 1 would mean our own group or every process: never signal those.
        if self.pgid <= 1 {
            return;
        }
        // SAFETY: killpg takes two integers and touches no memory of ours.
        let result = unsafe { libc::killpg(self.pgid, signal.number()) };
        if result != 0 {
            let error = io::Error::last_os_error();
            // ESRCH: the group has no process left, which is what we wanted anyway.
            if error.raw_os_error() != Some(libc::ESRCH) {
                warn!(program = %self.program, ?signal, %error, "cannot signal the build command");
            }
        }
    }

    /// Resolves when the child exits, with the code to report: the child's own, or 128+N when
    /// signal N killed it. The lines it printed have been relayed by then, unless a process it
    /// left behind keeps its output open (those lines keep coming). Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<i32> {
        let code = self.wait_leader().await?;
        let deadline = *self
            .drain_deadline
            .get_or_insert_with(|| Instant::now() + DRAIN_GRACE);
        if !self.drain(Some(deadline)).await && !self.reported_lingering {
            self.reported_lingering = true;
            warn!(
                program = %self.program,
                "the build command exited, but a process it started still holds its output open"
            );
        }
        Ok(code)
    }

    /// Sends SIGTERM to the group and waits up to `grace` for the child and everything holding its
    /// output to exit, then sends SIGKILL to the group. Returns the child's exit code.
    pub async fn stop(&mut self, grace: Duration) -> io::Result<i32> {
        self.signal(Signal::Term);
        let deadline = Instant::now() + grace;
        if let Ok(result) = tokio::time::timeout_at(deadline, self.wait_for_group()).await {
            return result;
        }
        warn!(program = %self.program, ?grace, "the build command did not stop on SIGTERM; killing it");
        self.signal(Signal::Kill);
        let code = self.wait_leader().await?;
        // After SIGKILL only a process that left the group can still hold the pipes.
        self.drain(Some(Instant::now() + DRAIN_GRACE)).await;
        Ok(code)
    }

    /// Whether the group's number may still name the child's group: the leader is not reaped, or
    /// a process holds its output pipes open.
    fn group_may_be_alive(&self) -> bool {
        self.child.id().is_some()
            || self
                .relays
                .iter()
                .flatten()
                .any(|relay| !relay.is_finished())
    }

    async fn wait_leader(&mut self) -> io::Result<i32> {
        if let Some(code) = self.exit_code {
            return Ok(code);
        }
        let status = self.child.wait().await?;
        let code = exit_code(status);
        debug!(program = %self.program, code, "build command exited");
        self.exit_code = Some(code);
        Ok(code)
    }

    async fn wait_for_group(&mut self) -> io::Result<i32> {
        let code = self.wait_leader().await?;
        self.drain(None).await;
        Ok(code)
    }

    /// Waits for the relays to finish, until `deadline` if there is one; true if they all did.
    /// Cancel-safe: a relay's slot is emptied only once it has finished.
    async fn drain(&mut self, deadline: Option<Instant>) -> bool {
        for slot in &mut self.relays {
            let Some(relay) = slot else { continue };
            let joined = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, &mut *relay).await {
                    Ok(joined) => joined,
                    Err(_) => return false,
                },
                None => relay.await,
            };
            if let Err(error) = joined {
                warn!(program = %self.program, %error, "the build command's output relay failed");
            }
            *slot = None;
        }
        true
    }
}

impl Drop for BuildCommand {
    fn drop(&mut self) {
        if self.group_may_be_alive() {
            debug!(program = %self.program, "build command dropped while running; terminating it");
            self.signal(Signal::Term);
        }
        // The relays run on until the group's pipes close; tokio reaps the unwaited child.
    }
}

/// The code the tool reports for a child that ended with `status`: its exit code, or 128+N when
/// signal N killed it, as shells do.
fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        // `wait` reports only exits and deaths by signal; anything else is a failure.
        (None, None) => 1,
    }
}
