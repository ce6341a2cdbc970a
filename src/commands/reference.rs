//! `completions` and `man`: what shells and `man` read about the command line, generated from
//! the clap definitions in [`crate::cli`], so they cannot drift from the flags. They need no
//! configuration and no network.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::exit::ExitCode;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tcb-deploy", &mut script);
    super::print(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::Ok)
}

/// Prints the manual page of the tool, its commands listed with their descriptions.
pub fn man() -> Result<ExitCode, Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(Error::Output)?;
    super::print(&String::from_utf8_lossy(&page))?;
    Ok(ExitCode::Ok)
}
