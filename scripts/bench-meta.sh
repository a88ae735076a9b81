#!/usr/bin/env bash
# scripts/bench-meta.sh: the metadata group benchmark (`cairn bench meta`) on a
# group of its own, with each replica's CPU time per operation. Not a test.
#
#   scripts/bench-meta.sh [cairn bench meta options...]
#
# Starts 3 cairn-meta (scripts/cluster.sh up --chunkservers 0 --no-gateway) in a
# temp dir on ports from BENCH_BASE_PORT (default 26000), runs
#   cairn --meta URLS bench meta --fsync-dir DIR --cpu-pids meta1=PID,... [options]
# (DIR on the replicas' disk) and tears the group down. Binaries from
# $CAIRN_BUILD (default ./build); the bench client from $BENCH_CLI (default the
# same build's cairn), so one client can measure daemons of two builds. Extra
# daemon flags: CAIRN_META_OPTS (e.g. "--lease off"). BENCH_TMP: the temp dir's
# parent (default /tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
CLI="${BENCH_CLI:-$CAIRN_BUILD/cli/cairn}"
BASE="${BENCH_BASE_PORT:-26000}"
case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-bench-meta.XXXXXX")"
cleanup() {
  "$ROOT/scripts/cluster.sh" down --dir "$TMP/cluster" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$ROOT/scripts/cluster.sh" up --dir "$TMP/cluster" --base-port "$BASE" --chunkservers 0 \
  --no-gateway >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$TMP/cluster/cluster.env"
pids=""
for n in meta1 meta2 meta3; do
  pids="$pids${pids:+,}$n=$(cat "$TMP/cluster/pids/$n.pid")"
done
echo "cairn bench meta, $(date -u '+%Y-%m-%d %H:%M UTC'), daemons $CAIRN_BUILD," \
  "options '${CAIRN_META_OPTS:-}', load average $(cut -d' ' -f1-3 /proc/loadavg)"
grep -h "leader lease" "$TMP"/cluster/logs/meta1.log | head -1 || true
"$CLI" --meta "$CAIRN_META" --cluster-secret-file "$TMP/cluster/secret" bench meta \
  --fsync-dir "$TMP/cluster/meta1" --cpu-pids "$pids" "$@"
# How each replica answered reads (lease on the HTTP thread, or through the
# core), how often leadership moved (a lease lost under load shows here), the
# batches it answered (--batch) and how many commands its slots carried.
i=0
for url in ${CAIRN_META//,/ }; do
  i=$((i + 1))
  curl -sf "$url/metrics" | awk -v n="meta$i" '
    $1 ~ /^cairn_meta_reads_path_total/ { sub(/.*path="/, "", $1); sub(/".*/, "", $1); p[$1] = $2 }
    $1 == "cairn_meta_reads_lease_retried_total" { r = $2 }
    $1 == "cairn_meta_leader_changes_total" { c = $2 }
    $1 == "cairn_meta_batches_total" { b = $2 }
    $1 == "cairn_meta_batch_items_total" { bi = $2 }
    $1 == "cairn_meta_slots_applied_total" { sl = $2 }
    $1 == "cairn_meta_commands_applied_total" { cm = $2 }
    END { printf "%s: reads lease %d core %d retried %d, leader changes seen %d, batches %d (%d items), commands %d in %d slots\n", n, p["lease"], p["core"], r, c, b, bi, cm, sl }'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
