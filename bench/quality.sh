#!/usr/bin/env bash
# The cost of data-quality checks and feature statistics on batch
# materialization, side by side in one run: the same rows materialized with the
# example repo's checks and statistics (on) and with neither (off), alternating,
# QUIVER_QUALITY_RUNS times each. Prints each run, the median rows/s of both and
# the overhead (target: at most 15%).
#
# Environment (all optional):
#   QUIVER_BIN             the binary to measure (default: built in release)
#   QUIVER_QUALITY_DRIVERS drivers (default 2000)   QUIVER_QUALITY_HOURS  hours each (default 720)
#   QUIVER_QUALITY_RUNS    runs of each (default 3)
#   QUIVER_BENCH_DIR       work directory (default /tmp/quiver-bench; this script uses quality/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIVERS=${QUIVER_QUALITY_DRIVERS:-2000}
HOURS=${QUIVER_QUALITY_HOURS:-720}
RUNS=${QUIVER_QUALITY_RUNS:-3}
WORK=${QUIVER_BENCH_DIR:-/tmp/quiver-bench}/quality

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
if [[ -z ${QUIVER_BIN:-} ]]; then
    TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}
    log "building the release binary into $TARGET_DIR"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked -p quiver)
    QUIVER_BIN=$TARGET_DIR/release/quiver
fi
[[ -x $QUIVER_BIN ]] || die "no quiver binary at $QUIVER_BIN"

rm -rf "$WORK"
mkdir -p "$WORK"
log "data: $DRIVERS drivers x $HOURS hours"
"$QUIVER_BIN" init "$WORK/on" --drivers "$DRIVERS" --hours "$HOURS" --customers 2 --days 2 >/dev/null
cp -r "$WORK/on" "$WORK/off"
# The same definitions without a single check.
python3 - "$WORK/off/driver.yaml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r"^( +)checks:.*\n(?:\1  .*\n)*", "", text, flags=re.M)
open(path, "w").write(text)
PY
grep -q "check:" "$WORK/off/driver.yaml" && die "the checks were not removed"
for side in on off; do "$QUIVER_BIN" --repo "$WORK/$side" apply >/dev/null; done

START=$(date -u -d "-$((HOURS + 24)) hours" +%Y-%m-%dT%H:00:00Z)
END=$(date -u -d "+1 hour" +%Y-%m-%dT%H:00:00Z)
run() { # run SIDE [FLAGS]: prints rows/s of the offline half
    local side=$1
    shift
    "$QUIVER_BIN" --repo "$WORK/$side" --json materialize "$START" "$END" --views driver_hourly_stats "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["rows"], r["duration_ms"], sep=" ")'
}

log "materializing, alternating on and off, $RUNS runs each"
ON=() OFF=()
for i in $(seq 1 "$RUNS"); do
    read -r rows ms < <(run on)
    ON+=("$(python3 -c "print(round($rows / ($ms / 1000)))")")
    printf 'run %d  on : %d rows in %d ms (%s rows/s)\n' "$i" "$rows" "$ms" "${ON[-1]}"
    read -r rows ms < <(run off --no-stats)
    OFF+=("$(python3 -c "print(round($rows / ($ms / 1000)))")")
    printf 'run %d  off: %d rows in %d ms (%s rows/s)\n' "$i" "$rows" "$ms" "${OFF[-1]}"
done

python3 - "${ON[*]}" "${OFF[*]}" <<'PY'
import statistics, sys
on = statistics.median(map(float, sys.argv[1].split()))
off = statistics.median(map(float, sys.argv[2].split()))
overhead = (off - on) / off * 100
print()
print(f"| checks + statistics | rows/s (median) |")
print(f"| --- | --- |")
print(f"| off | {off:,.0f} |")
print(f"| on  | {on:,.0f} |")
print(f"overhead: {overhead:.1f}% (target: at most 15%: {'met' if overhead <= 15 else 'MISSED'})")
PY
