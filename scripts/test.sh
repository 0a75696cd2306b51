#!/usr/bin/env bash
# quiver's test command (CI runs exactly this through .ci/run).
#
# 1. Makes sure the services the tests need are reachable on loopback, starting
#    (and if necessary installing) them: PostgreSQL, Redis, a three-node Redis
#    Cluster and a Kafka-protocol broker (tansu, built once from crates.io into
#    ~/.cache/quiver, about 10 minutes on 2 cores, then started in memory).
# 2. Runs cargo fmt --check, clippy -D warnings and the whole test suite
#    (cargo-nextest when installed, plus doctests; else cargo test).
#
# Tests never skip: when a service cannot be brought up the script fails with an
# `error:` line saying how to provide it.
#
# Environment:
#   QUIVER_TEST_POSTGRES_URL   use this PostgreSQL instead of 127.0.0.1:5432
#                              (the user needs CREATEDB; tests create scratch databases)
#   QUIVER_TEST_REDIS_URL      use this Redis instead of 127.0.0.1:6379
#   QUIVER_TEST_REDIS_CLUSTER_URL  use this Redis Cluster node instead of starting
#                              three local nodes on 127.0.0.1:7000-7002
#   QUIVER_TEST_KAFKA_BOOTSTRAP  use this Kafka cluster (host:port) instead of the
#                              broker on 127.0.0.1:9092 (started when absent)
#   QUIVER_TEST_VENV           use this Python venv (with scripts/requirements-test.txt
#                              installed) instead of $HOME/.cache/quiver/venv-test
#                              (created, and re-created when that file changes)
#   QUIVER_TEST_FEAST_VENV     likewise for scripts/requirements-feast.txt (Feast's client)
#                              instead of $HOME/.cache/quiver/venv-feast
#   QUIVER_TEST_SERVICES_ONLY  =1: stop after the services and the venv are ensured (no cargo)
#   QUIVER_TEST_WAIT_SECS      how long to wait for a service to become ready (30)
#   CARGO_TARGET_DIR           default: $HOME/.cache/quiver/target (shared by clones)
#
# Adding a service: write ensure_<name> (it must export QUIVER_TEST_<NAME>_URL
# and print one `<name>: ...` status line) and call it from ensure_services.
set -euo pipefail

cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiver/target}"
STATE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/quiver"
WAIT_SECS="${QUIVER_TEST_WAIT_SECS:-30}"

# Where the local services live when no URL is given.
PG_PORT=5432
REDIS_PORT=6379

# ---------------------------------------------------------------------------
# helpers

die() {
    echo "error: $*" >&2
    exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command as root: directly when root, through sudo when available.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        return 1
    fi
}

can_be_root() { [[ $(id -u) -eq 0 ]] || have sudo; }

