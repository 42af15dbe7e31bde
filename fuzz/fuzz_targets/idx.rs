//! Fuzz target `idx`: see `microlearning_fuzz::idx` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = microlearning_fuzz::idx(data);
});
