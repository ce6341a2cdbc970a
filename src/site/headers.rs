//! The `Content-Type` and `Cache-Control` each file is uploaded with. The store serves objects
//! with the headers given at upload, so a wrong type breaks a page (a module script served as
//! `text/plain` does not run) and a long cache on HTML hides a deploy from visitors.
//!
//! Configured rules come first, in order; the first rule whose glob matches and that sets a
//! header decides it. Then the defaults: pages and service workers get `no-cache`, and the type
//! comes from the extension (text types with `charset=utf-8`).

use globset::{Glob, GlobMatcher};

use super::stage::Stage;

use crate::text::snippet;

/// One configured rule: headers for the files whose path (relative to the site folder)
/// matches `glob`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderRule {
    pub glob: String,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
}

/// Headers for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHeaders {
    pub content_type: String,
    pub cache_control: Option<String>,
}

#[derive(Clone, Debug)]
struct Rule {
    matcher: GlobMatcher,
    cache_control: Option<String>,
    content_type: Option<String>,
}

/// Compiled header rules of a site.
#[derive(Clone, Debug, Default)]
pub struct HeaderRules {
    rules: Vec<Rule>,
}

/// A rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("invalid glob {glob:?} in a [[site.rules]] table: {reason}; fix the glob")]
    Glob { glob: String, reason: String },
    #[error(
        "the [[site.rules]] table for {glob:?} sets neither cache_control nor content_type; set one or remove the table"
    )]
    Empty { glob: String },
    #[error(
        "invalid {field} {value:?} for {glob:?}: header values are printable ASCII on one line; fix the value"
    )]
    Value {
        glob: String,
        field: &'static str,
        value: String,
    },
}

impl HeaderRules {
    pub fn new(settings: &[HeaderRule]) -> Result<HeaderRules, RuleError> {
        let mut rules = Vec::with_capacity(settings.len());
        for s in settings {
            let matcher = Glob::new(&s.glob)
                .map_err(|e| RuleError::Glob {
                    glob: s.glob.clone(),
                    // On one line: it may quote a control character of the glob.
                    reason: snippet(e.kind().to_string().as_bytes(), 200),
                })?
                .compile_matcher();
            if s.cache_control.is_none() && s.content_type.is_none() {
                return Err(RuleError::Empty {
                    glob: s.glob.clone(),
                });
            }
            for (field, value) in [
                ("cache_control", &s.cache_control),
                ("content_type", &s.content_type),
            ] {
                if let Some(v) = value
                    && (v.trim().is_empty() || !v.bytes().all(|b| (0x20..0x7f).contains(&b)))
                {
                    return Err(RuleError::Value {
                        glob: s.glob.clone(),
                        field,
                        value: v.chars().take(80).collect(),
                    });
                }
            }
            rules.push(Rule {
                matcher,
                cache_control: s.cache_control.clone(),
                content_type: s.content_type.clone(),
            });
        }
        Ok(HeaderRules { rules })
    }

    /// The headers for a file at `path` (relative to the site folder, forward slashes).
    pub fn for_path(&self, path: &str) -> FileHeaders {
        let matching = || self.rules.iter().filter(|r| r.matcher.is_match(path));
        let content_type = matching()
            .find_map(|r| r.content_type.clone())
            .unwrap_or_else(|| default_content_type(path));
        let cache_control = matching()
            .find_map(|r| r.cache_control.clone())
            .or_else(|| default_cache_control(path).map(str::to_owned));
        FileHeaders {
            content_type,
            cache_control,
        }
    }
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The type a browser needs, by extension.
pub fn default_content_type(path: &str) -> String {
    let ext = extension(path);
    let fixed = match ext.as_str() {
        "html" | "htm" => Some("text/html"),
        "js" | "mjs" | "cjs" => Some("text/javascript"),
        "css" => Some("text/css"),
        "json" | "map" => Some("application/json"),
        "webmanifest" => Some("application/manifest+json"),
        "wasm" => Some("application/wasm"),
        "svg" => Some("image/svg+xml"),
        "txt" => Some("text/plain"),
        "xml" => Some("application/xml"),
        "" => Some("application/octet-stream"),
        _ => None,
    };
    let mime = fixed.map(str::to_owned).unwrap_or_else(|| {
        mime_guess::from_ext(&ext)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned()
    });
    let textual = mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/manifest+json"
                | "application/xml"
                | "image/svg+xml"
                | "application/javascript"
        );
    if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    }
}

