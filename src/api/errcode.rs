//! The service's `errcode` values, each with the reaction it calls for. This table is the single
//! source of truth for how the tool reacts to an answer; retry, refresh and exit-code decisions
//! all read it.

use crate::exit::ExitCode;

/// An `errcode` the tool knows, or [`ErrCode::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrCode {
    /// -1: system busy.
    SystemBusy,
    /// -1000: system error.
    SystemError,
    /// 40001: invalid credential (wrong secret, or the token is not the latest).
    InvalidCredential,
    /// 40013: invalid appid.
    InvalidAppid,
    /// 40014: invalid access token.
    InvalidToken,
    /// 40097: invalid argument.
    InvalidArgs,
    /// 40101: missing parameter.
    MissingParameter,
    /// 40125: invalid app secret.
    InvalidAppSecret,
    /// 41001: access token missing.
    TokenMissing,
    /// 42001: access token expired.
    TokenExpired,
    /// 43002: POST required.
    RequirePost,
    /// 44002: empty POST body.
    EmptyBody,
    /// 45009: daily quota reached.
    DailyQuota,
    /// 45011: per-minute quota reached.
    MinuteQuota,
    /// 47001: the body is not valid JSON.
    BadJson,
    /// 61004: the caller's IP is not on the whitelist.
    IpNotWhitelisted,
    /// 61005: component verify ticket expired.
    TicketExpired,
    /// 61006: component verify ticket invalid.
    TicketInvalid,
    /// 61023: authorizer refresh token invalid.
    InvalidRefreshToken,
    /// 85088: the environment has no cloud-development privilege.
    NoCloudDev,
    /// Any other code.
    Other(i64),
}

/// What the caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Transient: retry with backoff.
    Retry,
    /// The token is stale: refresh it once, then retry the call once.
    RefreshToken,
    /// A rate limit: wait (for 45011, until the next minute starts), then retry.
    SlowDown,
    /// The configuration or an argument is wrong: stop, say what to change.
    StopConfig,
    /// Credentials or permissions are wrong: stop, say which.
    StopAuth,
    /// A quota is used up: stop asking.
    StopQuota,
    /// The request was malformed: a bug in this tool.
    Bug,
}

