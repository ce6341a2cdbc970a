//! Websites on `ENV.localhost`: index pages, redirects, metadata headers, 404s.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Harness;

/// `GET path` sent byte for byte; the answer's text.
async fn raw_get(h: &Harness, env: &str, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(h.emu.addr())
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {env}.localhost:{}\r\nConnection: close\r\n\r\n",
        h.emu.addr().port()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn site_with_files() -> Harness {
    let h = Harness::start().await;
    h.create_store("demo").await;
    h.upload("demo", "index.html", b"<h1>home</h1>", "text/html")
        .await;
    h.upload("demo", "docs/index.html", b"<h1>docs</h1>", "text/html")
        .await;
    h.upload(
        "demo",
        "app.js",
        b"console.log(1)",
        "application/javascript",
    )
    .await;
    h.upload("demo", "a b.txt", b"spaced", "text/plain").await;
    h
}

#[tokio::test]
async fn serves_index_pages_and_metadata() {
    let h = site_with_files().await;
    let site = h.site_client("demo");
    let root = h.emu.site_url("demo");
    assert_eq!(
        root,
        format!("http://demo.localhost:{}/", h.emu.addr().port())
    );

    let home = site.get(&root).send().await.expect("send");
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["content-type"], "text/html");
    assert_eq!(home.headers()["content-length"], "13");
    let etag = home.headers()["etag"].to_str().expect("etag").to_owned();
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            h.emu.object("demo", "index.html").expect("obj").md5
        )
    );
    assert_eq!(home.text().await.expect("body"), "<h1>home</h1>");

    let js = site
        .get(format!("{root}app.js"))
        .send()
        .await
        .expect("send");
    assert_eq!(js.headers()["content-type"], "application/javascript");
    assert_eq!(js.text().await.expect("body"), "console.log(1)");

    let docs = site.get(format!("{root}docs/")).send().await.expect("send");
    assert_eq!(docs.text().await.expect("body"), "<h1>docs</h1>");
    let redirect = site.get(format!("{root}docs")).send().await.expect("send");
    assert_eq!(redirect.status(), 301);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let spaced = site
        .get(format!("{root}a%20b.txt"))
        .send()
        .await
        .expect("send");
    assert_eq!(spaced.text().await.expect("body"), "spaced");

    let head = site
        .head(format!("{root}app.js"))
        .send()
        .await
        .expect("send");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "14");

    let cached = site
        .get(&root)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(cached.status(), 304);

    let post = site.post(&root).send().await.expect("send");
    assert_eq!(post.status(), 405);

    let upper = h.site_client("DEMO");
    let url = format!("http://DEMO.localhost:{}/app.js", h.emu.addr().port());
    assert_eq!(upper.get(url).send().await.expect("send").status(), 200);
}

#[tokio::test]
async fn cache_control_and_default_content_type() {
    let h = Harness::start().await;
    h.create_store("demo").await;
    let (url, token) = h.link("demo", "blob").await;
    let response = h
        .http
        .put(&url)
        .header("x-cos-security-token", token)
        .header("cache-control", "max-age=60")
        .body(&b"\x01\x02"[..])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let blob = h
        .site_client("demo")
        .get(format!("{}blob", h.emu.site_url("demo")))
        .send()
        .await
        .expect("send");
    assert_eq!(blob.headers()["content-type"], "application/octet-stream");
    assert_eq!(blob.headers()["cache-control"], "max-age=60");
}

#[tokio::test]
async fn not_found_pages() {
    let h = site_with_files().await;
    let site = h.site_client("demo");
    let root = h.emu.site_url("demo");
    for path in ["missing.html", "%ff"] {
        let response = site
            .get(format!("{root}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.text().await.expect("body").contains("404"));
    }
    // Dot segments, sent raw (an HTTP client would resolve them before sending).
    for path in [
        "/../demo/index.html",
        "/%2e%2e/index.html",
        "/docs/../index.html",
    ] {
        let head = raw_get(&h, "demo", path).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{path}: {head}");
    }

    h.upload("demo", "404.html", b"custom missing page", "text/html")
        .await;
    let response = site.get(format!("{root}nope")).send().await.expect("send");
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await.expect("body"), "custom missing page");

    let other = h.site_client("nostore");
    let url = h.emu.site_url("nostore");
    assert_eq!(other.get(url).send().await.expect("send").status(), 404);
}
