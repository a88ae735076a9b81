#!/usr/bin/env bash
# A 3-replica cairn-meta group under concurrent clients:
#  1. kill -9 the leader under a stream of writes: a new leader commits within
#     3 s, no acknowledged write is lost, the history is linearizable;
#  2. the killed replica restarts and catches up;
#  2b. `cairn meta transfer` hands leadership to a named voter, then to the
#     server's choice; `cairn status` and the replicas' metrics show it moved;
#     a bad, unknown or already-leading id is refused or answered as such,
#     and so is a dead one (in 3, the leader then stays);
#  3. a follower is killed, the log is trimmed past it, and on restart it
#     catches up by snapshot: every replica then holds the identical state;
#  4. the old leader is killed again, so the snapshot-restored replica must be
#     part of the quorum that keeps committing;
#  5. SIGTERM stops every replica cleanly (exit 0).
source "$(dirname "$0")/lib.sh"

CAIRN="$CAIRN_BUILD/cli/cairn"
TORTURE="$CAIRN_BUILD/tests/integration/meta-torture"

CAIRN_META_OPTS="--trim-every 200 --trim-keep 20 --plog-segment 64K" cluster_up 0 --no-gateway
SECRET_FILE="$CDIR/secret"
SECRET="$(cat "$SECRET_FILE")"
URLS="$(cluster_meta_urls)"

start() { cluster_start "meta$1"; }  # the same command line again
status_of() { curl -sf "http://127.0.0.1:$(cluster_port meta "$1")/metrics"; }
field() { # field REPLICA NAME: a metric value from /metrics (public)
  status_of "$1" | awk -v n="$2" '$1 == n { print $2 }'
}
pids_arg() { echo "1=$(cluster_pid meta1),2=$(cluster_pid meta2),3=$(cluster_pid meta3)"; }
leader_id() {
  for i in 1 2 3; do
    [ "$(field "$i" cairn_meta_is_leader 2>/dev/null)" = 1 ] && { echo "$i"; return 0; }
  done
  return 1
}

wait_for 10 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET_FILE" status
"$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET_FILE" status

echo "== 1. kill -9 the leader under writes"
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 8 --keys 6 --seconds 6 \
  --kill-leader-at 2 --pids "$(pids_arg)" --failover-limit 3000 | tee "$TEST_DIR/t1.out"
KILLED=$(awk '/^killed leader/ { print $3 }' "$TEST_DIR/t1.out")
[ -n "$KILLED" ] || fail "no leader was killed"

echo "== 2. restart replica $KILLED; it catches up"
start "$KILLED"
commit_of_leader() { field "$(leader_id)" cairn_meta_commit_index; }
caught_up() { [ "$(field "$KILLED" cairn_meta_applied_index)" -ge "$(commit_of_leader)" ]; }
wait_for 20 caught_up

echo "== 2b. cairn meta transfer"
cairn_() { "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET_FILE" "$@"; }
"$CAIRN" meta transfer --help | grep -q 'cairn meta transfer \[--to ID\]' || fail "no usage for transfer"
set +e
cairn_ meta transfer --to two >/dev/null 2>"$TEST_DIR/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "needs a replica id" "$TEST_DIR/err" || fail "--to two: exit $rc, $(cat "$TEST_DIR/err")"
cairn_ meta transfer --to 9 >/dev/null 2>"$TEST_DIR/err" && fail "a transfer to replica 9 succeeded"
grep -q "replica 9 is not a member" "$TEST_DIR/err" || fail "--to 9: $(cat "$TEST_DIR/err")"
status_leader() { cairn_ status | awk '$3 == "leader" { print $2 }'; }
L=$(leader_id)
T=$(( L % 3 + 1 ))
cairn_ meta transfer --to "$T" >"$TEST_DIR/tr1.out" || fail "cairn meta transfer --to $T"
cat "$TEST_DIR/tr1.out"
grep -qx "leader $L -> $T (http://127.0.0.1:$(cluster_port meta "$T"))" "$TEST_DIR/tr1.out" ||
  fail "transfer printed: $(cat "$TEST_DIR/tr1.out")"
