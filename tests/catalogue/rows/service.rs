//! What the service has, or has not: no static website, no cloud development, an appid refused.

use crate::case::{Against, Case, DEPLOY, ROW, Sent};

pub const ROWS: &[Case] = &[
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
];