impl ErrCode {
    pub fn from_code(code: i64) -> Self {
        match code {
            -1 => Self::SystemBusy,
            -1000 => Self::SystemError,
            40001 => Self::InvalidCredential,
            40013 => Self::InvalidAppid,
            40014 => Self::InvalidToken,
            40097 => Self::InvalidArgs,
            40101 => Self::MissingParameter,
            40125 => Self::InvalidAppSecret,
            41001 => Self::TokenMissing,
            42001 => Self::TokenExpired,
            43002 => Self::RequirePost,
            44002 => Self::EmptyBody,
            45009 => Self::DailyQuota,
            45011 => Self::MinuteQuota,
            47001 => Self::BadJson,
            61004 => Self::IpNotWhitelisted,
            61005 => Self::TicketExpired,
            61006 => Self::TicketInvalid,
            61023 => Self::InvalidRefreshToken,
            85088 => Self::NoCloudDev,
            other => Self::Other(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Self::SystemBusy => -1,
            Self::SystemError => -1000,
            Self::InvalidCredential => 40001,
            Self::InvalidAppid => 40013,
            Self::InvalidToken => 40014,
            Self::InvalidArgs => 40097,
            Self::MissingParameter => 40101,
            Self::InvalidAppSecret => 40125,
            Self::TokenMissing => 41001,
            Self::TokenExpired => 42001,
            Self::RequirePost => 43002,
            Self::EmptyBody => 44002,
            Self::DailyQuota => 45009,
            Self::MinuteQuota => 45011,
            Self::BadJson => 47001,
            Self::IpNotWhitelisted => 61004,
            Self::TicketExpired => 61005,
            Self::TicketInvalid => 61006,
            Self::InvalidRefreshToken => 61023,
            Self::NoCloudDev => 85088,
            Self::Other(code) => code,
        }
    }

    pub fn reaction(self) -> Reaction {
        match self {
            Self::SystemBusy | Self::SystemError => Reaction::Retry,
            Self::InvalidCredential | Self::InvalidToken | Self::TokenExpired => {
                Reaction::RefreshToken
            }
            Self::MinuteQuota => Reaction::SlowDown,
            Self::DailyQuota => Reaction::StopQuota,
            Self::InvalidArgs | Self::MissingParameter => Reaction::StopConfig,
            Self::TokenMissing
            | Self::InvalidAppid
            | Self::InvalidAppSecret
            | Self::IpNotWhitelisted
            | Self::TicketExpired
            | Self::TicketInvalid
            | Self::InvalidRefreshToken
            | Self::NoCloudDev => Reaction::StopAuth,
            Self::RequirePost | Self::EmptyBody | Self::BadJson => Reaction::Bug,
            // An unknown code: assume the service is unwell rather than the caller wrong.
            Self::Other(_) => Reaction::Retry,
        }
    }

    /// What a person should do about it, as the tail of a one-line message.
    pub fn advice(self) -> &'static str {
        match self {
            Self::SystemBusy | Self::SystemError | Self::Other(_) => {
                "the service is busy or failing; try again later"
            }
            Self::InvalidCredential | Self::InvalidToken => {
                "the access token was refused even after a refresh; check TCB_ACCESS_TOKEN, token_file or the component credentials"
            }
            Self::TokenExpired => {
                "the access token expired and could not be renewed; supply a fresh one or use component credentials"
            }
            Self::TokenMissing => "no access token was sent; configure a token source",
            Self::InvalidAppid => "check TCB_COMPONENT_APPID / component_appid",
            Self::InvalidAppSecret => "check TCB_COMPONENT_APPSECRET",
            Self::InvalidArgs => {
                "the service rejected an argument; check the env id and file names"
            }
            Self::MissingParameter => "a required argument was missing; check the command line",
            Self::RequirePost | Self::EmptyBody | Self::BadJson => {
                "the service could not read the request; this is a bug in tcb-deploy, please report it"
            }
            Self::DailyQuota => {
                "the daily API quota is used up; wait until tomorrow or ask WeChat for a higher quota"
            }
            Self::MinuteQuota => {
                "the per-minute API quota is used up; set api_rate_limit (calls per second) or lower concurrency, and try again in a minute"
            }
            Self::IpNotWhitelisted => {
                "add this machine's public IP to the third-party platform's IP whitelist"
            }
            Self::TicketExpired | Self::TicketInvalid => {
                "the component verify ticket is stale; check that the service writing the ticket file is running"
            }
            Self::InvalidRefreshToken => {
                "the authorizer refresh token was refused; re-authorise the merchant and update TCB_AUTHORIZER_REFRESH_TOKEN"
            }
            Self::NoCloudDev => {
                "the environment has no cloud-development privilege; open cloud development for the mini program"
            }
        }
    }

    /// The exit code when this error ends a command.
    pub fn exit_code(self) -> ExitCode {
        match self.reaction() {
            Reaction::StopConfig => ExitCode::Usage,
            Reaction::StopAuth | Reaction::RefreshToken => ExitCode::Auth,
            Reaction::Retry | Reaction::SlowDown | Reaction::StopQuota | Reaction::Bug => {
                ExitCode::Remote
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [
            -1, -1000, 40001, 40013, 40014, 40097, 40101, 40125, 41001, 42001, 43002, 44002, 45009,
            45011, 47001, 61004, 61005, 61006, 61023, 85088, 12345,
        ] {
            assert_eq!(ErrCode::from_code(code).code(), code);
        }
    }

    #[test]
    fn reactions_follow_the_table() {
        use Reaction::*;
        let table = [
            (-1, Retry),
            (-1000, Retry),
            (40001, RefreshToken),
            (40014, RefreshToken),
            (42001, RefreshToken),
            (41001, StopAuth),
            (40097, StopConfig),
            (40101, StopConfig),
            (43002, Bug),
            (44002, Bug),
            (47001, Bug),
            (45009, StopQuota),
            (45011, SlowDown),
            (61004, StopAuth),
            (61005, StopAuth),
            (61006, StopAuth),
            (85088, StopAuth),
        ];
        for (code, reaction) in table {
            assert_eq!(
                ErrCode::from_code(code).reaction(),
                reaction,
                "errcode {code}"
            );
        }
    }
}
