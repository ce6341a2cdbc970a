//! The build command's tests: real `sh` processes, their output captured.

use std::future::Future;

use futures_util::FutureExt;
use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream, Lines};

use super::*;

/// A guard against a hung test, never a synchronisation.
const LIMIT: Duration = Duration::from_secs(30);

type Output = Lines<BufReader<DuplexStream>>;

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("the test took too long")
}

fn argv(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs `sh -c script` with its relayed lines captured.
fn sh(script: &str) -> (BuildCommand, Output, Output) {
    let (out_sink, out) = tokio::io::duplex(1 << 20);
    let (err_sink, err) = tokio::io::duplex(1 << 20);
    let build =
        BuildCommand::spawn_with(&argv(&["sh", "-c", script]), "[build] ", out_sink, err_sink)
            .expect("sh starts");
    (
        build,
        BufReader::new(out).lines(),
        BufReader::new(err).lines(),
    )
}

async fn next_line(output: &mut Output) -> String {
    within(output.next_line())
        .await
        .expect("the relayed output is UTF-8")
        .expect("one more line")
}

/// The lines already relayed, up to the end of the output; stops short if the relay has not
/// finished.
fn relayed(output: &mut Output) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    loop {
        match output.next_line().now_or_never() {
            Some(Ok(Some(line))) => lines.push(line),
            Some(Ok(None)) => return (lines, true),
            Some(Err(error)) => panic!("relayed output is not UTF-8: {error}"),
            None => return (lines, false),
        }
    }
}

async fn until_end(output: &mut Output) {
    while within(output.next_line()).await.expect("UTF-8").is_some() {}
}

/// Whether the process `pid` exits within `limit` (`Duration::ZERO`: whether it has exited).
/// A zombie counts as exited: it answers `kill -0`, and PID 1 of a container may never reap
/// it. Closing its pipes comes a moment before a process is a zombie, so the test waits for
/// the exit itself: a pidfd becomes readable when its process has exited.
fn exits_within(pid: &str, limit: Duration) -> bool {
    let pid: libc::pid_t = pid.trim().parse().expect("a pid");
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let error = io::Error::last_os_error();
        assert_eq!(
            error.raw_os_error(),
            Some(libc::ESRCH),
            "pidfd_open: {error}"
        );
        return true; // Already reaped.
    }
    let fd = libc::c_int::try_from(fd).expect("a descriptor");
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(limit.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `poll` points to one valid pollfd for the duration of the call; `fd` is ours
    // and closed exactly once.
    let ready = unsafe {
        let ready = libc::poll(&mut poll, 1, millis);
        libc::close(fd);
        ready
    };
    assert!(ready >= 0, "poll: {}", io::Error::last_os_error());
    ready == 1
}

#[tokio::test]
async fn relays_both_streams_with_the_prefix_and_reports_the_exit_code() {
    let (mut build, mut out, mut err) = sh("echo out; echo err >&2; exit 3");
    assert_eq!(within(build.wait()).await.unwrap(), 3);
    // Everything was relayed before `wait` returned.
    assert_eq!(relayed(&mut out), (vec!["[build] out".to_owned()], true));
    assert_eq!(relayed(&mut err), (vec!["[build] err".to_owned()], true));
}

#[tokio::test]
async fn passes_invalid_utf8_lossily_and_long_lines_whole() {
    let (mut build, mut out, _err) =
        sh(r"printf 'a\377b\r\n'; head -c 300000 /dev/zero | tr '\0' x");
    assert_eq!(within(build.wait()).await.unwrap(), 0);
    let long = format!("[build] {}", "x".repeat(300_000));
    assert_eq!(
        relayed(&mut out),
        (vec!["[build] a\u{FFFD}b".to_owned(), long], true)
    );
}

