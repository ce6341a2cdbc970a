//! The third-party platform's codes (the public SDKs' tables), answered to `status`.

use crate::case::{Case, Sent, errcode};

pub const ROWS: &[Case] = &[
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
