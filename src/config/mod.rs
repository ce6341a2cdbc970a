//! Configuration: a TOML file, then `TCB_*` environment variables, then command-line flags, merged
//! into one validated [`Config`]. Nothing else in the tool reads the environment or the file;
//! the rest of the code receives ready-to-use values.

mod settings;
mod sites;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::api::Timeouts;
use crate::auth::{AuthorizerSource, ComponentCredentials, ComponentSource, Value};
use crate::emulator;
use crate::exit::ExitCode;
use crate::remote::Pacing;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::text::snippet;
pub use settings::{ENV_PREFIX, RuleSettings, Settings, SiteSettings};
pub use sites::{Site, SiteChoice, normalize_prefix};

/// The official API.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// Where the embedded emulator listens by default.
pub const DEFAULT_EMULATOR_ADDR: &str = "127.0.0.1:8790";
/// State folder, relative to the working directory, when nothing else names one.
pub const DEFAULT_STATE_DIR: &str = ".tcb-deploy";

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

/// The most tries per call or file that may be asked for.
pub const MAX_RETRY_ATTEMPTS: u32 = 20;

fn pacing(attempts: Option<u32>, rate: Option<f64>) -> Result<Pacing, ConfigError> {
    let mut retry = RetryPolicy::default();
    match attempts {
        None => {}
        Some(n @ 1..=MAX_RETRY_ATTEMPTS) => retry.attempts = n,
        Some(n) => {
            return Err(ConfigError::Invalid {
                key: "retry_attempts",
                value: n.to_string(),
                reason: format!("must be between 1 and {MAX_RETRY_ATTEMPTS}"),
            });
        }
    }
    let rate_limit = match rate {
        None => None,
        Some(r) if r.is_finite() && r >= 0.01 => Some(r),
        Some(r) => {
            return Err(ConfigError::Invalid {
                key: "api_rate_limit",
                value: r.to_string(),
                reason: "must be a number of calls per second of at least 0.01; leave it out for no limit".into(),
            });
        }
    };
    Ok(Pacing { retry, rate_limit })
}

/// Uploads in flight at once when nothing else says.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// The most uploads in flight that may be asked for.
pub const MAX_CONCURRENCY: usize = 256;
/// The longest time a `*_secs` or `*_ms` key may set: a year, far beyond any useful value, so
/// that a deadline computed from one (now + `poll_secs`) cannot overflow the clock.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Where the API is.
#[derive(Clone, Debug)]
pub enum ApiTarget {
    /// A real (or stand-in) API at this base URL.
    Remote(Url),
    /// The embedded emulator, started inside this process (or reused if one already listens
    /// at `emulator_addr`).
    Local,
}

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
    /// Uploads in flight at once (at most: fewer while the service is overloaded).
    pub concurrency: usize,
    /// Tries per call and per file, and the API call rate.
    pub pacing: Pacing,
    /// The `[[site]]` tables, in file order.
    pub sites: Vec<Site>,
    pub watch: WatchConfig,
}

