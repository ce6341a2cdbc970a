//! Log lines as a user sees them: JSON lines a machine can read, with the fields README
//! documents; human lines without colour on a pipe, their upload columns aligned.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{Harness, Run, finish, tool};

/// A site whose upload lines differ in path length and size.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let files: [(&str, usize); 4] = [
        ("index.html", 1_432),
        ("assets/style.css", 121),
        ("assets/img/logo.png", 20_000),
        ("data/hello.json", 9),
    ];
    common::write_files(
        dir.path(),
        files.map(|(path, size)| (path, "x".repeat(size))),
    );
    dir
}

/// A successful `deploy` of [`site`] with `--log-format FORMAT`; `NO_COLOR` is left unset, as
/// on a fresh machine, so that only the terminal test decides colour.
async fn deploy(format: &str) -> (tempfile::TempDir, Run) {
    let h = Harness::start().await;
    h.create_store("logs").await;
    let dir = site();
    let path = dir.path().to_str().expect("UTF-8");
    let args = [
        "--log-format",
        format,
        "deploy",
        "--env",
        "logs",
        "--dir",
        path,
    ];
    let run = finish(tool(&args, &h.vars()).env_remove("NO_COLOR")).await;
    assert_eq!(run.code, 0, "{run:?}");
    (dir, run)
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_documented_fields() {
    let (dir, run) = deploy("json").await;

    let mut uploaded = BTreeSet::new();
    for line in run.stderr.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let timestamp = object["timestamp"].as_str().expect("timestamp");
        // RFC 3339 in UTC: 2026-11-23T06:37:43.700512Z.
        assert_eq!(timestamp.len(), 27, "{timestamp}");
        assert!(
            timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
            "{timestamp}"
        );
        let level = object["level"].as_str().expect("level");
        assert!(["ERROR", "WARN", "INFO"].contains(&level), "{line}");
        assert!(object["message"].is_string(), "{line}");
        for noise in ["target", "span", "spans", "fields"] {
            assert!(object.get(noise).is_none(), "{noise}: {line}");
        }
        if object["message"] == "uploaded" {
            let path = object["path"].as_str().expect("path").to_owned();
            let size = std::fs::metadata(dir.path().join(&path))
                .expect("a file")
                .len();
            assert_eq!(object["bytes"].as_u64(), Some(size), "{line}");
            assert!(object["ms"].is_u64(), "{line}");
            uploaded.insert(path);
        }
    }
    let expected = [
        "assets/img/logo.png",
        "assets/style.css",
        "data/hello.json",
        "index.html",
    ];
    assert_eq!(uploaded, expected.map(String::from).into(), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn text_logs_on_a_pipe_have_no_colour_and_aligned_upload_columns() {
    let (_dir, run) = deploy("text").await;
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);

    let uploads: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" INFO  uploaded  "))
        .collect();
    assert_eq!(uploads.len(), 4, "{}", run.stderr);
    // `06:37:43 INFO  uploaded  index.html     1.4 KiB     3 ms`: the size column ends where
    // its unit ends, the same offset on every line, and so does the time column.
    let size_end = |line: &str| {
        [" B ", " KiB ", " MiB "]
            .iter()
            .find_map(|unit| line.find(unit).map(|at| at + unit.len() - 1))
            .unwrap_or_else(|| panic!("no size in {line:?}"))
    };
    let first = uploads[0];
    for line in &uploads {
        assert!(line.ends_with(" ms") || line.ends_with(" s"), "{line:?}");
        assert_eq!(size_end(line), size_end(first), "{line:?} / {first:?}");
        assert_eq!(line.len(), first.len(), "{line:?} / {first:?}");
    }
    let index = uploads
        .iter()
        .find(|l| l.contains("  index.html "))
        .expect("index.html uploaded");
    assert!(index.contains(" 1.4 KiB "), "{index:?}");
    let logo = uploads
        .iter()
        .find(|l| l.contains("  assets/img/logo.png "))
        .expect("logo uploaded");
    assert!(logo.contains(" 19.5 KiB "), "{logo:?}");
}

