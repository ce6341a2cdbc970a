//! The calling convention shared by every JSON API endpoint: fault injection, then the checks
//! in the service's order (method, token, body, JSON, fields), then the endpoint, then the
//! answer as JSON with HTTP 200 and an `errcode`; and the "system busy" answer to a call beyond
//! `max_inflight`. Endpoint logic lives in `endpoints.rs`.

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};

use super::call::{
    ApiError, ApiResult, Endpoint, Fields, INVALID_CREDENTIAL, SYSTEM_BUSY, SYSTEM_ERROR,
};
use super::endpoints;
use super::faults::Fault;
use super::reply::{Reply, Reset, json_response};
use super::shared::Shared;
use super::tokens::TokenCheck;

/// API bodies are small JSON objects; anything larger is not one.
const MAX_BODY: usize = 1 << 20;

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

/// Answers an API call refused because `max_inflight` calls and PUTs are in flight: at once,
/// before the latency and every check, as the service's generic error with its own message. It
/// counts as a call, as a faulted one does.
pub(crate) fn busy(shared: &Shared, endpoint: Endpoint) -> Response<Body> {
    shared.counters.api_call(endpoint.path());
    tracing::debug!(
        path = endpoint.path(),
        errcode = SYSTEM_BUSY.code,
        "api call refused: too many requests in flight"
    );
    json_response(StatusCode::OK, &error_json(SYSTEM_BUSY))
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
