//! Both formats through a real subscriber, events in and whole lines out, at a fixed time.

use std::ffi::OsStr;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{debug, error, info, trace, warn};
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::FormatEvent;
use tracing_subscriber::fmt::format::DefaultFields;

use super::text::Colour;
use super::{Layout, LineFormat};
use super::{colour, directives};

/// 2026-11-23T06:37:43.700512Z.
fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_795_415_863_700_512)
}

/// What the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("sink").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Everything `format` writes for the events `emit` sends, every level enabled.
fn written<E>(format: E, emit: impl FnOnce()) -> String
where
    E: FormatEvent<Registry, DefaultFields> + Send + Sync + 'static,
{
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .event_format(format)
        .finish();
    tracing::subscriber::with_default(subscriber, emit);
    let bytes = sink.0.lock().expect("sink").clone();
    String::from_utf8(bytes).expect("UTF-8")
}

fn text(emit: impl FnOnce()) -> String {
    written(
        LineFormat::with_clock(Layout::Text(Colour::Never), clock),
        emit,
    )
}

fn json(emit: impl FnOnce()) -> String {
    written(LineFormat::with_clock(Layout::Json, clock), emit)
}

#[test]
fn upload_lines_align_their_path_size_and_time_columns() {
    let lines = text(|| {
        info!(
            path = "assets/style.css",
            bytes = 121_u64,
            ms = 8_u64,
            "uploaded"
        );
        info!(
            path = "index.html",
            bytes = 1_432_u64,
            ms = 3_u64,
            "uploaded"
        );
        info!(
            path = "图片/说明.png",
            bytes = 1_048_575_u64,
            ms = 250_u64,
            "uploaded"
        );
        info!(
            path = "media/intro.mp4",
            bytes = 5_347_738_u64,
            ms = 12_345_u64,
            "uploaded"
        );
        info!(
            path = "a/very/long/path/that/does/not/fit/the/column.js",
            bytes = 9_u64,
            ms = 1_u64,
            "uploaded"
        );
    });
    assert_eq!(
        lines,
        "\
06:37:43 INFO  uploaded  assets/style.css                      121 B     8 ms
06:37:43 INFO  uploaded  index.html                          1.4 KiB     3 ms
06:37:43 INFO  uploaded  图片/说明.png                       1.0 MiB   250 ms
06:37:43 INFO  uploaded  media/intro.mp4                     5.1 MiB   12.3 s
06:37:43 INFO  uploaded  a/very/long/path/that/does/not/fit/the/column.js        9 B     1 ms
"
    );
}

#[test]
fn other_fields_follow_as_key_value_quoted_when_they_hold_a_space() {
    let lines = text(|| {
        warn!(
            path = "a.js",
            reason = "HTTP 500",
            "upload failed; retrying"
        );
        error!(
            path = "a.js",
            error = "gave up after 8 tries: HTTP 500",
            "upload failed"
        );
        info!(
            site = %"example",
            uploaded = 4,
            unchanged = 0,
            failed = 0,
            stale = 0,
            ms = 121_u64,
            url = %"http://demo.localhost:8790/",
            "deployed"
        );
        warn!(
            from = 8,
            to = 4,
            "the service is overloaded; fewer uploads at once"
        );
        info!("stopped");
    });
    assert_eq!(
        lines,
        "\
06:37:43 WARN  upload failed; retrying  a.js  reason=\"HTTP 500\"
06:37:43 ERROR upload failed  a.js  error=\"gave up after 8 tries: HTTP 500\"
06:37:43 INFO  deployed  site=example uploaded=4 unchanged=0 failed=0 stale=0 ms=121 url=http://demo.localhost:8790/
06:37:43 WARN  the service is overloaded; fewer uploads at once  from=8 to=4
06:37:43 INFO  stopped
"
    );
}

#[test]
fn a_path_with_only_a_size_or_only_a_time_keeps_the_columns() {
    let lines = text(|| {
        info!(path = "index.html", bytes = 1_432_u64, "read");
        info!(path = "index.html", ms = 3_u64, tries = 2, "uploaded");
    });
    assert_eq!(
        lines,
        "\
06:37:43 INFO  read  index.html                          1.4 KiB
06:37:43 INFO  uploaded  index.html                                      3 ms  tries=2
"
    );
}

#[test]
fn every_level_takes_the_same_width() {
    let lines = text(|| {
        error!("e");
        warn!("w");
        info!("i");
        debug!("d");
        trace!("t");
    });
    assert_eq!(
        lines,
        "\
06:37:43 ERROR e
06:37:43 WARN  w
06:37:43 INFO  i
06:37:43 DEBUG d
06:37:43 TRACE t
"
    );
}

