//! The service's `errcode` values, each with the reaction it calls for, the advice a person
//! needs, and so the exit code it ends in. This table is the single source of truth for how the
//! tool reacts to an answer; retry, renewal and exit-code decisions all read it.
//!
//! The codes are those of the API pages and of the public SDKs' tables for the third-party
//! platform (WxJava's `WxOpenErrorMsgEnum`, SKIT, Senparc). A code not in the table is
//! [`Reaction::Unknown`]: tried a little, then reported as unknown, never taken for "busy".

use crate::exit::ExitCode;

/// An `errcode` as the service sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrCode(pub i64);

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
    /// A code this table does not know: it may pass, so it is tried a little
    /// ([`UNKNOWN_TRIES`]), then reported as it came.
    Unknown,
}

/// Tries a call gets when it keeps answering an unknown errcode, the first included; the same
/// unknown errcode from this many calls in a row stops a deploy.
pub const UNKNOWN_TRIES: u32 = 3;

/// One row of the table.
struct Known {
    code: i64,
    reaction: Reaction,
    /// What a person should do, as the tail of a one-line message.
    advice: &'static str,
}

const BUSY: &str = "the service is busy or failing; try again later";
const REFUSED_TOKEN: &str = "the access token was refused even after a refresh; check TCB_ACCESS_TOKEN, token_file or the component credentials";
const BUG: &str =
    "the service could not read the request; this is a bug in tcb-deploy, please report it";
const STALE_TICKET: &str = "the component verify ticket is stale; check that the service writing the ticket file is running";

const fn row(code: i64, reaction: Reaction, advice: &'static str) -> Known {
    Known {
        code,
        reaction,
        advice,
    }
}

/// Every code the tool knows, by value.
const TABLE: &[Known] = &[
    row(-1000, Reaction::Retry, BUSY),
    row(-1, Reaction::Retry, BUSY),
    row(40001, Reaction::RefreshToken, REFUSED_TOKEN),
    row(
        40013,
        Reaction::StopAuth,
        "the app id was refused; check TCB_COMPONENT_APPID / component_appid (and authorizer_appid)",
    ),
    row(40014, Reaction::RefreshToken, REFUSED_TOKEN),
    row(
        40066,
        Reaction::StopConfig,
        "the service does not know this URL; check api_base (the API's root, such as https://api.weixin.qq.com, with no path)",
    ),
    row(
        40097,
        Reaction::StopConfig,
        "the service rejected an argument; check the env id and file names",
    ),
    row(
        40101,
        Reaction::StopConfig,
        "a required argument was missing; check the command line",
    ),
    row(
        40125,
        Reaction::StopAuth,
        "the component app secret was refused; check TCB_COMPONENT_APPSECRET / component_appsecret_file",
    ),
    row(
        41001,
        Reaction::StopAuth,
        "no access token was sent; configure a token source",
    ),
    row(
        41002,
        Reaction::StopAuth,
        "no app id was sent; set TCB_COMPONENT_APPID / component_appid",
    ),
    row(
        41004,
        Reaction::StopAuth,
        "no app secret was sent; set TCB_COMPONENT_APPSECRET / component_appsecret_file",
    ),
    row(
        42001,
        Reaction::RefreshToken,
        "the access token expired and could not be renewed; supply a fresh one or use component credentials",
    ),
    row(43002, Reaction::Bug, BUG),
    row(44002, Reaction::Bug, BUG),
    row(
        45009,
        Reaction::StopQuota,
        "the daily API quota is used up; wait until tomorrow or ask WeChat for a higher quota",
    ),
    row(
        45011,
        Reaction::SlowDown,
        "the per-minute API quota is used up; set api_rate_limit (calls per second) or lower concurrency, and try again in a minute",
    ),
    row(47001, Reaction::Bug, BUG),
    row(
        48001,
        Reaction::StopAuth,
        "this account may not call this API; check that the third-party platform holds the permission for it and that the token is the component access token",
    ),
    row(
        48004,
        Reaction::StopAuth,
        "WeChat has blocked this API for the account; see the notice in the open platform's console",
    ),
    row(
        61003,
        Reaction::StopAuth,
        "the merchant has not authorised this third-party platform, or revoked it; have the merchant's admin authorise it again, and check the env id and authorizer_appid",
    ),
    row(
        61004,
        Reaction::StopAuth,
        "add this machine's public IP to the third-party platform's IP whitelist",
    ),
    row(61005, Reaction::StopAuth, STALE_TICKET),
    row(61006, Reaction::StopAuth, STALE_TICKET),
    row(
        61007,
        Reaction::StopAuth,
        "the merchant has not granted this platform the permission set this call needs (set 18, development and data analysis, for sharing; set 49 or 64 for tcb/getenvinfo); ask the merchant's admin to grant it by authorising the platform again",
    ),
    row(
        61011,
        Reaction::StopAuth,
        "the third-party platform was refused; check TCB_COMPONENT_APPID / component_appid and that the platform is fully published",
    ),
    row(
        61014,
        Reaction::StopAuth,
        "this call needs the component access token, and a merchant's (authorizer) token was given; set TCB_ACCESS_TOKEN to the component_access_token, or use the component credentials",
    ),
    row(
        61023,
        Reaction::StopAuth,
        "the authorizer refresh token was refused; re-authorise the merchant and update TCB_AUTHORIZER_REFRESH_TOKEN",
    ),
    row(
        85088,
        Reaction::StopAuth,
        "the environment has no cloud-development privilege; open cloud development for the mini program",
    ),
];

