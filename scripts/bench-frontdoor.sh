#!/usr/bin/env bash
# scripts/bench-frontdoor.sh: the gateway's memory under a flood of concurrent
# uploads (issue 15, "memory bounded by configuration"). Not a test: it prints
# figures; its last line is the stable one:
#   peak RSS under N concurrent uploads: M MiB (data-memory budget B MiB)
#
#   scripts/bench-frontdoor.sh [--keep]
#
# Starts its own cluster (scripts/cluster.sh, free ports) whose gateway has
# --data-memory $BUDGET, room for the connections (--max-connections, no
# per-IP limit: every client is 127.0.0.1), then N clients (cairn-s3load,
# libcurl multi, one connection each) PUT objects of SIZE bytes for SECS
# seconds; uploads that do not fit the budget get 503 SlowDown (counted as
# errors by the load generator). Prints the requests served, the budget's
# peak and refusals (/metrics) and the gateway's peak RSS (VmHWM).
# Knobs (env): N (1000), SIZE (1M), SECS (10), BUDGET (256M), BENCH_TMP.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
N="${N:-1000}"
SIZE="${SIZE:-1M}"
SECS="${SECS:-10}"
BUDGET="${BUDGET:-256M}"
KEEP=0
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-frontdoor.sh: unknown argument: $a (see --help)" >&2; exit 2 ;;
  esac
done
TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-bench-fd.XXXXXX")"
cleanup() {
  local rc=$?
  "$ROOT/scripts/cluster.sh" down --dir "$TMP/cluster" >/dev/null 2>&1 || true
  if [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "bench: kept $TMP"; fi
  exit $rc
}
trap cleanup EXIT
ulimit -n 8192 2>/dev/null || true

"$ROOT/scripts/cluster.sh" up --dir "$TMP/cluster" --base-port auto \
  --gateway-opts "--data-memory $BUDGET --max-connections $((N + 100)) --per-ip-connections 0" \
  >"$TMP/cluster-up.log" 2>&1 || { cat "$TMP/cluster-up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$TMP/cluster/cluster.env"
GW_PID="$(cat "$TMP/cluster/pids/gateway.pid")"
REGION="${AWS_DEFAULT_REGION:-us-east-1}"
S3=(curl -sS --fail --aws-sigv4 "aws:amz:$REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
BUCKET="flood-$$"
"${S3[@]}" -X PUT "$S3_ENDPOINT/$BUCKET" -o /dev/null

LOAD=""
for c in "$CAIRN_BUILD/tests/bench/cairn-s3load" "$CAIRN_BUILD/cairn-s3load"; do
  [ -x "$c" ] && LOAD="$c" && break
done
if [ -z "$LOAD" ]; then
  LOAD="$TMP/cairn-s3load"
  cc -O2 -std=c11 -o "$LOAD" "$ROOT/tests/bench/s3load.c" -lcurl
fi
metric() { curl -sf "$S3_ENDPOINT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

echo "cairn front-door memory benchmark, $(date -u "+%Y-%m-%d %H:%M UTC"), $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
hwm0="$(awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status")"
OUT="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" put "$(numfmt --from=iec "$SIZE")" "$N" "$SECS" "$N" 2>"$TMP/load.err" || true)"
hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status")"
echo "load: $OUT"
echo "data-path budget: peak $(($(metric cairn_gw_data_memory_peak_bytes) / 1048576)) MiB of $(($(metric cairn_gw_data_memory_limit_bytes) / 1048576)) MiB, $(metric cairn_gw_data_memory_refused_total) uploads refused with SlowDown"
echo "gateway VmHWM before the flood: $((hwm0 / 1024)) MiB"
echo "peak RSS under $N concurrent uploads: $((hwm / 1024)) MiB (data-memory budget $(($(numfmt --from=iec "$BUDGET") / 1048576)) MiB)"
