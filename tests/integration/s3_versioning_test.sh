#!/usr/bin/env bash
# Versioning and object lock (#13) through real clients: s3_versioning.py
# (boto3) drives versions, delete markers, the null version, listings,
# multipart, copies and DeleteObjects of versions, concurrent writers and
# object lock (GOVERNANCE, COMPLIANCE, legal hold, default retention, the
# bypass and its permission); the metadata leader is killed while a writer
# adds versions to one key, and every acknowledged version, every old
# version's bytes and every lock must survive; then the aws CLI does the
# same operations, and the COMPLIANCE version goes once it expires.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Short orphan grace: the old versions' fragments must not look like orphans
# to the chunkservers' scan (phase gc waits it out).
CAIRN_CHUNK_OPTS="--heartbeat 500ms --orphan-grace 8s --orphan-scan-interval 1s" cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
PY=/usr/bin/python3
DRIVER="$CAIRN_SRC/tests/integration/s3_versioning.py"
CLI="$CAIRN_BUILD/cli/cairn"
cairn_() { "$CLI" --meta "$(cluster_meta_urls)" "$@"; }
meta_url() { echo "http://127.0.0.1:$((CLUSTER_BASE + ${1#meta}))"; }
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT")

step "a second user, bob (for the bypass permission)"
cairn_ keys create bob --json > "$TEST_DIR/bob.key"
$PY -c 'import json,sys; k=json.load(open(sys.argv[1])); json.dump({"bob": k}, open(sys.argv[2], "w"))' \
  "$TEST_DIR/bob.key" "$TEST_DIR/keys.json"

step "boto3: versions, markers, null version, listings, multipart, copies, object lock"
$PY "$DRIVER" before "$S3_ENDPOINT" "$TEST_DIR" "$TEST_DIR/keys.json"

