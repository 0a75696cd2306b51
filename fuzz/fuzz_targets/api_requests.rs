//! HTTP request bodies through the JSON decoders of the API's routes. The body is
//! `quiver_server::fuzzing::api_requests`, which the corpus replay test
//! (`crates/quiver-server/tests/fuzz_corpus.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quiver_server::fuzzing::api_requests(data));
