#!/usr/bin/env bash
# quiver's fuzzing: runs the cargo-fuzz targets of fuzz/ for a while each.
#
#   definitions    feature repo YAML: quiver.yaml and definitions files, parsed and validated
#   api_requests   the JSON bodies of the HTTP API's routes, decoded as the handlers do
#   kafka_message  Kafka message payloads through the ingest's row decoder
#
# Usage: scripts/fuzz.sh [TARGET...]   (default: all three, one after the other)
#
# Per target it prints the runs executed, the corpus size and whether a crash was
# found. New inputs are fuzzed into a working corpus under ~/.cache/quiver (kept
# between runs), then only a minimal set of those that reach new code is merged
# into the committed fuzz/corpus/TARGET/ (libFuzzer's -set_cover_merge=1). The
# dictionaries in fuzz/dicts/ are used. A crash leaves its input in
# fuzz/artifacts/TARGET/ (the path is printed) and the script exits 1; once the
# bug is fixed, copy the input to fuzz/regressions/TARGET/ so that `cargo test`
# (crates' tests/fuzz_corpus.rs) replays it on every run.
#
# cargo-fuzz is installed from crates.io into ~/.cache/quiver/cargo-fuzz on
# first use (a few minutes); the first build of the targets takes longer, tens
# of minutes on 2 cores (the whole dependency tree, instrumented, in release
# mode, in its own target dir); later builds only rebuild what changed.
#
# Environment:
#   FUZZ_SECS       seconds of fuzzing per target (60)
#   FUZZ_SANITIZER  none (default) or address: the code under test is safe Rust
#                   (unsafe_code is forbidden), whose bugs are panics, found without
#                   a sanitizer at about twice the speed; address also hunts memory
#                   errors in dependencies (and rebuilds everything once)
#   FUZZ_MERGE      1 (default): keep new coverage in fuzz/corpus; 0: leave it alone
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (10)
#   QUIVER_FUZZ_TARGET_DIR  the build's target dir ($HOME/.cache/quiver/fuzz-target);
#                   CARGO_TARGET_DIR is ignored: the fuzzing flags would rebuild the
#                   tests' target dir
set -euo pipefail

cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD

STATE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/quiver"
export CARGO_TARGET_DIR="${QUIVER_FUZZ_TARGET_DIR:-$STATE_DIR/fuzz-target}"
FUZZ_SECS="${FUZZ_SECS:-60}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}"
FUZZ_MERGE="${FUZZ_MERGE:-1}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
ALL_TARGETS=(definitions api_requests kafka_message)

CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ_ROOT="$STATE_DIR/cargo-fuzz"
# The working corpora (everything the fuzzer found, kept between runs) and logs.
WORK_DIR="$STATE_DIR/fuzz"

# cargo-fuzz builds with unstable rustc flags (-Zsanitizer, the sancov passes)
# and only stable Rust is installed: RUSTC_BOOTSTRAP=1 lets the stable compiler
# accept them. It affects this script's builds only; the project itself builds
# and tests on plain stable.
export RUSTC_BOOTSTRAP=1
# A panic's backtrace is part of the crash report.
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

die() {
    echo "error: $*" >&2
    exit 1
}

# Runs cargo at low priority: the machine is shared with other builds.
low() { nice -n 15 "$@"; }

ensure_cargo_fuzz() {
    CARGO_FUZZ="$CARGO_FUZZ_ROOT/bin/cargo-fuzz"
    if [[ -x $CARGO_FUZZ ]]; then
        return
    fi
    mkdir -p "$STATE_DIR"
    local log="$STATE_DIR/cargo-fuzz-install.log"
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io, once (log: $log)" >&2
    # Its own temporary target dir: the fuzzing one keeps only the targets.
    if ! env -u CARGO_TARGET_DIR -u RUSTC_BOOTSTRAP nice -n 15 cargo install "cargo-fuzz@$CARGO_FUZZ_VERSION" \
        --locked --root "$CARGO_FUZZ_ROOT" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "installing cargo-fuzz failed (log: $log)"
    fi
}

# cargo fuzz with the options every call shares.
fuzz() {
    local command=$1
    shift
    low "$CARGO_FUZZ" fuzz "$command" --fuzz-dir "$REPO_ROOT/fuzz" --sanitizer "$FUZZ_SANITIZER" "$@"
}

# The value of libFuzzer's final `stat::NAME:` line in a log (empty if absent).
final_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

files_in() { find "$1" -maxdepth 1 -type f ! -name 'README*' | wc -l; }

