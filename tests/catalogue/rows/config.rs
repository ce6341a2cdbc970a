//! The config file: syntax errors, unknown and misspelt keys, wrong types, a secret written into
//! it, a missing file, and `[[site]]` tables, header rules and values it cannot use.

use crate::case::{CONFIG_DEPLOY, CONFIG_STATUS, Case, ROW};
use crate::prepare::config;

pub const ROWS: &[Case] = &[
    Case {
        name: "config: invalid TOML",
        prepare: |r| config(r, "env = \"a\"\nenv = \n"),
        args: CONFIG_STATUS,
        cause: &["c.toml:2:7: invalid config"],
        fix: &["fix it there", "deploy.example.toml"],
        ..ROW
    },
    Case {
        name: "config: an unclosed table header",
        prepare: |r| config(r, "[[site]\ndir = \"site\"\n"),
        args: CONFIG_STATUS,
        cause: &["c.toml:1:8: invalid config", "unclosed array table"],
        fix: &["fix it there"],
        ..ROW
    },
    Case {
        name: "config: a misspelt key",
        prepare: |r| config(r, "api_bsae = \"local\"\n"),
        args: CONFIG_STATUS,
        cause: &["c.toml: unknown key `api_bsae`"],
        fix: &["did you mean `api_base`?"],
        ..ROW
    },
    Case {
        name: "config: a misspelt key in a [[site]] table",
        prepare: |r| config(r, "[[site]]\ndir = \"site\"\nprefx = \"docs\"\n"),
        args: CONFIG_STATUS,
        cause: &["unknown key `site.0.prefx`"],
        fix: &["did you mean `prefix`?"],
        ..ROW
    },
    Case {
        name: "config: an unknown key like no other",
        prepare: |r| config(r, "colour = \"blue\"\n"),
        args: CONFIG_STATUS,
        cause: &["unknown key `colour`"],
        fix: &["see README.md for the keys"],
        ..ROW
    },
    Case {
        name: "config: a number written as text",
        prepare: |r| config(r, "concurrency = \"eight\"\n"),
        args: CONFIG_STATUS,
        cause: &["c.toml:1:15", "string \"eight\", expected a whole number"],
        fix: &["fix it there"],
        ..ROW
    },
    Case {
        name: "config: a negative number",
        prepare: |r| config(r, "request_timeout_secs = -5\n"),
        args: CONFIG_STATUS,
        cause: &["c.toml:1:24", "integer `-5`, expected a whole number"],
        fix: &["fix it there"],
        ..ROW
    },
    Case {
        name: "config: a number where tables belong",
        prepare: |r| config(r, "site = 3\n"),
        args: CONFIG_STATUS,
        cause: &["c.toml:1:8", "expected a sequence"],
        fix: &["fix it there"],
        ..ROW
    },
    Case {
        name: "config: a secret in the file",
        prepare: |r| config(r, "component_appsecret = \"s3cr3t-in-file\"\n"),
        args: CONFIG_STATUS,
        cause: &["`component_appsecret` is a secret"],
        fix: &[
            "set TCB_COMPONENT_APPSECRET",
            "use `component_appsecret_file`",
        ],
        hidden: &["s3cr3t-in-file"],
        ..ROW
    },
    Case {
        name: "config: the file is missing",
        args: &["--config", "{root}/missing.toml", "status", "--env", "site"],
        cause: &["cannot read config file", "missing.toml", "No such file"],
        fix: &["check the --config path"],
        ..ROW
    },
    Case {
        name: "config: the file is a folder",
        args: &["--config", "{root}", "status", "--env", "site"],
        cause: &["cannot read config file", "Is a directory"],
        fix: &["check the --config path"],
        ..ROW
    },
    Case {
        name: "config: a [[site]] without env",
        prepare: |r| config(r, "[[site]]\ndir = \"site\"\n"),
        args: CONFIG_DEPLOY,
        cause: &["[[site]] number 1 has no env"],
        fix: &["set `env` in it or at the top of the file"],
        ..ROW
    },
    Case {
        name: "config: two [[site]] tables with one name",
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"a\"\ndir = \"x\"\n[[site]]\nenv = \"a\"\ndir = \"y\"\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &["two [[site]] tables are named \"a\""],
        fix: &["give each a distinct `name`"],
        ..ROW
    },
    Case {
        name: "config: a prefix with a backslash",
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"site\"\ndir = \"site\"\nprefix = 'a\\b'\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &["invalid prefix \"a\\\\b\""],
        fix: &["must not contain backslashes or control characters"],
        ..ROW
    },
    Case {
        name: "config: a header rule with an invalid glob",
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"site\"\ndir = \"site\"\n[[site.rules]]\nglob = \"[z-a]\"\ncache_control = \"no-cache\"\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &[
            "invalid glob \"[z-a]\" in a [[site.rules]] table",
            "invalid range",
        ],
        fix: &["fix the glob"],
        ..ROW
    },
    Case {
        name: "config: a header value on two lines",
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"site\"\ndir = \"site\"\n[[site.rules]]\nglob = \"*\"\ncache_control = \"a\\nb\"\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &["invalid cache_control \"a\\nb\""],
        fix: &["printable ASCII on one line; fix the value"],
        ..ROW
    },
    Case {
        name: "config: a header rule that sets nothing",
        prepare: |r| {
            config(
                r,
                "[[site]]\nenv = \"site\"\ndir = \"site\"\n[[site.rules]]\nglob = \"*\"\n",
            )
        },
        args: CONFIG_DEPLOY,
        cause: &["sets neither cache_control nor content_type"],
        fix: &["set one or remove the table"],
        ..ROW
    },
    Case {
        name: "config: a quiet period of zero",
        prepare: |r| config(r, "quiet_ms = 0\n"),
        args: CONFIG_STATUS,
        cause: &["invalid quiet_ms \"0\""],
        fix: &["must be at least 1"],
        ..ROW
    },
    Case {
        name: "config: an emulator address that is no address",
        prepare: |r| config(r, "emulator_addr = \"localhost\"\n"),
        args: CONFIG_STATUS,
        cause: &["invalid emulator_addr \"localhost\""],
        fix: &["expected IP:PORT, e.g. 127.0.0.1:8790"],
        ..ROW
    },
];
