#!/usr/bin/env bash
# Lifecycle (#13) through boto3, with the metadata service's test knob making a
# "day" DAY seconds (cairn-meta --lifecycle-day): Put/Get/DeleteBucket-
# LifecycleConfiguration and its errors; objects expire by prefix and by tag and
# an upload is aborted after one such day, while a disabled rule, another tag
# and a rule for versions only leave theirs alone; in a versioned bucket a
# noncurrent version expires, then the delete marker left alone; then the metadata leader is
# killed (-9) before a second bucket's objects are due, and the next leader's
# worker expires them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DAY=4
CAIRN_META_OPTS="--lifecycle-day ${DAY}s --lifecycle-scan-interval 300ms" cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
LC=(/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_lifecycle.py" "$S3_ENDPOINT"
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY")

# check PHASE: 0 done, 1 waiting; a failed check (2) ends the test.
check() {
  local rc=0
  "${LC[@]}" "$1" > "$TEST_DIR/check.out" 2>&1 || rc=$?
  [ "$rc" -ne 2 ] || fail "$(cat "$TEST_DIR/check.out")"
  return "$rc"
}
# A "day" of DAY s rounds up to a multiple of DAY: due within 2 days, found
# within a scan interval. (That nothing goes before its day is checked on the
# second bucket, whose few objects are written fast enough even under ASan, and
# exactly in test_md_lifecycle.)
LIMIT=$((3 * DAY + 5))

step "configuration, errors, rules and the objects they act on (s3_lifecycle.py setup)"
"${LC[@]}" setup
T1=$SECONDS
step "objects by prefix and tag expire, the upload is aborted, within 2 days of ${DAY}s"
wait_for "$LIMIT" check check || fail "not expired in time: $(cat "$TEST_DIR/check.out")"
echo "   after $((SECONDS - T1))s"
sleep "$DAY"
check check || fail "after another day: $(cat "$TEST_DIR/check.out")"

step "a versioned bucket: a noncurrent version, then a lone delete marker, expire"
"${LC[@]}" setupv
T3=$SECONDS
wait_for "$((2 * LIMIT))" check checkv || fail "versions not expired in time: $(cat "$TEST_DIR/check.out")"
echo "   after $((SECONDS - T3))s"

step "a leader killed (-9) before a bucket's objects are due: the next leader expires them"
status_of() { curl -sf "http://127.0.0.1:$(cluster_port meta "$1")/metrics"; }
leader_id() {
  local i
  for i in 1 2 3; do
    [ "$(status_of "$i" | awk '$1 == "cairn_meta_is_leader" { print $2 }')" = 1 ] &&
      { echo "$i"; return 0; }
  done
  return 1
}
"${LC[@]}" setup2
L="$(leader_id)" || fail "no leader"
check check2 && fail "lcb2 expired before its day passed"
cluster_kill "meta$L"
T2=$SECONDS
wait_for 30 leader_id || fail "no new leader"
echo "   replica $(leader_id) leads after replica $L was killed"
wait_for "$((LIMIT + 10))" check check2 || fail "not expired after the leader change: $(cat "$TEST_DIR/check.out")"
echo "   after $((SECONDS - T2))s"
NL="$(leader_id)"
N="$(status_of "$NL" | awk '$1 == "cairn_lifecycle_expired_total" { print $2 }')"
[ "${N:-0}" -ge 5 ] || fail "the new leader (replica $NL) reports ${N:-no} expirations, want >= 5"
cluster_start "meta$L"
step "PASS"
