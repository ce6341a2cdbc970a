//! README.md tells the truth: every command in its `sh` blocks is listed here with what it must
//! do, and those that do not change the host are run, in README's order, in one scratch project
//! against the emulator (`TCB_API_BASE=local`), as a reader would type them. The configuration
//! reference names every key of the config file.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::daemon::{DEADLINE, Daemon};
use tcb_deploy::config::Settings;

/// What a README command must do.
enum Check {
    /// Runs to its end with this exit code, printing each of these parts (stdout or stderr).
    Exits(i32, &'static [&'static str]),
    /// Keeps running until the end of its block, after a line with each of these parts; then
    /// stops on SIGINT with exit 0.
    Serves(&'static [&'static str]),
    /// Sets a variable for the commands after it, as a shell would.
    Exports,
    /// Not run, for this reason.
    NotRun(&'static str),
}

use Check::*;

const HOST: &str = "installs or changes the host's system configuration";
const BENCH: &str = "a benchmark: minutes of release builds and runs; README gives its figures";

/// Every command of README's `sh` blocks, in README's order.
const COMMANDS: &[(&str, Check)] = &[
    (
        "cargo run -q -- --config deploy.example.toml watch",
        Serves(&["watching for changes", "http://demo.localhost:"]),
    ),
    ("cargo test", NotRun("the command running this test")),
    (
        "cargo run -q -- --config deploy.example.toml status",
        Exits(0, &["online", "http://demo.localhost:"]),
    ),
    (
        "cargo run -q -- --config deploy.example.toml plan",
        Exits(0, &["would upload 0 files", "8 unchanged"]),
    ),
    (
        "cargo install --locked --path .",
        NotRun("a release build of the binary this suite runs"),
    ),
    (
        "tcb-deploy init --env prod-123",
        Exits(0, &["wrote deploy.toml (site folder dist)"]),
    ),
    ("export TCB_ACCESS_TOKEN=…", Exports),
    (
        "tcb-deploy --config deploy.toml create --wait",
        Exits(0, &["prod-123 is online at http://prod-123.localhost:"]),
    ),
    (
        "tcb-deploy --config deploy.toml plan",
        Exits(0, &["index.html"]),
    ),
    (
        "tcb-deploy --config deploy.toml deploy",
        Exits(0, &["uploaded 8 files"]),
    ),
    (
        "tcb-deploy --config deploy.toml status",
        Exits(0, &["online"]),
    ),
    (
        "TCB_ACCESS_TOKEN=… tcb-deploy deploy --env prod-123 --dir dist --json",
        Exits(0, &["\"uploaded\":0", "\"unchanged\":8"]),
    ),
    (
        "mkdir -p .github/workflows && cp config/github-actions.yml .github/workflows/deploy.yml",
        Exits(0, &[]),
    ),
    ("cp config/gitlab-ci.yml .gitlab-ci.yml", Exits(0, &[])),
    (
        "printf '%s\\n' shop-a shop-b shop-c > merchants.txt",
        Exits(0, &[]),
    ),
    (
        "tcb-deploy deploy --dir dist --envs-file merchants.txt",
        Exits(
            0,
            &[
                "shop-a: uploaded 8 files",
                "3 of 3 environments done, 0 failed: 24 files",
                "8 hashed",
            ],
        ),
    ),
    (
        // shop-b and shop-c fall in shard 2 of 2, and are deployed already.
        "tcb-deploy deploy --dir dist --envs-file merchants.txt --shard 2/2 --json",
        Exits(
            0,
            &["\"env\":\"shop-b\"", "\"env\":\"shop-c\"", "\"uploaded\":0"],
        ),
    ),
    (
        "tcb-deploy watch --env dev-123 --dir dist -- npm run build -- --watch",
        Serves(&["uploaded", "built.html"]),
    ),
    ("cargo build --release", NotRun(HOST)),
    (
        "sudo install -m 0755 target/release/tcb-deploy /usr/local/bin/tcb-deploy",
        NotRun(HOST),
    ),
    ("sudo install -d -m 0755 /etc/tcb-deploy", NotRun(HOST)),
    (
        "sudo install -m 0644 deploy.toml /etc/tcb-deploy/deploy.toml      # your [[site]] tables",
        NotRun(HOST),
    ),
    (
        "sudo install -m 0600 token /etc/tcb-deploy/token                  # see Credentials below",
        NotRun(HOST),
    ),
    (
        "sudo install -m 0644 config/tcb-deploy.service /etc/systemd/system/",
        NotRun(HOST),
    ),
    ("sudo systemctl daemon-reload", NotRun(HOST)),
    ("sudo systemctl enable --now tcb-deploy", NotRun(HOST)),
    (
        "systemctl status tcb-deploy            # running? and the one-line status",
        NotRun(HOST),
    ),
    (
        "journalctl -u tcb-deploy -f            # its logs, JSON lines",
        NotRun(HOST),
    ),
    (
        "sudo systemctl reload tcb-deploy       # re-read /etc/tcb-deploy/deploy.toml",
        NotRun(HOST),
    ),
    (
        "sudo systemctl edit tcb-deploy         # adjust the unit (a drop-in that survives upgrades)",
        NotRun(HOST),
    ),
    (
        "echo 'fs.inotify.max_user_watches = 524288' | sudo tee /etc/sysctl.d/90-tcb-deploy.conf",
        NotRun(HOST),
    ),
    ("sudo sysctl --system", NotRun(HOST)),
    (
        "tcb-deploy --config deploy.toml envs",
        Exits(0, &["prod-123", "NORMAL"]),
    ),
    (
        "tcb-deploy --config deploy.toml share --appid wx0123456789abcdef",
        Exits(0, &["wx0123456789abcdef  confirm at http://"]),
    ),
    (
        // The dev build above added built.html to dist/.
        "tcb-deploy --config deploy.toml deploy --site prod-123 --json",
        Exits(0, &["\"uploaded\":1", "\"unchanged\":8"]),
    ),
    (
        "mkdir -p ~/.local/share/bash-completion/completions ~/.zfunc ~/.config/fish/completions",
        Exits(0, &[]),
    ),
    (
        "tcb-deploy completions bash > ~/.local/share/bash-completion/completions/tcb-deploy",
        Exits(0, &[]),
    ),
    (
        "tcb-deploy completions zsh > ~/.zfunc/_tcb-deploy      # with fpath+=(~/.zfunc) in .zshrc",
        Exits(0, &[]),
    ),
    (
        "tcb-deploy completions fish > ~/.config/fish/completions/tcb-deploy.fish",
        Exits(0, &[]),
    ),
    ("mkdir -p ~/.local/share/man/man1", Exits(0, &[])),
    (
        "tcb-deploy man > ~/.local/share/man/man1/tcb-deploy.1",
        Exits(0, &[]),
    ),
    (
        "man tcb-deploy",
        NotRun("needs man-db; tests/reference.rs checks the page"),
    ),
    ("tcb-deploy emulator", Serves(&["emulator listening"])),
    (
        "TCB_API_BASE=http://127.0.0.1:8790 TCB_ACCESS_TOKEN=emulator-dev-token tcb-deploy status --env demo",
        Exits(0, &["online", "http://demo.localhost:"]),
    ),
    (
        "CARGO_TARGET_DIR=target-bench cargo bench --bench deploy [-- nochange hash upload rss]",
        NotRun(BENCH),
    ),
    (
        "CARGO_TARGET_DIR=target-bench cargo bench --bench watch [-- idle latency]",
        NotRun(BENCH),
    ),
    (
        "CARGO_TARGET_DIR=target-bench cargo bench --bench soak",
        NotRun(BENCH),
    ),
    (
        "CARGO_TARGET_DIR=target-bench cargo bench --bench window [-- far near admits cpu]",
        NotRun(BENCH),
    ),
];

