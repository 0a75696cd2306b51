#!/usr/bin/env bash
# Point-in-time join benchmark: `quiver historical` against DuckDB's ASOF JOIN on
# the same data, at two feature-table sizes.
#
#   bench/pit_join.sh [--scale small|full]
#
#   full  (default): 1M and 10M feature rows (10k / 100k drivers x 100 hourly rows,
#                    plus ~0.5% late corrections), a 1M-row entity frame
#   small:           10k and 100k feature rows, a 10k-row entity frame (quick check)
#
# For each size it generates the data (quiver-datagen, fixed seed and end time),
# registers and materializes a feature repo, writes a deterministic entity frame,
# runs `quiver historical` under /usr/bin/time -v (wall time, peak RSS), runs the
# same join in DuckDB on the same source Parquet file (bench/duckdb_pit.py), and
# compares the two answers exactly (bench/compare.py). See bench/README.md.
#
# Environment:
#   QUIVER_BIN          the quiver binary to measure (default:
#                       $CARGO_TARGET_DIR/release/quiver, built if absent)
#   QUIVER_DATAGEN_BIN  the data generator (default: quiver-datagen beside QUIVER_BIN)
#   QUIVER_BENCH_DIR    work directory (default: /tmp/quiver-bench); each size gets
#                       a subdirectory that is replaced on every run
#   CARGO_TARGET_DIR    default: $HOME/.cache/quiver/target
#   XDG_CACHE_HOME      the Python venv (duckdb, pyarrow) lives in
#                       ${XDG_CACHE_HOME:-$HOME/.cache}/quiver/bench-venv
set -euo pipefail

cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
BENCH_DIR=$REPO_ROOT/bench

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/quiver/bench-venv"
WORK="${QUIVER_BENCH_DIR:-/tmp/quiver-bench}"
# The repo is always given with --repo and uses its own SQLite registry.
unset QUIVER_REPO QUIVER_REGISTRY

# Fixed data: the same options always give the same files.
HOURS=100
DATA_END=2024-01-10T00:00:00Z
DATA_SEED=42
ENTITY_SEED=7
TTL_SECONDS=$((2 * 24 * 3600)) # driver_hourly_stats: ttl 2d
VIEW=driver_hourly_stats
FEATURES="$VIEW:conv_rate,$VIEW:acc_rate,$VIEW:avg_daily_trips"

die() {
    echo "error: $*" >&2
    exit 1
}
step() { printf '\n==> %s\n' "$*"; }
usage() { sed -n '2,25s/^# \{0,1\}//p' "$BENCH_DIR/pit_join.sh"; }

# --- arguments ---------------------------------------------------------------
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
            usage
            exit 0
            ;;
        *) die "unknown argument: $1 (usage: bench/pit_join.sh [--scale small|full])" ;;
    esac
done

case $SCALE in
    small)
        LABELS=(10k 100k)
        DRIVERS=(100 1000)
        ENTITY_ROWS=10000
        ;;
    full)
        LABELS=(1M 10M)
        DRIVERS=(10000 100000)
        ENTITY_ROWS=1000000
        ;;
    *) die "--scale must be small or full, not '$SCALE'" ;;
esac

# --- helpers -----------------------------------------------------------------
now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        echo "${EPOCHREALTIME/,/.}"
    else
        date +%s.%N
    fi
}
# fsub A B -> A - B; fdiv A B -> A / B (n/a when B is 0 or either is not a number)
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
fdiv() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
        printf "%.2f", a / b }'
}
# A value from a `/usr/bin/time -v -o FILE` report.
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1" | head -n 1; }
rss_mib() {
    local kb
    kb=$(time_field "$1" 'Maximum resident set size (kbytes)')
    if [[ -n $kb ]]; then awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }'; else echo "n/a"; fi
}
# Print the last lines of a log, indented, to stderr.
tail_log() {
    echo "--- last lines of $1:" >&2
    tail -n 20 "$1" | sed 's/^/    /' >&2
}
run_logged() { # LOG CMD... : run CMD with stdout+stderr to LOG, showing the log on failure
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail_log "$log"
        die "failed: $*"
    fi
}

