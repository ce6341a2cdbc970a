//! Whether a credential file changed: the token file, the verify ticket, the app secret or the
//! refresh token that `Remote::credential_files` names. A site waiting after a permanent
//! failure checks them every couple of seconds: a stat per file (size, mtime, inode), no
//! watch, since the files may live anywhere (a tmpfs of systemd credentials, a mounted
//! secret) and a rename into place must count too.

use std::path::PathBuf;
use std::time::Duration;

use crate::site::FileStat;

/// How often a waiting site looks at the credential files.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// The credential files and their stamps when last looked at.
#[derive(Debug)]
pub struct CredentialFiles {
    paths: Vec<PathBuf>,
    /// `None` for a file that could not be read (missing): its appearance is a change.
    seen: Vec<Option<FileStat>>,
}

impl CredentialFiles {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let seen = stamps(&paths);
        CredentialFiles { paths, seen }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Takes the files' stamps as they are now, the ones [`CredentialFiles::changed`] compares
    /// with: before a cycle, so a change during a failing cycle is seen after it.
    pub fn mark(&mut self) {
        self.seen = stamps(&self.paths);
    }

    /// Whether a file changed since it was last looked at; notes what it is now.
    pub fn changed(&mut self) -> bool {
        let now = stamps(&self.paths);
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

fn stamps(paths: &[PathBuf]) -> Vec<Option<FileStat>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| FileStat::of(&m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_replaced_or_created_file_is_a_change_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ticket = dir.path().join("ticket");
        let secret = dir.path().join("secret");
        std::fs::write(&ticket, "one").expect("write");
        let mut files = CredentialFiles::new(vec![ticket.clone(), secret.clone()]);
        assert!(!files.changed());

        std::fs::write(&ticket, "three").expect("write");
        assert!(files.changed());
        assert!(!files.changed(), "seen once");

        let next = dir.path().join("ticket.new");
        std::fs::write(&next, "three").expect("write");
        std::fs::rename(&next, &ticket).expect("rename");
        assert!(files.changed(), "a new inode");

        std::fs::write(&secret, "s").expect("write");
        assert!(files.changed(), "a file that appeared");
    }

    #[test]
    fn mark_forgets_what_happened_before() {
        let dir = tempfile::tempdir().expect("temp dir");
        let token = dir.path().join("token");
        let mut files = CredentialFiles::new(vec![token.clone()]);
        std::fs::write(&token, "t").expect("write");
        files.mark();
        assert!(!files.changed());
        assert!(CredentialFiles::new(Vec::new()).is_empty());
    }
}
