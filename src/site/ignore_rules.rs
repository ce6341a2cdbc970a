//! Which paths of a site folder are never deployed, as one matcher that both the scan and the
//! file watcher consult, so a path the scan leaves out is also a path whose changes are ignored.
//!
//! The rules are gitignore lines taken in order, the last matching line deciding: the built-in
//! defaults, then the config's `ignore` globs, then the site root's `.deployignore`. So a
//! `!pattern` in `.deployignore` can bring back a file that a default or a config glob excludes.
//! The defaults are patterns on an entry's own name, so they are matched by name
//! ([`excluded_by_default`]); the user's lines go through a gitignore matcher, which is asked
//! first because its lines come later.
//! `.gitignore` files and git's global excludes are deliberately not read: a build folder is
//! deployed whatever the repository ignores.
//!
//! `.deployignore` files in subfolders are applied by the scan's walker, which reads them
//! ([`folder_rules`]) as it enters each folder. They can exclude more, or bring back what an outer `.deployignore` in a
//! subfolder excluded; they cannot bring back what the root rules exclude, because the walker
//! asks both and leaves out what either excludes. [`IgnoreRules`] alone knows only the root rules.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::scan::{ScanError, ScanOptions};
use crate::text::snippet;

/// The name of the ignore files read in the site folder. They are rules, never deployed.
pub const IGNORE_FILE_NAME: &str = ".deployignore";

/// Excluded unless a later rule brings them back: version-control folders, litter that file
/// managers leave, and editor swap, backup and lock files. [`excluded_by_default`] matches
/// exactly these (a test holds the two together).
pub const DEFAULT_IGNORES: &[&str] = &[
    ".git/",
    ".svn/",
    ".hg/",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".*.swp",
    ".*.swo",
    "*~",
    // A line starting with `#` is a comment; the backslash makes this one a pattern (`#name#`).
    "\\#*#",
    ".#*",
];

/// The root-level exclusion rules of one site folder.
#[derive(Clone, Debug)]
pub struct IgnoreRules {
    /// The config's globs and the root `.deployignore`; `None` when there are none.
    user: Option<Gitignore>,
}

impl IgnoreRules {
    /// Builds the rules: defaults, then `options.ignore`, then `options.root/.deployignore` if
    /// there is one.
    pub fn load(options: &ScanOptions) -> Result<IgnoreRules, ScanError> {
        let file = options.root.join(IGNORE_FILE_NAME);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ScanError::IgnoreFileUnreadable { path: file, source });
            }
        };
        let root_file = text.as_deref().map(|text| (file.as_path(), text));
        IgnoreRules::build(&options.ignore, root_file)
    }

    /// Builds the rules from text already at hand: defaults, then the config's `ignore` globs,
    /// then the lines of the root `.deployignore` (its path, for errors, and its text) if there
    /// is one. Touches no files.
    pub fn build(
        config: &[String],
        root_file: Option<(&Path, &str)>,
    ) -> Result<IgnoreRules, ScanError> {
        // Paths are matched relative to the site folder. A root of "." is the one root
        // `Gitignore` strips nothing from, so a subfolder that happens to share the site
        // folder's own name is not mistaken for it.
        let mut builder = GitignoreBuilder::new(".");
        for glob in config {
            builder
                .add_line(None, glob)
                .map_err(|e| ScanError::InvalidGlob {
                    glob: glob.to_owned(),
                    reason: glob_error_reason(&e),
                })?;
        }
        if let Some((path, text)) = root_file {
            add_file_lines(&mut builder, path, text)?;
        }
        let matcher = builder.build().map_err(|e| ScanError::InvalidGlob {
            glob: "(the ignore patterns together)".to_owned(),
            reason: glob_error_reason(&e),
        })?;
        let user = (!matcher.is_empty()).then_some(matcher);
        Ok(IgnoreRules { user })
    }

    /// Whether the path, relative to the site folder, is excluded: it, or a folder on the way to
    /// it, matches the rules, or it is a `.deployignore` file. A path that is not inside the site
    /// folder (absolute, or climbing out with `..`) counts as excluded. Touches no files.
    pub fn is_ignored(&self, relative: &Path, is_dir: bool) -> bool {
        let mut components = relative
            .components()
            .filter(|c| *c != Component::CurDir)
            .peekable();
        let mut walked = PathBuf::new();
        while let Some(component) = components.next() {
            let Component::Normal(name) = component else {
                return true;
            };
            walked.push(name);
            // Git's rule, which the walker follows too: nothing inside an excluded folder
            // comes back, whatever later lines say.
            let component_is_dir = components.peek().is_some() || is_dir;
            if self.excludes_entry(&walked, component_is_dir) {
                return true;
            }
        }
        false
    }

    /// Whether this one entry is excluded, its parent folders being known to be included (the
    /// walker never enters an excluded folder).
    pub(super) fn excludes_entry(&self, relative: &Path, is_dir: bool) -> bool {
        let name = relative.file_name().unwrap_or_default().to_string_lossy();
        self.excludes_named(relative, &name, is_dir)
    }

    /// [`excludes_entry`](Self::excludes_entry) for a caller that has the entry's name at hand.
    pub(super) fn excludes_named(&self, relative: &Path, name: &str, is_dir: bool) -> bool {
        if name == IGNORE_FILE_NAME {
            return true;
        }
        self.user_decides(relative, is_dir)
            .unwrap_or_else(|| excluded_by_default(name, is_dir))
    }

    /// What the user's lines say of the entry, if any of them matches it.
    fn user_decides(&self, relative: &Path, is_dir: bool) -> Option<bool> {
        match self.user.as_ref()?.matched(relative, is_dir) {
            Match::Ignore(_) => Some(true),
            Match::Whitelist(_) => Some(false),
            Match::None => None,
        }
    }
}

