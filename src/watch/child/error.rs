//! Why a build command could not start, in words that say what to do.

use std::ffi::OsStr;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error(
        "no build command given: put it after `--`, e.g. `tcb-deploy watch -- npm run build -- --watch`"
    )]
    Empty,
    #[error("build command `{program}` not found: {hint}")]
    NotFound {
        program: String,
        hint: &'static str,
        source: io::Error,
    },
    #[error(
        "build command `{program}` cannot be run (permission denied): make it executable (chmod +x) or check the permissions of the folders on PATH"
    )]
    NotExecutable { program: String, source: io::Error },
    #[error("cannot start build command `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
}

pub(super) fn spawn_error(program: &OsStr, source: io::Error) -> ChildError {
    let name = program.to_string_lossy().into_owned();
    match source.kind() {
        io::ErrorKind::NotFound => {
            let hint = if name.contains('/') {
                "check the path"
            } else {
                "check that it is installed and that its folder is on PATH"
            };
            ChildError::NotFound {
                program: name,
                hint,
                source,
            }
        }
        io::ErrorKind::PermissionDenied => ChildError::NotExecutable {
            program: name,
            source,
        },
        _ => ChildError::Spawn {
            program: name,
            source,
        },
    }
}
