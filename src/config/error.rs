//! Why a configuration is refused. Every variant ends a command with the usage exit code, and
//! its message names the file, variable or key at fault and what to do about it.

use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::text::snippet;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}; check the --config path", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: invalid config: {message}; fix it there (deploy.example.toml shows every key)", path.display())]
    Toml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    // A quoted key may hold any character: it is shown escaped, so the message stays one line.
    #[error("{}: unknown key `{}`{}", path.display(), snippet(key.as_bytes(), 200), match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => "; see README.md for the keys".to_owned(),
    })]
    UnknownKey {
        path: PathBuf,
        key: String,
        suggestion: Option<String>,
    },
    #[error("{}: `{key}` is a secret and is not read from config files; set {var} or use `{instead}`", path.display())]
    SecretInFile {
        path: PathBuf,
        key: String,
        var: String,
        instead: &'static str,
    },
    #[error("invalid environment variable {var}: {detail}; fix or unset it")]
    Env { var: String, detail: String },
    #[error("internal error while merging settings: {0}; please report it")]
    Merge(String),
    #[error("invalid {key} {value:?}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("no environment id given; pass --env, set `env` in the config file, or set TCB_ENV")]
    MissingEnv,
}

impl ConfigError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}
