//! The bad-input catalogue: the inputs a person or a service can get wrong (config files,
//! variables, flags, site folders, credentials, answers of the API and of the upload store), in
//! one table. Each row is one bad input and what must follow from it:
//!
//! - one line that names the cause and what to do: the `error:` line, last on standard error,
//!   or for what is only skipped, the warning naming it;
//! - the documented exit code (README.md, "When things go wrong", summarises this table);
//! - no panic, and no credential printed (the variables' secrets, and every token or link
//!   signature the emulator handed out);
//! - no request that the input should have stopped (a refused key asks for no upload link);
//! - where a site was deployed before, nothing of it lost: the store serves the same bytes, and
//!   the manifest is byte-identical (or, when the run went on, still records every file).
//!
//! Each row is a test of its own, named by the row: `cargo test --test catalogue ROW` runs one.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Answer, Canned, Harness, run_tool};
use libtest_mimic::Trial;
use tcb_deploy::emulator;
use tcb_deploy::site::ManifestStore;

/// One bad input and what it must lead to.
struct Case {
    name: &'static str,
    /// What the command talks to.
    against: Against,
    /// Writes the case's files into its folder, `{root}` in `args` and `vars` (for `Deployed`,
    /// after the site in `{root}/site` was deployed).
    prepare: fn(&Path),
    /// The command line after the program name. `{api}` is the service's address.
    args: &'static [&'static str],
    /// Variables set over the service's own; an empty value removes one.
    vars: &'static [(&'static str, &'static str)],
    exit: i32,
    /// Which line tells the user.
    says: Says,
    /// What the line must name: the cause…
    cause: &'static [&'static str],
    /// …and what to do.
    fix: &'static [&'static str],
    /// Requests the service may see during the run.
    sent: Sent,
    /// Keys that must not be in the store afterwards (`Deployed`).
    absent: &'static [&'static str],
    /// Text that must never be printed (besides the secrets every run checks).
    hidden: &'static [&'static str],
    /// What to change in the emulator after the first deploy (`Deployed`).
    then: fn(&Harness),
}

