#!/usr/bin/env bash
# Tagging (#13) through real clients: s3_tagging.py (boto3) checks object
# and bucket tagging, S3's limits and errors, tags through multipart and
# copies, concurrent PutObjectTagging and the tag condition keys of bucket
# policies; then the aws CLI's s3api tagging commands; then the tags survive
# a restart of every metadata replica (they are replicated state).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
export AWS_DEFAULT_REGION=us-east-1
CAIRN=("$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META")
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT")

step "a second user, bob"
"${CAIRN[@]}" keys create bob --json > "$TEST_DIR/bob.key"
BOB_AK="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_key"])' "$TEST_DIR/bob.key")"
BOB_SK="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$TEST_DIR/bob.key")"

step "boto3: object and bucket tagging, limits, copies, concurrency, policies (s3_tagging.py)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_tagging.py" "$S3_ENDPOINT" \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$BOB_AK" "$BOB_SK"

step "aws cli: s3api put/get/delete-object-tagging, put/get/delete-bucket-tagging"
echo cli > "$TEST_DIR/cli"
"${AWS[@]}" s3api create-bucket --bucket cli-tags >/dev/null
"${AWS[@]}" s3api put-object --bucket cli-tags --key k --body "$TEST_DIR/cli" --tagging 'a=1&b=2' >/dev/null
"${AWS[@]}" s3api get-object-tagging --bucket cli-tags --key k --output json > "$TEST_DIR/t.json"
/usr/bin/python3 - "$TEST_DIR/t.json" <<'PY' || fail "get-object-tagging after put-object --tagging"
import json, sys
ts = {t["Key"]: t["Value"] for t in json.load(open(sys.argv[1]))["TagSet"]}
assert ts == {"a": "1", "b": "2"}, ts
PY
"${AWS[@]}" s3api put-object-tagging --bucket cli-tags --key k \
  --tagging 'TagSet=[{Key=env,Value=prod}]'
"${AWS[@]}" s3api get-object-tagging --bucket cli-tags --key k --query 'TagSet[0].Value' \
  --output text | grep -x >/dev/null prod || fail "put-object-tagging"
"${AWS[@]}" s3api put-object-tagging --bucket cli-tags --key k \
  --tagging 'TagSet=[{Key=aws:x,Value=1}]' 2> "$TEST_DIR/err" && fail "aws: tag accepted"
grep -q InvalidTag "$TEST_DIR/err" || fail "aws: prefix: $(cat "$TEST_DIR/err")"
"${AWS[@]}" s3api delete-object-tagging --bucket cli-tags --key k
[ "$("${AWS[@]}" s3api get-object-tagging --bucket cli-tags --key k --query 'length(TagSet)')" = 0 ] ||
  fail "delete-object-tagging"
"${AWS[@]}" s3api put-bucket-tagging --bucket cli-tags --tagging 'TagSet=[{Key=team,Value=storage}]'
"${AWS[@]}" s3api get-bucket-tagging --bucket cli-tags --query 'TagSet[0].Key' --output text |
  grep -qx team || fail "get-bucket-tagging"
"${AWS[@]}" s3api put-object-tagging --bucket cli-tags --key k \
  --tagging 'TagSet=[{Key=kept,Value=yes}]'

step "tags are replicated state: every metadata replica killed (-9) and restarted"
for i in 1 2 3; do cluster_kill "meta$i"; done
for i in 1 2 3; do cluster_start "meta$i"; done
wait_for 30 "${AWS[@]}" s3api get-bucket-tagging --bucket cli-tags ||
  fail "the gateway does not answer after the replicas restarted"
"${AWS[@]}" s3api get-bucket-tagging --bucket cli-tags --query 'TagSet[0].Value' --output text |
  grep -qx storage || fail "bucket tags lost over a restart"
"${AWS[@]}" s3api get-object-tagging --bucket cli-tags --key k --query 'TagSet[0].Key' --output text |
  grep -qx kept || fail "object tags lost over a restart"
"${AWS[@]}" s3api delete-bucket-tagging --bucket cli-tags
"${AWS[@]}" s3api get-bucket-tagging --bucket cli-tags 2> "$TEST_DIR/err" && fail "tags after delete"
grep -q NoSuchTagSet "$TEST_DIR/err" || fail "delete-bucket-tagging: $(cat "$TEST_DIR/err")"
step "PASS"
