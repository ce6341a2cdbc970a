//! Signed PUTs to the object store, and the listing that reports what they stored.

use md5::{Digest, Md5};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::DEV_ACCESS_TOKEN;
use super::{Harness, xml_error};

const LIST: &str = "componenttcb/staticfilelist";
const CREATE: &str = "componenttcb/createstaticstore";
const DESCRIBE: &str = "componenttcb/describestaticstore";
const LINK: &str = "componenttcb/staticuploadfile";

#[tokio::test]
async fn put_stores_bytes_with_md5_etag_and_metadata() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let bytes: &'static [u8] = b"<!doctype html><title>hi</title>\x00\xff";
    let (url, token) = h.link("demo", "dir/index.html").await;
    let response = h
        .http
        .put(&url)
        .header("x-cos-security-token", &token)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(bytes)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let md5 = hex::encode(Md5::digest(bytes));
    assert_eq!(response.headers()["etag"], format!("\"{md5}\"").as_str());
    assert!(response.bytes().await.expect("body").is_empty());

    let stored = h.emu.object("demo", "dir/index.html").expect("stored");
    assert_eq!(stored.bytes, bytes);
    assert_eq!(stored.md5, md5);
    assert_eq!(
        stored.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(stored.cache_control.as_deref(), Some("no-cache"));

    // No metadata headers: none stored. The same link may be used again.
    assert_eq!(h.put(&url, &token, b"second").await.status(), 200);
    let stored = h.emu.object("demo", "dir/index.html").expect("stored");
    assert_eq!(stored.bytes, b"second");
    assert_eq!((stored.content_type, stored.cache_control), (None, None));

    let counters = h.emu.counters();
    assert_eq!((counters.puts, counters.puts_stored), (2, 2));
    assert_eq!(counters.put_bytes, bytes.len() as u64 + 6);
    assert_eq!(counters.api_calls["componenttcb/staticuploadfile"], 1);
}

#[tokio::test]
async fn put_with_a_wrong_token_is_denied() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, _) = h.link("demo", "a.txt").await;
    let (_, other_token) = h.link("demo", "b.txt").await;
    for token in [other_token.as_str(), "made-up", ""] {
        let response = h.put(&url, token, b"x").await;
        assert_eq!(response.status(), 403);
        assert_eq!(response.headers()["content-type"], "application/xml");
        let body = response.text().await.expect("body");
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>"));
        assert!(body.contains("<Resource>/a.txt</Resource>"), "{body}");
        assert_eq!(
            xml_error(&body),
            ("AccessDenied".into(), "Access Denied.".into())
        );
    }
    let no_header = h.http.put(&url).body("x").send().await.expect("send");
    assert_eq!(no_header.status(), 403);
    assert!(h.emu.object("demo", "a.txt").is_none());
    assert_eq!(h.emu.counters().puts, 4);
    assert_eq!(h.emu.counters().puts_stored, 0);
}

#[tokio::test]
async fn expired_link_is_refused() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    h.emu.advance_clock(std::time::Duration::from_secs(61));
    for token in [token.as_str(), "wrong"] {
        let response = h.put(&url, token, b"x").await;
        assert_eq!(response.status(), 403);
        let body = response.text().await.expect("body");
        assert_eq!(
            xml_error(&body),
            ("AccessDenied".into(), "Request has expired".into())
        );
    }
    // The old link's token does not ride on a fresh link for the same key.
    let (fresh_url, fresh_token) = h.link("demo", "a.txt").await;
    let response = h.put(&fresh_url, &token, b"x").await;
    let body = response.text().await.expect("body");
    assert_eq!(xml_error(&body).1, "Request has expired");
    assert_eq!(h.put(&fresh_url, &fresh_token, b"x").await.status(), 200);
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    // The URL ends with the signature's last hex digit.
    let rest = &url[..url.len() - 1];
    let flipped = match url.ends_with('0') {
        true => format!("{rest}1"),
        false => format!("{rest}0"),
    };
    let (other_url, _) = h.link("demo", "b.txt").await;
    let other_path = url.replace("/a.txt?", "/b.txt?");
    let unsigned = url
        .split_once('?')
        .map(|(u, _)| u.to_owned())
        .unwrap_or_default();
    for bad in [flipped, other_path, unsigned, format!("{other_url}&q-ak=x")] {
        let response = h.put(&bad, &token, b"x").await;
        assert_eq!(response.status(), 403, "{bad}");
        let (code, message) = xml_error(&response.text().await.expect("body"));
        assert_eq!(code, "SignatureDoesNotMatch", "{bad}");
        assert_eq!(
            message,
            "The request signature we calculated does not match the signature you provided."
        );
    }
}

#[tokio::test]
async fn raw_sign_form_is_accepted() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    let raw = percent_encoding::percent_decode_str(&url)
        .decode_utf8()
        .expect("utf-8")
        .into_owned();
    assert!(
        raw.contains("?sign=q-sign-algorithm=sha1&q-ak=AKIDemulator&"),
        "{raw}"
    );
    assert_eq!(h.put(&raw, &token, b"raw").await.status(), 200);
    assert_eq!(h.emu.object("demo", "a.txt").expect("stored").bytes, b"raw");
}

