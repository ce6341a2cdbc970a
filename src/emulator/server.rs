//! The emulator's HTTP server: binding, the accept loop with graceful shutdown, and the
//! dispatch of each request to its role by `Host` header (API, object store, website). Also
//! the shared state every handler sees, and the emulator's own pages (`/`, `/_emulator/*`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use md5::{Digest, Md5};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api::{self, ApiError, Endpoint, valid_env_id};
use super::clock::Clock;
use super::faults::{CounterSet, FaultInjector};
use super::state::{ObjectMeta, StoreState, write_atomic};
use super::tokens::Tokens;
use super::{EmulatorError, EmulatorOptions, cos, lock, website};

/// How long requests in flight may take to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything the handlers share.
pub(crate) struct Shared {
    pub addr: SocketAddr,
    /// `http://IP:PORT`, the API base and the host of signed links.
    pub base_url: String,
    pub link_lifetime: Duration,
    pub create_delay: Duration,
    pub list_page_size: usize,
    pub clock: Clock,
    pub state: StoreState,
    pub tokens: Tokens,
    pub faults: FaultInjector,
    pub counters: CounterSet,
    pub on_put: Option<super::PutHook>,
    no_cloud_dev: Mutex<BTreeSet<String>>,
    /// Endpoint paths that answer this errcode to every well-formed call.
    refusals: Mutex<BTreeMap<String, ApiError>>,
    /// (env, key) of objects the listing shows as uploaded in parts, until their next PUT.
    multipart: Mutex<BTreeSet<(String, String)>>,
}

impl Shared {
    /// `ENV.localhost:PORT`: the env's website host.
    pub(crate) fn domain(&self, env: &str) -> String {
        format!("{env}.localhost:{}", self.addr.port())
    }

    pub(crate) fn bucket(env: &str) -> String {
        format!("emu-static-{env}")
    }

    pub(crate) fn has_cloud_dev(&self, env: &str) -> bool {
        !lock(&self.no_cloud_dev).contains(env)
    }

    pub(crate) fn add_env_without_cloud_dev(&self, env: &str) {
        lock(&self.no_cloud_dev).insert(env.to_owned());
    }

    pub(crate) fn refusal(&self, path: &str) -> Option<ApiError> {
        lock(&self.refusals).get(path).cloned()
    }

    pub(crate) fn set_refusal(&self, path: &str, refusal: Option<ApiError>) {
        let mut refusals = lock(&self.refusals);
        match refusal {
            Some(refusal) => refusals.insert(path.to_owned(), refusal),
            None => refusals.remove(path),
        };
    }

    pub(crate) fn list_as_multipart(&self, env: &str, key: &str) {
        lock(&self.multipart).insert((env.to_owned(), key.to_owned()));
    }

    /// A PUT stores the object whole: from now on its ETag is its MD5 again.
    pub(crate) fn stored_whole(&self, env: &str, key: &str) {
        lock(&self.multipart).remove(&(env.to_owned(), key.to_owned()));
    }

    /// The `md5` the listing shows for `meta`, an object of `env`: its MD5, or for an object
    /// marked by `list_as_multipart` an ETag of the multipart form (`hex-2`; the hex is the MD5
    /// of the MD5's text, so it is stable and never the MD5 of the bytes).
    pub(crate) fn listed_md5(&self, env: &str, meta: &ObjectMeta) -> String {
        let marked = lock(&self.multipart).contains(&(env.to_owned(), meta.key.clone()));
        match marked {
            true => format!("{}-2", hex::encode(Md5::digest(meta.md5.as_bytes()))),
            false => meta.md5.clone(),
        }
    }

    /// Saves what is kept only in memory while running (the upload links).
    pub(crate) async fn flush(&self) {
        let dir = self.state.dir();
        let json = self.tokens.links_json(self.clock.unix_secs());
        if let Err(e) = write_atomic(dir, &dir.join("links.json"), &json).await {
            tracing::warn!(error = %e, dir = %dir.display(), "could not save upload links");
        }
    }
}

/// Loads the data dir and binds the listener.
pub(crate) async fn prepare(
    opts: EmulatorOptions,
) -> Result<(Arc<Shared>, TcpListener), EmulatorError> {
    let dir = opts.data_dir.clone();
    let state = tokio::task::spawn_blocking(move || StoreState::open(&dir))
        .await
        .map_err(|e| EmulatorError::Internal(e.to_string()))??;
    let bind_err = |source| EmulatorError::Bind {
        addr: opts.addr,
        source,
    };
    let listener = TcpListener::bind(opts.addr).await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let clock = Clock::default();
    let tokens = Tokens::new(opts.token_lifetime, opts.faults.token_lifetime_calls)
        .recording(opts.record_credentials);
    match tokio::fs::read(opts.data_dir.join("links.json")).await {
        Ok(json) => tokens.restore_links(&json, clock.unix_secs()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not read saved upload links"),
    }
    let shared = Shared {
        addr,
        base_url: format!("http://{}", advertised(addr)),
        link_lifetime: opts.link_lifetime,
        create_delay: opts.create_delay,
        list_page_size: opts.list_page_size.max(1),
        clock,
        state,
        tokens,
        faults: FaultInjector::new(opts.faults),
        counters: CounterSet::default(),
        on_put: opts.on_put,
        no_cloud_dev: Mutex::new(opts.envs_without_cloud_dev.into_iter().collect()),
        refusals: Mutex::default(),
        multipart: Mutex::default(),
    };
    Ok((Arc::new(shared), listener))
}

/// The address clients should use: the bound one, or loopback when bound to all interfaces.
pub(crate) fn advertised(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Accepts connections until `stop` turns true, then lets requests in flight finish.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    while !*stop.borrow() {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let shared = Arc::clone(&shared);
                    let service = service_fn(move |req| dispatch(Arc::clone(&shared), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended early");
                        }
                    });
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period; dropping them");
    }
}

