//! Fuzz target `results`: see `microlearning_fuzz::results` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = microlearning_fuzz::results(data);
});
