//! The daemon's numbers in the Prometheus text format (version 0.0.4), built from the shared
//! health state and the API client's call counts at each scrape.

use std::fmt::Write;

use super::health::Health;
use crate::api::CallCounts;

/// Renders every metric.
pub fn render(health: &Health, calls: &CallCounts) -> String {
    let sites = health.snapshot();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let per_site = |value: &dyn Fn(&super::health::SiteHealth) -> Option<String>| {
        sites
            .iter()
            .filter_map(|(name, h)| value(h).map(|v| (format!("site=\"{}\"", escape(name)), v)))
            .collect::<Vec<_>>()
    };
    family(
        "tcb_deploy_files_uploaded_total",
        "counter",
        "Files uploaded since the daemon started.",
        per_site(&|h| Some(h.files_uploaded_total.to_string())),
    );
    family(
        "tcb_deploy_bytes_uploaded_total",
        "counter",
        "Bytes uploaded since the daemon started.",
        per_site(&|h| Some(h.bytes_uploaded_total.to_string())),
    );
    family(
        "tcb_deploy_upload_failures_total",
        "counter",
        "Files whose upload failed (they are retried at the next cycle).",
        per_site(&|h| Some(h.upload_failures_total.to_string())),
    );
    let mut cycles = Vec::new();
    for (name, h) in &sites {
        let site = escape(name);
        cycles.push((
            format!("site=\"{site}\",result=\"ok\""),
            (h.cycles - h.cycles_failed).to_string(),
        ));
        cycles.push((
            format!("site=\"{site}\",result=\"failed\""),
            h.cycles_failed.to_string(),
        ));
    }
    family(
        "tcb_deploy_cycles_total",
        "counter",
        "Deploy cycles run.",
        cycles,
    );
    family(
        "tcb_deploy_site_online",
        "gauge",
        "1 when the site's store was last seen online.",
        per_site(&|h| {
            h.status
                .as_ref()
                .map(|s| u8::from(s == "online").to_string())
        }),
    );
    family(
        "tcb_deploy_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last cycle that finished without failures.",
        per_site(&|h| h.last_deploy_unix.map(|t| t.to_string())),
    );
    let api = calls
        .snapshot()
        .into_iter()
        .map(|((endpoint, outcome), n)| {
            (
                format!(
                    "endpoint=\"{}\",errcode=\"{}\"",
                    escape(endpoint),
                    escape(&outcome)
                ),
                n.to_string(),
            )
        })
        .collect();
    family(
        "tcb_deploy_api_calls_total",
        "counter",
        "API calls by endpoint and errcode (0: success; transport, not_json, bad_answer: no errcode).",
        api,
    );
    out
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::health::SiteHealth;

    #[test]
    fn renders_families_with_help_type_and_escaped_labels() {
        let site = SiteHealth {
            files_uploaded_total: 12,
            cycles: 3,
            cycles_failed: 1,
            status: Some("online".into()),
            last_deploy_unix: Some(1_700_000_000),
            ..SiteHealth::default()
        };
        let health = Health::of([("w\"w".to_owned(), site)]);
        let text = render(&health, &CallCounts::default());
        assert!(text.contains("# TYPE tcb_deploy_files_uploaded_total counter\n"));
        assert!(
            text.contains("tcb_deploy_files_uploaded_total{site=\"w\\\"w\"} 12\n"),
            "{text}"
        );
        assert!(text.contains("tcb_deploy_cycles_total{site=\"w\\\"w\",result=\"ok\"} 2\n"));
        assert!(text.contains("tcb_deploy_site_online{site=\"w\\\"w\"} 1\n"));
        assert!(
            text.contains(
                "tcb_deploy_last_success_timestamp_seconds{site=\"w\\\"w\"} 1700000000\n"
            )
        );
    }
}