/// Whether [`DEFAULT_IGNORES`] exclude an entry with this name. Each of them is a pattern on the
/// name alone (no `/` but a folder-only one's trailing one), and a `*` in a name matches any
/// run of characters, none included.
fn excluded_by_default(name: &str, is_dir: bool) -> bool {
    match name {
        ".git" | ".svn" | ".hg" => is_dir,
        ".DS_Store" | "Thumbs.db" | "desktop.ini" => true,
        _ => {
            let swap = [".swp", ".swo"]
                .iter()
                .any(|end| name.len() > end.len() && name.starts_with('.') && name.ends_with(end));
            let autosave = name.len() >= 2 && name.starts_with('#') && name.ends_with('#');
            swap || autosave || name.ends_with('~') || name.starts_with(".#")
        }
    }
}

/// The rules of a `.deployignore` in a subfolder, matched against paths relative to that
/// subfolder. `None` when the folder has no such file (or the name is not a file).
pub(super) fn folder_rules(folder: &Path) -> Result<Option<Gitignore>, ScanError> {
    let path = folder.join(IGNORE_FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => {
            return Ok(None);
        }
        Err(source) => return Err(ScanError::IgnoreFileUnreadable { path, source }),
    };
    let mut builder = GitignoreBuilder::new(".");
    add_file_lines(&mut builder, &path, &text)?;
    let matcher = builder.build().map_err(|e| ScanError::InvalidIgnoreFile {
        path: path.clone(),
        line: 0,
        reason: glob_error_reason(&e),
    })?;
    Ok(Some(matcher))
}

/// Adds every line of the ignore file at `path`, naming the file and line of the first that
/// is not a valid pattern.
fn add_file_lines(
    builder: &mut GitignoreBuilder,
    path: &Path,
    text: &str,
) -> Result<(), ScanError> {
    for (index, line) in text.lines().enumerate() {
        builder
            .add_line(Some(path.to_path_buf()), line)
            .map_err(|e| ScanError::InvalidIgnoreFile {
                path: path.to_path_buf(),
                line: index as u64 + 1,
                reason: glob_error_reason(&e),
            })?;
    }
    Ok(())
}

