//! What kind of file a name is, for the order of uploads and the default headers: an asset a
//! page may reference, a page, or a service worker (which may cache pages). Decided by the
//! name alone.

use serde::Serialize;

/// Upload order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Everything a page may reference: scripts, styles, images, data.
    Asset,
    /// `.html` / `.htm`.
    Page,
    /// Service-worker scripts, which may pre-cache pages.
    Worker,
}

impl Stage {
    pub fn of(path: &str) -> Stage {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        if name.ends_with(".html") || name.ends_with(".htm") {
            Stage::Page
        } else if matches!(
            name.as_str(),
            "sw.js" | "service-worker.js" | "serviceworker.js" | "sw.mjs" | "service-worker.mjs"
        ) {
            Stage::Worker
        } else {
            Stage::Asset
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages() {
        assert_eq!(Stage::of("a/b/INDEX.HTML"), Stage::Page);
        assert_eq!(Stage::of("service-worker.js"), Stage::Worker);
        assert_eq!(Stage::of("assets/sw.js.map"), Stage::Asset);
        assert_eq!(Stage::of("html"), Stage::Asset);
    }
}
