//! The one error type of the API client. Every failure of a call (an `errcode`, an answer that is
//! not JSON, a broken connection) is a variant here, and each says how the caller should react.

use std::fmt;

use super::errcode::{ErrCode, Reaction};
use crate::exit::ExitCode;

/// The API endpoints this tool calls. `Display` gives the path, which is also the label used in
/// logs and counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    DescribeStaticStore,
    CreateStaticStore,
    StaticUploadFile,
    StaticFileList,
    GetEnvInfo,
    BatchShareEnv,
    ComponentToken,
    AuthorizerToken,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Self::DescribeStaticStore => "componenttcb/describestaticstore",
            Self::CreateStaticStore => "componenttcb/createstaticstore",
            Self::StaticUploadFile => "componenttcb/staticuploadfile",
            Self::StaticFileList => "componenttcb/staticfilelist",
            Self::GetEnvInfo => "tcb/getenvinfo",
            Self::BatchShareEnv => "componenttcb/batchshareenv",
            Self::ComponentToken => "cgi-bin/component/api_component_token",
            Self::AuthorizerToken => "cgi-bin/component/api_authorizer_token",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service answered with a non-zero `errcode`.
    #[error("{endpoint} answered errcode {} ({errmsg}): {}", code.code(), code.advice())]
    Service {
        endpoint: Endpoint,
        code: ErrCode,
        errmsg: String,
    },
    /// Something other than the API answered (a proxy's HTML page, an empty body).
    #[error(
        "{endpoint} answered HTTP {status} with a body that is not JSON ({snippet:?}); check api_base and any proxy in between"
    )]
    NotJson {
        endpoint: Endpoint,
        status: u16,
        snippet: String,
    },
    /// JSON, but not of the shape the endpoint documents.
    #[error(
        "{endpoint} answered JSON of an unexpected shape ({reason}); the API may have changed, please report it"
    )]
    BadAnswer { endpoint: Endpoint, reason: String },
    /// The request did not complete: connection refused or reset, DNS failure, timeout.
    #[error("{endpoint} could not be reached ({detail}); check the network and api_base")]
    Transport { endpoint: Endpoint, detail: String },
}

impl ApiError {
    pub fn reaction(&self) -> Reaction {
        match self {
            Self::Service { code, .. } => code.reaction(),
            Self::NotJson { .. } | Self::Transport { .. } => Reaction::Retry,
            Self::BadAnswer { .. } => Reaction::Bug,
        }
    }

    /// Whether the service refused for good: the errcode says the configuration, the
    /// credentials, a permission or a quota is wrong, or the request is (a renewal, where one
    /// applies, was already tried). An answer that is not an errcode may be this call's alone.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Service { code, .. } if matches!(
            code.reaction(),
            Reaction::StopConfig
                | Reaction::StopAuth
                | Reaction::StopQuota
                | Reaction::RefreshToken
                | Reaction::Bug
        ))
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Service { code, .. } => code.exit_code(),
            _ => ExitCode::Remote,
        }
    }

    /// Whether the answer says the service is overloaded (errcode -1/-1000, HTTP 5xx or 429).
    pub fn overloaded(&self) -> bool {
        self.pressure().is_some()
    }

    /// What the answer says of the service's load, which the upload window reacts to; a broken
    /// connection says nothing about load.
    pub fn pressure(&self) -> Option<Pressure> {
        match self {
            Self::Service { code, .. } => code.overloaded().then_some(Pressure::Busy),
            Self::NotJson { status, .. } => pressure_of_status(*status),
            Self::BadAnswer { .. } | Self::Transport { .. } => None,
        }
    }

    /// What the service answered, without advice: the reason given when a token is refused.
    pub fn answer(&self) -> String {
        match self {
            Self::Service {
                endpoint,
                code,
                errmsg,
            } => format!("{endpoint} answered errcode {} ({errmsg})", code.code()),
            other => other.to_string(),
        }
    }

    /// The `errcode`, when the service gave one.
    pub fn errcode(&self) -> Option<ErrCode> {
        match self {
            Self::Service { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What an answer says of the service's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pressure {
    /// Slow down, said outright: HTTP 429 or 503, COS `SlowDown`.
    SlowDown,
    /// Busy, or a fault: errcode -1/-1000, another 5xx. Either can come at any load.
    Busy,
}

/// Whether an HTTP status says the server is overloaded: 5xx, or 429 (too many requests).
pub(super) fn overloaded_status(status: u16) -> bool {
    pressure_of_status(status).is_some()
}

pub(super) fn pressure_of_status(status: u16) -> Option<Pressure> {
    match status {
        429 | 503 => Some(Pressure::SlowDown),
        500.. => Some(Pressure::Busy),
        _ => None,
    }
}

/// Describes a reqwest error without its URL (which carries the access token) and with its
/// causes, e.g. "timed out" or "connection refused".
pub(crate) fn transport_detail(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut detail = if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "connection failed".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = cause.source();
    }
    crate::secret::redact_url(&detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_error_names_code_and_advice() {
        let e = ApiError::Service {
            endpoint: Endpoint::DescribeStaticStore,
            code: ErrCode(85088),
            errmsg: "no qbase privilege".into(),
        };
        let text = e.to_string();
        assert!(text.contains("85088"), "{text}");
        assert!(text.contains("cloud development"), "{text}");
        assert_eq!(e.exit_code(), ExitCode::Auth);
    }
}
