//! `completions` and `man`: generated from the command line's definition, so every command and
//! flag is there, and they work without any configuration.

mod common;

use common::{run_tool, vars};

/// Every command of the command line, from its definition.
fn commands() -> Vec<String> {
    use clap::CommandFactory;
    tcb_deploy::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// How each generator writes a command that may follow `tcb-deploy`, and a long flag.
fn forms(shell: &str, command: &str, flag: &str) -> (String, String) {
    match shell {
        "bash" => (format!("tcb__deploy,{command})"), format!("--{flag}")),
        "zsh" => (format!("'{command}:"), format!("'--{flag}")),
        "fish" => (format!("-a \"{command}\""), format!("-l {flag}")),
        "elvish" => (format!("cand {command} "), format!("cand --{flag} ")),
        "powershell" => (
            format!("::new('{command}', "),
            format!("::new('--{flag}', "),
        ),
        other => panic!("no forms for {other}"),
    }
}

#[tokio::test]
async fn completion_scripts_name_every_command_and_flag() {
    // A config file that would stop any other command: these need none.
    let broken = vars(&[("TCB_CONFIG", "/nonexistent/deploy.toml")]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = run_tool(&["completions", shell], &broken).await;
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        let commands = commands();
        assert!(commands.iter().any(|c| c == "init"), "{commands:?}");
        for command in &commands {
            let (form, _) = forms(shell, command, "");
            assert!(run.stdout.contains(&form), "{shell}: no {command}");
        }
        for flag in ["concurrency", "verify-remote", "log-format", "dry-run"] {
            let (_, form) = forms(shell, "", flag);
            assert!(run.stdout.contains(&form), "{shell}: no --{flag}");
        }
    }
}

#[tokio::test]
async fn the_bash_script_is_valid_bash() {
    let run = run_tool(&["completions", "bash"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("tcb-deploy.bash");
    std::fs::write(&script, &run.stdout).expect("write");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(check.status.success(), "{check:?}");
    assert!(
        run.stdout.contains("complete -F _tcb__deploy"),
        "registers itself"
    );
}

#[tokio::test]
async fn the_man_page_is_roff_with_every_command() {
    let run = run_tool(&["man"], &vars(&[("TCB_CONFIG", "/nonexistent")])).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(".TH tcb-deploy 1"), "{}", run.stdout);
    assert!(run.stdout.contains(".SH NAME"));
    assert!(
        run.stdout
            .contains("Keeps a WeChat CloudBase static website")
    );
    for command in commands() {
        let page = format!("tcb\\-deploy\\-{}(1)", command.replace('-', "\\-"));
        assert!(run.stdout.contains(&page), "no {page}");
    }
}

#[tokio::test]
async fn an_unknown_shell_names_the_ones_there_are() {
    let run = run_tool(&["completions", "tcsh"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let line = run.error_line();
    assert!(line.contains("invalid value 'tcsh'"), "{line}");
    assert!(
        line.contains("possible values: bash, elvish, fish, powershell, zsh"),
        "{line}"
    );
}
