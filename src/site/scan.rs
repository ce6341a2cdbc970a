//! Walks a site folder and lists the files to deploy, each with its remote key and its stat.
//!
//! What is left out on purpose ([`IgnoreRules`], `.deployignore` files in subfolders) is
//! dropped silently. What cannot be deployed (a name that is no valid key, a symlink leaving the
//! folder or looping, a broken link, an unreadable entry, a file too large for one upload, a
//! socket or device) is reported in [`Scan::skipped`] with a warning, and the scan goes on. Only
//! a problem with the folder itself, or with the rules, ends it with a [`ScanError`].
//!
//! The walk is `ignore`'s parallel walker: on 50,000 files in 500 folders, two cores and a warm
//! cache, it took about 125 ms against 205 ms for `walkdir` with the same matching. Most of
//! either is the one `stat` per file that the file's [`FileStat`] needs.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use super::FileStat;
use super::ignore_rules::glob_error_reason;
pub use super::ignore_rules::{DEFAULT_IGNORES, IGNORE_FILE_NAME, IgnoreRules};

/// The largest object one PUT can store (5 GiB); larger files are skipped as [`SkipReason::TooLarge`].
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Symlink hops after which a link that cannot be resolved counts as a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

/// What to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// The site folder.
    pub root: PathBuf,
    /// Prepended to every key: "" or "a/b/" (forward slashes, trailing slash, no leading one).
    pub prefix: String,
    /// Extra exclusions from the config, gitignore syntax.
    pub ignore: Vec<String>,
}

/// A file to deploy.
#[derive(Clone, Debug)]
pub struct LocalFile {
    /// The remote key: the prefix, then the path below the site folder with `/` between names.
    pub key: String,
    /// Where to read it: the site folder joined with its relative path (through any symlink).
    pub path: PathBuf,
    pub stat: FileStat,
}

/// An entry that is not deployed, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The symlink's target is not inside the site folder.
    SymlinkOutside,
    /// The symlink's target is inside the folder but excluded (e.g. `link -> .git`).
    SymlinkToExcluded,
    /// The symlink points to a folder that contains it, or resolves to itself.
    SymlinkLoop,
    /// The symlink's target does not exist.
    BrokenSymlink,
    NonUtf8Name,
    /// The name holds a control character or a backslash, which no key should.
    ControlCharacter,
    /// The folder could not be listed or the entry could not be stat'ed; the OS's reason.
    Unreadable(String),
    /// Larger than [`MAX_OBJECT_SIZE`].
    TooLarge,
    /// A socket, FIFO or device.
    Special,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SymlinkOutside => f.write_str("symlink points outside the site folder"),
            Self::SymlinkToExcluded => f.write_str("symlink points to an excluded path"),
            Self::SymlinkLoop => f.write_str("symlink loops back to a folder that contains it"),
            Self::BrokenSymlink => f.write_str("symlink points to nothing"),
            Self::NonUtf8Name => f.write_str("name is not valid UTF-8"),
            Self::ControlCharacter => {
                f.write_str("name contains a control character or a backslash")
            }
            Self::Unreadable(reason) => write!(f, "cannot be read: {reason}"),
            Self::TooLarge => f.write_str("larger than 5 GiB, the most one upload can take"),
            Self::Special => f.write_str("not a regular file (socket, FIFO or device)"),
        }
    }
}

/// The outcome of a scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// Sorted by key; keys are unique.
    pub files: Vec<LocalFile>,
    /// Sorted by path.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the site folder {} does not exist; build the site first or fix `dir`", path.display())]
    RootMissing { path: PathBuf },
    #[error("the site folder {} is not a folder; point `dir` at the build output folder", path.display())]
    RootNotADirectory { path: PathBuf },
    #[error("cannot read the site folder {}: {source}; check its permissions or fix `dir`", path.display())]
    RootUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid ignore glob `{glob}`: {reason}; fix it in `ignore`")]
    InvalidGlob { glob: String, reason: String },
    #[error("{}:{line}: invalid pattern: {reason}; fix or remove the line", path.display())]
    InvalidIgnoreFile {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("cannot read the ignore file {}: {source}; fix its permissions or remove it", path.display())]
    IgnoreFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Lists the files to deploy from `options.root`. Blocking: run it on tokio's blocking pool.
