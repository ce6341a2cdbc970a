//! The calling convention shared by every JSON API endpoint: fault injection, then the checks
//! in the service's order (method, token, body, JSON, fields), then the endpoint, then the
//! answer as JSON with HTTP 200 and an `errcode`. Endpoint logic lives in `endpoints.rs`.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value, json};

use super::endpoints;
use super::faults::Fault;
use super::server::{Reply, Reset, Shared, json_response};
use super::tokens::{TokenCheck, TokenKind};

/// API bodies are small JSON objects; anything larger is not one.
const MAX_BODY: usize = 1 << 20;

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
    fn credential(self) -> Option<(&'static str, TokenKind)> {
        match self {
            Endpoint::ComponentToken => None,
            Endpoint::AuthorizerToken => Some(("component_access_token", TokenKind::Component)),
            Endpoint::GetEnvInfo => Some(("access_token", TokenKind::Authorizer)),
            _ => Some(("access_token", TokenKind::Component)),
        }
    }

    /// The token endpoints answer success without `errcode`, as the real ones do.
    fn success_has_errcode(self) -> bool {
        !matches!(self, Endpoint::ComponentToken | Endpoint::AuthorizerToken)
    }
}

/// Answers one API call.
pub(crate) async fn handle(shared: &Shared, endpoint: Endpoint, req: Request<Body>) -> Reply {
    shared.counters.api_call(endpoint.path());
    let result = match shared.faults.before_api(shared.clock.unix_secs()).await {
        Some(Fault::Reset) => {
            tracing::debug!(path = endpoint.path(), "fault: dropping the connection");
            return Err(Reset);
        }
        Some(Fault::Quota) => Err(ApiError::new(45011, "api freq out of limit")),
        Some(Fault::Error) => Err(SYSTEM_ERROR),
        None => checked_call(shared, endpoint, req).await?,
    };
    let answer = match result {
        Ok(mut fields) => {
            if endpoint.success_has_errcode() {
                fields.insert("errcode".into(), json!(0));
                fields.insert("errmsg".into(), json!("ok"));
            }
            tracing::debug!(path = endpoint.path(), errcode = 0, "api call");
            Value::Object(fields)
        }
        Err(e) => {
            tracing::debug!(
                path = endpoint.path(),
                errcode = e.code,
                errmsg = %e.msg,
                "api call"
            );
            error_json(e)
        }
    };
    Ok(json_response(StatusCode::OK, &answer))
}

/// The checks every endpoint shares, in the service's order, then the endpoint itself.
async fn checked_call(
    shared: &Shared,
    endpoint: Endpoint,
    req: Request<Body>,
) -> Result<ApiResult, Reset> {
    if req.method() != Method::POST {
        return Ok(Err(ApiError::new(43002, "require POST method")));
    }
    if let Some((param, kind)) = endpoint.credential() {
        let token = query_param(req.uri().query().unwrap_or(""), param);
        let check = match token.as_deref() {
            None | Some("") => return Ok(Err(ApiError::new(41001, "access_token missing"))),
            Some(token) => shared.tokens.check(token, shared.clock.now()),
        };
        match check {
            TokenCheck::Unknown => return Ok(Err(ApiError::new(40014, "invalid access_token"))),
            TokenCheck::Expired => return Ok(Err(ApiError::new(42001, "access_token expired"))),
            TokenCheck::Valid(k) if k != kind => return Ok(Err(INVALID_CREDENTIAL)),
            TokenCheck::Valid(_) => {}
        }
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return Ok(Err(ApiError::new(47001, "data format error")));
        }
        // The client went away mid-body: nobody to answer.
        Err(_) => return Err(Reset),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Err(ApiError::new(44002, "empty post data")));
    }
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&body) else {
        return Ok(Err(ApiError::new(47001, "data format error")));
    };
    if let Some(refusal) = shared.refusal(endpoint.path()) {
        return Ok(Err(refusal));
    }
    Ok(endpoints::run(shared, endpoint, Fields(&object)).await)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn error_json(e: ApiError) -> Value {
    json!({"errcode": e.code, "errmsg": e.msg})
}

/// The answer to a path no endpoint has.
pub(crate) fn unknown_url() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &error_json(ApiError::new(40066, "invalid url")),
    )
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
