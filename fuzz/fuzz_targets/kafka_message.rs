//! Kafka message payloads through the ingest's row decoder. The body is
//! `quiver_store::fuzzing::kafka_message`, which the corpus replay test
//! (`crates/quiver-store/tests/fuzz_corpus.rs`) runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quiver_store::fuzzing::kafka_message(data));