pub fn scan(options: &ScanOptions) -> Result<Scan, ScanError> {
    let canonical_root = check_root(&options.root)?;
    let rules = IgnoreRules::load(options)?;
    let filter = Arc::new(EntryFilter {
        root: options.root.clone(),
        canonical_root,
        rules,
        skipped: Mutex::new(Vec::new()),
    });

    let mut builder = WalkBuilder::new(&options.root);
    builder
        // No hidden-file, `.ignore`, `.gitignore` or parent-folder rules: only ours.
        .standard_filters(false)
        .add_custom_ignore_filename(IGNORE_FILE_NAME)
        // Links are followed so that linked folders are walked; `EntryFilter` refuses those that
        // leave the folder before the walker enters them, and the walker refuses loops.
        .follow_links(true);
    let entry_filter = Arc::clone(&filter);
    builder.filter_entry(move |entry| entry_filter.admits(entry));

    let found = Found::default();
    builder.build_parallel().visit(&mut VisitorFactory {
        root: &options.root,
        prefix: &options.prefix,
        found: &found,
    });

    if let Some(error) = into_inner(found.fatal) {
        return Err(error);
    }
    let mut files = into_inner(found.files);
    files.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let mut skipped = into_inner(found.skipped);
    skipped.append(&mut lock(&filter.skipped));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scan { files, skipped })
}

/// Checks that the root is a readable folder and returns its canonical path.
fn check_root(root: &Path) -> Result<PathBuf, ScanError> {
    let unreadable = |source| ScanError::RootUnreadable {
        path: root.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(root).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ScanError::RootMissing {
                path: root.to_path_buf(),
            }
        } else {
            unreadable(source)
        }
    })?;
    if !metadata.is_dir() {
        return Err(ScanError::RootNotADirectory {
            path: root.to_path_buf(),
        });
    }
    std::fs::read_dir(root).map_err(unreadable)?;
    std::fs::canonicalize(root).map_err(unreadable)
}

/// Decides, before the walker yields an entry or enters a folder, whether it may: applies the
/// root rules, checks the name can be a key, and keeps symlinks inside the folder.
struct EntryFilter {
    root: PathBuf,
    canonical_root: PathBuf,
    rules: IgnoreRules,
    skipped: Mutex<Vec<Skipped>>,
}

impl EntryFilter {
    fn admits(&self, entry: &DirEntry) -> bool {
        let Ok(relative) = entry.path().strip_prefix(&self.root) else {
            return true;
        };
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if self.rules.excludes_entry(relative, is_dir) {
            return false;
        }
        if let Some(reason) = name_problem(entry.file_name()) {
            lock(&self.skipped).push(skip(entry.path(), reason));
            return false;
        }
        if entry.path_is_symlink() {
            let reason = match std::fs::canonicalize(entry.path()) {
                Ok(target) => match target.strip_prefix(&self.canonical_root) {
                    // An excluded path must not come back under another name.
                    Ok(inside) if self.rules.is_ignored(inside, target.is_dir()) => {
                        SkipReason::SymlinkToExcluded
                    }
                    Ok(_) => return true,
                    Err(_) => SkipReason::SymlinkOutside,
                },
                Err(e) => SkipReason::Unreadable(e.to_string()),
            };
            lock(&self.skipped).push(skip(entry.path(), reason));
            return false;
        }
        true
    }
}

/// Why a name cannot be part of a key, if it cannot.
fn name_problem(name: &OsStr) -> Option<SkipReason> {
    match name.to_str() {
        None => Some(SkipReason::NonUtf8Name),
        Some(name) if name.chars().any(|c| c.is_control() || c == '\\') => {
            Some(SkipReason::ControlCharacter)
        }
        Some(_) => None,
    }
}

