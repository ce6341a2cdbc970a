//! The JSON log line, for machines: one object per line,
//!
//! ```json
//! {"timestamp":"2026-11-23T06:37:43.700512Z","level":"INFO","message":"uploaded","path":"index.html","bytes":1432,"ms":3}
//! ```
//!
//! `timestamp` (RFC 3339, UTC), `level` (`ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`) and
//! `message` come first in every line; the event's own fields follow under their own names, in
//! the order the event names them, numbers as numbers. Nothing else: no target, no span. The
//! fields of INFO, WARN and ERROR events are an interface, listed in README's "Logs" section
//! (`tests/logs.rs` keeps that list complete); DEBUG and TRACE events are for diagnosis and may
//! change.
//!
//! Written here rather than with tracing-subscriber's JSON formatter: its flattened events pass
//! on the `log.*` fields of records from the `log` crate, and here the documented shape is
//! spelled out in one place, reading fields as the text format does.

use serde_json::Value as Json;
use tracing::Level;

use super::fields::{Fields, Value};
use super::timestamp::Utc;

/// One event as a JSON object on one line, with its newline. serde_json escapes every control
/// character in a string, so the object never spans two lines.
pub fn line(at: &Utc, level: Level, fields: Fields) -> String {
    let mut out = String::with_capacity(160);
    out.push('{');
    entry(&mut out, "timestamp", &Json::from(at.rfc3339()));
    out.push(',');
    entry(&mut out, "level", &Json::from(level.as_str()));
    out.push(',');
    entry(&mut out, "message", &Json::from(fields.message));
    for (name, value) in fields.others {
        out.push(',');
        let value = match value {
            Value::Text(text) => Json::from(text),
            Value::Unsigned(n) => Json::from(n),
            Value::Signed(n) => Json::from(n),
            // NaN and infinities, which JSON cannot hold, become null.
            Value::Float(x) => Json::from(x),
            Value::Bool(b) => Json::from(b),
        };
        entry(&mut out, name, &value);
    }
    out.push_str("}\n");
    out
}

fn entry(out: &mut String, name: &str, value: &Json) {
    out.push_str(&Json::from(name).to_string());
    out.push(':');
    out.push_str(&value.to_string());
}
