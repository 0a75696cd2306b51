#!/usr/bin/env bash
# The cost of data-quality checks and feature statistics on batch
# materialization, side by side in one run: the same rows materialized with the
# example repo's checks and statistics (on) and with neither (off), alternating,
# QUIVER_QUALITY_RUNS times each. Prints each run, the median rows/s of both and
# the overhead (target: at most 15%), and the CPU time of both.
#
# Environment (all optional):
#   QUIVER_BIN             the binary to measure (default: built in release)
#   QUIVER_QUALITY_DRIVERS drivers (default 2000)   QUIVER_QUALITY_HOURS  hours each (default 720)
#   QUIVER_QUALITY_RUNS    runs of each (default 5)
#   QUIVER_BENCH_DIR       work directory (default /tmp/quiver-bench; this script uses quality/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIVERS=${QUIVER_QUALITY_DRIVERS:-2000}
HOURS=${QUIVER_QUALITY_HOURS:-720}
RUNS=${QUIVER_QUALITY_RUNS:-5}
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
run() { # run SIDE [FLAGS]: prints rows, ms of the offline half, CPU seconds of the whole command
    local side=$1
    shift
    python3 - "$QUIVER_BIN" "$WORK/$side" "$START" "$END" "$@" <<'PY'
import json, resource, subprocess, sys
binary, repo, start, end, *flags = sys.argv[1:]
command = [binary, "--repo", repo, "--json", "materialize", start, end, "--views", "driver_hourly_stats", *flags]
out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
report = json.loads(out)[0]
print(report["rows"], report["duration_ms"], f"{usage.ru_utime + usage.ru_stime:.2f}")
PY
}

measure() { # measure SIDE RUN: runs SIDE once and records it
    local side=$1 i=$2 rows ms cpu flags=()
    [[ $side == off ]] && flags=(--no-stats)
    read -r rows ms cpu < <(run "$side" "${flags[@]}")
    local rate
    rate=$(python3 -c "print(round($rows / ($ms / 1000)))")
    if [[ $side == on ]]; then ON+=("$rate") ON_CPU+=("$cpu"); else OFF+=("$rate") OFF_CPU+=("$cpu"); fi
    printf 'run %d  %-3s: %d rows in %d ms (%s rows/s), %s s CPU\n' "$i" "$side" "$rows" "$ms" "$rate" "$cpu"
}

# Pairs alternate which side goes first, so neither gains from going second
# (a warmer page cache, a quieter neighbour).
log "materializing, alternating on and off, $RUNS runs each"
ON=() OFF=() ON_CPU=() OFF_CPU=()
for i in $(seq 1 "$RUNS"); do
    if ((i % 2)); then measure on "$i"; measure off "$i"; else measure off "$i"; measure on "$i"; fi
done

python3 - "${ON[*]}" "${OFF[*]}" "${ON_CPU[*]}" "${OFF_CPU[*]}" <<'PY'
import statistics, sys
series = [list(map(float, arg.split())) for arg in sys.argv[1:5]]
on, off, on_cpu, off_cpu = (statistics.median(s) for s in series)
overhead = (off - on) / off * 100
# Each pair ran back to back, so its ratio is less exposed to the machine's drift.
paired = statistics.median((b - a) / b * 100 for a, b in zip(series[0], series[1]))
print()
print("| checks + statistics | rows/s (median) | CPU s of the command (median) |")
print("| --- | --- | --- |")
print(f"| off | {off:,.0f} | {off_cpu:.2f} |")
print(f"| on  | {on:,.0f} | {on_cpu:.2f} |")
print(f"CPU: +{(on_cpu - off_cpu) / off_cpu * 100:.1f}% (statistics run on a thread beside the write)")
print(f"overhead, median of the pairs: {paired:.1f}%")
print(f"overhead: {overhead:.1f}% (target: at most 15%: {'met' if overhead <= 15 else 'MISSED'})")
PY
