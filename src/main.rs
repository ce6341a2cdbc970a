//! The `tcb-deploy` binary: parse the command line, set up logging, run the library, and turn the
//! outcome into an exit code.

use clap::Parser;
use clap::error::ErrorKind;
use tcb_deploy::cli::{Cli, LogFormat, error_line};
use tcb_deploy::{ExitCode, logging};
use tokio::runtime::Runtime;

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
    let runtime = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::Remote.into();
        }
    };
    // The command runs as a task of the runtime, beside the tasks of its connections, not on
    // this thread: each request and answer would otherwise cross between threads, which cost
    // a deploy of small files more CPU than the requests themselves.
    let outcome = match runtime.block_on(runtime.spawn(tcb_deploy::run(cli))) {
        Ok(outcome) => outcome,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    match outcome {
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
