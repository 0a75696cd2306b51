#!/usr/bin/env bash
# quiver's online serving beside its peers (see bench/README.md, "Online serving").
#
# In one run, on the same Redis and the same data (the Parquet files of
# `quiver-bench setup`: 5 views x 50 float32 features, QUIVER_BENCH_ENTITIES drivers):
#
#   1. the Redis floor: `redis-benchmark`, pipelined HSET and HGET of values the size
#      of quiver's online record of one view's row of 3 and of 50 float32 features
#      (keys under a prefix of this run's, removed at the end);
#   2. materialization into Redis of the same rows by quiver (`quiver-bench
#      materialize`) and by Feast (`feast materialize`, feast 0.67.0, Redis online
#      store, the file offline store over the same Parquet files);
#   3. `quiver serve` and Feast's feature server (`feast serve`) on Redis, each loaded
#      with `quiver-bench load` (the same request bodies: `POST /get-online-features`)
#      at a fixed rate and at saturation, for the shapes 1x3, 1x50 and 100x50
#      (entities x features, the features spread over the views), interleaved.
#
# Ends with a summary: per shape and load, req/s, p50 and p99 of quiver and Feast and
# their ratio; materialization rows/s of quiver, Feast and the HSET floor, with ratios.
#
# Environment (all optional):
#   QUIVER_BIN, QUIVER_BENCH_BIN   binaries to measure (default: built in release)
#   CARGO_TARGET_DIR               where to build (default $HOME/.cache/quiver/target)
#   QUIVER_BENCH_REDIS_URL         default redis://127.0.0.1:6379
#   QUIVER_BENCH_DIR               work directory (default /tmp/quiver-bench; this script
#                                  uses online-peers/, replaced on every run)
#   QUIVER_BENCH_ENTITIES          entities in the repo (default 10000)
#   QUIVER_BENCH_SHAPES            default "1x3 1x50 100x50" (entities x features)
#   QUIVER_BENCH_RATE              fixed rate in req/s (default 100, as Feast's Java runs)
#   QUIVER_BENCH_CONNECTIONS       most requests in flight at the fixed rate (default 5)
#   QUIVER_BENCH_RATE_SECS         measured seconds at the fixed rate (default 10)
#   QUIVER_BENCH_CONCURRENCY       closed-loop workers at saturation (default 8)
#   QUIVER_BENCH_SAT_SECS          measured seconds at saturation (default 10)
#   QUIVER_BENCH_WARMUP            warm-up seconds before each run (default 2)
#   QUIVER_BENCH_FEAST_WORKERS     `feast serve --workers` (default 2)
#   QUIVER_BENCH_FEAST_SERVE_ARGS  more `feast serve` options (default "--no-access-log
#                                  --max-requests 0": by default Feast's gunicorn restarts
#                                  each worker after ~1000 requests, which under load shows
#                                  as failed requests and second-long latencies; "" keeps
#                                  all of Feast's defaults)
#   QUIVER_BENCH_FLOOR_REQUESTS    redis-benchmark -n: requests per test (default 200000)
#   QUIVER_BENCH_FLOOR_KEYS        redis-benchmark -r: distinct keys (default 100000)
#   QUIVER_BENCH_FLOOR_PIPELINE    redis-benchmark -P (default 16)
#   QUIVER_BENCH_FLOOR_CLIENTS     redis-benchmark -c (default 50)
#   QUIVER_BENCH_FLOOR_SIZES       value sizes in bytes (default: quiver's record of one
#                                  view's row of 3 and of 50 float32 features, "44 461")
#   QUIVER_TEST_FEAST_VENV         the venv with feast==0.67.0 (default
#                                  $HOME/.cache/quiver/venv-feast, created from
#                                  scripts/requirements-feast.txt if absent, as
#                                  bench/offline_flight.sh and scripts/test.sh do)
#   QUIVER_BENCH_VENV_WAIT         seconds to wait for a Feast venv that another process
#                                  is creating (default 300)
set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# The repos are always given with --repo / -c and use their own registries.
unset QUIVER_REPO QUIVER_REGISTRY

