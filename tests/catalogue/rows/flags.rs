//! Flags: values the command line gets wrong, unknown flags and commands, and a site, env or
//! prefix a command cannot work on.

use crate::case::{Against, Case, ROW};
use crate::prepare::config;

pub const ROWS: &[Case] = &[
    Case {
        name: "flag: --concurrency 0",
        args: &[
            "deploy",
            "--env",
            "site",
            "--dir",
            "{root}/site",
            "--concurrency",
            "0",
        ],
        cause: &["invalid value '0' for '--concurrency <N>'"],
        fix: &["0 is not in 1..=256", "see `tcb-deploy deploy --help`"],
        ..ROW
    },
    Case {
        name: "flag: --concurrency over 256",
        args: &[
            "plan",
            "--env",
            "site",
            "--dir",
            "{root}/site",
            "--concurrency",
            "300",
        ],
        cause: &["invalid value '300' for '--concurrency <N>'"],
        fix: &["300 is not in 1..=256", "see `tcb-deploy plan --help`"],
        ..ROW
    },
    Case {
        name: "flag: an unknown --log-format",
        args: &["--log-format", "xml", "status", "--env", "site"],
        cause: &["invalid value 'xml' for '--log-format <LOG_FORMAT>'"],
        fix: &["possible values: text, json"],
        ..ROW
    },
    Case {
        name: "flag: a misspelt flag",
        args: &["deploy", "--env", "site", "--dirr", "{root}/site"],
        cause: &["unexpected argument '--dirr' found"],
        fix: &[
            "a similar argument exists: '--dir'",
            "see `tcb-deploy deploy --help`",
        ],
        ..ROW
    },
    Case {
        name: "flag: an unknown command",
        args: &["publish"],
        cause: &["unrecognized subcommand 'publish'"],
        fix: &["see `tcb-deploy --help`"],
        ..ROW
    },
    Case {
        name: "flag: a zero timeout",
        args: &["create", "--env", "site", "--wait", "--timeout", "0"],
        cause: &["invalid value '0' for '--timeout <SECS>'"],
        fix: &["see `tcb-deploy create --help`"],
        ..ROW
    },
    Case {
        name: "flag: no environment id",
        args: &["status"],
        cause: &["no environment id given"],
        fix: &["pass --env, set `env` in the config file, or set TCB_ENV"],
        ..ROW
    },
    Case {
        name: "flag: an environment id with a path in it",
        args: &["status", "--env", "../etc"],
        cause: &["invalid env \"../etc\""],
        fix: &["1 to 64 letters, digits and hyphens"],
        ..ROW
    },
    Case {
        name: "flag: a malformed appid",
        args: &["share", "--env", "site", "--appid", "bad appid"],
        cause: &["invalid appid \"bad appid\""],
        fix: &["an appid looks like wx0123456789abcdef"],
        ..ROW
    },
    Case {
        name: "flag: deploy with nothing to deploy",
        args: &["deploy"],
        cause: &["nothing to deploy"],
        fix: &["pass --dir (and --env), or add [[site]] tables"],
        ..ROW
    },
    Case {
        name: "flag: --site that no table names",
        prepare: |r| {
            config(
                r,
                "[[site]]\nname = \"docs\"\nenv = \"site\"\ndir = \"site\"\n",
            )
        },
        args: &["--config", "{root}/c.toml", "deploy", "--site", "blog"],
        cause: &["no [[site]] matches --site/--env"],
        fix: &["the config has: docs"],
        ..ROW
    },
    Case {
        name: "flag: a prefix climbing out with ..",
        against: Against::Deployed,
        args: &[
            "deploy",
            "--env",
            "site",
            "--dir",
            "{root}/site",
            "--prefix",
            "docs/../../up",
        ],
        cause: &["invalid prefix \"docs/../../up\""],
        fix: &["must not contain . or .. segments"],
        ..ROW
    },
    Case {
        name: "flag: an absolute prefix",
        against: Against::Deployed,
        args: &[
            "deploy",
            "--env",
            "site",
            "--dir",
            "{root}/site",
            "--prefix",
            "/etc",
        ],
        cause: &["invalid prefix \"/etc\""],
        fix: &["must be relative, e.g. docs/"],
        ..ROW
    },
];
