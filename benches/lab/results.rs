//! The results table and the statistics it shows.

/// One line of the final table.
pub struct Row {
    pub target: String,
    pub measured: String,
    pub peer: String,
    pub limit: String,
    pub pass: bool,
}

impl Row {
    pub fn error(what: &str, e: &dyn std::error::Error) -> Row {
        eprintln!("error in {what}: {e}");
        Row {
            target: what.to_owned(),
            measured: format!("error: {e}"),
            peer: String::new(),
            limit: String::new(),
            pass: false,
        }
    }
}

/// Prints `title` and the table of `rows`; the exit code says whether every target passed.
pub fn verdict(title: &str, rows: &[Row]) -> std::process::ExitCode {
    println!("\n== {title} ==");
    print_table(rows);
    if rows.iter().all(|row| row.pass) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

fn print_table(rows: &[Row]) {
    let header = ["target", "measured", "peer", "ratio / limit", "result"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            let result = if r.pass { "PASS" } else { "FAIL" };
            [&r.target, &r.measured, &r.peer, &r.limit, result].map(|s| s as &str)
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&header);
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &cells {
        line(row);
    }
}

/// Median and minimum of some timings.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub n: usize,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            n,
        }
    }

    pub fn ms(&self) -> String {
        format!(
            "median {:.1} ms, min {:.1} ms (n={})",
            self.median * 1e3,
            self.min * 1e3,
            self.n
        )
    }
}
