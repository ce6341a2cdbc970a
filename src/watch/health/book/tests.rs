//! The book's tests: reports in, health state and log lines out. A capturing log writer reads
//! the health state as each line is written, which shows that a line never comes before the
//! state it reports.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use super::*;

const WWW: SiteId = SiteId(1);
const REFUSED: &str = "staticuploadfile answered errcode 61007 (api unauthorized)";

/// A log line, and the health state as it was when the line was written.
type Seen = Arc<Mutex<Vec<(String, BTreeMap<String, SiteHealth>)>>>;

struct Capture {
    health: Health,
    seen: Seen,
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let line = String::from_utf8_lossy(buf).into_owned();
        let state = self.health.snapshot();
        self.seen.lock().expect("not poisoned").push((line, state));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A book of one site, `www`, with the log lines its reports write.
fn book() -> (HealthBook, Seen) {
    let mut book = HealthBook::new(Health::default(), &[PathBuf::from("/run/ticket")]);
    book.add(WWW, "www", "env-1");
    (book, Seen::default())
}

/// Applies `reports` with the log captured.
fn apply(book: &HealthBook, seen: &Seen, reports: Vec<Report>) {
    let (health, seen) = (book.health().clone(), Arc::clone(seen));
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || Capture {
            health: health.clone(),
            seen: Arc::clone(&seen),
        })
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for report in reports {
            book.apply(WWW, report);
        }
    });
}

/// The line containing `text`, and the state of `www` when it was written.
fn line(seen: &Seen, text: &str) -> (String, SiteHealth) {
    let seen = seen.lock().expect("not poisoned");
    let (line, state) = seen
        .iter()
        .find(|(line, _)| line.contains(text))
        .unwrap_or_else(|| panic!("no line with {text:?} in {seen:?}"));
    (line.clone(), state.get("www").cloned().unwrap_or_default())
}

fn refused(repeat: bool, secs: u64) -> Report {
    Report::Cycle(CycleEnd {
        deployed: None,
        failed: Some(Failed {
            failure: Failure::Permanent,
            error: format!("{REFUSED}: grant the permission"),
            cause: REFUSED.to_owned(),
            retry_in: Duration::from_secs(secs),
            repeat,
        }),
    })
}

fn deployed(uploaded: usize) -> Report {
    Report::Cycle(CycleEnd {
        deployed: Some(Deployed {
            uploaded,
            url: Some("https://www.example".into()),
            ..Deployed::default()
        }),
        failed: None,
    })
}

#[test]
fn each_line_finds_the_state_it_reports_already_written() {
    let (book, seen) = book();
    let reports = vec![
        Report::Watching,
        refused(false, 30),
        refused(true, 60),
        deployed(2),
    ];
    apply(&book, &seen, reports);

    let (first, state) = line(&seen, "deploy refused, and trying again will not help");
    assert!(first.contains("trying again in 30s"), "{first}");
    assert!(
        first.contains("/run/ticket"),
        "names the credential file: {first}"
    );
    assert_eq!(state.failure, Some(FailureKind::Permanent));
    assert_eq!(state.cycles_failed, 1);

    let (again, state) = line(&seen, "deploy still refused the same way");
    assert!(again.contains("trying again in 60s"), "{again}");
    assert_eq!(state.cycles_failed, 2);
    assert_eq!(state.cause.as_deref(), Some(REFUSED));
    let next = state.next_retry_unix.expect("a next try");
    assert!(next >= unix_now() + 55, "{next}");

    let (_, state) = line(&seen, "deployed");
    assert_eq!(state.files_uploaded_total, 2);
    assert_eq!(state.failure, None);
    assert_eq!(state.next_retry_unix, None);
    assert_eq!(state.url.as_deref(), Some("https://www.example"));
    assert!(state.watching);
    assert_eq!(state.env, "env-1");
}

#[test]
fn a_panic_marks_the_site_failed_before_it_is_logged_and_a_success_clears_it() {
    let (book, seen) = book();
    let panicked = Report::Panicked {
        message: "index out of bounds".into(),
        restart_in: Duration::from_secs(4),
    };
    apply(&book, &seen, vec![panicked]);
    let (logged, state) = line(&seen, "the site's worker panicked");
    assert!(logged.contains("starting it again in 4s"), "{logged}");
    assert_eq!(state.failure, Some(FailureKind::Panic));
    let error = state.last_error.expect("an error");
    assert!(error.contains("index out of bounds"), "{error}");
    assert!(state.next_retry_unix.is_some());

    apply(&book, &seen, vec![deployed(0)]);
    let state = &book.health().snapshot()["www"];
    assert_eq!((state.failure, state.last_error.as_ref()), (None, None));
}

#[test]
fn a_missing_folder_is_told_once_until_it_is_back() {
    let (book, seen) = book();
    let gone = || Report::NoFolder {
        dir: PathBuf::from("/srv/dist"),
    };
    apply(&book, &seen, vec![gone(), gone()]);
    let (_, state) = line(&seen, "the folder is missing or empty");
    assert!(state.waiting_for_folder);
    let told = |seen: &Seen| {
        let seen = seen.lock().expect("not poisoned");
        seen.iter()
            .filter(|(line, _)| line.contains("missing or empty"))
            .count()
    };
    assert_eq!(told(&seen), 1);
    apply(&book, &seen, vec![Report::FolderBack, gone()]);
    assert_eq!(told(&seen), 2, "told again once it had come back");
}

#[test]
fn store_status_changes_are_logged_and_leaving_online_is_a_warning() {
    let (book, seen) = book();
    let status = |s: &str| Report::StoreStatus(s.to_owned());
    apply(&book, &seen, vec![status("online"), status("processing")]);
    let (warned, state) = line(&seen, "no longer online");
    assert!(warned.contains("WARN"), "{warned}");
    assert_eq!(state.status.as_deref(), Some("processing"));
}

#[test]
fn a_stopped_sites_last_reports_are_let_go() {
    let (mut book, seen) = book();
    apply(&book, &seen, vec![Report::Watching]);
    book.remove(WWW);
    // A new site of the same name runs under a new number.
    book.add(SiteId(2), "www", "env-2");
    apply(&book, &seen, vec![deployed(5)]);
    assert!(book.health().snapshot().is_empty(), "no ghost entry");
}
