//! Upload of one object to a signed link: `PUT` the bytes with `x-cos-security-token`.
//! The object store answers errors as XML (`<Error><Code>…</Code><Message>…</Message></Error>`);
//! they are read into [`CosError`], which says whether a fresh link, a retry or neither helps.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::client::ApiClient;
use super::error::{Pressure, overloaded_status, pressure_of_status, transport_detail};
use crate::secret::{Secret, redact_url};
use crate::text::snippet;

/// What to send, besides the bytes.
#[derive(Debug)]
pub struct PutObject<'a> {
    pub signed_url: &'a str,
    pub token: &'a Secret,
    pub content_length: u64,
    pub content_type: Option<&'a str>,
    pub cache_control: Option<&'a str>,
}

/// The bytes of a PUT: a buffer, or a stream of chunks (a large file, read as it goes out).
pub enum PutBody {
    Bytes(Vec<u8>),
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
}

impl From<PutBody> for reqwest::Body {
    fn from(body: PutBody) -> Self {
        match body {
            PutBody::Bytes(bytes) => bytes.into(),
            PutBody::Stream(stream) => reqwest::Body::wrap_stream(stream),
        }
    }
}

/// A stored object, as the store acknowledged it.
#[derive(Debug)]
pub struct PutAnswer {
    /// The ETag without quotes; for a single PUT it is the object's MD5 in hex.
    pub etag: Option<String>,
}

/// What helps after a failed PUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CosReaction {
    /// The link is too old: ask for a fresh link and PUT again.
    FreshLink,
    /// The signature was refused: one fresh link may help; a second refusal fails the file.
    FreshLinkOnce,
    /// Transient: retry with backoff.
    Retry,
    /// Give up on this file.
    Fail,
}

#[derive(Debug, thiserror::Error)]
pub enum CosError {
    #[error("upload refused: HTTP {status} {code} ({message}); {}", store_advice(*status))]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "upload answered HTTP {status} with an unexpected body ({snippet:?}); check any proxy between here and the store"
    )]
    Unexpected { status: u16, snippet: String },
    #[error("upload failed ({detail}); check the network")]
    Transport { detail: String },
}

/// What to do about a store's refusal, by its status.
fn store_advice(status: u16) -> &'static str {
    if overloaded_status(status) {
        "the store is busy or failing; try again later"
    } else {
        "check the environment's static website and its permissions"
    }
}

impl CosError {
    /// Whether the store says it is overloaded (HTTP 5xx, 429 or `SlowDown`).
    pub fn overloaded(&self) -> bool {
        self.pressure().is_some()
    }

    /// What the store's answer says of its load.
    pub fn pressure(&self) -> Option<Pressure> {
        match self {
            Self::Rejected { code, .. } if code == "SlowDown" => Some(Pressure::SlowDown),
            Self::Rejected { status, .. } | Self::Unexpected { status, .. } => {
                pressure_of_status(*status)
            }
            Self::Transport { .. } => None,
        }
    }

    pub fn reaction(&self) -> CosReaction {
        match self {
            Self::Rejected { code, message, .. }
                if code == "AccessDenied" && message.contains("expired") =>
            {
                CosReaction::FreshLink
            }
            Self::Rejected { code, .. } if code == "SignatureDoesNotMatch" => {
                CosReaction::FreshLinkOnce
            }
            _ if self.overloaded() => CosReaction::Retry,
            Self::Transport { .. } => CosReaction::Retry,
            _ => CosReaction::Fail,
        }
    }
}

impl ApiClient {
    /// PUTs `body` to a signed link. The URL is used exactly as the service gave it.
    pub async fn put_object(
        &self,
        put: &PutObject<'_>,
        body: PutBody,
    ) -> Result<PutAnswer, CosError> {
        tracing::debug!(url = %redact_url(put.signed_url), bytes = put.content_length, "PUT");
        let http = self
            .http_for(put.signed_url)
            .await
            .map_err(|detail| CosError::Transport { detail })?;
        let mut request = http
            .put(put.signed_url)
            .header("x-cos-security-token", put.token.expose())
            .header(reqwest::header::CONTENT_LENGTH, put.content_length);
        if let Some(ct) = put.content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(cc) = put.cache_control {
            request = request.header(reqwest::header::CACHE_CONTROL, cc);
        }
        let answer = request
            .body(reqwest::Body::from(body))
            .send()
            .await
            .map_err(|e| CosError::Transport {
                detail: transport_detail(e),
            })?;
        let status = answer.status();
        let etag = answer
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_ascii_lowercase());
        if status.is_success() {
            return Ok(PutAnswer { etag });
        }
        let bytes = answer.bytes().await.unwrap_or_default();
        Err(parse_cos_error(status.as_u16(), &bytes))
    }
}

