//! Exit codes are part of the command-line interface: scripts and CI jobs branch on them.
//! They are defined here, and only here, and README.md documents the same table.

/// The process exit status of every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for was done.
    Ok = 0,
    /// The command ran, but some items (files, appids) failed; the others were done.
    Partial = 1,
    /// Bad command line or configuration: nothing was sent, or the service rejected an argument.
    Usage = 2,
    /// Authentication or permission refused, even after one token refresh.
    Auth = 3,
    /// The remote service failed after retries, or a quota was reached.
    Remote = 4,
    /// Interrupted by a signal (SIGINT).
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
