#!/usr/bin/env bash
# The README's main command: build quiver, generate the example repo's sample data
# (laid out up to the current hour), register the example repo on the embedded
# defaults (SQLite registry, no services needed), show what was registered,
# materialize it into the offline and online stores, answer an online lookup
# and build a point-in-time training set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs and run this again" >&2
  exit 1
fi

step "Building quiver (first build compiles the dependencies: a few minutes)"
cargo build --locked -p quiver -p quiver-datagen
bin="$CARGO_TARGET_DIR/debug"
repo=feature_repo

step "Generating sample data into $repo/data"
"$bin/quiver-datagen" --out "$repo/data"

step "quiver plan"
"$bin/quiver" --repo "$repo" plan

step "quiver apply"
"$bin/quiver" --repo "$repo" apply

step "Registered feature views"
"$bin/quiver" --repo "$repo" list views

step "Registered feature services"
"$bin/quiver" --repo "$repo" list services

step "quiver describe driver_hourly_stats"
"$bin/quiver" --repo "$repo" describe driver_hourly_stats

# The sample data covers the last 14 days up to the current hour.
now=$(date -u +%Y-%m-%dT%H:00:00Z)
start=$(date -u -d '15 days ago' +%Y-%m-%dT00:00:00Z)
end=$(date -u -d '1 hour' +%Y-%m-%dT%H:00:00Z)

step "quiver materialize $start $end"
"$bin/quiver" --repo "$repo" materialize "$start" "$end"

step "Online lookup on the embedded store (quiver online)"
"$bin/quiver" --repo "$repo" online --entity driver_id=1001 --entity driver_id=1002 --entity driver_id=9999 \
  --features driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate,driver_hourly_stats:avg_daily_trips

step "A training set for five entity rows (quiver historical)"
entities="$repo/data/entities.csv"
{
  echo "driver_id,customer_id,event_timestamp,label"
  echo "1001,C00001,$now,1"
  echo "1002,C00002,$now,0"
  echo "1003,C00003,$(date -u -d '30 hours ago' +%Y-%m-%dT%H:%M:%SZ),1"
  echo "1004,C00004,$(date -u -d '20 days ago' +%Y-%m-%dT%H:%M:%SZ),0"
  echo "9999,C99999,$now,1"
} >"$entities"
"$bin/quiver" --repo "$repo" historical --entities "$entities" --service ride_ranking --out "$repo/data/training_set.csv"
column -s, -t <"$repo/data/training_set.csv" 2>/dev/null || cat "$repo/data/training_set.csv"

printf '\nDone. Try: %s --repo %s serve   (then POST /get-online-features or /get-historical-features)\n' "$bin/quiver" "$repo"
