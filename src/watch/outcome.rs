//! How a site's cycle ended, and what follows from it for the site's [`Retry`]: each end
//! becomes the [`Report`] the worker sends to the daemon's loop, which writes the health state
//! and then the log line (`health::book`). Pure, so tested with plain data.

use std::path::PathBuf;

use tokio::time::Instant;

use super::report::{CycleEnd, Deployed, Failed, Report};
use super::retry::{Failure, Retry};

/// How a cycle ended, as the worker saw it.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing was done: the folder is missing or empty.
    NoFolder { dir: PathBuf },
    /// The cycle ran to its end; the files that failed are counted in it.
    Deployed(Deployed),
    /// The cycle stopped as a whole.
    Failed {
        failure: Failure,
        /// The cause and what to do.
        error: String,
        /// The cause, short.
        cause: String,
    },
}

/// Notes in `retry` how a cycle ended at `now`, and says what to report.
pub fn settle(retry: &mut Retry, outcome: Outcome, now: Instant) -> Report {
    let end = match outcome {
        Outcome::NoFolder { dir } => {
            retry.cancel();
            return Report::NoFolder { dir };
        }
        Outcome::Deployed(deployed) if deployed.failed == 0 => {
            retry.succeeded();
            CycleEnd {
                deployed: Some(deployed),
                failed: None,
            }
        }
        Outcome::Deployed(deployed) => {
            let error = format!("{} files failed", deployed.failed);
            let failed = failed(retry, Failure::Transient, error.clone(), error, now);
            CycleEnd {
                deployed: Some(deployed),
                failed: Some(failed),
            }
        }
        Outcome::Failed {
            failure,
            error,
            cause,
        } => CycleEnd {
            deployed: None,
            failed: Some(failed(retry, failure, error, cause, now)),
        },
    };
    Report::Cycle(end)
}

fn failed(
    retry: &mut Retry,
    failure: Failure,
    error: String,
    cause: String,
    now: Instant,
) -> Failed {
    let decision = retry.failed(failure, &cause, now);
    Failed {
        failure,
        error,
        cause,
        retry_in: decision.wait,
        repeat: decision.repeat,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const REFUSED: &str = "staticuploadfile answered errcode 61007 (api unauthorized)";

    fn refused() -> Outcome {
        Outcome::Failed {
            failure: Failure::Permanent,
            error: format!("{REFUSED}: grant the permission"),
            cause: REFUSED.to_owned(),
        }
    }

    fn failure_of(report: Report) -> Failed {
        match report {
            Report::Cycle(CycleEnd {
                failed: Some(failed),
                ..
            }) => failed,
            other => panic!("not a failed cycle: {other:?}"),
        }
    }

    #[test]
    fn files_that_failed_make_a_transient_failure_after_the_deploy() {
        let mut retry = Retry::default();
        let deployed = Deployed {
            uploaded: 3,
            failed: 2,
            ..Deployed::default()
        };
        let report = settle(&mut retry, Outcome::Deployed(deployed), Instant::now());
        let Report::Cycle(end) = report else {
            panic!("a cycle")
        };
        assert_eq!(end.deployed.map(|d| d.uploaded), Some(3));
        let failed = end.failed.expect("a failure");
        assert_eq!(failed.failure, Failure::Transient);
        assert_eq!(failed.error, "2 files failed");
        assert_eq!(failed.retry_in, Duration::from_secs(30));
        assert!(retry.due().is_some());
    }

    #[test]
    fn a_repeated_refusal_waits_longer_and_says_it_repeats() {
        let mut retry = Retry::default();
        let now = Instant::now();
        let first = failure_of(settle(&mut retry, refused(), now));
        assert!(!first.repeat);
        assert_eq!(first.retry_in, Duration::from_secs(30));
        let second = failure_of(settle(&mut retry, refused(), now));
        assert!(second.repeat);
        assert_eq!(second.retry_in, Duration::from_secs(60));
        assert_eq!(second.cause, REFUSED);
    }

    #[test]
    fn a_success_clears_the_retry_and_a_missing_folder_cancels_it() {
        let mut retry = Retry::default();
        let now = Instant::now();
        settle(&mut retry, refused(), now);
        let gone = PathBuf::from("/srv/dist");
        let report = settle(&mut retry, Outcome::NoFolder { dir: gone.clone() }, now);
        assert!(matches!(report, Report::NoFolder { dir } if dir == gone));
        assert_eq!(retry.due(), None);
        let done = settle(&mut retry, Outcome::Deployed(Deployed::default()), now);
        assert!(matches!(done, Report::Cycle(CycleEnd { failed: None, .. })));
        // After the success, the next refusal is new again.
        assert!(!failure_of(settle(&mut retry, refused(), now)).repeat);
    }
}
