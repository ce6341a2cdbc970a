//! Every errcode of the API pages, answered to `status`: each ends in its exit code and names what
//! to do.

use crate::case::{Case, Sent, errcode};

pub const ROWS: &[Case] = &[
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
];