enum Against {
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

enum Says {
    /// The one `error:` line, the last line on standard error.
    Error,
    /// A warning on standard error that holds this text (the path it names).
    Warning(&'static str),
}

#[derive(Clone, Copy)]
enum Sent {
    /// No request at all: the input is refused before any.
    Nothing,
    /// Exactly this many upload links asked (`staticuploadfile`).
    Links(u64),
    /// Exactly this many requests: the first try and the retries.
    Requests(u64),
    /// Whatever the failure takes.
    Any,
}

/// The site deployed before the run, and the files of most cases: a page and an asset.
const SITE: &[(&str, &str)] = &[
    ("index.html", "<p>home</p>"),
    ("assets/app.js", "console.log(1)"),
];

const EMPTY_LIST: &str = r#"{"errcode":0,"contents":[],"is_truncated":false}"#;
const GOOD_LINK: &str = r#"{"errcode":0,"signed_url":"http://{addr}/b/key?sign=q-signature%3Dfeedface","token":"fake-cos-token"}"#;
const DEPLOY: &[&str] = &["deploy", "--env", "site", "--dir", "{root}/site"];
const CONFIG_STATUS: &[&str] = &["--config", "{root}/c.toml", "status", "--env", "site"];
const CONFIG_DEPLOY: &[&str] = &["--config", "{root}/c.toml", "deploy"];

/// A row with nothing deployed, no variables, nothing sent and no key to check.
const ROW: Case = Case {
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
const fn errcode(
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

const CATALOGUE: &[Case] = &[
    // ── The config file ──────────────────────────────────────────────────────────────────
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
    // ── Environment variables ────────────────────────────────────────────────────────────
    Case {
        name: "env: a number that is not one",
        args: &["status", "--env", "site"],
        vars: &[("TCB_CONCURRENCY", "abc")],
        cause: &["invalid environment variable TCB_CONCURRENCY", "'abc'"],
        fix: &["fix or unset it"],
        ..ROW
    },
    Case {
        name: "env: concurrency 0",
        args: DEPLOY,
        vars: &[("TCB_CONCURRENCY", "0")],
        cause: &["invalid concurrency \"0\""],
        fix: &["must be between 1 and 256"],
        ..ROW
    },
    Case {
        name: "env: concurrency over 256",
        args: DEPLOY,
        vars: &[("TCB_CONCURRENCY", "257")],
        cause: &["invalid concurrency \"257\""],
        fix: &["must be between 1 and 256"],
        ..ROW
    },
    Case {
        name: "env: retry_attempts 0",
        args: DEPLOY,
        vars: &[("TCB_RETRY_ATTEMPTS", "0")],
        cause: &["invalid retry_attempts \"0\""],
        fix: &["must be between 1 and 20"],
        ..ROW
    },
    Case {
        name: "env: an api_rate_limit of zero",
        args: DEPLOY,
        vars: &[("TCB_API_RATE_LIMIT", "0")],
        cause: &["invalid api_rate_limit \"0\""],
        fix: &["at least 0.01", "leave it out for no limit"],
        ..ROW
    },
    Case {
        name: "env: two token sources",
        args: &["status", "--env", "site"],
        vars: &[("TCB_TOKEN_COMMAND", "echo t")],
        cause: &[
            "several component token sources are configured (TCB_ACCESS_TOKEN, token_command)",
        ],
        fix: &["keep exactly one"],
        ..ROW
    },
    Case {
        name: "env: component credentials without the verify ticket",
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_ACCESS_TOKEN", ""),
            ("TCB_COMPONENT_APPID", emulator::COMPONENT_APPID),
            ("TCB_COMPONENT_APPSECRET", emulator::COMPONENT_APPSECRET),
        ],
        cause: &["the verify ticket is missing"],
        fix: &["set TCB_COMPONENT_VERIFY_TICKET or component_verify_ticket_file"],
        ..ROW
    },
    Case {
        name: "env: no token at all",
        args: &["status", "--env", "site"],
        vars: &[("TCB_ACCESS_TOKEN", "")],
        cause: &["no access token is configured"],
        fix: &["set TCB_ACCESS_TOKEN, token_file or token_command"],
        ..ROW
    },
    Case {
        name: "env: plain http to an address that is not loopback",
        args: &["status", "--env", "site"],
        vars: &[("TCB_API_BASE", "http://192.0.2.1:9")],
        cause: &[
            "invalid api_base \"http://192.0.2.1:9\"",
            "plain http is only allowed to a loopback address",
        ],
        fix: &["use https"],
        ..ROW
    },
    Case {
        name: "env: plain http to a host name",
        args: &["status", "--env", "site"],
        vars: &[("TCB_API_BASE", "http://api.example.invalid")],
        cause: &["plain http is only allowed to a loopback address"],
        fix: &["use https"],
        ..ROW
    },
    Case {
        name: "env: an api_base that is no URL",
        args: &["status", "--env", "site"],
        vars: &[("TCB_API_BASE", "api dot weixin")],
        cause: &["invalid api_base \"api dot weixin\""],
        fix: &["expected `local` or a URL such as https://api.weixin.qq.com"],
        ..ROW
    },
    Case {
        name: "env: an api_base of another scheme",
        args: &["status", "--env", "site"],
        vars: &[("TCB_API_BASE", "ftp://127.0.0.1/")],
        cause: &["invalid api_base \"ftp://127.0.0.1/\""],
        fix: &["expected an http(s) URL or `local`"],
        ..ROW
    },
    // ── Flags ────────────────────────────────────────────────────────────────────────────
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
    // ── The site folder ──────────────────────────────────────────────────────────────────
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
    // ── Files in the site folder ─────────────────────────────────────────────────────────
    Case {
        name: "file: a name with a control character",
        against: Against::Deployed,
        prepare: |r| {
            write(r, "site/bad\u{1}name.js", "x");
            write(r, "site/fresh.js", "y");
        },
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("bad\\u{1}name.js"),
        cause: &["name contains a control character or a backslash"],
        fix: &["rename it"],
        sent: Sent::Links(1),
        absent: &["bad\u{1}name.js"],
        ..ROW
    },
    Case {
        name: "file: a name with a backslash",
        against: Against::Deployed,
        prepare: |r| {
            write(r, "site/assets/back\\slash.js", "x");
            write(r, "site/fresh.js", "y");
        },
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("back\\\\slash.js"),
        cause: &["name contains a control character or a backslash"],
        fix: &["rename it"],
        sent: Sent::Links(1),
        absent: &["assets/back\\slash.js", "assets/back/slash.js"],
        ..ROW
    },
    Case {
        name: "file: a name that is not UTF-8",
        against: Against::Deployed,
        prepare: |r| {
            write_bytes_name(r, b"site/caf\xe9.js", "x");
            write(r, "site/fresh.js", "y");
        },
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("caf\\xE9.js"),
        cause: &["name is not valid UTF-8"],
        fix: &["rename it"],
        sent: Sent::Links(1),
        ..ROW
    },
    Case {
        name: "file: two symlinks that point at each other",
        against: Against::Deployed,
        prepare: |r| {
            link(r, "site/loop-a", "loop-b");
            link(r, "site/loop-b", "loop-a");
        },
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("loop-a"),
        cause: &["symlink loops back"],
        fix: &["remove the link or exclude it with `ignore`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "file: a folder linked to its parent",
        against: Against::Deployed,
        prepare: |r| link(r, "site/assets/up", ".."),
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("assets/up"),
        cause: &["symlink loops back to a folder that contains it"],
        fix: &["remove the link or exclude it with `ignore`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "file: a broken symlink",
        against: Against::Deployed,
        prepare: |r| link(r, "site/gone.css", "never-built.css"),
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("gone.css"),
        cause: &["symlink points to nothing"],
        fix: &["fix or remove the link"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "file: a symlink leaving the folder",
        against: Against::Deployed,
        prepare: |r| {
            write(r, "private.txt", "do not publish");
            link(r, "site/leak.txt", "../private.txt");
        },
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("leak.txt"),
        cause: &["symlink points outside the site folder"],
        fix: &["copy the target into the folder to deploy it"],
        sent: Sent::Links(0),
        absent: &["leak.txt"],
        ..ROW
    },
    Case {
        name: "file: a FIFO where a file should be (unreadable, even for root)",
        against: Against::Deployed,
        prepare: |r| fifo(r, "site/pipe.js"),
        args: DEPLOY,
        exit: 0,
        says: Says::Warning("pipe.js"),
        cause: &["not a regular file (socket, FIFO or device)"],
        fix: &["exclude it with `ignore`"],
        sent: Sent::Links(0),
        absent: &["pipe.js"],
        ..ROW
    },
    Case {
        name: "file: over 5 GiB (sparse)",
        against: Against::Deployed,
        prepare: |r| {
            sparse(r, "site/media/huge.bin", 6 << 30);
            write(r, "site/fresh.js", "y");
        },
        args: DEPLOY,
        exit: 1,
        cause: &["1 file not uploaded", "huge.bin: larger than 5 GiB"],
        fix: &[
            "exclude it with `ignore`",
            "the others are online and recorded",
        ],
        sent: Sent::Links(1),
        absent: &["media/huge.bin"],
        ..ROW
    },
    // ── Credentials ──────────────────────────────────────────────────────────────────────
    Case {
        name: "auth: the token file is missing",
        args: &["status", "--env", "site"],
        vars: &[("TCB_ACCESS_TOKEN", ""), ("TCB_TOKEN_FILE", "{root}/token")],
        cause: &["cannot read token_file", "/token: No such file"],
        fix: &["check the path and its permissions"],
        ..ROW
    },
    Case {
        name: "auth: the token file is empty",
        prepare: |r| secret_file(r, "token", "", 0o600),
        args: &["status", "--env", "site"],
        vars: &[("TCB_ACCESS_TOKEN", ""), ("TCB_TOKEN_FILE", "{root}/token")],
        cause: &["token_file", "/token is empty"],
        fix: &["write the value into it"],
        ..ROW
    },
    Case {
        name: "auth: the token command fails",
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_ACCESS_TOKEN", ""),
            ("TCB_TOKEN_COMMAND", "echo vault sealed >&2; exit 3"),
        ],
        exit: 3,
        cause: &["failed (exit status: 3): vault sealed"],
        fix: &["run it by hand to see why"],
        ..ROW
    },
    Case {
        name: "auth: the token command prints nothing",
        args: &["status", "--env", "site"],
        vars: &[("TCB_ACCESS_TOKEN", ""), ("TCB_TOKEN_COMMAND", "true")],
        exit: 3,
        cause: &["token_command `true` printed nothing"],
        fix: &["run it by hand to see why"],
        ..ROW
    },
    Case {
        name: "auth: the verify ticket file is missing",
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_ACCESS_TOKEN", ""),
            ("TCB_COMPONENT_APPID", emulator::COMPONENT_APPID),
            ("TCB_COMPONENT_APPSECRET", emulator::COMPONENT_APPSECRET),
            ("TCB_COMPONENT_VERIFY_TICKET_FILE", "{root}/ticket"),
        ],
        cause: &[
            "cannot read component verify ticket",
            "/ticket: No such file",
        ],
        fix: &["check the path and its permissions"],
        ..ROW
    },
    Case {
        name: "auth: the app secret file is missing",
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_ACCESS_TOKEN", ""),
            ("TCB_COMPONENT_APPID", emulator::COMPONENT_APPID),
            ("TCB_COMPONENT_APPSECRET_FILE", "{root}/appsecret"),
            ("TCB_COMPONENT_VERIFY_TICKET", emulator::VERIFY_TICKET),
        ],
        cause: &["invalid component_appsecret_file", "cannot be read"],
        fix: &["check the path and its permissions"],
        ..ROW
    },
    Case {
        name: "auth: envs without the authorizer token",
        args: &["envs"],
        cause: &["`envs` needs the merchant's authorizer token"],
        fix: &["set TCB_AUTHORIZER_ACCESS_TOKEN"],
        ..ROW
    },
    Case {
        name: "auth: a fixed token that is refused",
        against: Against::Deployed,
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_COMPONENT_APPID", ""),
            ("TCB_COMPONENT_APPSECRET", ""),
            ("TCB_COMPONENT_VERIFY_TICKET", ""),
            ("TCB_AUTHORIZER_APPID", ""),
            ("TCB_AUTHORIZER_REFRESH_TOKEN", ""),
            ("TCB_ACCESS_TOKEN", "not-a-real-token"),
        ],
        exit: 3,
        cause: &[
            "the access token from TCB_ACCESS_TOKEN was refused",
            "errcode 40014",
        ],
        fix: &["supply a fresh token"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "auth: a stale verify ticket",
        against: Against::Deployed,
        args: &["status", "--env", "site"],
        vars: &[("TCB_COMPONENT_VERIFY_TICKET", "stale-ticket")],
        exit: 3,
        cause: &[
            "could not obtain the component access token",
            "errcode 61006",
        ],
        fix: &["check that the service writing the ticket file is running"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "auth: a token file others can read",
        against: Against::Deployed,
        prepare: |r| secret_file(r, "token", emulator::DEV_ACCESS_TOKEN, 0o644),
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_COMPONENT_APPID", ""),
            ("TCB_COMPONENT_APPSECRET", ""),
            ("TCB_COMPONENT_VERIFY_TICKET", ""),
            ("TCB_AUTHORIZER_APPID", ""),
            ("TCB_AUTHORIZER_REFRESH_TOKEN", ""),
            ("TCB_TOKEN_FILE", "{root}/token"),
        ],
        exit: 0,
        says: Says::Warning("/token"),
        cause: &["token_file is readable by group or others"],
        fix: &["restrict it with chmod 600"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "auth: a verify ticket file others can read",
        against: Against::Deployed,
        prepare: |r| secret_file(r, "ticket", emulator::VERIFY_TICKET, 0o640),
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_COMPONENT_VERIFY_TICKET", ""),
            ("TCB_COMPONENT_VERIFY_TICKET_FILE", "{root}/ticket"),
        ],
        exit: 0,
        says: Says::Warning("/ticket"),
        cause: &["component verify ticket is readable by group or others"],
        fix: &["restrict it with chmod 600"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "auth: an app secret file others can read",
        against: Against::Deployed,
        prepare: |r| secret_file(r, "appsecret", emulator::COMPONENT_APPSECRET, 0o604),
        args: &["status", "--env", "site"],
        vars: &[
            ("TCB_COMPONENT_APPSECRET", ""),
            ("TCB_COMPONENT_APPSECRET_FILE", "{root}/appsecret"),
        ],
        exit: 0,
        says: Says::Warning("/appsecret"),
        cause: &["component_appsecret_file is readable by group or others"],
        fix: &["restrict it with chmod 600"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "auth: a refresh token file others can read",
        against: Against::Deployed,
        prepare: |r| secret_file(r, "refresh", emulator::AUTHORIZER_REFRESH_TOKEN, 0o644),
        args: &["envs"],
        vars: &[
            ("TCB_AUTHORIZER_REFRESH_TOKEN", ""),
            ("TCB_AUTHORIZER_REFRESH_TOKEN_FILE", "{root}/refresh"),
        ],
        exit: 0,
        says: Says::Warning("/refresh"),
        cause: &["authorizer refresh token is readable by group or others"],
        fix: &["restrict it with chmod 600"],
        sent: Sent::Any,
        ..ROW
    },
    // ── What the service has, or has not ─────────────────────────────────────────────────
    Case {
        name: "service: no static website yet",
        against: Against::Deployed,
        args: &["status", "--env", "nosite"],
        cause: &["environment nosite has no static website"],
        fix: &["open one with `tcb-deploy create --env nosite`"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "service: a deploy where there is no static website yet",
        against: Against::Deployed,
        args: &["deploy", "--env", "nosite", "--dir", "{root}/site"],
        cause: &["environment nosite has no static website"],
        fix: &["open one with `tcb-deploy create --env nosite`"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "service: no cloud development for the environment",
        against: Against::Deployed,
        then: |h| h.emulator.add_env_without_cloud_dev("site"),
        args: DEPLOY,
        exit: 3,
        cause: &["componenttcb/describestaticstore answered errcode 85088"],
        fix: &["open cloud development for the mini program"],
        sent: Sent::Links(0),
        ..ROW
    },
    Case {
        name: "service: one appid of two refused",
        against: Against::Deployed,
        args: &[
            "share",
            "--env",
            "site",
            "--appid",
            "wx0123456789abcdef",
            "--appid",
            "wxnothex",
        ],
        exit: 1,
        cause: &["1 of 2 appids not shared", "wxnothex: invalid appid"],
        fix: &["check the appids and share again"],
        sent: Sent::Any,
        ..ROW
    },
    // ── Answers of the API ───────────────────────────────────────────────────────────────
    Case {
        name: "api: nothing listens",
        args: &["status", "--env", "site"],
        vars: &[("TCB_API_BASE", "http://127.0.0.1:1")],
        exit: 4,
        cause: &[
            "componenttcb/describestaticstore could not be reached",
            "connection failed",
        ],
        fix: &["check the network and api_base"],
        ..ROW
    },
    Case {
        name: "api: an HTML page from a proxy",
        against: Against::Api(
            502,
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &[
            "answered HTTP 502 with a body that is not JSON",
            "<h1>502 Bad Gateway</h1>",
        ],
        fix: &["check api_base and any proxy in between"],
        sent: Sent::Requests(10),
        ..ROW
    },
    Case {
        name: "api: an empty body",
        against: Against::Api(200, "application/json", ""),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &["answered HTTP 200 with a body that is not JSON (\"\")"],
        fix: &["check api_base and any proxy in between"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "api: truncated JSON",
        against: Against::Api(
            200,
            "application/json",
            r#"{"errcode":0,"Data":[{"env":"si"#,
        ),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &[
            "not JSON",
            "{\\\"errcode\\\":0,\\\"Data\\\":[{\\\"env\\\":\\\"si",
        ],
        fix: &["check api_base and any proxy in between"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "api: JSON that is not an object",
        against: Against::Api(200, "application/json", "[1,2,3]"),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &["unexpected shape", "expected a JSON object, got [1,2,3]"],
        fix: &["please report it"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "api: a field of the wrong type",
        against: Against::Api(200, "application/json", r#"{"errcode":0,"data":"oops"}"#),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &["componenttcb/describestaticstore answered JSON of an unexpected shape"],
        fix: &["the API may have changed, please report it"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "api: an errcode that is not a number",
        against: Against::Api(
            200,
            "application/json",
            r#"{"errcode":"busy","errmsg":"x"}"#,
        ),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &["errcode is not a number: \"busy\""],
        fix: &["please report it"],
        sent: Sent::Any,
        ..ROW
    },
    Case {
        name: "api: a huge errmsg with line breaks",
        against: Against::Api(
            200,
            "application/json",
            r#"{"errcode":45009,"errmsg":"{huge}"}"#,
        ),
        args: &["status", "--env", "site"],
        exit: 4,
        cause: &["errcode 45009 (over quota\\r\\nover quota", "…)"],
        fix: &["the daily API quota is used up; wait until tomorrow"],
        sent: Sent::Any,
        ..ROW
    },
    // ── Answers of the upload store ──────────────────────────────────────────────────────
    Case {
        name: "store: a signed_url that is not http(s)",
        prepare: site,
        against: Against::Store {
            list: EMPTY_LIST,
            link: r#"{"errcode":0,"signed_url":"ftp://{addr}/b/app.js?sign=q-signature%3Ddeadbeef","token":"t"}"#,
            put: (200, "", ""),
        },
        args: DEPLOY,
        exit: 1,
        cause: &["signed_url is not an http(s) URL", "sign=[redacted]"],
        fix: &["please report it", "deploy again"],
        sent: Sent::Links(1),
        hidden: &["deadbeef"],
        ..ROW
    },
    Case {
        name: "store: an upload link without its token",
        prepare: site,
        against: Against::Store {
            list: EMPTY_LIST,
            link: r#"{"errcode":0,"signed_url":"http://{addr}/b/app.js"}"#,
            put: (200, "", ""),
        },
        args: DEPLOY,
        exit: 1,
        cause: &["unexpected shape", "missing field `token`"],
        fix: &["please report it"],
        sent: Sent::Links(1),
        ..ROW
    },
    Case {
        name: "store: a PUT answered with garbage",
        prepare: site,
        against: Against::Store {
            list: EMPTY_LIST,
            link: GOOD_LINK,
            put: (400, "Content-Type: text/plain", "garbage\u{0}\u{7}"),
        },
        args: DEPLOY,
        exit: 1,
        cause: &[
            "upload answered HTTP 400 with an unexpected body",
            "garbage\\\\u{0}\\\\u{7}",
        ],
        fix: &["fix that and deploy again"],
        sent: Sent::Links(1),
        ..ROW
    },
    Case {
        name: "store: a PUT refused",
        prepare: site,
        against: Against::Store {
            list: EMPTY_LIST,
            link: GOOD_LINK,
            put: (
                403,
                "Content-Type: application/xml",
                "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>",
            ),
        },
        args: DEPLOY,
        exit: 1,
        cause: &["upload refused: HTTP 403 AccessDenied (Access Denied.)"],
        fix: &["fix that and deploy again"],
        sent: Sent::Links(1),
        ..ROW
    },
    Case {
        name: "store: an ETag that is not the MD5 sent",
        prepare: site,
        against: Against::Store {
            list: EMPTY_LIST,
            link: GOOD_LINK,
            put: (200, "ETag: \"00000000000000000000000000000000\"", ""),
        },
        args: DEPLOY,
        exit: 1,
        cause: &["does not match the MD5 of the bytes sent (gave up after 10 tries)"],
        fix: &["fix that and deploy again"],
        sent: Sent::Links(10),
        ..ROW
    },
    Case {
        name: "store: a listing that never ends",
        prepare: site,
        against: Against::Store {
            list: r#"{"errcode":0,"contents":[],"is_truncated":true}"#,
            link: GOOD_LINK,
            put: (200, "", ""),
        },
        args: DEPLOY,
        exit: 4,
        cause: &["the listing says it is truncated but gives no way forward"],
        fix: &["please report it"],
        sent: Sent::Links(0),
        ..ROW
    },
    // ── The emulator ─────────────────────────────────────────────────────────────────────
    Case {
        name: "emulator: the address is taken",
        args: &["emulator", "--addr", "{api}", "--data", "{root}/emulator"],
        cause: &["cannot listen on 127.0.0.1:", "Address already in use"],
        fix: &["pick another --addr or emulator_addr"],
        ..ROW
    },
    Case {
        name: "emulator: an address this machine does not have",
        args: &[
            "emulator",
            "--addr",
            "192.0.2.1:0",
            "--data",
            "{root}/emulator",
        ],
        cause: &["cannot listen on 192.0.2.1:0"],
        fix: &["pick another --addr or emulator_addr"],
        ..ROW
    },
    Case {
        name: "emulator: the data folder is a file",
        prepare: |r| write(r, "emulator", "not a folder"),
        args: &[
            "emulator",
            "--addr",
            "127.0.0.1:0",
            "--data",
            "{root}/emulator",
        ],
        cause: &["cannot create", "/emulator/", "Not a directory"],
        fix: &["choose another folder (--data"],
        ..ROW
    },
    Case {
        name: "emulator: an unreadable state file",
        prepare: |r| write(r, "emulator/stores.json", "{ not json"),
        args: &[
            "emulator",
            "--addr",
            "127.0.0.1:0",
            "--data",
            "{root}/emulator",
        ],
        cause: &["emulator state file", "stores.json is unreadable"],
        fix: &["remove it or choose another folder (--data"],
        ..ROW
    },
    // ── Every errcode of the API pages ───────────────────────────────────────────────────
    // A busy service is tried ten times (`retry_attempts`' default) before the user is told.
    Case {
        sent: Sent::Requests(10),
        ..errcode(
            "errcode -1 (busy)",
            r#"{"errcode":-1,"errmsg":"canned message"}"#,
            4,
            &["errcode -1 (canned message)"],
            &["try again later"],
        )
    },
    Case {
        sent: Sent::Requests(10),
        ..errcode(
            "errcode -1000 (system error)",
            r#"{"errcode":-1000,"errmsg":"canned message"}"#,
            4,
            &["errcode -1000 (canned message)"],
            &["try again later"],
        )
    },
    errcode(
        "errcode 40001 (invalid credential)",
        r#"{"errcode":40001,"errmsg":"canned message"}"#,
        3,
        &["errcode 40001 (canned message)"],
        &["supply a fresh token"],
    ),
    errcode(
        "errcode 40014 (invalid token)",
        r#"{"errcode":40014,"errmsg":"canned message"}"#,
        3,
        &["errcode 40014 (canned message)"],
        &["supply a fresh token"],
    ),
    errcode(
        "errcode 42001 (token expired)",
        r#"{"errcode":42001,"errmsg":"canned message"}"#,
        3,
        &["errcode 42001 (canned message)"],
        &["supply a fresh token"],
    ),
    errcode(
        "errcode 40097 (invalid argument)",
        r#"{"errcode":40097,"errmsg":"canned message"}"#,
        2,
        &["errcode 40097 (canned message)", "rejected an argument"],
        &["check the env id and file names"],
    ),
    errcode(
        "errcode 40101 (missing parameter)",
        r#"{"errcode":40101,"errmsg":"canned message"}"#,
        2,
        &[
            "errcode 40101 (canned message)",
            "required argument was missing",
        ],
        &["check the command line"],
    ),
    errcode(
        "errcode 41001 (token missing)",
        r#"{"errcode":41001,"errmsg":"canned message"}"#,
        3,
        &["errcode 41001 (canned message)", "no access token was sent"],
        &["configure a token source"],
    ),
    errcode(
        "errcode 43002 (POST required)",
        r#"{"errcode":43002,"errmsg":"canned message"}"#,
        4,
        &[
            "errcode 43002 (canned message)",
            "could not read the request",
        ],
        &["bug in tcb-deploy, please report it"],
    ),
    errcode(
        "errcode 44002 (empty body)",
        r#"{"errcode":44002,"errmsg":"canned message"}"#,
        4,
        &["errcode 44002 (canned message)"],
        &["bug in tcb-deploy, please report it"],
    ),
    errcode(
        "errcode 45009 (daily quota)",
        r#"{"errcode":45009,"errmsg":"canned message"}"#,
        4,
        &[
            "errcode 45009 (canned message)",
            "daily API quota is used up",
        ],
        &["wait until tomorrow or ask WeChat for a higher quota"],
    ),
    errcode(
        "errcode 47001 (body not JSON)",
        r#"{"errcode":47001,"errmsg":"canned message"}"#,
        4,
        &["errcode 47001 (canned message)"],
        &["bug in tcb-deploy, please report it"],
    ),
    errcode(
        "errcode 61004 (IP not whitelisted)",
        r#"{"errcode":61004,"errmsg":"canned message"}"#,
        3,
        &["errcode 61004 (canned message)"],
        &["add this machine's public IP to the third-party platform's IP whitelist"],
    ),
    errcode(
        "errcode 61005 (ticket expired)",
        r#"{"errcode":61005,"errmsg":"canned message"}"#,
        3,
        &["errcode 61005 (canned message)", "verify ticket is stale"],
        &["check that the service writing the ticket file is running"],
    ),
    errcode(
        "errcode 61006 (ticket invalid)",
        r#"{"errcode":61006,"errmsg":"canned message"}"#,
        3,
        &["errcode 61006 (canned message)", "verify ticket is stale"],
        &["check that the service writing the ticket file is running"],
    ),
    // ── The third-party platform's codes (the public SDKs' tables) ───────────────────────
    errcode(
        "errcode 40013 (invalid appid)",
        r#"{"errcode":40013,"errmsg":"canned message"}"#,
        3,
        &["errcode 40013 (canned message)", "app id was refused"],
        &["check TCB_COMPONENT_APPID"],
    ),
    errcode(
        "errcode 40066 (invalid url)",
        r#"{"errcode":40066,"errmsg":"canned message"}"#,
        2,
        &["errcode 40066 (canned message)", "does not know this URL"],
        &["check api_base"],
    ),
    errcode(
        "errcode 40125 (invalid app secret)",
        r#"{"errcode":40125,"errmsg":"canned message"}"#,
        3,
        &["errcode 40125 (canned message)", "app secret was refused"],
        &["check TCB_COMPONENT_APPSECRET"],
    ),
    errcode(
        "errcode 41002 (appid missing)",
        r#"{"errcode":41002,"errmsg":"canned message"}"#,
        3,
        &["errcode 41002 (canned message)", "no app id was sent"],
        &["set TCB_COMPONENT_APPID"],
    ),
    errcode(
        "errcode 41004 (app secret missing)",
        r#"{"errcode":41004,"errmsg":"canned message"}"#,
        3,
        &["errcode 41004 (canned message)", "no app secret was sent"],
        &["set TCB_COMPONENT_APPSECRET"],
    ),
    errcode(
        "errcode 48001 (api unauthorized)",
        r#"{"errcode":48001,"errmsg":"canned message"}"#,
        3,
        &["errcode 48001 (canned message)", "may not call this API"],
        &["holds the permission for it"],
    ),
    errcode(
        "errcode 48004 (api blocked)",
        r#"{"errcode":48004,"errmsg":"canned message"}"#,
        3,
        &["errcode 48004 (canned message)", "blocked this API"],
        &["see the notice in the open platform's console"],
    ),
    errcode(
        "errcode 61003 (component not authorized)",
        r#"{"errcode":61003,"errmsg":"canned message"}"#,
        3,
        &[
            "errcode 61003 (canned message)",
            "has not authorised this third-party platform",
        ],
        &["have the merchant's admin authorise it again"],
    ),
    errcode(
        "errcode 61007 (api unauthorized to component)",
        r#"{"errcode":61007,"errmsg":"canned message"}"#,
        3,
        &[
            "errcode 61007 (canned message)",
            "set 18",
            "set 49 or 64 for tcb/getenvinfo",
        ],
        &["ask the merchant's admin to grant it"],
    ),
    errcode(
        "errcode 61011 (invalid component)",
        r#"{"errcode":61011,"errmsg":"canned message"}"#,
        3,
        &[
            "errcode 61011 (canned message)",
            "third-party platform was refused",
        ],
        &["check TCB_COMPONENT_APPID"],
    ),
    errcode(
        "errcode 61014 (component token required)",
        r#"{"errcode":61014,"errmsg":"canned message"}"#,
        3,
        &[
            "errcode 61014 (canned message)",
            "a merchant's (authorizer) token was given",
        ],
        &["set TCB_ACCESS_TOKEN to the component_access_token"],
    ),
    // An unknown code is tried three times, then reported as it came: neither busy nor a bug.
    Case {
        sent: Sent::Requests(3),
        ..errcode(
            "errcode unknown to the table",
            r#"{"errcode":99999,"errmsg":"canned message"}"#,
            4,
            &["errcode 99999 (canned message)", "unknown to tcb-deploy"],
            &["please report it"],
        )
    },
    errcode(
        "errcode 85088 (no cloud development)",
        r#"{"errcode":85088,"errmsg":"canned message"}"#,
        3,
        &[
            "errcode 85088 (canned message)",
            "no cloud-development privilege",
        ],
        &["open cloud development for the mini program"],
    ),
];

/// Each row is a test of its own (`cargo test --test catalogue ROW` runs the rows whose name
/// holds ROW), beside two checks of the table and the defaults.
fn main() -> std::process::ExitCode {
    let mut args = libtest_mimic::Arguments::from_args();
    // A row mostly waits on a child process or on the backoff of retries, not on a core.
    args.test_threads.get_or_insert(6);
    let runtime = std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime"),
    );
    let mut trials = vec![
        Trial::test("the catalogue: rows have distinct names", || {
            let mut names: Vec<&str> = CATALOGUE.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            match names.len() == CATALOGUE.len() && CATALOGUE.len() >= 40 {
                true => Ok(()),
                false => {
                    Err(format!("{} rows, {} distinct names", CATALOGUE.len(), names.len()).into())
                }
            }
        }),
        Trial::test(
            "the emulator listens on loopback unless told otherwise",
            || {
                let config =
                    tcb_deploy::config::Config::load(None, &BTreeMap::new(), Default::default())
                        .map_err(|e| format!("the defaults do not load: {e}"))?;
                match config.emulator_addr.ip().is_loopback() {
                    true => Ok(()),
                    false => Err(format!("{config:?}").into()),
                }
            },
        ),
    ];
    trials.extend(CATALOGUE.iter().map(|case| {
        let runtime = std::sync::Arc::clone(&runtime);
        Trial::test(case.name, move || {
            let problems = runtime.block_on(check(case));
            match problems.is_empty() {
                true => Ok(()),
                false => Err(problems.join("\n").into()),
            }
        })
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// Runs one case; returns what is wrong with it.
async fn check(case: &'static Case) -> Vec<String> {
    let mut problems = Vec::new();
    let root = tempfile::tempdir().expect("temp dir");
    let root = root.path();
    let service = match Service::start(case, root).await {
        Ok(service) => service,
        Err(problem) => return vec![problem],
    };
    if let Service::Emulator { h, .. } = &service {
        (case.then)(h);
    }
    (case.prepare)(root);

    let expand = |text: &str| {
        text.replace("{root}", &root.display().to_string())
            .replace("{api}", &service.addr())
    };
    let args: Vec<String> = case.args.iter().map(|a| expand(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut vars = service.vars(root);
    for (key, value) in case.vars {
        vars.retain(|(k, _)| k != key);
        if !value.is_empty() {
            vars.push((key.to_string(), expand(value)));
        }
    }
    // Without it a command would go to the real service.
    assert!(
        vars.iter().any(|(k, _)| k == "TCB_API_BASE"),
        "{}: no TCB_API_BASE",
        case.name
    );
    let before = service.seen();
    let run = tokio::time::timeout(common::daemon::DEADLINE, run_tool(&args, &vars)).await;
    let Ok(run) = run else {
        return vec![format!(
            "still running after {:?}",
            common::daemon::DEADLINE
        )];
    };
    let sent = service.seen().since(&before);
    let output = run.output();
    let shown = || format!("\n  stdout: {:?}\n  stderr: {:?}", run.stdout, run.stderr);

    if run.code != case.exit {
        problems.push(format!(
            "exit code {}, not {}{}",
            run.code,
            case.exit,
            shown()
        ));
    }
    if output.contains("panicked") || output.contains("RUST_BACKTRACE") {
        problems.push(format!("panicked{}", shown()));
    }
    match case.says {
        Says::Error => {
            let errors: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("error: "))
                .collect();
            let last = run.stderr.lines().rev().find(|l| !l.trim().is_empty());
            match errors.as_slice() {
                [line] if last == Some(*line) => problems.extend(says(case, line)),
                _ => problems.push(format!(
                    "not one `error:` line, last on standard error{}",
                    shown()
                )),
            }
        }
        Says::Warning(naming) => {
            let warning = run
                .stderr
                .lines()
                .find(|l| l.contains(" WARN ") && l.contains(naming));
            match warning {
                Some(line) => problems.extend(says(case, line)),
                None => problems.push(format!("no warning naming {naming:?}{}", shown())),
            }
            if run.stderr.contains("error: ") {
                problems.push(format!("an error line for a warning{}", shown()));
            }
        }
    }
    let mut secrets: Vec<String> = vars
        .iter()
        .filter(|(k, _)| ["TOKEN", "SECRET", "TICKET"].iter().any(|s| k.contains(s)))
        .filter(|(k, _)| !k.ends_with("_FILE") && !k.ends_with("_COMMAND"))
        .map(|(_, v)| v.clone())
        .collect();
    secrets.extend(case.hidden.iter().map(|h| h.to_string()));
    secrets.extend(service.issued_credentials());
    for secret in secrets {
        if output.contains(&secret) {
            problems.push(format!("printed the secret {secret:?}{}", shown()));
        }
    }
    match case.sent {
        Sent::Nothing if sent.requests > 0 => problems.push(format!(
            "{} requests were sent; none should be",
            sent.requests
        )),
        Sent::Links(n) if sent.links != n => {
            problems.push(format!("{} upload links asked, not {n}", sent.links));
        }
        Sent::Requests(n) if sent.requests != n => {
            problems.push(format!("{} requests, not {n}", sent.requests));
        }
        _ => {}
    }
    problems.extend(service.kept(case, root, run.code));
    problems
}

/// What is wrong with the line the user is shown.
fn says(case: &Case, line: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for part in case.cause.iter().chain(case.fix) {
        if !line.contains(part) {
            problems.push(format!("the line does not say {part:?}: {line:?}"));
        }
    }
    if line.chars().count() > 600 {
        problems.push(format!(
            "the line is {} characters long",
            line.chars().count()
        ));
    }
    problems
}

/// What a case's command talks to.
enum Service {
    Canned(Canned),
    Emulator { h: Harness, before: Deployed },
}

/// What was online and recorded before the run.
struct Deployed {
    objects: Vec<(String, Vec<u8>)>,
    manifests: BTreeMap<PathBuf, Vec<u8>>,
}

/// Requests a service had seen.
#[derive(Clone, Copy)]
struct Seen {
    requests: u64,
    links: u64,
}

impl Seen {
    fn since(self, before: &Seen) -> Seen {
        Seen {
            requests: self.requests - before.requests,
            links: self.links - before.links,
        }
    }
}

impl Service {
    async fn start(case: &Case, root: &Path) -> Result<Service, String> {
        let canned = match case.against {
            Against::Nobody => {
                let refusal = Answer::new(500, "text/plain", "this input should send nothing");
                Canned::start(&[], refusal).await
            }
            Against::Api(status, content_type, body) => {
                let body = body.replace("{huge}", &"over quota\\r\\n".repeat(8000));
                Canned::start(&[], Answer::new(status, content_type, &body)).await
            }
            Against::Store { list, link, put } => {
                let (status, header, body) = put;
                let put = Answer {
                    status,
                    headers: Vec::new(),
                    body: body.to_owned(),
                };
                let put = if header.is_empty() {
                    put
                } else {
                    put.header(header)
                };
                let routes = [
                    (
                        "POST /componenttcb/describestaticstore",
                        Answer::json(
                            r#"{"errcode":0,"Data":[{"env":"site","domain":"site.example.com","bucket":"b","regoin":"r","status":"online"}]}"#,
                        ),
                    ),
                    ("POST /componenttcb/staticfilelist", Answer::json(list)),
                    ("POST /componenttcb/staticuploadfile", Answer::json(link)),
                    ("PUT ", put),
                ];
                let unknown = Answer::json(r#"{"errcode":43002,"errmsg":"not faked"}"#);
                Canned::start(&routes, unknown).await
            }
            Against::Deployed => return Service::deployed(root).await,
        };
        Ok(Service::Canned(canned))
    }

    /// The emulator with the site deployed once.
    async fn deployed(root: &Path) -> Result<Service, String> {
        let h = Harness::start().await;
        h.create_store("site").await;
        site(root);
        let vars = emulator_vars(&h, root);
        let dir = root.join("site").display().to_string();
        let run = run_tool(&["deploy", "--env", "site", "--dir", &dir], &vars).await;
        if run.code != 0 {
            return Err(format!("the first deploy failed: {run:?}"));
        }
        let objects = SITE
            .iter()
            .map(|(key, _)| {
                let bytes = h.emulator.object("site", key).map(|o| o.bytes);
                (key.to_string(), bytes.unwrap_or_default())
            })
            .collect();
        let manifests = file_bytes_below(&root.join("state/manifests"));
        if manifests.is_empty() {
            return Err("the first deploy left no manifest".to_owned());
        }
        let before = Deployed { objects, manifests };
        Ok(Service::Emulator { h, before })
    }

    fn addr(&self) -> String {
        match self {
            Service::Canned(c) => c.addr.to_string(),
            Service::Emulator { h, .. } => h.emulator.addr().to_string(),
        }
    }

    fn vars(&self, root: &Path) -> Vec<(String, String)> {
        let state = root.join("state").display().to_string();
        match self {
            Service::Canned(c) => common::vars(&[
                ("TCB_API_BASE", &format!("http://{}", c.addr)),
                ("TCB_ACCESS_TOKEN", "canned-token"),
                ("TCB_STATE_DIR", &state),
            ]),
            Service::Emulator { h, .. } => emulator_vars(h, root),
        }
    }

    fn seen(&self) -> Seen {
        match self {
            Service::Canned(c) => Seen {
                requests: c.requests().len() as u64,
                links: c.count("POST /componenttcb/staticuploadfile") as u64,
            },
            Service::Emulator { h, .. } => {
                let counters = h.emulator.counters();
                Seen {
                    requests: counters.api_calls.values().sum::<u64>() + counters.puts,
                    links: h.api_calls("componenttcb/staticuploadfile"),
                }
            }
        }
    }

    fn issued_credentials(&self) -> Vec<String> {
        match self {
            Service::Canned(_) => ["feedface", "fake-cos-token"].map(String::from).to_vec(),
            Service::Emulator { h, .. } => h.emulator.issued_credentials(),
        }
    }

    /// What is wrong with what was deployed before the run, after it.
    fn kept(&self, case: &Case, root: &Path, code: i32) -> Vec<String> {
        let Service::Emulator { h, before } = self else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        for (key, bytes) in &before.objects {
            let now = h.emulator.object("site", key).map(|o| o.bytes);
            if now.as_ref() != Some(bytes) {
                problems.push(format!("{key} is no longer online as deployed"));
            }
        }
        for key in case.absent {
            if h.emulator.object("site", key).is_some() {
                problems.push(format!("{key:?} was uploaded"));
            }
        }
        if code == 0 || code == 1 {
            // The run went on: the manifest may have changed, but still records every file.
            let store = ManifestStore::new(&root.join("state"), "site", "");
            match store.load() {
                Ok(manifest) => {
                    for (key, _) in SITE {
                        if !manifest.files.contains_key(key) {
                            problems.push(format!("the manifest lost {key}"));
                        }
                    }
                }
                Err(e) => problems.push(format!("the manifest cannot be read: {e}")),
            }
        } else if file_bytes_below(&root.join("state/manifests")) != before.manifests {
            problems.push("the manifest changed".to_owned());
        }
        problems
    }
}

/// The harness's variables, with the state folder in the case's folder.
fn emulator_vars(h: &Harness, root: &Path) -> Vec<(String, String)> {
    let mut vars = h.vars();
    vars.retain(|(k, _)| k != "TCB_STATE_DIR");
    vars.push((
        "TCB_STATE_DIR".into(),
        root.join("state").display().to_string(),
    ));
    vars
}

/// Every readable file below `dir` and its bytes.
fn file_bytes_below(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    common::files_below(dir)
        .into_iter()
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}

// ── What cases put in their folder ──────────────────────────────────────────────────────

fn nothing(_: &Path) {}

fn as_is(_: &Harness) {}

fn site(root: &Path) {
    for (key, text) in SITE {
        write(root, &format!("site/{key}"), text);
    }
}

fn write(root: &Path, relative: &str, text: &str) {
    common::write_files(root, [(relative, text)]);
}

fn config(root: &Path, text: &str) {
    write(root, "c.toml", text);
}

fn mkdir(root: &Path, relative: &str) {
    std::fs::create_dir_all(root.join(relative)).expect("mkdir");
}

fn link(root: &Path, relative: &str, target: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, path).expect("symlink");
}

/// A file whose name is given as bytes (not necessarily UTF-8).
fn write_bytes_name(root: &Path, relative: &[u8], text: &str) {
    use std::os::unix::ffi::OsStrExt;
    common::write_files(root, [(std::ffi::OsStr::from_bytes(relative), text)]);
}

fn fifo(root: &Path, relative: &str) {
    let status = std::process::Command::new("mkfifo")
        .arg(root.join(relative))
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo");
}

/// A file of `size` bytes that takes no disk space.
fn sparse(root: &Path, relative: &str, size: u64) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    file.set_len(size).expect("set_len");
}

/// A file holding a secret, with these permissions.
/// A file holding `value` and a line break, with permissions `mode`.
fn secret_file(root: &Path, name: &str, value: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(name);
    std::fs::write(&path, format!("{value}\n")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
