//! The text of a config file, read and validated: see `tcb_deploy_fuzz::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tcb_deploy_fuzz::config(data));
