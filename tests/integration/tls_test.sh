#!/usr/bin/env bash
# The gateway over HTTPS, as `scripts/cluster.sh up --tls` deploys it (a test
# CA and a server certificate for 127.0.0.1 and localhost made with openssl):
#   - cluster.env has an https S3_ENDPOINT and AWS_CA_BUNDLE (and every other
#     variable it always had); the port answers TLS only (plain HTTP fails);
#   - a client that does not trust the test CA is refused (curl, aws CLI
#     without the bundle), one with a wrong host name too;
#   - aws CLI (--ca-bundle), boto3 (verify=CA), s3cmd (--ca-certs), rclone
#     (--ca-cert) and s3fs (curl CA path) each round-trip a 20 MB object
#     (multipart for aws, single part for the rest) byte-exact;
#   - a second gateway with --http-port serves HTTPS and plain HTTP at once,
#     and a policy condition on aws:SecureTransport tells them apart.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="$TEST_DIR/data"
mkdir -p "$DATA"
tls_cleanup() {
  local rc=$?
  mountpoint -q "$TEST_DIR/mnt" 2>/dev/null && fusermount -u "$TEST_DIR/mnt" 2>/dev/null
  teardown "$rc" "$DATA" "$CDIR"/chunk*/
}
trap tls_cleanup EXIT

step "cluster.sh up --tls"
"$CLUSTER" up --dir "$CDIR" --base-port auto --chunkservers 6 --tls > "$TEST_DIR/up.log" 2>&1 ||
  { cat "$TEST_DIR/up.log"; fail "cluster.sh up --tls"; }
cluster_use "$CDIR"
grep -q 'S3 endpoint:   https://127.0.0.1:' "$TEST_DIR/up.log" || fail "up does not print an https endpoint"
for v in S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION CAIRN_SECRET \
         CAIRN_META AWS_CA_BUNDLE; do
  grep -q "^export $v=" "$CDIR/cluster.env" || fail "cluster.env lacks $v"
done
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
case "$S3_ENDPOINT" in https://127.0.0.1:*) ;; *) fail "S3_ENDPOINT=$S3_ENDPOINT is not https" ;; esac
[ "$AWS_CA_BUNDLE" = "$CDIR/tls/ca.pem" ] || fail "AWS_CA_BUNDLE=$AWS_CA_BUNDLE"
openssl verify -CAfile "$CDIR/tls/ca.pem" "$CDIR/tls/server.pem" >/dev/null || fail "server cert"
openssl x509 -in "$CDIR/tls/server.pem" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
  fail "the certificate has no SAN 127.0.0.1"
PORT="${S3_ENDPOINT##*:}"
CA="$AWS_CA_BUNDLE"
AK="$AWS_ACCESS_KEY_ID" SK="$AWS_SECRET_ACCESS_KEY"
export BOTO_DISABLE_CRT=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE

step "TLS only, and only for who trusts the CA and asks for the right name"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "$AK:$SK")
curl -sf --max-time 10 --cacert "$CA" "${sig[@]}" "https://127.0.0.1:$PORT/" >/dev/null ||
  fail "curl with the CA"
curl -sf --max-time 10 --cacert "$CA" "${sig[@]}" "https://localhost:$PORT/" >/dev/null ||
  fail "curl with the CA by the name localhost"
if curl -s --max-time 10 "${sig[@]}" "http://127.0.0.1:$PORT/" -o /dev/null -w '%{http_code}' |
  grep -q '^2'; then fail "plain HTTP answered on the TLS port"; fi
curl -s --max-time 10 --capath /nonexistent --cacert /dev/null "https://127.0.0.1:$PORT/" \
  -o /dev/null 2>/dev/null && fail "curl without the CA trusted the server"
# The right CA, the wrong name: 127.0.0.2 is not in the certificate.
curl -s --max-time 10 --cacert "$CA" "https://127.0.0.2:$PORT/" -o /dev/null 2>/dev/null &&
  fail "a certificate for 127.0.0.1 was accepted for 127.0.0.2"
env -u AWS_CA_BUNDLE /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 ls >/dev/null 2>&1 &&
  fail "aws without the CA bundle trusted the server"

