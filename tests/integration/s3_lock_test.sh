#!/usr/bin/env bash
# The lease lock of docs/locks.md (tests/integration/s3_lock.py) against a real
# cluster from scripts/cluster.sh: first deterministic protocol checks
# (busy, release, stale release refused, break of an expired lease, 8-way
# create and break races with exactly one winner), then 8 contender processes
# take one lock 30 times each; two of them kill -9 themselves while holding it,
# so their leases must expire and be broken. The verifier proves mutual
# exclusion (no two critical sections overlap on the machine's one monotonic
# clock; a counter read-modify-written with If-Match inside the section is
# never refused and never loses an update) and progress (every live contender
# finished all its rounds, every crashed holder's lock was broken).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOCKPY="$CAIRN_SRC/tests/integration/s3_lock.py"
CONTENDERS=8
ROUNDS=${S3_LOCK_ROUNDS:-30}
# id:round:phase — crash right after taking the lock, or after the counter update.
CRASHES=(6:4:before 7:9:after)

lock_cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -f "$TEST_DIR/contenders.log" ]; then
    echo "== lock log (tail)"; tail -n 20 "$TEST_DIR/contenders.log"
  fi
  for p in "${CPIDS[@]:-}"; do
    if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null || true; fi
  done
  teardown "$rc"
}
CPIDS=()
trap lock_cleanup EXIT

cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
PY=/usr/bin/python3
EP="$S3_ENDPOINT"

step "bucket and counter"
"$PY" - "$EP" <<'PY'
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.create_bucket(Bucket="locks")
s3.put_object(Bucket="locks", Key="counter", Body=b"0 init")
PY

step "protocol checks"
S3_LOCK_GRACE_S=0.5 "$PY" "$LOCKPY" selftest "$EP" locks

step "$CONTENDERS contenders x $ROUNDS rounds, crashes: ${CRASHES[*]}"
LOG="$TEST_DIR/contenders.log"
: > "$LOG"
declare -A CRASH_AT=()
for c in "${CRASHES[@]}"; do CRASH_AT[${c%%:*}]="${c#*:}"; done
for i in $(seq 0 $((CONTENDERS - 1))); do
  args=()
  if [ -n "${CRASH_AT[$i]:-}" ]; then
    args=(--crash-at "${CRASH_AT[$i]%%:*}" --crash-phase "${CRASH_AT[$i]#*:}")
  fi
  "$PY" "$LOCKPY" contend "$EP" locks mylock "$LOG" "$i" "$ROUNDS" "${args[@]}" \
    2> "$TEST_DIR/contender$i.log" &
  CPIDS+=($!)
done
for i in $(seq 0 $((CONTENDERS - 1))); do
  rc=0; { wait "${CPIDS[$i]}"; } 2>/dev/null || rc=$?
  CPIDS[i]=""
  if [ -n "${CRASH_AT[$i]:-}" ]; then
    [ "$rc" = 137 ] || { cat "$TEST_DIR/contender$i.log"; fail "contender $i should have crashed (rc $rc)"; }
  else
    [ "$rc" = 0 ] || { cat "$TEST_DIR/contender$i.log"; fail "contender $i failed (rc $rc)"; }
  fi
done
step "contenders done"

vargs=()
for c in "${CRASHES[@]}"; do vargs+=(--crash "$c"); done
"$PY" "$LOCKPY" verify "$EP" locks mylock "$LOG" --contenders "$CONTENDERS" --rounds "$ROUNDS" \
  "${vargs[@]}"
step "done in $((SECONDS - T0)) s"
