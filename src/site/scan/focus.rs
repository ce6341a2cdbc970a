//! A partial scan's focus: the paths (below the site folder) a watch cycle found dirty. The
//! walk goes down only the folders on the way to them, and lists a focused folder whole. Every
//! rule a full scan applies (ignore rules, `.deployignore` in the folders on the way, symlink
//! checks) applies the same, because the walk is the same.

use std::sync::Arc;

/// Paths relative to the site folder, `/` between names: sorted, none inside another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Focus {
    paths: Vec<String>,
}

/// Where an entry stands with respect to a focus.
pub(super) enum Place {
    /// Neither focused nor on the way to a focused path: not looked at.
    Outside,
    /// Focused, or inside a focused folder: looked at whole.
    Focused,
    /// A folder on the way to these focused paths.
    OnTheWay(Arc<Focus>),
}

impl Focus {
    /// The focus on `paths`; "" or "." (the folder itself) focuses everything: `None`.
    pub fn new(paths: &[String]) -> Option<Focus> {
        let mut paths: Vec<String> = paths
            .iter()
            .map(|p| p.trim_matches('/').to_owned())
            .collect();
        if paths.iter().any(|p| p.is_empty() || p == ".") {
            return None;
        }
        paths.sort_unstable();
        paths.dedup();
        // A path inside another focused one adds nothing. Sorted, an inside path follows the
        // one containing it, though not always right after it (`a`, `a-b`, `a/c`).
        let mut kept: Vec<String> = Vec::with_capacity(paths.len());
        for path in paths {
            if !kept.iter().rev().any(|outer| inside(&path, outer)) {
                kept.push(path);
            }
        }
        Some(Focus { paths: kept })
    }

    /// Whether `relative` is a focused path or inside one.
    pub fn covers(&self, relative: &str) -> bool {
        let mut ends = relative
            .match_indices('/')
            .map(|(at, _)| at)
            .chain([relative.len()]);
        ends.any(|end| {
            self.paths
                .binary_search_by(|p| p.as_str().cmp(&relative[..end]))
                .is_ok()
        })
    }

    /// Where `relative` (an entry's path below the site folder) stands.
    pub(super) fn place(&self, relative: &str) -> Place {
        let start = self.paths.partition_point(|p| p.as_str() < relative);
        let mut from = self.paths[start..].iter().peekable();
        if from.next_if(|p| p.as_str() == relative).is_some() {
            return Place::Focused;
        }
        // Paths below `relative` start with it and sort after it, but names like `a-b` can
        // sit between `a` and `a/…`: look through those that start with `relative`.
        let below: Vec<String> = from
            .take_while(|p| p.starts_with(relative))
            .filter(|p| inside(p, relative))
            .cloned()
            .collect();
        if below.is_empty() {
            Place::Outside
        } else {
            Place::OnTheWay(Arc::new(Focus { paths: below }))
        }
    }
}

/// Whether `path` is strictly inside the folder `outer`.
fn inside(path: &str, outer: &str) -> bool {
    path.len() > outer.len() && path.starts_with(outer) && path.as_bytes()[outer.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn focus(paths: &[&str]) -> Option<Focus> {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        Focus::new(&paths)
    }

    fn on_the_way(place: Place) -> Vec<String> {
        match place {
            Place::OnTheWay(focus) => focus.paths.clone(),
            Place::Outside => vec!["<outside>".into()],
            Place::Focused => vec!["<focused>".into()],
        }
    }

    #[test]
    fn paths_inside_focused_ones_are_dropped_and_the_root_means_everything() {
        let f = focus(&["a/c", "a", "a-b", "/x/y/", "x/y/z"]).expect("a focus");
        assert_eq!(f.paths, ["a", "a-b", "x/y"]);
        assert_eq!(focus(&["a", ""]), None);
        assert_eq!(focus(&["."]), None);
    }

    #[test]
    fn entries_are_outside_focused_or_on_the_way() {
        let f = focus(&["a/b/c.js", "a/b-d", "img/x.png", "index.html"]).expect("a focus");
        assert!(matches!(f.place("index.html"), Place::Focused));
        assert!(matches!(f.place("other.html"), Place::Outside));
        assert!(matches!(f.place("im"), Place::Outside));
        assert!(matches!(f.place("index"), Place::Outside));
        assert_eq!(on_the_way(f.place("a")), ["a/b-d", "a/b/c.js"]);
        assert_eq!(on_the_way(f.place("img")), ["img/x.png"]);
        let below_a = match f.place("a") {
            Place::OnTheWay(focus) => focus,
            _ => unreachable!(),
        };
        assert_eq!(on_the_way(below_a.place("a/b")), ["a/b/c.js"]);
        assert!(matches!(below_a.place("a/b-d"), Place::Focused));
        assert!(matches!(below_a.place("a/c"), Place::Outside));
    }

    #[test]
    fn covers_focused_paths_and_what_is_inside_them() {
        let f = focus(&["a", "a-b", "img/x.png"]).expect("a focus");
        for covered in ["a", "a/x", "a/x/y.js", "a-b", "img/x.png"] {
            assert!(f.covers(covered), "{covered}");
        }
        for outside in ["a-", "ab", "img", "img/x.png2", "b/a"] {
            assert!(!f.covers(outside), "{outside}");
        }
    }
}
