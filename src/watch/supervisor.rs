//! Keeps a site's worker running: a worker that panics is logged, marked failed in the health
//! state (so `/healthz` answers 503) and started afresh after a wait that grows with each
//! panic in a row, never silently gone. A worker that ends without panicking (the daemon asked
//! it to) ends the supervision.
//!
//! The worker runs inside the supervisor's own task rather than a task of its own, so that
//! aborting the supervisor (the daemon's grace period ran out) drops the worker too.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::health::{FailureKind, Health};
use super::retry::{LONGEST_WAIT, restart_wait};
use super::worker::unix_now;

/// A worker that ran this long before panicking panicked once, not "again": the next restart
/// waits the least.
const STEADY_AFTER: Duration = LONGEST_WAIT;

/// Runs the worker `make` returns until it ends without panicking or `shutdown` turns true;
/// after a panic, waits and calls `make` again for a fresh worker.
pub async fn supervise<F, Fut>(
    site: String,
    health: Health,
    mut shutdown: watch::Receiver<bool>,
    mut make: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut panics = 0;
    loop {
        let started = Instant::now();
        let Err(payload) = AssertUnwindSafe(make()).catch_unwind().await else {
            return;
        };
        if started.elapsed() >= STEADY_AFTER {
            panics = 0;
        }
        let wait = restart_wait(panics);
        panics += 1;
        let message = panic_message(payload.as_ref());
        tracing::error!(
            site = %site,
            panic = %message,
            "the site's worker panicked (a bug; please report it); starting it again in {}s",
            wait.as_secs()
        );
        health.failed(
            &site,
            FailureKind::Panic,
            format!("the worker panicked ({message}); restarting it"),
            format!("worker panicked: {message}"),
            Some(unix_now() + wait.as_secs()),
        );
        if *shutdown.borrow_and_update() {
            return;
        }
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The text a panic was raised with, when it is text.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    crate::text::snippet(text.as_bytes(), 200)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::sync::mpsc;

    use super::*;
    use crate::watch::health::SiteHealth;

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_is_marked_failed_and_started_again() {
        let health = Health::default();
        let (stop, shutdown) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<(Instant, Option<SiteHealth>)>();
        let t0 = Instant::now();
        let supervisor = tokio::spawn(supervise("www".into(), health.clone(), shutdown.clone(), {
            let (runs, health, shutdown) = (Arc::clone(&runs), health.clone(), shutdown.clone());
            move || {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                let (health, seen_tx, mut shutdown) =
                    (health.clone(), seen_tx.clone(), shutdown.clone());
                async move {
                    if run == 0 {
                        panic!("index out of bounds");
                    }
                    // The fresh worker sees what the health state showed while it was down.
                    let _ = seen_tx.send((Instant::now(), health.lock().get("www").cloned()));
                    let _ = shutdown.wait_for(|s| *s).await;
                }
            }
        }));

        let (restarted_at, shown) = seen.recv().await.expect("a second worker started");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(restarted_at - t0 >= restart_wait(0), "after the wait");
        let shown = shown.expect("the site is in the health state");
        assert_eq!(shown.failure, Some(FailureKind::Panic));
        let error = shown.last_error.expect("an error");
        assert!(error.contains("index out of bounds"), "{error}");
        assert!(shown.next_retry_unix.is_some());

        stop.send(true).expect("the supervisor listens");
        supervisor.await.expect("the supervisor ends");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "not started again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_during_shutdown_is_not_followed_by_a_restart() {
        let health = Health::default();
        let (stop, shutdown) = watch::channel(false);
        let stop = Arc::new(stop);
        let runs = Arc::new(AtomicU32::new(0));
        supervise("www".into(), health.clone(), shutdown, {
            let (runs, stop) = (Arc::clone(&runs), Arc::clone(&stop));
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
                let stop = Arc::clone(&stop);
                async move {
                    let _ = stop.send(true);
                    panic!("while stopping");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            health.lock().get("www").and_then(|h| h.failure),
            Some(FailureKind::Panic)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn panics_in_a_row_wait_longer_each_time() {
        let (_stop, shutdown) = watch::channel(false);
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let supervisor = tokio::spawn(supervise("www".into(), Health::default(), shutdown, {
            move || {
                let _ = started_tx.send(Instant::now());
                async { panic!("again") }
            }
        }));
        let mut at = Vec::new();
        for _ in 0..4 {
            at.push(started.recv().await.expect("started"));
        }
        supervisor.abort();
        let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
        assert_eq!(gaps, [1, 2, 4]);
    }
}
