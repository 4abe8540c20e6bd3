#![no_main]

// See rally_fuzz::check_ws_reader for the input and the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rally_fuzz::check_ws_reader(data));
