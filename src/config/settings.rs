//! The raw settings, as a config file or the environment give them: every key optional, nothing
//! validated yet. Each key `k` of the file can also be set by the environment variable `TCB_K`.
//! Secrets are never read from the file; they come from the environment or from `*_file` keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Prefix of every environment variable the tool reads.
pub const ENV_PREFIX: &str = "TCB_";

/// Environment-only secrets, and the config key a person should use instead.
pub const SECRET_VARS: &[(&str, &str)] = &[
    ("access_token", "token_file"),
    ("component_appsecret", "component_appsecret_file"),
    ("component_verify_ticket", "component_verify_ticket_file"),
    ("authorizer_access_token", "token_command"),
    ("authorizer_refresh_token", "authorizer_refresh_token_file"),
];

/// One layer of settings. Field names are the config file's keys.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Settings {
    /// `https://api.weixin.qq.com` (default), another base URL, or `local` for the embedded emulator.
    pub api_base: Option<String>,
    /// The default environment id for commands that take `--env`.
    pub env: Option<String>,
    /// Where manifests and the embedded emulator's data live.
    pub state_dir: Option<PathBuf>,
    /// A file holding the component access token, kept fresh by another service.
    pub token_file: Option<PathBuf>,
    /// A shell command printing the component access token.
    pub token_command: Option<String>,
    pub component_appid: Option<String>,
    pub component_appsecret_file: Option<PathBuf>,
    pub component_verify_ticket_file: Option<PathBuf>,
    /// The merchant (mini program) whose environments `envs` lists.
    pub authorizer_appid: Option<String>,
    pub authorizer_refresh_token_file: Option<PathBuf>,
    /// Address of the embedded emulator when `api_base = "local"`.
    pub emulator_addr: Option<String>,
    pub connect_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    /// The most uploads in flight at once, 1 to 256 (default 64): the upload window finds its
    /// width up to this.
    pub concurrency: Option<u32>,
    /// Keep `concurrency` uploads in flight instead of letting the window find its width.
    pub fixed_concurrency: Option<bool>,
    /// Tries per API call and per file before giving up, 1 to 20 (default 10).
    pub retry_attempts: Option<u32>,
    /// API calls per second at most, shared by all uploads (default: no limit).
    pub api_rate_limit: Option<f64>,
    /// `watch`: deploy once no file changed for this long (default 500 ms).
    pub quiet_ms: Option<u64>,
    /// `watch`: never wait longer than this after the first change (default 5000 ms).
    pub max_wait_ms: Option<u64>,
    /// `watch`: poll the folder every this many seconds instead of using inotify.
    pub poll_secs: Option<u64>,
    /// `watch`: how often to check each site's status (default 60 s).
    pub status_interval_secs: Option<u64>,
    /// `watch`: how long uploads in flight may take to finish on stop (default 30 s).
    pub stop_grace_secs: Option<u64>,
    /// `watch`: serve /healthz, /status and /metrics here (off by default), e.g. 127.0.0.1:9464.
    pub metrics_addr: Option<String>,
    /// The sites `deploy` and `plan` work on when no `--dir` is given (`[[site]]` tables).
    pub site: Option<Vec<SiteSettings>>,
}

/// One `[[site]]` table: a build folder deployed to an environment.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SiteSettings {
    /// A name for `--site` and for logs (default: the env id).
    pub name: Option<String>,
    /// The environment (default: the top-level `env`).
    pub env: Option<String>,
    /// Many environments, all given the same folder (instead of `env`).
    pub envs: Option<Vec<String>>,
    /// A file of environment ids, one a line (instead of `env`).
    pub envs_file: Option<PathBuf>,
    /// The build-output folder.
    pub dir: PathBuf,
    /// Folder in the store to deploy under, e.g. "docs/" (default: the root).
    pub prefix: Option<String>,
    /// Extra exclusions, gitignore syntax.
    pub ignore: Option<Vec<String>>,
    /// Header rules, first match wins per header (`[[site.rules]]`).
    pub rules: Option<Vec<RuleSettings>>,
}

/// Headers for the files whose path (relative to the site folder) matches `glob`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct RuleSettings {
    pub glob: String,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
}

