#!/usr/bin/env bash
# Point-in-time join benchmark: `quiver historical` against DuckDB's ASOF JOIN on
# the same data, at two feature-table sizes and at several core counts.
#
#   bench/pit_join.sh [--scale small|full|large] [--cores LIST]
#
#   full  (default): 1M and 10M feature rows (10k / 100k drivers x 100 hourly rows,
#                    plus ~0.5% late corrections), a 1M-row entity frame
#   small:           10k and 100k feature rows, a 10k-row entity frame (quick check)
#   large:           100M feature rows (1M drivers x 100 hourly rows) and a
#                    10M-row entity frame (a big machine: ~40 GiB of RAM for DuckDB)
#   --cores LIST     the core counts to measure, comma-separated (e.g. 1,2,16;
#                    default: 1 and all cores, `nproc`)
#
# For each size it generates the data (quiver-datagen, fixed seed and end time),
# registers a feature repo and writes a deterministic entity frame; then at each
# core count C, pinned to cores 0..C-1 with taskset (util-linux), it materializes
# the repo (timed, rows/s), runs `quiver historical` under /usr/bin/time -v (wall
# time, peak RSS), runs the same join in DuckDB (--threads C) on the same source
# Parquet file (bench/duckdb_pit.py), and compares the two answers exactly
# (bench/compare.py). It prints quiver/DuckDB ratios and the speed-up from the
# fewest to the most cores. See bench/README.md.
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
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$BENCH_DIR/pit_join.sh"; } # the header comment

