//! The emulator's HTTP server: binding, the accept loop (which counts connections) with graceful
//! shutdown, and the dispatch of each request to its role by `Host` header (API, object store,
//! website), where API calls and PUTs are admitted up to `max_inflight` (`inflight.rs`); and
//! the emulator's own pages (`/`, `/_emulator/*`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api;
use super::call::{Endpoint, valid_env_id};
use super::reply::{Reply, html_escape, html_response, json_response};
use super::shared::Shared;
use super::{cos, website};

/// How long requests in flight may take to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
                    shared.counters.connection_accepted();
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
            let counters = shared.counters.snapshot(&shared.inflight);
            let counters = serde_json::to_value(counters).unwrap_or_default();
            return Ok(json_response(StatusCode::OK, &counters));
        }
        "/_emulator/confirm-share" => return Ok(confirm_share_page(req.uri().query())),
        _ => {}
    }
    // API calls and PUTs hold a slot until their answer is produced (or the connection is
    // gone); beyond `max_inflight` they are refused at once, holding none.
    if let Some(endpoint) = Endpoint::from_path(req.uri().path()) {
        let Some(_slot) = shared.inflight.admit() else {
            return Ok(api::busy(&shared, endpoint));
        };
        return api::handle(&shared, endpoint, req).await;
    }
    if req.method() == Method::PUT {
        let Some(_slot) = shared.inflight.admit() else {
            return Ok(cos::slow_down(&shared, req).await);
        };
        return cos::handle_put(&shared, req).await;
    }
    Ok(api::unknown_url())
}

fn index_page(shared: &Shared) -> Response<Body> {
    let stores = shared.state.stores();
    let mut body = String::from("<p>Local emulator of the CloudBase static-hosting API.</p>\n");
    if stores.is_empty() {
        body.push_str("<p>No environment has a static store yet.</p>");
    } else {
        body.push_str("<ul>\n");
        for (env, _) in stores {
            let url = html_escape(&shared.site_url(&env));
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
