//! The emulator: an address it cannot listen on, a data folder or state file it cannot use, a
//! fault flag out of range.

use crate::case::{Case, ROW};
use crate::prepare::write;

pub const ROWS: &[Case] = &[
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
    Case {
        name: "emulator: --max-inflight 0",
        args: &[
            "emulator",
            "--addr",
            "127.0.0.1:0",
            "--data",
            "{root}/emulator",
            "--max-inflight",
            "0",
        ],
        cause: &["invalid value '0' for '--max-inflight <N>'"],
        fix: &["0 is not in 1..=100000", "see `tcb-deploy emulator --help`"],
        ..ROW
    },
];