/// Timing of the `watch` daemon.
#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    pub quiet: Duration,
    pub max_wait: Duration,
    pub poll: Option<Duration>,
    pub status_interval: Duration,
    pub stop_grace: Duration,
    /// Where to serve /healthz, /status and /metrics; off when `None`.
    pub metrics_addr: Option<SocketAddr>,
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
        let api = api_target(&s)?;
        let local = matches!(api, ApiTarget::Local);
        let addr_text = s.emulator_addr.as_deref().unwrap_or(DEFAULT_EMULATOR_ADDR);
        let emulator_addr = addr_text
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::Invalid {
                key: "emulator_addr",
                value: addr_text.to_owned(),
                reason: "expected IP:PORT, e.g. 127.0.0.1:8790".into(),
            })?;
        let component = component_source(
            &s,
            secret("ACCESS_TOKEN"),
            secret("COMPONENT_APPSECRET"),
            secret("COMPONENT_VERIFY_TICKET"),
            local,
        )?;
        let authorizer = authorizer_source(
            &s,
            secret("AUTHORIZER_ACCESS_TOKEN"),
            secret("AUTHORIZER_REFRESH_TOKEN"),
            &component,
            local,
        )?;
        if let Some(env) = &s.env {
            validate_env_id(env)?;
        }
        let defaults = Timeouts::default();
        let timeouts = Timeouts {
            connect: seconds("connect_timeout_secs", s.connect_timeout_secs)?
                .unwrap_or(defaults.connect),
            request: seconds("request_timeout_secs", s.request_timeout_secs)?
                .unwrap_or(defaults.request),
            idle: defaults.idle,
        };
        let concurrency = match s.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(n) if (1..=MAX_CONCURRENCY).contains(&(n as usize)) => n as usize,
            Some(n) => {
                return Err(ConfigError::Invalid {
                    key: "concurrency",
                    value: n.to_string(),
                    reason: format!("must be between 1 and {MAX_CONCURRENCY}"),
                });
            }
        };
        let pacing = pacing(s.retry_attempts, s.api_rate_limit)?;
        let sites = sites::sites(s.site.as_deref().unwrap_or_default(), s.env.as_deref())?;
        let millis = |key, value: Option<u64>, default| match value {
            Some(0) => Err(ConfigError::Invalid {
                key,
                value: "0".into(),
                reason: "must be at least 1".into(),
            }),
            Some(ms) if u128::from(ms) > MAX_DURATION.as_millis() => {
                Err(too_long(key, ms, MAX_DURATION.as_millis()))
            }
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(Duration::from_millis(default)),
        };
        let watch = WatchConfig {
            quiet: millis("quiet_ms", s.quiet_ms, 500)?,
            max_wait: millis("max_wait_ms", s.max_wait_ms, 5000)?,
            poll: seconds("poll_secs", s.poll_secs)?,
            status_interval: seconds("status_interval_secs", s.status_interval_secs)?
                .unwrap_or(Duration::from_secs(60)),
            stop_grace: seconds("stop_grace_secs", s.stop_grace_secs)?
                .unwrap_or(Duration::from_secs(30)),
            metrics_addr: match &s.metrics_addr {
                None => None,
                Some(text) => {
                    Some(
                        text.parse::<SocketAddr>()
                            .map_err(|_| ConfigError::Invalid {
                                key: "metrics_addr",
                                value: text.clone(),
                                reason: "expected IP:PORT, e.g. 127.0.0.1:9464".into(),
                            })?,
                    )
                }
            },
        };
        Ok(Config {
            api,
            emulator_addr,
            concurrency,
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

fn seconds(key: &'static str, value: Option<u64>) -> Result<Option<Duration>, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Invalid {
            key,
            value: "0".into(),
            reason: "must be at least 1 second".into(),
        }),
        Some(secs) if secs > MAX_DURATION.as_secs() => {
            Err(too_long(key, secs, MAX_DURATION.as_secs().into()))
        }
        other => Ok(other.map(Duration::from_secs)),
    }
}

fn too_long(key: &'static str, value: u64, max: u128) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: format!("must be at most {max} (a year)"),
    }
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

fn api_target(s: &Settings) -> Result<ApiTarget, ConfigError> {
    let base = s.api_base.as_deref().unwrap_or(DEFAULT_API_BASE).trim();
    if base == "local" {
        return Ok(ApiTarget::Local);
    }
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "api_base",
        value: base.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(base)
        .map_err(|_| invalid("expected `local` or a URL such as https://api.weixin.qq.com"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed to a loopback address; use https",
            ));
        }
        _ => return Err(invalid("expected an http(s) URL or `local`")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the base URL must not carry a query or fragment"));
    }
    Ok(ApiTarget::Remote(url))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