# run_target NAME: fuzzes one target; returns 1 when it found a crash (or hang).
run_target() {
    local target=$1
    local corpus="$REPO_ROOT/fuzz/corpus/$target"
    local work="$WORK_DIR/corpus/$target"
    local log="$WORK_DIR/logs/$target.log"
    local status=0 start elapsed runs crash
    mkdir -p "$work" "$WORK_DIR/logs" "$REPO_ROOT/fuzz/artifacts/$target"

    local options=(-timeout="$FUZZ_TIMEOUT")
    # The formats' keywords, so mutations reach past the parsers' first checks.
    if [[ -f $REPO_ROOT/fuzz/dicts/$target.dict ]]; then
        options+=(-dict="$REPO_ROOT/fuzz/dicts/$target.dict")
    fi

    echo "== $target: fuzzing for ${FUZZ_SECS}s (log: $log)"
    start=$SECONDS
    # New inputs go to the first directory (the working corpus); the committed
    # corpus seeds the run and is only read.
    fuzz run "$target" "$work" "$corpus" -- \
        -max_total_time="$FUZZ_SECS" -print_final_stats=1 "${options[@]}" \
        >"$log" 2>&1 || status=$?
    elapsed=$((SECONDS - start))
    runs=$(final_stat number_of_executed_units "$log")
    # crash-, timeout-, oom- or leak- inputs (not slow-unit- reports).
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
        grep -E '(^|/)(crash|timeout|oom|leak)-[^/]*$' | tail -n 1 || true)

    if [[ -z $runs && -z $crash ]]; then
        tail -n 30 "$log" >&2
        die "$target: the fuzzer did not run (exit $status; log: $log)"
    fi
    echo "$target: ${runs:-?} runs in ${elapsed}s; working corpus: $(files_in "$work") inputs"

    if [[ $FUZZ_MERGE == 1 ]]; then
        local before
        before=$(files_in "$corpus")
        # Adds to the committed corpus only inputs that reach code it does not:
        # a greedy minimal set (-set_cover_merge, libFuzzer's -merge=1 with a
        # smaller result) over edges alone (-use_counters=0: how often an edge
        # runs does not earn an input its place), preferring small inputs.
        fuzz run "$target" "$corpus" "$work" -- -set_cover_merge=1 -use_counters=0 \
            -timeout="$FUZZ_TIMEOUT" >"$log.merge" 2>&1 || {
            tail -n 20 "$log.merge" >&2
            die "$target: merging into fuzz/corpus/$target failed (log: $log.merge)"
        }
        echo "$target: corpus: fuzz/corpus/$target holds $(files_in "$corpus") inputs ($(($(files_in "$corpus") - before)) new)"
    else
        echo "$target: corpus: fuzz/corpus/$target holds $(files_in "$corpus") inputs (FUZZ_MERGE=0: nothing merged)"
    fi

    if [[ -n $crash ]]; then
        # What failed and where.
        grep -E -m 1 -A 12 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|==ERROR" "$log" >&2 || true
        echo "$target: CRASH found; input: $crash" >&2
        echo "$target: reproduce: RUSTC_BOOTSTRAP=1 $CARGO_FUZZ fuzz run --fuzz-dir fuzz --sanitizer $FUZZ_SANITIZER $target $crash" >&2
        echo "$target: once fixed, copy the input to fuzz/regressions/$target/ (cargo test replays it)" >&2
        return 1
    fi
    if ((status != 0)); then
        tail -n 30 "$log" >&2
        die "$target: the fuzzer failed without leaving a crash input (exit $status; log: $log)"
    fi
    echo "$target: no crash"
}

main() {
    local targets=("$@") target found=()
    if ((${#targets[@]} == 0)); then
        targets=("${ALL_TARGETS[@]}")
    fi
    for target in "${targets[@]}"; do
        case $target in
        -h | --help)
            sed -n '2,/^set -euo/p' "$REPO_ROOT/scripts/fuzz.sh" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        definitions | api_requests | kafka_message) ;;
        *) die "unknown fuzz target \`$target\` (targets: ${ALL_TARGETS[*]})" ;;
        esac
    done
    [[ $FUZZ_SECS =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECS must be a positive number of seconds (got \`$FUZZ_SECS\`)"
    [[ $FUZZ_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "FUZZ_TIMEOUT must be a positive number of seconds (got \`$FUZZ_TIMEOUT\`)"
    case $FUZZ_SANITIZER in none | address) ;; *) die "FUZZ_SANITIZER must be none or address" ;; esac

    ensure_cargo_fuzz
    # The same dependency versions as the main workspace (cargo adds
    # libfuzzer-sys): copied again whenever the workspace's lock file changed.
    if [[ ! -f $REPO_ROOT/fuzz/Cargo.lock || $REPO_ROOT/Cargo.lock -nt $REPO_ROOT/fuzz/Cargo.lock ]]; then
        cp "$REPO_ROOT/Cargo.lock" "$REPO_ROOT/fuzz/Cargo.lock"
    fi
    echo "fuzz: building ${targets[*]} (sanitizer: $FUZZ_SANITIZER; target dir: $CARGO_TARGET_DIR)"
    for target in "${targets[@]}"; do
        fuzz build "$target" || die "building the fuzz target $target failed"
    done

    for target in "${targets[@]}"; do
        run_target "$target" || found+=("$target")
    done
    if ((${#found[@]} > 0)); then
        echo "fuzz: crashes found in: ${found[*]} (inputs in fuzz/artifacts/)" >&2
        exit 1
    fi
    echo "fuzz: no crash in ${targets[*]}"
}

main "$@"
