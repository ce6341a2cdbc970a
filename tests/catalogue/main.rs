//! The bad-input catalogue: the inputs a person or a service can get wrong (config files,
//! variables, flags, site folders, credentials, answers of the API and of the upload store), in
//! one table. Each row is one bad input and what must follow from it:
//!
//! - one line that names the cause and what to do: the `error:` line, last on standard error,
//!   or for what is only skipped, the warning naming it;
//! - the documented exit code (README.md, "When things go wrong", summarises this table);
//! - no panic, and no credential printed (the variables' secrets, and every token or link
//!   signature the emulator handed out);
//! - no request that the input should have stopped (a refused key asks for no upload link);
//! - where a site was deployed before, nothing of it lost: the store serves the same bytes, and
//!   the manifest is byte-identical (or, when the run went on, still records every file).
//!
//! Each row is a test of its own, named by the row: `cargo test --test catalogue ROW` runs one.
//!
//! The rows are in `rows/`, a file a topic; `case.rs` says what a row holds, `service.rs` what
//! its command talks to, and `prepare.rs` what it puts in its folder.

#[path = "../common/mod.rs"]
mod common;

mod case;
mod prepare;
mod rows;
mod service;

use std::collections::BTreeMap;

use case::{Case, Says, Sent};
use common::run_tool;
use libtest_mimic::Trial;
use service::Service;

/// Each row is a test of its own (`cargo test --test catalogue ROW` runs the rows whose name
/// holds ROW), beside two checks of the table and the defaults.
fn main() -> std::process::ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    // A row mostly waits on a child process or on the backoff of retries, not on a core.
    args.test_threads.get_or_insert(6);
    let runtime = std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
    );
    let mut trials = vec![
        Trial::test("the catalogue: rows have distinct names", || {
            let rows = rows::all().count();
            let mut names: Vec<&str> = rows::all().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            match names.len() == rows && rows >= 40 {
                true => Ok(()),
                false => Err(format!("{rows} rows, {} distinct names", names.len()).into()),
            }
        }),
        Trial::test(
            "the emulator listens on loopback unless told otherwise",
            || {
                let config =
                    tcb_deploy::config::Config::load(None, &BTreeMap::new(), Default::default())
                        .map_err(|e| format!("the defaults do not load: {e}"))?;
                match config.emulator_addr.ip().is_loopback() {
                    true => Ok(()),
                    false => Err(format!("{config:?}").into()),
                }
            },
        ),
    ];
    trials.extend(rows::all().map(|case| {
        let runtime = std::sync::Arc::clone(&runtime);
        Trial::test(case.name, move || {
            let problems = runtime.block_on(check(case));
            match problems.is_empty() {
                true => Ok(()),
                false => Err(problems.join("\n").into()),
            }
        })
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// Runs one case; returns what is wrong with it.
async fn check(case: &'static Case) -> Vec<String> {
    let mut problems = Vec::new();
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();
    let service = match Service::start(case, root).await {
        Ok(service) => service,
        Err(problem) => return vec![problem],
    };
    if let Service::Emulator { h, .. } = &service {
        (case.then)(h);
    }
    (case.prepare)(root);

    let expand = |text: &str| {
        text.replace("{root}", &root.display().to_string())
            .replace("{api}", &service.addr())
    };
    let args: Vec<String> = case.args.iter().map(|a| expand(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut vars = service.vars(root);
    for (key, value) in case.vars {
        vars.retain(|(k, _)| k != key);
        if !value.is_empty() {
            vars.push((key.to_string(), expand(value)));
        }
    }
    // Without it a command would go to the real service.
    assert!(
        vars.iter().any(|(k, _)| k == "TCB_API_BASE"),
        "{}: no TCB_API_BASE",
        case.name
    );
    let before = service.seen();
    let run = tokio::time::timeout(common::daemon::DEADLINE, run_tool(&args, &vars)).await;
    let Ok(run) = run else {
        return vec![format!(
            "still running after {:?}",
            common::daemon::DEADLINE
        )];
    };
    let sent = service.seen().since(&before);
    let output = run.output();
    let shown = || format!("\n  stdout: {:?}\n  stderr: {:?}", run.stdout, run.stderr);

    if run.code != case.exit {
        problems.push(format!(
            "exit code {}, not {}{}",
            run.code,
            case.exit,
            shown()
        ));
    }
    if output.contains("panicked") || output.contains("RUST_BACKTRACE") {
        problems.push(format!("panicked{}", shown()));
    }
    match case.says {
        Says::Error => {
            let errors: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .collect();
            let last = run.stderr.lines().rev().find(|l| !l.trim().is_empty());
            match errors.as_slice() {
                [line] if last == Some(*line) => problems.extend(says(case, line)),
                _ => problems.push(format!(
                    "not one `error:` line, last on standard error{}",
                    shown()
                )),
            }
        }
        Says::Warning(naming) => {
            let warning = run
                .stderr
                .lines()
                .find(|l| l.contains(" WARN ") && l.contains(naming));
            match warning {
                Some(line) => problems.extend(says(case, line)),
                None => problems.push(format!("no warning naming {naming:?}{}", shown())),
            }
            if run.stderr.contains("error: ") {
                problems.push(format!("an error line for a warning{}", shown()));
            }
        }
    }
    let mut secrets: Vec<String> = vars
        .iter()
        .filter(|(k, _)| ["TOKEN", "SECRET", "TICKET"].iter().any(|s| k.contains(s)))
        .filter(|(k, _)| !k.ends_with("_FILE") && !k.ends_with("_COMMAND"))
        .map(|(_, v)| v.clone())
        .collect();
    secrets.extend(case.hidden.iter().map(|h| h.to_string()));
    secrets.extend(service.issued_credentials());
    for secret in secrets {
        if output.contains(&secret) {
            problems.push(format!("printed the secret {secret:?}{}", shown()));
        }
    }
    match case.sent {
        Sent::Nothing if sent.requests > 0 => problems.push(format!(
            "{} requests were sent; none should be",
            sent.requests
        )),
        Sent::Links(n) if sent.links != n => {
            problems.push(format!("{} upload links asked, not {n}", sent.links));
        }
        Sent::LinksAtMost(n) if sent.links > n => {
            problems.push(format!(
                "{} upload links asked, not at most {n}",
                sent.links
            ));
        }
        Sent::Requests(n) if sent.requests != n => {
            problems.push(format!("{} requests, not {n}", sent.requests));
        }
        _ => {}
    }
    problems.extend(service.kept(case, root, run.code));
    problems
}

/// What is wrong with the line the user is shown.
fn says(case: &Case, line: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for part in case.cause.iter().chain(case.fix) {
        if !line.contains(part) {
            problems.push(format!("the line does not say {part:?}: {line:?}"));
        }
    }
    if line.chars().count() > 600 {
        problems.push(format!(
            "the line is {} characters long",
            line.chars().count()
        ));
    }
    problems
}