fn component_source(
    s: &Settings,
    access_token: Option<Secret>,
    appsecret: Option<Secret>,
    ticket: Option<Secret>,
    local: bool,
) -> Result<Option<ComponentSource>, ConfigError> {
    let mut given = Vec::new();
    if access_token.is_some() {
        given.push("TCB_ACCESS_TOKEN");
    }
    if s.token_file.is_some() {
        given.push("token_file");
    }
    if s.token_command.is_some() {
        given.push("token_command");
    }
    if s.component_appid.is_some() {
        given.push("component_appid");
    }
    if given.len() > 1 {
        return Err(ConfigError::Conflict(format!(
            "several component token sources are configured ({}); keep exactly one",
            given.join(", ")
        )));
    }
    if let Some(token) = access_token {
        return Ok(Some(ComponentSource::Fixed(token)));
    }
    if let Some(path) = &s.token_file {
        return Ok(Some(ComponentSource::File(path.clone())));
    }
    if let Some(command) = &s.token_command {
        return Ok(Some(ComponentSource::Command(command.clone())));
    }
    if let Some(appid) = &s.component_appid {
        let appsecret = match (appsecret, &s.component_appsecret_file) {
            (Some(secret), _) => Value::Given(secret),
            (None, Some(path)) => Value::File(path.clone()),
            (None, None) => {
                return Err(ConfigError::Conflict(
                    "component_appid is set but the app secret is missing; set TCB_COMPONENT_APPSECRET or component_appsecret_file".into(),
                ));
            }
        };
        let ticket = match (ticket, &s.component_verify_ticket_file) {
            (Some(t), _) => Value::Given(t),
            (None, Some(path)) => Value::File(path.clone()),
            (None, None) => {
                return Err(ConfigError::Conflict(
                    "component_appid is set but the verify ticket is missing; set TCB_COMPONENT_VERIFY_TICKET or component_verify_ticket_file".into(),
                ));
            }
        };
        // Read at each token fetch; a file that cannot be read is refused at start already.
        if let Value::File(path) = &appsecret {
            check_secret_file("component_appsecret_file", path)?;
        }
        return Ok(Some(ComponentSource::Credentials(ComponentCredentials {
            appid: appid.clone(),
            appsecret,
            ticket,
        })));
    }
    // The embedded emulator's own credentials: trying the tool needs no account.
    Ok(local.then(|| {
        ComponentSource::Credentials(ComponentCredentials {
            appid: emulator::COMPONENT_APPID.to_owned(),
            appsecret: Value::Given(Secret::new(emulator::COMPONENT_APPSECRET)),
            ticket: Value::Given(Secret::new(emulator::VERIFY_TICKET)),
        })
    }))
}

