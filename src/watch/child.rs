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

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

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

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error(
        "no build command given: put it after `--`, e.g. `tcb-deploy watch -- npm run build -- --watch`"
    )]
    Empty,
    #[error("build command `{program}` not found: {hint}")]
    NotFound {
        program: String,
        hint: &'static str,
        source: io::Error,
    },
    #[error(
        "build command `{program}` cannot be run (permission denied): make it executable (chmod +x) or check the permissions of the folders on PATH"
    )]
    NotExecutable { program: String, source: io::Error },
    #[error("cannot start build command `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
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

fn spawn_error(program: &OsStr, source: io::Error) -> ChildError {
    let name = program.to_string_lossy().into_owned();
    match source.kind() {
        io::ErrorKind::NotFound => {
            let hint = if name.contains('/') {
                "check the path"
            } else {
                "check that it is installed and that its folder is on PATH"
            };
            ChildError::NotFound {
                program: name,
                hint,
                source,
            }
        }
        io::ErrorKind::PermissionDenied => ChildError::NotExecutable {
            program: name,
            source,
        },
        _ => ChildError::Spawn {
            program: name,
            source,
        },
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

/// Copies lines from `source` to `sink`, each after `prefix`, until `source` ends. If `sink`
/// fails (our stdout closed), lines are still read and dropped, so the child never blocks on a
/// full pipe.
async fn relay<R, W>(source: R, prefix: Arc<str>, mut sink: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut source = BufReader::new(source);
    let mut line = Vec::new();
    let mut out = Vec::new();
    let mut sink_open = true;
    loop {
        line.clear();
        match source.read_until(b'\n', &mut line).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                warn!(%error, "cannot read the build command's output");
                break;
            }
        }
        if !sink_open {
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        out.clear();
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(String::from_utf8_lossy(text).as_bytes());
        out.push(b'\n');
        let written = match sink.write_all(&out).await {
            Ok(()) => sink.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            sink_open = false;
            // A closed pipe on our side is not worth a word.
            if error.kind() != io::ErrorKind::BrokenPipe {
                warn!(%error, "cannot write the build command's output");
            }
        }
    }
    if sink_open {
        // Tells a capturing reader (tests) that the output ended; flushes a real stdout.
        let _ = sink.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use futures_util::FutureExt;
    use tokio::io::{DuplexStream, Lines};

    use super::*;

    /// A guard against a hung test, never a synchronisation.
    const LIMIT: Duration = Duration::from_secs(30);

    type Output = Lines<BufReader<DuplexStream>>;

    async fn within<F: Future>(future: F) -> F::Output {
        tokio::time::timeout(LIMIT, future)
            .await
            .expect("the test took too long")
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// Runs `sh -c script` with its relayed lines captured.
    fn sh(script: &str) -> (BuildCommand, Output, Output) {
        let (out_sink, out) = tokio::io::duplex(1 << 20);
        let (err_sink, err) = tokio::io::duplex(1 << 20);
        let build =
            BuildCommand::spawn_with(&argv(&["sh", "-c", script]), "[build] ", out_sink, err_sink)
                .expect("sh starts");
        (
            build,
            BufReader::new(out).lines(),
            BufReader::new(err).lines(),
        )
    }

    async fn next_line(output: &mut Output) -> String {
        within(output.next_line())
            .await
            .expect("the relayed output is UTF-8")
            .expect("one more line")
    }

    /// The lines already relayed, up to the end of the output; stops short if the relay has not
    /// finished.
    fn relayed(output: &mut Output) -> (Vec<String>, bool) {
        let mut lines = Vec::new();
        loop {
            match output.next_line().now_or_never() {
                Some(Ok(Some(line))) => lines.push(line),
                Some(Ok(None)) => return (lines, true),
                Some(Err(error)) => panic!("relayed output is not UTF-8: {error}"),
                None => return (lines, false),
            }
        }
    }

    async fn until_end(output: &mut Output) {
        while within(output.next_line()).await.expect("UTF-8").is_some() {}
    }

    /// Whether the process `pid` exits within `limit` (`Duration::ZERO`: whether it has exited).
    /// A zombie counts as exited: it answers `kill -0`, and PID 1 of a container may never reap
    /// it. Closing its pipes comes a moment before a process is a zombie, so the test waits for
    /// the exit itself: a pidfd becomes readable when its process has exited.
    fn exits_within(pid: &str, limit: Duration) -> bool {
        let pid: libc::pid_t = pid.trim().parse().expect("a pid");
        // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let error = io::Error::last_os_error();
            assert_eq!(
                error.raw_os_error(),
                Some(libc::ESRCH),
                "pidfd_open: {error}"
            );
            return true; // Already reaped.
        }
        let fd = libc::c_int::try_from(fd).expect("a descriptor");
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(limit.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `poll` points to one valid pollfd for the duration of the call; `fd` is ours
        // and closed exactly once.
        let ready = unsafe {
            let ready = libc::poll(&mut poll, 1, millis);
            libc::close(fd);
            ready
        };
        assert!(ready >= 0, "poll: {}", io::Error::last_os_error());
        ready == 1
    }

    #[tokio::test]
    async fn relays_both_streams_with_the_prefix_and_reports_the_exit_code() {
        let (mut build, mut out, mut err) = sh("echo out; echo err >&2; exit 3");
        assert_eq!(within(build.wait()).await.unwrap(), 3);
        // Everything was relayed before `wait` returned.
        assert_eq!(relayed(&mut out), (vec!["[build] out".to_owned()], true));
        assert_eq!(relayed(&mut err), (vec!["[build] err".to_owned()], true));
    }

    #[tokio::test]
    async fn passes_invalid_utf8_lossily_and_long_lines_whole() {
        let (mut build, mut out, _err) =
            sh(r"printf 'a\377b\r\n'; head -c 300000 /dev/zero | tr '\0' x");
        assert_eq!(within(build.wait()).await.unwrap(), 0);
        let long = format!("[build] {}", "x".repeat(300_000));
        assert_eq!(
            relayed(&mut out),
            (vec!["[build] a\u{FFFD}b".to_owned(), long], true)
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_named_with_a_hint() {
        let error = BuildCommand::spawn(&argv(&["tcb-deploy-no-such-program", "x"]), "[build] ")
            .expect_err("no such program");
        assert!(matches!(error, ChildError::NotFound { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("`tcb-deploy-no-such-program`"),
            "{message}"
        );
        assert!(message.contains("PATH"), "{message}");
    }

    #[tokio::test]
    async fn an_empty_command_is_refused() {
        let error = BuildCommand::spawn(&[], "[build] ").expect_err("empty");
        assert!(matches!(error, ChildError::Empty), "{error:?}");
        let error = BuildCommand::spawn(&argv(&[""]), "[build] ").expect_err("empty program");
        assert!(matches!(error, ChildError::Empty), "{error:?}");
    }

    #[tokio::test]
    async fn a_file_without_execute_permission_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("build.sh");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let error = BuildCommand::spawn(&[script.clone().into_os_string()], "[build] ")
            .expect_err("not executable");
        assert!(
            matches!(error, ChildError::NotExecutable { .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains(&*script.to_string_lossy()),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_forwarded_sigterm_reaches_the_childs_trap() {
        let (mut build, mut out, _err) =
            sh("trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done");
        assert_eq!(next_line(&mut out).await, "[build] ready");
        build.signal(Signal::Term);
        assert_eq!(within(build.wait()).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn stop_kills_a_child_that_ignores_sigterm() {
        let (mut build, mut out, _err) = sh("trap '' TERM; echo ready; while :; do sleep 1; done");
        assert_eq!(next_line(&mut out).await, "[build] ready");
        let code = within(build.stop(Duration::from_millis(200)))
            .await
            .unwrap();
        assert_eq!(code, 128 + 9);
    }

    #[tokio::test]
    async fn stop_takes_the_grandchildren_down_too() {
        let (mut build, mut out, _err) = sh("sleep 1000 & echo $!; wait");
        let grandchild = next_line(&mut out).await.replace("[build] ", "");
        assert!(!exits_within(&grandchild, Duration::ZERO));
        let code = within(build.stop(Duration::from_secs(10))).await.unwrap();
        assert_eq!(code, 128 + 15);
        assert!(
            exits_within(&grandchild, LIMIT),
            "sleep {grandchild} survived"
        );
    }

    #[tokio::test]
    async fn dropping_a_running_command_terminates_its_group() {
        let (build, mut out, _err) = sh("sleep 1000 & echo $!; echo ready; wait");
        let leader = build.id().expect("running").to_string();
        let grandchild = next_line(&mut out).await.replace("[build] ", "");
        assert_eq!(next_line(&mut out).await, "[build] ready");
        drop(build);
        // The output ends when the last process holding it has exited.
        until_end(&mut out).await;
        assert!(exits_within(&leader, LIMIT), "sh {leader} survived");
        assert!(
            exits_within(&grandchild, LIMIT),
            "sleep {grandchild} survived"
        );
    }

    #[tokio::test]
    async fn wait_returns_while_a_process_left_behind_holds_the_output_and_stop_ends_it() {
        let (mut build, mut out, _err) = sh("sleep 1000 & echo $!");
        assert_eq!(within(build.wait()).await.unwrap(), 0);
        let (lines, ended) = relayed(&mut out);
        assert!(!ended, "the sleep still holds the output");
        let grandchild = lines[0].replace("[build] ", "");
        assert!(!exits_within(&grandchild, Duration::ZERO));
        // The leader is reaped, but the group lives on in the sleep and is still signalled.
        assert_eq!(
            within(build.stop(Duration::from_secs(10))).await.unwrap(),
            0
        );
        assert!(
            exits_within(&grandchild, LIMIT),
            "sleep {grandchild} survived"
        );
    }

    #[tokio::test]
    async fn wait_is_cancel_safe() {
        let (mut build, mut out, _err) = sh("sleep 0.3; echo done; exit 5");
        let mut cancelled = 0;
        let code = within(async {
            loop {
                tokio::select! {
                    code = build.wait() => break code,
                    () = tokio::time::sleep(Duration::from_millis(5)) => cancelled += 1,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(code, 5);
        assert!(cancelled > 0);
        assert_eq!(relayed(&mut out), (vec!["[build] done".to_owned()], true));
    }
}
