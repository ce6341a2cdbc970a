//! The site folder and the state folder: missing, not a folder, unreadable, with ignore rules
//! that cannot be used, or with a manifest that is damaged.

use crate::case::{Against, CONFIG_DEPLOY, Case, DEPLOY, ROW, Says, Sent};
use crate::prepare::{config, link, mkdir, write};

pub const ROWS: &[Case] = &[
    Case {
        name: "folder: missing",
        against: Against::Deployed,
        args: &["deploy", "--env", "site", "--dir", "{root}/dist"],
        cause: &["the site folder", "/dist does not exist"],
        fix: &["build the site first or fix `dir`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: a file",
        against: Against::Deployed,
        args: &["deploy", "--env", "site", "--dir", "{root}/site/index.html"],
        cause: &["index.html is not a folder"],
        fix: &["point `dir` at the build output folder"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: a symlink to itself (unreadable, even for root)",
        against: Against::Deployed,
        prepare: |r| link(r, "dist", "dist"),
        args: &["deploy", "--env", "site", "--dir", "{root}/dist"],
        cause: &[
            "cannot read the site folder",
            "Too many levels of symbolic links",
        ],
        fix: &["check its permissions or fix `dir`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: an invalid ignore glob",
        against: Against::Deployed,
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"site\"\ndir = \"site\"\nignore = [\"{a\"]\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &["invalid ignore glob `{a`", "unclosed alternate group"],
        fix: &["fix it in `ignore`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: a .deployignore line that is no pattern",
        against: Against::Deployed,
        prepare: |r| write(r, "site/.deployignore", "*.map\n{a\n"),
        args: DEPLOY,
        cause: &[".deployignore:2: invalid pattern"],
        fix: &["fix or remove the line"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: a .deployignore that is a folder",
        against: Against::Deployed,
        prepare: |r| mkdir(r, "site/.deployignore"),
        args: DEPLOY,
        cause: &[
            "cannot read the ignore file",
            ".deployignore: Is a directory",
        ],
        fix: &["fix its permissions or remove it"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: the state folder is a file",
        against: Against::Deployed,
        args: DEPLOY,
        vars: &[("TCB_STATE_DIR", "{root}/site/index.html")],
        cause: &["cannot read manifest", "Not a directory"],
        fix: &["make state_dir (TCB_STATE_DIR) readable or point it elsewhere"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "folder: a corrupt manifest",
        against: Against::Deployed,
        prepare: |r| write(r, "state/manifests/site/root.manifest", "not a manifest"),
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("root.manifest"),
        cause: &["manifest unusable"],
        fix: &["moved aside; every file will be read again"],
        sent: Sent::Links(0),
        ..ROW
    },
];
