//! A `.deployignore` and config globs, built into rules and matched against paths: see
//! `tcb_deploy_fuzz::ignore_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tcb_deploy_fuzz::ignore_file(data));