/// The glob's own complaint, without the crate's "error parsing glob" preamble, on one line: it
/// may quote a character of the glob, which can be a control character (`invalid range; 'a' >
/// '\t'`).
pub(super) fn glob_error_reason(error: &ignore::Error) -> String {
    let reason = match error {
        ignore::Error::Glob { err, .. } => err.clone(),
        other => other.to_string(),
    };
    snippet(reason.as_bytes(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(config: &[&str], root_file: Option<&str>) -> IgnoreRules {
        let config: Vec<String> = config.iter().map(|g| g.to_string()).collect();
        let root_file = root_file.map(|text| (Path::new("site/.deployignore"), text));
        IgnoreRules::build(&config, root_file).expect("valid rules")
    }

    #[test]
    fn defaults_exclude_vcs_folders_os_litter_and_editor_files() {
        let rules = rules(&[], None);
        for path in [
            ".git/HEAD",
            "sub/.git/config",
            ".svn/entries",
            ".hg/store/x",
            ".DS_Store",
            "img/.DS_Store",
            "Thumbs.db",
            "desktop.ini",
            ".index.html.swp",
            ".index.html.swo",
            "a~",
            "#b#",
            ".#lock",
            ".deployignore",
            "sub/.deployignore",
        ] {
            assert!(rules.is_ignored(Path::new(path), false), "{path}");
        }
        for path in [
            "index.html",
            ".well-known/assetlinks.json",
            ".gitignore",
            "#notes",
            "a~b",
        ] {
            assert!(!rules.is_ignored(Path::new(path), false), "{path}");
        }
        assert!(rules.is_ignored(Path::new(".git"), true));
        assert!(
            !rules.is_ignored(Path::new(".git"), false),
            ".git/ names folders only"
        );
    }

    #[test]
    fn the_name_matcher_agrees_with_the_default_patterns() {
        let mut builder = GitignoreBuilder::new(".");
        for glob in DEFAULT_IGNORES {
            builder.add_line(None, glob).expect("a valid default");
        }
        let patterns = builder.build().expect("valid defaults");
        let names = [
            ".git",
            ".gitx",
            "x.git",
            ".svn",
            ".hg",
            ".hgignore",
            ".DS_Store",
            ".ds_store",
            "Thumbs.db",
            "thumbs.db",
            "desktop.ini",
            "Desktop.ini",
            ".swp",
            "..swp",
            ".a.swp",
            ".a.swo",
            "a.swp",
            ".a.swpx",
            ".swo",
            "~",
            "a~",
            "~a",
            "#",
            "##",
            "#a#",
            "#a",
            "a#",
            ".#",
            ".#a",
            "#.#",
            ".",
            "index.html",
            ".well-known",
            "a.b~c",
            "é~",
        ];
        for name in names {
            for is_dir in [false, true] {
                assert_eq!(
                    excluded_by_default(name, is_dir),
                    patterns.matched(name, is_dir).is_ignore(),
                    "{name:?} (folder: {is_dir})"
                );
            }
        }
    }

    #[test]
    fn later_rules_win_and_an_excluded_folder_keeps_its_contents_out() {
        let rules = rules(
            &["*.map", "/drafts/", "!keep.map"],
            Some("# comment\n\n*.txt\n!keep.txt\n!a~\n"),
        );
        assert!(rules.is_ignored(Path::new("js/app.js.map"), false));
        assert!(!rules.is_ignored(Path::new("js/keep.map"), false));
        assert!(rules.is_ignored(Path::new("drafts"), true));
        assert!(rules.is_ignored(Path::new("drafts/post.html"), false));
        assert!(
            !rules.is_ignored(Path::new("sub/drafts/post.html"), false),
            "anchored"
        );
        assert!(rules.is_ignored(Path::new("notes.txt"), false));
        assert!(!rules.is_ignored(Path::new("keep.txt"), false));
        assert!(
            !rules.is_ignored(Path::new("a~"), false),
            ".deployignore brings back a default"
        );
        assert!(!rules.is_ignored(Path::new("./index.html"), false));
    }

    #[test]
    fn a_subfolder_named_like_the_site_folder_is_not_taken_for_it() {
        let options = ScanOptions {
            root: PathBuf::from("dist"),
            prefix: String::new(),
            ignore: vec!["/index.html".to_owned()],
        };
        let rules = IgnoreRules::load(&options).expect("no .deployignore there");
        assert!(rules.is_ignored(Path::new("index.html"), false));
        assert!(!rules.is_ignored(Path::new("dist/index.html"), false));
    }

    #[test]
    fn paths_outside_the_site_folder_count_as_excluded() {
        let rules = rules(&[], None);
        assert!(rules.is_ignored(Path::new("/etc/passwd"), false));
        assert!(rules.is_ignored(Path::new("../other/index.html"), false));
        assert!(!rules.is_ignored(Path::new(""), true));
    }

    #[test]
    fn an_invalid_config_glob_is_named() {
        let config = vec!["*.map".to_owned(), "[z-a].html".to_owned()];
        let err = IgnoreRules::build(&config, None).expect_err("invalid range");
        let ScanError::InvalidGlob { glob, .. } = &err else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(glob, "[z-a].html");
        assert!(err.to_string().contains("`[z-a].html`"), "{err}");
    }

    /// Found by fuzzing (`ignore_file`): the glob crate's complaint about a range quotes its
    /// ends as they are, and a config glob was shown as it is, so a control character in either
    /// (a TOML string may hold any) reached the terminal raw.
    #[test]
    fn glob_errors_show_control_characters_escaped() {
        let err = IgnoreRules::build(&[], Some((Path::new(".deployignore"), "[T-\u{2}]\n")))
            .expect_err("invalid range");
        let text = err.to_string();
        assert!(text.contains("invalid range; 'T' > '\\u{2}'"), "{text}");
        let err = IgnoreRules::build(&["[~-\t]\n".to_owned()], None).expect_err("invalid range");
        let text = err.to_string();
        assert!(text.contains("`[~-\\t]\\n`"), "{text}");
        assert!(!text.chars().any(char::is_control), "{text}");
    }

    #[test]
    fn an_invalid_ignore_file_line_is_located() {
        let err = IgnoreRules::build(
            &[],
            Some((Path::new("site/.deployignore"), "*.txt\n[z-a]\n")),
        )
        .expect_err("invalid range");
        let ScanError::InvalidIgnoreFile { path, line, .. } = &err else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(
            (path.as_path(), *line),
            (Path::new("site/.deployignore"), 2)
        );
        assert!(
            err.to_string().starts_with("site/.deployignore:2: "),
            "{err}"
        );
    }
}
