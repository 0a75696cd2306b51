//! Replays the committed inputs of the `api_requests` fuzz target (`fuzz/corpus/api_requests/`
//! and `fuzz/regressions/api_requests/`) through the target's body: none may panic.
//! Runs on stable with plain `cargo test`; `scripts/fuzz.sh` does the fuzzing.

#[test]
fn api_requests_inputs_do_not_panic() {
    quiver_core::fuzzing::replay_corpus("api_requests", quiver_server::fuzzing::api_requests);
}
