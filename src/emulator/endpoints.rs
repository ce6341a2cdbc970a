//! What each API endpoint does once the shared checks in `api.rs` have passed: the static
//! store family, the environment calls and the token calls.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::call::{
    ApiError, ApiResult, Endpoint, Fields, INVALID_ARGS, NO_CLOUD_DEV, SYSTEM_ERROR,
};
use super::clock::{from_unix_millis, rfc3339_millis, wechat_time};
use super::shared::Shared;
use super::signature::sign_query_value;
use super::tokens::{Link, TokenKind};
use super::{
    AUTHORIZER_APPID, AUTHORIZER_REFRESH_TOKEN, COMPONENT_APPID, COMPONENT_APPSECRET, VERIFY_TICKET,
};

const STORE_NOT_CREATED: ApiError = ApiError::new(40097, "static store not created");

/// Characters kept as they are in a URL path built from a key: unreserved ones and `/`.
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub(crate) async fn run(shared: &Shared, endpoint: Endpoint, f: Fields<'_>) -> ApiResult {
    match endpoint {
        Endpoint::DescribeStaticStore => describe_static_store(shared, f),
        Endpoint::CreateStaticStore => create_static_store(shared, f).await,
        Endpoint::StaticUploadFile => static_upload_file(shared, f),
        Endpoint::StaticFileList => static_file_list(shared, f),
        Endpoint::GetEnvInfo => get_env_info(shared, f),
        Endpoint::BatchShareEnv => batch_share_env(shared, f),
        Endpoint::ComponentToken => component_token(shared, f),
        Endpoint::AuthorizerToken => authorizer_token(shared, f),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn require_cloud_dev(shared: &Shared, env: &str) -> Result<(), ApiError> {
    shared.has_cloud_dev(env).then_some(()).ok_or(NO_CLOUD_DEV)
}

fn describe_static_store(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&["env"])?;
    let env = f.env("env")?;
    require_cloud_dev(shared, env)?;
    let data: Vec<Value> = match shared.state.store(env) {
        None => Vec::new(),
        Some(store) => {
            let online_at = from_unix_millis(store.created_ms) + shared.create_delay;
            let status = if shared.clock.now() >= online_at {
                "online"
            } else {
                "processing"
            };
            vec![json!({
                "env": env,
                "domain": shared.domain(env),
                "bucket": Shared::bucket(env),
                "regoin": "emulator-local",
                "status": status,
            })]
        }
    };
    // `Data` with a capital D, as the service's sample answer shows.
    Ok(object(json!({ "Data": data })))
}

async fn create_static_store(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&["env"])?;
    let env = f.env("env")?;
    require_cloud_dev(shared, env)?;
    match shared.state.create_store(env, shared.clock.now()).await {
        Ok(created) => {
            tracing::debug!(env, created, "create static store");
            Ok(Map::new())
        }
        Err(e) => {
            tracing::warn!(env, error = %e, "could not save the new static store");
            Err(SYSTEM_ERROR)
        }
    }
}

/// A key the store accepts: not empty, relative, no `..` or `.` segment, no backslash, no
/// control character, at most 1024 bytes. (`.` segments are refused too because URL parsers
/// drop them, so the signed path would not be the one requested.)
fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 1024
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.chars().any(char::is_control)
        && !name.split('/').any(|seg| seg == ".." || seg == ".")
}

fn static_upload_file(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&["env", "filename"])?;
    let env = f.env("env")?;
    let filename = f.required_string("filename")?;
    if !valid_filename(filename) {
        return Err(INVALID_ARGS);
    }
    require_cloud_dev(shared, env)?;
    shared.state.store(env).ok_or(STORE_NOT_CREATED)?;

    let bucket = Shared::bucket(env);
    let start = shared.clock.unix_secs();
    let end = start.saturating_add(shared.link_lifetime.as_secs());
    let sign = sign_query_value(
        shared.state.secret_key(),
        &format!("/{bucket}/{filename}"),
        start,
        end,
    );
    shared.tokens.note_handed_out(&sign.signature);
    let signed_url = format!(
        "{}/{bucket}/{}?sign={}",
        shared.base_url,
        utf8_percent_encode(filename, KEY_PATH),
        sign.value
    );
    let link = Link {
        env: env.to_owned(),
        bucket,
        key: filename.to_owned(),
        expires: end,
    };
    let token = shared.tokens.issue_link(link, start);
    tracing::debug!(env, key = filename, expires = end, "issued upload link");
    Ok(object(json!({ "signed_url": signed_url, "token": token })))
}

fn static_file_list(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&["env"])?;
    let env = f.env("env")?;
    let prefix = f.string("prefix")?.unwrap_or("");
    // Accepted for compatibility; the listing is always flat.
    let _delimiter = f.string("delimiter")?;
    let marker = f.string("marker")?.unwrap_or("");
    require_cloud_dev(shared, env)?;
    shared.state.store(env).ok_or(STORE_NOT_CREATED)?;

    let (page, truncated) = shared
        .state
        .list(env, prefix, marker, shared.list_page_size);
    let contents: Vec<Value> = page
        .into_iter()
        .map(|m| {
            json!({
                "key": m.key,
                "md5": shared.listed_md5(env, &m),
                // A string, as the real service sometimes sends it.
                "size": m.size.to_string(),
                "last_modified": rfc3339_millis(from_unix_millis(m.last_modified_ms)),
            })
        })
        .collect();
    Ok(object(
        json!({ "contents": contents, "is_truncated": truncated }),
    ))
}

