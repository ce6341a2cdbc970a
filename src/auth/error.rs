//! Why no usable token could be had.

use std::path::PathBuf;

use crate::api::{ApiError, Reaction};
use crate::exit::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no access token is configured; set TCB_ACCESS_TOKEN, token_file or token_command, or the component credentials TCB_COMPONENT_APPID, TCB_COMPONENT_APPSECRET and TCB_COMPONENT_VERIFY_TICKET"
    )]
    NoSource,
    #[error(
        "`envs` needs the merchant's authorizer token; set TCB_AUTHORIZER_ACCESS_TOKEN, or authorizer_appid and TCB_AUTHORIZER_REFRESH_TOKEN together with component credentials"
    )]
    NoAuthorizer,
    #[error("cannot read {what} {}: {source}; check the path and its permissions", path.display())]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {} is empty; write the value into it", path.display())]
    EmptyFile { what: &'static str, path: PathBuf },
    #[error("token_command `{command}` {detail}; run it by hand to see why")]
    Command { command: String, detail: String },
    #[error(
        "the access token from {source_name} was refused ({reason}) and cannot be renewed; supply a fresh token, or credentials tcb-deploy renews it from (README: Tokens)"
    )]
    Refused { source_name: String, reason: String },
    #[error("could not obtain {what}: {source}")]
    Fetch {
        what: &'static str,
        #[source]
        source: ApiError,
    },
}

impl AuthError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::NoSource
            | Self::NoAuthorizer
            | Self::ReadFile { .. }
            | Self::EmptyFile { .. } => ExitCode::Usage,
            Self::Command { .. } | Self::Refused { .. } => ExitCode::Auth,
            Self::Fetch { source, .. } => match source.reaction() {
                Reaction::RefreshToken => ExitCode::Auth,
                _ => source.exit_code(),
            },
        }
    }

    /// Whether trying again later may succeed (the token endpoint was busy or unreachable, or
    /// answered an errcode the tool does not know).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Fetch { source, .. }
            if matches!(source.reaction(), Reaction::Retry | Reaction::SlowDown | Reaction::Unknown))
    }
}
