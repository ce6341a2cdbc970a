//! Keeps a site's worker running. A worker returns `Ok(())` when its token asked it to stop,
//! which ends the supervision, or a [`CriticalError`]. A panic is caught and becomes one
//! ([`CriticalError::Panicked`]): it is reported to the daemon's loop (which marks the site
//! failed, so `/healthz` answers 503, and logs it) and a fresh worker starts after a wait that
//! grows with each panic in a row, so a site is never silently gone. A worker that can no longer
//! report ([`CriticalError::Unheard`]) ends the supervision: the daemon is ending.
//!
//! The worker runs inside the supervisor's own task rather than a task of its own, so that
//! aborting the supervisor (the daemon's grace period ran out) drops the worker too.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::report::{CriticalError, Report, Reporter};
use super::retry::{LONGEST_WAIT, restart_wait};

/// A worker that ran this long before panicking panicked once, not "again": the next restart
/// waits the least.
const STEADY_AFTER: Duration = LONGEST_WAIT;

/// Runs the worker `make` returns until it ends without a critical error or `stop` is
/// cancelled; after a panic, reports it, waits and calls `make` again for a fresh worker.
pub async fn supervise<F, Fut>(stop: CancellationToken, reporter: Reporter, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), CriticalError>>,
{
    let mut panics = 0;
    loop {
        let started = Instant::now();
        let message = match run(make()).await {
            Ok(()) | Err(CriticalError::Unheard) => return,
            Err(CriticalError::Panicked { message }) => message,
        };
        if started.elapsed() >= STEADY_AFTER {
            panics = 0;
        }
        let restart_in = restart_wait(panics);
        panics += 1;
        let told = reporter.send(Report::Panicked {
            message,
            restart_in,
        });
        if told.is_err() || stop.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(restart_in) => {}
        }
    }
}

/// Runs one worker to its end; a panic is its critical error.
async fn run<Fut>(worker: Fut) -> Result<(), CriticalError>
where
    Fut: Future<Output = Result<(), CriticalError>>,
{
    match AssertUnwindSafe(worker).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(CriticalError::Panicked {
            message: panic_message(payload.as_ref()),
        }),
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
    use crate::watch::health::{FailureKind, Health, HealthBook};
    use crate::watch::report::{self, CycleEnd, Deployed, Inbox, SiteId};

    const WWW: SiteId = SiteId(1);
    const DOCS: SiteId = SiteId(2);

    /// A book of `www` and `docs`, as the daemon's loop keeps it.
    fn book() -> HealthBook {
        let mut book = HealthBook::new(Health::default(), &[]);
        book.add(WWW, "www", "env-1");
        book.add(DOCS, "docs", "env-2");
        book
    }

    /// Applies every report waiting in `inbox`, as the loop does.
    fn apply_waiting(book: &HealthBook, inbox: &mut Inbox) -> usize {
        let mut applied = 0;
        while let Ok((site, report)) = inbox.try_recv() {
            book.apply(site, report);
            applied += 1;
        }
        applied
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_is_reported_and_started_again() {
        let (reports, mut inbox) = report::channel();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<Instant>();
        let t0 = Instant::now();
        let supervisor = tokio::spawn(supervise(stop.clone(), reports.reporter(WWW), {
            let (runs, stop) = (Arc::clone(&runs), stop.clone());
            move || {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                let (seen_tx, stop) = (seen_tx.clone(), stop.clone());
                async move {
                    if run == 0 {
                        panic!("index out of bounds");
                    }
                    let _ = seen_tx.send(Instant::now());
                    stop.cancelled().await;
                    Ok(())
                }
            }
        }));

        let restarted_at = seen.recv().await.expect("a second worker started");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(restarted_at - t0 >= restart_wait(0), "after the wait");
        // The panic was reported before the fresh worker started: the site showed failed
        // while it was down.
        let book = book();
        assert_eq!(apply_waiting(&book, &mut inbox), 1);
        let shown = book.health().snapshot()["www"].clone();
        assert_eq!(shown.failure, Some(FailureKind::Panic));
        let error = shown.last_error.expect("an error");
        assert!(error.contains("index out of bounds"), "{error}");
        assert!(shown.next_retry_unix.is_some());

        stop.cancel();
        supervisor.await.expect("the supervisor ends");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "not started again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_panic_during_shutdown_is_reported_and_not_followed_by_a_restart() {
        let (reports, mut inbox) = report::channel();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        supervise(stop.clone(), reports.reporter(WWW), {
            let (runs, stop) = (Arc::clone(&runs), stop.clone());
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                async move {
                    stop.cancel();
                    panic!("while stopping");
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let book = book();
        apply_waiting(&book, &mut inbox);
        assert_eq!(
            book.health().snapshot().get("www").and_then(|h| h.failure),
            Some(FailureKind::Panic)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn panics_in_a_row_wait_longer_each_time() {
        let (reports, _inbox) = report::channel();
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let supervisor = tokio::spawn(supervise(
            CancellationToken::new(),
            reports.reporter(WWW),
            move || {
                let _ = started_tx.send(Instant::now());
                async { panic!("again") }
            },
        ));
        let mut at = Vec::new();
        for _ in 0..4 {
            at.push(started.recv().await.expect("started"));
        }
        supervisor.abort();
        let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
        assert_eq!(gaps, [1, 2, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_can_no_longer_report_ends_the_supervision() {
        let (reports, _inbox) = report::channel();
        let runs = Arc::new(AtomicU32::new(0));
        supervise(CancellationToken::new(), reports.reporter(WWW), {
            let runs = Arc::clone(&runs);
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
                async { Err(CriticalError::Unheard) }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_site_whose_worker_panics_is_failed_while_another_goes_on() {
        let (reports, mut inbox) = report::channel();
        let daemon = CancellationToken::new();
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let panicking = tokio::spawn(supervise(
            daemon.child_token(),
            reports.reporter(WWW),
            move || {
                let _ = started_tx.send(());
                async { panic!("a bug") }
            },
        ));
        let (deployed_tx, mut deployed) = mpsc::unbounded_channel();
        let steady = tokio::spawn(supervise(daemon.child_token(), reports.reporter(DOCS), {
            let (reporter, stop) = (reports.reporter(DOCS), daemon.child_token());
            move || {
                let (reporter, stop, deployed_tx) =
                    (reporter.clone(), stop.clone(), deployed_tx.clone());
                async move {
                    reporter.send(Report::Watching)?;
                    let cycle = CycleEnd {
                        deployed: Some(Deployed::default()),
                        failed: None,
                    };
                    reporter.send(Report::Cycle(cycle))?;
                    let _ = deployed_tx.send(());
                    stop.cancelled().await;
                    Ok(())
                }
            }
        }));
        deployed.recv().await.expect("docs deployed");
        for _ in 0..3 {
            started.recv().await.expect("www started again");
        }
        let book = book();
        // docs' two reports, and at least the two panics before www's third start.
        assert!(apply_waiting(&book, &mut inbox) >= 4);
        let sites = book.health().snapshot();
        assert_eq!(sites["www"].failure, Some(FailureKind::Panic));
        assert_eq!(sites["docs"].failure, None);
        assert!(sites["docs"].watching);
        assert!(!steady.is_finished(), "docs is still watched");

        daemon.cancel();
        steady.await.expect("docs ends");
        panicking.await.expect("www ends");
    }
}
