//! Feature repo text (`quiver.yaml` and definitions files) through both parsers
//! and the validator. The body is `quiver_core::fuzzing::definitions`, which the
//! corpus replay test (`crates/quiver-core/tests/fuzz_corpus.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quiver_core::fuzzing::definitions(data));
