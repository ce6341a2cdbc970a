//! Credentials (access tokens, app secrets, verify tickets, `x-cos-security-token` values) must
//! never reach a log line, an error message or the terminal. They travel wrapped in [`Secret`],
//! whose `Debug` and `Display` print a placeholder, and URLs are passed through [`redact_url`]
//! before anything prints them.

use std::fmt;

/// A credential. The only way to read it is [`Secret::expose`], used where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for putting on the wire. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Query parameters whose values are credentials or signatures.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "component_access_token",
    "sign",
    "q-signature",
    "q-ak",
    "token",
];

/// Returns `url` with the value of every credential-bearing query parameter replaced.
///
/// Works on text rather than a parsed URL so that a malformed URL is still redacted.
pub fn redact_url(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(head);
    out.push('?');
    // After a `sign=` parameter the real service may spread the signature's parts over raw
    // `&q-…=` parameters; every one of them is redacted.
    let mut in_sign = false;
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        in_sign = (in_sign && name.starts_with("q-")) || name == "sign";
        if (in_sign || SECRET_PARAMS.contains(&name)) && pair.contains('=') {
            out.push_str(name);
            out.push('=');
            out.push_str(REDACTED);
        } else {
            out.push_str(pair);
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn access_token_is_redacted() {
        assert_eq!(
            redact_url("https://api.example/componenttcb/x?access_token=abc&env=e"),
            "https://api.example/componenttcb/x?access_token=[redacted]&env=e"
        );
    }

    #[test]
    fn encoded_sign_is_redacted() {
        let url = "http://b.cos/k.js?sign=q-sign-algorithm%3Dsha1%26q-signature%3Ddead";
        assert_eq!(redact_url(url), "http://b.cos/k.js?sign=[redacted]");
    }

    #[test]
    fn raw_sign_spread_over_params_is_redacted() {
        let url =
            "http://b.cos/k?sign=q-sign-algorithm=sha1&q-ak=AK&q-sign-time=1;2&q-signature=ff&x=1";
        let red = redact_url(url);
        assert!(!red.contains("ff&"), "{red}");
        assert!(!red.contains("AK"), "{red}");
        assert!(red.ends_with("&x=1"), "{red}");
    }

    #[test]
    fn url_without_query_is_unchanged() {
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }
}
