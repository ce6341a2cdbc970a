//! Upload links and signed PUTs, and the listing, through the library against the emulator.

mod common;

use common::Harness;
use tcb_deploy::api::{CosReaction, PutBody, PutObject};

/// PUTs `bytes` to `signed_url` with `token`, as the deploy engine does.
async fn put_to(
    connection: &tcb_deploy::connection::Connection,
    signed_url: &str,
    token: &tcb_deploy::secret::Secret,
    bytes: &[u8],
) -> Result<tcb_deploy::api::PutAnswer, tcb_deploy::api::CosError> {
    connection
        .remote
        .put_object(
            &PutObject {
                signed_url,
                token,
                content_length: bytes.len() as u64,
                content_type: Some("text/html; charset=utf-8"),
                cache_control: Some("no-cache"),
            },
            PutBody::Bytes(bytes.to_vec()),
        )
        .await
}

async fn put(
    h: &Harness,
    env: &str,
    key: &str,
    bytes: &[u8],
) -> Result<tcb_deploy::api::PutAnswer, tcb_deploy::api::CosError> {
    let connection = h.connect().await;
    let link = connection.remote.upload_link(env, key).await.expect("link");
    let answer = put_to(&connection, &link.signed_url, &link.token, bytes).await;
    connection.close().await;
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn a_put_arrives_byte_identical_with_its_metadata() {
    let h = Harness::start().await;
    h.create_store("up").await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let answer = put(&h, "up", "dir/index.html", &bytes).await.expect("PUT");
    let stored = h.emulator.object("up", "dir/index.html").expect("stored");
    assert_eq!(stored.bytes, bytes);
    assert_eq!(answer.etag.as_deref(), Some(stored.md5.as_str()));
    assert_eq!(
        stored.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(stored.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(h.emulator.counters().puts_stored, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_put_with_the_wrong_token_is_refused() {
    let h = Harness::start().await;
    h.create_store("up").await;
    let connection = h.connect().await;
    let link = connection
        .remote
        .upload_link("up", "a.txt")
        .await
        .expect("link");
    let other = connection
        .remote
        .upload_link("up", "b.txt")
        .await
        .expect("link");
    let err = put_to(&connection, &link.signed_url, &other.token, b"x")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert_eq!(err.reaction(), CosReaction::Fail);
    assert!(h.emulator.object("up", "a.txt").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_link_is_refused_and_calls_for_a_fresh_one() {
    let h = Harness::start().await;
    h.create_store("up").await;
    let connection = h.connect().await;
    let link = connection
        .remote
        .upload_link("up", "late.txt")
        .await
        .expect("link");
    h.emulator.advance_clock(std::time::Duration::from_secs(61));
    let err = put_to(&connection, &link.signed_url, &link.token, b"x")
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("Request has expired"), "{err}");
    assert_eq!(err.reaction(), CosReaction::FreshLink);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_signature_is_refused() {
    let h = Harness::start().await;
    h.create_store("up").await;
    let connection = h.connect().await;
    let link = connection
        .remote
        .upload_link("up", "t.txt")
        .await
        .expect("link");
    // Flip the last hex digit of the signature, whichever way the query is encoded.
    let mut url = link.signed_url.clone();
    let last = url.pop().expect("non-empty");
    url.push(if last == '0' { '1' } else { '0' });
    let err = put_to(&connection, &url, &link.token, b"x")
        .await
        .expect_err("tampered");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert_eq!(err.reaction(), CosReaction::FreshLinkOnce);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_filename_is_refused_by_the_service() {
    let h = Harness::start().await;
    h.create_store("up").await;
    let connection = h.connect().await;
    for bad in ["../x", "/abs", "a\\b", ""] {
        let err = connection
            .remote
            .upload_link("up", bad)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("40097"), "{bad:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_follows_pages_to_the_end() {
    let h = Harness::with(|o| o.list_page_size = 2).await;
    h.create_store("list").await;
    let keys = ["a.html", "b/c.js", "b/d.css", "e.png", "f/g/h.json"];
    for key in keys {
        put(&h, "list", key, key.as_bytes()).await.expect("PUT");
    }
    let connection = h.connect().await;
    let files = connection
        .remote
        .list_files("list", None)
        .await
        .expect("list");
    let listed: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(listed, keys);
    for file in &files {
        assert_eq!(file.size, file.key.len() as u64, "size read from a string");
        assert_eq!(
            file.md5,
            h.emulator.object("list", &file.key).expect("stored").md5
        );
    }
    assert_eq!(h.api_calls("componenttcb/staticfilelist"), 3);

    let under_b = connection
        .remote
        .list_files("list", Some("b/"))
        .await
        .expect("list");
    assert_eq!(under_b.len(), 2);
}
