//! One file per command. A command takes validated values, does its work through
//! [`crate::remote::Remote`] or the emulator, prints its result on standard output, and returns
//! the exit code; it never parses flags or reads the environment itself.

mod create;
mod deploy;
mod emulator;
mod envs;
mod init;
mod reference;
mod share;
mod status;
mod watch;

use std::collections::BTreeMap;
use std::io::Write;

use crate::cli::{Cli, Command};
use crate::config::{Config, Settings};
use crate::connection::Connection;
use crate::error::Error;
use crate::exit::ExitCode;

/// Runs the parsed command line with the given environment variables.
pub async fn run(cli: Cli, vars: BTreeMap<String, String>) -> Result<ExitCode, Error> {
    // Commands that need no configuration (init writes one).
    match &cli.command {
        Command::Completions(args) => return reference::completions(args.shell),
        Command::Init(args) => return init::run(args),
        Command::Man => return reference::man(),
        _ => {}
    }
    let flags = flag_settings(&cli.command);
    let config = Config::load(cli.config.as_deref(), &vars, flags.clone())?;
    if let Command::Emulator(args) = &cli.command {
        return emulator::run(&config, args).await;
    }
    let connection = Connection::open(&config).await?;
    let result = match &cli.command {
        Command::Status(args) => {
            status::run(
                &connection.remote,
                &config.env(args.env.as_deref())?,
                Output::of(args.json),
            )
            .await
        }
        Command::Create(args) => {
            create::run(&connection.remote, &config.env(args.env.as_deref())?, args).await
        }
        Command::Envs(args) => envs::run(&connection.remote, args).await,
        Command::Share(args) => {
            share::run(&connection.remote, &config.env(args.env.as_deref())?, args).await
        }
        Command::Deploy(args) => {
            let action = if args.dry_run {
                deploy::Action::PlanOnly
            } else {
                deploy::Action::Deploy
            };
            let job = deploy::Job::new(&config, &args.site, action, Output::of(args.json))?;
            deploy::run(&connection.remote, &config, job).await
        }
        Command::Plan(args) => {
            let output = Output::of(args.json);
            let job = deploy::Job::new(&config, &args.site, deploy::Action::PlanOnly, output)?;
            deploy::run(&connection.remote, &config, job).await
        }
        Command::Watch(args) => {
            let source = watch::ConfigSource {
                file: cli.config.clone(),
                vars: vars.clone(),
                flags,
            };
            watch::run(&connection, &config, args, source).await
        }
        Command::Emulator(_) | Command::Init(_) | Command::Completions(_) | Command::Man => {
            unreachable!("handled above")
        }
    };
    connection.close().await;
    result
}

/// How a command prints its result: for people, or as JSON (`--json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

impl Output {
    fn of(json: bool) -> Output {
        if json { Output::Json } else { Output::Text }
    }
}

/// The settings a command's flags override.
fn flag_settings(command: &Command) -> Settings {
    let (site, watch) = match command {
        Command::Deploy(args) => (&args.site, None),
        Command::Plan(args) => (&args.site, None),
        Command::Watch(args) => (&args.site, Some(args)),
        _ => return Settings::default(),
    };
    Settings {
        state_dir: site.state_dir.clone(),
        concurrency: site.concurrency,
        fixed_concurrency: site.fixed_concurrency.then_some(true),
        poll_secs: watch.and_then(|w| w.poll),
        quiet_ms: watch.and_then(|w| w.quiet_ms),
        ..Settings::default()
    }
}

/// Writes a command's result to standard output. A closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(()),
    }
}

/// Writes one JSON object on one line (JSON Lines: one per site).
fn print_json_line(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text =
        serde_json::to_string(value).map_err(|e| Error::Output(std::io::Error::other(e)))?;
    text.push('\n');
    print(&text)
}

/// Serialises a command's JSON result, one document, newline-terminated.
fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| Error::Output(std::io::Error::other(e)))?;
    text.push('\n');
    print(&text)
}