/// What the walker's threads found, merged as each thread's [`Visitor`] finishes.
#[derive(Default)]
struct Found {
    files: Mutex<Vec<LocalFile>>,
    skipped: Mutex<Vec<Skipped>>,
    /// The first problem with a `.deployignore` in a subfolder; it stops the walk.
    fatal: Mutex<Option<ScanError>>,
}

/// Makes one [`Visitor`] per walker thread.
struct VisitorFactory<'s> {
    root: &'s Path,
    prefix: &'s str,
    found: &'s Found,
}

impl<'s> ParallelVisitorBuilder<'s> for VisitorFactory<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            prefix: self.prefix,
            found: self.found,
            files: Vec::new(),
            skipped: Vec::new(),
        })
    }
}

/// One walker thread's findings, kept locally and handed to [`Found`] when the thread is done.
struct Visitor<'s> {
    root: &'s Path,
    prefix: &'s str,
    found: &'s Found,
    files: Vec<LocalFile>,
    skipped: Vec<Skipped>,
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => self.entry(entry),
            Err(error) => self.error(&error),
        }
    }
}

impl Visitor<'_> {
    fn entry(&mut self, entry: DirEntry) -> WalkState {
        // The walker hangs a folder's ignore-file problems on the folder's entry.
        if let Some(error) = entry.error() {
            return self.stop(ignore_file_error(error));
        }
        let Some(file_type) = entry.file_type() else {
            return WalkState::Continue; // only standard input has none
        };
        if file_type.is_dir() {
            return WalkState::Continue;
        }
        if !file_type.is_file() {
            self.skip(entry.path(), SkipReason::Special);
            return WalkState::Continue;
        }
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            Err(error) => return self.error(&error),
        };
        if metadata.len() > MAX_OBJECT_SIZE {
            self.skip(entry.path(), SkipReason::TooLarge);
            return WalkState::Continue;
        }
        // Every name on the way was checked by `EntryFilter`, so this cannot fail; it is still
        // handled rather than unwrapped.
        let Some(key) = key_for(self.prefix, self.root, entry.path()) else {
            self.skip(entry.path(), SkipReason::NonUtf8Name);
            return WalkState::Continue;
        };
        self.files.push(LocalFile {
            key,
            path: entry.into_path(),
            stat: FileStat::of(&metadata),
        });
        WalkState::Continue
    }

    fn error(&mut self, error: &ignore::Error) -> WalkState {
        let context = ErrorContext::of(error);
        match context.leaf {
            // Patterns only fail to parse in ignore files.
            ignore::Error::Glob { .. } => self.stop(ignore_file_error(error)),
            ignore::Error::Loop { child, .. } => {
                self.skip(child, SkipReason::SymlinkLoop);
                WalkState::Continue
            }
            ignore::Error::Io(io) => {
                let path = context.path.unwrap_or(self.root);
                self.skip(path, unreadable_reason(path, io));
                WalkState::Continue
            }
            other => {
                let path = context.path.unwrap_or(self.root);
                self.skip(path, SkipReason::Unreadable(other.to_string()));
                WalkState::Continue
            }
        }
    }

    fn skip(&mut self, path: &Path, reason: SkipReason) {
        self.skipped.push(skip(path, reason));
    }

    fn stop(&mut self, error: ScanError) -> WalkState {
        lock(&self.found.fatal).get_or_insert(error);
        WalkState::Quit
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        lock(&self.found.files).append(&mut self.files);
        lock(&self.found.skipped).append(&mut self.skipped);
    }
}

/// The key for a file: the prefix, then its path below the root with `/` between names.
fn key_for(prefix: &str, root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let mut key = String::with_capacity(prefix.len() + relative.as_os_str().len());
    key.push_str(prefix);
    for (index, name) in relative.iter().enumerate() {
        if index > 0 {
            key.push('/');
        }
        key.push_str(name.to_str()?);
    }
    Some(key)
}