step "test data: 20 MB"
openssl rand -out "$DATA/big.bin" 20000000
SHA="$(sha256sum < "$DATA/big.bin" | cut -d' ' -f1)"
check() { # check FILE WHAT
  [ "$(sha256sum < "$1" | cut -d' ' -f1)" = "$SHA" ] || fail "$2: the object read back differs"
  rm -f "$1"
}
AWS=(env -u AWS_CA_BUNDLE /usr/bin/aws --endpoint-url "$S3_ENDPOINT" --ca-bundle "$CA")

step "aws CLI --ca-bundle (multipart upload)"
"${AWS[@]}" s3 mb s3://tls-bucket >/dev/null || fail "aws s3 mb"
"${AWS[@]}" s3 cp --no-progress "$DATA/big.bin" s3://tls-bucket/aws.bin >/dev/null || fail "aws cp up"
"${AWS[@]}" s3 cp --no-progress s3://tls-bucket/aws.bin "$DATA/aws.out" >/dev/null || fail "aws cp down"
check "$DATA/aws.out" aws

step "boto3 verify=CA"
env -u AWS_CA_BUNDLE /usr/bin/python3 - "$S3_ENDPOINT" "$CA" "$DATA/big.bin" "$SHA" <<'PY' || fail "boto3"
import hashlib, sys
import boto3
from botocore.config import Config
ep, ca, path, sha = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=ep, verify=ca, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
data = open(path, "rb").read()
s3.put_object(Bucket="tls-bucket", Key="boto3.bin", Body=data)
got = s3.get_object(Bucket="tls-bucket", Key="boto3.bin")["Body"].read()
assert hashlib.sha256(got).hexdigest() == sha, "boto3 read back differs"
try:
    boto3.client("s3", endpoint_url=ep, verify=True, region_name="us-east-1").list_buckets()
    raise SystemExit("boto3 with the system CAs trusted the test CA")
except Exception as e:
    if "SSL" not in repr(e) and "certificate" not in repr(e):
        raise
PY

step "s3cmd --ca-certs"
S3CMD=(env -u AWS_CA_BUNDLE s3cmd -c /dev/null --access_key="$AK" --secret_key="$SK"
       --host="127.0.0.1:$PORT" --host-bucket="127.0.0.1:$PORT" --ssl --ca-certs="$CA"
       --region=us-east-1 --multipart-chunk-size-mb=64)
"${S3CMD[@]}" put "$DATA/big.bin" s3://tls-bucket/s3cmd.bin >/dev/null || fail "s3cmd put"
"${S3CMD[@]}" get s3://tls-bucket/s3cmd.bin "$DATA/s3cmd.out" >/dev/null || fail "s3cmd get"
check "$DATA/s3cmd.out" s3cmd

step "rclone --ca-cert"
rclone_() {
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other \
    RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AK" RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$SK" \
    RCLONE_CONFIG_GW_ENDPOINT="$S3_ENDPOINT" RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true \
    rclone --config /dev/null --ca-cert "$CA" "$@"
}
rclone_ copyto "$DATA/big.bin" gw:tls-bucket/rclone.bin || fail "rclone up"
rclone_ copyto gw:tls-bucket/rclone.bin "$DATA/rclone.out" || fail "rclone down"
check "$DATA/rclone.out" rclone

if [ -e /dev/fuse ] && command -v s3fs >/dev/null && command -v fusermount >/dev/null; then
  step "s3fs (curl CA via CURL_CA_BUNDLE)"
  mkdir -p "$TEST_DIR/mnt"
  env -u AWS_CA_BUNDLE AWSACCESSKEYID="$AK" AWSSECRETACCESSKEY="$SK" CURL_CA_BUNDLE="$CA" \
    s3fs tls-bucket "$TEST_DIR/mnt" -o "use_path_request_style,url=$S3_ENDPOINT,endpoint=us-east-1" \
    -o dbglevel=warn > "$TEST_DIR/s3fs.log" 2>&1 || fail "s3fs mount"
  wait_for 20 test -f "$TEST_DIR/mnt/aws.bin" || fail "s3fs: the bucket does not show"
  cp "$DATA/big.bin" "$TEST_DIR/mnt/s3fs.bin" || fail "s3fs write"
  cp "$TEST_DIR/mnt/aws.bin" "$DATA/s3fs.out" || fail "s3fs read"
  check "$DATA/s3fs.out" "s3fs read"
  fusermount -u "$TEST_DIR/mnt" || fail "fusermount -u"
  "${AWS[@]}" s3 cp --no-progress s3://tls-bucket/s3fs.bin "$DATA/s3fs2.out" >/dev/null ||
    fail "aws reading what s3fs wrote"
  check "$DATA/s3fs2.out" "s3fs write"
