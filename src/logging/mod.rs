//! Log output on standard error: short aligned lines for a person (`text.rs`), or one JSON
//! object per line for a machine (`json.rs`). Standard output is kept for command results, so
//! that they can be piped. Both formats read an event the same way (`fields.rs`) and stamp it
//! in UTC (`timestamp.rs`).
//!
//! Formatting never adds a field: a line shows exactly the fields its event names, so what no
//! event logs (a token, a secret) no line can show.

mod fields;
mod json;
mod text;
mod timestamp;

#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::fmt;
use std::io::IsTerminal;
use std::time::SystemTime;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use self::fields::Fields;
pub use self::text::Colour;
use self::timestamp::Utc;
use crate::cli::LogFormat;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the verbosity flags.
pub fn init(format: LogFormat, verbose: u8, quiet: u8) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(directives(verbose, quiet)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let layout = match format {
        LogFormat::Text => {
            let no_color = std::env::var_os("NO_COLOR");
            Layout::Text(colour(std::io::stderr().is_terminal(), no_color.as_deref()))
        }
        LogFormat::Json => Layout::Json,
    };
    builder.event_format(LineFormat::new(layout)).init();
}

/// How an event is laid out on its line.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// For a person (`text.rs`).
    Text(Colour),
    /// For a machine (`json.rs`).
    Json,
}

/// The event formatter: every event read the same way, stamped by `clock`, then laid out.
pub struct LineFormat {
    layout: Layout,
    clock: fn() -> SystemTime,
}

impl LineFormat {
    pub fn new(layout: Layout) -> LineFormat {
        LineFormat {
            layout,
            clock: SystemTime::now,
        }
    }

    /// A formatter whose every line is stamped by `clock`, for tests.
    #[cfg(test)]
    pub fn with_clock(layout: Layout, clock: fn() -> SystemTime) -> LineFormat {
        LineFormat { layout, clock }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let at = Utc::at((self.clock)());
        let level = *event.metadata().level();
        let fields = Fields::of(event);
        writer.write_str(&match self.layout {
            Layout::Text(colour) => text::line(&at, level, fields, colour),
            Layout::Json => json::line(&at, level, fields),
        })
    }
}

/// The filter for `-v`/`-q` when `RUST_LOG` is not set: this crate at the chosen level, other
/// crates' warnings, and notify's errors only.
fn directives(verbose: u8, quiet: u8) -> String {
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (1, _) => "debug",
        (v, _) if v >= 2 => "trace",
        (_, 1) => "warn",
        _ => "error",
    };
    format!("warn,notify=error,tcb_deploy={level}")
}

/// Whether text lines get colour: only on a terminal, and not when `NO_COLOR` holds a value
/// (<https://no-color.org>: any non-empty value disables colour; set but empty does not).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> Colour {
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    if stderr_is_terminal && !no_color {
        Colour::Ansi
    } else {
        Colour::Never
    }
}
