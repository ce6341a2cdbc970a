//! How many connections the HTTP clients opened: a layer around reqwest's connector that counts
//! each one established. A deploy reports the count (`connections`), so that a pool that does
//! not keep its connections alive between files shows as more connections than uploads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// Connections opened so far, shared by the clients that count into it.
#[derive(Clone, Debug, Default)]
pub struct Connections {
    opened: Arc<AtomicU64>,
}

impl Connections {
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// The layer to give `ClientBuilder::connector_layer`.
    pub(super) fn layer(&self) -> CountLayer {
        CountLayer(self.clone())
    }
}

#[derive(Clone)]
pub(super) struct CountLayer(Connections);

impl<S> tower_layer::Layer<S> for CountLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            connections: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct Counted<S> {
    inner: S,
    connections: Connections,
}

impl<S, R> tower_service::Service<R> for Counted<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        let opened = Arc::clone(&self.connections.opened);
        Box::pin(async move {
            let connection = connecting.await?;
            let count = opened.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(connections = count, "connection opened");
            Ok(connection)
        })
    }
}