/// A deploy whose standard error is a terminal (util-linux `script` gives it a pseudo-terminal):
/// coloured unless `NO_COLOR` holds a value.
#[tokio::test(flavor = "multi_thread")]
async fn text_logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let h = Harness::start().await;
    let dir = site();
    for (env, no_color, coloured) in [("tty1", None, true), ("tty2", Some("1"), false)] {
        h.create_store(env).await;
        let command = format!(
            "{} deploy --env {env} --dir {}",
            env!("CARGO_BIN_EXE_tcb-deploy"),
            dir.path().display()
        );
        let mut script = common::isolated("script", &h.vars());
        script
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let run = finish(&mut script).await;
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("uploaded"), "{run:?}");
        // The level of an upload line, coloured green, or plain.
        assert_eq!(
            run.stdout.contains("\x1b[32mINFO\x1b[0m"),
            coloured,
            "NO_COLOR={no_color:?}: {:?}",
            run.stdout
        );
        assert_eq!(run.stdout.contains('\x1b'), coloured, "{:?}", run.stdout);
    }
}

/// Names every JSON line has before the event's own fields.
const FIXED: [&str; 3] = ["timestamp", "level", "message"];

#[test]
fn readme_documents_every_field_of_info_warn_and_error_events() {
    let logged = logged_fields();
    // The scanner sees the fields it must: a deploy's upload line and the final JSON error.
    for name in ["path", "bytes", "ms", "exit_code", "error"] {
        assert!(logged.contains_key(name), "{name} not found in {logged:?}");
    }
    let documented = documented_fields();
    let undocumented: Vec<String> = logged
        .iter()
        .filter(|(name, _)| !documented.contains(*name))
        .map(|(name, files)| format!("{name} ({})", files.join(", ")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "fields logged at INFO, WARN or ERROR but missing from README's JSON field table: {}",
        undocumented.join("; ")
    );
    let stale: Vec<&String> = documented
        .iter()
        .filter(|name| !logged.contains_key(*name) && !FIXED.contains(&name.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "documented but logged by no event: {stale:?}"
    );
    for name in FIXED {
        assert!(documented.contains(name), "{name} is not documented");
        assert!(
            !logged.contains_key(name),
            "an event names a field {name}: {logged:?}"
        );
    }
}

/// The names in the first column of the tables of README's `## Logs` section.
fn documented_fields() -> BTreeSet<String> {
    let readme = common::repo_text("README.md");
    let section = readme
        .split("\n## Logs\n")
        .nth(1)
        .expect("a ## Logs section in README.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|l| l.strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect()
}

/// The field names of every `info!`, `warn!` and `error!` event in `src/`, each with the files
/// that log it.
///
/// A text scan, not a parser. Comments are dropped and literals blanked out (strings, raw
/// strings, chars), then each call `info!(…)` / `tracing::info!(…)` is split at its top-level
/// commas, and the arguments before the message string are read as fields: `name = value`,
/// `name = %value`, `name = ?value`, `%name`, `?name` and `name`. An argument it cannot read
/// fails the test rather than being skipped. Its limits: `event!(Level::INFO, …)`, a macro
/// imported under another name, fields made by another macro, a top-level comma in a field's
/// value (a closure's parameters, a turbofish) and byte raw strings (`br"…"`) are not read
/// right. Test code is skipped: files named `tests.rs` or in a `tests` folder, and a file from
/// its `#[cfg(test)] mod tests {` on.
fn logged_fields() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rust_files(&root.join("src"));
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read");
        let source = &source[..test_module(&source)];
        let code = code(source);
        let shown = file
            .strip_prefix(root)
            .expect("under the root")
            .display()
            .to_string();
        for args in event_calls(&code) {
            for arg in args.iter().take_while(|a| !a.starts_with('"')) {
                let name = field_name(arg)
                    .unwrap_or_else(|| panic!("cannot read the field {arg:?} in {shown}"));
                let files = fields.entry(name).or_default();
                if !files.contains(&shown) {
                    files.push(shown.clone());
                }
            }
        }
    }
    fields
}

/// Where the inline test module of `source` starts, or its end.
fn test_module(source: &str) -> usize {
    source
        .match_indices("#[cfg(test)]")
        .map(|(at, attr)| at + attr.len())
        .find(|&after| source[after..].trim_start().starts_with("mod tests {"))
        .map_or(source.len(), |after| after - "#[cfg(test)]".len())
}

/// The library's source files, without test code: files named `tests.rs` and the files of
/// `tests` folders.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    common::files_below(dir)
        .into_iter()
        .filter(|path| {
            let below = path.strip_prefix(dir).unwrap_or(path);
            below.extension().is_some_and(|e| e == "rs")
                && below.file_name().is_some_and(|n| n != "tests.rs")
                && !below.components().any(|c| c.as_os_str() == "tests")
        })
        .collect()
}