fn get_env_info(shared: &Shared, f: Fields<'_>) -> ApiResult {
    let only = match f.string("env")? {
        None => None,
        Some(env) if super::call::valid_env_id(env) => Some(env),
        Some(_) => return Err(INVALID_ARGS),
    };
    if let Some(env) = only {
        require_cloud_dev(shared, env)?;
    }
    let info_list: Vec<Value> = shared
        .state
        .stores()
        .into_iter()
        .filter(|(env, _)| only.is_none_or(|o| o == env))
        .map(|(env, store)| {
            let created = wechat_time(from_unix_millis(store.created_ms));
            json!({
                "env": env,
                "alias": env,
                "create_time": created,
                "update_time": created,
                "status": "NORMAL",
                "package_id": "basic",
                "package_name": "Basic",
            })
        })
        .collect();
    Ok(object(json!({ "info_list": info_list })))
}

/// An app id of the form `wx` + 16 lowercase hex digits.
fn valid_appid(appid: &str) -> bool {
    appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn batch_share_env(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&["data", "source_type"])?;
    let Some(Value::Array(items)) = f.get("data") else {
        return Err(INVALID_ARGS);
    };
    let Some(source_type) = f.get("source_type").filter(|v| v.is_number()) else {
        return Err(INVALID_ARGS);
    };
    let mut shares = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(item) = item else {
            return Err(INVALID_ARGS);
        };
        let item = Fields(item);
        item.require(&["env", "appids"])?;
        let env = item.env("env")?;
        let Some(Value::Array(appids)) = item.get("appids") else {
            return Err(INVALID_ARGS);
        };
        let appids: Option<Vec<&str>> = appids.iter().map(Value::as_str).collect();
        shares.push((env, appids.ok_or(INVALID_ARGS)?));
    }
    for (env, _) in &shares {
        require_cloud_dev(shared, env)?;
    }
    let mut err_list = Vec::new();
    let mut msg_info_list = Vec::new();
    for (env, appids) in shares {
        let has_store = shared.state.store(env).is_some();
        for appid in appids {
            if !has_store {
                err_list.push(json!({"env": env, "appid": appid, "errmsg": "env not found"}));
            } else if !valid_appid(appid) {
                err_list.push(json!({"env": env, "appid": appid, "errmsg": "invalid appid"}));
            } else {
                // The emulator's own URL carries the source type it was given, so a test (or
                // a person) can see what the client sent.
                let url = format!(
                    "{}/_emulator/confirm-share?env={env}&appid={appid}&source_type={source_type}",
                    shared.base_url
                );
                msg_info_list.push(json!({"appid": appid, "url": url}));
            }
        }
    }
    Ok(object(
        json!({ "err_list": err_list, "msg_info_list": msg_info_list }),
    ))
}

fn expires_in(lifetime: Duration) -> Value {
    json!(lifetime.as_secs())
}

fn component_token(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&[
        "component_appid",
        "component_appsecret",
        "component_verify_ticket",
    ])?;
    let appid = f.required_string("component_appid")?;
    let secret = f.required_string("component_appsecret")?;
    let ticket = f.required_string("component_verify_ticket")?;
    if appid != COMPONENT_APPID {
        return Err(ApiError::new(40013, "invalid appid"));
    }
    if secret != COMPONENT_APPSECRET {
        return Err(ApiError::new(40125, "invalid appsecret"));
    }
    if ticket != VERIFY_TICKET {
        return Err(ApiError::new(61006, "component_verify_ticket is invalid"));
    }
    let token = shared
        .tokens
        .issue(TokenKind::Component, shared.clock.now());
    Ok(object(json!({
        "component_access_token": token,
        "expires_in": expires_in(shared.tokens.lifetime()),
    })))
}

fn authorizer_token(shared: &Shared, f: Fields<'_>) -> ApiResult {
    f.require(&[
        "component_appid",
        "authorizer_appid",
        "authorizer_refresh_token",
    ])?;
    let appid = f.required_string("component_appid")?;
    let authorizer = f.required_string("authorizer_appid")?;
    let refresh = f.required_string("authorizer_refresh_token")?;
    if appid != COMPONENT_APPID {
        return Err(ApiError::new(40013, "invalid appid"));
    }
    if authorizer != AUTHORIZER_APPID {
        return Err(ApiError::new(
            61003,
            "component is not authorized by this account",
        ));
    }
    if refresh != AUTHORIZER_REFRESH_TOKEN {
        return Err(ApiError::new(61023, "invalid refresh token"));
    }
    let token = shared
        .tokens
        .issue(TokenKind::Authorizer, shared.clock.now());
    Ok(object(json!({
        "authorizer_access_token": token,
        "expires_in": expires_in(shared.tokens.lifetime()),
        "authorizer_refresh_token": AUTHORIZER_REFRESH_TOKEN,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames() {
        for good in [
            "index.html",
            "a/b/c.js",
            "中文/页面.html",
            "a b+c?.txt",
            "dir/",
        ] {
            assert!(valid_filename(good), "{good}");
        }
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/a",
            "a/../b",
            "..",
            "a\\b",
            "a\nb",
            "./a",
            long.as_str(),
        ] {
            assert!(!valid_filename(bad), "{bad:?}");
        }
        assert!(valid_filename("a..b/c.."));
    }

    #[test]
    fn appids() {
        assert!(valid_appid("wx0123456789abcdef"));
        assert!(!valid_appid("wx0123456789ABCDEF"));
        assert!(!valid_appid("wx0123456789abcde"));
        assert!(!valid_appid("xx0123456789abcdef"));
        assert!(!valid_appid("wx0123456789abcdeé"));
    }
}
