#!/usr/bin/env bash
# Lease reads answered on the HTTP thread (md_readgate.h) against real
# cairn-meta replicas, across forced leader changes:
#  1. writers and readers through the leader, plus readers pinned to each
#     replica (a 421 is skipped, never followed), while the leader hands
#     leadership over every 400 ms: the history is linearizable (a replica
#     that answered reads after it stopped leading would show a stale read);
#  2. reads were answered on both paths and counted in /metrics
#     (cairn_meta_reads_path_total{path="lease"|"core"}), and the lease path
#     carried most of them;
#  3. with --lease-reads-local=false every read goes through the core.
source "$(dirname "$0")/lib.sh"

TORTURE="$CAIRN_BUILD/tests/integration/meta-torture"

cluster_up 0 --no-gateway
SECRET_FILE="$CDIR/secret"
SECRET="$(cat "$SECRET_FILE")"
URLS="$(cluster_meta_urls)"
CAIRN="$CAIRN_BUILD/cli/cairn"
wait_for 10 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET_FILE" status

metric() { # metric REPLICA 'NAME{LABELS}': its value (0 when absent)
  curl -sf "http://127.0.0.1:$(cluster_port meta "$1")/metrics" |
    awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}
sum_metric() {
  local t=0 i
  for i in 1 2 3; do t=$((t + $(metric "$i" "$1"))); done
  echo "$t"
}

step "1. reads on every replica while leadership moves every 400 ms"
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 6 --keys 4 --seconds 10 \
  --pinned-readers 2 --transfer-every 400 --bucket lease | tee "$TEST_DIR/t1.out"
grep -q PASSED "$TEST_DIR/t1.out" || fail "history across leader transfers"
T=$(awk '/^transfers:/ { print $2 }' "$TEST_DIR/t1.out")
[ "${T:-0}" -ge 5 ] || fail "only ${T:-0} transfers happened"

step "1b. batched commands and reads (--batch, as the gateway sends) while leadership moves"
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 16 --keys 4 --seconds 6 \
  --pinned-readers 1 --transfer-every 500 --batch 2 --bucket batch | tee "$TEST_DIR/t1b.out"
grep -q PASSED "$TEST_DIR/t1b.out" || fail "batched history across leader transfers"
B=$(awk '/^batches:/ { print $2 }' "$TEST_DIR/t1b.out")
[ "${B:-0}" -ge 10 ] || fail "only ${B:-0} batches were sent by 16 clients"
SERVED=$(sum_metric cairn_meta_batches_total)
[ "$SERVED" -ge 1 ] || fail "no replica counted a batch"
echo "batches: $B sent, $SERVED answered by the replicas"

step "2. both read paths counted"
LEASE=$(sum_metric 'cairn_meta_reads_path_total{path="lease"}')
CORE=$(sum_metric 'cairn_meta_reads_path_total{path="core"}')
ALL=$(sum_metric cairn_meta_reads_total)
echo "reads: $LEASE on the HTTP thread under the lease, $CORE through the core, $ALL in all"
[ "$LEASE" -gt 0 ] || fail "no read was answered under the lease on the HTTP thread"
[ "$CORE" -gt 0 ] || fail "no read went through the core (leader changes should force some)"
[ "$ALL" -eq $((LEASE + CORE)) ] || fail "reads_total $ALL is not lease $LEASE + core $CORE"
[ "$LEASE" -gt "$CORE" ] || fail "the lease path answered fewer reads than the core"

step "3. --lease-reads-local=false: every read through the core"
for i in 1 2 3; do cluster_stop "meta$i" || fail "replica $i did not stop cleanly"; done
CAIRN_META_OPTS="--lease-reads-local=false"
for i in 1 2 3; do cluster_launch_meta "$i" || fail "restart replica $i"; done
wait_for 10 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET_FILE" status
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 4 --keys 4 --seconds 2 \
  --bucket core | tee "$TEST_DIR/t3.out"
grep -q PASSED "$TEST_DIR/t3.out" || fail "history with reads through the core"
# Batched reads confirmed by the core (one confirmation for a batch's reads).
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 12 --keys 4 --seconds 2 \
  --batch 2 --bucket corebatch | tee "$TEST_DIR/t3b.out"
grep -q PASSED "$TEST_DIR/t3b.out" || fail "batched history with reads through the core"
[ "$(awk '/^batches:/ { print $2 }' "$TEST_DIR/t3b.out")" -ge 1 ] || fail "no batch in the core run"
LEASE=$(sum_metric 'cairn_meta_reads_path_total{path="lease"}')
[ "$LEASE" -eq 0 ] || fail "$LEASE reads on the lease path with --lease-reads-local=false"
echo "meta_lease_read: all checks passed"
