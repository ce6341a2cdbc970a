//! Text helpers every layer uses to put outside text into one-line messages and sizes into
//! words. A leaf: it imports nothing of the crate.

/// At most `max` characters of `bytes` as text, control characters escaped: text from outside
/// (a body the service sent, a key or a glob of the config) as it goes into a one-line message.
pub fn snippet(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(|c| {
            if c.is_control() && c != ' ' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// `text` with its control characters escaped, so that it stays on one line.
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

/// A byte count as a person reads it: `1.5 KiB`, `3.0 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    // The next unit as soon as this one would read 1024.0 at one decimal (1 MiB less a byte
    // reads 1.0 MiB, not 1024.0 KiB).
    while unit + 1 < UNITS.len() && (value * 10.0).round() >= 10_240.0 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_truncates_and_escapes() {
        assert_eq!(snippet(b"<html>\n", 200), "<html>\\n");
        let long = "x".repeat(300);
        let s = snippet(long.as_bytes(), 200);
        assert_eq!(s.chars().count(), 201);
        assert!(s.ends_with('…'));
        assert_eq!(snippet(b"", 200), "");
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }

    #[test]
    fn one_line_escapes_line_breaks() {
        assert_eq!(one_line("a\nb\r"), "a\\nb\\r");
    }
}