/// How long a signed link is valid, from its COS signature's `q-sign-time=START;END` (in the
/// `sign` parameter, or as a parameter of its own). Measured as END − START, so that it does not
/// depend on this machine's clock agreeing with the service's. `None` when the link does not
/// say. Only the query is read, without parsing the whole URL again: every link was checked to
/// be an http(s) URL when it was handed out ([`check_upload_link`]).
///
/// [`check_upload_link`]: super::check_upload_link
pub fn link_lifetime(signed_url: &str) -> Option<Duration> {
    let (_, query) = signed_url.split_once('?')?;
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    let time =
        url::form_urlencoded::parse(query.as_bytes()).find_map(|(name, value)| {
            match name.as_ref() {
                "q-sign-time" => Some(value.into_owned()),
                "sign" => url::form_urlencoded::parse(value.as_bytes())
                    .find(|(inner, _)| inner == "q-sign-time")
                    .map(|(_, time)| time.into_owned()),
                _ => None,
            }
        })?;
    let (start, end) = time.split_once(';')?;
    let (start, end) = (start.parse::<u64>().ok()?, end.parse::<u64>().ok()?);
    end.checked_sub(start).map(Duration::from_secs)
}

/// Reads the body of a failed PUT (`status`): a COS XML error, or anything else, into a
/// [`CosError`] whose message is one line of bounded length.
pub fn parse_cos_error(status: u16, body: &[u8]) -> CosError {
    let text = String::from_utf8_lossy(body);
    match (xml_text(&text, "Code"), xml_text(&text, "Message")) {
        (Some(code), message) => CosError::Rejected {
            status,
            code: snippet(code.as_bytes(), 64),
            message: snippet(message.unwrap_or_default().as_bytes(), 200),
        },
        (None, _) => CosError::Unexpected {
            status,
            snippet: snippet(body, 200),
        },
    }
}

fn xml_text<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(code: &str, message: &str) -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message><Resource>/a</Resource><RequestId>1</RequestId></Error>"
        )
        .into_bytes()
    }

    #[test]
    fn reactions_of_cos_errors() {
        let cases = [
            (
                403,
                "AccessDenied",
                "Request has expired",
                CosReaction::FreshLink,
            ),
            (
                403,
                "SignatureDoesNotMatch",
                "x",
                CosReaction::FreshLinkOnce,
            ),
            (500, "InternalError", "x", CosReaction::Retry),
            (503, "SlowDown", "x", CosReaction::Retry),
            (429, "TooManyRequests", "x", CosReaction::Retry),
            (403, "AccessDenied", "Access Denied.", CosReaction::Fail),
            (400, "EntityTooLarge", "x", CosReaction::Fail),
        ];
        for (status, code, message, reaction) in cases {
            let err = parse_cos_error(status, &xml(code, message));
            assert_eq!(err.reaction(), reaction, "{err}");
        }
    }

    #[test]
    fn a_link_says_how_long_it_lives() {
        let nested = "https://b.cos.example/a.js?sign=q-sign-algorithm%3Dsha1%26q-ak%3DAK%26q-sign-time%3D1613977939%3B1613977999%26q-key-time%3D1613977939%3B1613977999%26q-signature%3Dabc";
        assert_eq!(link_lifetime(nested), Some(Duration::from_secs(60)));
        let flat = "https://b.cos.example/a.js?sign=q-sign-algorithm=sha1&q-ak=AK&q-sign-time=100;130&q-signature=abc";
        assert_eq!(link_lifetime(flat), Some(Duration::from_secs(30)));
        for unknown in [
            "https://b.cos.example/a.js?sign=abc",
            "https://b.cos.example/a.js?q-sign-time=16139779391613977999",
            "https://b.cos.example/a.js?q-sign-time=20;10",
            "not a url",
        ] {
            assert_eq!(link_lifetime(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn non_xml_error_keeps_status_and_snippet() {
        let err = parse_cos_error(502, b"<html>bad gateway</html>");
        assert!(matches!(err, CosError::Unexpected { status: 502, .. }));
        assert_eq!(err.reaction(), CosReaction::Retry);
        assert!(err.to_string().contains("bad gateway"));
    }
}
