//! Answers of the upload store and the links to it: a link that is no http(s) URL or lacks its
//! token, a PUT refused or answered with garbage, a wrong ETag, a listing that never ends.

use crate::case::{Against, Case, DEPLOY, EMPTY_LIST, GOOD_LINK, ROW, Sent};
use crate::prepare::site;

pub const ROWS: &[Case] = &[
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
        sent: Sent::LinksAtMost(2),
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
        sent: Sent::LinksAtMost(2),
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
        sent: Sent::Links(2),
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
        sent: Sent::Links(2),
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
        sent: Sent::Links(11),
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
];
