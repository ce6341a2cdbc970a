//! Wall-clock time as log lines show it, always in UTC: `06:37:43` on a text line, RFC 3339
//! (`2026-11-23T06:37:43.700512Z`) in a JSON line.
//!
//! UTC, not local time: reading the local offset means reading the time zone database and `TZ`
//! while other threads may change the environment (`localtime_r` racing `setenv`), which is
//! unsound in a multi-threaded process; and a journal or a log shipper adds its own local
//! stamps anyway.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant in UTC, as RFC 3339 with microseconds: `2026-11-23T06:37:43.700512Z`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utc(String);

impl Utc {
    /// `time` in UTC; a time before 1970 (a clock set wrong) reads as 1970-01-01T00:00:00Z.
    pub fn at(time: SystemTime) -> Utc {
        Utc(humantime::format_rfc3339_micros(time.max(UNIX_EPOCH)).to_string())
    }

    /// `HH:MM:SS`.
    pub fn time_of_day(&self) -> &str {
        &self.0[11..19]
    }

    /// RFC 3339 with microseconds and `Z`.
    pub fn rfc3339(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, micros: u64) -> Utc {
        Utc::at(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
    }

    #[test]
    fn instants_read_as_utc_text() {
        // Each instant with `date -u -d … +%s`.
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (1_795_415_863, 700_512, "2026-11-23T06:37:43.700512Z"),
            (1_709_251_199, 999_999, "2024-02-29T23:59:59.999999Z"),
            (951_868_800, 1, "2000-03-01T00:00:00.000001Z"),
            (4_107_585_600, 0, "2100-03-01T12:00:00.000000Z"),
        ];
        for (secs, micros, text) in cases {
            assert_eq!(at(secs, micros).rfc3339(), text);
        }
        assert_eq!(at(1_795_415_863, 700_512).time_of_day(), "06:37:43");
    }

    #[test]
    fn a_clock_before_1970_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(Utc::at(before).rfc3339(), "1970-01-01T00:00:00.000000Z");
    }
}
