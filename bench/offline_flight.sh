#!/usr/bin/env bash
# Training sets over the network: quiver's Arrow Flight server (Feast's remote
# offline store protocol and quiver's native call), quiver's HTTP endpoint, and
# Feast's own `feast serve_offline`, on the same data in the same run.
#
#   bench/offline_flight.sh [--scale small|full]
#
#   full  (default): 1M entity rows against 1M feature rows (10k drivers x 100
#                    hourly rows, plus ~0.5% late corrections)
#   small:           10k entity rows against 10k feature rows (100 drivers), a quick check
#
# Each mode gets a fresh server; the client (bench/offline_flight.py) times one
# call, from the first byte sent to the result fully read, and reads the server's
# peak memory (VmHWM) after it. The four answers are checked against each other
# (bench/offline_compare.py). See bench/README.md.
#
# Environment:
#   QUIVER_BIN                  the quiver binary (default $CARGO_TARGET_DIR/release/quiver,
#                               built if absent)
#   QUIVER_DATAGEN_BIN          the data generator (default: quiver-datagen beside QUIVER_BIN)
#   QUIVER_BENCH_DIR            work directory (default /tmp/quiver-bench; this script
#                               uses offline-flight/, replaced on every run)
#   QUIVER_BENCH_TIME_LIMIT     seconds one call may take before its server is stopped
#                               and the mode reported as unfinished (default 1200)
#   QUIVER_BENCH_MAX_SERVER_MIB resident memory past which a server is stopped and
#                               reported as out of memory (default 80% of the memory
#                               available when the run starts)
#   QUIVER_TEST_FEAST_VENV      the venv with feast==0.67.0 (default
#                               $HOME/.cache/quiver/venv-feast, created from
#                               scripts/requirements-feast.txt if absent)
#   CARGO_TARGET_DIR            default $HOME/.cache/quiver/target
set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# The repo is always given with --repo and uses its own SQLite registry.
unset QUIVER_REPO QUIVER_REGISTRY

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}
VENV=${QUIVER_TEST_FEAST_VENV:-$HOME/.cache/quiver/venv-feast}
REQUIREMENTS=$ROOT/scripts/requirements-feast.txt
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/offline-flight
TIME_LIMIT=${QUIVER_BENCH_TIME_LIMIT:-1200}
MAX_SERVER_MIB=${QUIVER_BENCH_MAX_SERVER_MIB:-$(awk '/MemAvailable/ { printf "%d", $2 * 0.8 / 1024 }' /proc/meminfo)}

# Fixed data: the same options always give the same files (as bench/pit_join.sh).
HOURS=100
DATA_END=2024-01-10T00:00:00Z
DATA_SEED=42
ENTITY_SEED=7
TTL_SECONDS=$((2 * 24 * 3600)) # driver_hourly_stats: ttl 2d
VIEW=driver_hourly_stats

MODES=(feast-flight native-flight http feast)
declare -A MODE_LABEL=(
    [feast-flight]="quiver Flight, Feast protocol"
    [native-flight]="quiver Flight, native call"
    [http]="quiver HTTP, Arrow IPC"
    [feast]="Feast serve_offline (file store)"
)

SCALE=full
while (($#)); do
    case $1 in
        --scale)
            (($# >= 2)) || die "--scale needs a value: small or full"
            SCALE=$2
            shift 2
            ;;
        --scale=*)
            SCALE=${1#--scale=}
            shift
            ;;
        -h | --help)
            sed -n '2,31s/^# \{0,1\}//p' "$ROOT/bench/offline_flight.sh"
            exit 0
            ;;
        *) die "unknown argument: $1 (usage: bench/offline_flight.sh [--scale small|full])" ;;
    esac
done
case $SCALE in
    small) DRIVERS=100 ENTITY_ROWS=10000 ;;
    full) DRIVERS=10000 ENTITY_ROWS=1000000 ;;
    *) die "--scale must be small or full, not '$SCALE'" ;;
esac

# --- helpers -------------------------------------------------------------------
run_logged() { # LOG CMD...: CMD's output to LOG, shown on failure
    local logfile=$1
    shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 20 "$logfile" | sed 's/^/    /' >&2
        die "failed: $* (log: $logfile)"
    fi
}
# fdiv A B -> A / B with two decimals (n/a unless both are numbers and B is not 0)
fdiv() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
        printf "%.2f", a / b }'
}
field() { sed -n "s/^$2: //p" "$1" | head -n 1; } # FILE KEY: a `key: value` line's value

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# start_feast_server REPO LOGFILE: `feast serve_offline` on a free port; sets
# SERVER_PID and FLIGHT_URL once it answers.
start_feast_server() {
    local repo=$1 logfile=$2 port
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$VENV/bin/feast" -c "$repo" serve_offline -h 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
    SERVER_PID=$!
    FLIGHT_URL=grpc://127.0.0.1:$port
    "$PY" "$ROOT/bench/offline_flight.py" wait --flight "$FLIGHT_URL" --pid "$SERVER_PID" ||
        die "feast serve_offline did not start (log: $logfile)"
}

