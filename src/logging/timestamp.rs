//! Wall-clock time as log lines show it, always in UTC: `06:37:43` on a text line, RFC 3339
//! (`2026-11-23T06:37:43.700512Z`) in a JSON line.
//!
//! UTC, not local time: reading the local offset means reading the time zone database and `TZ`
//! while other threads may change the environment (`localtime_r` racing `setenv`), which is
//! unsound in a multi-threaded process; and a journal or a log shipper adds its own local
//! stamps anyway.

use std::time::{SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: u64 = 86_400;

/// An instant split into a UTC calendar day and a time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    days: u64,
    secs_of_day: u64,
    micros: u32,
}

impl Utc {
    /// `time` in UTC; a time before 1970 (a clock set wrong) reads as 1970-01-01T00:00:00Z.
    pub fn at(time: SystemTime) -> Utc {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        Utc {
            days: secs / SECS_PER_DAY,
            secs_of_day: secs % SECS_PER_DAY,
            micros: since.subsec_micros(),
        }
    }

    /// `HH:MM:SS`.
    pub fn time_of_day(&self) -> String {
        let s = self.secs_of_day;
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }

    /// RFC 3339 with microseconds and `Z`: `2026-11-23T06:37:43.700512Z`.
    pub fn rfc3339(&self) -> String {
        let (year, month, day) = civil_date(self.days);
        format!(
            "{year:04}-{month:02}-{day:02}T{}.{:06}Z",
            self.time_of_day(),
            self.micros
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch): years of 400 years ("eras") starting on 1 March, so that
/// the leap day is the last day of a year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 is March, 11 is February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
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