fn readme() -> String {
    common::repo_text("README.md")
}

/// The commands of each `sh` block: lines that are not blank or comments, with `\`
/// continuations joined.
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(commands), line) => {
                let line = line.trim();
                if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
                    continue;
                }
                match line.strip_suffix('\\') {
                    Some(start) => pending.push_str(start),
                    None => {
                        pending.push_str(line);
                        commands.push(std::mem::take(&mut pending));
                    }
                }
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_readme_command_is_listed_here() {
    let shown: Vec<String> = sh_blocks(&readme()).into_iter().flatten().collect();
    let listed: Vec<&str> = COMMANDS.iter().map(|(c, _)| *c).collect();
    let unlisted: Vec<&String> = shown
        .iter()
        .filter(|c| !listed.contains(&c.as_str()))
        .collect();
    let gone: Vec<&&str> = listed
        .iter()
        .filter(|c| !shown.iter().any(|s| s == *c))
        .collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "README commands not listed in tests/readme.rs: {unlisted:#?}\n\
         listed but no longer in README: {gone:#?}"
    );
    assert_eq!(shown, listed, "README's order");
}

/// The scratch project: the repository's example and recipes, the example site built into
/// `dist/`, a home folder, and a stand-in for `npm` that builds `dist/` and keeps running.
struct Scratch {
    _root: tempfile::TempDir,
    project: PathBuf,
    vars: BTreeMap<String, String>,
    port: u16,
}

