#![no_main]

// See rally_fuzz::check_polling_payload_v3 for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rally_fuzz::check_polling_payload_v3(data));