impl Settings {
    /// Keys whose values are paths: relative ones are taken from the config file's folder.
    fn resolve_paths(&mut self, base: &Path) {
        for path in [
            &mut self.state_dir,
            &mut self.token_file,
            &mut self.component_appsecret_file,
            &mut self.component_verify_ticket_file,
            &mut self.authorizer_refresh_token_file,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        for site in self.site.iter_mut().flatten() {
            if site.dir.is_relative() {
                site.dir = base.join(&site.dir);
            }
            if let Some(file) = site.envs_file.as_mut().filter(|f| f.is_relative()) {
                *file = base.join(&*file);
            }
        }
    }

    /// Reads a config file. Unknown keys and secrets are errors that name the key.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let mut settings = Settings::from_toml(path, &text)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        settings.resolve_paths(base.unwrap_or(Path::new(".")));
        Ok(settings)
    }

    /// Reads the text of a config file; `path` names the file in errors. Unknown keys and
    /// secrets are errors that name the key; relative paths are kept as written (unlike
    /// [`from_file`](Self::from_file), which takes them from the file's folder).
    pub fn from_toml(path: &Path, text: &str) -> Result<Settings, ConfigError> {
        let toml_error = |e: toml::de::Error| {
            let (line, column) = e
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Toml {
                path: path.to_owned(),
                line,
                column,
                message: plain_type_names(e.message().trim()),
            }
        };
        let deserializer = toml::de::Deserializer::parse(text).map_err(toml_error)?;
        let mut unknown = Vec::new();
        let settings: Settings = serde_ignored::deserialize(deserializer, |key| {
            unknown.push(key.to_string());
        })
        .map_err(toml_error)?;
        if let Some(key) = unknown.into_iter().next() {
            return Err(unknown_key(path, key));
        }
        Ok(settings)
    }