impl ErrCode {
    pub fn code(self) -> i64 {
        self.0
    }

    fn known(self) -> Option<&'static Known> {
        TABLE
            .binary_search_by_key(&self.0, |k| k.code)
            .ok()
            .map(|i| &TABLE[i])
    }

    pub fn reaction(self) -> Reaction {
        self.known().map_or(Reaction::Unknown, |k| k.reaction)
    }

    /// What a person should do about it, as the tail of a one-line message.
    pub fn advice(self) -> &'static str {
        self.known().map_or(
            "an errcode unknown to tcb-deploy, so it was tried only a little; try again later, and please report it",
            |k| k.advice,
        )
    }

    /// Whether the code refuses one environment (the env id, its merchant's authorisation or
    /// permissions, its cloud-development privilege) rather than the caller: a rollout to many
    /// environments reports that one and goes on with the others.
    pub fn concerns_one_env(self) -> bool {
        matches!(self.0, 40097 | 61003 | 61007 | 85088)
    }

    /// Whether the code says the service is overloaded (-1, -1000).
    pub fn overloaded(self) -> bool {
        self.reaction() == Reaction::Retry
    }

    /// The exit code when this error ends a command.
    pub fn exit_code(self) -> ExitCode {
        match self.reaction() {
            Reaction::StopConfig => ExitCode::Usage,
            Reaction::StopAuth | Reaction::RefreshToken => ExitCode::Auth,
            Reaction::Retry
            | Reaction::SlowDown
            | Reaction::StopQuota
            | Reaction::Bug
            | Reaction::Unknown => ExitCode::Remote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_row() {
        assert!(TABLE.windows(2).all(|w| w[0].code < w[1].code));
        for k in TABLE {
            assert_eq!(ErrCode(k.code).reaction(), k.reaction, "errcode {}", k.code);
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
            (40066, StopConfig),
            (40097, StopConfig),
            (40101, StopConfig),
            (43002, Bug),
            (44002, Bug),
            (47001, Bug),
            (45009, StopQuota),
            (45011, SlowDown),
            (48001, StopAuth),
            (61003, StopAuth),
            (61004, StopAuth),
            (61005, StopAuth),
            (61006, StopAuth),
            (61007, StopAuth),
            (61014, StopAuth),
            (85088, StopAuth),
            (99999, Unknown),
            (0, Unknown),
        ];
        for (code, reaction) in table {
            assert_eq!(ErrCode(code).reaction(), reaction, "errcode {code}");
        }
    }

    #[test]
    fn an_unknown_code_is_neither_busy_nor_a_bug() {
        let unknown = ErrCode(99999);
        assert!(!unknown.overloaded());
        assert!(unknown.advice().contains("unknown to tcb-deploy"));
        assert!(unknown.advice().contains("please report it"));
        assert_eq!(unknown.exit_code(), ExitCode::Remote);
    }
}
