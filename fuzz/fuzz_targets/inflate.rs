#![no_main]
// The body is wsrs::fuzzing::inflate (src/fuzzing.rs), which the corpus replay
// test also runs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsrs::fuzzing::inflate(data));
