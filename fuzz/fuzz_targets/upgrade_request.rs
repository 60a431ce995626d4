#![no_main]
// The body is wsrs::fuzzing::upgrade_request (src/fuzzing.rs), which the corpus replay
// test also runs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wsrs::fuzzing::upgrade_request(data));
