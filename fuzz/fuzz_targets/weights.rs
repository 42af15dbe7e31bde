//! Fuzz target `weights`: see `microlearning_fuzz::weights` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = microlearning_fuzz::weights(data);
});