impl Scratch {
    fn new() -> Scratch {
        let root = tempfile::tempdir().expect("temp dir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let project = root.path().join("project");
        common::copy_tree(&repo.join("example"), &project.join("example"));
        common::copy_tree(&repo.join("config"), &project.join("config"));
        common::copy_tree(&repo.join("example/site"), &project.join("dist"));
        std::fs::copy(
            repo.join("deploy.example.toml"),
            project.join("deploy.example.toml"),
        )
        .expect("copy config");
        let home = root.path().join("home");
        let shims = root.path().join("shims");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&shims).expect("shims");
        write_script(
            &shims.join("npm"),
            "#!/bin/sh\n\
             # Stands in for `npm run build -- --watch`: builds dist/, then runs until stopped.\n\
             trap 'kill $child 2>/dev/null; exit 0' INT TERM\n\
             echo '<p>built beside the watch</p>' > dist/built.html\n\
             echo 'built dist/'\n\
             sleep 3600 & child=$!\n\
             wait $child\n",
        );
        let port = common::free_port();
        let binary = Path::new(env!("CARGO_BIN_EXE_tcb-deploy"));
        let path = format!(
            "{}:{}:{}",
            binary.parent().expect("bin dir").display(),
            shims.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let vars = [
            ("PATH", path),
            ("HOME", home.display().to_string()),
            ("TCB_API_BASE", "local".into()),
            ("TCB_EMULATOR_ADDR", format!("127.0.0.1:{port}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Scratch {
            _root: root,
            project,
            vars,
            port,
        }
    }

    /// README's command as this scratch project runs it: the installed binary for `cargo run`,
    /// the emulator's never-expiring token for a secret (`…`), this project's port. A command
    /// that serves replaces the shell, so that it gets the stop signal itself.
    fn shell(&self, command: &str, serves: bool) -> tokio::process::Command {
        let text = command
            .replace("cargo run -q -- ", "tcb-deploy ")
            .replace('…', tcb_deploy::emulator::DEV_ACCESS_TOKEN)
            .replace("8790", &self.port.to_string());
        let vars: Vec<(String, String)> = self.vars.clone().into_iter().collect();
        let mut shell = common::isolated("bash", &vars);
        shell
            .args(["-c", &if serves { format!("exec {text}") } else { text }])
            .current_dir(&self.project);
        shell
    }

    fn export(&mut self, command: &str) {
        let assignment = command.strip_prefix("export ").expect("an export");
        let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
        let value = value.replace('…', tcb_deploy::emulator::DEV_ACCESS_TOKEN);
        self.vars.insert(name.to_owned(), value);
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test(flavor = "multi_thread")]
async fn readme_commands_run_against_the_emulator() {
    let mut scratch = Scratch::new();
    for block in sh_blocks(&readme()) {
        let mut serving = Vec::new();
        for command in &block {
            let check = COMMANDS
                .iter()
                .find(|(c, _)| c == command)
                .map(|(_, check)| check)
                .unwrap_or_else(|| panic!("not listed: {command}"));
            match check {
                NotRun(reason) => eprintln!("not run ({reason}): {command}"),
                Exports => scratch.export(command),
                Exits(code, parts) => {
                    let run = tokio::time::timeout(
                        DEADLINE,
                        common::finish(&mut scratch.shell(command, false)),
                    )
                    .await
                    .unwrap_or_else(|_| panic!("`{command}` did not end"));
                    let output = run.output();
                    assert_eq!(run.code, *code, "`{command}`:\n{output}");
                    for part in *parts {
                        assert!(
                            output.contains(part),
                            "`{command}`: no {part:?} in\n{output}"
                        );
                    }
                }
                Serves(parts) => {
                    let mut daemon = Daemon::run(scratch.shell(command, true));
                    daemon.wait_for(parts).await;
                    serving.push((command, daemon));
                }
            }
        }
        for (command, daemon) in serving {
            daemon.signal("INT");
            let (code, output) = daemon.finish().await;
            assert_eq!(code, 0, "`{command}` after SIGINT:\n{output}");
        }
    }
}

/// The configuration reference (README's table and deploy.example.toml) names every key of
/// the config file, with its variable.
#[test]
fn configuration_reference_names_every_key() {
    let keys = serde_json::to_value(Settings::default()).expect("settings serialise");
    let keys = keys.as_object().expect("an object");
    let readme = readme();
    let example = common::repo_text("deploy.example.toml");
    for key in keys.keys().filter(|k| *k != "site") {
        let row = format!("| `{key}` | `TCB_{}` |", key.to_uppercase());
        assert!(
            readme.contains(&row),
            "README's configuration table lacks {row}"
        );
        assert!(
            example.contains(&format!("{key} = ")),
            "deploy.example.toml does not describe {key}"
        );
    }
}
