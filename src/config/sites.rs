//! The sites a command works on, built in one place: a folder given on the command line, or
//! the `[[site]]` tables of the config file, picked by name or environment. A folder given
//! many environments (repeated `--env`, an envs file, a table's `envs`) is one site each.

use std::path::PathBuf;

use super::envs::{EnvList, Origin, Shard};
use super::{Config, ConfigError, RuleSettings, SiteSettings, validate_env_id};
use crate::site::headers::{HeaderRule, HeaderRules};

/// A build folder deployed to an environment, validated.
#[derive(Clone, Debug)]
pub struct Site {
    /// Unique among the sites of a config: the table's name, with `/env` for a table of
    /// many environments.
    pub name: String,
    /// The `[[site]]` table's name, which `--site` picks (the name, for a site of its own).
    pub group: String,
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
            &self.group,
            &self.env,
            &self.dir,
            &self.prefix,
            &self.ignore,
            &self.rules,
        ) == (
            &other.name,
            &other.group,
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
    /// A folder given on the command line: one site per environment (the default env when
    /// none is given), under `prefix`. Without it, the `[[site]]` tables are picked by `name`
    /// and by the environments.
    pub dir: Option<PathBuf>,
    pub prefix: Option<String>,
    /// `--env`, as often as given.
    pub envs: Vec<String>,
    /// `--envs-file`: more ids, one a line (`-`: standard input).
    pub envs_file: Option<PathBuf>,
    /// The `[[site]]` of this name.
    pub name: Option<String>,
    /// Keep only the environments of this shard.
    pub shard: Option<Shard>,
}

impl SiteChoice {
    /// The environments the flags name, checked; empty when they name none.
    pub fn env_list(&self) -> Result<EnvList, ConfigError> {
        let mut list = EnvList::default();
        for env in &self.envs {
            list.push(env, Origin::Named(format!("--env {env}")))?;
        }
        if let Some(file) = &self.envs_file {
            list.read_file(file)?;
        }
        Ok(list)
    }
}

impl Config {
    /// The sites `choice` names, validated. Empty only when a shard keeps none of them.
    pub fn sites_for(&self, choice: &SiteChoice) -> Result<Vec<Site>, ConfigError> {
        let mut chosen = self.chosen(choice)?;
        if let Some(shard) = choice.shard {
            chosen.retain(|site| shard.keeps(&site.env));
        }
        Ok(chosen)
    }

    fn chosen(&self, choice: &SiteChoice) -> Result<Vec<Site>, ConfigError> {
        let listed = choice.env_list()?;
        if let Some(dir) = &choice.dir {
            let prefix = normalize_prefix(choice.prefix.as_deref().unwrap_or(""))?;
            let envs: Vec<String> = match listed.is_empty() {
                true => vec![self.env(None)?],
                false => listed.ids().map(str::to_owned).collect(),
            };
            return Ok(envs
                .into_iter()
                .map(|env| Site {
                    name: env.clone(),
                    group: env.clone(),
                    env,
                    dir: dir.clone(),
                    prefix: prefix.clone(),
                    ignore: Vec::new(),
                    headers: HeaderRules::default(),
                    rules: Vec::new(),
                })
                .collect());
        }
        if self.sites.is_empty() {
            return Err(ConfigError::Conflict(
                "nothing to deploy: pass --dir (and --env), or add [[site]] tables to the config file"
                    .into(),
            ));
        }
        let name = choice.name.as_deref();
        let chosen: Vec<Site> = self
            .sites
            .iter()
            .filter(|s| name.is_none_or(|n| s.group == n))
            .filter(|s| listed.is_empty() || listed.contains(&s.env))
            .cloned()
            .collect();
        if chosen.is_empty() {
            let mut names: Vec<&str> = self.sites.iter().map(|s| s.group.as_str()).collect();
            names.dedup();
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
        let envs = table_envs(t, i + 1, default_env)?;
        let group = match (&t.name, envs.as_slice()) {
            (Some(name), _) => name.clone(),
            (None, [env]) => env.clone(),
            (None, _) => format!("site-{}", i + 1),
        };
        if sites.iter().any(|s| s.group == group) {
            return Err(ConfigError::Conflict(format!(
                "two [[site]] tables are named {group:?}; give each a distinct `name`"
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
            value: group.clone(),
            reason: e.to_string(),
        })?;
        let prefix = normalize_prefix(t.prefix.as_deref().unwrap_or(""))?;
        let listed = t.envs.is_some() || t.envs_file.is_some();
        for env in envs {
            let name = match (listed, &t.name) {
                (false, _) => group.clone(),
                (true, Some(table)) => format!("{table}/{env}"),
                (true, None) => env.clone(),
            };
            if sites.iter().any(|s| s.name == name) {
                return Err(ConfigError::Conflict(format!(
                    "two [[site]] tables deploy to {env} under the name {name:?}; give each table a distinct `name`"
                )));
            }
            sites.push(Site {
                name,
                group: group.clone(),
                env,
                dir: t.dir.clone(),
                prefix: prefix.clone(),
                ignore: t.ignore.clone().unwrap_or_default(),
                headers: headers.clone(),
                rules: t.rules.clone().unwrap_or_default(),
            });
        }
    }
    Ok(sites)
}

/// The environments of table `number`: `env`, or `envs` and `envs_file`, or the top-level
/// `env`; never two of the same, never none.
fn table_envs(
    t: &SiteSettings,
    number: usize,
    default_env: Option<&str>,
) -> Result<Vec<String>, ConfigError> {
    let in_table = |e: ConfigError| ConfigError::Conflict(format!("[[site]] number {number}: {e}"));
    let many = t.envs.is_some() || t.envs_file.is_some();
    if let Some(env) = &t.env {
        if many {
            return Err(in_table(ConfigError::Conflict(
                "`env` and `envs`/`envs_file` both given; keep one".into(),
            )));
        }
        validate_env_id(env).map_err(in_table)?;
        return Ok(vec![env.clone()]);
    }
    if !many {
        let env = default_env.ok_or_else(|| {
            ConfigError::Conflict(format!(
                "[[site]] number {number} has no env; set `env` in it or at the top of the file (or `envs` in it, for many)"
            ))
        })?;
        validate_env_id(env)?;
        return Ok(vec![env.to_owned()]);
    }
    let mut list = EnvList::default();
    for (j, env) in t.envs.iter().flatten().enumerate() {
        let origin = Origin::Named(format!("[[site]] number {number}, envs[{j}]"));
        list.push(env, origin)?;
    }
    if let Some(file) = &t.envs_file {
        list.read_file(file)?;
    }
    if list.is_empty() {
        return Err(ConfigError::Conflict(format!(
            "[[site]] number {number} lists no environment; add ids to `envs` or its envs file"
        )));
    }
    Ok(list.ids().map(str::to_owned).collect())
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
