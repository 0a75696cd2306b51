#!/usr/bin/env bash
# quiver's soak test: `quiver serve` on Redis under steady mixed load for a
# bounded time: online lookups (200/s) and pushes to the online and offline
# stores (20/s) at fixed rates, and a 1,000-row training set every 5 s. Prints
# each kind's throughput, errors, p50 and p99, and the server's resident memory
# every 10 s from the start to the end (it should stay flat).
#
# Environment (all optional):
#   QUIVER_BIN, QUIVER_BENCH_BIN   binaries to measure (default: built in release)
#   CARGO_TARGET_DIR               where to build (default $HOME/.cache/quiver/target)
#   QUIVER_BENCH_REDIS_URL         default redis://127.0.0.1:6379
#   QUIVER_SOAK_SECS               how long (default 300)
#   QUIVER_BENCH_DIR               work directory (default /tmp/quiver-bench; this script uses soak/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_URL=${QUIVER_BENCH_REDIS_URL:-redis://127.0.0.1:6379}
SECS=${QUIVER_SOAK_SECS:-300}
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/soak

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
release_binaries

log "services (scripts/test.sh starts what is missing)"
QUIVER_TEST_SERVICES_ONLY=1 bash "$ROOT/scripts/test.sh"

PROJECT="qs_$(date +%s)_$$"
rm -rf "$WORK"
mkdir -p "$WORK"
REPO="$WORK/repo"
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    "$QUIVER_BENCH_BIN" clear --redis "$REDIS_URL" --project "$PROJECT" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "repo: the sample on Redis, plus a view fed by the push source"
"$QUIVER_BIN" init "$REPO" --drivers 3 --hours 72 >/dev/null
cat >"$REPO/quiver.yaml" <<YAML
project: $PROJECT
registry: sqlite://.quiver/registry.db
offline_store: { path: .quiver/offline }
online_store: { type: redis, url: "$REDIS_URL" }
YAML
cat >"$REPO/push.yaml" <<'YAML'
feature_views:
  - name: driver_pushed_stats
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_push
    ttl: 2d
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: avg_daily_trips, dtype: int64 }
YAML
"$QUIVER_BIN" --repo "$REPO" apply >/dev/null
now=$(date -u +%Y-%m-%dT%H:00:00Z)
start=$(date -u -d "$now - 3 days" +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d "$now + 1 hour" +%Y-%m-%dT%H:%M:%SZ)
"$QUIVER_BIN" --repo "$REPO" materialize "$start" "$end" >/dev/null

start_quiver_serve "$REPO" "$WORK/server.log"

log "soak for $SECS s against $URL (server pid $SERVER_PID)"
"$QUIVER_BENCH_BIN" soak --url "$URL" --pid "$SERVER_PID" --duration "$SECS" --out "$WORK/results.jsonl"