fn default_cache_control(path: &str) -> Option<&'static str> {
    match Stage::of(path) {
        Stage::Asset => None,
        Stage::Page | Stage::Worker => Some("no-cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(glob: &str, cc: Option<&str>, ct: Option<&str>) -> HeaderRule {
        HeaderRule {
            glob: glob.into(),
            cache_control: cc.map(Into::into),
            content_type: ct.map(Into::into),
        }
    }

    #[test]
    fn defaults_by_extension() {
        let rules = HeaderRules::default();
        let cases = [
            ("index.html", "text/html; charset=utf-8", Some("no-cache")),
            ("a/b/page.HTM", "text/html; charset=utf-8", Some("no-cache")),
            ("app.js", "text/javascript; charset=utf-8", None),
            ("app.mjs", "text/javascript; charset=utf-8", None),
            ("style.css", "text/css; charset=utf-8", None),
            ("data.json", "application/json; charset=utf-8", None),
            ("logo.svg", "image/svg+xml; charset=utf-8", None),
            ("logo.png", "image/png", None),
            ("mod.wasm", "application/wasm", None),
            ("font.woff2", "font/woff2", None),
            ("LICENSE", "application/octet-stream", None),
            (".hidden", "application/octet-stream", None),
            ("sw.js", "text/javascript; charset=utf-8", Some("no-cache")),
        ];
        for (path, ct, cc) in cases {
            let h = rules.for_path(path);
            assert_eq!(h.content_type, ct, "{path}");
            assert_eq!(h.cache_control.as_deref(), cc, "{path}");
        }
    }

    #[test]
    fn first_matching_rule_wins_per_header() {
        let rules = HeaderRules::new(&[
            rule(
                "assets/**",
                Some("public, max-age=31536000, immutable"),
                None,
            ),
            rule("*.js", Some("max-age=60"), Some("application/x-custom")),
            rule("*.webmanifest", None, Some("application/manifest+json")),
        ])
        .unwrap();
        let h = rules.for_path("assets/app.js");
        assert_eq!(
            h.cache_control.as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(h.content_type, "application/x-custom");
        let h = rules.for_path("other.js");
        assert_eq!(h.cache_control.as_deref(), Some("max-age=60"));
        // A rule without cache_control leaves the default in place.
        let h = rules.for_path("index.html");
        assert_eq!(h.cache_control.as_deref(), Some("no-cache"));
    }

    #[test]
    fn bad_rules_are_refused_with_their_glob() {
        let err = HeaderRules::new(&[rule("a/[", Some("x"), None)]).unwrap_err();
        assert!(err.to_string().contains("\"a/[\""), "{err}");
        let err = HeaderRules::new(&[rule("*.js", None, None)]).unwrap_err();
        assert!(err.to_string().contains("sets neither"), "{err}");
        let err = HeaderRules::new(&[rule("*.js", Some("a\nb"), None)]).unwrap_err();
        assert!(err.to_string().contains("one line"), "{err}");
    }

    /// The glob crate's complaint about a range quotes its ends as they are: a range ending in a
    /// line break made the message two lines.
    #[test]
    fn a_complaint_quoting_a_control_character_stays_on_one_line() {
        let err = HeaderRules::new(&[rule("[~-\n]", Some("x"), None)]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("invalid range; '~' > '\\n'; fix the glob"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }
}
