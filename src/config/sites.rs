//! The sites a command works on, built in one place: a folder given on the command line, or
//! the `[[site]]` tables of the config file, picked by name or environment.

use std::path::PathBuf;

use super::{Config, ConfigError, RuleSettings, SiteSettings, validate_env_id};
use crate::site::headers::{HeaderRule, HeaderRules};

/// A build folder deployed to an environment, validated.
#[derive(Clone, Debug)]
pub struct Site {
    pub name: String,
    pub env: String,
    pub dir: PathBuf,
    /// "" or "a/b/": relative, forward slashes, trailing slash.
    pub prefix: String,
    /// Extra exclusions (gitignore syntax).
    pub ignore: Vec<String>,
    pub headers: HeaderRules,
    /// The rules as configured, to tell whether a reloaded site changed.
    pub rules: Vec<RuleSettings>,
}

impl Site {
    /// The path of the file with `key` inside the site folder: the key without the prefix.
    pub fn relative<'k>(&self, key: &'k str) -> &'k str {
        key.strip_prefix(self.prefix.as_str()).unwrap_or(key)
    }

    /// Where the file with `key` is read from.
    pub fn path_of(&self, key: &str) -> PathBuf {
        crate::site::scan::path_of(&self.dir, &self.prefix, key)
    }

    /// Whether `other` deploys the same folder the same way (for reloading the config).
    pub fn same_as(&self, other: &Site) -> bool {
        (
            &self.name,
            &self.env,
            &self.dir,
            &self.prefix,
            &self.ignore,
            &self.rules,
        ) == (
            &other.name,
            &other.env,
            &other.dir,
            &other.prefix,
            &other.ignore,
            &other.rules,
        )
    }
}

/// Which sites a command works on, as its flags say.
#[derive(Clone, Debug, Default)]
pub struct SiteChoice {
    /// A folder given on the command line: one site, of `env` (or the default env), under
    /// `prefix`. Without it, the `[[site]]` tables are picked by `name` and `env`.
    pub dir: Option<PathBuf>,
    pub prefix: Option<String>,
    pub env: Option<String>,
    /// The `[[site]]` of this name.
    pub name: Option<String>,
}

impl Config {
    /// The sites `choice` names, validated.
    pub fn sites_for(&self, choice: &SiteChoice) -> Result<Vec<Site>, ConfigError> {
        if let Some(dir) = &choice.dir {
            let env = self.env(choice.env.as_deref())?;
            return Ok(vec![Site {
                name: env.clone(),
                env,
                dir: dir.clone(),
                prefix: normalize_prefix(choice.prefix.as_deref().unwrap_or(""))?,
                ignore: Vec::new(),
                headers: HeaderRules::default(),
                rules: Vec::new(),
            }]);
        }
        if self.sites.is_empty() {
            return Err(ConfigError::Conflict(
                "nothing to deploy: pass --dir (and --env), or add [[site]] tables to the config file"
                    .into(),
            ));
        }
        let (name, env) = (choice.name.as_deref(), choice.env.as_deref());
        let chosen: Vec<Site> = self
            .sites
            .iter()
            .filter(|s| name.is_none_or(|n| s.name == n))
            .filter(|s| env.is_none_or(|e| s.env == e))
            .cloned()
            .collect();
        if chosen.is_empty() {
            let names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
            return Err(ConfigError::Conflict(format!(
                "no [[site]] matches --site/--env; the config has: {}",
                names.join(", ")
            )));
        }
        Ok(chosen)
    }
}

pub(super) fn sites(
    tables: &[SiteSettings],
    default_env: Option<&str>,
) -> Result<Vec<Site>, ConfigError> {
    let mut sites: Vec<Site> = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let env = t.env.as_deref().or(default_env).ok_or_else(|| {
            ConfigError::Conflict(format!(
                "[[site]] number {} has no env; set `env` in it or at the top of the file",
                i + 1
            ))
        })?;
        validate_env_id(env)?;
        let name = t.name.clone().unwrap_or_else(|| env.to_owned());
        if sites.iter().any(|s| s.name == name) {
            return Err(ConfigError::Conflict(format!(
                "two [[site]] tables are named {name:?}; give each a distinct `name`"
            )));
        }
        let rules: Vec<HeaderRule> = t
            .rules
            .iter()
            .flatten()
            .map(|r| HeaderRule {
                glob: r.glob.clone(),
                cache_control: r.cache_control.clone(),
                content_type: r.content_type.clone(),
            })
            .collect();
        let headers = HeaderRules::new(&rules).map_err(|e| ConfigError::Invalid {
            key: "site.rules",
            value: name.clone(),
            reason: e.to_string(),
        })?;
        sites.push(Site {
            name,
            env: env.to_owned(),
            dir: t.dir.clone(),
            prefix: normalize_prefix(t.prefix.as_deref().unwrap_or(""))?,
            ignore: t.ignore.clone().unwrap_or_default(),
            headers,
            rules: t.rules.clone().unwrap_or_default(),
        });
    }
    Ok(sites)
}

/// A store folder as keys use it: "" or "a/b/". Refuses what [`crate::site::key::check`]
/// refuses: absolute paths, `.` and `..` segments, backslashes and control characters.
pub fn normalize_prefix(prefix: &str) -> Result<String, ConfigError> {
    crate::site::key::check(prefix).map_err(|problem| ConfigError::Invalid {
        key: "prefix",
        value: prefix.chars().take(80).collect(),
        reason: problem.to_string(),
    })?;
    Ok(prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("{s}/"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalised_or_refused() {
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert_eq!(normalize_prefix("docs").unwrap(), "docs/");
        assert_eq!(normalize_prefix("a//b/").unwrap(), "a/b/");
        for bad in ["/abs", "a/../b", "./a", "a\\b", "a\u{7}b"] {
            assert!(normalize_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