REDIS_URL=${QUIVER_BENCH_REDIS_URL:-redis://127.0.0.1:6379}
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/online-peers
ENTITIES=${QUIVER_BENCH_ENTITIES:-10000}
SHAPES=${QUIVER_BENCH_SHAPES:-"1x3 1x50 100x50"}
RATE=${QUIVER_BENCH_RATE:-100}
CONNECTIONS=${QUIVER_BENCH_CONNECTIONS:-5}
RATE_SECS=${QUIVER_BENCH_RATE_SECS:-10}
CONCURRENCY=${QUIVER_BENCH_CONCURRENCY:-8}
SAT_SECS=${QUIVER_BENCH_SAT_SECS:-10}
WARMUP=${QUIVER_BENCH_WARMUP:-2}
FEAST_WORKERS=${QUIVER_BENCH_FEAST_WORKERS:-2}
read -r -a FEAST_SERVE_ARGS <<<"${QUIVER_BENCH_FEAST_SERVE_ARGS-"--no-access-log --max-requests 0"}"
FLOOR_REQUESTS=${QUIVER_BENCH_FLOOR_REQUESTS:-200000}
FLOOR_KEYS=${QUIVER_BENCH_FLOOR_KEYS:-100000}
FLOOR_PIPELINE=${QUIVER_BENCH_FLOOR_PIPELINE:-16}
FLOOR_CLIENTS=${QUIVER_BENCH_FLOOR_CLIENTS:-50}
VENV=${QUIVER_TEST_FEAST_VENV:-$HOME/.cache/quiver/venv-feast}
REQUIREMENTS=$ROOT/scripts/requirements-feast.txt
VENV_WAIT=${QUIVER_BENCH_VENV_WAIT:-300}
# The repo's layout: quiver-bench setup's defaults, given explicitly to setup, to the
# load generator and to Feast's definitions.
VIEWS=5
PER_VIEW=50
TTL_DAYS=7 # setup.rs: VIEW_TTL

# record_bytes N: the size of quiver's online record (crates/quiver-online/src/record.rs)
# of one view's row of N float32 features named f0..: an 18-byte header (format, event
# µs, created flag and µs), the names block (its varint length, a varint count, per
# name a varint length and the name) and 5 bytes per float32 value (tag + 4).
record_bytes() {
    local n=$1 f names block
    names=$((n < 128 ? 1 : 2)) # the count's varint
    for ((f = 0; f < n; f++)); do names=$((names + 2 + ${#f})); done
    block=$((names < 128 ? names + 1 : names + 2))
    echo $((18 + block + 5 * n))
}
FLOOR_SIZES=${QUIVER_BENCH_FLOOR_SIZES:-"$(record_bytes 3) $(record_bytes "$PER_VIEW")"}

# --- helpers -------------------------------------------------------------------
run_logged() { # LOG CMD...: CMD's output to LOG, shown on failure
    local logfile=$1
    shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 20 "$logfile" | sed 's/^/    /' >&2
        die "failed: $* (log: $logfile)"
    fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; } # START END
per_sec() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
build_kind() { case $1 in */release/*) echo release ;; */debug/*) echo "debug (figures not meaningful)" ;; *) echo unknown ;; esac; }
redis_cli() { redis-cli -u "$REDIS_URL" "$@"; }
unlink_pattern() { # PATTERN: removes the (ASCII-named) keys that match it
    redis_cli --scan --pattern "$1" | xargs -r -n 1000 redis-cli -u "$REDIS_URL" unlink >/dev/null
}

# --- prerequisites -------------------------------------------------------------
for tool in redis-cli redis-benchmark python3 curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (redis-tools, python3, curl)"
done
redis_cli ping 2>/dev/null | grep -q PONG || die "no Redis answers at $REDIS_URL (set QUIVER_BENCH_REDIS_URL)"
release_binaries

# Feast's venv, made as bench/offline_flight.sh and scripts/test.sh make it (the same
# stamp, so any of them reuses it). One that exists without a stamp is being made
# by another process (scripts/test.sh writes the stamp last): wait for it.
feast_venv() {
    local stamp=$VENV/.requirements.sha256 wanted waited=0
    wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    if [[ -n ${QUIVER_TEST_FEAST_VENV:-} ]]; then
        # Given: never made here, only waited for.
        while [[ ! -x $VENV/bin/feast ]] && ((waited < VENV_WAIT)); do
            ((waited)) || echo "waiting up to $VENV_WAIT s for $VENV/bin/feast"
            sleep 5
            waited=$((waited + 5))
        done
        [[ -x $VENV/bin/feast ]] ||
            die "QUIVER_TEST_FEAST_VENV=$VENV has no bin/feast after $VENV_WAIT s (a venv with feast==0.67.0 is needed)"
        return
    fi
    if [[ -d $VENV && ! -f $stamp ]]; then
        echo "waiting up to $VENV_WAIT s for $VENV (being created by another process: no $stamp yet)"
        while [[ ! -f $stamp ]] && ((waited < VENV_WAIT)); do
            sleep 5
            waited=$((waited + 5))
        done
        [[ -f $stamp && -x $VENV/bin/feast ]] ||
            die "$VENV is still incomplete after $VENV_WAIT s (no bin/feast or no .requirements.sha256). If no other process (scripts/test.sh, a bench script) is creating it, remove it (rm -rf $VENV) and rerun to have it created, or set QUIVER_TEST_FEAST_VENV to a venv with feast==0.67.0"
    fi
    if [[ ! (-x $VENV/bin/feast && -f $stamp && $(cat "$stamp") == "$wanted") ]]; then
        make_feast_venv "$VENV" "$REQUIREMENTS" "$stamp" "$wanted"
    fi
}
feast_venv
FEAST=$VENV/bin/feast
PY=$VENV/bin/python
FEAST_VERSION=$("$PY" -c 'import feast; print(feast.__version__)') || die "$VENV cannot import feast"
# Feast's Redis online store needs the redis client, which plain `feast` does not
# install: add Feast's own `redis` extra at the installed version.
if ! "$PY" -c 'import redis' >/dev/null 2>&1; then
    echo "adding feast[redis]==$FEAST_VERSION to $VENV (the Redis online store's client; PyPI)"
    "$PY" -m pip install --quiet --disable-pip-version-check "feast[redis]==$FEAST_VERSION" ||
        die "could not install feast[redis]==$FEAST_VERSION into $VENV"
fi
export FEAST_USAGE=False # no usage telemetry from the Feast processes

# --- work directory, names, cleanup --------------------------------------------
RUN_ID="$(date +%s)_$$"
QUIVER_PROJECT="qbp_${RUN_ID}"
FEAST_PROJECT="qbpfeast_${RUN_ID}"
FLOOR_PREFIX="qbpfloor:${RUN_ID}"
REPO=$WORK/serve
FEAST_REPO=$WORK/feast
RESULTS=$WORK/results
rm -rf -- "$WORK"
mkdir -p "$RESULTS/quiver" "$RESULTS/feast"
SERVER_PID=
FEAST_PID=
FEAST_APPLIED=
QUIVER_MATERIALIZED=

stop_pid() { # PID: TERM, then wait for it
    if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
cleanup() {
    local status=$?
    stop_pid "$SERVER_PID"
    stop_pid "$FEAST_PID"
    unlink_pattern "$FLOOR_PREFIX:*" 2>/dev/null ||
        printf 'online_peers.sh: could not remove the keys %s:*\n' "$FLOOR_PREFIX" >&2
    if [[ -n $QUIVER_MATERIALIZED ]]; then
        "$QUIVER_BENCH_BIN" clear --redis "$REDIS_URL" --project "$QUIVER_PROJECT" >/dev/null 2>&1 ||
            printf 'online_peers.sh: could not clear the Redis keys of %s\n' "$QUIVER_PROJECT" >&2
    fi
    if [[ -n $FEAST_APPLIED ]]; then
        # Removes the project's keys from Redis (and its registry).
        "$FEAST" -c "$FEAST_REPO" teardown >"$WORK/feast-teardown.log" 2>&1 ||
            printf 'online_peers.sh: feast teardown failed: the Redis keys of Feast project %s remain (log: %s)\n' \
                "$FEAST_PROJECT" "$WORK/feast-teardown.log" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis's pid, to report its CPU time (only when it runs on this machine).
REDIS_PID=$(redis_cli info server 2>/dev/null | awk -F: '/^process_id:/ {print $2}' | tr -d '\r' || true)
if [[ -n $REDIS_PID && ! -r /proc/$REDIS_PID/stat ]]; then REDIS_PID=; fi
REDIS_VERSION=$(redis_cli info server 2>/dev/null | awk -F: '/^redis_version:/ {print $2}' | tr -d '\r' || true)

log "quiver online serving beside Feast's feature server and the Redis floor"
echo "quiver:          $QUIVER_BIN ($(build_kind "$QUIVER_BIN"))"
echo "quiver-bench:    $QUIVER_BENCH_BIN ($(build_kind "$QUIVER_BENCH_BIN"))"
echo "feast:           $FEAST_VERSION ($VENV), feast serve --workers $FEAST_WORKERS ${FEAST_SERVE_ARGS[*]}"
echo "machine:         $(nproc) cores, $(awk -F: '/model name/ {gsub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)"
echo "redis:           $REDIS_URL (version ${REDIS_VERSION:-?}, pid ${REDIS_PID:-not local}); $(redis-benchmark --version)"
echo "data:            $ENTITIES entities, $VIEWS views x $PER_VIEW float32 features (quiver project $QUIVER_PROJECT, Feast project $FEAST_PROJECT)"
echo "shapes:          $SHAPES; fixed rate $RATE req/s, <= $CONNECTIONS in flight, ${RATE_SECS} s; saturation $CONCURRENCY workers, ${SAT_SECS} s; warm-up ${WARMUP} s"
echo "floor:           redis-benchmark -P $FLOOR_PIPELINE -c $FLOOR_CLIENTS -n $FLOOR_REQUESTS -r $FLOOR_KEYS, values of $FLOOR_SIZES bytes"
echo "work dir:        $WORK"

# --- 1. the Redis floor --------------------------------------------------------
# floor_test NAME CSV COMMAND...: one redis-benchmark test; appends "NAME rps p50 p99" to floor.tsv.
floor_test() {
    local name=$1 csv=$2
    shift 2
    redis-benchmark -u "$REDIS_URL" -P "$FLOOR_PIPELINE" -c "$FLOOR_CLIENTS" -n "$FLOOR_REQUESTS" \
        -r "$FLOOR_KEYS" --csv "$@" >"$csv" 2>"$csv.err" || die "redis-benchmark failed: $(cat "$csv.err")"
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    awk -F'","' -v name="$name" 'NR == 2 { printf "%s\t%s\t%s\t%s\n", name, $2, $5, $7 }' "$csv" |
        tee -a "$RESULTS/floor.tsv" | awk -F'\t' '{ printf "  %s: %.0f requests/s (rows/s), p50 %s ms, p99 %s ms\n", $1, $2, $3, $4 }'
}
for size in $FLOOR_SIZES; do
    value=$(head -c "$size" /dev/zero | tr '\0' x)
    prefix="$FLOOR_PREFIX:$size"
    log "Redis floor: $size-byte values, one hash field (a view's record) per key"
    floor_test "HSET $size B" "$WORK/floor-hset-$size.csv" HSET "$prefix:__rand_int__" stats_0 "$value"
    # Every key of the range, so that each HGET finds its value (the HSET test's random
    # keys leave some out); redis-benchmark writes __rand_int__ as 12 digits.
    python3 - "$prefix" "$FLOOR_KEYS" "$value" <<'EOF' | redis_cli --pipe >"$WORK/floor-fill-$size.log" 2>&1 ||
import sys
prefix, keys, value = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
out = sys.stdout.buffer
field = b"stats_0"
for i in range(keys):
    key = b"%s:%012d" % (prefix.encode(), i)
    out.write(b"*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
              % (len(key), key, len(field), field, len(value), value))
EOF
        die "filling the floor's keys failed (log: $WORK/floor-fill-$size.log)"
    grep -q 'errors: 0' "$WORK/floor-fill-$size.log" || die "filling the floor's keys failed: $(cat "$WORK/floor-fill-$size.log")"
    floor_test "HGET $size B" "$WORK/floor-hget-$size.csv" HGET "$prefix:__rand_int__" stats_0
    unlink_pattern "$prefix:*"
done

# --- 2. data and materialization -----------------------------------------------
log "setup: the bench repo ($ENTITIES entities, $VIEWS views x $PER_VIEW features)"
"$QUIVER_BENCH_BIN" setup --dir "$REPO" --entities "$ENTITIES" --views "$VIEWS" --features "$PER_VIEW" \
    --project "$QUIVER_PROJECT"

log "quiver: materialize into Redis (quiver-bench materialize: the embedded store, then Redis; the Redis rows are kept for serving)"
QUIVER_MATERIALIZED=1
"$QUIVER_BENCH_BIN" materialize --dir "$REPO" --redis "$REDIS_URL" --tag peers --out "$RESULTS/quiver/materialize.jsonl"

log "Feast: repo over the same Parquet files ($REPO/data)"
FEAST_REDIS=$(python3 - "$REDIS_URL" <<'EOF'
import sys
from urllib.parse import unquote, urlparse
u = urlparse(sys.argv[1])
parts = [f"{u.hostname or '127.0.0.1'}:{u.port or 6379}"]
if u.password:
    parts.append(f"password={unquote(u.password)}")
if u.path.strip("/"):
    parts.append(f"db={u.path.strip('/')}")
if u.scheme == "rediss":
    parts.append("ssl=true")
print(",".join(parts))
EOF
)
mkdir -p "$FEAST_REPO"
cat >"$FEAST_REPO/feature_store.yaml" <<EOF
project: $FEAST_PROJECT
provider: local
registry: registry.db
online_store:
  type: redis
  connection_string: "$FEAST_REDIS"
offline_store:
  type: file
entity_key_serialization_version: 3
EOF
cat >"$FEAST_REPO/definitions.py" <<'EOF'
# Feast's mirror of the quiver-bench repo (crates/quiver-bench/src/setup.rs): entity
# driver (driver_id int64), views stats_0.. of float32 features f0.., TTL 7 days, each
# over its own Parquet file (driver_id, event_timestamp, created, f0..).
import os
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float32

DATA = os.environ["QUIVER_FEAST_DATA"]
VIEWS = int(os.environ["QUIVER_FEAST_VIEWS"])
PER_VIEW = int(os.environ["QUIVER_FEAST_FEATURES"])
TTL = timedelta(days=int(os.environ["QUIVER_FEAST_TTL_DAYS"]))

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)

for v in range(VIEWS):
    globals()[f"stats_{v}"] = FeatureView(
        name=f"stats_{v}",
        entities=[driver],
        ttl=TTL,
        schema=[Field(name=f"f{f}", dtype=Float32) for f in range(PER_VIEW)],
        source=FileSource(
            name=f"stats_{v}_source",
            path=os.path.join(DATA, f"stats_{v}.parquet"),
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
        online=True,
    )
EOF
export QUIVER_FEAST_DATA=$REPO/data QUIVER_FEAST_VIEWS=$VIEWS QUIVER_FEAST_FEATURES=$PER_VIEW QUIVER_FEAST_TTL_DAYS=$TTL_DAYS
FEAST_APPLIED=1
run_logged "$WORK/feast-apply.log" "$FEAST" -c "$FEAST_REPO" apply
# The CLI's own start-up (Python, imports, the registry), to read the figure below.
t0=$(now)
run_logged "$WORK/feast-startup.log" "$FEAST" -c "$FEAST_REPO" feature-views list
FEAST_STARTUP_SECS=$(elapsed "$t0" "$(now)")

log "Feast: materialize into Redis (feast materialize, the same window as quiver's: the last 30 days)"
START=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%S)
END=$(date -u +%Y-%m-%dT%H:%M:%S)
t0=$(now)
run_logged "$WORK/feast-materialize.log" "$FEAST" -c "$FEAST_REPO" materialize "$START" "$END"
FEAST_MAT_SECS=$(elapsed "$t0" "$(now)")
FEAST_ROWS=$((ENTITIES * VIEWS)) # the latest row per (entity, view), as quiver's online rows
echo "feast materialize: $FEAST_ROWS rows (${ENTITIES} entities x $VIEWS views) in $FEAST_MAT_SECS s:" \
    "$(per_sec "$FEAST_ROWS" "$FEAST_MAT_SECS") rows/s (the command, with its start-up of $FEAST_STARTUP_SECS s)"
printf 'rows\t%s\nseconds\t%s\nstartup_seconds\t%s\n' "$FEAST_ROWS" "$FEAST_MAT_SECS" "$FEAST_STARTUP_SECS" \
    >"$RESULTS/feast/materialize.tsv"

# --- 3. the servers --------------------------------------------------------------
log "starting quiver serve on Redis"
QUIVER_ONLINE_STORE_URL=$REDIS_URL start_quiver_serve "$REPO" "$WORK/quiver-serve.log" --host 127.0.0.1 --no-flight
QUIVER_URL=$URL
echo "quiver serve (pid $SERVER_PID) at $QUIVER_URL"

log "starting feast serve on Redis ($FEAST_WORKERS workers)"
FEAST_PORT=$(free_port)
FEAST_URL=http://127.0.0.1:$FEAST_PORT
"$FEAST" -c "$FEAST_REPO" serve -h 127.0.0.1 -p "$FEAST_PORT" --workers "$FEAST_WORKERS" "${FEAST_SERVE_ARGS[@]}" \
    >"$WORK/feast-serve.log" 2>&1 &
FEAST_PID=$!
for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$FEAST_URL/health" && break
    kill -0 "$FEAST_PID" 2>/dev/null || die "feast serve exited (log: $WORK/feast-serve.log)"
    sleep 0.2
done
curl -sf -o /dev/null "$FEAST_URL/health" || die "feast serve did not answer within 120 s (log: $WORK/feast-serve.log)"
FEAST_WORKER_PIDS=$(pgrep -P "$FEAST_PID" | tr '\n' ' ' || true)
echo "feast serve (pid $FEAST_PID, workers ${FEAST_WORKER_PIDS:-?}) at $FEAST_URL"

# Both answer the same request with the same values. (quiver-bench load counts
# NOT_FOUND values as errors, but Feast 0.67 answers a driver it does not have with
# null values marked PRESENT: this check is what shows that Feast's rows are there.)
log "do both servers answer with the same values?"
"$PY" - "$QUIVER_URL" "$FEAST_URL" "$ENTITIES" "$VIEWS" "$WORK" <<'EOF' || die "the answers differ (see above)"
import json
import sys
import urllib.request

quiver_url, feast_url, entities, views, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ids = sorted({1, max(1, entities // 2), entities})
features = [f"stats_{v}:f{f}" for v in range(views) for f in range(10)]
body = json.dumps({"features": features, "entities": {"driver_id": ids}, "full_feature_names": True}).encode()


def columns(name, url):
    request = urllib.request.Request(url + "/get-online-features", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    with open(f"{work}/answer-{name}.json", "wb") as f:
        f.write(text)
    answer = json.loads(text)
    out = {}
    for column, result in zip(answer["metadata"]["feature_names"], answer["results"]):
        values, statuses = result["values"], result["statuses"]
        if column != "driver_id" and (None in values or any(s != "PRESENT" for s in statuses)):
            sys.exit(f"{name}: column {column} has missing values for drivers {ids}: {values} {statuses}")
        out[column] = values
    if len(out) != len(features) + 1:
        sys.exit(f"{name}: {len(out)} columns for {len(features)} features + driver_id")
    return out


q, f = columns("quiver", quiver_url), columns("feast", feast_url)
diff = [c for c in q if c not in f or any(abs(a - b) > 1e-6 for a, b in zip(q[c], f[c]))]
if diff:
    sys.exit(f"quiver and Feast disagree on {diff[:5]} (answers: {work}/answer-*.json)")
print(f"yes: drivers {ids}, {len(features)} features, every value present and equal")
EOF

WATCH_QUIVER=(--watch-pid "$SERVER_PID")
WATCH_FEAST=(--watch-pid "$FEAST_PID")
for pid in $FEAST_WORKER_PIDS; do WATCH_FEAST+=(--watch-pid "$pid"); done
if [[ -n $REDIS_PID ]]; then
    WATCH_QUIVER+=(--watch-pid "$REDIS_PID")
    WATCH_FEAST+=(--watch-pid "$REDIS_PID")
fi

# --- the load --------------------------------------------------------------------
# Each (shape, load) on quiver, then on Feast. A Feast run that fails is reported
# as such and the run goes on; a quiver one stops it.
for shape in $SHAPES; do
    entities=${shape%x*}
    features=${shape#*x}
    common=(--entities "$entities" --features "$features" --population "$ENTITIES" --views "$VIEWS"
        --per-view "$PER_VIEW" --warmup "$WARMUP")
    at_rate=(--rate "$RATE" --connections "$CONNECTIONS" --duration "$RATE_SECS")
    saturated=(--saturate --concurrency "$CONCURRENCY" --duration "$SAT_SECS")
    for load in "fixed rate" saturation; do
        if [[ $load == "fixed rate" ]]; then args=("${at_rate[@]}"); else args=("${saturated[@]}"); fi
        log "$shape, $load: quiver"
        "$QUIVER_BENCH_BIN" load --url "$QUIVER_URL" "${common[@]}" "${args[@]}" "${WATCH_QUIVER[@]}" \
            --out "$RESULTS/quiver/serve.jsonl"
        log "$shape, $load: Feast"
        "$QUIVER_BENCH_BIN" load --url "$FEAST_URL" --label feast "${common[@]}" "${args[@]}" "${WATCH_FEAST[@]}" \
            --out "$RESULTS/feast/serve.jsonl" ||
            echo "the Feast run failed (feast serve log: $WORK/feast-serve.log)" >&2
    done
done

stop_pid "$SERVER_PID"
SERVER_PID=
stop_pid "$FEAST_PID"
FEAST_PID=

# --- summary ---------------------------------------------------------------------
log "summary (quiver: $(build_kind "$QUIVER_BIN"); feast $FEAST_VERSION; $(nproc) cores; load generator, servers and Redis on the same machine)"
"$PY" - "$RESULTS" <<'EOF'
import json
import os
import sys

results = sys.argv[1]


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a and b else "-"


def ms(us):
    return f"{us / 1000:.3f}"


quiver = lines(os.path.join(results, "quiver", "serve.jsonl"))
feast = lines(os.path.join(results, "feast", "serve.jsonl"))
print("Online lookups over HTTP (POST /get-online-features, the same bodies), Redis store. Latencies in ms.")
print()
print("| shape | load | quiver req/s | quiver p50 | quiver p99 | Feast req/s | Feast p50 | Feast p99 "
      "| req/s quiver/Feast | p50 quiver/Feast | p99 quiver/Feast | errors quiver / Feast |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for q in quiver:
    f = next((r for r in feast if all(r[k] == q[k] for k in ("mode", "rate", "concurrency", "entities", "features"))), None)
    load = f"{q['rate']:g} req/s, ≤{q['concurrency']} conns" if q["rate"] else f"saturation, {q['concurrency']} workers"
    if f:
        fcols = [f"{f['throughput']:.0f}", ms(f["p50_us"]), ms(f["p99_us"]),
                 ratio(q["throughput"], f["throughput"]), ratio(q["p50_us"], f["p50_us"], 3),
                 ratio(q["p99_us"], f["p99_us"], 3), f"{q['errors']} / {f['errors']}"]
    else:
        fcols = ["failed", "-", "-", "-", "-", "-", f"{q['errors']} / -"]
    print(f"| {q['entities']}x{q['features']} | {load} | {q['throughput']:.0f} | {ms(q['p50_us'])} | "
          f"{ms(q['p99_us'])} | " + " | ".join(fcols) + " |")
print()
print("Features spread over the views, e.g. " + "; ".join(
    sorted({f"{q['entities']}x{q['features']}: {q['spread']}" for q in quiver})) + ".")
print()

mats = [m for m in lines(os.path.join(results, "quiver", "materialize.jsonl")) if m["store"] == "redis"]
fm = dict(tsv(os.path.join(results, "feast", "materialize.tsv")))
floor = tsv(os.path.join(results, "floor.tsv"))
print("Materialization into Redis (rows: the latest row per entity and view, one Redis hash field per row for quiver).")
print()
print("| writer | rows | seconds | rows/s | quiver online ÷ this |")
print("|---|---|---|---|---|")
base = None
if mats:
    m = mats[-1]
    base = m["online_rows_per_sec"]
    print(f"| quiver, online write (quiver-bench materialize) | {m['online_rows']} | {m['online_seconds']:.2f} | {base:.0f} | 1.00 |")
    e2e = m["online_rows"] / m["total_seconds"] if m["total_seconds"] else 0
    print(f"| quiver, end to end (read Parquet, offline store, online store) | {m['online_rows']} | "
          f"{m['total_seconds']:.2f} | {e2e:.0f} | {ratio(base, e2e)} |")
if fm:
    rows, secs, start = int(fm["rows"]), float(fm["seconds"]), float(fm["startup_seconds"])
    rate = rows / secs if secs else 0
    print(f"| Feast, `feast materialize` (the command) | {rows} | {secs:.2f} | {rate:.0f} | {ratio(base, rate)} |")
    if secs > start:
        rate = rows / (secs - start)
        print(f"| Feast, less the CLI start-up ({start:.2f} s) | {rows} | {secs - start:.2f} | {rate:.0f} | {ratio(base, rate)} |")
for name, rps, _p50, _p99 in floor:
    if name.startswith("HSET"):
        print(f"| redis-benchmark {name}, -P 16 (the floor) | - | - | {float(rps):.0f} | {ratio(base, float(rps))} |")
print()
if floor:
    print("redis-benchmark (pipelined; one request = one row): " + "; ".join(
        f"{name} {float(rps):.0f}/s (p50 {p50} ms, p99 {p99} ms)" for name, rps, p50, p99 in floor) + ".")
    print()
if mats and fm:
    m = mats[-1]
    print(f"quiver / Feast materialization rows/s: {ratio(m['online_rows_per_sec'], int(fm['rows']) / float(fm['seconds']))} "
          f"(online write against the whole command), {ratio(m['online_rows'] / m['total_seconds'], int(fm['rows']) / float(fm['seconds']))} "
          "(end to end against the whole command).")
EOF
echo "Raw results: $RESULTS (quiver/ and feast/: quiver-bench JSON lines; floor.tsv: redis-benchmark)"
