//! An event's fields as both formats lay them out: the message apart, the other fields in the
//! order the event names them, each with its kind kept (a count stays a number in JSON, and is
//! shown as a size or a duration in text).

use std::fmt;

use tracing::Event;
use tracing::field::{Field, Visit};

/// One field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, or what `%value` (Display) or `?value` (Debug) printed.
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// The value as a count (a size, milliseconds), if it is a number that is not negative.
    pub fn count(&self) -> Option<u64> {
        match *self {
            Value::Unsigned(n) => Some(n),
            Value::Signed(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(text) => f.write_str(text),
            Value::Unsigned(n) => write!(f, "{n}"),
            Value::Signed(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The message and the other fields of one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    pub message: String,
    pub others: Vec<(&'static str, Value)>,
}

impl Fields {
    pub fn of(event: &Event<'_>) -> Fields {
        let mut fields = Fields::default();
        event.record(&mut fields);
        fields
    }

    /// Removes the field `name` and returns its value.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let at = self.others.iter().position(|(n, _)| *n == name)?;
        Some(self.others.remove(at).1)
    }

    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        // Records of the `log` crate carry their target, module, file and line as `log.*`
        // fields; neither format shows where an event was written.
        if name.starts_with("log.") {
            return;
        }
        // A field named after a keyword (`r#type`) is shown under the word itself.
        let name = name.strip_prefix("r#").unwrap_or(name);
        if name == "message" {
            self.message = value.to_string();
        } else {
            self.others.push((name, value));
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::Text(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_owned()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Unsigned(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Signed(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value =
            u64::try_from(value).map_or_else(|_| Value::Text(value.to_string()), Value::Unsigned);
        self.push(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value =
            i64::try_from(value).map_or_else(|_| Value::Text(value.to_string()), Value::Signed);
        self.push(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
}
