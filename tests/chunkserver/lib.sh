# shellcheck shell=bash
# Shared helpers of the chunkserver integration scripts (sourced, not run),
# on the integration-test harness (tests/integration/lib.sh): real cairn-chunk
# processes on 127.0.0.1, started and stopped by name through scripts/cluster.sh's
# functions, on ports of the harness's one free range; teardown, logs and the
# sanitizer scan come from the harness.
# shellcheck source=../integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

CHUNK="$CAIRN_BUILD/chunkserver/cairn-chunk"
TC="$CAIRN_BUILD/tests/chunkserver/cs_testclient"
WORK="$TEST_DIR"
SECRET="$WORK/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
cluster_pick_base 9
declare -A CS_PORT=() CS_SLOT=()

# start_cs NAME DATA_DIR [extra options...]: starts chunkserver NAME (a port
# of its own, the same one on every start), waits until it serves (it writes
# --port-file then), sets CS_PORT[NAME].
start_cs() {
    local name=$1 dir=$2
    shift 2
    [ -n "${CS_SLOT[$name]:-}" ] || CS_SLOT[$name]=$((${#CS_SLOT[@]} + 1))
    rm -f "$WORK/$name.port"
    cluster_launch "$name" "$CHUNK" --data-dir "$dir" --port "$(cluster_port chunk "${CS_SLOT[$name]}")" \
        --port-file "$WORK/$name.port" --cluster-secret-file "$SECRET" --reserve 0 "$@"
    for _ in $(seq 1 500); do
        if [ -s "$WORK/$name.port" ]; then
            read -r CS_PORT["$name"] <"$WORK/$name.port" || true
            return 0
        fi
        cluster_alive "$name" || fail "$name exited at start"
        sleep 0.01
    done
    fail "$name did not start"
}

# stop_cs NAME [SIGNAL]: stops a chunkserver (TERM by default) and waits;
# after TERM the process must exit 0 (a sanitizer report makes it fail).
stop_cs() {
    local name=$1 sig=${2:-TERM}
    if [ "$sig" = TERM ]; then
        cluster_stop "$name" || { tail -n 40 "$(cluster_log "$name")" >&2; fail "$name did not exit 0"; }
    else
        cluster_kill "$name" "$sig"
    fi
}

# stop_all: stops every running chunkserver cleanly (end of a test).
stop_all() {
    local name
    for name in $(cluster_names); do
        if cluster_alive "$name"; then stop_cs "$name"; fi
    done
}

addr() { echo "127.0.0.1:${CS_PORT[$1]}"; }

# tc NAME ARGS...: runs the signed test client against chunkserver NAME.
tc() {
    local name=$1
    shift
    "$TC" "$(addr "$name")" "$SECRET" "$@"
}

# status_of NAME ARGS...: prints the HTTP status the client saw (or "error").
status_of() {
    local out
    out=$(tc "$@" 2>&1 >/dev/null) || true
    echo "$out" | sed -n 's/^status //p' | head -1 | grep . || echo error
}

expect_status() {
    local want=$1
    shift
    local got
    got=$(status_of "$@")
    [ "$got" = "$want" ] || fail "$* -> status $got, expected $want"
}

group_id() { printf 'group-%s' "$1" | md5sum | cut -c1-32; }

# flip_byte FILE OFFSET: inverts every bit of one byte in place.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