/// Why an entry whose metadata could not be read is skipped.
fn unreadable_reason(path: &Path, error: &std::io::Error) -> SkipReason {
    let is_symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_symlink {
        SkipReason::Unreadable(error.to_string())
    } else if error.kind() == std::io::ErrorKind::NotFound {
        SkipReason::BrokenSymlink
    } else if resolves_in_a_cycle(path) {
        SkipReason::SymlinkLoop
    } else {
        SkipReason::Unreadable(error.to_string())
    }
}

/// Whether following the link from `path` comes back to a link already seen, or goes on for
/// more hops than the OS allows (how a chain of links that point at each other fails).
fn resolves_in_a_cycle(path: &Path) -> bool {
    let mut seen = Vec::new();
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINK_HOPS {
        if seen.contains(&current) {
            return true;
        }
        let Ok(target) = std::fs::read_link(&current) else {
            return false;
        };
        let next = current
            .parent()
            .map_or_else(|| target.clone(), |dir| dir.join(&target));
        seen.push(std::mem::replace(&mut current, next));
    }
    true
}

/// An ignore file in a subfolder that cannot be read or holds an invalid pattern.
fn ignore_file_error(error: &ignore::Error) -> ScanError {
    let context = ErrorContext::of(error);
    let path = context.path.map_or_else(PathBuf::new, Path::to_path_buf);
    match (context.leaf, context.line) {
        (ignore::Error::Io(io), _) => ScanError::IgnoreFileUnreadable {
            path,
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        (leaf, Some(line)) => ScanError::InvalidIgnoreFile {
            path,
            line,
            reason: glob_error_reason(leaf),
        },
        (leaf, None) => ScanError::IgnoreFileUnreadable {
            path,
            source: std::io::Error::other(leaf.to_string()),
        },
    }
}

/// An `ignore` error taken apart: the innermost path and line it names, and the error itself.
struct ErrorContext<'e> {
    path: Option<&'e Path>,
    line: Option<u64>,
    leaf: &'e ignore::Error,
}