#[tokio::test]
async fn short_body_is_not_stored() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    let path_and_query = url.strip_prefix(&h.emu.base_url()).expect("same host");
    let mut stream = tokio::net::TcpStream::connect(h.emu.addr())
        .await
        .expect("connect");
    let request = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {}\r\nx-cos-security-token: {token}\r\n\
         Content-Length: 100\r\n\r\n0123456789",
        h.emu.addr()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    // The client dies: no more bytes will come. Reading to the end waits for the server's
    // verdict on this request.
    stream.shutdown().await.expect("shutdown");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>IncompleteBody</Code>"), "{answer}");
    assert!(h.emu.object("demo", "a.txt").is_none());
    let counters = h.emu.counters();
    assert_eq!(
        (counters.puts, counters.puts_stored, counters.put_bytes),
        (1, 0, 0)
    );
    // The same link still works for a whole body.
    assert_eq!(h.put(&url, &token, b"whole").await.status(), 200);
}

#[tokio::test]
async fn content_md5_mismatch_is_refused() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "a.txt").await;
    let send = |md5: &'static str| {
        h.http
            .put(&url)
            .header("x-cos-security-token", &token)
            .header("content-md5", md5)
            .body("foobar")
            .send()
    };
    let bad = send("AAAAAAAAAAAAAAAAAAAAAA==").await.expect("send");
    assert_eq!(bad.status(), 400);
    assert_eq!(xml_error(&bad.text().await.expect("body")).0, "BadDigest");
    assert!(h.emu.object("demo", "a.txt").is_none());
    // md5("foobar") = 3858f62230ac3c915f300c664312c63f, base64 below.
    let good = send("OFj2IjCsPJFfMAxmQxLGPw==").await.expect("send");
    assert_eq!(good.status(), 200);
}

#[tokio::test]
async fn listing_paginates_with_string_sizes() {
    let h = Harness::start_with(|o| o.list_page_size = 2).await;
    h.create_store("demo").await;
    for key in ["b.js", "a", "a/b", "a/c.css", "c.txt"] {
        h.upload("demo", key, b"12345", "text/plain").await;
    }
    let mut keys = Vec::new();
    let mut marker = String::new();
    loop {
        let page = h.dev(LIST, json!({"env": "demo", "marker": marker})).await;
        assert_eq!(page["errcode"], 0, "{page}");
        assert!(page.get("next_marker").is_none());
        let contents = page["contents"].as_array().expect("contents");
        assert!(contents.len() <= 2);
        for entry in contents {
            assert_eq!(entry["size"], "5");
            assert_eq!(entry["md5"], hex::encode(Md5::digest(b"12345")));
            let modified = entry["last_modified"].as_str().expect("last_modified");
            assert!(
                humantime::parse_rfc3339(modified).is_ok() && modified.len() == 24,
                "{modified}"
            );
            keys.push(entry["key"].as_str().expect("key").to_owned());
        }
        if page["is_truncated"] == false {
            break;
        }
        marker = keys.last().cloned().expect("a key");
    }
    assert_eq!(keys, ["a", "a/b", "a/c.css", "b.js", "c.txt"]);

    let prefixed = h
        .dev(
            LIST,
            json!({"env": "demo", "prefix": "a/", "delimiter": "/"}),
        )
        .await;
    let prefixed: Vec<&str> = prefixed["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(prefixed, ["a/b", "a/c.css"]);
    let bad_delimiter = h.dev(LIST, json!({"env": "demo", "delimiter": 1})).await;
    assert_eq!(bad_delimiter["errcode"], 40097);
    let no_store = h.dev(LIST, json!({"env": "other"})).await;
    assert_eq!(no_store["errcode"], 40097);
}

#[tokio::test]
async fn streamed_body_without_length_is_stored_whole() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "big.bin").await;
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 7u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    // Chunked transfer: the body arrives in pieces with no Content-Length.
    let stream = tokio_util::io::ReaderStream::new(std::io::Cursor::new(bytes.clone()));
    let response = h
        .http
        .put(&url)
        .header("x-cos-security-token", token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let stored = h.emu.object("demo", "big.bin").expect("stored");
    assert_eq!(stored.md5, hex::encode(Md5::digest(&bytes)));
    assert!(stored.bytes == bytes);
    assert_eq!(h.emu.counters().put_bytes, bytes.len() as u64);
}

#[tokio::test]
async fn links_point_at_the_public_url_and_check_at_the_address_bound() {
    let public = url::Url::parse("https://front.example:8443/").expect("url");
    let h = Harness::start_with(|o| o.public_url = Some(public)).await;
    assert_eq!(h.emu.base_url(), "https://front.example:8443");
    assert_eq!(h.emu.site_url("demo"), "https://demo.localhost:8443/");
    // What a front forwarding paths unchanged would send on: the same path at the address bound.
    let bound = format!("http://{}", h.emu.addr());
    let call = |path: &str| format!("{bound}/{path}?access_token={DEV_ACCESS_TOKEN}");
    let env = json!({ "env": "demo" });
    let created = h.post_json(&call(CREATE), env.clone()).await;
    assert_eq!(created["errcode"], 0, "{created}");
    let described = h.post_json(&call(DESCRIBE), env).await;
    assert_eq!(described["Data"][0]["domain"], "demo.localhost:8443");
    let body = json!({ "env": "demo", "filename": "a b.txt" });
    let link = h.post_json(&call(LINK), body).await;
    let signed = link["signed_url"].as_str().expect("signed_url");
    let rest = signed
        .strip_prefix("https://front.example:8443/")
        .unwrap_or_else(|| panic!("{signed}"));
    let token = link["token"].as_str().expect("token");
    let response = h.put(&format!("{bound}/{rest}"), token, b"forwarded").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        h.emu.object("demo", "a b.txt").expect("stored").bytes,
        b"forwarded"
    );
}