/// Checks that a file holding a secret can be read and is not empty (and warns when others
/// may read it), so that a wrong path is refused at start rather than at the first fetch.
fn check_secret_file(key: &'static str, path: &Path) -> Result<(), ConfigError> {
    let unreadable = |e: std::io::Error| ConfigError::Invalid {
        key,
        value: path.display().to_string(),
        reason: format!("cannot be read: {e}; check the path and its permissions"),
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    crate::auth::warn_if_readable_by_others(key, path, &metadata);
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let value = text.trim();
    if value.is_empty() {
        return Err(ConfigError::Invalid {
            key,
            value: path.display().to_string(),
            reason: "the file is empty; write the value into it".into(),
        });
    }
    Ok(())
}

fn authorizer_source(
    s: &Settings,
    access_token: Option<Secret>,
    refresh_token: Option<Secret>,
    component: &Option<ComponentSource>,
    local: bool,
) -> Result<Option<AuthorizerSource>, ConfigError> {
    if let Some(token) = access_token {
        return Ok(Some(AuthorizerSource::Fixed(token)));
    }
    let refresh = match (refresh_token, &s.authorizer_refresh_token_file) {
        (Some(t), _) => Some(Value::Given(t)),
        (None, Some(path)) => Some(Value::File(path.clone())),
        (None, None) => None,
    };
    let component_appid = match component {
        Some(ComponentSource::Credentials(c)) => Some(c.appid.clone()),
        _ => None,
    };
    match (&s.authorizer_appid, refresh, component_appid) {
        (Some(appid), Some(refresh_token), Some(component_appid)) => {
            Ok(Some(AuthorizerSource::Refresh {
                component_appid,
                authorizer_appid: appid.clone(),
                refresh_token,
            }))
        }
        (Some(_), Some(_), None) => Err(ConfigError::Conflict(
            "renewing the authorizer token needs component credentials (component_appid); or set TCB_AUTHORIZER_ACCESS_TOKEN".into(),
        )),
        (Some(_), None, _) => Err(ConfigError::Conflict(
            "authorizer_appid is set but the refresh token is missing; set TCB_AUTHORIZER_REFRESH_TOKEN or authorizer_refresh_token_file".into(),
        )),
        (None, Some(_), _) => Err(ConfigError::Conflict(
            "an authorizer refresh token is set but authorizer_appid is missing; set authorizer_appid (TCB_AUTHORIZER_APPID) or remove the refresh token".into(),
        )),
        // The embedded emulator's merchant, whatever component token the emulator is called with.
        (None, None, component_appid) if local => Ok(Some(AuthorizerSource::Refresh {
            component_appid: component_appid.unwrap_or_else(|| emulator::COMPONENT_APPID.to_owned()),
            authorizer_appid: emulator::AUTHORIZER_APPID.to_owned(),
            refresh_token: Value::Given(Secret::new(emulator::AUTHORIZER_REFRESH_TOKEN)),
        })),
        (None, None, _) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(None, &vars, Settings::default())
    }

    #[test]
    fn prefixes_are_normalised_or_refused() {
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert_eq!(normalize_prefix("docs").unwrap(), "docs/");
        assert_eq!(normalize_prefix("a//b/").unwrap(), "a/b/");
        for bad in ["/abs", "a/../b", "./a", "a\\b", "a\u{7}b"] {
            assert!(normalize_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn concurrency_is_bounded() {
        assert!(load(&[("TCB_CONCURRENCY", "0")]).is_err());
        assert!(load(&[("TCB_CONCURRENCY", "257")]).is_err());
        assert_eq!(load(&[("TCB_CONCURRENCY", "16")]).unwrap().concurrency, 16);
        assert_eq!(load(&[]).unwrap().concurrency, DEFAULT_CONCURRENCY);
    }

    /// `poll_secs = 9223372036854775807` was accepted, and the watch daemon panicked adding it
    /// to the present ("overflow when adding duration to instant").
    #[test]
    fn durations_beyond_a_year_are_refused() {
        let err = load(&[("TCB_POLL_SECS", "9223372036854775807")]).unwrap_err();
        assert!(err.to_string().contains("at most 31536000"), "{err}");
        assert!(load(&[("TCB_STOP_GRACE_SECS", "31536001")]).is_err());
        assert!(load(&[("TCB_QUIET_MS", "31536000001")]).is_err());
        let config = load(&[
            ("TCB_STATUS_INTERVAL_SECS", "31536000"),
            ("TCB_MAX_WAIT_MS", "31536000000"),
        ])
        .unwrap();
        assert_eq!(config.watch.status_interval, MAX_DURATION);
        assert_eq!(config.watch.max_wait, MAX_DURATION);
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let err = load(&[("TCB_API_BASE", "http://api.example.com")]).unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        assert!(load(&[("TCB_API_BASE", "http://127.0.0.1:9")]).is_ok());
        assert!(load(&[("TCB_API_BASE", "http://localhost:9")]).is_ok());
    }

    #[test]
    fn local_mode_uses_the_emulator_credentials() {
        let config = load(&[("TCB_API_BASE", "local"), ("TCB_STATE_DIR", "/tmp/s")]).unwrap();
        assert!(matches!(config.api, ApiTarget::Local));
        assert_eq!(config.emulator_data_dir(), Path::new("/tmp/s/emulator"));
        assert!(matches!(
            config.component,
            Some(ComponentSource::Credentials(_))
        ));
        assert!(matches!(
            config.authorizer,
            Some(AuthorizerSource::Refresh { .. })
        ));
    }

    #[test]
    fn local_mode_with_a_given_token_still_lists_the_emulators_environments() {
        let config = load(&[
            ("TCB_API_BASE", "local"),
            ("TCB_ACCESS_TOKEN", emulator::DEV_ACCESS_TOKEN),
        ])
        .unwrap();
        assert!(matches!(config.component, Some(ComponentSource::Fixed(_))));
        assert!(matches!(
            config.authorizer,
            Some(AuthorizerSource::Refresh { .. })
        ));
    }

    #[test]
    fn two_token_sources_conflict() {
        let err = load(&[("TCB_ACCESS_TOKEN", "t"), ("TCB_TOKEN_COMMAND", "echo t")]).unwrap_err();
        assert!(err.to_string().contains("keep exactly one"), "{err}");
    }

    #[test]
    fn credentials_without_ticket_name_what_is_missing() {
        let err = load(&[
            ("TCB_COMPONENT_APPID", "wx1"),
            ("TCB_COMPONENT_APPSECRET", "s"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("TCB_COMPONENT_VERIFY_TICKET"),
            "{err}"
        );
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
