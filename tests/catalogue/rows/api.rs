//! Answers of the API that cannot be used: nothing listening, HTML or an empty body, JSON cut
//! short or of the wrong shape, a huge errmsg.

use crate::case::{Against, Case, ROW, Sent};

pub const ROWS: &[Case] = &[
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
];
