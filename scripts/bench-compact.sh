#!/usr/bin/env bash
# scripts/bench-compact.sh: compaction of packed groups (issue #17): rewrite
# rate and its cost on foreground GETs. Not a test: it prints figures.
#
#   scripts/bench-compact.sh [--objects N] [--max-kib K] [--every E]
#                            [--rates "0 32MiB"] [--keep]
#
#   --objects N   packed objects written (default 2000), 16 KiB..K KiB each
#   --max-kib K   largest object in KiB (default 300)
#   --every E     keep every E-th object, delete the rest (default 2: half)
#   --rates LIST  one round per --compact-rate value (default "0 32MiB";
#                 0 = unpaced), each on a fresh 6-chunkserver cluster
#   --keep        keep the cluster directories
#
# Each round: scripts/cluster.sh up (6 chunkservers, 4+2 packed groups); the
# objects written by 8 boto3 threads; every E-th kept; 4 readers GET the
# survivors for 5 s, then `cairn compact --below 100` (every group with dead
# bytes) runs under that load. Printed: the fragment bytes rewritten and the
# time, hence the rate (fragment bytes/s for the cluster; each chunkserver
# wrote 1/6), the compactor's own per-group rates from the leader's log, the
# disk bytes before and after, and GET p50/p99 before and during. Binaries
# from $CAIRN_BUILD (default ./build). Ports from BENCH_BASE_PORT (24500).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
BASE="${BENCH_BASE_PORT:-24500}"
N=2000
MAXK=300
EVERY=2
RATES="0 32MiB"
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) N="$2"; shift 2 ;;
    --max-kib) MAXK="$2"; shift 2 ;;
    --every) EVERY="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-compact: unknown argument $1" >&2; exit 2 ;;
  esac
done

CLUSTER="$ROOT/scripts/cluster.sh"
DRIVER="$ROOT/tests/integration/s3_compact.py"
TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-compact.XXXXXX")"
CDIR=""
LOAD=""
cleanup() {
  local rc=$?
  [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null
  [ -n "$CDIR" ] && "$CLUSTER" down --dir "$CDIR" >/dev/null 2>&1
  if [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "bench-compact: kept $TMP"; fi
  exit $rc
}
trap cleanup EXIT
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null

echo "cairn compaction benchmark, $(date -u '+%F %H:%M') UTC, $(nproc) cores, load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg); $N objects of 16..$MAXK KiB, every $EVERY kept"
round=0
for rate in $RATES; do
  round=$((round + 1))
  CDIR="$TMP/c$round"
  ST="$TMP/s$round"
  mkdir -p "$ST"
  CAIRN_META_OPTS="--packed-idle 1s --garbage-grace 0 --compact-interval 1h --compact-rate $rate" \
    CAIRN_GATEWAY_OPTS="--pack-idle 500ms" CAIRN_CHUNK_OPTS="--heartbeat 200ms" \
    "$CLUSTER" up --dir "$CDIR" --chunkservers 6 --base-port "$BASE" >"$TMP/up$round.log" 2>&1 ||
    { cat "$TMP/up$round.log" >&2; exit 1; }
  (
    # shellcheck disable=SC1091
    . "$CDIR/cluster.env"
    unset AWS_CA_BUNDLE AWS_PROFILE
    drive() { python3 "$DRIVER" "$1" "$S3_ENDPOINT" "$ST" "${@:2}"; }
    frag_bytes() { find "$CDIR"/chunk*/frags -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
    drive write "$N" "$MAXK" | grep -v checks
    drive delete "$EVERY" | grep -v checks
    sleep 3 # the gateway seals idle groups, the leader their fragments
    before=$(frag_bytes)
    drive load 2>"$ST/load.err" &
    LOAD=$!
    sleep 5
    t0=$(date +%s.%N)
    n=0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      n=$((n + $(cairn compact --below 100 | awk '{ print $2 }')))
      [ "$(cairn status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["compaction"]["candidates"])')" = 0 ] && break
      sleep 1
    done
    t1=$(date +%s.%N)
    sleep 2
    touch "$ST/stop"
    wait "$LOAD"
    rw=$(cairn status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["compaction"]["rewritten_bytes"])')
    sleep 3
    after=$(frag_bytes)
    awk -v r="$rate" -v n="$n" -v b="$rw" -v a="$t0" -v z="$t1" -v x="$before" -v y="$after" 'BEGIN {
      printf "--compact-rate %s: %d group(s), %.1f MB of fragments rewritten in %.2f s = %.1f MB/s; disk %.1f -> %.1f MB\n",
        r, n, b / 1e6, z - a, b / 1e6 / (z - a), x / 1e6, y / 1e6 }'
    grep -h "compacted into" "$CDIR"/logs/meta*.log | sed 's/^.*compacted into [0-9a-f]* /  group: /'
    python3 - "$ST/latency.log" "$t0" "$t1" <<'PYEOF'
import sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
for name, sel in (("before", [ms for t, ms in rows if t < t0]),
                  ("during", [ms for t, ms in rows if t0 <= t <= t1])):
    print("  GET latency %s: %d GETs, %.0f/s, p50 %.1f ms, p99 %.1f ms"
          % (name, len(sel), len(sel) / max(1e-9, (t0 - rows[0][0]) if name == "before" else (t1 - t0)),
             pct(sel, 0.5), pct(sel, 0.99)))
PYEOF
  )
  "$CLUSTER" down --dir "$CDIR" >/dev/null 2>&1 || true
  CDIR=""
done