/// `source` without comments, every string and char literal emptied (`""`, `' '`), so that
/// brackets and commas left are code.
fn code(source: &str) -> String {
    let s = source.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let after_ident = i > 0 && (s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_');
        let rest = &s[i..];
        if rest.starts_with(b"//") {
            i += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        } else if rest.starts_with(b"/*") {
            i += rest
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(rest.len(), |p| p + 2);
        } else if s[i] == b'"' {
            i = string_end(s, i + 1);
            out.extend_from_slice(b"\"\"");
        } else if s[i] == b'r'
            && !after_ident
            && let Some(hashes) = raw_string_hashes(rest)
        {
            let close: Vec<u8> = std::iter::once(b'"').chain(vec![b'#'; hashes]).collect();
            let body = &rest[2 + hashes..];
            let end = body
                .windows(close.len())
                .position(|w| w == close.as_slice());
            i += 2 + hashes + end.map_or(body.len(), |p| p + close.len());
            out.extend_from_slice(b"\"\"");
        } else if let Some(len) = char_literal_len(rest) {
            i += len;
            out.extend_from_slice(b"' '");
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The index just after the closing quote of a string whose text starts at `i`.
fn string_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// For `r"…"` or `r#"…"#` at the start of `rest`, the number of `#`.
fn raw_string_hashes(rest: &[u8]) -> Option<usize> {
    let hashes = rest[1..].iter().take_while(|&&b| b == b'#').count();
    (rest.get(1 + hashes) == Some(&b'"')).then_some(hashes)
}

/// The length of a char literal at the start of `rest` (`'x'`, `'\''`, `'é'`); none for a
/// lifetime (`'a`).
fn char_literal_len(rest: &[u8]) -> Option<usize> {
    if rest.first() != Some(&b'\'') {
        return None;
    }
    if rest.get(1) == Some(&b'\\') {
        // An escape: the quote that ends it comes after the escaped character.
        return rest[3..].iter().position(|&b| b == b'\'').map(|p| p + 4);
    }
    let first = std::str::from_utf8(&rest[1..rest.len().min(5)])
        .or_else(|e| std::str::from_utf8(&rest[1..1 + e.valid_up_to()]))
        .ok()?
        .chars()
        .next()?;
    let end = 1 + first.len_utf8();
    (rest.get(end) == Some(&b'\'')).then_some(end + 1)
}

/// The arguments of every `info!`, `warn!` and `error!` call in `code`, split at top-level
/// commas and trimmed.
fn event_calls(code: &str) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    for name in ["info!(", "warn!(", "error!("] {
        for (at, _) in code.match_indices(name) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut args = vec![String::new()];
            let mut depth = 0;
            for c in code[at + name.len()..].chars() {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' if depth == 0 => break,
                    ')' | ']' | '}' => depth -= 1,
                    ',' if depth == 0 => {
                        args.push(String::new());
                        continue;
                    }
                    _ => {}
                }
                args.last_mut().expect("one").push(c);
            }
            calls.push(
                args.iter()
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect(),
            );
        }
    }
    calls
}

/// The field an event argument names: `name = value`, `%name`, `?name`, `name`.
fn field_name(arg: &str) -> Option<String> {
    let arg = arg.trim_start_matches(['%', '?']).trim_start();
    let name = match arg.find('=') {
        Some(at) if !arg[at + 1..].starts_with(['=', '>']) => arg[..at].trim(),
        _ => arg,
    };
    let name = name.strip_prefix("r#").unwrap_or(name);
    let readable = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    readable.then(|| name.to_owned())
}
