//! HTTP/2 as a user behind a TLS front sees it: when the server offers `h2` by ALPN, the tool's
//! API calls and its PUTs to the signed links all speak HTTP/2, multiplexed over a connection
//! however many are in flight; a front offering only HTTP/1.1 still works, one connection for
//! each request in flight. The front presents a self-signed certificate, which the tool trusts
//! through the standard `SSL_CERT_FILE` and only through it.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Harness, LINK, http_post, numbered_site};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, Version, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tcb_deploy::emulator::DEV_ACCESS_TOKEN;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const FILES: usize = 40;

/// What the front saw.
#[derive(Debug, Default)]
struct Seen {
    /// TCP connections accepted.
    connections: u64,
    /// The protocol each TLS handshake settled on by ALPN (`None`: none was agreed).
    alpn: Vec<Option<Vec<u8>>>,
    /// Every request: its HTTP version, method and path.
    requests: Vec<(Version, Method, String)>,
}

impl Seen {
    fn count(&self, version: Version, method: &Method, path: Option<&str>) -> usize {
        let matches = |(v, m, p): &&(Version, Method, String)| {
            *v == version && m == method && path.is_none_or(|path| p == path)
        };
        self.requests.iter().filter(matches).count()
    }
}

/// A TLS front on 127.0.0.1 with a self-signed certificate for `127.0.0.1` and `localhost`,
/// serving HTTP/1.1 and HTTP/2 (as ALPN agreed) and forwarding every request, path, query and
/// host unchanged, over HTTP/1.1 to an emulator.
struct Front {
    addr: SocketAddr,
    listener: TcpListener,
    /// Holds `cert.pem`, the certificate to trust.
    dir: TempDir,
    acceptor: TlsAcceptor,
    seen: Arc<Mutex<Seen>>,
}

impl Front {
    /// Binds the front and makes its certificate; it serves once given the emulator.
    async fn bind(alpn: &[&[u8]]) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).expect("write");
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, PrivateKeyDer::Pkcs8(key))
            .expect("TLS config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Front {
            addr,
            listener,
            dir,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            seen: Arc::default(),
        }
    }

    /// The URL the emulator advertises and the tool is given.
    fn url(&self) -> url::Url {
        url::Url::parse(&format!("https://{}/", self.addr)).expect("URL")
    }

    /// Serves in the background, forwarding to the emulator at `to`; returns what it sees.
    fn serve(self, to: SocketAddr) -> (Arc<Mutex<Seen>>, TempDir) {
        let Front {
            listener,
            dir,
            acceptor,
            seen,
            ..
        } = self;
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                lock(&log).connections += 1;
                let (acceptor, client, log) = (acceptor.clone(), client.clone(), Arc::clone(&log));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let agreed = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                    lock(&log).alpn.push(agreed);
                    let service = hyper::service::service_fn(move |request| {
                        forward(request, to, client.clone(), Arc::clone(&log))
                    });
                    let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = server.serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        (seen, dir)
    }
}

/// Notes `request` and sends it on to the emulator at `to` as HTTP/1.1, with the host it was
/// sent to (HTTP/2 carries it in the URI, not in a `Host` header).
async fn forward(
    mut request: Request<Incoming>,
    to: SocketAddr,
    client: Client<HttpConnector, Incoming>,
    log: Arc<Mutex<Seen>>,
) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
    let path = request.uri().path().to_owned();
    let entry = (request.version(), request.method().clone(), path);
    lock(&log).requests.push(entry);
    let host = match request.uri().authority() {
        Some(authority) => authority.as_str().to_owned(),
        None => (request.headers().get(header::HOST))
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    };
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = format!("http://{to}{target}").parse().expect("URI");
    *request.version_mut() = Version::HTTP_11;
    let host = header::HeaderValue::from_str(&host).expect("a host");
    request.headers_mut().insert(header::HOST, host);
    client.request(request).await
}

/// Locks what the front saw, even after a panic in one of its tasks.
fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An emulator behind a TLS front, and what the front saw.
struct Behind {
    h: Harness,
    seen: Arc<Mutex<Seen>>,
    /// Holds the front's certificate.
    certs: TempDir,
}

impl Behind {
    /// The PEM file of the front's certificate.
    fn cert_file(&self) -> String {
        self.certs.path().join("cert.pem").display().to_string()
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        lock(&self.seen)
    }
}