#[tokio::test]
async fn a_missing_program_is_named_with_a_hint() {
    let error = BuildCommand::spawn(&argv(&["tcb-deploy-no-such-program", "x"]), "[build] ")
        .expect_err("no such program");
    assert!(matches!(error, ChildError::NotFound { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("`tcb-deploy-no-such-program`"),
        "{message}"
    );
    assert!(message.contains("PATH"), "{message}");
}

#[tokio::test]
async fn an_empty_command_is_refused() {
    let error = BuildCommand::spawn(&[], "[build] ").expect_err("empty");
    assert!(matches!(error, ChildError::Empty), "{error:?}");
    let error = BuildCommand::spawn(&argv(&[""]), "[build] ").expect_err("empty program");
    assert!(matches!(error, ChildError::Empty), "{error:?}");
}

#[tokio::test]
async fn a_file_without_execute_permission_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("build.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let error = BuildCommand::spawn(&[script.clone().into_os_string()], "[build] ")
        .expect_err("not executable");
    assert!(
        matches!(error, ChildError::NotExecutable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&*script.to_string_lossy()),
        "{error}"
    );
}

#[tokio::test]
async fn a_forwarded_sigterm_reaches_the_childs_trap() {
    let (mut build, mut out, _err) =
        sh("trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done");
    assert_eq!(next_line(&mut out).await, "[build] ready");
    build.signal(Signal::Term);
    assert_eq!(within(build.wait()).await.unwrap(), 7);
}

#[tokio::test]
async fn stop_kills_a_child_that_ignores_sigterm() {
    let (mut build, mut out, _err) = sh("trap '' TERM; echo ready; while :; do sleep 1; done");
    assert_eq!(next_line(&mut out).await, "[build] ready");
    let code = within(build.stop(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(code, 128 + 9);
}

#[tokio::test]
async fn stop_takes_the_grandchildren_down_too() {
    let (mut build, mut out, _err) = sh("sleep 1000 & echo $!; wait");
    let grandchild = next_line(&mut out).await.replace("[build] ", "");
    assert!(!exits_within(&grandchild, Duration::ZERO));
    let code = within(build.stop(Duration::from_secs(10))).await.unwrap();
    assert_eq!(code, 128 + 15);
    assert!(
        exits_within(&grandchild, LIMIT),
        "sleep {grandchild} survived"
    );
}

#[tokio::test]
async fn dropping_a_running_command_terminates_its_group() {
    let (build, mut out, _err) = sh("sleep 1000 & echo $!; echo ready; wait");
    let leader = build.id().expect("running").to_string();
    let grandchild = next_line(&mut out).await.replace("[build] ", "");
    assert_eq!(next_line(&mut out).await, "[build] ready");
    drop(build);
    // The output ends when the last process holding it has exited.
    until_end(&mut out).await;
    assert!(exits_within(&leader, LIMIT), "sh {leader} survived");
    assert!(
        exits_within(&grandchild, LIMIT),
        "sleep {grandchild} survived"
    );
}

#[tokio::test]
async fn wait_returns_while_a_process_left_behind_holds_the_output_and_stop_ends_it() {
    let (mut build, mut out, _err) = sh("sleep 1000 & echo $!");
    assert_eq!(within(build.wait()).await.unwrap(), 0);
    let (lines, ended) = relayed(&mut out);
    assert!(!ended, "the sleep still holds the output");
    let grandchild = lines[0].replace("[build] ", "");
    assert!(!exits_within(&grandchild, Duration::ZERO));
    // The leader is reaped, but the group lives on in the sleep and is still signalled.
    assert_eq!(
        within(build.stop(Duration::from_secs(10))).await.unwrap(),
        0
    );
    assert!(
        exits_within(&grandchild, LIMIT),
        "sleep {grandchild} survived"
    );
}

#[tokio::test]
async fn wait_is_cancel_safe() {
    let (mut build, mut out, _err) = sh("sleep 0.3; echo done; exit 5");
    let mut cancelled = 0;
    let code = within(async {
        loop {
            tokio::select! {
                code = build.wait() => break code,
                () = tokio::time::sleep(Duration::from_millis(5)) => cancelled += 1,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 5);
    assert!(cancelled > 0);
    assert_eq!(relayed(&mut out), (vec!["[build] done".to_owned()], true));
}
