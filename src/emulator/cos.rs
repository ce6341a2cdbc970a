//! The object store's side of an upload: `PUT /{bucket}/{key}?sign=...` with the link's
//! `x-cos-security-token`. Checks the link as COS would (signature, validity window, token),
//! streams the body to a temp file while hashing it (objects reach 5 GiB: never buffered),
//! and stores it only if it arrived whole. Errors are COS-style XML, `SlowDown` among them for
//! a PUT beyond `max_inflight`.

use std::borrow::Cow;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use tokio::io::AsyncWriteExt;

use super::clock::unix_millis;
use super::faults::Fault;
use super::reply::{Reply, Reset, html_escape};
use super::shared::Shared;
use super::signature::SignParams;
use super::state::ObjectMeta;
use super::tokens::{Link, random_hex};

/// The largest object a single PUT may store.
const MAX_OBJECT: u64 = 5 << 30;
/// Bodies up to this size are read and discarded before an error answer, so the client sees
/// the answer instead of a connection reset while it is still sending.
const DRAIN_LIMIT: u64 = 64 << 20;

/// How an upload's body failed to arrive.
enum Receive {
    /// The stream ended early or broke: the client gave up or died.
    Incomplete,
    TooLarge,
    Io(std::io::Error),
}

/// A COS refusal, before the resource and request id are known to it.
#[derive(Clone, Copy)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

const fn refusal(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        code,
        message,
    }
}

const INTERNAL: Refusal = refusal(
    StatusCode::INTERNAL_SERVER_ERROR,
    "InternalError",
    "We encountered an internal error. Please try again.",
);
const SLOW_DOWN: Refusal = refusal(
    StatusCode::SERVICE_UNAVAILABLE,
    "SlowDown",
    "Please reduce your request rate.",
);
const EXPIRED: Refusal = refusal(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
const TOO_LARGE: Refusal = refusal(
    StatusCode::BAD_REQUEST,
    "EntityTooLarge",
    "Your proposed upload exceeds the maximum allowed object size.",
);

/// Answers one PUT: the link is checked, then the body received, then the object committed.
pub(crate) async fn handle_put(shared: &Shared, req: Request<Body>) -> Reply {
    shared.counters.put_received();
    let (parts, body) = req.into_parts();
    let request_id = random_hex(12);
    let path = decoded_path(&parts.uri);
    let split = path.as_deref().and_then(bucket_and_key);
    if let (Some(hook), Some((_, key))) = (&shared.on_put, split) {
        (hook.0)(key);
    }
    let resource = resource(split);
    let fail = |r: Refusal| Failure::of(r, resource.clone(), request_id.clone());

    match shared.faults.before_put().await {
        Some(Fault::Reset) => {
            tracing::debug!(resource, "fault: dropping the connection");
            return Err(Reset);
        }
        Some(_) => {
            return Ok(fail(INTERNAL)
                .answer_after_draining(&parts.headers, body)
                .await);
        }
        None => {}
    }
    let (Some(path), Some((bucket, key))) = (path.as_deref(), split) else {
        let r = refusal(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "Couldn't parse the specified URI.",
        );
        return Ok(fail(r).answer_after_draining(&parts.headers, body).await);
    };
    let link = match check_link(shared, &parts, path, bucket, key) {
        Ok(link) => link,
        Err(r) => return Ok(fail(r).answer_after_draining(&parts.headers, body).await),
    };
    let stored = match declared_length(&parts.headers) {
        Ok(declared) => store(shared, &link, key, body, declared, &parts.headers).await,
        Err(r) => Err(r),
    };
    match stored {
        Ok(md5_hex) => Ok(stored_answer(&md5_hex, &request_id)),
        Err(r) => Ok(fail(r).answer()),
    }
}

/// Answers a PUT refused because `max_inflight` API calls and PUTs are in flight: 503
/// `SlowDown` at once, before the latency and every check of the link (a small body is read
/// and discarded first, as for every refusal). It counts as a PUT received; the `on_put` hook
/// does not see it.
pub(crate) async fn slow_down(shared: &Shared, req: Request<Body>) -> Response<Body> {
    shared.counters.put_received();
    let (parts, body) = req.into_parts();
    let path = decoded_path(&parts.uri);
    let resource = resource(path.as_deref().and_then(bucket_and_key));
    Failure::of(SLOW_DOWN, resource, random_hex(12))
        .answer_after_draining(&parts.headers, body)
        .await
}

/// The request path, percent-decoded, if it is UTF-8.
fn decoded_path(uri: &axum::http::Uri) -> Option<String> {
    percent_decode_str(uri.path())
        .decode_utf8()
        .map(Cow::into_owned)
        .ok()
}

/// `/bucket/key` → (bucket, key).
fn bucket_and_key(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix('/')?.split_once('/')
}

/// The `<Resource>` of an error answer: the key, with its leading `/`.
fn resource(split: Option<(&str, &str)>) -> String {
    format!("/{}", split.map(|(_, key)| key).unwrap_or(""))
}

/// The link a PUT to `path` (`/bucket/key`) may use, checked as COS does: the signature, its
/// validity window, and the `x-cos-security-token` issued with it.
fn check_link(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    path: &str,
    bucket: &str,
    key: &str,
) -> Result<Link, Refusal> {
    let sign = SignParams::from_query(parts.uri.query().unwrap_or(""));
    let Some((start, end)) = sign.verify(shared.state.secret_key(), path) else {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    };
    let now = shared.clock.unix_secs();
    if now < start || now > end {
        return Err(EXPIRED);
    }
    let token = header_string(&parts.headers, "x-cos-security-token");
    let Some(link) = token.and_then(|t| shared.tokens.link(&t, bucket, key)) else {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access Denied.",
        ));
    };
    if now > link.expires {
        // A token from an older link for the same key, presented with a newer URL.
        return Err(EXPIRED);
    }
    Ok(link)
}