step "the metadata leader killed while a writer adds versions"
$PY "$DRIVER" writer "$S3_ENDPOINT" "$TEST_DIR" 2>"$TEST_DIR/writer.log" &
WRITER=$!
PIDS+=("$WRITER")
acks() { [ -f "$TEST_DIR/acked" ] && wc -l < "$TEST_DIR/acked" || echo 0; }
has_acks() { [ "$(acks)" -ge "$1" ]; }
wait_for 30 has_acks 10 || fail "the writer made no progress"
leader_name() {
  local id u
  id=$(cairn_ meta status --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
  u=$(cairn_ meta status | awk -v i="$id" '$1 == i { print $2 }')
  for m in $(cluster_meta_names); do [ "$(meta_url "$m")" != "$u" ] || echo "$m"; done
}
lead=$(leader_name)
[ -n "$lead" ] || fail "no leader to kill"
before=$(acks)
cluster_kill "$lead"
echo "killed $lead after $before acknowledged versions"
wait_for 60 has_acks $((before + 10)) || fail "no version acknowledged after the leader died"
cluster_start "$lead"
wait_for 60 has_acks $((before + 20)) || fail "the writer stalled after $lead came back"
touch "$TEST_DIR/stop"
wait "$WRITER" || fail "the writer failed: $(tail -5 "$TEST_DIR/writer.log")"
echo "$(acks) versions acknowledged across the failover"

step "after the failover: every version, its bytes and every lock"
$PY "$DRIVER" after "$S3_ENDPOINT" "$TEST_DIR"

step "aws cli: versioning, versions, retention, legal hold"
"${AWS[@]}" s3api create-bucket --bucket cli-ver >/dev/null
"${AWS[@]}" s3api put-bucket-versioning --bucket cli-ver --versioning-configuration Status=Enabled
"${AWS[@]}" s3api get-bucket-versioning --bucket cli-ver --query Status --output text | grep -qx Enabled ||
  fail "aws get-bucket-versioning"
head -c 3000000 /dev/urandom > "$TEST_DIR/v1"
echo second > "$TEST_DIR/v2"
v1=$("${AWS[@]}" s3api put-object --bucket cli-ver --key f --body "$TEST_DIR/v1" --query VersionId --output text)
v2=$("${AWS[@]}" s3api put-object --bucket cli-ver --key f --body "$TEST_DIR/v2" --query VersionId --output text)
[ -n "$v1" ] && [ "$v1" != "$v2" ] || fail "aws put-object version ids: '$v1' '$v2'"
"${AWS[@]}" s3api get-object --bucket cli-ver --key f --version-id "$v1" "$TEST_DIR/v1.out" >/dev/null
same "$TEST_DIR/v1" "$TEST_DIR/v1.out"
"${AWS[@]}" s3 cp --no-progress "s3://cli-ver/f" "$TEST_DIR/v2.out" >/dev/null
same "$TEST_DIR/v2" "$TEST_DIR/v2.out"
n=$("${AWS[@]}" s3api list-object-versions --bucket cli-ver --query 'length(Versions)' --output text)
[ "$n" = 2 ] || fail "aws list-object-versions: $n versions"
"${AWS[@]}" s3 rm s3://cli-ver/f >/dev/null
m=$("${AWS[@]}" s3api list-object-versions --bucket cli-ver --query 'DeleteMarkers[0].VersionId' --output text)
"${AWS[@]}" s3api head-object --bucket cli-ver --key f 2>/dev/null && fail "HEAD under a delete marker"
"${AWS[@]}" s3api delete-object --bucket cli-ver --key f --version-id "$m" >/dev/null
"${AWS[@]}" s3api get-object --bucket cli-ver --key f "$TEST_DIR/v2.back" >/dev/null
same "$TEST_DIR/v2" "$TEST_DIR/v2.back"
"${AWS[@]}" s3api create-bucket --bucket cli-lock --object-lock-enabled-for-bucket >/dev/null
until=$(date -u -d '+5 min' +%Y-%m-%dT%H:%M:%SZ)
lv=$("${AWS[@]}" s3api put-object --bucket cli-lock --key g --body "$TEST_DIR/v2" \
  --object-lock-mode GOVERNANCE --object-lock-retain-until-date "$until" --query VersionId --output text)
"${AWS[@]}" s3api get-object-retention --bucket cli-lock --key g --version-id "$lv" \
  --query Retention.Mode --output text | grep -qx GOVERNANCE || fail "aws get-object-retention"
"${AWS[@]}" s3api delete-object --bucket cli-lock --key g --version-id "$lv" 2>"$TEST_DIR/err" &&
  fail "aws deleted a GOVERNANCE version"
grep -q AccessDenied "$TEST_DIR/err" || fail "aws delete of a locked version: $(cat "$TEST_DIR/err")"
"${AWS[@]}" s3api put-object-legal-hold --bucket cli-lock --key g --version-id "$lv" --legal-hold Status=ON
"${AWS[@]}" s3api get-object-legal-hold --bucket cli-lock --key g --version-id "$lv" \
  --query LegalHold.Status --output text | grep -qx ON || fail "aws get-object-legal-hold"
"${AWS[@]}" s3api delete-object --bucket cli-lock --key g --version-id "$lv" \
  --bypass-governance-retention 2>/dev/null && fail "aws deleted a version under legal hold"
"${AWS[@]}" s3api put-object-legal-hold --bucket cli-lock --key g --version-id "$lv" --legal-hold Status=OFF
"${AWS[@]}" s3api delete-object --bucket cli-lock --key g --version-id "$lv" \
  --bypass-governance-retention >/dev/null || fail "aws delete with --bypass-governance-retention"

step "old versions' fragments are kept until their version is deleted, then collected"
$PY "$DRIVER" gc "$S3_ENDPOINT" "$TEST_DIR" "$CDIR"

step "the COMPLIANCE version expires, and goes"
$PY "$DRIVER" expire "$S3_ENDPOINT" "$TEST_DIR"
step "PASS"
