#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrohsm_fuzz::p11::keys(data));
