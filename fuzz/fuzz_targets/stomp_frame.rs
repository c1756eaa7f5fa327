//! STOMP frame decoder: never panics, gives the same frames however the bytes are split, and
//! every decoded frame survives encode + decode (see `realtime::frame::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| alphintra_support::realtime::frame::fuzz_decode(data));
