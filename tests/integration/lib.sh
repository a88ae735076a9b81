# shellcheck shell=bash
# The harness of every test that runs daemons (sourced; tests/chunkserver/lib.sh
# builds on it too). Daemons start only through the cluster_* functions of
# scripts/cluster.sh, sourced here, in one cluster directory per test: CDIR
# ($TEST_DIR/cluster; logs in $CDIR/logs, pids in $CDIR/pids). Ports: one way,
# cluster_pick_base (CLUSTER_BASE=auto: cluster_up picks, and retries on a
# port lost to another process). The standard cluster is `cluster_up N
# [--no-gateway]` with CAIRN_{META,CHUNK,GATEWAY}_OPTS for extra flags;
# anything else is cluster_launch NAME CMD... (a command prefix such as
# `ip netns exec NS` included); cluster_kill / cluster_start / cluster_stop /
# cluster_pid act on one daemon by name.
#
# At exit (teardown): background clients in PIDS are killed; on failure the
# logs are shown; every daemon is stopped by its pid; a sanitizer report in a
# daemon's log fails the test; TEST_DIR goes unless the test failed.
set -euo pipefail

: "${CAIRN_BUILD:?CAIRN_BUILD must point at the build directory}"
: "${CAIRN_SRC:?CAIRN_SRC must point at the source tree}"

# shellcheck source=../../scripts/cluster.sh
source "$CAIRN_SRC/scripts/cluster.sh"

TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-test.XXXXXX")"
CDIR="$TEST_DIR/cluster"
CLUSTER="$CAIRN_SRC/scripts/cluster.sh" # the command line, for tests of it
cluster_use "$CDIR"
CLUSTER_BASE=auto
PIDS=() # background clients a test starts: killed at exit
T0=$SECONDS

# teardown RC [PATH...]: the end of every test (the EXIT trap; a test with a
# trap of its own ends it with this). PATHs (big data) are removed even when
# the logs are kept. Exits with RC, or 1 after a sanitizer report.
teardown() {
  local rc="$1" pid f
  shift
  set +e            # clean up everything whatever fails on the way,
  trap '' TERM INT  # and let no second signal cut the cleanup short
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then # (77: skipped)
    echo "---- logs of the failed test ($TEST_DIR) ----"
    cluster_show_logs 40
    for f in "$TEST_DIR"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done
  fi
  cluster_down >/dev/null 2>&1
  wait 2>/dev/null
  [ $# -eq 0 ] || rm -rf "$@" 2>/dev/null
  cluster_sanitizer_scan || rc=1
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then rm -rf "$TEST_DIR"; else echo "---- kept $TEST_DIR"; fi
  exit "$rc"
}
trap 'teardown $?' EXIT
trap 'exit 143' TERM INT HUP

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "timed out waiting for: $*" >&2; return 1; fi
    sleep 0.1
  done
}

fail() { echo "FAIL: $*" >&2; exit 1; }

step() { echo "-- [$((SECONDS - T0))s] $*"; }

same() { # same FILE FILE: byte-exact by sha256
  local a b
  a="$(sha256sum < "$1" | cut -d' ' -f1)"; b="$(sha256sum < "$2" | cut -d' ' -f1)"
  [ "$a" = "$b" ] || fail "$2 differs from $1 ($a vs $b)"
}
