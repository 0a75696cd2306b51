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

# start_quiver_serve REPO LOGFILE ARGS...: `quiver serve` on a free port in the
# background; sets SERVER_PID and URL once it listens, and FLIGHT_URL to its
# Arrow Flight address (printed before URL; empty when it prints none).
start_quiver_serve() {
    local repo=$1 logfile=$2
    shift 2
    QUIVER_LOG=${QUIVER_LOG:-warn} "$QUIVER_BIN" --repo "$repo" serve --port 0 "$@" 2>"$logfile" &
    SERVER_PID=$!
    URL=
    for _ in $(seq 1 300); do
        URL=$(sed -n 's/^quiver: serving on //p' "$logfile" | head -n 1)
        [[ -n $URL ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited (log: $logfile)"
        sleep 0.1
    done
    [[ -n $URL ]] || die "the server did not start (log: $logfile)"
    # shellcheck disable=SC2034 # read by the scripts that source this file
    FLIGHT_URL=$(sed -n 's/^quiver: Arrow Flight on //p' "$logfile" | head -n 1)
}

# make_feast_venv VENV REQUIREMENTS STAMP WANTED: (re)creates Feast's venv from
# the requirements file, as scripts/test.sh does, and writes its stamp.
make_feast_venv() {
    local venv=$1 requirements=$2 stamp=$3 wanted=$4
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3 python3-venv)"
    echo "creating $venv from scripts/requirements-feast.txt (PyPI)"
    rm -rf "$venv"
    mkdir -p "$(dirname -- "$venv")"
    python3 -m venv "$venv" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" ||
        die "could not install scripts/requirements-feast.txt into $venv"
    echo "$wanted" >"$stamp"
}