[ "$(status_leader)" = "$T" ] || fail "cairn status shows leader '$(status_leader)', not $T"
[ "$(leader_id)" = "$T" ] || fail "replica $T's metrics do not say it leads"
cairn_ meta transfer --to "$T" | grep -qx "leader $T already (nothing to do)" || fail "transfer to the leader"
cairn_ meta transfer >"$TEST_DIR/tr2.out" || fail "cairn meta transfer (no --to)"
cat "$TEST_DIR/tr2.out"
N=$(sed -n "s/^leader $T -> \([0-9]*\) (.*)$/\1/p" "$TEST_DIR/tr2.out")
[ -n "$N" ] && [ "$N" != "$T" ] || fail "transfer without --to printed: $(cat "$TEST_DIR/tr2.out")"
[ "$(status_leader)" = "$N" ] || fail "cairn status shows leader '$(status_leader)', not $N"
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 4 --keys 4 --seconds 1 \
  --bucket transferred | tee "$TEST_DIR/t2b.out"
grep -q PASSED "$TEST_DIR/t2b.out" || fail "history after the transfers"

echo "== 3. a follower misses more than the log keeps; it catches up by snapshot"
L=$(leader_id)
F=$(( L % 3 + 1 ))
cluster_kill "meta$F"
# Leadership is not handed to a dead voter: refused, and the leader stays.
cairn_ meta transfer --to "$F" >/dev/null 2>"$TEST_DIR/err" && fail "handed leadership to dead replica $F"
cat "$TEST_DIR/err"
[ "$(leader_id)" = "$L" ] || fail "leader $(leader_id) after a refused transfer, not $L"
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 8 --keys 6 --seconds 4 \
  --bucket snap | tee "$TEST_DIR/t3.out"
grep -q PASSED "$TEST_DIR/t3.out" || fail "history with a follower down"
start "$F"
F_CAUGHT() { [ "$(field "$F" cairn_meta_applied_index)" -ge "$(commit_of_leader)" ]; }
wait_for 30 F_CAUGHT
INSTALLED=$(field "$F" cairn_meta_snapshots_installed_total)
[ "$INSTALLED" -ge 1 ] || fail "replica $F caught up without a snapshot (log not trimmed?)"
echo "replica $F installed $INSTALLED snapshot(s)"
[ "$(field "$F" cairn_meta_snapshots_refused_total)" = 0 ] || fail "replica $F refused a snapshot"
# Identical state everywhere once quiet (state hash covers the applied index).
same_state() {
  local a b c
  a=$("$CAIRN" --meta "http://127.0.0.1:$(cluster_port meta 1)" --cluster-secret-file "$SECRET_FILE" state-hash) &&
  b=$("$CAIRN" --meta "http://127.0.0.1:$(cluster_port meta 2)" --cluster-secret-file "$SECRET_FILE" state-hash) &&
  c=$("$CAIRN" --meta "http://127.0.0.1:$(cluster_port meta 3)" --cluster-secret-file "$SECRET_FILE" state-hash) &&
  [ "$a" = "$b" ] && [ "$b" = "$c" ]
}
wait_for 20 same_state || fail "replicas hold different state after catch-up"
echo "state hashes equal on all replicas"

echo "== 4. kill the leader again: the restored replica must carry the quorum"
# Batched, as the gateway sends: batches in flight when the leader dies are
# answered by nobody; their items go again (alone) to the new leader.
"$TORTURE" --replicas "$URLS" --secret "$SECRET" --clients 16 --keys 6 --seconds 5 \
  --kill-leader-at 1.5 --pids "$(pids_arg)" --failover-limit 3000 --bucket again --batch 2 \
  | tee "$TEST_DIR/t4.out"
grep -q PASSED "$TEST_DIR/t4.out" || fail "history after the second failover"
[ "$(awk '/^batches:/ { print $2 }' "$TEST_DIR/t4.out")" -ge 1 ] || fail "no batch was sent"

echo "== 5. SIGTERM stops the live replicas cleanly"
for i in 1 2 3; do
  if cluster_alive "meta$i"; then
    cluster_stop "meta$i" || fail "replica $i did not exit 0 on SIGTERM"
  fi
done
echo "meta_failover: all checks passed"
