//! The `tcb-deploy` binary: parse the command line, set up logging, run the library, and turn the
//! outcome into an exit code.

use clap::Parser;
use tcb_deploy::cli::{Cli, LogFormat};
use tcb_deploy::{ExitCode, logging};

fn main() -> std::process::ExitCode {
    tcb_deploy::memory::tune_allocator();
    let cli = Cli::parse();
    let log_format = cli.log_format;
    logging::init(log_format, cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Runtime::new() {
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
            match log_format {
                LogFormat::Text => eprintln!("error: {e}"),
                LogFormat::Json => tracing::error!(exit_code = code.code(), "{e}"),
            }
            code.into()
        }
    }
}
