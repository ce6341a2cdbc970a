//! A long-running process of the real binary (`watch`, `emulator`), read line by line as it
//! runs. Tests wait for its own log lines, never for a fixed time; a deadline only bounds a
//! failing test.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::Harness;

/// Bounds a test that fails; passing tests never wait this long.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A running `tcb-deploy watch` (or `emulator`) and its output lines as they come.
pub struct Daemon {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    pub async fn start(h: &Harness, args: &[&str], extra_env: &[(&str, &str)]) -> Daemon {
        let mut vars = h.vars();
        vars.extend(super::vars(extra_env));
        Daemon::spawn(args, &vars, None)
    }

    pub fn spawn(args: &[&str], vars: &[(String, String)], cwd: Option<&Path>) -> Daemon {
        let mut command = super::tool(args, vars);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        Daemon::run(command)
    }

    /// Starts `command` (the binary, or a shell running it) and reads its output.
    pub fn run(mut command: tokio::process::Command) -> Daemon {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("daemon starts");
        let (tx, lines) = mpsc::unbounded_channel();
        for stream in [
            Box::new(child.stderr.take().expect("stderr"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(child.stdout.take().expect("stdout")),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing every one of `parts`; returns it.
    pub async fn wait_for(&mut self, parts: &[&str]) -> String {
        let found = timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if parts.iter().all(|p| line.contains(p)) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "no line with {parts:?}; the daemon said:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    pub async fn exit_code(mut self) -> i32 {
        let status = timeout(DEADLINE, self.child.wait())
            .await
            .expect("the daemon exits")
            .expect("wait");
        status.code().unwrap_or(-1)
    }

    /// Waits for the exit after a stop signal; returns the exit code and every line the
    /// process printed, standard error and output interleaved as they came.
    pub async fn finish(mut self) -> (i32, String) {
        let status = timeout(DEADLINE, self.child.wait())
            .await
            .expect("the process exits")
            .expect("wait");
        // The readers end at the end of the pipes; then the channel closes.
        while let Ok(Some(line)) = timeout(DEADLINE, self.lines.recv()).await {
            self.seen.push(line);
        }
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }
}

impl Harness {
    /// `watch --env ENV --dir DIR ARGS…` against this emulator, with `vars` over its own, as
    /// soon as it starts.
    pub async fn watch(
        &self,
        env: &str,
        dir: &Path,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Daemon {
        let dir = dir.to_str().expect("utf-8");
        let mut line = vec!["watch", "--env", env, "--dir", dir];
        line.extend_from_slice(args);
        Daemon::start(self, &line, vars).await
    }

    /// [`Harness::watch`] with no variables of its own, once the daemon says it is watching for
    /// changes: its first cycles are over.
    pub async fn watching(&self, env: &str, dir: &Path, args: &[&str]) -> Daemon {
        let mut daemon = self.watch(env, dir, args, &[]).await;
        daemon.wait_for(&["watching for changes"]).await;
        daemon
    }
}
