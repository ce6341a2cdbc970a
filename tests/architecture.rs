//! ARCHITECTURE.md's invariants about the code's shape, checked by reading `src/`: which
//! modules may use the HTTP client and server crates, which may not import which, and how long
//! a file may grow. Each rule is a sentence of ARCHITECTURE.md; a rule broken on purpose (the
//! last tests) shows the check can fail.

use std::path::Path;

/// A source file: its path below `src/` (with `/`), and its lines of code (comments dropped).
struct Source {
    path: String,
    code: Vec<String>,
}

/// A rule: files matching `applies` must not have a line of code containing any of `banned`.
struct Rule {
    says: &'static str,
    applies: fn(&str) -> bool,
    banned: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        says: "only api/ uses reqwest (and the emulator's own tests, as a client of it)",
        applies: |p| !p.starts_with("api/") && !p.starts_with("emulator/tests/"),
        banned: &["reqwest"],
    },
    Rule {
        says: "only emulator/ and watch/endpoints.rs serve HTTP",
        applies: |p| !p.starts_with("emulator/") && p != "watch/endpoints.rs",
        banned: &["hyper", "axum"],
    },
    Rule {
        says: "api/, auth/ and site/ know nothing of the layers above them",
        applies: |p| p.starts_with("api/") || p.starts_with("auth/") || p.starts_with("site/"),
        banned: &[
            "crate::config",
            "crate::deploy",
            "crate::commands",
            "crate::watch",
            "crate::error",
            "crate::remote",
            "crate::connection",
        ],
    },
    Rule {
        says: "config/ knows nothing of deploy/, commands/ or watch/",
        applies: |p| p.starts_with("config/"),
        banned: &["crate::deploy", "crate::commands", "crate::watch"],
    },
    Rule {
        says: "the emulator uses none of the client's modules",
        applies: |p| p.starts_with("emulator/"),
        banned: &[
            "crate::api",
            "crate::remote",
            "crate::auth",
            "crate::deploy",
            "crate::site",
            "crate::config",
        ],
    },
    Rule {
        says: "the emulator's shared state, request vocabulary and replies import none of its handlers",
        applies: |p| {
            matches!(
                p,
                "emulator/shared.rs" | "emulator/call.rs" | "emulator/reply.rs"
            )
        },
        banned: &[
            "super::api",
            "super::server",
            "super::endpoints",
            "super::cos",
            "super::website",
        ],
    },
    Rule {
        says: "watch/daemon.rs has no select!",
        applies: |p| p == "watch/daemon.rs",
        banned: &["select!"],
    },
    Rule {
        says: "text.rs is a leaf",
        applies: |p| p == "text.rs",
        banned: &["crate::"],
    },
    Rule {
        says: "only commands/, connection.rs and watch/ import error.rs",
        applies: |p| {
            !p.starts_with("commands/") && p != "connection.rs" && !p.starts_with("watch/")
        },
        banned: &["crate::error"],
    },
];

/// A file longer than this is split by concept.
const MAX_LINES: usize = 500;
const TOO_LONG: &str = "no file in src/ is over 500 lines";

/// Every line of `sources` that breaks a rule, as `path:line: rule`, and every file too long,
/// as `path: rule (its length)`.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources.iter().filter(|s| s.code.len() > MAX_LINES) {
        let lines = source.code.len();
        found.push(format!("src/{}: {TOO_LONG} ({lines})", source.path));
    }
    for rule in RULES {
        for source in sources.iter().filter(|s| (rule.applies)(&s.path)) {
            for (i, line) in source.code.iter().enumerate() {
                if rule.banned.iter().any(|b| line.contains(b)) {
                    found.push(format!("src/{}:{}: {}", source.path, i + 1, rule.says));
                }
            }
        }
    }
    found
}

/// The lines of `text` with comments blanked (line numbers kept).
fn code_of(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| match line.trim_start().starts_with("//") {
            true => String::new(),
            false => line.to_owned(),
        })
        .collect()
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("below src");
            out.push(Source {
                path: relative.to_str().expect("utf-8").replace('\\', "/"),
                code: code_of(&std::fs::read_to_string(&path).expect("read")),
            });
        }
    }
}

#[test]
fn the_source_keeps_the_architecture_s_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    read_tree(&root, &root, &mut sources);
    assert!(sources.len() > 50, "{} files read", sources.len());
    let found = violations(&sources);
    assert!(found.is_empty(), "rules broken:\n{}", found.join("\n"));
}

#[test]
fn every_rule_is_a_sentence_of_architecture_md() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md");
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        doc.contains(TOO_LONG),
        "ARCHITECTURE.md does not say {TOO_LONG:?}"
    );
    assert!(TOO_LONG.contains(&MAX_LINES.to_string()));
    for rule in RULES {
        assert!(
            doc.contains(rule.says),
            "ARCHITECTURE.md does not say {:?}",
            rule.says
        );
    }
}

fn source(path: &str, text: &str) -> Source {
    Source {
        path: path.into(),
        code: code_of(text),
    }
}

#[test]
fn a_rule_broken_on_purpose_is_reported_with_its_place() {
    let sources = [
        source(
            "deploy/upload.rs",
            "use std::io;\nlet b = reqwest::Body::from(x);\n",
        ),
        source(
            "site/scan/mod.rs",
            "// crate::config in a comment is fine\nuse crate::config::Site;\n",
        ),
        source("config/mod.rs", "use hyper::Request;\n"),
        source("text.rs", "use crate::exit::ExitCode;\n"),
        source("api/client.rs", "use reqwest::Client;\n"),
        source("remote.rs", &"let x = 1;\n".repeat(MAX_LINES + 1)),
        source("retry.rs", &"let x = 1;\n".repeat(MAX_LINES)),
    ];
    assert_eq!(
        violations(&sources),
        [
            "src/remote.rs: no file in src/ is over 500 lines (501)",
            "src/deploy/upload.rs:2: only api/ uses reqwest (and the emulator's own tests, as a client of it)",
            "src/config/mod.rs:1: only emulator/ and watch/endpoints.rs serve HTTP",
            "src/site/scan/mod.rs:2: api/, auth/ and site/ know nothing of the layers above them",
            "src/text.rs:1: text.rs is a leaf",
        ]
    );
}
