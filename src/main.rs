//! The `tcb-deploy` binary: parse the command line, set up logging, run the library, and turn the
//! outcome into an exit code.

use clap::Parser;
use clap::error::ErrorKind;
use tcb_deploy::cli::{Cli, Command, LogFormat, error_line};
use tcb_deploy::{ExitCode, logging};
use tokio::runtime::{Builder, Runtime};

fn main() -> std::process::ExitCode {
    tcb_deploy::memory::tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error is one line, like every other error; help, the version, and the help
        // shown when no command is given keep clap's own output.
        Err(e)
            if e.use_stderr()
                && e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let args: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            eprintln!("error: {}", error_line(&e, &args));
            return ExitCode::Usage.into();
        }
        Err(e) => e.exit(),
    };
    let log_format = cli.log_format;
    logging::init(log_format, cli.verbose, cli.quiet);
    let runtime = match runtime_for(&cli.command) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::Remote.into();
        }
    };
    match runtime.block_on(tcb_deploy::run(cli)) {
        Ok(code) => code.into(),
        Err(e) => {
            let code = e.exit_code();
            let message = e.one_line();
            match log_format {
                LogFormat::Text => eprintln!("error: {message}"),
                LogFormat::Json => tracing::error!(exit_code = code.code(), "{message}"),
            }
            code.into()
        }
    }
}

/// The runtime a command runs on. The watch daemon and the emulator serve many sites or
/// clients at once: a worker thread per core. Every other command is one task that mostly
/// waits on the network, while the scan, the hashing and file reads run on threads of their
/// own: on one thread, the wakeups of its requests and answers need no hand-off between
/// threads, which cost a deploy of small files more CPU than the requests themselves.
fn runtime_for(command: &Command) -> std::io::Result<Runtime> {
    match command {
        Command::Watch(_) | Command::Emulator(_) => Runtime::new(),
        _ => Builder::new_current_thread().enable_all().build(),
    }
}