# Hides the password of scheme://user:password@host/... for printing.
redact() { sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*):[^@/?#]*@#\1:***@#' <<<"$1"; }

# Polls `"$@"` once a second until it succeeds or WAIT_SECS pass.
wait_until() {
    local deadline=$((SECONDS + WAIT_SECS))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# Installs Debian packages quietly; the log is shown only on failure.
apt_install() {
    have apt-get || return 1
    can_be_root || return 1
    mkdir -p "$STATE_DIR"
    local log="$STATE_DIR/apt-install.log"
    echo "installing $* with apt-get (log: $log)" >&2
    if ! {
        as_root apt-get -o DPkg::Lock::Timeout=300 update -qq &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
                install -y -qq --no-install-recommends "$@"
    } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        return 1
    fi
}

# host and port of a URL: prints "host port" (port defaults to $2).
url_host_port() {
    local rest=${1#*://}
    rest=${rest%%[/?#]*}
    rest=${rest##*@}
    local host port
    if [[ $rest == \[* ]]; then
        host=${rest%%]*}
        host=${host#[}
        port=${rest#*]}
        port=${port#:}
    elif [[ $rest == *:* ]]; then
        host=${rest%%:*}
        port=${rest##*:}
    else
        host=$rest
        port=
    fi
    echo "${host:-127.0.0.1} ${port:-$2}"
}

# Plain TCP probe (when no client tool is installed).
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ---------------------------------------------------------------------------
# PostgreSQL

# psql against the local server over TCP, as `postgres`, never with a password.
pg_local_psql() {
    env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 \
        psql -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

pg_local_ready() { pg_isready -q -t 3 -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }

pg_trust_ok() { pg_local_psql -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }

# "version cluster" of the local Debian cluster on PG_PORT (empty: none).
pg_local_cluster() {
    have pg_lsclusters || return 0
    pg_lsclusters --no-header 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

pg_installed() {
    have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Starts the local cluster on PG_PORT, creating one if there is none.
pg_start_local() {
    local cluster version name
    cluster=$(pg_local_cluster)
    if [[ -z $cluster ]]; then
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
        [[ -n $version ]] || return 1
        as_root pg_createcluster --port "$PG_PORT" "$version" main >/dev/null 2>&1 || return 1
        cluster="$version main"
    fi
    read -r version name <<<"$cluster"
    if ! as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" status >/dev/null 2>&1; then
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >/dev/null 2>&1 || return 1
    fi
    wait_until pg_local_ready
}

# Lets `postgres` connect over loopback TCP without a password (trust), on the
# local Debian cluster: prepends the lines to pg_hba.conf (first match wins).
pg_configure_trust() {
    local cluster version name hba
    cluster=$(pg_local_cluster)
    [[ -n $cluster ]] || return 1
    read -r version name <<<"$cluster"
    hba="/etc/postgresql/$version/$name/pg_hba.conf"
    as_root test -f "$hba" || return 1
    if ! as_root grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" ||
        ! as_root grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+trust' "$hba"; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        as_root sh -c '
            tmp=$(mktemp) &&
            { printf "%s\n" \
                "# added by quiver scripts/test.sh: passwordless loopback access for tests" \
                "host all all 127.0.0.1/32 trust" \
                "host all all ::1/128 trust"
              cat "$1"; } >"$tmp" &&
            cat "$tmp" >"$1" && rm -f "$tmp"' sh "$hba" || return 1
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload >/dev/null 2>&1 || return 1
    wait_until pg_trust_ok
}

ensure_postgres() {
    local url how installed=0

    if [[ -n ${QUIVER_TEST_POSTGRES_URL:-} ]]; then
        url=$QUIVER_TEST_POSTGRES_URL
        local ok=0
        if have psql; then
            wait_until env PGCONNECT_TIMEOUT=5 psql -X -q -w "$url" -tAc 'SELECT 1' >/dev/null 2>&1 && ok=1
        elif have pg_isready; then
            wait_until pg_isready -q -t 3 -d "$url" >/dev/null 2>&1 && ok=1
        else
            # shellcheck disable=SC2046 # "host port"
            wait_until tcp_open $(url_host_port "$url" 5432) && ok=1
        fi
        ((ok)) || die "postgres: cannot connect to QUIVER_TEST_POSTGRES_URL=$(redact "$url"): check the server is up and the credentials are right (the user needs CREATEDB), or unset it to use/start a local server on 127.0.0.1:$PG_PORT"
        echo "postgres: using QUIVER_TEST_POSTGRES_URL=$(redact "$url")"
        return
    fi

    url="postgres://postgres@127.0.0.1:$PG_PORT/test"
    if have pg_isready && pg_local_ready; then
        how="using running server at 127.0.0.1:$PG_PORT"
    else
        if ! pg_installed; then
            apt_install postgresql postgresql-client ||
                die "postgres: nothing is listening on 127.0.0.1:$PG_PORT and PostgreSQL could not be installed (needs apt-get and root or sudo); start a server and set QUIVER_TEST_POSTGRES_URL=postgres://USER[:PASSWORD]@HOST:PORT/DB (USER needs CREATEDB)"
            installed=1
        fi
        if ! pg_local_ready; then
            pg_start_local ||
                die "postgres: could not start the local PostgreSQL cluster on 127.0.0.1:$PG_PORT (needs root or sudo; see /var/log/postgresql/); start a server yourself and set QUIVER_TEST_POSTGRES_URL=postgres://USER[:PASSWORD]@HOST:PORT/DB"
        fi
        if ((installed)); then
            how="installed and started local server at 127.0.0.1:$PG_PORT"
        else
            how="started local server at 127.0.0.1:$PG_PORT"
        fi
    fi

    have psql || die "postgres: psql is not installed (apt-get install postgresql-client); it is needed to prepare the test database, or set QUIVER_TEST_POSTGRES_URL"
    if ((installed)) || ! pg_trust_ok; then
        pg_configure_trust ||
            die "postgres: user postgres cannot connect to 127.0.0.1:$PG_PORT without a password and pg_hba.conf could not be changed to trust loopback; set QUIVER_TEST_POSTGRES_URL=postgres://USER:PASSWORD@127.0.0.1:$PG_PORT/DB (USER needs CREATEDB)"
    fi

    if [[ $(pg_local_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null) != 1 ]]; then
        # A concurrent run may create it first: re-check instead of failing.
        pg_local_psql -d postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
    fi
    pg_local_psql -d test -tAc 'SELECT 1' >/dev/null 2>&1 ||
        die "postgres: cannot connect to $url (the test database could not be created); set QUIVER_TEST_POSTGRES_URL to a database the tests may use"

    export QUIVER_TEST_POSTGRES_URL=$url
    echo "postgres: $how ($url)"
}

# ---------------------------------------------------------------------------
# Redis

# Prints the reply of PING to the Redis at host:port (redis-cli or raw TCP).
redis_ping() {
    local host=$1 port=$2
    if have redis-cli; then
        timeout 5 redis-cli -h "$host" -p "$port" ping 2>/dev/null
    else
        (
            exec 3<>"/dev/tcp/$host/$port" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 5 reply <&3 || exit 1
            printf '%s\n' "${reply%$'\r'}" | sed 's/^+//'
        ) 2>/dev/null
    fi
}

redis_local_ok() { [[ $(redis_ping 127.0.0.1 "$REDIS_PORT") == PONG ]]; }

redis_start_local() {
    mkdir -p "$STATE_DIR"
    local major binds=(127.0.0.1)
    major=$(redis-server --version 2>/dev/null | sed -nE 's/.* v=([0-9]+)\..*/\1/p')
    # "-::1": also bind IPv6 loopback when the host has it (Redis >= 7 syntax).
    if ((${major:-0} >= 7)); then binds+=(-::1); fi
    # Daemonized, so it outlives this script; nothing is persisted.
    redis-server --daemonize yes --bind "${binds[@]}" --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$STATE_DIR" --pidfile "$STATE_DIR/redis-$REDIS_PORT.pid" \
        --logfile "$STATE_DIR/redis-$REDIS_PORT.log" >/dev/null 2>&1 || return 1
    wait_until redis_local_ok
}

ensure_redis() {
    local url how

    if [[ -n ${QUIVER_TEST_REDIS_URL:-} ]]; then
        url=$QUIVER_TEST_REDIS_URL
        local ok=0
        if have redis-cli; then
            # shellcheck disable=SC2016
            wait_until bash -c '[[ $(timeout 5 redis-cli -u "$1" ping 2>/dev/null) == PONG ]]' sh "$url" && ok=1
        else
            # shellcheck disable=SC2046 # "host port"
            wait_until tcp_open $(url_host_port "$url" 6379) && ok=1
        fi
        ((ok)) || die "redis: no PONG from QUIVER_TEST_REDIS_URL=$(redact "$url"): check the server is up and the URL (redis://[:PASSWORD@]HOST:PORT[/DB]), or unset it to use/start a local server on 127.0.0.1:$REDIS_PORT"
        echo "redis: using QUIVER_TEST_REDIS_URL=$(redact "$url")"
        return
    fi

    url="redis://127.0.0.1:$REDIS_PORT"
    if redis_local_ok; then
        how="using running server at 127.0.0.1:$REDIS_PORT"
    else
        if ! have redis-server; then
            apt_install redis-server ||
                die "redis: nothing answers on 127.0.0.1:$REDIS_PORT and redis-server could not be installed (needs apt-get and root or sudo); start a server and set QUIVER_TEST_REDIS_URL=redis://HOST:PORT"
            how="installed and started redis-server on 127.0.0.1:$REDIS_PORT"
        else
            how="started redis-server on 127.0.0.1:$REDIS_PORT"
        fi
        # The package may have started its own service already.
        if redis_local_ok; then
            how="using server started by the redis-server package at 127.0.0.1:$REDIS_PORT"
        else
            redis_start_local ||
                die "redis: could not start redis-server on 127.0.0.1:$REDIS_PORT (log: $STATE_DIR/redis-$REDIS_PORT.log; is the port taken?); start a server and set QUIVER_TEST_REDIS_URL=redis://HOST:PORT"
        fi
    fi

    export QUIVER_TEST_REDIS_URL=$url
    echo "redis: $how ($url)"
}

# ---------------------------------------------------------------------------
# Redis Cluster (three masters on loopback, for the online store's cluster mode)

CLUSTER_PORTS=(7000 7001 7002)

cluster_ok() {
    [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p') == ok ]]
}

ensure_redis_cluster() {
    local url how port dir
    if [[ -n ${QUIVER_TEST_REDIS_CLUSTER_URL:-} ]]; then
        echo "redis cluster: using QUIVER_TEST_REDIS_CLUSTER_URL=$(redact "$QUIVER_TEST_REDIS_CLUSTER_URL")"
        return
    fi
    url="redis://127.0.0.1:${CLUSTER_PORTS[0]}"
    if have redis-cli && cluster_ok; then
        how="using running cluster"
    else
        have redis-server && have redis-cli ||
            die "redis cluster: redis-server and redis-cli are needed to start a test cluster (apt-get install redis-server), or set QUIVER_TEST_REDIS_CLUSTER_URL"
        for port in "${CLUSTER_PORTS[@]}"; do
            dir="$STATE_DIR/redis-cluster-$port"
            mkdir -p "$dir"
            # A node left from an earlier run is stopped and forgotten: the cluster is rebuilt.
            timeout 5 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
            rm -f "$dir/nodes.conf"
            redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
                --cluster-config-file "$dir/nodes.conf" --save "" --appendonly no --dir "$dir" \
                --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null 2>&1 ||
                die "redis cluster: could not start redis-server on 127.0.0.1:$port (log: $dir/redis.log)"
        done
        for port in "${CLUSTER_PORTS[@]}"; do
            wait_until redis_ping_is_pong "$port" || die "redis cluster: node 127.0.0.1:$port did not answer"
        done
        local nodes=()
        for port in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
        timeout 60 redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$STATE_DIR/redis-cluster-create.log" 2>&1 ||
            die "redis cluster: creating the cluster failed (log: $STATE_DIR/redis-cluster-create.log)"
        wait_until cluster_ok || die "redis cluster: the cluster did not reach state ok"
        how="started a 3-node cluster"
    fi
    export QUIVER_TEST_REDIS_CLUSTER_URL=$url
    echo "redis cluster: $how ($url)"
}

redis_ping_is_pong() { [[ $(redis_ping 127.0.0.1 "$1") == PONG ]]; }

# ---------------------------------------------------------------------------
# Kafka: a real Kafka-protocol broker. There is no Kafka package or Docker on
# the machines this runs on, so the Apache-licensed tansu broker is built from
# crates.io once and started with in-memory storage.

KAFKA_PORT=9092
TANSU_VERSION=0.6.0
TANSU_ROOT="$STATE_DIR/tansu-$TANSU_VERSION"

kafka_listening() { tcp_open 127.0.0.1 "$KAFKA_PORT"; }

ensure_kafka() {
    local bootstrap how tansu log
    if [[ -n ${QUIVER_TEST_KAFKA_BOOTSTRAP:-} ]]; then
        bootstrap=$QUIVER_TEST_KAFKA_BOOTSTRAP
        # shellcheck disable=SC2046 # "host port"
        wait_until tcp_open $(url_host_port "tcp://${bootstrap%%,*}" 9092) ||
            die "kafka: nothing listens at QUIVER_TEST_KAFKA_BOOTSTRAP=$bootstrap; start the broker or unset it to start one on 127.0.0.1:$KAFKA_PORT"
        echo "kafka: using QUIVER_TEST_KAFKA_BOOTSTRAP=$bootstrap"
        return
    fi
    bootstrap="127.0.0.1:$KAFKA_PORT"
    if kafka_listening; then
        how="using the broker running at $bootstrap"
    else
        mkdir -p "$STATE_DIR"
        tansu="$TANSU_ROOT/bin/tansu"
        if [[ ! -x $tansu ]]; then
            log="$STATE_DIR/tansu-install.log"
            echo "kafka: building the tansu broker $TANSU_VERSION from crates.io, once (about 10 minutes on 2 cores; log: $log)" >&2
            # Its own temporary target dir: the project's stays small.
            if ! env -u CARGO_TARGET_DIR cargo install "tansu@$TANSU_VERSION" --locked --features dynostore \
                --root "$TANSU_ROOT" >"$log" 2>&1; then
                tail -n 20 "$log" >&2
                die "kafka: building tansu failed (log: $log); or start a Kafka broker and set QUIVER_TEST_KAFKA_BOOTSTRAP=HOST:PORT"
            fi
        fi
        # Its own session, so it outlives this script like the other services.
        setsid "$tansu" broker --listener-url "tcp://$bootstrap" --advertised-listener-url "tcp://$bootstrap" \
            --storage-engine memory://tansu/ >"$STATE_DIR/tansu.log" 2>&1 </dev/null &
        echo $! >"$STATE_DIR/tansu.pid"
        wait_until kafka_listening ||
            die "kafka: tansu did not start listening on $bootstrap (log: $STATE_DIR/tansu.log)"
        how="started tansu $TANSU_VERSION at $bootstrap (in-memory storage)"
    fi
    export QUIVER_TEST_KAFKA_BOOTSTRAP=$bootstrap
    echo "kafka: $how"
}

# ---------------------------------------------------------------------------
# Python test venvs: the tools some end-to-end tests run, pinned in a
# requirements file each and installed from PyPI with pip. A venv is kept
# between runs and re-created only when its requirements file changes (a stamp
# file in the venv holds its hash).
#   venv-test   scripts/requirements-test.txt   schemathesis, openapi-spec-validator (tests/openapi.rs)
#   venv-feast  scripts/requirements-feast.txt  Feast's client, feast==0.67.0 (tests/feast_client.rs)
# Feast has a venv of its own: its pins and schemathesis's need not agree.

# ensure_venv NAME REQUIREMENTS VAR: makes $STATE_DIR/NAME from REQUIREMENTS
# (unless VAR names a venv already) and exports VAR.
ensure_venv() {
    local name=$1 requirements=$2 var=$3 venv stamp wanted log
    if [[ -n ${!var:-} ]]; then
        [[ -x ${!var}/bin/python ]] ||
            die "$name: $var=${!var} has no bin/python; unset it to create $STATE_DIR/$name"
        echo "$name: using $var=${!var}"
        return
    fi
    venv="$STATE_DIR/$name"
    stamp="$venv/.requirements.sha256"
    wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$wanted" ]]; then
        echo "$name: up to date ($venv)"
    else
        have python3 || apt_install python3 python3-venv ||
            die "$name: python3 is not installed and could not be (apt-get install python3 python3-venv)"
        python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv ||
            die "$name: python3 has no venv module (apt-get install python3-venv)"
        mkdir -p "$STATE_DIR"
        log="$STATE_DIR/$name-install.log"
        echo "$name: creating $venv from ${requirements#"$REPO_ROOT/"} (log: $log)" >&2
        rm -rf "$venv"
        if ! {
            python3 -m venv "$venv" &&
                "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                    -r "$requirements"
        } >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -rf "$venv"
            die "$name: installing ${requirements#"$REPO_ROOT/"} failed (log: $log); PyPI must be reachable, or set $var to a venv that has them"
        fi
        echo "$wanted" >"$stamp"
        echo "$name: created $venv"
    fi
    export "$var=$venv"
}

ensure_test_venv() {
    ensure_venv venv-test "$REPO_ROOT/scripts/requirements-test.txt" QUIVER_TEST_VENV
    ensure_venv venv-feast "$REPO_ROOT/scripts/requirements-feast.txt" QUIVER_TEST_FEAST_VENV
}

# ---------------------------------------------------------------------------
# steps

STEP_NAMES=()
STEP_TIMES=()

now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    echo "${t:-$((SECONDS * 1000000))}"
}

print_timings() {
    local i us
    echo "timings:"
    for i in "${!STEP_NAMES[@]}"; do
        us=${STEP_TIMES[$i]}
        printf '  %-10s %5d.%01ds\n' "${STEP_NAMES[$i]}" $((us / 1000000)) $((us % 1000000 / 100000))
    done
}

# step NAME COMMAND...: runs the command, records its time; on failure prints
# the timings so far and exits with the command's status.
step() {
    local name=$1 start status=0
    shift
    start=$(now_us)
    "$@" || status=$?
    STEP_NAMES+=("$name")
    STEP_TIMES+=($(($(now_us) - start)))
    if ((status != 0)); then
        print_timings
        echo "error: step '$name' failed (exit $status): $*" >&2
        exit "$status"
    fi
}

ensure_services() {
    ensure_postgres
    ensure_redis
    ensure_redis_cluster
    ensure_kafka
}

main() {
    if (($# > 0)); then
        local usage
        usage=$(sed -n '2,/^set -euo/p' "$REPO_ROOT/scripts/test.sh" | sed '$d; s/^# \{0,1\}//')
        if [[ $1 == -h || $1 == --help ]]; then
            echo "$usage"
            exit 0
        fi
        echo "$usage" >&2
        die "scripts/test.sh takes no arguments (got: $*)"
    fi

    step services ensure_services
    step venv ensure_test_venv
    if [[ ${QUIVER_TEST_SERVICES_ONLY:-0} == 1 ]]; then
        print_timings
        return
    fi

    cd "$REPO_ROOT"
    step fmt cargo fmt --all -- --check
    step clippy cargo clippy --workspace --all-targets --locked -- -D warnings
    if have cargo-nextest; then
        step test cargo nextest run --workspace --locked --no-fail-fast
        step doctest cargo test --workspace --doc --locked
    else
        step test cargo test --workspace --locked --no-fail-fast
    fi
    print_timings
}

main "$@"
