# Shared helpers of the chunkserver integration scripts (sourced, not run).
# Needs CAIRN_BUILD (set by ctest). Starts real cairn-chunk processes on
# 127.0.0.1 with ports chosen by the kernel (--port 0 --port-file) and stops
# exactly the processes it started.
set -euo pipefail

: "${CAIRN_BUILD:?CAIRN_BUILD must point at the build directory}"
CHUNK="$CAIRN_BUILD/chunkserver/cairn-chunk"
TC="$CAIRN_BUILD/tests/chunkserver/cs_testclient"
WORK=$(mktemp -d /tmp/cs-it.XXXXXX)
SECRET="$WORK/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
declare -A CS_PID CS_PORT
CLEANUP_EXTRA=()

cleanup() {
    local rc=$?
    for name in "${!CS_PID[@]}"; do
        kill -9 "${CS_PID[$name]}" 2>/dev/null || true
        wait "${CS_PID[$name]}" 2>/dev/null || true
    done
    for cmd in "${CLEANUP_EXTRA[@]}"; do
        eval "$cmd" || true
    done
    if [ $rc -ne 0 ]; then
        echo "FAILED (rc $rc); logs:" >&2
        for f in "$WORK"/*.log; do
            [ -f "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# start_cs NAME DATA_DIR [extra options...]: starts a chunkserver, waits until
# it serves, sets CS_PID[NAME] and CS_PORT[NAME].
start_cs() {
    local name=$1 dir=$2
    shift 2
    rm -f "$WORK/$name.port"
    "$CHUNK" --data-dir "$dir" --port 0 --port-file "$WORK/$name.port" \
        --cluster-secret-file "$SECRET" --reserve 0 "$@" >>"$WORK/$name.log" 2>&1 &
    CS_PID[$name]=$!
    for _ in $(seq 1 100); do
        if [ -s "$WORK/$name.port" ]; then
            CS_PORT[$name]=$(cat "$WORK/$name.port")
            return 0
        fi
        kill -0 "${CS_PID[$name]}" 2>/dev/null || fail "$name exited at start"
        sleep 0.05
    done
    fail "$name did not start"
}

# stop_cs NAME [SIGNAL]: stops a chunkserver (TERM by default) and waits;
# after TERM the process must exit 0 (a sanitizer report makes it fail).
stop_cs() {
    local name=$1 sig=${2:-TERM} rc=0
    kill -"$sig" "${CS_PID[$name]}" 2>/dev/null || true
    wait "${CS_PID[$name]}" 2>/dev/null || rc=$?
    unset "CS_PID[$name]"
    if [ "$sig" = TERM ] && [ $rc -ne 0 ]; then
        tail -n 40 "$WORK/$name.log" >&2
        fail "$name exited with status $rc"
    fi
}

# stop_all: stops every running chunkserver cleanly (end of a test).
stop_all() {
    for name in "${!CS_PID[@]}"; do stop_cs "$name"; done
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
