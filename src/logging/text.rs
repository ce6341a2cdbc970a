//! The human log line: short and aligned, for a person watching a terminal.
//!
//! ```text
//! 06:37:43 INFO  uploaded  assets/style.css                      121 B     8 ms
//! 06:37:43 INFO  uploaded  index.html                          1.4 KiB     3 ms
//! 06:37:43 WARN  upload failed; retrying  a.js  reason="HTTP 500"
//! 06:37:43 INFO  deployed  site=example uploaded=4 unchanged=0 failed=0 stale=0 ms=121 url=http://demo.localhost:8790/
//! ```
//!
//! The time of day (UTC), a level column five wide, the message, then the fields. An event with
//! a `path` shows it first; with a `bytes` or `ms` count too, the path is padded to a column and
//! followed by the size and the duration, right-aligned, so that the upload lines of a deploy
//! line up. Every other field follows as `key=value`, quoted when the value holds a space. No
//! module path, no spans: what a line says is in its message and fields.
//!
//! Every event is one line: control characters in a message or a value (a newline in an answer
//! from outside, an escape sequence in a file name) are written escaped.

use std::fmt::Write as _;

use tracing::Level;
use unicode_width::UnicodeWidthStr;

use super::fields::{Fields, Value};
use super::timestamp::Utc;
use crate::text::human_bytes;

/// Width of the path column, in terminal cells; a longer path pushes the rest of its line right.
const PATH_WIDTH: usize = 32;
/// Width of the size column: `1023.9 KiB`.
const SIZE_WIDTH: usize = 10;
/// Width of the duration column: `9999 ms`, `12.5 s`, after two spaces.
const DURATION_WIDTH: usize = 9;

/// Whether lines carry ANSI colour: a dim time and a coloured level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Never,
    Ansi,
}

/// One event as a text line, with its newline.
pub fn line(at: &Utc, level: Level, mut fields: Fields, colour: Colour) -> String {
    let mut out = String::with_capacity(128);
    let (name, ansi) = match level {
        Level::ERROR => ("ERROR", "31"),
        Level::WARN => ("WARN", "33"),
        Level::INFO => ("INFO", "32"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::TRACE => ("TRACE", "35"),
    };
    let padding = " ".repeat(5 - name.len());
    match colour {
        Colour::Never => {
            let _ = write!(out, "{} {name}{padding} ", at.time_of_day());
        }
        Colour::Ansi => {
            let _ = write!(
                out,
                "\x1b[2m{}\x1b[0m \x1b[{ansi}m{name}\x1b[0m{padding} ",
                at.time_of_day()
            );
        }
    }
    push_escaped(&mut out, &fields.message);
    if let Some(path) = fields.take("path") {
        out.push_str("  ");
        push_columns(&mut out, &path, &mut fields);
    }
    for (i, (name, value)) in fields.others.iter().enumerate() {
        out.push_str(if i == 0 { "  " } else { " " });
        out.push_str(name);
        out.push('=');
        push_value(&mut out, &value.to_string());
    }
    out.push('\n');
    out
}

/// The path, and after it the `bytes` and `ms` columns when the event has those counts.
fn push_columns(out: &mut String, path: &Value, fields: &mut Fields) {
    let bytes = take_count(fields, "bytes");
    let ms = take_count(fields, "ms");
    let start = out.len();
    push_value(out, &path.to_string());
    if bytes.is_none() && ms.is_none() {
        return;
    }
    let shown = UnicodeWidthStr::width(&out[start..]);
    out.push_str(&" ".repeat(PATH_WIDTH.saturating_sub(shown)));
    let size = bytes.map(human_bytes).unwrap_or_default();
    let _ = write!(out, " {size:>SIZE_WIDTH$}");
    if let Some(ms) = ms {
        let _ = write!(out, "{:>DURATION_WIDTH$}", human_duration(ms));
    }
}

/// Removes the field `name` if it is a count.
fn take_count(fields: &mut Fields, name: &str) -> Option<u64> {
    let at = fields
        .others
        .iter()
        .position(|(n, v)| *n == name && v.count().is_some())?;
    fields.others.remove(at).1.count()
}

/// Milliseconds as a person reads them: `8 ms` below ten seconds, then `12.5 s`.
pub fn human_duration(ms: u64) -> String {
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// A value as is, or quoted and escaped (`"two words"`) when it is empty or holds a space or a
/// control character, so that a line still splits into `key=value` words.
fn push_value(out: &mut String, text: &str) {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let _ = write!(out, "{text:?}");
    } else {
        out.push_str(text);
    }
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`), so that it stays on its line
/// and cannot move the terminal's cursor or colour.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_ms_below_ten_seconds_then_in_seconds() {
        assert_eq!(human_duration(0), "0 ms");
        assert_eq!(human_duration(9_999), "9999 ms");
        assert_eq!(human_duration(10_000), "10.0 s");
        assert_eq!(human_duration(83_456), "83.5 s");
    }

    #[test]
    fn values_are_quoted_only_when_they_would_not_read_as_one_word() {
        let shown = |text: &str| {
            let mut out = String::new();
            push_value(&mut out, text);
            out
        };
        assert_eq!(
            shown("http://demo.localhost:8790/"),
            "http://demo.localhost:8790/"
        );
        assert_eq!(shown("\"a/b\""), "\"a/b\"");
        assert_eq!(shown("HTTP 500"), "\"HTTP 500\"");
        assert_eq!(shown(""), "\"\"");
        assert_eq!(shown("say \"hi\"\n"), r#""say \"hi\"\n""#);
        assert_eq!(shown("tab\there"), r#""tab\there""#);
    }
}
