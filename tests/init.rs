//! `init`: a config file that loads and deploys, written without replacing anything.

mod common;

use std::path::Path;

use common::{Harness, Run, finish, tool};

/// Runs the binary in `dir` with `vars`.
async fn run_in(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Run {
    finish(tool(args, vars).current_dir(dir)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn init_finds_the_build_folder_and_writes_a_config_that_deploys() {
    let h = Harness::start().await;
    h.create_store("shop-1").await;
    let project = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(project.path().join("build")).expect("mkdir");
    std::fs::write(project.path().join("build/index.html"), "<p>hi</p>").expect("write");

    let run = run_in(project.path(), &["init", "--env", "shop-1"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("wrote deploy.toml (site folder build)"),
        "{run:?}"
    );
    let text = std::fs::read_to_string(project.path().join("deploy.toml")).expect("written");
    assert!(text.contains("env = \"shop-1\""), "{text}");
    assert!(text.contains("dir = \"build\""), "{text}");

    let run = run_in(
        project.path(),
        &["--config", "deploy.toml", "deploy", "--json"],
        &h.vars(),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let online = h.emulator.object("shop-1", "index.html").expect("deployed");
    assert_eq!(online.bytes, b"<p>hi</p>");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_replaces_a_file_only_with_force() {
    let project = tempfile::tempdir().expect("temp dir");
    let file = project.path().join("deploy.toml");
    std::fs::write(&file, "env = \"mine\"\n").expect("write");

    let run = run_in(
        project.path(),
        &["init", "--env", "e1", "--dir", "web"],
        &[],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("deploy.toml"), "{line}");
    assert!(
        line.contains("exists already; pass --force to replace it"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "env = \"mine\"\n"
    );

    let args = ["init", "--env", "e1", "--dir", "web", "--force"];
    let run = run_in(project.path(), &args, &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("dir = \"web\""), "{text}");
    // Without an env id the line is left for the user, and the hint says so.
    let run = run_in(project.path(), &["init", "other.toml"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("set `env` in it (or TCB_ENV)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("(site folder dist)"),
        "no build folder: {run:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_refuses_a_malformed_env_id() {
    let project = tempfile::tempdir().expect("temp dir");
    let run = run_in(project.path(), &["init", "--env", "not an id"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.error_line().contains("not an id"), "{run:?}");
    assert!(!project.path().join("deploy.toml").exists());
}
