//! What one API call is, in the emulator's words: its endpoint, its body's fields with the
//! service's rules, and the `errcode` answer it may get. A leaf of the emulator: the calling
//! convention (`api.rs`), the endpoints and the shared state all speak it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::tokens::TokenKind;

/// An `errcode` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: i64,
    pub msg: Cow<'static, str>,
}

impl ApiError {
    pub(crate) const fn new(code: i64, msg: &'static str) -> Self {
        ApiError {
            code,
            msg: Cow::Borrowed(msg),
        }
    }
}

pub(crate) const SYSTEM_ERROR: ApiError = ApiError::new(-1, "system error");
/// The answer to a call beyond `max_inflight`.
pub(crate) const SYSTEM_BUSY: ApiError = ApiError::new(-1, "system busy");
pub(crate) const MISSING_PARAMETER: ApiError = ApiError::new(40101, "missing parameter");
pub(crate) const INVALID_ARGS: ApiError = ApiError::new(40097, "invalid args");
pub(crate) const INVALID_CREDENTIAL: ApiError = ApiError::new(40001, "invalid credential");
pub(crate) const NO_CLOUD_DEV: ApiError = ApiError::new(85088, "no qbase privilege");

/// What an endpoint answers beyond `errcode`/`errmsg`.
pub(crate) type ApiResult = Result<Map<String, Value>, ApiError>;

/// The endpoints the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
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
    const ALL: [Endpoint; 8] = [
        Endpoint::DescribeStaticStore,
        Endpoint::CreateStaticStore,
        Endpoint::StaticUploadFile,
        Endpoint::StaticFileList,
        Endpoint::GetEnvInfo,
        Endpoint::BatchShareEnv,
        Endpoint::ComponentToken,
        Endpoint::AuthorizerToken,
    ];

    /// The path without its leading `/`, also the key in `Counters::api_calls`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::DescribeStaticStore => "componenttcb/describestaticstore",
            Endpoint::CreateStaticStore => "componenttcb/createstaticstore",
            Endpoint::StaticUploadFile => "componenttcb/staticuploadfile",
            Endpoint::StaticFileList => "componenttcb/staticfilelist",
            Endpoint::GetEnvInfo => "tcb/getenvinfo",
            Endpoint::BatchShareEnv => "componenttcb/batchshareenv",
            Endpoint::ComponentToken => "cgi-bin/component/api_component_token",
            Endpoint::AuthorizerToken => "cgi-bin/component/api_authorizer_token",
        }
    }

    /// The endpoint at a request path (with its leading `/`).
    pub(crate) fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.strip_prefix('/')?;
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// The query parameter carrying the token, and the kind of token required.
    pub(crate) fn credential(self) -> Option<(&'static str, TokenKind)> {
        match self {
            Endpoint::ComponentToken => None,
            Endpoint::AuthorizerToken => Some(("component_access_token", TokenKind::Component)),
            Endpoint::GetEnvInfo => Some(("access_token", TokenKind::Authorizer)),
            _ => Some(("access_token", TokenKind::Component)),
        }
    }

    /// The token endpoints answer success without `errcode`, as the real ones do.
    pub(crate) fn success_has_errcode(self) -> bool {
        !matches!(self, Endpoint::ComponentToken | Endpoint::AuthorizerToken)
    }
}

/// A request body's fields, with the service's rules: absent (or null) → 40101, wrong JSON
/// type → 40097.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// 40101 unless every one of `names` is present.
    pub(crate) fn require(&self, names: &[&str]) -> Result<(), ApiError> {
        match names.iter().all(|n| self.get(n).is_some()) {
            true => Ok(()),
            false => Err(MISSING_PARAMETER),
        }
    }

    /// An optional string field.
    pub(crate) fn string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(INVALID_ARGS),
        }
    }

    /// A required string field.
    pub(crate) fn required_string(&self, name: &str) -> Result<&'a str, ApiError> {
        self.string(name)?.ok_or(MISSING_PARAMETER)
    }

    /// A required env id field.
    pub(crate) fn env(&self, name: &str) -> Result<&'a str, ApiError> {
        let env = self.required_string(name)?;
        valid_env_id(env).then_some(env).ok_or(INVALID_ARGS)
    }
}

/// An env id the emulator accepts: 1 to 64 of `[a-z0-9-]`.
pub(crate) fn valid_env_id(env: &str) -> bool {
    (1..=64).contains(&env.len())
        && env
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_ids() {
        assert!(valid_env_id("demo-1"));
        assert!(valid_env_id(&"a".repeat(64)));
        assert!(!valid_env_id(&"a".repeat(65)));
        assert!(!valid_env_id(""));
        assert!(!valid_env_id("Demo"));
        assert!(!valid_env_id("a.b"));
    }

    #[test]
    fn endpoint_paths_round_trip() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_path(&format!("/{}", e.path())), Some(e));
        }
        assert_eq!(Endpoint::from_path("/componenttcb/nope"), None);
    }

    #[test]
    fn fields_follow_the_service_rules() {
        let Value::Object(map) = json!({"env": "e", "n": 1, "z": null}) else {
            unreachable!()
        };
        let f = Fields(&map);
        assert_eq!(f.required_string("env"), Ok("e"));
        assert_eq!(f.required_string("n"), Err(INVALID_ARGS));
        assert_eq!(f.required_string("z"), Err(MISSING_PARAMETER));
        assert_eq!(f.require(&["env", "x"]), Err(MISSING_PARAMETER));
        assert_eq!(f.string("x"), Ok(None));
    }
}