#[test]
fn every_event_stays_on_one_line_whatever_its_text_holds() {
    let lines = text(|| {
        let answer = "bad\nrequest \u{1b}[31m";
        error!(appid = "wx1", "not shared: {answer}");
        warn!(path = ?std::path::Path::new("bad\u{1}name.js"), reason = %"a\nb", "not deployed");
        info!(r#type = "page", empty = "", "odd names");
    });
    assert_eq!(
        lines,
        "\
06:37:43 ERROR not shared: bad\\nrequest \\u{1b}[31m  appid=wx1
06:37:43 WARN  not deployed  \"bad\\u{1}name.js\"  reason=\"a\\nb\"
06:37:43 INFO  odd names  type=page empty=\"\"
"
    );
}

#[test]
fn colour_is_a_dim_time_and_a_coloured_level_only() {
    let lines = written(
        LineFormat::with_clock(Layout::Text(Colour::Ansi), clock),
        || {
            info!(
                path = "index.html",
                bytes = 1_432_u64,
                ms = 3_u64,
                "uploaded"
            );
            warn!("slow");
            error!("failed");
        },
    );
    assert_eq!(
        lines,
        "\
\x1b[2m06:37:43\x1b[0m \x1b[32mINFO\x1b[0m  uploaded  index.html                          1.4 KiB     3 ms
\x1b[2m06:37:43\x1b[0m \x1b[33mWARN\x1b[0m  slow
\x1b[2m06:37:43\x1b[0m \x1b[31mERROR\x1b[0m failed
"
    );
    let plain = text(|| warn!("slow"));
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

#[test]
fn colour_only_on_a_terminal_and_not_when_no_color_holds_a_value() {
    let on_terminal = |no_color: Option<&str>| colour(true, no_color.map(OsStr::new));
    assert_eq!(on_terminal(None), Colour::Ansi);
    assert_eq!(on_terminal(Some("")), Colour::Ansi);
    assert_eq!(on_terminal(Some("1")), Colour::Never);
    assert_eq!(on_terminal(Some("0")), Colour::Never);
    assert_eq!(on_terminal(Some("false")), Colour::Never);
    assert_eq!(colour(false, None), Colour::Never);
    assert_eq!(colour(false, Some(OsStr::new(""))), Colour::Never);
}

#[test]
fn json_lines_hold_timestamp_level_message_then_the_fields() {
    let lines = json(|| {
        info!(
            path = "index.html",
            bytes = 1_432_u64,
            ms = 3_u64,
            "uploaded"
        );
        warn!(
            from = 8,
            to = 4,
            "the service is overloaded; fewer uploads at once"
        );
        error!(exit_code = 4, "cannot reach\nthe service");
    });
    assert_eq!(
        lines,
        r#"{"timestamp":"2026-11-23T06:37:43.700512Z","level":"INFO","message":"uploaded","path":"index.html","bytes":1432,"ms":3}
{"timestamp":"2026-11-23T06:37:43.700512Z","level":"WARN","message":"the service is overloaded; fewer uploads at once","from":8,"to":4}
{"timestamp":"2026-11-23T06:37:43.700512Z","level":"ERROR","message":"cannot reach\nthe service","exit_code":4}
"#
    );
}

#[test]
fn json_values_keep_their_kind() {
    let lines = json(|| {
        info!(
            signed = -3_i64,
            big = u128::MAX,
            ratio = 0.5,
            nan = f64::NAN,
            yes = true,
            shown = %"display",
            debugged = ?Duration::from_millis(1500),
            r#type = "page",
            log.target = "from the log crate",
            "kinds"
        );
    });
    let object: serde_json::Value = serde_json::from_str(&lines).expect("one JSON object");
    assert_eq!(
        object,
        serde_json::json!({
            "timestamp": "2026-11-23T06:37:43.700512Z",
            "level": "INFO",
            "message": "kinds",
            "signed": -3,
            "big": u128::MAX.to_string(),
            "ratio": 0.5,
            "nan": null,
            "yes": true,
            "shown": "display",
            "debugged": "1.5s",
            "type": "page",
        })
    );
}

#[test]
fn verbosity_flags_pick_this_crates_level() {
    assert_eq!(directives(0, 0), "warn,notify=error,tcb_deploy=info");
    assert_eq!(directives(1, 0), "warn,notify=error,tcb_deploy=debug");
    assert_eq!(directives(2, 0), "warn,notify=error,tcb_deploy=trace");
    assert_eq!(directives(0, 1), "warn,notify=error,tcb_deploy=warn");
    assert_eq!(directives(0, 2), "warn,notify=error,tcb_deploy=error");
}
