#!/usr/bin/env bash
# quiver's online-serving benchmark (see bench/README.md, "Online serving").
#
# Sets up a bench feature repo, prints materialization figures (embedded store and
# Redis, with peak memory at two table sizes), starts `quiver serve` on Redis and
# loads it with `quiver-bench load` at a fixed rate and at saturation for three
# request shapes (1x50, 100x50, 100x250), each beside the floor: the same reads done
# directly against Redis with quiver's Redis client. Ends with a summary table.
#
# Environment (all optional):
#   QUIVER_BIN, QUIVER_BENCH_BIN   binaries to measure (default: built in release)
#   CARGO_TARGET_DIR               where to build (default $HOME/.cache/quiver/target)
#   QUIVER_BENCH_REDIS_URL         default redis://127.0.0.1:6379
#   QUIVER_BENCH_DIR               work directory (default /tmp/quiver-bench; this script uses online/)
#   QUIVER_BENCH_ENTITIES          entities in the serving repo (default 10000)
#   QUIVER_BENCH_SHAPES            default "1x50 100x50 100x250" (entities x features)
#   QUIVER_BENCH_RATE              fixed rate in req/s (default 100, as Feast's Java runs)
#   QUIVER_BENCH_CONNECTIONS       most requests in flight at the fixed rate (default 5, as Feast)
#   QUIVER_BENCH_RATE_SECS         measured seconds at the fixed rate (default 10)
#   QUIVER_BENCH_CONCURRENCY       closed-loop workers at saturation (default 8)
#   QUIVER_BENCH_SAT_SECS          measured seconds at saturation (default 10)
#   QUIVER_BENCH_WARMUP            warm-up seconds before each run (default 2)
#   QUIVER_BENCH_MAT_SIZES         entities of the two materialization-only repos (default "20000 200000")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_URL=${QUIVER_BENCH_REDIS_URL:-redis://127.0.0.1:6379}
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/online
ENTITIES=${QUIVER_BENCH_ENTITIES:-10000}
SHAPES=${QUIVER_BENCH_SHAPES:-"1x50 100x50 100x250"}
RATE=${QUIVER_BENCH_RATE:-100}
CONNECTIONS=${QUIVER_BENCH_CONNECTIONS:-5}
RATE_SECS=${QUIVER_BENCH_RATE_SECS:-10}
CONCURRENCY=${QUIVER_BENCH_CONCURRENCY:-8}
SAT_SECS=${QUIVER_BENCH_SAT_SECS:-10}
WARMUP=${QUIVER_BENCH_WARMUP:-2}
MAT_SIZES=${QUIVER_BENCH_MAT_SIZES:-"20000 200000"}

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# --- binaries ---------------------------------------------------------------
release_binaries
build_kind() { case $1 in */release/*) echo release ;; */debug/*) echo "debug (figures not meaningful)" ;; *) echo unknown ;; esac; }

# --- work directory, projects, cleanup --------------------------------------
PREFIX="qb_$(date +%s)_$$"
SERVE_PROJECT="${PREFIX}_serve"
PROJECTS=("$SERVE_PROJECT")
RESULTS=$WORK/results
rm -rf "$WORK"
mkdir -p "$RESULTS"
SERVER_PID=

cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    for project in "${PROJECTS[@]}"; do
        "$QUIVER_BENCH_BIN" clear --redis "$REDIS_URL" --project "$project" >/dev/null 2>&1 ||
            printf 'online.sh: could not clear the Redis keys of %s\n' "$project" >&2
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis's pid, to report its CPU time (only when it runs on this machine).
REDIS_PID=
if command -v redis-cli >/dev/null 2>&1; then
    REDIS_PID=$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | awk -F: '/^process_id:/ {print $2}' | tr -d '\r' || true)
    if [[ -n $REDIS_PID && ! -r /proc/$REDIS_PID/stat ]]; then REDIS_PID=; fi
fi
REDIS_VERSION=$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | awk -F: '/^redis_version:/ {print $2}' | tr -d '\r' || true)

log "quiver online-serving benchmark"
echo "quiver:        $QUIVER_BIN ($(build_kind "$QUIVER_BIN"))"
echo "quiver-bench:  $QUIVER_BENCH_BIN ($(build_kind "$QUIVER_BENCH_BIN"))"
echo "machine:       $(nproc) cores, $(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)"
echo "redis:         $REDIS_URL (version ${REDIS_VERSION:-?}, pid ${REDIS_PID:-not local})"
echo "serving repo:  $ENTITIES entities, 5 views x 50 float32 features, project $SERVE_PROJECT"
echo "fixed rate:    $RATE req/s, <= $CONNECTIONS in flight, ${RATE_SECS} s; saturation: $CONCURRENCY workers, ${SAT_SECS} s; warm-up ${WARMUP} s"
echo "work dir:      $WORK"

# --- setup and materialization ----------------------------------------------
log "setup: serving repo"
"$QUIVER_BENCH_BIN" setup --dir "$WORK/serve" --entities "$ENTITIES" --project "$SERVE_PROJECT"

log "materialize: serving repo (embedded store, then Redis; the Redis rows are kept for serving)"
"$QUIVER_BENCH_BIN" materialize --dir "$WORK/serve" --redis "$REDIS_URL" --tag serving --out "$RESULTS/materialize.jsonl"

i=0
for size in $MAT_SIZES; do
    i=$((i + 1))
    project="${PREFIX}_m$i"
    PROJECTS+=("$project")
    log "materialize: $size entities x 1 view x 50 features (memory against table size)"
    "$QUIVER_BENCH_BIN" setup --dir "$WORK/mat$i" --entities "$size" --views 1 --project "$project"
    "$QUIVER_BENCH_BIN" materialize --dir "$WORK/mat$i" --redis "$REDIS_URL" --clear --tag scaling --out "$RESULTS/materialize.jsonl"
    rm -rf "$WORK/mat$i"
done

# --- the server ---------------------------------------------------------------
log "starting quiver serve on Redis"
QUIVER_ONLINE_STORE_URL=$REDIS_URL "$QUIVER_BIN" --repo "$WORK/serve" serve --host 127.0.0.1 --port 0 \
    2>"$WORK/serve.log" &
SERVER_PID=$!
URL=
for _ in $(seq 1 600); do
    URL=$(grep -o 'serving on http://[^ ]*' "$WORK/serve.log" 2>/dev/null | head -n 1 | sed 's/^serving on //' || true)
    [[ -n $URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "quiver serve exited: $(cat "$WORK/serve.log")"
    sleep 0.1
done
[[ -n $URL ]] || die "quiver serve did not start within 60 s: $(cat "$WORK/serve.log")"
echo "quiver serve (pid $SERVER_PID) at $URL"

WATCH_SERVER=(--watch-pid "$SERVER_PID")
WATCH_REDIS=()
if [[ -n $REDIS_PID ]]; then
    WATCH_SERVER+=(--watch-pid "$REDIS_PID")
    WATCH_REDIS+=(--watch-pid "$REDIS_PID")
fi

# --- the load -----------------------------------------------------------------
for shape in $SHAPES; do
    entities=${shape%x*}
    features=${shape#*x}
    common=(--entities "$entities" --features "$features" --population "$ENTITIES" --warmup "$WARMUP"
        --out "$RESULTS/serve.jsonl")
    at_rate=(--rate "$RATE" --connections "$CONNECTIONS" --duration "$RATE_SECS")
    saturated=(--saturate --concurrency "$CONCURRENCY" --duration "$SAT_SECS")

    log "$shape: fixed rate"
    "$QUIVER_BENCH_BIN" load --url "$URL" "${common[@]}" "${at_rate[@]}" "${WATCH_SERVER[@]}"
    "$QUIVER_BENCH_BIN" floor --redis "$REDIS_URL" --project "$SERVE_PROJECT" "${common[@]}" "${at_rate[@]}" \
        "${WATCH_REDIS[@]}"
    log "$shape: saturation"
    "$QUIVER_BENCH_BIN" load --url "$URL" "${common[@]}" "${saturated[@]}" "${WATCH_SERVER[@]}"
    "$QUIVER_BENCH_BIN" floor --redis "$REDIS_URL" --project "$SERVE_PROJECT" "${common[@]}" "${saturated[@]}" \
        "${WATCH_REDIS[@]}"
done

kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# --- summary ------------------------------------------------------------------
log "summary (quiver: $(build_kind "$QUIVER_BIN"); $(nproc) cores; load generator, server and Redis on the same machine)"
"$QUIVER_BENCH_BIN" report --dir "$RESULTS"
echo "Raw results (JSON lines): $RESULTS"