# --- prerequisites -------------------------------------------------------------
log "prerequisites"
if [[ -n ${QUIVER_BIN:-} ]]; then
    [[ -x $QUIVER_BIN ]] || die "QUIVER_BIN=$QUIVER_BIN is not an executable file"
else
    QUIVER_BIN=$CARGO_TARGET_DIR/release/quiver
    if [[ ! -x $QUIVER_BIN || ! -x $CARGO_TARGET_DIR/release/quiver-datagen ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo is not installed and $QUIVER_BIN does not exist; install Rust or set QUIVER_BIN"
        echo "building the release binaries (a long build the first time)"
        (cd "$ROOT" && cargo build --release --locked -p quiver -p quiver-datagen)
    fi
fi
DATAGEN_BIN=${QUIVER_DATAGEN_BIN:-$(dirname -- "$QUIVER_BIN")/quiver-datagen}
[[ -x $DATAGEN_BIN ]] || die "quiver-datagen not found at $DATAGEN_BIN (build it, or set QUIVER_DATAGEN_BIN)"
case $QUIVER_BIN in
    */release/*) BUILD=release ;;
    */debug/*) BUILD=debug ;;
    *) BUILD="unknown profile" ;;
esac

# Feast's venv, made as scripts/test.sh makes it (the same stamp, so either reuses it).
STAMP=$VENV/.requirements.sha256
WANTED=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ -z ${QUIVER_TEST_FEAST_VENV:-} && ! (-x $VENV/bin/feast && -f $STAMP && $(cat "$STAMP") == "$WANTED") ]]; then
    make_feast_venv "$VENV" "$REQUIREMENTS" "$STAMP" "$WANTED"
fi
[[ -x $VENV/bin/feast ]] || die "$VENV has no feast (set QUIVER_TEST_FEAST_VENV to a venv with feast==0.67.0)"
PY=$VENV/bin/python
PY_VERSIONS=$("$PY" -c 'import feast, pyarrow, pandas, platform; print(f"feast {feast.__version__}, pyarrow {pyarrow.__version__}, pandas {pandas.__version__}, python {platform.python_version()}")')

rm -rf -- "$WORK"
mkdir -p "$WORK"
REPO=$WORK/repo
DATA=$REPO/data
FEAST_REPO=$WORK/feast
export QUIVER_FEAST_DATA=$DATA # read by the Feast mirror's definitions.py

echo "quiver:          $QUIVER_BIN ($BUILD build, $("$QUIVER_BIN" --version 2>/dev/null || echo '?'))"
echo "quiver-datagen:  $DATAGEN_BIN"
echo "python side:     $PY_VERSIONS ($VENV)"
echo "machine:         $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "scale:           $SCALE ($ENTITY_ROWS entity rows, $DRIVERS drivers x $HOURS hours of features)"
echo "limits per call: $TIME_LIMIT s, $MAX_SERVER_MIB MiB of server memory"
echo "work dir:        $WORK"
[[ $BUILD == release ]] || echo "NOTE: measuring a $BUILD build of quiver: its times are not representative of a release build."

# --- the data ------------------------------------------------------------------
log "data"
run_logged "$WORK/init.log" "$QUIVER_BIN" init "$REPO" --drivers 1 --customers 1 --hours 1 --days 1
run_logged "$WORK/datagen.log" "$DATAGEN_BIN" --out "$DATA" --drivers "$DRIVERS" \
    --customers 1 --hours "$HOURS" --days 1 --end "$DATA_END" --seed "$DATA_SEED"
run_logged "$WORK/apply.log" "$QUIVER_BIN" --repo "$REPO" apply
read -r START END FEATURE_ROWS < <("$PY" "$ROOT/bench/gen_entities.py" --features "$DATA/driver_stats.parquet" \
    --rows "$ENTITY_ROWS" --seed "$ENTITY_SEED" --out "$WORK/entities.parquet" --print-window 2>"$WORK/entities.log") ||
    die "entity frame generation failed (log: $WORK/entities.log)"
run_logged "$WORK/materialize.log" "$QUIVER_BIN" --repo "$REPO" --json materialize "$START" "$END" --views "$VIEW"
echo "feature rows: $FEATURE_ROWS ($DATA/driver_stats.parquet, materialized into quiver's offline store)"
echo "entity rows:  $ENTITY_ROWS ($WORK/entities.parquet)"

# Feast's mirror of the example repo over the same source file (tests/feast/definitions.py).
mkdir -p "$FEAST_REPO"
cp "$ROOT/tests/feast/definitions.py" "$FEAST_REPO/"
cat >"$FEAST_REPO/feature_store.yaml" <<'EOF'
project: driver_ranking
provider: local
registry: registry.db
online_store: {type: sqlite, path: online.db}
offline_store: {type: file}
entity_key_serialization_version: 3
EOF
run_logged "$WORK/feast-apply.log" "$VENV/bin/feast" -c "$FEAST_REPO" apply

# --- the four modes ------------------------------------------------------------
declare -A STATUS SECS ROWS PEAK IDLE
for mode in "${MODES[@]}"; do
    log "${MODE_LABEL[$mode]}"
    if [[ $mode == feast ]]; then
        start_feast_server "$FEAST_REPO" "$WORK/server-$mode.log"
    else
        start_quiver_serve "$REPO" "$WORK/server-$mode.log" \
            --flight-port 0 --max-entity-rows "$ENTITY_ROWS"
        [[ $mode == http || -n $FLIGHT_URL ]] || die "quiver serve printed no Arrow Flight address (log: $WORK/server-$mode.log)"
    fi
    url=$FLIGHT_URL
    [[ $mode != http ]] || url=$URL
    client_mode=$mode
    [[ $mode != feast ]] || client_mode=feast-flight # Feast's server, Feast's client protocol
    if ! "$PY" "$ROOT/bench/offline_flight.py" call --mode "$client_mode" --url "$url" \
        --entities "$WORK/entities.parquet" --out "$WORK/answer-$mode.parquet" --server-pid "$SERVER_PID" \
        --time-limit "$TIME_LIMIT" --max-server-mib "$MAX_SERVER_MIB" >"$WORK/call-$mode.txt" 2>"$WORK/client-$mode.log"; then
        tail -n 20 "$WORK/client-$mode.log" | sed 's/^/    /' >&2
        die "the client failed (log: $WORK/client-$mode.log)"
    fi
    cat "$WORK/call-$mode.txt"
    stop_server
    STATUS[$mode]=$(field "$WORK/call-$mode.txt" status)
    SECS[$mode]=$(field "$WORK/call-$mode.txt" seconds)
    ROWS[$mode]=$(field "$WORK/call-$mode.txt" rows)
    PEAK[$mode]=$(field "$WORK/call-$mode.txt" server_peak_mib)
    IDLE[$mode]=$(field "$WORK/call-$mode.txt" server_rss_before_mib)
    [[ ${STATUS[$mode]} == ok ]] || echo "logs: $WORK/server-$mode.log, $WORK/client-$mode.log"
done

# --- the answers -----------------------------------------------------------------
log "do the answers agree?"
compare_args=()
compared=()
quiver_answers=0
for mode in "${MODES[@]}"; do
    [[ ${STATUS[$mode]} == ok ]] || continue
    compared+=("${MODE_LABEL[$mode]}")
    if [[ $mode == feast ]]; then
        compare_args+=(--feast "$WORK/answer-$mode.parquet")
    else
        compare_args+=(--quiver "${MODE_LABEL[$mode]}=$WORK/answer-$mode.parquet")
        quiver_answers=$((quiver_answers + 1))
    fi
done
AGREE=n/a
if ((quiver_answers)); then
    "$PY" "$ROOT/bench/offline_compare.py" --entities "$WORK/entities.parquet" \
        --features "$DATA/driver_stats.parquet" --ttl-seconds "$TTL_SECONDS" "${compare_args[@]}" |
        tee "$WORK/compare.txt"
    AGREE=$(field "$WORK/compare.txt" agree)
else
    echo "no answer of quiver's to compare"
fi

# --- summary -------------------------------------------------------------------
log "summary ($SCALE scale: $ENTITY_ROWS entity rows, $FEATURE_ROWS feature rows; quiver $BUILD build; $(nproc) cores)"
fmt='%-34s %10s %12s %10s %16s %15s\n'
# shellcheck disable=SC2059 # the format is a fixed string above
printf "$fmt" mode seconds rows/s rows server_peak_mib server_idle_mib
for mode in "${MODES[@]}"; do
    if [[ ${STATUS[$mode]} == ok ]]; then
        rate=$(awk -v r="$ENTITY_ROWS" -v s="${SECS[$mode]}" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print "n/a" }')
        # shellcheck disable=SC2059
        printf "$fmt" "${MODE_LABEL[$mode]}" "${SECS[$mode]}" "$rate" "${ROWS[$mode]}" "${PEAK[$mode]}" "${IDLE[$mode]}"
    else
        # shellcheck disable=SC2059
        printf "$fmt" "${MODE_LABEL[$mode]}" "-" "-" "-" "${PEAK[$mode]}" "${IDLE[$mode]}"
        echo "    ${STATUS[$mode]}"
    fi
done
ratio_line() { # LABEL MODE_A MODE_B: A's figures over B's
    echo "$1: time $(fdiv "${SECS[$2]:-}" "${SECS[$3]:-}"), server peak memory $(fdiv "${PEAK[$2]:-}" "${PEAK[$3]:-}")"
}
ratio_line "Feast / quiver Flight (both Feast's protocol)" feast feast-flight
ratio_line "quiver Flight (Feast protocol) / quiver HTTP" feast-flight http
ratio_line "quiver Flight (native) / quiver HTTP" native-flight http
echo "answers agree: $AGREE (compared: $(IFS=';' && echo "${compared[*]}"))"
echo "outputs and logs: $WORK"

for mode in feast-flight native-flight http; do
    [[ ${STATUS[$mode]} == ok ]] || die "quiver's ${MODE_LABEL[$mode]} call failed: ${STATUS[$mode]}"
done
[[ $AGREE == yes ]] || die "the answers do not agree (see above)"
