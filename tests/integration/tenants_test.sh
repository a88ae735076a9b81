#!/usr/bin/env bash
# Tenants and access control (#12) through real clients: users made with
# `cairn keys create`, then tenants.py (boto3) checks isolation of every
# operation, S3's 403/404 rules, ACLs, bucket policies, quotas and keys
# disabled or deleted under load; then the aws CLI as two users, and the
# operator's `cairn user delete` refused while the user owns buckets.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CAIRN_GATEWAY_OPTS="--log-level info" cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
CAIRN=("$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META")

step "users and their keys (cairn keys create makes the user)"
for u in alice bob carol; do
  "${CAIRN[@]}" keys create "$u" --json > "$TEST_DIR/$u.key"
done
"${CAIRN[@]}" keys create alice | grep >/dev/null '^owner alice$' || fail "keys create prints the owner line"
"${CAIRN[@]}" user list --json > "$TEST_DIR/users.json"
/usr/bin/python3 - "$TEST_DIR" <<'PY'
import json, sys
d = sys.argv[1]
users = {u["user"]: u["canonical_id"] for u in json.load(open(f"{d}/users.json"))}
keys = {}
for u in ("alice", "bob", "carol"):
    k = json.load(open(f"{d}/{u}.key"))
    keys[u] = {"access_key": k["access_key"], "secret_key": k["secret_key"], "id": users[u]}
json.dump(keys, open(f"{d}/keys.json", "w"))
PY
"${CAIRN[@]}" user create alice 2>"$TEST_DIR/err" && fail "a second user alice"
grep -q 'user exists' "$TEST_DIR/err" || fail "cairn user create alice again: $(cat "$TEST_DIR/err")"

step "boto3: isolation, ACLs, policies, quotas, keys (tenants.py)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/tenants.py" "$S3_ENDPOINT" "$TEST_DIR/keys.json" \
  "${CAIRN[@]}"

step "aws cli as alice and as bob"
key_of() { # key_of USER FIELD
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
    "$TEST_DIR/keys.json" "$1" "$2"
}
as() { # as USER aws-args...
  local u="$1"; shift
  AWS_ACCESS_KEY_ID="$(key_of "$u" access_key)" AWS_SECRET_ACCESS_KEY="$(key_of "$u" secret_key)" \
    /usr/bin/aws --endpoint-url "$S3_ENDPOINT" "$@"
}
as alice s3 ls | grep >/dev/null ' a-bkt$' || fail "aws s3 ls as alice"
as bob s3 ls | grep >/dev/null ' a-bkt$' && fail "bob's aws s3 ls shows alice's bucket"
as bob s3 ls s3://a-bkt 2>"$TEST_DIR/err" && fail "bob lists a-bkt with aws"
grep -q AccessDenied "$TEST_DIR/err" || fail "aws: $(cat "$TEST_DIR/err")"
echo hello > "$TEST_DIR/hello"
as alice s3api put-object --bucket a-bkt --key cli --body "$TEST_DIR/hello" >/dev/null
as alice s3api put-bucket-policy --bucket a-bkt --policy "{\"Statement\":[{\"Effect\":\"Allow\",
  \"Principal\":{\"AWS\":\"bob\"},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::a-bkt/cli\"}]}"
as bob s3 cp --no-progress s3://a-bkt/cli "$TEST_DIR/hello.bob" >/dev/null
same "$TEST_DIR/hello" "$TEST_DIR/hello.bob"
as alice s3api get-bucket-acl --bucket a-bkt --query 'Owner.DisplayName' --output text |
  grep -qx alice || fail "get-bucket-acl owner"

step "the operator: sees every bucket; a user with buckets is not deleted"
/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 ls | grep >/dev/null ' b-bkt$' || fail "operator's ListBuckets"
"${CAIRN[@]}" user delete bob 2>"$TEST_DIR/err" && fail "bob deleted while owning b-bkt"
grep -q 'owns buckets' "$TEST_DIR/err" || fail "cairn user delete bob: $(cat "$TEST_DIR/err")"
as bob s3 rb --force s3://b-bkt >/dev/null
"${CAIRN[@]}" user delete bob | grep >/dev/null 'deleted user bob' || fail "cairn user delete bob"
as bob s3 ls 2>"$TEST_DIR/err" && fail "bob's key outlived bob"
grep -q InvalidAccessKeyId "$TEST_DIR/err" || fail "deleted user's key: $(cat "$TEST_DIR/err")"
step "PASS"
