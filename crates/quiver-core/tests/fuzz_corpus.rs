//! Replays the committed inputs of the `definitions` fuzz target (`fuzz/corpus/definitions/`
//! and `fuzz/regressions/definitions/`) through the target's body: none may panic.
//! Runs on stable with plain `cargo test`; `scripts/fuzz.sh` does the fuzzing.

#[test]
fn definitions_inputs_do_not_panic() {
    quiver_core::fuzzing::replay_corpus("definitions", quiver_core::fuzzing::definitions);
}
