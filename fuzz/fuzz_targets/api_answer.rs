//! An answer body, read by one of the API client's parsers: see `tcb_deploy_fuzz::api_answer`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tcb_deploy_fuzz::api_answer(data));
