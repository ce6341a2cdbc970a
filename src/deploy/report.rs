//! What a deploy did, for people (a short summary) and for CI (`--json`: one object per site).

use serde::Serialize;

use super::plan::Reason;
use crate::text::human_bytes;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FileFailure {
    pub path: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedFile {
    pub path: String,
    pub reason: Reason,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub site: String,
    pub env: String,
    /// The site's address, from the store's domain.
    pub url: Option<String>,
    pub dry_run: bool,
    pub uploaded: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Files read to hash them (not those whose digest the manifest or another environment's
    /// deploy of the same folder gave).
    pub hashed: usize,
    pub bytes_uploaded: u64,
    pub duration_ms: u64,
    /// The widest the upload window grew (uploads allowed in flight at once); none for a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
    /// Connections the deploy opened, to the service and to the store; none for a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
    /// Online but no longer local; this API cannot delete them.
    pub stale_remote: Vec<String>,
    pub failures: Vec<FileFailure>,
    /// With `--dry-run`: what would be uploaded, in upload order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<Vec<PlannedFile>>,
}

impl Report {
    pub fn fail(&mut self, path: impl Into<String>, error: impl Into<String>) {
        self.failures.push(FileFailure {
            path: path.into(),
            error: error.into(),
        });
        self.failed = self.failures.len();
    }

    /// The human summary printed on standard output.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(planned) = &self.planned {
            for p in planned {
                out.push_str(&format!(
                    "upload  {:<16}  {}\n",
                    p.reason.to_string(),
                    p.path
                ));
            }
            let bytes: u64 = planned.iter().map(|p| p.bytes).sum();
            out.push_str(&format!(
                "{}: would upload {} files ({}), {} unchanged, {} skipped\n",
                self.site,
                planned.len(),
                human_bytes(bytes),
                self.unchanged,
                self.skipped
            ));
        } else {
            let window = match self.window {
                Some(width) if self.uploaded > 0 => format!(" (window {width})"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{}: uploaded {} files ({}) in {:.1} s{window}, {} unchanged, {} skipped, {} failed\n",
                self.site,
                self.uploaded,
                human_bytes(self.bytes_uploaded),
                self.duration_ms as f64 / 1000.0,
                self.unchanged,
                self.skipped,
                self.failed
            ));
        }
        for f in &self.failures {
            out.push_str(&format!("failed  {}: {}\n", f.path, f.error));
        }
        if !self.stale_remote.is_empty() {
            out.push_str(&format!(
                "{} files are online but no longer in the folder (this API cannot delete them):\n",
                self.stale_remote.len()
            ));
            for key in self.stale_remote.iter().take(20) {
                out.push_str(&format!("stale   {key}\n"));
            }
            if self.stale_remote.len() > 20 {
                out.push_str(&format!(
                    "stale   … and {} more (see --json)\n",
                    self.stale_remote.len() - 20
                ));
            }
        }
        if let Some(url) = &self.url {
            out.push_str(&format!("site    {url}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_failures_and_stale_files() {
        let mut r = Report {
            site: "www".into(),
            uploaded: 2,
            stale_remote: vec!["old.html".into()],
            url: Some("https://x/".into()),
            ..Report::default()
        };
        r.fail(
            "a.js",
            "upload refused: HTTP 403 AccessDenied (Access Denied.)",
        );
        let text = r.summary();
        assert!(text.contains("uploaded 2 files"), "{text}");
        assert!(text.contains("1 failed"), "{text}");
        assert!(text.contains("failed  a.js: upload refused"), "{text}");
        assert!(text.contains("stale   old.html"), "{text}");
        assert!(text.contains("cannot delete"), "{text}");
    }
}