/// The `Content-Length` a PUT declares, if any, within the largest object.
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, Refusal> {
    let declared = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|s| s.parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "Content-Length is not a number.",
                ));
            }
        },
    };
    match declared.is_some_and(|n| n > MAX_OBJECT) {
        true => Err(TOO_LARGE),
        false => Ok(declared),
    }
}

/// Receives the body into a temp file and commits it as `key` of the link's env if it arrived
/// whole (and matches its `Content-MD5`, when given); returns its MD5 in hex.
async fn store(
    shared: &Shared,
    link: &Link,
    key: &str,
    body: Body,
    declared: Option<u64>,
    headers: &HeaderMap,
) -> Result<String, Refusal> {
    let tmp = shared.state.temp_path();
    let received = receive(body, &tmp, declared).await;
    let (md5, size) = match received {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(match e {
                Receive::Incomplete => {
                    tracing::debug!(env = link.env, key, "upload body ended early; not stored");
                    refusal(
                        StatusCode::BAD_REQUEST,
                        "IncompleteBody",
                        "The request body terminated unexpectedly",
                    )
                }
                Receive::TooLarge => TOO_LARGE,
                Receive::Io(e) => {
                    tracing::warn!(error = %e, "could not write an upload to the data dir");
                    INTERNAL
                }
            });
        }
    };
    if let Some(given) = header_string(headers, "content-md5")
        && given.trim() != base64(&md5)
    {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let md5_hex = hex::encode(md5);
    let meta = ObjectMeta {
        key: key.to_owned(),
        md5: md5_hex.clone(),
        size,
        content_type: header_string(headers, "content-type"),
        cache_control: header_string(headers, "cache-control"),
        last_modified_ms: unix_millis(shared.clock.now()),
        blob: String::new(),
    };
    if let Err(e) = shared.state.commit_object(&link.env, &tmp, meta).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        tracing::warn!(error = %e, "could not store an upload in the data dir");
        return Err(INTERNAL);
    }
    shared.stored_whole(&link.env, key);
    shared.counters.put_stored(size);
    tracing::debug!(env = link.env, key, size, md5 = md5_hex, "stored object");
    Ok(md5_hex)
}

/// The answer to a PUT whose object was stored: its ETag, as COS gives it.
fn stored_answer(md5_hex: &str, request_id: &str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    if let Ok(etag) = header::HeaderValue::from_str(&format!("\"{md5_hex}\"")) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(id) = header::HeaderValue::from_str(request_id) {
        headers.insert("x-cos-request-id", id);
    }
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(0));
    response
}

/// Streams `body` into a new file at `tmp`, hashing it. Returns (MD5, size).
async fn receive(
    mut body: Body,
    tmp: &Path,
    declared: Option<u64>,
) -> Result<([u8; 16], u64), Receive> {
    let mut file = tokio::fs::File::create(tmp).await.map_err(Receive::Io)?;
    let mut hasher = Md5::new();
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Receive::Incomplete)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        size += data.len() as u64;
        if size > MAX_OBJECT {
            return Err(Receive::TooLarge);
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(Receive::Io)?;
    }
    file.flush().await.map_err(Receive::Io)?;
    if declared.is_some_and(|n| n != size) {
        return Err(Receive::Incomplete);
    }
    Ok((hasher.finalize().into(), size))
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Standard base64 with padding (for `Content-MD5`).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A COS error answer.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    resource: String,
    request_id: String,
}

impl Failure {
    fn of(r: Refusal, resource: String, request_id: String) -> Failure {
        Failure {
            status: r.status,
            code: r.code,
            message: r.message,
            resource,
            request_id,
        }
    }

    fn answer(&self) -> Response<Body> {
        tracing::debug!(
            status = self.status.as_u16(),
            code = self.code,
            resource = self.resource,
            "put rejected"
        );
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message>\
             <Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code,
            html_escape(self.message),
            html_escape(&self.resource),
            self.request_id
        );
        let mut response = Response::new(Body::from(xml));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/xml"),
        );
        if let Ok(id) = header::HeaderValue::from_str(&self.request_id) {
            headers.insert("x-cos-request-id", id);
        }
        response
    }

    /// Reads and discards a body of moderate size first (unless the client waits for
    /// `100 Continue`, which not reading it declines), then answers.
    async fn answer_after_draining(&self, headers: &HeaderMap, mut body: Body) -> Response<Body> {
        let expects_continue = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if !expects_continue && declared.is_none_or(|n| n <= DRAIN_LIMIT) {
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        }
        self.answer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
