//! Fuzz target `stimuli`: see `microlearning_fuzz::stimuli` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = microlearning_fuzz::stimuli(data);
});