    /// Reads the `TCB_*` variables of `vars`; empty values count as unset.
    pub fn from_env(vars: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
        let pairs = || {
            vars.iter()
                .filter(|(k, v)| k.starts_with(ENV_PREFIX) && !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
        };
        let parse = |pairs| envy::prefixed(ENV_PREFIX).from_iter::<_, Settings>(pairs);
        parse(pairs().collect::<Vec<_>>()).map_err(|e| {
            // envy names the field, not the variable: find the variable that fails alone.
            let var = pairs()
                .find(|pair| parse(vec![pair.clone()]).is_err())
                .map_or_else(|| format!("{ENV_PREFIX}*"), |(k, _)| k);
            let detail = e.to_string();
            let detail = detail
                .split_once(" provided by ")
                .map_or(detail.as_str(), |(head, _)| head);
            ConfigError::Env {
                var,
                detail: plain_type_names(detail),
            }
        })
    }

    /// `top`'s values over `self`'s.
    pub fn overlay(self, top: Settings) -> Result<Settings, ConfigError> {
        let merge_error = |e: serde_json::Error| ConfigError::Merge(e.to_string());
        let mut base = serde_json::to_value(self).map_err(merge_error)?;
        let top = serde_json::to_value(top).map_err(merge_error)?;
        if let (Some(base), Some(top)) = (base.as_object_mut(), top.as_object()) {
            base.extend(
                top.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        serde_json::from_value(base).map_err(merge_error)
    }

    /// Every key a config file accepts.
    pub fn keys() -> Vec<String> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(Settings::default()) else {
            return Vec::new();
        };
        map.keys().cloned().collect()
    }
}

/// The keys of a `[[site]]` table and of a `[[site.rules]]` table.
const SITE_KEYS: &[&str] = &[
    "name",
    "env",
    "envs",
    "envs_file",
    "dir",
    "prefix",
    "ignore",
    "rules",
];
const RULE_KEYS: &[&str] = &["glob", "cache_control", "content_type"];

fn unknown_key(path: &Path, key: String) -> ConfigError {
    // serde_ignored marks each `Option` layer with a `?` segment: `site.?.0.prefx`.
    let key = key
        .split('.')
        .filter(|segment| *segment != "?")
        .collect::<Vec<_>>()
        .join(".");
    if let Some((_, instead)) = SECRET_VARS.iter().find(|(name, _)| *name == key) {
        return ConfigError::SecretInFile {
            path: path.to_owned(),
            var: format!("{ENV_PREFIX}{}", key.to_ascii_uppercase()),
            key,
            instead,
        };
    }
    // `key` is a dotted path such as `site.0.prefx`: suggest among the keys of its table.
    let segments: Vec<&str> = key.split('.').collect();
    let (last, candidates) = match segments.as_slice() {
        ["site", _, "rules", _, last] => (*last, RULE_KEYS.iter().map(|k| k.to_string()).collect()),
        ["site", _, last] => (*last, SITE_KEYS.iter().map(|k| k.to_string()).collect()),
        _ => (key.as_str(), Settings::keys()),
    };
    let suggestion = candidates
        .into_iter()
        .map(|k| (strsim::jaro_winkler(&k, last), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k);
    ConfigError::UnknownKey {
        path: path.to_owned(),
        key,
        suggestion,
    }
}

/// A parser's message with Rust type names put the way the config file's reader knows them.
fn plain_type_names(message: &str) -> String {
    message
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number")
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml(Path::new("deploy.toml"), text)
    }

    #[test]
    fn invalid_toml_names_line_and_column() {
        let err = parse("env = \"a\"\napi_base = = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("deploy.toml:2:"), "{text}");
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let err = parse("api_bsae = \"local\"\n").unwrap_err().to_string();
        assert!(err.contains("`api_bsae`"), "{err}");
        assert!(err.contains("`api_base`"), "{err}");
    }

    /// A quoted key may hold a line break: the message naming the key was two lines.
    #[test]
    fn unknown_key_with_a_line_break_is_shown_on_one_line() {
        let err = parse("\"a\\nb\" = 1\n").unwrap_err().to_string();
        assert!(err.contains("unknown key `a\\nb`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn secret_in_file_points_to_the_env_var() {
        let err = parse("access_token = \"t\"\n").unwrap_err().to_string();
        assert!(err.contains("TCB_ACCESS_TOKEN"), "{err}");
        assert!(err.contains("token_file"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = parse("connect_timeout_secs = \"ten\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("deploy.toml:1:"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_empty_values_are_unset() {
        let file = parse("env = \"from-file\"\napi_base = \"local\"\n").unwrap();
        let vars = BTreeMap::from([
            ("TCB_ENV".to_owned(), "from-env".to_owned()),
            ("TCB_API_BASE".to_owned(), String::new()),
            ("OTHER".to_owned(), "x".to_owned()),
        ]);
        let merged = file.overlay(Settings::from_env(&vars).unwrap()).unwrap();
        assert_eq!(merged.env.as_deref(), Some("from-env"));
        assert_eq!(merged.api_base.as_deref(), Some("local"));
    }

    #[test]
    fn bad_number_in_env_names_the_variable() {
        let vars = BTreeMap::from([
            ("TCB_CONCURRENCY".to_owned(), "4".to_owned()),
            ("TCB_CONNECT_TIMEOUT_SECS".to_owned(), "ten".to_owned()),
        ]);
        let err = Settings::from_env(&vars).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid environment variable TCB_CONNECT_TIMEOUT_SECS:"),
            "{err}"
        );
        assert!(err.ends_with("; fix or unset it"), "{err}");
    }

    #[test]
    fn sites_are_read_with_their_rules() {
        let s = parse(
            "[[site]]\nenv = \"e1\"\ndir = \"dist\"\n[[site.rules]]\nglob = \"assets/**\"\ncache_control = \"max-age=60\"\n",
        )
        .unwrap();
        let sites = s.site.unwrap();
        assert_eq!(sites[0].dir, Path::new("dist"));
        assert_eq!(sites[0].rules.as_ref().unwrap()[0].glob, "assets/**");
    }

    #[test]
    fn unknown_key_inside_a_site_is_named_with_its_place() {
        let err = parse("[[site]]\ndir = \"d\"\nprefx = \"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("site.0.prefx"), "{err}");
        assert!(err.contains("did you mean `prefix`"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut s = parse("token_file = \"secrets/token\"\n").unwrap();
        s.resolve_paths(Path::new("/etc/tcb"));
        assert_eq!(s.token_file.unwrap(), Path::new("/etc/tcb/secrets/token"));
    }
}
