//! Many environments for one command: ids given by repeated `--env`, by an envs file (one id a
//! line, `#` comments, `-` for standard input) or by a `[[site]]`'s `envs`, each checked and
//! none twice; and `--shard K/N`, which keeps the ids whose stable hash falls in shard K, so N
//! machines split one list with no coordination, whatever order each reads it in.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::{ConfigError, validate_env_id};

/// Where one id of a list was given: an envs file's line, or a place named as it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Line { file: PathBuf, line: usize },
    Named(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { file, line } if file.as_os_str() == "-" => {
                write!(f, "standard input, line {line}")
            }
            Self::Line { file, line } => write!(f, "{}:{line}", file.display()),
            Self::Named(name) => f.write_str(name),
        }
    }
}

/// Environment ids in the order given, each valid and none twice.
#[derive(Clone, Debug, Default)]
pub struct EnvList {
    ids: Vec<(String, Origin)>,
}

impl EnvList {
    /// Adds `id`, refusing an invalid id or one already in the list, naming where each was.
    pub fn push(&mut self, id: &str, origin: Origin) -> Result<(), ConfigError> {
        validate_env_id(id).map_err(|e| ConfigError::Conflict(format!("{origin}: {e}")))?;
        if let Some((_, first)) = self.ids.iter().find(|(known, _)| known == id) {
            return Err(ConfigError::Conflict(format!(
                "{origin}: environment {id} is listed twice (first at {first}); list each environment once"
            )));
        }
        self.ids.push((id.to_owned(), origin));
        Ok(())
    }

    /// Adds every id of an envs file (`-`: standard input): one a line, surrounding blanks,
    /// blank lines and `#` comments ignored.
    pub fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = read_text(path)?;
        for (i, line) in text.lines().enumerate() {
            let id = line.split('#').next().unwrap_or("").trim();
            if id.is_empty() {
                continue;
            }
            let origin = Origin::Line {
                file: path.to_owned(),
                line: i + 1,
            };
            self.push(id, origin)?;
        }
        Ok(())
    }

    /// Keeps only the ids of `shard`.
    pub fn shard(&mut self, shard: Shard) {
        self.ids.retain(|(id, _)| shard.keeps(id));
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(|(id, _)| id.as_str())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids().any(|known| known == id)
    }
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let unreadable = |e: std::io::Error| ConfigError::Invalid {
        key: "envs file",
        value: path.display().to_string(),
        reason: format!("{e}; give a readable file of environment ids, one a line"),
    };
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(unreadable)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(unreadable)
}

/// `K/N`: the K-th (1-based) of N shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether `env` falls in this shard: the first 8 bytes of the SHA-256 of its id, taken
    /// as a big-endian number, modulo N, is K − 1. Stable across machines, releases and
    /// list orders.
    pub fn keeps(&self, env: &str) -> bool {
        let hash = Sha256::digest(env.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        u64::from_be_bytes(first) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not K/N with 1 ≤ K ≤ N, e.g. 2/4 for the second of four");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envs.txt");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn an_envs_file_skips_blanks_and_comments() {
        let (_dir, path) = file("# merchants\nshop-a\n\n  shop-b  # the big one\n\t\nshop-c\n");
        let mut list = EnvList::default();
        list.read_file(&path).unwrap();
        assert_eq!(
            list.ids().collect::<Vec<_>>(),
            ["shop-a", "shop-b", "shop-c"]
        );
    }

    #[test]
    fn a_bad_or_repeated_id_is_refused_by_its_line() {
        let (_dir, path) = file("shop-a\nshop_b\n");
        let error = EnvList::default().read_file(&path).unwrap_err().to_string();
        assert!(error.contains("envs.txt:2:"), "{error}");
        assert!(error.contains("shop_b"), "{error}");

        let (_dir, path) = file("shop-a\nshop-b\nshop-a\n");
        let error = EnvList::default().read_file(&path).unwrap_err().to_string();
        assert!(error.contains("envs.txt:3:"), "{error}");
        assert!(error.contains("listed twice"), "{error}");
        assert!(error.contains("envs.txt:1"), "{error}");
    }

    #[test]
    fn shards_split_a_list_into_disjoint_parts_that_cover_it() {
        let ids: Vec<String> = (0..1000).map(|i| format!("env-{i}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|k| format!("{k}/4").parse().unwrap()).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].keeps(id)).collect();
            assert_eq!(owners.len(), 1, "{id} is in shards {owners:?}");
            sizes[owners[0]] += 1;
        }
        // A fair hash: each quarter within 20 % of 250.
        assert!(sizes.iter().all(|&n| (200..=300).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn a_shard_is_k_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?}");
        }
    }
}