impl<'e> ErrorContext<'e> {
    fn of(mut error: &'e ignore::Error) -> ErrorContext<'e> {
        let (mut path, mut line) = (None, None);
        loop {
            match error {
                ignore::Error::WithPath { path: p, err } => {
                    path = Some(p.as_path());
                    error = err;
                }
                ignore::Error::WithLineNumber { line: l, err } => {
                    line = Some(*l);
                    error = err;
                }
                ignore::Error::WithDepth { err, .. } => error = err,
                // Several bad lines in one file: the first is enough to act on.
                ignore::Error::Partial(errors) if !errors.is_empty() => error = &errors[0],
                leaf => return ErrorContext { path, line, leaf },
            }
        }
    }
}

/// Records a skipped entry, with the warning every skip gets. The path is shown escaped: names
/// that are skipped may hold control characters or bytes that are not UTF-8.
fn skip(path: &Path, reason: SkipReason) -> Skipped {
    tracing::warn!(path = ?path, reason = %reason, "not deployed");
    Skipped {
        path: path.to_path_buf(),
        reason,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A walker thread that panicked left nothing half-written that matters here.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    use super::*;

    /// A site folder inside a temp dir, so tests can also put things next to it.
    struct Site {
        _temp: tempfile::TempDir,
        root: PathBuf,
    }

    impl Site {
        fn new() -> Site {
            let temp = tempfile::tempdir().expect("temp dir");
            let root = temp.path().join("site");
            std::fs::create_dir(&root).expect("create site folder");
            Site { _temp: temp, root }
        }

        fn with_files(paths: &[&str]) -> Site {
            let site = Site::new();
            for path in paths {
                site.write(path, "x");
            }
            site
        }

        fn write(&self, relative: impl AsRef<Path>, contents: &str) {
            let path = self.root.join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
            std::fs::write(path, contents).expect("write file");
        }

        fn link(&self, relative: &str, target: impl AsRef<Path>) {
            let path = self.root.join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("create folders");
            symlink(target, path).expect("symlink");
        }

        /// A folder beside the site folder, outside it.
        fn outside(&self) -> PathBuf {
            let outside = self.root.with_file_name("outside");
            std::fs::create_dir_all(&outside).expect("create outside folder");
            std::fs::write(outside.join("secret.txt"), "secret").expect("write");
            outside
        }

        fn options(&self) -> ScanOptions {
            ScanOptions {
                root: self.root.clone(),
                prefix: String::new(),
                ignore: Vec::new(),
            }
        }

        fn scan(&self) -> Scan {
            scan(&self.options()).expect("scan")
        }

        /// Skipped entries as (path below the site folder, reason).
        fn skipped(&self, scan: &Scan) -> Vec<(String, SkipReason)> {
            scan.skipped
                .iter()
                .map(|s| {
                    let relative = s.path.strip_prefix(&self.root).expect("inside the site");
                    (relative.to_string_lossy().into_owned(), s.reason.clone())
                })
                .collect()
        }
    }

    fn keys(scan: &Scan) -> Vec<&str> {
        scan.files.iter().map(|f| f.key.as_str()).collect()
    }

    #[test]
    fn nested_files_become_sorted_keys_with_their_stat() {
        let site = Site::with_files(&[
            "index.html",
            "assets/app.js",
            "a/b/c/deep.txt",
            "my page.html",
            "文档/说明.html",
            ".well-known/assetlinks.json",
        ]);
        site.write("empty.txt", "");
        let scan = site.scan();
        assert_eq!(
            keys(&scan),
            [
                ".well-known/assetlinks.json",
                "a/b/c/deep.txt",
                "assets/app.js",
                "empty.txt",
                "index.html",
                "my page.html",
                "文档/说明.html",
            ]
        );
        assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
        for file in &scan.files {
            assert_eq!(file.path, site.root.join(&file.key));
            let metadata = std::fs::metadata(&file.path).expect("stat");
            assert_eq!(file.stat, FileStat::of(&metadata));
        }
        let empty = scan
            .files
            .iter()
            .find(|f| f.key == "empty.txt")
            .expect("listed");
        assert_eq!(empty.stat.size, 0);
    }

    #[test]
    fn the_prefix_is_prepended_to_every_key() {
        let site = Site::with_files(&["index.html", "文档/说明.html"]);
        let options = ScanOptions {
            prefix: "docs/v1/".to_owned(),
            ..site.options()
        };
        let scan = scan(&options).expect("scan");
        assert_eq!(
            keys(&scan),
            ["docs/v1/index.html", "docs/v1/文档/说明.html"]
        );
    }

    #[test]
    fn default_ignores_leave_out_vcs_folders_os_litter_and_editor_files() {
        let site = Site::with_files(&[
            "index.html",
            ".git/HEAD",
            ".git/objects/ab/cdef",
            ".svn/entries",
            ".hg/store/data",
            ".DS_Store",
            "img/.DS_Store",
            "img/logo.png",
            "Thumbs.db",
            "desktop.ini",
            ".index.html.swp",
            ".index.html.swo",
            "a~",
            "#b#",
            ".#index.html",
        ]);
        assert_eq!(keys(&site.scan()), ["img/logo.png", "index.html"]);
    }

    #[test]
    fn gitignore_and_dot_ignore_files_are_not_applied() {
        let site = Site::with_files(&["app.js", "style.css", "sub/page.html"]);
        site.write(".gitignore", "*.js\n");
        site.write(".ignore", "*.css\n");
        site.write("sub/.gitignore", "*\n");
        assert_eq!(
            keys(&site.scan()),
            [
                ".gitignore",
                ".ignore",
                "app.js",
                "style.css",
                "sub/.gitignore",
                "sub/page.html"
            ]
        );
    }

    #[test]
    fn config_globs_exclude_in_gitignore_syntax() {
        let site = Site::with_files(&[
            "index.html",
            "app.js.map",
            "js/vendor.js.map",
            "js/keep.map",
            "drafts/post.html",
            "blog/drafts/post.html",
        ]);
        let options = ScanOptions {
            ignore: vec![
                "*.map".to_owned(),
                "!keep.map".to_owned(),
                "/drafts/".to_owned(),
            ],
            ..site.options()
        };
        let scan = scan(&options).expect("scan");
        assert_eq!(
            keys(&scan),
            ["blog/drafts/post.html", "index.html", "js/keep.map"]
        );
    }

    #[test]
    fn root_deployignore_applies_with_negation_and_is_not_deployed() {
        let site =
            Site::with_files(&["index.html", "notes.txt", "docs/todo.txt", "keep.txt", "a~"]);
        site.write(".deployignore", "# drafts\n*.txt\n!keep.txt\n!a~\n");
        assert_eq!(keys(&site.scan()), ["a~", "index.html", "keep.txt"]);
    }

    #[test]
    fn subfolder_deployignores_apply_below_them_deepest_first_and_are_not_deployed() {
        let site = Site::with_files(&[
            "debug.log",
            "sub/debug.log",
            "sub/page.html",
            "sub/deeper/trace.log",
            "sub/deeper/keep.log",
        ]);
        site.write("sub/.deployignore", "*.log\n");
        site.write("sub/deeper/.deployignore", "!keep.log\n");
        assert_eq!(
            keys(&site.scan()),
            ["debug.log", "sub/deeper/keep.log", "sub/page.html"]
        );
    }

    #[test]
    fn subfolder_deployignore_cannot_bring_back_what_the_root_rules_exclude() {
        // Documented limit: the walker leaves out what either the root rules or the subfolder's
        // file excludes.
        let site = Site::with_files(&["a.map", "sub/b.map"]);
        site.write(".deployignore", "*.map\n");
        site.write("sub/.deployignore", "!b.map\n");
        assert!(keys(&site.scan()).is_empty());
    }

    #[test]
    fn symlinks_inside_the_folder_are_followed_under_the_link_name() {
        let site = Site::with_files(&["real/a.txt", "real/sub/b.txt"]);
        site.link("link-file.txt", "real/a.txt");
        site.link("link-dir", "real");
        site.link("nested/abs-link", site.root.join("real/sub"));
        let scan = site.scan();
        assert_eq!(
            keys(&scan),
            [
                "link-dir/a.txt",
                "link-dir/sub/b.txt",
                "link-file.txt",
                "nested/abs-link/b.txt",
                "real/a.txt",
                "real/sub/b.txt",
            ]
        );
        assert!(scan.skipped.is_empty(), "{:?}", scan.skipped);
        let linked = scan
            .files
            .iter()
            .find(|f| f.key == "link-file.txt")
            .expect("listed");
        assert_eq!(linked.stat.size, 1, "the target's stat, not the link's");
    }

    #[test]
    fn symlinks_leaving_the_folder_are_skipped() {
        let site = Site::with_files(&["index.html"]);
        let outside = site.outside();
        site.link("out-dir", "../outside");
        site.link("out-file", outside.join("secret.txt"));
        site.link("sub/root", "/");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["index.html"]);
        assert_eq!(
            site.skipped(&scan),
            [
                ("out-dir".to_owned(), SkipReason::SymlinkOutside),
                ("out-file".to_owned(), SkipReason::SymlinkOutside),
                ("sub/root".to_owned(), SkipReason::SymlinkOutside),
            ]
        );
    }

    #[test]
    fn symlinks_into_excluded_paths_are_skipped() {
        let site = Site::with_files(&["index.html", ".git/config", "drafts/a.html"]);
        site.link("repo", ".git");
        site.link("config-copy", ".git/config");
        site.link("published", "drafts");
        let mut options = site.options();
        options.ignore = vec!["drafts/".into()];
        let scan = super::scan(&options).expect("scan");
        assert_eq!(keys(&scan), ["index.html"]);
        assert_eq!(
            site.skipped(&scan),
            [
                ("config-copy".to_owned(), SkipReason::SymlinkToExcluded),
                ("published".to_owned(), SkipReason::SymlinkToExcluded),
                ("repo".to_owned(), SkipReason::SymlinkToExcluded),
            ]
        );
    }

    #[test]
    fn symlink_loops_are_skipped_not_walked() {
        let site = Site::with_files(&["a/file.txt"]);
        site.link("a/up", "..");
        site.link("a/self", "../a");
        site.link("me", "me");
        site.link("ping", "pong");
        site.link("pong", "ping");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["a/file.txt"]);
        assert_eq!(
            site.skipped(&scan),
            [
                ("a/self".to_owned(), SkipReason::SymlinkLoop),
                ("a/up".to_owned(), SkipReason::SymlinkLoop),
                ("me".to_owned(), SkipReason::SymlinkLoop),
                ("ping".to_owned(), SkipReason::SymlinkLoop),
                ("pong".to_owned(), SkipReason::SymlinkLoop),
            ]
        );
    }

