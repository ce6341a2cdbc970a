//! Configuration: a TOML file, then `TCB_*` environment variables, then command-line flags, merged
//! into one validated [`Config`]. Nothing else in the tool reads the environment or the file;
//! the rest of the code receives ready-to-use values.
//!
//! `settings.rs` reads one layer of raw settings; this file merges the layers and builds the
//! `Config` from the checks of `target.rs` (where the API is), `token_sources.rs` (which tokens),
//! `limits.rs` (numbers and durations), `daemon.rs` (the watch daemon's timing) and `sites.rs`
//! (the sites); `error.rs` says why a configuration is refused.

mod daemon;
mod envs;
mod error;
mod limits;
mod settings;
mod sites;
mod target;
mod token_sources;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::api::Timeouts;
use crate::auth::{AuthorizerSource, ComponentSource};
use crate::remote::Pacing;
use crate::secret::Secret;
pub use daemon::WatchConfig;
pub use envs::{EnvList, Origin, Shard};
pub use error::ConfigError;
pub use limits::{DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MAX_DURATION, MAX_RETRY_ATTEMPTS};
pub use settings::{ENV_PREFIX, RuleSettings, Settings, SiteSettings};
pub use sites::{Site, SiteChoice, normalize_prefix};
pub use target::{ApiTarget, DEFAULT_API_BASE, DEFAULT_EMULATOR_ADDR};

/// State folder, relative to the working directory, when nothing else names one.
pub const DEFAULT_STATE_DIR: &str = ".tcb-deploy";

/// The validated configuration every command runs with.
#[derive(Debug)]
pub struct Config {
    pub api: ApiTarget,
    /// Where the emulator listens (`api_base = "local"`, and the `emulator` command's default).
    pub emulator_addr: SocketAddr,
    pub default_env: Option<String>,
    pub state_dir: PathBuf,
    pub timeouts: Timeouts,
    /// `None`: nothing configured (an error once a call needs it).
    pub component: Option<ComponentSource>,
    pub authorizer: Option<AuthorizerSource>,
    /// Tries per call and per file, and the API call rate.
    pub pacing: Pacing,
    /// The `[[site]]` tables, in file order.
    pub sites: Vec<Site>,
    pub watch: WatchConfig,
}

impl Config {
    /// Loads the file (if any), the environment `vars` and the command line's `flags`, in
    /// rising precedence, and validates the result.
    pub fn load(
        file: Option<&Path>,
        vars: &BTreeMap<String, String>,
        flags: Settings,
    ) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        let settings = from_file
            .overlay(Settings::from_env(vars)?)?
            .overlay(flags)?;
        Config::from_settings(settings, vars)
    }

    fn from_settings(s: Settings, vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let secret = |name: &str| {
            vars.get(&format!("{ENV_PREFIX}{name}"))
                .filter(|v| !v.trim().is_empty())
                .map(|v| Secret::new(v.trim()))
        };
        let state_dir = s
            .state_dir
            .clone()
            .or_else(|| {
                vars.get("STATE_DIRECTORY")
                    .map(|d| PathBuf::from(first_path(d)))
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let api = target::api_target(&s)?;
        let local = matches!(api, ApiTarget::Local);
        let emulator_addr = target::emulator_addr(&s)?;
        let component = token_sources::component_source(
            &s,
            secret("ACCESS_TOKEN"),
            secret("COMPONENT_APPSECRET"),
            secret("COMPONENT_VERIFY_TICKET"),
            local,
        )?;
        let authorizer = token_sources::authorizer_source(
            &s,
            secret("AUTHORIZER_ACCESS_TOKEN"),
            secret("AUTHORIZER_REFRESH_TOKEN"),
            &component,
            local,
        )?;
        if let Some(env) = &s.env {
            validate_env_id(env)?;
        }
        let timeouts = limits::timeouts(&s)?;
        let concurrency = limits::concurrency(s.concurrency)?;
        let window = limits::window(concurrency, s.fixed_concurrency);
        let pacing = limits::pacing(s.retry_attempts, s.api_rate_limit, window)?;
        let sites = sites::sites(s.site.as_deref().unwrap_or_default(), s.env.as_deref())?;
        let watch = WatchConfig::from_settings(&s)?;
        Ok(Config {
            api,
            emulator_addr,
            pacing,
            sites,
            watch,
            default_env: s.env,
            state_dir,
            timeouts,
            component,
            authorizer,
        })
    }

    /// Where the emulator keeps its data: beside the manifests, so that every process using
    /// `api_base = "local"` with the same state folder sees the same site.
    pub fn emulator_data_dir(&self) -> PathBuf {
        self.state_dir.join("emulator")
    }

    /// The environment to act on: the flag's, else the configured default.
    pub fn env(&self, flag: Option<&str>) -> Result<String, ConfigError> {
        match flag {
            Some(env) => {
                validate_env_id(env)?;
                Ok(env.to_owned())
            }
            None => self.default_env.clone().ok_or(ConfigError::MissingEnv),
        }
    }
}

/// `$STATE_DIRECTORY` may list several folders separated by colons; the first is ours.
fn first_path(list: &str) -> &str {
    list.split(':').next().unwrap_or(list)
}

/// An environment id as the service accepts it: letters, digits and hyphens, 1 to 64 characters.
pub fn validate_env_id(env: &str) -> Result<(), ConfigError> {
    let ok = !env.is_empty()
        && env.len() <= 64
        && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key: "env",
            value: env.chars().take(80).collect(),
            reason: "an environment id has 1 to 64 letters, digits and hyphens, e.g. prod-8gu57so0bd9f9e8a".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config of these variables alone, as `TCB_*` variables give them.
    pub(super) fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(None, &vars, Settings::default())
    }

    #[test]
    fn systemd_state_directory_is_the_fallback() {
        let config = load(&[("STATE_DIRECTORY", "/var/lib/tcb-deploy:/other")]).unwrap();
        assert_eq!(config.state_dir, Path::new("/var/lib/tcb-deploy"));
        let config = load(&[("STATE_DIRECTORY", "/var/lib/x"), ("TCB_STATE_DIR", "/s")]).unwrap();
        assert_eq!(config.state_dir, Path::new("/s"));
    }

    #[test]
    fn env_ids_are_checked() {
        assert!(validate_env_id("prod-8gu57so0bd9f9e8a").is_ok());
        for bad in ["", "a/b", "../x", "a b", &"x".repeat(65)] {
            assert!(validate_env_id(bad).is_err(), "{bad:?}");
        }
    }
}
