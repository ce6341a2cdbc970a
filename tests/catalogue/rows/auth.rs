//! Credentials: token files and commands that give no token, missing ticket and secret files,
//! refused or stale credentials, and secret files others can read (a warning).

use crate::case::{Against, Case, ROW, Says, Sent};
use crate::prepare::secret_file;
use tcb_deploy::emulator;

pub const ROWS: &[Case] = &[
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
];