/// An emulator behind a front offering `alpn`: its links point at the front, its answers take
/// a little while (so that the tool keeps many requests in flight at once), and it has the
/// static store of `env`, made directly, not through the front.
async fn behind_front(alpn: &[&[u8]], env: &str) -> Behind {
    let front = Front::bind(alpn).await;
    let public = front.url();
    let h = Harness::with(|o| {
        o.public_url = Some(public);
        o.create_delay = Duration::ZERO;
        o.faults.api_latency = Duration::from_millis(20);
        o.faults.put_latency = Duration::from_millis(20);
    })
    .await;
    let target = format!("/componenttcb/createstaticstore?access_token={DEV_ACCESS_TOKEN}");
    let body = serde_json::json!({ "env": env }).to_string();
    let created = http_post(h.emulator.addr(), &target, &body).await;
    assert!(created.contains(r#""errcode":0"#), "{created}");
    let (seen, certs) = front.serve(h.emulator.addr());
    Behind { h, seen, certs }
}

/// API calls and PUTs the emulator has received.
fn received(h: &Harness) -> u64 {
    let counters = h.emulator.counters();
    counters.api_calls.values().sum::<u64>() + counters.puts
}

/// Deploys a fresh site of [`FILES`] files to `env`, trusting the front's certificate by
/// `SSL_CERT_FILE`; once every file is online byte-identical, the report's `connections`.
async fn deploy(b: &Behind, env: &str) -> u64 {
    let h = &b.h;
    let dir = numbered_site(FILES);
    let cert_file = b.cert_file();
    let vars = [("SSL_CERT_FILE", cert_file.as_str())];
    let run = h.deploy(env, dir.path(), &["--json"], &vars).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["uploaded"], FILES, "{report}");
    h.assert_numbered_online(env, FILES);
    report["connections"].as_u64().expect("connections")
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_offering_h2_every_call_and_put_is_http2_on_few_connections() {
    let b = behind_front(&[b"h2", b"http/1.1"], "site").await;
    let h = &b.h;
    let before = received(h);
    let connections = deploy(&b, "site").await;
    let seen = b.seen();
    let all = |version| seen.requests.iter().filter(|r| r.0 == version).count();
    assert_eq!(all(Version::HTTP_11), 0, "{seen:?}");
    // Everything the emulator received came through the front, as HTTP/2.
    assert_eq!(
        all(Version::HTTP_2) as u64,
        received(h) - before,
        "{seen:?}"
    );
    let link = format!("/{LINK}");
    assert!(seen.count(Version::HTTP_2, &Method::POST, Some(&link)) >= FILES);
    let puts = seen.count(Version::HTTP_2, &Method::PUT, None);
    assert_eq!(puts as u64, h.emulator.counters().puts);
    assert!(puts >= FILES, "{puts} PUTs");
    assert!(
        seen.alpn.iter().all(|p| p.as_deref() == Some(b"h2")),
        "{:?}",
        seen.alpn
    );
    // Many requests were in flight at once, yet one connection carries them all: the first
    // call (for a token) goes alone and settles on h2, and every later request shares that
    // connection. The bound leaves room for a second, opened by calls racing to connect before
    // either has agreed on h2; over HTTP/1.1 (below) the same deploy needs one per request in
    // flight.
    let peak = h.emulator.counters().peak_inflight;
    assert!(peak > 2, "only {peak} requests in flight at once");
    assert!((1..=2).contains(&connections), "{connections} connections");
    assert!(
        seen.connections <= 2,
        "the front accepted {}",
        seen.connections
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_front_offering_only_http1_gets_http1_on_a_connection_per_request_in_flight() {
    let b = behind_front(&[b"http/1.1"], "site").await;
    let connections = deploy(&b, "site").await;
    let seen = b.seen();
    let h = &b.h;
    assert!(
        seen.requests.iter().all(|r| r.0 == Version::HTTP_11),
        "{seen:?}"
    );
    assert!(seen.count(Version::HTTP_11, &Method::PUT, None) >= FILES);
    // HTTP/1.1 carries one request at a time on a connection: the tool needs as many as it has
    // requests in flight, which the HTTP/2 test above does with one.
    let peak = h.emulator.counters().peak_inflight;
    assert!(peak > 2, "only {peak} requests in flight at once");
    assert!(
        connections >= peak,
        "{connections} connections, {peak} in flight"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_ssl_cert_file_the_self_signed_front_is_refused() {
    let b = behind_front(&[b"h2", b"http/1.1"], "site").await;
    let h = &b.h;
    let dir = numbered_site(1);
    // One try: a certificate refused is refused again.
    let run = h
        .deploy("site", dir.path(), &[], &[("TCB_RETRY_ATTEMPTS", "1")])
        .await;
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.error_line().to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
    assert!(b.seen().requests.is_empty());
    assert!(h.emulator.object("site", "f000.txt").is_none());
}
