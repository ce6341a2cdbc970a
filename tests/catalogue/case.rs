//! What a row of the catalogue says: the bad input (what the command talks to, the files it
//! finds, its command line and variables) and what must follow from it; and the pieces rows
//! share (the site, canned answers, command lines, the row every row starts from).

use std::path::Path;

use crate::common::Harness;
use crate::prepare::{as_is, nothing};

/// One bad input and what it must lead to.
pub struct Case {
    pub name: &'static str,
    /// What the command talks to.
    pub against: Against,
    /// Writes the case's files into its folder, `{root}` in `args` and `vars` (for `Deployed`,
    /// after the site in `{root}/site` was deployed).
    pub prepare: fn(&Path),
    /// The command line after the program name. `{api}` is the service's address.
    pub args: &'static [&'static str],
    /// Variables set over the service's own; an empty value removes one.
    pub vars: &'static [(&'static str, &'static str)],
    pub exit: i32,
    /// Which line tells the user.
    pub says: Says,
    /// What the line must name: the cause…
    pub cause: &'static [&'static str],
    /// …and what to do.
    pub fix: &'static [&'static str],
    /// Requests the service may see during the run.
    pub sent: Sent,
    /// Keys that must not be in the store afterwards (`Deployed`).
    pub absent: &'static [&'static str],
    /// Text that must never be printed (besides the secrets every run checks).
    pub hidden: &'static [&'static str],
    /// What to change in the emulator after the first deploy (`Deployed`).
    pub then: fn(&Harness),
}

pub enum Against {
    /// A server that counts requests and answers none usefully.
    Nobody,
    /// An API answering every call with this status, content type and body. In the body,
    /// `{huge}` stands for about 100 KB of text with line breaks.
    Api(u16, &'static str, &'static str),
    /// A fake service where the static website exists: the store listing answers `list`,
    /// `staticuploadfile` answers `link` (`{addr}` is the fake's own address) and every PUT
    /// answers `put`: status, one more header line (or ""), body.
    Store {
        list: &'static str,
        link: &'static str,
        put: (u16, &'static str, &'static str),
    },
    /// The emulator, where the site in `{root}/site` (state in `{root}/state`) was deployed
    /// before the run.
    Deployed,
}

pub enum Says {
    /// The one `error:` line, the last line on standard error.
    Error,
    /// A warning on standard error that holds this text (the path it names).
    Warning(&'static str),
}

#[derive(Clone, Copy)]
pub enum Sent {
    /// No request at all: the input is refused before any.
    Nothing,
    /// Exactly this many upload links asked (`staticuploadfile`). The page's link is asked
    /// while the asset before it uploads, so the two-file site's failing asset makes one more
    /// than its own tries.
    Links(u64),
    /// At most this many upload links: the asset's link is refused at its answer, which may
    /// come before the page's link, asked ahead, is sent.
    LinksAtMost(u64),
    /// Exactly this many requests: the first try and the retries.
    Requests(u64),
    /// Whatever the failure takes.
    Any,
}

/// The site deployed before the run, and the files of most cases: a page and an asset.
pub const SITE: &[(&str, &str)] = &[
    ("index.html", "<p>home</p>"),
    ("assets/app.js", "console.log(1)"),
];

pub const EMPTY_LIST: &str = r#"{"errcode":0,"contents":[],"is_truncated":false}"#;
pub const GOOD_LINK: &str = r#"{"errcode":0,"signed_url":"http://{addr}/b/key?sign=q-signature%3Dfeedface","token":"fake-cos-token"}"#;
pub const DEPLOY: &[&str] = &["deploy", "--env", "site", "--dir", "{root}/site"];
pub const CONFIG_STATUS: &[&str] = &["--config", "{root}/c.toml", "status", "--env", "site"];
pub const CONFIG_DEPLOY: &[&str] = &["--config", "{root}/c.toml", "deploy"];

/// A row with nothing deployed, no variables, nothing sent and no key to check.
pub const ROW: Case = Case {
    name: "",
    against: Against::Nobody,
    prepare: nothing,
    args: &[],
    vars: &[],
    exit: 2,
    says: Says::Error,
    cause: &[],
    fix: &[],
    sent: Sent::Nothing,
    absent: &[],
    hidden: &[],
    then: as_is,
};

/// A row whose API answers every call with an `errcode`; the command is `status`.
pub const fn errcode(
    name: &'static str,
    body: &'static str,
    exit: i32,
    cause: &'static [&'static str],
    fix: &'static [&'static str],
) -> Case {
    Case {
        name,
        against: Against::Api(200, "application/json", body),
        args: &["status", "--env", "site"],
        exit,
        cause,
        fix,
        sent: Sent::Any,
        ..ROW
    }
}