# --- prerequisites -----------------------------------------------------------
step "Prerequisites"

# GNU time, for the peak RSS.
if [[ ! -x /usr/bin/time ]]; then
    echo "/usr/bin/time is missing: installing the Debian package 'time'"
    sudo_cmd=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "/usr/bin/time is missing; install it (apt-get install -y time) and run this again"
        sudo_cmd=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "/usr/bin/time is missing and there is no apt-get; install GNU time"
    "${sudo_cmd[@]}" apt-get install -y time >/dev/null ||
        { "${sudo_cmd[@]}" apt-get update >/dev/null && "${sudo_cmd[@]}" apt-get install -y time >/dev/null; } ||
        die "could not install the 'time' package"
fi
/usr/bin/time -v -o /dev/null true 2>/dev/null || die "/usr/bin/time does not support -v -o (GNU time is needed)"

# The quiver binaries.
if [[ -n ${QUIVER_BIN:-} ]]; then
    [[ -x $QUIVER_BIN ]] || die "QUIVER_BIN=$QUIVER_BIN is not an executable file"
else
    QUIVER_BIN=$CARGO_TARGET_DIR/release/quiver
    if [[ ! -x $QUIVER_BIN || ! -x $CARGO_TARGET_DIR/release/quiver-datagen ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo is not installed and $QUIVER_BIN does not exist; install Rust or set QUIVER_BIN"
        echo "building the release binaries (a long build the first time)"
        (cd "$REPO_ROOT" && cargo build --release --locked -p quiver -p quiver-datagen)
    fi
fi
QUIVER_BIN=$(cd "$(dirname -- "$QUIVER_BIN")" && pwd -P)/$(basename -- "$QUIVER_BIN")
DATAGEN_BIN=${QUIVER_DATAGEN_BIN:-$(dirname -- "$QUIVER_BIN")/quiver-datagen}
[[ -x $DATAGEN_BIN ]] || die "quiver-datagen not found at $DATAGEN_BIN (build it, or set QUIVER_DATAGEN_BIN)"
case $QUIVER_BIN in
    */release/*) BUILD=release ;;
    */debug/*) BUILD=debug ;;
    *) BUILD="unknown profile" ;;
esac

# The Python venv with DuckDB and pyarrow, reused across runs.
if ! "$VENV/bin/python" -c 'import duckdb, pyarrow' >/dev/null 2>&1; then
    echo "creating the Python venv $VENV (duckdb, pyarrow from PyPI)"
    command -v python3 >/dev/null 2>&1 || die "python3 is needed for the DuckDB side of the benchmark"
    mkdir -p "$(dirname -- "$VENV")"
    python3 -m venv --clear "$VENV" ||
        die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'duckdb>=1.1' 'pyarrow>=15' ||
        die "could not install duckdb and pyarrow into $VENV"
fi
PY=$VENV/bin/python
PY_VERSIONS=$("$PY" -c 'import duckdb, pyarrow, platform; print(f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, python {platform.python_version()}")')

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd -P)

echo "quiver binary:   $QUIVER_BIN ($BUILD build, $("$QUIVER_BIN" --version 2>/dev/null || echo '?'), built $(date -u -r "$QUIVER_BIN" '+%Y-%m-%dT%H:%M:%SZ'))"
echo "quiver-datagen:  $DATAGEN_BIN"
echo "python side:     $PY_VERSIONS ($VENV)"
echo "machine:         $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "work dir:        $WORK"
echo "scale:           $SCALE (${LABELS[*]} feature rows, $ENTITY_ROWS entity rows)"
if [[ $BUILD != release ]]; then
    echo "NOTE: measuring a $BUILD build of quiver: its times are not representative of a release build."
fi

# --- one size ------------------------------------------------------------------
declare -a R_LABEL R_FROWS R_EROWS R_QS R_QRSS R_DS R_RATIO R_IDENT
FAILED=0

run_scale() {
    local label=$1 drivers=$2
    local dir=$WORK/pit-$label
    local repo=$dir/repo
    local t0 t1 window start end frows
    local q_status=ok q_secs q_self d_secs d_rss d_status=ok ratio ident cmp_out

    step "$label feature rows ($drivers drivers x $HOURS hours), $ENTITY_ROWS entity rows"
    rm -rf -- "$dir"
    mkdir -p "$dir"

    # A feature repo with the example definitions; its data/ replaced by the bench data.
    run_logged "$dir/init.log" "$QUIVER_BIN" init "$repo" --drivers 1 --customers 1 --hours 1 --days 1
    t0=$(now)
    run_logged "$dir/datagen.log" "$DATAGEN_BIN" --out "$repo/data" --drivers "$drivers" \
        --customers 1 --hours "$HOURS" --days 1 --end "$DATA_END" --seed "$DATA_SEED"
    t1=$(now)
    echo "generated data:        $(fsub "$t1" "$t0") s  ($repo/data/driver_stats.parquet)"
    run_logged "$dir/apply.log" "$QUIVER_BIN" --repo "$repo" apply

    t0=$(now)
    window=$("$PY" "$BENCH_DIR/gen_entities.py" --features "$repo/data/driver_stats.parquet" \
        --rows "$ENTITY_ROWS" --seed "$ENTITY_SEED" --out "$dir/entities.parquet" --print-window 2>"$dir/entities.log") ||
        {
            tail_log "$dir/entities.log"
            die "entity frame generation failed"
        }
    t1=$(now)
    read -r start end frows <<<"$window"
    echo "entity frame:          $(fsub "$t1" "$t0") s  ($dir/entities.parquet)"

    t0=$(now)
    run_logged "$dir/materialize.log" "$QUIVER_BIN" --repo "$repo" --json materialize "$start" "$end" --views "$VIEW"
    t1=$(now)
    echo "quiver materialize:    $(fsub "$t1" "$t0") s  (window $start .. $end)"

    # quiver historical: wall time and peak RSS of the whole command.
    t0=$(now)
    if ! /usr/bin/time -v -o "$dir/quiver.time" "$QUIVER_BIN" --repo "$repo" --json historical \
        --entities "$dir/entities.parquet" --features "$FEATURES" --out "$dir/quiver_out.parquet" \
        --max-rows "$ENTITY_ROWS" >"$dir/quiver.log" 2>"$dir/quiver.err"; then
        q_status="FAILED (exit status $(time_field "$dir/quiver.time" 'Exit status'))"
        tail_log "$dir/quiver.err"
    fi
    t1=$(now)
    q_secs=$(fsub "$t1" "$t0")
    q_self=$(sed -n 's/^[[:space:]]*"seconds": \([0-9.]*\).*/\1/p' "$dir/quiver.log" | head -n 1)

    # DuckDB on the generator's file (not quiver's offline store).
    if ! /usr/bin/time -v -o "$dir/duckdb.time" "$PY" "$BENCH_DIR/duckdb_pit.py" \
        --features "$repo/data/driver_stats.parquet" --entities "$dir/entities.parquet" \
        --out "$dir/duckdb_out.parquet" --ttl-seconds "$TTL_SECONDS" >"$dir/duckdb.log" 2>"$dir/duckdb.err"; then
        d_status=FAILED
        tail_log "$dir/duckdb.err"
        echo "duckdb_pit.py FAILED: see $dir/duckdb.err"
    fi
    d_secs=$(sed -n 's/^duckdb_seconds: //p' "$dir/duckdb.log")
    if [[ -n $d_secs ]]; then d_secs=$(fsub "$d_secs" 0); else d_secs=n/a; fi
    d_rss=$(rss_mib "$dir/duckdb.time")

    if [[ $q_status == ok && $d_status == ok ]]; then
        cmp_out=$("$PY" "$BENCH_DIR/compare.py" "$dir/quiver_out.parquet" "$dir/duckdb_out.parquet" \
            --entities "$dir/entities.parquet" 2>&1) || cmp_out="identical: no (compare.py failed)"$'\n'"$cmp_out"
        printf '%s\n' "$cmp_out" >"$dir/compare.log"
        if grep -q '^identical: yes' <<<"$cmp_out"; then ident=yes; else ident=no; fi
    else
        cmp_out="identical: n/a (quiver: $q_status, duckdb: $d_status)"
        ident=n/a
    fi
    if [[ $q_status == ok ]]; then ratio=$(fdiv "$q_secs" "$d_secs"); else ratio=n/a; fi
    [[ $q_status == ok && $d_status == ok && $ident == yes ]] || FAILED=1

    echo
    echo "feature rows: $frows"
    echo "entity rows: $ENTITY_ROWS"
    echo "quiver seconds: $q_secs  (wall time of \`quiver historical\`, $BUILD build; self-reported ${q_self:-n/a} s)"
    [[ $q_status == ok ]] || echo "quiver historical $q_status: see $dir/quiver.err"
    echo "quiver peak RSS: $(rss_mib "$dir/quiver.time") MiB"
    echo "duckdb seconds: $d_secs  (the COPY statement; duckdb process peak RSS $d_rss MiB)"
    echo "ratio quiver/duckdb: $ratio"
    local line
    while IFS= read -r line; do
        [[ $line == identical:* ]] || echo "  $line"
    done <<<"$cmp_out"
    echo "identical: $ident"

    R_LABEL+=("$label")
    R_FROWS+=("$frows")
    R_EROWS+=("$ENTITY_ROWS")
    if [[ $q_status == ok ]]; then R_QS+=("$q_secs"); else R_QS+=(FAILED); fi
    R_QRSS+=("$(rss_mib "$dir/quiver.time")")
    R_DS+=("$d_secs")
    R_RATIO+=("$ratio")
    R_IDENT+=("$ident")
}

for i in "${!LABELS[@]}"; do
    run_scale "${LABELS[$i]}" "${DRIVERS[$i]}"
done

# --- summary -----------------------------------------------------------------
step "Summary ($SCALE scale, quiver $BUILD build, $(nproc) cores)"
fmt='%-6s %12s %11s %10s %16s %10s %14s %10s\n'
# shellcheck disable=SC2059 # the format is a fixed string above
printf "$fmt" size feature_rows entity_rows quiver_s quiver_rss_mib duckdb_s quiver/duckdb identical
for i in "${!R_LABEL[@]}"; do
    # shellcheck disable=SC2059
    printf "$fmt" "${R_LABEL[$i]}" "${R_FROWS[$i]}" "${R_EROWS[$i]}" "${R_QS[$i]}" "${R_QRSS[$i]}" \
        "${R_DS[$i]}" "${R_RATIO[$i]}" "${R_IDENT[$i]}"
done
if ((${#R_LABEL[@]} == 2)); then
    echo "scaling ${R_LABEL[0]} -> ${R_LABEL[1]} feature rows (x$(fdiv "${R_FROWS[1]}" "${R_FROWS[0]}") rows):" \
        "quiver time x$(fdiv "${R_QS[1]}" "${R_QS[0]}"), peak RSS x$(fdiv "${R_QRSS[1]}" "${R_QRSS[0]}");" \
        "duckdb time x$(fdiv "${R_DS[1]}" "${R_DS[0]}")"
fi
echo "outputs and logs: $WORK/pit-*"

if ((FAILED)); then
    echo "RESULT: a run failed or the answers differ (see above)" >&2
    exit 1
fi