    #[test]
    fn broken_symlinks_are_skipped() {
        let site = Site::with_files(&["index.html"]);
        site.link("gone.html", "missing.html");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["index.html"]);
        assert_eq!(
            site.skipped(&scan),
            [("gone.html".to_owned(), SkipReason::BrokenSymlink)]
        );
    }

    #[test]
    fn names_that_cannot_be_keys_are_skipped_with_their_folder_contents() {
        let site = Site::with_files(&[
            "ok.html",
            "bad\x07name",
            "back\\slash.html",
            "tab\tdir/inner.html",
        ]);
        let non_utf8 = OsStr::from_bytes(b"caf\xe9");
        site.write(non_utf8, "x");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["ok.html"]);
        let mut skipped: Vec<(PathBuf, SkipReason)> = scan
            .skipped
            .iter()
            .map(|s| {
                (
                    s.path
                        .strip_prefix(&site.root)
                        .expect("inside")
                        .to_path_buf(),
                    s.reason.clone(),
                )
            })
            .collect();
        skipped.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            skipped,
            [
                (
                    PathBuf::from("back\\slash.html"),
                    SkipReason::ControlCharacter
                ),
                (PathBuf::from("bad\x07name"), SkipReason::ControlCharacter),
                (PathBuf::from(non_utf8), SkipReason::NonUtf8Name),
                (PathBuf::from("tab\tdir"), SkipReason::ControlCharacter),
            ]
        );
    }

    #[test]
    fn files_over_five_gib_are_skipped_without_being_read() {
        let site = Site::with_files(&["index.html"]);
        let exact = std::fs::File::create(site.root.join("exact.bin")).expect("create");
        exact.set_len(MAX_OBJECT_SIZE).expect("sparse length");
        let huge = std::fs::File::create(site.root.join("huge.bin")).expect("create");
        huge.set_len(MAX_OBJECT_SIZE + 1).expect("sparse length");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["exact.bin", "index.html"]);
        assert_eq!(
            site.skipped(&scan),
            [("huge.bin".to_owned(), SkipReason::TooLarge)]
        );
    }

    #[test]
    fn sockets_are_skipped_as_special() {
        let site = Site::with_files(&["index.html"]);
        let _listener =
            std::os::unix::net::UnixListener::bind(site.root.join("app.sock")).expect("bind");
        let scan = site.scan();
        assert_eq!(keys(&scan), ["index.html"]);
        assert_eq!(
            site.skipped(&scan),
            [("app.sock".to_owned(), SkipReason::Special)]
        );
    }

    #[test]
    fn an_invalid_config_glob_ends_the_scan_naming_it() {
        let site = Site::with_files(&["index.html"]);
        let options = ScanOptions {
            ignore: vec!["*.map".to_owned(), "[z-a].html".to_owned()],
            ..site.options()
        };
        let err = scan(&options).expect_err("invalid glob");
        assert!(matches!(&err, ScanError::InvalidGlob { glob, .. } if glob == "[z-a].html"));
        let message = err.to_string();
        assert!(
            message.contains("`[z-a].html`") && message.contains("`ignore`"),
            "{message}"
        );
    }

    #[test]
    fn an_invalid_line_in_a_deployignore_ends_the_scan_naming_file_and_line() {
        for folder in ["", "sub/deeper/"] {
            let site = Site::with_files(&["index.html", "sub/deeper/page.html"]);
            site.write(format!("{folder}.deployignore"), "*.txt\n[z-a]\n");
            let err = scan(&site.options()).expect_err("invalid pattern");
            let ScanError::InvalidIgnoreFile { path, line, .. } = &err else {
                panic!("unexpected error {err:?}");
            };
            assert_eq!(path, &site.root.join(format!("{folder}.deployignore")));
            assert_eq!(*line, 2);
            assert!(
                err.to_string().contains(".deployignore:2: invalid pattern"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_missing_root_says_to_build_first() {
        let site = Site::new();
        let options = ScanOptions {
            root: site.root.join("dist"),
            ..site.options()
        };
        let err = scan(&options).expect_err("missing");
        assert!(matches!(err, ScanError::RootMissing { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("build the site first or fix `dir`"),
            "{err}"
        );
    }

    #[test]
    fn a_root_that_is_a_file_is_refused() {
        let site = Site::with_files(&["index.html"]);
        let options = ScanOptions {
            root: site.root.join("index.html"),
            ..site.options()
        };
        let err = scan(&options).expect_err("not a folder");
        assert!(
            matches!(err, ScanError::RootNotADirectory { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("`dir`"), "{err}");
    }

    #[test]
    fn a_relative_root_gives_the_same_keys() {
        let site = Site::with_files(&["index.html", "site/index.html"]);
        site.write(".deployignore", "/index.html\n");
        // Tests run in parallel, so rather than changing directory, climb from the current one
        // to the filesystem root and back down to the site folder.
        let cwd = std::env::current_dir().expect("cwd");
        let mut root: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        root.push(site.root.strip_prefix("/").expect("absolute"));
        let options = ScanOptions {
            root,
            ..site.options()
        };
        let scan = scan(&options).expect("scan");
        assert_eq!(keys(&scan), ["site/index.html"]);
        assert_eq!(scan.files[0].path, options.root.join("site/index.html"));
    }

    #[test]
    fn ignore_rules_agree_with_the_scan() {
        let site = Site::with_files(&[
            "index.html",
            ".git/config",
            "img/.DS_Store",
            "notes.txt",
            "keep.txt",
            "drafts/post.html",
            "js/app.js",
            "js/app.js.map",
        ]);
        site.write(".deployignore", "*.txt\n!keep.txt\n");
        let options = ScanOptions {
            ignore: vec!["/drafts/".to_owned(), "*.map".to_owned()],
            ..site.options()
        };
        let scan = scan(&options).expect("scan");
        let rules = IgnoreRules::load(&options).expect("rules");
        for path in [
            "index.html",
            ".git/config",
            "img/.DS_Store",
            "notes.txt",
            "keep.txt",
            "drafts/post.html",
            "js/app.js",
            "js/app.js.map",
            ".deployignore",
        ] {
            let listed = scan.files.iter().any(|f| f.key == path);
            assert_eq!(rules.is_ignored(Path::new(path), false), !listed, "{path}");
        }
        assert!(rules.is_ignored(Path::new(".git"), true));
        assert!(rules.is_ignored(Path::new("drafts"), true));
        assert!(!rules.is_ignored(Path::new("js"), true));
    }
}
