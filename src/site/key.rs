//! What a store key may hold. A key is the site's `prefix` followed by a file's path below the
//! site folder; the store would take `../x`, `/x` or `a\b` as something else than the file they
//! came from, and a control character in a key breaks every log line and URL that shows it.
//!
//! [`check`] is the one rule: `config::normalize_prefix` applies it to a prefix, the scan to the
//! prefix it is given and to every name it turns into part of a key. So every key that reaches
//! `staticuploadfile` has passed it, before any request is made.

use std::fmt;

/// Why a key, or a part of one, is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// It starts with `/`.
    Absolute,
    /// It holds a control character or a backslash.
    ForbiddenCharacter,
    /// One of its `/`-separated segments is `.` or `..`.
    DotSegment,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Absolute => "must be relative, e.g. docs/ (no leading /)",
            Self::ForbiddenCharacter => "must not contain backslashes or control characters",
            Self::DotSegment => "must not contain . or .. segments",
        })
    }
}

/// Checks a key or a part of one (a prefix such as `docs/v1/`, or one file or folder name):
/// relative, without control characters or backslashes, and without `.` or `..` segments.
/// Empty segments (`a//b`) are left to the caller, which may normalise them.
pub fn check(part: &str) -> Result<(), KeyProblem> {
    if part.starts_with('/') {
        return Err(KeyProblem::Absolute);
    }
    if part.chars().any(|c| c.is_control() || c == '\\') {
        return Err(KeyProblem::ForbiddenCharacter);
    }
    if part
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(KeyProblem::DotSegment);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_their_parts() {
        for good in [
            "",
            "index.html",
            "docs/",
            "a/b/c.js",
            "a..b/c..",
            "中文/页面.html",
            "a b",
        ] {
            assert_eq!(check(good), Ok(()), "{good:?}");
        }
        let cases = [
            ("/abs", KeyProblem::Absolute),
            ("a\\b", KeyProblem::ForbiddenCharacter),
            ("a\u{7}b", KeyProblem::ForbiddenCharacter),
            ("tab\there", KeyProblem::ForbiddenCharacter),
            ("bad\u{85}", KeyProblem::ForbiddenCharacter),
            ("..", KeyProblem::DotSegment),
            (".", KeyProblem::DotSegment),
            ("a/../b", KeyProblem::DotSegment),
            ("./a", KeyProblem::DotSegment),
        ];
        for (bad, problem) in cases {
            assert_eq!(check(bad), Err(problem), "{bad:?}");
        }
    }
}
