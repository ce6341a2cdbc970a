//! The daemon's HTTP endpoints, when `metrics_addr` is set: `/healthz` (200 while every site is
//! watched and its last cycle did not fail, else 503 with the reasons), `/status` (JSON per
//! site) and `/metrics` (Prometheus text). Read-only, no secrets, loopback unless told otherwise.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::health::Health;
use super::metrics::render;
use crate::api::CallCounts;

/// Binds `addr` and accepts connections until `stop` is cancelled; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    calls: CallCounts,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "metrics accept failed");
                        continue;
                    }
                },
            };
            let (health, calls) = (health.clone(), calls.clone());
            let service = service_fn(move |req| {
                let answer = answer(&req, &health, &calls);
                async move { Ok::<_, Infallible>(answer) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer(req: &Request<Incoming>, health: &Health, calls: &CallCounts) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/healthz" => {
            let problems: Vec<String> = health
                .snapshot()
                .iter()
                .filter_map(|(name, h)| {
                    if !h.watching {
                        Some(format!("{name}: not watching"))
                    } else {
                        h.last_error.as_ref().map(|e| format!("{name}: {e}"))
                    }
                })
                .collect();
            if problems.is_empty() {
                reply(StatusCode::OK, "text/plain", "ok\n".into())
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("{}\n", problems.join("\n")),
                )
            }
        }
        "/status" => {
            let sites = health.snapshot();
            let body = serde_json::to_string_pretty(&serde_json::json!({ "sites": sites }))
                .unwrap_or_else(|_| "{}".into());
            reply(StatusCode::OK, "application/json", body + "\n")
        }
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render(health, calls),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /healthz, /status or /metrics\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