else
  echo "   (no /dev/fuse or s3fs here: s3fs skipped)"
fi

step "a second gateway: HTTPS on one port and plain HTTP (--http-port) on another"
cluster_pick_base 0
P2=$((CLUSTER_BASE + 2000)) H2=$((CLUSTER_BASE + 2001))
cluster_launch gateway2 "$(cluster_bin gateway)" --port "$P2" --http-port "$H2" \
  --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret" \
  --credentials-file "$CDIR/credentials" --tls-cert "$CDIR/tls/server.pem" \
  --tls-key "$CDIR/tls/server.key"
wait_for 20 curl -sf --cacert "$CA" "${sig[@]}" "https://127.0.0.1:$P2/" || fail "gateway2 https"
wait_for 20 curl -sf "${sig[@]}" "http://127.0.0.1:$H2/" || fail "gateway2 plain http"
curl -sf --cacert "$CA" "${sig[@]}" "https://127.0.0.1:$P2/tls-bucket/aws.bin" -o "$DATA/g2.out" ||
  fail "gateway2 GET over https"
check "$DATA/g2.out" "gateway2"
# aws:SecureTransport is true over HTTPS only: a policy that denies plain
# HTTP (operators are allowed everything, so a user's key asks)
export CAIRN_SECRET
CAIRN_SECRET="$(cat "$CDIR/secret")"
out="$("$(cluster_bin cli)" --meta "$CAIRN_META" keys create tlsuser)" || fail "keys create"
UAK="$(awk '/^access key/ { print $NF }' <<<"$out")" USK="$(awk '/^secret key/ { print $NF }' <<<"$out")"
usig=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "$UAK:$USK")
curl -sf --cacert "$CA" "${usig[@]}" -X PUT "https://127.0.0.1:$P2/tls-user" >/dev/null ||
  fail "tlsuser's bucket"
curl -sf --cacert "$CA" "${usig[@]}" -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  --data-binary hello "https://127.0.0.1:$P2/tls-user/o" >/dev/null || fail "tlsuser's object"
cat > "$TEST_DIR/policy.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls-user/*",
 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
JSON
curl -sf --cacert "$CA" "${usig[@]}" -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  --data-binary @"$TEST_DIR/policy.json" "https://127.0.0.1:$P2/tls-user?policy=" >/dev/null ||
  fail "put-bucket-policy"
[ "$(curl -s --cacert "$CA" "${usig[@]}" "https://127.0.0.1:$P2/tls-user/o")" = hello ] ||
  fail "GET over HTTPS denied by a policy that denies plain HTTP only"
code="$(curl -s -o /dev/null -w '%{http_code}' "${usig[@]}" "http://127.0.0.1:$H2/tls-user/o")"
[ "$code" = 403 ] || fail "GET over plain HTTP with aws:SecureTransport false denied: $code"
cluster_stop gateway2 || fail "gateway2 did not stop cleanly"

step "a gateway given a key that does not match its certificate does not start"
openssl genrsa -out "$TEST_DIR/other.key" 2048 2>/dev/null
if timeout 20 "$(cluster_bin gateway)" --port 0 --meta "$CAIRN_META" \
     --cluster-secret-file "$CDIR/secret" --tls-cert "$CDIR/tls/server.pem" \
     --tls-key "$TEST_DIR/other.key" > "$TEST_DIR/badkey.log" 2>&1; then
  fail "a gateway with a mismatched key started"
fi
grep -q 'cannot serve' "$TEST_DIR/badkey.log" || { cat "$TEST_DIR/badkey.log"; fail "no error"; }
echo "tls: OK"
