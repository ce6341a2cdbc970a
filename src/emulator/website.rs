//! Serving each env's website on `ENV.localhost:PORT`, as the static hosting's CDN would: a
//! path maps to an object key, directories to their `index.html`, misses to the site's own
//! `404.html`. Lookups go through the object index only, so nothing outside the env's objects
//! can ever be served.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tokio_util::io::ReaderStream;

use super::reply::{html_escape, html_response};
use super::shared::Shared;
use super::state::ObjectMeta;

/// Characters kept as they are in a redirect's path: unreserved ones and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Answers a request to `env`'s website.
pub(crate) async fn serve(shared: &Shared, env: &str, req: Request<Body>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut response = html_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", "");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if shared.state.store(env).is_none() {
        return not_found(&format!("No static website for environment {env}."));
    }
    let Ok(path) = percent_decode_str(req.uri().path()).decode_utf8() else {
        return not_found_page(shared, env, head).await;
    };
    let rel = path.strip_prefix('/').unwrap_or(&path);
    let key = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_owned()
    };
    if let Some(meta) = shared.state.object_meta(env, &key) {
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
        return object_response(shared, env, &meta, StatusCode::OK, head, if_none_match).await;
    }
    let dir_index = format!("{rel}/index.html");
    if !rel.is_empty() && !rel.ends_with('/') && shared.state.object_meta(env, &dir_index).is_some()
    {
        let mut location = format!("/{}/", utf8_percent_encode(rel, PATH));
        if let Some(query) = req.uri().query() {
            location.push('?');
            location.push_str(query);
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    not_found_page(shared, env, head).await
}

/// The answer for a `*.localhost` host that names no valid env.
pub(crate) fn no_site() -> Response<Body> {
    not_found("No such website: the host is not ENV.localhost with a valid env id.")
}

fn not_found(text: &str) -> Response<Body> {
    let body = format!("<p>{}</p>", html_escape(text));
    html_response(StatusCode::NOT_FOUND, "404 Not Found", &body)
}

/// The site's own `404.html` with status 404, or a plain page.
async fn not_found_page(shared: &Shared, env: &str, head: bool) -> Response<Body> {
    match shared.state.object_meta(env, "404.html") {
        Some(meta) => object_response(shared, env, &meta, StatusCode::NOT_FOUND, head, None).await,
        None => not_found("The requested page was not found."),
    }
}

async fn object_response(
    shared: &Shared,
    env: &str,
    meta: &ObjectMeta,
    status: StatusCode,
    head: bool,
    if_none_match: Option<HeaderValue>,
) -> Response<Body> {
    let etag = format!("\"{}\"", meta.md5);
    let not_modified = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let body = if not_modified || head {
        Body::empty()
    } else {
        match tokio::fs::File::open(shared.state.blob_path(env, meta)).await {
            Ok(file) => Body::from_stream(ReaderStream::new(file)),
            Err(e) => {
                // Replaced between the lookup and the open: the client may simply retry.
                tracing::warn!(env, key = meta.key, error = %e, "could not open a stored object");
                return html_response(StatusCode::SERVICE_UNAVAILABLE, "Try again", "");
            }
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        status
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(cc) = meta
        .cache_control
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(header::CACHE_CONTROL, cc);
    }
    if not_modified {
        return response;
    }
    let content_type = meta
        .content_type
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    response
}
