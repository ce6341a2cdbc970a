//! Exit codes are part of the command-line interface: scripts and CI jobs branch on them.
//! They are defined here, and only here, and README.md documents the same table.

/// The process exit status of every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for was done.
    Ok,
    /// The command ran, but some items (files, appids) failed; the others were done.
    Partial,
    /// Bad command line or configuration: nothing was sent, or the service rejected an argument.
    Usage,
    /// Authentication or permission refused, even after one token refresh.
    Auth,
    /// The remote service failed after retries, or a quota was reached.
    Remote,
    /// Interrupted by a signal (SIGINT).
    Interrupted,
    /// `watch -- <build command>`: the build command ended with this code, so does the watch.
    Child(u8),
}

impl ExitCode {
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Partial => 1,
            Self::Usage => 2,
            Self::Auth => 3,
            Self::Remote => 4,
            Self::Interrupted => 130,
            Self::Child(code) => code,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