# --- arguments ---------------------------------------------------------------
SCALE=full
CORES_ARG=
while (($#)); do
    case $1 in
        --scale)
            (($# >= 2)) || die "--scale needs a value: small, full or large"
            SCALE=$2
            shift 2
            ;;
        --scale=*)
            SCALE=${1#--scale=}
            shift
            ;;
        --cores)
            (($# >= 2)) || die "--cores needs a value: a comma-separated list of core counts"
            CORES_ARG=$2
            shift 2
            ;;
        --cores=*)
            CORES_ARG=${1#--cores=}
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $1 (usage: bench/pit_join.sh [--scale small|full|large] [--cores LIST])" ;;
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
    large)
        LABELS=(100M)
        DRIVERS=(1000000)
        ENTITY_ROWS=10000000
        ;;
    *) die "--scale must be small, full or large, not '$SCALE'" ;;
esac

# The core counts, ascending, without repeats.
NPROC=$(nproc)
if [[ -n $CORES_ARG ]]; then
    [[ $CORES_ARG =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
        die "--cores takes core counts separated by commas (e.g. 1,2,16), not '$CORES_ARG'"
    mapfile -t CORES < <(tr ',' '\n' <<<"$CORES_ARG" | sort -nu)
else
    mapfile -t CORES < <(printf '%s\n' 1 "$NPROC" | sort -nu)
fi
((CORES[-1] <= NPROC)) || die "--cores: this machine has $NPROC cores, not ${CORES[-1]}"

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

# taskset, to pin each run to cores 0..C-1.
command -v taskset >/dev/null 2>&1 ||
    die "taskset is missing; install util-linux (apt-get install -y util-linux)"
taskset -c "0-$((CORES[-1] - 1))" true >/dev/null 2>&1 ||
    die "taskset -c 0-$((CORES[-1] - 1)) fails: cores 0..$((CORES[-1] - 1)) are not all usable here"

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
echo "machine:         $NPROC cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
echo "work dir:        $WORK"
echo "scale:           $SCALE (${LABELS[*]} feature rows, $ENTITY_ROWS entity rows)"
echo "cores measured:  ${CORES[*]} (each run pinned to cores 0..C-1; DuckDB with --threads C)"
if [[ $BUILD != release ]]; then
    echo "NOTE: measuring a $BUILD build of quiver: its times are not representative of a release build."
fi

# --- one size ------------------------------------------------------------------
# One row per size and core count.
R_LABEL=() R_CORES=() R_FROWS=() R_QS=() R_QRSS=() R_DS=() R_DRSS=() R_RATIO=() R_MRATIO=() R_MRPS=() R_IDENT=()
R_SPEEDUP=() # the speed-up lines, two per size
FAILED=0

# One core count C of one size, every command pinned to cores 0..C-1: materialize,
# quiver historical, DuckDB (--threads C), compare. Uses run_scale's label, dir,
# repo, start, end and frows.
run_cores() {
    local c=$1 s=${1}c
    local pin=(taskset -c "0-$(($1 - 1))")
    local t0 t1 m_secs m_rps q_status=ok q_secs q_rss d_status=ok d_secs d_rss ratio mratio ident cmp_out line

    t0=$(now)
    run_logged "$dir/materialize_$s.log" "${pin[@]}" "$QUIVER_BIN" --repo "$repo" --json \
        materialize "$start" "$end" --views "$VIEW"
    t1=$(now)
    m_secs=$(fsub "$t1" "$t0")
    m_rps=$(fdiv "$frows" "$m_secs")
    m_rps=${m_rps%.*}

    # quiver historical: wall time and peak RSS of the whole command.
    t0=$(now)
    if ! /usr/bin/time -v -o "$dir/quiver_$s.time" "${pin[@]}" "$QUIVER_BIN" --repo "$repo" --json historical \
        --entities "$dir/entities.parquet" --features "$FEATURES" --out "$dir/quiver_out_$s.parquet" \
        --max-rows "$ENTITY_ROWS" >"$dir/quiver_$s.log" 2>"$dir/quiver_$s.err"; then
        q_status="FAILED (exit status $(time_field "$dir/quiver_$s.time" 'Exit status'))"
        tail_log "$dir/quiver_$s.err"
        echo "quiver historical at $c cores $q_status: see $dir/quiver_$s.err"
    fi
    t1=$(now)
    if [[ $q_status == ok ]]; then q_secs=$(fsub "$t1" "$t0"); else q_secs=FAILED; fi
    q_rss=$(rss_mib "$dir/quiver_$s.time")

    # DuckDB on the generator's file (not quiver's offline store).
    if ! /usr/bin/time -v -o "$dir/duckdb_$s.time" "${pin[@]}" "$PY" "$BENCH_DIR/duckdb_pit.py" \
        --features "$repo/data/driver_stats.parquet" --entities "$dir/entities.parquet" \
        --out "$dir/duckdb_out_$s.parquet" --ttl-seconds "$TTL_SECONDS" --threads "$c" \
        >"$dir/duckdb_$s.log" 2>"$dir/duckdb_$s.err"; then
        d_status=FAILED
        tail_log "$dir/duckdb_$s.err"
        echo "duckdb_pit.py at $c cores FAILED: see $dir/duckdb_$s.err"
    fi
    d_secs=$(sed -n 's/^duckdb_seconds: //p' "$dir/duckdb_$s.log")
    if [[ -n $d_secs ]]; then d_secs=$(fsub "$d_secs" 0); else d_secs=n/a; fi
    d_rss=$(rss_mib "$dir/duckdb_$s.time")

    if [[ $q_status == ok && $d_status == ok ]]; then
        cmp_out=$("$PY" "$BENCH_DIR/compare.py" "$dir/quiver_out_$s.parquet" "$dir/duckdb_out_$s.parquet" \
            --entities "$dir/entities.parquet" 2>&1) || cmp_out="identical: no (compare.py failed)"$'\n'"$cmp_out"
        printf '%s\n' "$cmp_out" >"$dir/compare_$s.log"
        if grep -q '^identical: yes' <<<"$cmp_out"; then ident=yes; else ident=no; fi
    else
        cmp_out=
        ident=n/a
    fi
    [[ $q_status == ok && $d_status == ok && $ident == yes ]] || FAILED=1
    ratio=$(fdiv "$q_secs" "$d_secs")
    mratio=$(fdiv "$q_rss" "$d_rss")

    echo "cores $c: quiver $q_secs s (RSS $q_rss MiB), duckdb $d_secs s (RSS $d_rss MiB)," \
        "quiver/duckdb $ratio, memory quiver/duckdb $mratio, materialize $m_secs s ($m_rps rows/s), identical $ident"
    while IFS= read -r line; do
        [[ -z $line || $line == identical:* ]] || echo "  $line"
    done <<<"$cmp_out"

    R_LABEL+=("$label")
    R_CORES+=("$c")
    R_FROWS+=("$frows")
    R_QS+=("$q_secs")
    R_QRSS+=("$q_rss")
    R_DS+=("$d_secs")
    R_DRSS+=("$d_rss")
    R_RATIO+=("$ratio")
    R_MRATIO+=("$mratio")
    R_MRPS+=("$m_rps")
    R_IDENT+=("$ident")
}

run_scale() {
    local label=$1 drivers=$2
    local dir=$WORK/pit-$label
    local repo=$dir/repo
    local t0 t1 window start end frows c first=${#R_LABEL[@]} last sp

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
    echo "feature rows: $frows, entity rows: $ENTITY_ROWS, materialize window $start .. $end"
    echo "quiver: wall time of \`quiver historical\` ($BUILD build); duckdb: the COPY statement; RSS: process peak"

    for c in "${CORES[@]}"; do
        run_cores "$c"
    done

    last=$((${#R_LABEL[@]} - 1))
    if ((last > first)); then
        for sp in "quiver speed-up ${CORES[0]} -> ${CORES[-1]} cores: x$(fdiv "${R_QS[$first]}" "${R_QS[$last]}")" \
            "duckdb speed-up ${CORES[0]} -> ${CORES[-1]} cores: x$(fdiv "${R_DS[$first]}" "${R_DS[$last]}")"; do
            echo "$sp"
            R_SPEEDUP+=("$label: $sp")
        done
    fi
}

for i in "${!LABELS[@]}"; do
    run_scale "${LABELS[$i]}" "${DRIVERS[$i]}"
done

# --- summary -----------------------------------------------------------------
step "Summary ($SCALE scale, quiver $BUILD build, cores ${CORES[*]} of $NPROC, $ENTITY_ROWS entity rows)"
fmt='%-6s %5s %12s %9s %11s %9s %11s %8s %7s %15s %9s\n'
# shellcheck disable=SC2059 # the format is a fixed string above
printf "$fmt" size cores feature_rows quiver_s quiver_mib duckdb_s duckdb_mib q/d_time q/d_mem materialize_rps identical
for i in "${!R_LABEL[@]}"; do
    # shellcheck disable=SC2059
    printf "$fmt" "${R_LABEL[$i]}" "${R_CORES[$i]}" "${R_FROWS[$i]}" "${R_QS[$i]}" "${R_QRSS[$i]}" \
        "${R_DS[$i]}" "${R_DRSS[$i]}" "${R_RATIO[$i]}" "${R_MRATIO[$i]}" "${R_MRPS[$i]}" "${R_IDENT[$i]}"
done
((${#R_SPEEDUP[@]} == 0)) || printf '%s\n' "${R_SPEEDUP[@]}"
# Rows j and j + (number of core counts) are the two sizes at the same core count.
if ((${#LABELS[@]} == 2 && ${#R_LABEL[@]} == 2 * ${#CORES[@]})); then
    for j in "${!CORES[@]}"; do
        k=$((j + ${#CORES[@]}))
        echo "scaling ${LABELS[0]} -> ${LABELS[1]} feature rows (x$(fdiv "${R_FROWS[$k]}" "${R_FROWS[$j]}") rows)" \
            "at ${CORES[$j]} cores: quiver time x$(fdiv "${R_QS[$k]}" "${R_QS[$j]}")," \
            "peak RSS x$(fdiv "${R_QRSS[$k]}" "${R_QRSS[$j]}"); duckdb time x$(fdiv "${R_DS[$k]}" "${R_DS[$j]}")"
    done
fi
echo "outputs and logs: $WORK/pit-*"
echo "targets: quiver <= 0.8x duckdb at every size and core count; speed-up 1->2 cores >= 1.8x;" \
    "quiver peak memory <= 1/4 of duckdb's"

if ((FAILED)); then
    echo "RESULT: a run failed or the answers differ (see above)" >&2
    exit 1
fi
