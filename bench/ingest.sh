#!/usr/bin/env bash
# quiver's streaming benchmark (see bench/README.md, "Streaming ingest").
#
# 1. Throughput: writes a backlog of events to a topic, then lets
#    `quiver serve --ingest` consume it, once with the offline append off and once
#    on (each with its own consumer group), and prints events/s from the first
#    consumed message to the last commit (broker -> decode -> Redis [-> Parquet]
#    -> commit).
# 2. Freshness: produces at a fixed rate (10k events/s) to a second topic while
#    the ingest runs, and measures for 1 % of the events (probes) the time from
#    producing them to their value being readable through
#    `POST /get-online-features` (polled every millisecond).
#
# Broker, Redis and quiver run on this machine; the broker is the one
# scripts/test.sh starts (tansu, in memory) unless QUIVER_BENCH_KAFKA is given.
#
# Environment (all optional):
#   QUIVER_BIN, QUIVER_BENCH_BIN   binaries to measure (default: built in release)
#   CARGO_TARGET_DIR               where to build (default $HOME/.cache/quiver/target)
#   QUIVER_BENCH_KAFKA             bootstrap servers (default: start/use 127.0.0.1:9092)
#   QUIVER_BENCH_REDIS_URL         default redis://127.0.0.1:6379
#   QUIVER_BENCH_DIR               work directory (default /tmp/quiver-bench; this script uses ingest/)
#   QUIVER_BENCH_EVENTS            backlog for the throughput runs (default 1000000)
#   QUIVER_BENCH_PARTITIONS        partitions of the topics (default 3)
#   QUIVER_BENCH_FRESH_RATE        events/s of the freshness run (default 10000)
#   QUIVER_BENCH_FRESH_SECS        measured seconds of the freshness run (default 10)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_URL=${QUIVER_BENCH_REDIS_URL:-redis://127.0.0.1:6379}
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/ingest
EVENTS=${QUIVER_BENCH_EVENTS:-1000000}
PARTITIONS=${QUIVER_BENCH_PARTITIONS:-3}
FRESH_RATE=${QUIVER_BENCH_FRESH_RATE:-10000}
FRESH_SECS=${QUIVER_BENCH_FRESH_SECS:-10}

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# --- binaries and services ---------------------------------------------------
release_binaries
case $QUIVER_BIN in */debug/*) echo "warning: $QUIVER_BIN is a debug build; figures are not meaningful" >&2 ;; esac

if [[ -z ${QUIVER_BENCH_KAFKA:-} ]]; then
    log "services (scripts/test.sh starts what is missing)"
    QUIVER_TEST_SERVICES_ONLY=1 bash "$ROOT/scripts/test.sh"
fi
KAFKA=${QUIVER_BENCH_KAFKA:-127.0.0.1:9092}

# --- repos, servers, cleanup -------------------------------------------------
PREFIX="qi_$(date +%s)_$$"
rm -rf "$WORK"
mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
SERVER_PID=
PROJECTS=()

cleanup() {
    stop_server
    for project in "${PROJECTS[@]}"; do
        "$QUIVER_BENCH_BIN" clear --redis "$REDIS_URL" --project "$project" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

# make_repo NAME TOPIC: the sample repo, on Redis, reading TOPIC.
make_repo() {
    local name=$1 topic=$2 dir="$WORK/$1"
    "$QUIVER_BIN" init "$dir" --drivers 3 --hours 2 >/dev/null
    cat >"$dir/quiver.yaml" <<EOF
project: ${PREFIX}_$name
registry: sqlite://.quiver/registry.db
offline_store: { path: .quiver/offline }
online_store: { type: redis, url: "$REDIS_URL" }
kafka: { bootstrap_servers: "$KAFKA" }
EOF
    sed -i "s/topic: driver_stats/topic: $topic/" "$dir/driver.yaml"
    "$QUIVER_BIN" --repo "$dir" apply >/dev/null
    PROJECTS+=("${PREFIX}_$name")
}

# start_server REPO ARGS...: `quiver serve --ingest` on a free port; sets URL and SERVER_PID.
start_server() {
    local repo=$1
    shift
    start_quiver_serve "$repo" "$WORK/server-$(date +%s%N).log" --ingest "$@"
}

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

# --- 1. throughput -----------------------------------------------------------
THROUGHPUT_TOPIC="${PREFIX}_backlog"
make_repo throughput "$THROUGHPUT_TOPIC"
log "producing a backlog of $EVENTS events ($PARTITIONS partitions, 10,000 drivers)"
"$QUIVER_BENCH_BIN" produce --bootstrap "$KAFKA" --topic "$THROUGHPUT_TOPIC" \
    --partitions "$PARTITIONS" --events "$EVENTS" --out "$RESULTS"

for mode in online-only online+offline; do
    log "ingest throughput, $mode"
    args=(--group "${PREFIX}_$mode")
    [[ $mode == online-only ]] && args+=(--no-offline)
    start_server "$WORK/throughput" "${args[@]}"
    "$QUIVER_BENCH_BIN" ingest-wait --url "$URL" --events "$EVENTS" --label "$mode" --out "$RESULTS"
    stop_server
done

# --- 2. freshness ------------------------------------------------------------
for mode in online-only online+offline; do
    name=fresh_$([[ $mode == online-only ]] && echo online || echo offline)
    FRESH_TOPIC="${PREFIX}_$name"
    make_repo "$name" "$FRESH_TOPIC"
    "$QUIVER_BENCH_BIN" produce --bootstrap "$KAFKA" --topic "$FRESH_TOPIC" --partitions "$PARTITIONS" --events 0 >/dev/null
    args=()
    [[ $mode == online-only ]] && args+=(--no-offline)
    start_server "$WORK/$name" "${args[@]}"
    log "freshness, $mode, at $FRESH_RATE events/s for $FRESH_SECS s (1 % probes, polled through the HTTP API)"
    "$QUIVER_BENCH_BIN" freshness --bootstrap "$KAFKA" --topic "$FRESH_TOPIC" --url "$URL" \
        --rate "$FRESH_RATE" --duration "$FRESH_SECS" --label "$mode" --out "$RESULTS"
    stop_server
done

log "summary (targets on 2 cores: >= 100k events/s, freshness p99 <= 50 ms)"
python3 - "$RESULTS" <<'EOF' || cat "$RESULTS"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for r in rows:
    if "label" in r and "events_per_sec" in r:
        print(f"ingest {r['label']:<15} {r['events_per_sec']:>10.0f} events/s  ({r['events']} events in {r['secs']:.2f} s)"
              f"  -> {'met' if r['events_per_sec'] >= 100_000 else 'missed'}")
    elif "p99_ms" in r:
        print(f"freshness {r['label']:<15} @ {r['rate']:.0f}/s (achieved {r['achieved_rate']:.0f}/s): p50 {r['p50_ms']:.2f} ms, "
              f"p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.2f} ms, {r['resolved']}/{r['probes']} probes"
              f"  -> {'met' if r['p99_ms'] <= 50 else 'missed'}")
    elif "events_per_sec" in r and r["events"]:
        print(f"producer backlog         {r['events_per_sec']:>10.0f} events/s")
EOF
