//! Replays the committed inputs of the `kafka_message` fuzz target (`fuzz/corpus/kafka_message/`
//! and `fuzz/regressions/kafka_message/`) through the target's body: none may panic.
//! Runs on stable with plain `cargo test`; `scripts/fuzz.sh` does the fuzzing.

#[test]
fn kafka_message_inputs_do_not_panic() {
    quiver_core::fuzzing::replay_corpus("kafka_message", quiver_store::fuzzing::kafka_message);
}
