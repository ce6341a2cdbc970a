//! The error that ends a command: each variant knows its exit code, and its message is one line
//! that names the cause and what to do.

use crate::config::ConfigError;
use crate::deploy::DeployError;
use crate::emulator::EmulatorError;
use crate::exit::ExitCode;
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error(transparent)]
    Deploy(DeployError),
    #[error(
        "environment {env} has no static website; open one with `tcb-deploy create --env {env}`"
    )]
    NoStore { env: String },
    #[error(
        "the static website of {env} is still {status} after {waited_secs}s; check later with `tcb-deploy status --env {env}`"
    )]
    WaitTimeout {
        env: String,
        status: String,
        waited_secs: u64,
    },
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    /// Some files failed; the others were uploaded and recorded (exit 1).
    #[error(
        "{failed} {} not uploaded, the first {path}: {reason}; the others are online and recorded, so fix that and deploy again",
        if *failed == 1 { "file" } else { "files" }
    )]
    UploadsFailed {
        failed: usize,
        path: String,
        reason: String,
    },
    /// Some environments of a rollout failed; the others were deployed (exit 1).
    #[error(
        "{failed} of {total} environments failed, the first {env}: {reason}; the others are deployed, so fix that and deploy again"
    )]
    EnvsFailed {
        failed: usize,
        total: usize,
        env: String,
        reason: String,
    },
    /// Some appids were refused; the others were shared (exit 1).
    #[error(
        "{failed} of {asked} appids not shared, the first {appid}: {errmsg}; check the appids and share again"
    )]
    ShareFailed {
        failed: usize,
        asked: usize,
        appid: String,
        errmsg: String,
    },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(e) => e.exit_code(),
            Self::Remote(e) => e.exit_code(),
            Self::Emulator(_) => ExitCode::Usage,
            Self::NoStore { .. } => ExitCode::Usage,
            // Remote errors and a missing store arrive as `Remote` and `NoStore` (see `From`):
            // what is left is the folder or the state dir (usage), or an internal failure.
            Self::Deploy(DeployError::Task(_) | DeployError::ServiceDown { .. }) => {
                ExitCode::Remote
            }
            Self::Deploy(_) => ExitCode::Usage,
            Self::WaitTimeout { .. } => ExitCode::Remote,
            Self::Output(_) => ExitCode::Remote,
            Self::UploadsFailed { .. } | Self::ShareFailed { .. } | Self::EnvsFailed { .. } => {
                ExitCode::Partial
            }
        }
    }

    /// The message on one line whatever it quotes: control characters (a newline in a path
    /// or in what a server answered) are shown escaped.
    pub fn one_line(&self) -> String {
        crate::text::one_line(&self.to_string())
    }
}

impl From<crate::api::ApiError> for Error {
    fn from(e: crate::api::ApiError) -> Self {
        Error::Remote(e.into())
    }
}

impl From<crate::auth::AuthError> for Error {
    fn from(e: crate::auth::AuthError) -> Self {
        Error::Remote(e.into())
    }
}

impl From<DeployError> for Error {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Remote(e) => Error::Remote(e),
            DeployError::NoStore { env } => Error::NoStore { env },
            other => Error::Deploy(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_one_line_whatever_it_quotes() {
        let e = Error::UploadsFailed {
            failed: 2,
            path: "a\nb.js".into(),
            reason: "the store said \"no\"\r\n".into(),
        };
        let line = e.one_line();
        assert!(!line.contains(['\n', '\r']), "{line}");
        assert!(
            line.starts_with("2 files not uploaded, the first a\\nb.js"),
            "{line}"
        );
        assert_eq!(e.exit_code(), ExitCode::Partial);
    }
}
