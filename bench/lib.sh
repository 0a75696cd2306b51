# Shared by the bench scripts: messages and the binaries to measure.
# Sourced with ROOT set to the repository root.

log() { printf '\n== %s\n' "$*"; }
die() {
    printf '%s: %s\n' "$(basename -- "$0")" "$*" >&2
    exit 1
}

# Sets QUIVER_BIN and QUIVER_BENCH_BIN, building the release binaries when they
# are not given.
release_binaries() {
    TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}
    if [[ -z ${QUIVER_BIN:-} || -z ${QUIVER_BENCH_BIN:-} ]]; then
        log "building release binaries into $TARGET_DIR"
        (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked -p quiver -p quiver-bench)
    fi
    QUIVER_BIN=${QUIVER_BIN:-$TARGET_DIR/release/quiver}
    QUIVER_BENCH_BIN=${QUIVER_BENCH_BIN:-$TARGET_DIR/release/quiver-bench}
    [[ -x $QUIVER_BIN ]] || die "no quiver binary at $QUIVER_BIN"
    [[ -x $QUIVER_BENCH_BIN ]] || die "no quiver-bench binary at $QUIVER_BENCH_BIN"
}