/// A handler's way of saying: drop the connection without an answer.
#[derive(Debug)]
pub(crate) struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for Reset {}

/// A handler's outcome: a response, or a dropped connection.
pub(crate) type Reply = Result<Response<Body>, Reset>;

/// Which role a request's `Host` asks for.
#[derive(Debug, PartialEq)]
enum Role {
    Api,
    Site(String),
    /// `*.localhost` that is no valid env id.
    NoSite,
}

fn role(host: Option<&str>) -> Role {
    let Some(host) = host else { return Role::Api };
    let host = host.trim().to_ascii_lowercase();
    let name = strip_port(&host);
    let name = name.strip_suffix('.').unwrap_or(name);
    match name.strip_suffix(".localhost") {
        Some(env) if valid_env_id(env) => Role::Site(env.to_owned()),
        Some(_) => Role::NoSite,
        None => Role::Api,
    }
}

/// `name:port` → `name`; `[v6]:port` → `v6`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

async fn dispatch(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let req = req.map(Body::new);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .map(str::to_owned);
    // Only the path is logged: the query carries tokens and signatures.
    tracing::debug!(method = %req.method(), path = req.uri().path(), host, "request");
    match role(host.as_deref()) {
        Role::Site(env) => return Ok(website::serve(&shared, &env, req).await),
        Role::NoSite => return Ok(website::no_site()),
        Role::Api => {}
    }
    match req.uri().path() {
        "/" => return Ok(index_page(&shared)),
        "/_emulator/health" => {
            let health =
                json!({"service": "tcb-deploy-emulator", "version": env!("CARGO_PKG_VERSION")});
            return Ok(json_response(StatusCode::OK, &health));
        }
        "/_emulator/counters" => {
            let counters = serde_json::to_value(shared.counters.snapshot()).unwrap_or_default();
            return Ok(json_response(StatusCode::OK, &counters));
        }
        "/_emulator/confirm-share" => return Ok(confirm_share_page(req.uri().query())),
        _ => {}
    }
    if let Some(endpoint) = Endpoint::from_path(req.uri().path()) {
        return api::handle(&shared, endpoint, req).await;
    }
    if req.method() == Method::PUT {
        return cos::handle_put(&shared, req).await;
    }
    Ok(api::unknown_url())
}

pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub(crate) fn html_response(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>\n{body_html}\n</body></html>\n",
        title = html_escape(title)
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn index_page(shared: &Shared) -> Response<Body> {
    let stores = shared.state.stores();
    let mut body = String::from("<p>Local emulator of the CloudBase static-hosting API.</p>\n");
    if stores.is_empty() {
        body.push_str("<p>No environment has a static store yet.</p>");
    } else {
        body.push_str("<ul>\n");
        for (env, _) in stores {
            let url = html_escape(&format!("http://{}/", shared.domain(&env)));
            body.push_str(&format!(
                "<li>{} — <a href=\"{url}\">{url}</a></li>\n",
                html_escape(&env)
            ));
        }
        body.push_str("</ul>");
    }
    html_response(StatusCode::OK, "tcb-deploy emulator", &body)
}

/// The page behind `batchshareenv`'s confirmation URLs; the emulator records nothing.
fn confirm_share_page(query: Option<&str>) -> Response<Body> {
    let mut env = String::new();
    let mut appid = String::new();
    let mut source_type = String::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "env" => env = value.into_owned(),
            "appid" => appid = value.into_owned(),
            "source_type" => source_type = value.into_owned(),
            _ => {}
        }
    }
    let kind = match source_type.as_str() {
        "0" => "cloud-development environment",
        "1" => "cloud-hosting environment",
        _ => "environment",
    };
    let body = format!(
        "<p>In the real service, the admin of mini program <b>{}</b> confirms here that it may \
         use {kind} <b>{}</b> (source type {}). The emulator needs no confirmation.</p>",
        html_escape(&appid),
        html_escape(&env),
        html_escape(&source_type)
    );
    html_response(StatusCode::OK, "Share environment", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_host() {
        assert_eq!(role(None), Role::Api);
        assert_eq!(role(Some("127.0.0.1:8080")), Role::Api);
        assert_eq!(role(Some("[::1]:8080")), Role::Api);
        assert_eq!(role(Some("localhost")), Role::Api);
        assert_eq!(role(Some("Demo.LocalHost:8080")), Role::Site("demo".into()));
        assert_eq!(role(Some("demo-1.localhost.")), Role::Site("demo-1".into()));
        assert_eq!(role(Some("a.b.localhost:1")), Role::NoSite);
    }
}
