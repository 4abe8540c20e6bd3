#![no_main]

// See rally_fuzz::check_msgpack_packet for the invariants.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rally_fuzz::check_msgpack_packet(data));
