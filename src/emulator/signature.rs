//! The COS query-string signature used by signed upload links: how the emulator signs a link
//! when it hands one out and checks it when the PUT arrives. Pure functions, no I/O.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::{Digest, Sha1};

/// The access key id in every signed link (not secret: the secret key is what signs).
pub(crate) const ACCESS_KEY_ID: &str = "AKIDemulator";

/// Characters kept as they are in a query value: RFC 3986 unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The COS signature of a request with no signed headers and no signed query parameters.
///
/// SignKey = hex(HMAC-SHA1(secret_key, key_time));
/// HttpString = lowercase(method) \n path \n \n \n;
/// StringToSign = "sha1" \n key_time \n hex(SHA1(HttpString)) \n;
/// Signature = hex(HMAC-SHA1(SignKey, StringToSign)).
pub fn cos_signature(secret_key: &str, method: &str, path: &str, key_time: &str) -> String {
    let sign_key = hex::encode(hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()));
    let http_string = format!("{}\n{path}\n\n\n", method.to_lowercase());
    let http_hash = hex::encode(Sha1::digest(http_string.as_bytes()));
    let string_to_sign = format!("sha1\n{key_time}\n{http_hash}\n");
    hex::encode(hmac_sha1(sign_key.as_bytes(), string_to_sign.as_bytes()))
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The `sign` query value of a link, and the signature in it.
pub(crate) struct SignedQuery {
    /// Percent-encoded as one value, as the real service sends it.
    pub value: String,
    /// The `q-signature` part, hex.
    pub signature: String,
}

/// The `sign` query value of a link for `PUT path`, valid from `start` to `end` (Unix seconds).
pub(crate) fn sign_query_value(secret_key: &str, path: &str, start: u64, end: u64) -> SignedQuery {
    let time = format!("{start};{end}");
    let signature = cos_signature(secret_key, "put", path, &time);
    let raw = format!(
        "q-sign-algorithm=sha1&q-ak={ACCESS_KEY_ID}&q-sign-time={time}&q-key-time={time}\
         &q-header-list=&q-url-param-list=&q-signature={signature}"
    );
    SignedQuery {
        value: utf8_percent_encode(&raw, QUERY_VALUE).to_string(),
        signature,
    }
}

/// The `q-*` parameters of a signed request, gathered from the query string.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SignParams {
    pub algorithm: Option<String>,
    pub access_key: Option<String>,
    pub sign_time: Option<String>,
    pub key_time: Option<String>,
    pub header_list: Option<String>,
    pub url_param_list: Option<String>,
    pub signature: Option<String>,
}

impl SignParams {
    /// Reads the parameters whether the `sign` value was percent-encoded as one value
    /// (`sign=q-sign-algorithm%3Dsha1%26q-ak%3D...`) or spread raw over several query
    /// parameters (`sign=q-sign-algorithm=sha1&q-ak=...`), or given without `sign=` at all.
    pub(crate) fn from_query(query: &str) -> SignParams {
        let mut params = SignParams::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name == "sign" {
                // Encoded form: the value is itself a query string. Raw form: the value is
                // `q-sign-algorithm=sha1`, which parses the same way.
                for part in value.split('&') {
                    let (n, v) = part.split_once('=').unwrap_or((part, ""));
                    params.set(n, v);
                }
            } else {
                params.set(&name, &value);
            }
        }
        params
    }

    fn set(&mut self, name: &str, value: &str) {
        let slot = match name {
            "q-sign-algorithm" => &mut self.algorithm,
            "q-ak" => &mut self.access_key,
            "q-sign-time" => &mut self.sign_time,
            "q-key-time" => &mut self.key_time,
            "q-header-list" => &mut self.header_list,
            "q-url-param-list" => &mut self.url_param_list,
            "q-signature" => &mut self.signature,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }

    /// Checks the parameters against a `PUT path` signed with `secret_key`. On success returns
    /// the validity window (start, end) in Unix seconds.
    ///
    /// The signature covers the key time only, so the sign time must equal it: otherwise a
    /// client could stretch the window without breaking the signature.
    pub(crate) fn verify(&self, secret_key: &str, path: &str) -> Option<(u64, u64)> {
        if self.algorithm.as_deref() != Some("sha1")
            || self.access_key.as_deref() != Some(ACCESS_KEY_ID)
            || !self.header_list.as_deref().unwrap_or("").is_empty()
            || !self.url_param_list.as_deref().unwrap_or("").is_empty()
        {
            return None;
        }
        let key_time = self.key_time.as_deref()?;
        if self.sign_time.as_deref() != Some(key_time) {
            return None;
        }
        let (start, end) = key_time.split_once(';')?;
        let window = (start.parse().ok()?, end.parse().ok()?);
        let expected = cos_signature(secret_key, "put", path, key_time);
        let given = self.signature.as_deref()?.to_ascii_lowercase();
        constant_time_eq(expected.as_bytes(), given.as_bytes()).then_some(window)
    }
}

/// Compares without an early exit, so the time taken tells nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected value computed independently with:
    /// python3 -c 'import hmac,hashlib; kt="1700000000;1700000060"; sk=hmac.new(b"emulator-secret",kt.encode(),hashlib.sha1).hexdigest(); hs=hashlib.sha1(b"put\n/emu-static-demo/index.html\n\n\n").hexdigest(); print(hmac.new(sk.encode(),("sha1\n"+kt+"\n"+hs+"\n").encode(),hashlib.sha1).hexdigest())'
    #[test]
    fn signature_matches_independent_computation() {
        let sig = cos_signature(
            "emulator-secret",
            "put",
            "/emu-static-demo/index.html",
            "1700000000;1700000060",
        );
        assert_eq!(sig, "3b3c5f36be25a1e56b0278e192618d1af8f86485");
        // The method is lowercased before signing.
        assert_eq!(
            cos_signature(
                "emulator-secret",
                "PUT",
                "/emu-static-demo/index.html",
                "1700000000;1700000060"
            ),
            sig
        );
    }

    #[test]
    fn parses_encoded_and_raw_sign() {
        let value = sign_query_value("s", "/b/k", 10, 70).value;
        assert!(value.starts_with("q-sign-algorithm%3Dsha1%26q-ak%3DAKIDemulator%26"));
        assert!(value.contains("10%3B70"));
        let encoded = SignParams::from_query(&format!("sign={value}"));
        let raw_query = percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .map(|s| s.into_owned())
            .unwrap_or_default();
        let raw = SignParams::from_query(&format!("sign={raw_query}"));
        assert_eq!(encoded, raw);
        assert_eq!(encoded.verify("s", "/b/k"), Some((10, 70)));
        assert_eq!(encoded.verify("s", "/b/other"), None);
        assert_eq!(encoded.verify("other-secret", "/b/k"), None);
    }

    #[test]
    fn rejects_malformed_sign() {
        let value = sign_query_value("s", "/b/k", 10, 70).value;
        let mut params = SignParams::from_query(&format!("sign={value}"));
        params.sign_time = Some("10;99999".into());
        assert_eq!(params.verify("s", "/b/k"), None, "stretched window");
        assert_eq!(SignParams::from_query("").verify("s", "/b/k"), None);
        assert_eq!(
            SignParams::from_query("sign=garbage").verify("s", "/b/k"),
            None
        );
    }
}
