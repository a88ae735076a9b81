# Shared helpers for integration tests (sourced). Each test gets its own
# directory and ports, and a trap that kills every daemon it started.
set -euo pipefail

: "${CAIRN_BUILD:?CAIRN_BUILD must point at the build directory}"
: "${CAIRN_SRC:?CAIRN_SRC must point at the source tree}"

TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-test.XXXXXX")"
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "---- logs of the failed test ($TEST_DIR) ----"
    for f in "$TEST_DIR"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done
  else
    rm -rf "$TEST_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT

# Prints n distinct free TCP ports on 127.0.0.1 (bound and released by the
# kernel, so they are free now; the window to reuse them is small).
free_ports() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "timed out waiting for: $*" >&2; return 1; fi
    sleep 0.1
  done
}

fail() { echo "FAIL: $*" >&2; exit 1; }
