//! Environment variables: `TCB_*` values out of range or of the wrong kind, token sources that
//! conflict or are missing, and an `api_base` that is refused.

use crate::case::{Case, DEPLOY, ROW};
use tcb_deploy::emulator;

pub const ROWS: &[Case] = &[
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
];
