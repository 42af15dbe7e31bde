//! Fuzz target `trials`: see `microlearning_fuzz::trials` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = microlearning_fuzz::trials(data);
});
