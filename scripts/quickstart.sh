#!/usr/bin/env bash
# The README's main command: build quiver, generate the example repo's sample data
# (laid out up to the current hour), register the example repo on the embedded
# defaults (SQLite registry, no services needed) and show what was registered.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs and run this again" >&2
  exit 1
fi

step "Building quiver (first build compiles the dependencies: a few minutes)"
cargo build --locked --bin quiver --bin quiver-datagen
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

printf '\nDone. Try: %s --repo %s list entities\n' "$bin/quiver" "$repo"
