//! Where a token comes from, and how to read it once: an environment variable, a file, a
//! command's output, or a file holding the component verify ticket.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::process::Command;

use super::AuthError;
use crate::secret::Secret;

/// How long a `token_command` may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The source of the component access token.
#[derive(Clone, Debug)]
pub enum ComponentSource {
    /// A token given as is (`TCB_ACCESS_TOKEN`); it cannot be renewed.
    Fixed(Secret),
    /// A file holding the token, kept fresh by another service; re-read when it changes.
    File(PathBuf),
    /// A shell command that prints the token.
    Command(String),
    /// Component credentials: the tool fetches and renews the token itself.
    Credentials(ComponentCredentials),
}

#[derive(Clone, Debug)]
pub struct ComponentCredentials {
    pub appid: String,
    /// Read at each token fetch, as the ticket is: a secret file rewritten takes effect at
    /// the next fetch.
    pub appsecret: Value,
    pub ticket: Value,
}

impl ComponentSource {
    /// The files this source reads its token or credentials from: a change in one may fix a
    /// refusal.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Self::Fixed(_) | Self::Command(_) => Vec::new(),
            Self::File(path) => vec![path.as_path()],
            Self::Credentials(creds) => [&creds.appsecret, &creds.ticket]
                .into_iter()
                .filter_map(Value::file)
                .collect(),
        }
    }
}

impl AuthorizerSource {
    /// The file the refresh token is read from, if it is one.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Self::Fixed(_) => Vec::new(),
            Self::Refresh { refresh_token, .. } => refresh_token.file().into_iter().collect(),
        }
    }
}

/// A secret given directly, or kept in a file (re-read at each use).
#[derive(Clone, Debug)]
pub enum Value {
    Given(Secret),
    File(PathBuf),
}

impl Value {
    /// The file the value is kept in, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Value::Given(_) => None,
            Value::File(path) => Some(path),
        }
    }

    pub async fn read(&self, what: &'static str) -> Result<Secret, AuthError> {
        match self {
            Value::Given(secret) => Ok(secret.clone()),
            Value::File(path) => read_secret_file(what, path).await.map(|(s, _)| s),
        }
    }
}

/// The source of the merchant's authorizer access token (for `getenvinfo`).
#[derive(Clone, Debug)]
pub enum AuthorizerSource {
    /// `TCB_AUTHORIZER_ACCESS_TOKEN`, as is.
    Fixed(Secret),
    /// Renewed through `api_authorizer_token` with the component token.
    Refresh {
        component_appid: String,
        authorizer_appid: String,
        refresh_token: Value,
    },
}

/// A file's identity for change detection: modification time and length.
pub type Stamp = (SystemTime, u64);

/// Reads a file holding one secret, trimmed; returns it with the file's stamp.
pub async fn read_secret_file(
    what: &'static str,
    path: &Path,
) -> Result<(Secret, Stamp), AuthError> {
    let read_err = |source| AuthError::ReadFile {
        what,
        path: path.to_owned(),
        source,
    };
    let meta = tokio::fs::metadata(path).await.map_err(read_err)?;
    warn_if_readable_by_others(what, path, &meta);
    let text = tokio::fs::read_to_string(path).await.map_err(read_err)?;
    let value = text.trim();
    if value.is_empty() {
        return Err(AuthError::EmptyFile {
            what,
            path: path.to_owned(),
        });
    }
    Ok((Secret::new(value), stamp_of(&meta)))
}

pub async fn file_stamp(path: &Path) -> Option<Stamp> {
    tokio::fs::metadata(path).await.ok().map(|m| stamp_of(&m))
}

fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    (
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        meta.len(),
    )
}

/// Warns when a file holding a secret may be read by other users.
#[cfg(unix)]
pub(crate) fn warn_if_readable_by_others(what: &str, path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o044 != 0 {
        tracing::warn!(
            path = %path.display(),
            "{what} is readable by group or others; restrict it with chmod 600"
        );
    }
}

#[cfg(not(unix))]
pub(crate) fn warn_if_readable_by_others(_: &str, _: &Path, _: &std::fs::Metadata) {}

/// Runs `token_command` through `sh -c` and takes its trimmed standard output.
pub async fn run_token_command(command: &str) -> Result<Secret, AuthError> {
    let fail = |detail: String| AuthError::Command {
        command: command.to_owned(),
        detail,
    };
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .map_err(|_| {
            fail(format!(
                "did not finish within {}s",
                COMMAND_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| fail(format!("could not be started: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(fail(format!(
            "failed ({}){}",
            output.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::text::snippet(last.as_bytes(), 200))
            }
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.trim();
    if token.is_empty() {
        return Err(fail("printed nothing".to_owned()));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_a_source_reads_are_named() {
        let file = |p: &str| Value::File(PathBuf::from(p));
        let credentials = ComponentSource::Credentials(ComponentCredentials {
            appid: "wx1".into(),
            appsecret: file("/run/secret"),
            ticket: file("/run/ticket"),
        });
        assert_eq!(
            credentials.files(),
            [Path::new("/run/secret"), Path::new("/run/ticket")]
        );
        let given = ComponentSource::Credentials(ComponentCredentials {
            appid: "wx1".into(),
            appsecret: Value::Given(Secret::new("s")),
            ticket: file("/run/ticket"),
        });
        assert_eq!(given.files(), [Path::new("/run/ticket")]);
        assert_eq!(
            ComponentSource::File("/run/token".into()).files(),
            [Path::new("/run/token")]
        );
        assert!(ComponentSource::Fixed(Secret::new("t")).files().is_empty());
        let refresh = AuthorizerSource::Refresh {
            component_appid: "wx1".into(),
            authorizer_appid: "wx2".into(),
            refresh_token: file("/run/refresh"),
        };
        assert_eq!(refresh.files(), [Path::new("/run/refresh")]);
    }
}
