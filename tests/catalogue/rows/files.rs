//! Files in the site folder that cannot be deployed: names no key may hold, symlinks that loop,
//! break or leave the folder, a FIFO, a file over 5 GiB.

use crate::case::{Against, Case, DEPLOY, ROW, Says, Sent};
use crate::prepare::{fifo, link, sparse, write, write_bytes_name};

pub const ROWS: &[Case] = &[
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
];
