#!/usr/bin/env bash
# The S3 gateway against real clients: a local cluster from scripts/cluster.sh
# (3 cairn-meta, 6 cairn-chunk, cairn-gateway with small chunk groups so a
# 40 MB object spans several), then aws cli, s3cmd, rclone, boto3 and curl
# round-trip objects byte for byte (sha256), ranged reads, listings, deletes
# and error codes; then chunkservers are killed one by one: with 1 and 2 lost
# every object still reads byte-exact (degraded reads), with 3 lost a GET
# fails and never returns wrong bytes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="$TEST_DIR/data"
mkdir -p "$DATA"

CAIRN_GATEWAY_OPTS="--group-fragment 4M --base-domain s3.cairn.test --log-level info" cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null
# Single-part uploads by default (the multipart step below uses aws's own
# 8 MiB threshold).
printf '[default]\ns3 =\n    multipart_threshold = 1GB\n' > "$TEST_DIR/aws.conf"
export AWS_CONFIG_FILE="$TEST_DIR/aws.conf"
EP="$S3_ENDPOINT"
HOSTPORT="${EP#http://}"
AWS=(/usr/bin/aws --endpoint-url "$EP")
S3CMD=(s3cmd -c /dev/null --access_key="$AWS_ACCESS_KEY_ID" --secret_key="$AWS_SECRET_ACCESS_KEY"
       --host="$HOSTPORT" --host-bucket="$HOSTPORT" --no-ssl --region=us-east-1
       --disable-multipart --no-progress)
rclone_() {
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other \
      RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
      RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
      RCLONE_CONFIG_GW_ENDPOINT="$EP" RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true \
      rclone --config /dev/null "$@"
}
metric() { curl -s "$EP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
CURL=(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")

step "test data"
head -c 0 /dev/urandom > "$DATA/f0"
head -c 1 /dev/urandom > "$DATA/f1"
head -c 16384 /dev/urandom > "$DATA/f16k"
head -c 16385 /dev/urandom > "$DATA/f16k1"
head -c 5000000 /dev/urandom > "$DATA/f5m"
head -c $((40 * 1024 * 1024 + 12345)) /dev/urandom > "$DATA/f40m"

step "aws cli: buckets and round trips"
"${AWS[@]}" s3 mb s3://itest >/dev/null
"${AWS[@]}" s3api head-bucket --bucket itest
"${AWS[@]}" s3 ls | grep ' itest$' >/dev/null || fail "ListBuckets misses itest"
[ "$("${AWS[@]}" s3api get-bucket-location --bucket itest --output text)" = "None" ] ||
  fail "GetBucketLocation"
for f in f0 f1 f16k f16k1 f5m f40m; do
  step "aws cli: $f"
  "${AWS[@]}" s3 cp --no-progress "$DATA/$f" "s3://itest/$f" >/dev/null
  "${AWS[@]}" s3 cp --no-progress "s3://itest/$f" "$DATA/$f.aws" >/dev/null
  same "$DATA/$f" "$DATA/$f.aws"
done
etag="$("${AWS[@]}" s3api head-object --bucket itest --key f5m --query ETag --output text)"
[ "$etag" = "\"$(md5sum < "$DATA/f5m" | cut -d' ' -f1)\"" ] || fail "ETag of f5m: $etag"
"${AWS[@]}" s3 ls s3://itest | grep " $((40 * 1024 * 1024 + 12345)) f40m$" >/dev/null || fail "listing shows f40m's size"

step "aws cli: multipart upload (8 MiB parts) and multipart copy"
AWS_CONFIG_FILE=/dev/null "${AWS[@]}" s3 cp --no-progress "$DATA/f40m" s3://itest/mp40 >/dev/null
etag="$("${AWS[@]}" s3api head-object --bucket itest --key mp40 --query ETag --output text)"
[[ "$etag" == *-6\" ]] || fail "multipart ETag of mp40: $etag"
AWS_CONFIG_FILE=/dev/null "${AWS[@]}" s3 cp --no-progress s3://itest/mp40 s3://itest/mp40copy \
  >/dev/null
"${AWS[@]}" s3 cp --no-progress s3://itest/mp40copy "$DATA/mp40.aws" >/dev/null
same "$DATA/f40m" "$DATA/mp40.aws"
url="$("${AWS[@]}" s3 presign s3://itest/f5m --expires-in 300)"
curl -sf -o "$DATA/f5m.presigned" "$url" || fail "presigned GET"
same "$DATA/f5m" "$DATA/f5m.presigned"

step "s3cmd"
"${S3CMD[@]}" put "$DATA/f16k1" s3://itest/s3cmd/f16k1 >/dev/null
"${S3CMD[@]}" put "$DATA/f5m" s3://itest/s3cmd/f5m >/dev/null
"${S3CMD[@]}" get --force s3://itest/s3cmd/f5m "$DATA/f5m.s3cmd" >/dev/null
same "$DATA/f5m" "$DATA/f5m.s3cmd"
"${S3CMD[@]}" ls s3://itest/s3cmd/ | grep 's3://itest/s3cmd/f16k1$' >/dev/null || fail "s3cmd ls"
"${S3CMD[@]}" del s3://itest/s3cmd/f16k1 >/dev/null

step "rclone"
mkdir -p "$DATA/tree/sub"
cp "$DATA/f1" "$DATA/f16k" "$DATA/tree/"; cp "$DATA/f5m" "$DATA/tree/sub/"
rclone_ copy "$DATA/tree" gw:itest/rc
rclone_ check "$DATA/tree" gw:itest/rc 2>&1 | tail -1
rclone_ copy gw:itest/rc "$DATA/tree.back"
same "$DATA/f5m" "$DATA/tree.back/sub/f5m"
same "$DATA/f16k" "$DATA/tree.back/f16k"

step "curl --aws-sigv4"
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$DATA/f16k1" -o /dev/null \
       -w '%{http_code}' "$EP/itest/curl/f16k1")
[ "$code" = 200 ] || fail "curl PUT: $code"
"${CURL[@]}" -o "$DATA/f16k1.curl" "$EP/itest/curl/f16k1"
same "$DATA/f16k1" "$DATA/f16k1.curl"
code=$("${CURL[@]}" -o "$TEST_DIR/err.xml" -w '%{http_code}' -H 'Range: bytes=99999999-' \
       "$EP/itest/f5m")
[ "$code" = 416 ] && grep -q '<Code>InvalidRange</Code>' "$TEST_DIR/err.xml" || fail "416: $code"
# Conditional create: If-None-Match: * on an existing key is refused, nothing changes.
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H 'If-None-Match: *' \
       -T "$DATA/f1" -o /dev/null -w '%{http_code}' "$EP/itest/curl/f16k1")
[ "$code" = 412 ] || fail "If-None-Match: * on an existing key gave $code"
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H 'If-None-Match: *' \
       -T "$DATA/f1" -o /dev/null -w '%{http_code}' "$EP/itest/curl/new")
[ "$code" = 200 ] || fail "If-None-Match: * on a new key gave $code"
# Both If-None-Match: * and If-Match can never hold: 412, nothing stored.
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H 'If-None-Match: *' \
       -H 'If-Match: "00000000000000000000000000000000"' \
       -T "$DATA/f1" -o /dev/null -w '%{http_code}' "$EP/itest/curl/absent-both")
[ "$code" = 412 ] || fail "If-None-Match: * with If-Match gave $code"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$EP/itest/curl/absent-both")
[ "$code" = 404 ] || fail "a refused conditional PUT stored the object ($code)"
# Content-MD5 that does not match the body: BadDigest, object unchanged.
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
       -H "Content-MD5: $(head -c 16 /dev/zero | base64)" -T "$DATA/f5m" \
       -o "$TEST_DIR/err.xml" -w '%{http_code}' "$EP/itest/curl/f16k1")
[ "$code" = 400 ] && grep -q '<Code>BadDigest</Code>' "$TEST_DIR/err.xml" || fail "BadDigest: $code"
"${CURL[@]}" -o "$DATA/f16k1.curl2" "$EP/itest/curl/f16k1"
same "$DATA/f16k1" "$DATA/f16k1.curl2"
# x-amz-checksum-crc32 as a header: checked against the body.
crc="$(/usr/bin/python3 -c 'import sys, zlib, base64
d = open(sys.argv[1], "rb").read()
print(base64.b64encode(zlib.crc32(d).to_bytes(4, "big")).decode())' "$DATA/f5m")"
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "x-amz-checksum-crc32: $crc" \
       -T "$DATA/f5m" -o /dev/null -w '%{http_code}' "$EP/itest/curl/crc")
[ "$code" = 200 ] || fail "PUT with a right x-amz-checksum-crc32: $code"
code=$("${CURL[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "x-amz-checksum-crc32: AAAAAA==" \
       -T "$DATA/f5m" -o "$TEST_DIR/err.xml" -w '%{http_code}' "$EP/itest/curl/crc2")
[ "$code" = 400 ] && grep -q '<Code>BadDigest</Code>' "$TEST_DIR/err.xml" || fail "bad crc32: $code"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$EP/itest/curl/crc2")
[ "$code" = 404 ] || fail "an object with a bad checksum was stored ($code)"
# Conditional DELETE: If-Match with another ETag is refused, with the right one it deletes.
code=$("${CURL[@]}" -X DELETE -H 'If-Match: "0123"' -o /dev/null -w '%{http_code}' \
       "$EP/itest/curl/crc")
[ "$code" = 412 ] || fail "DELETE with a wrong If-Match: $code"
code=$("${CURL[@]}" -X DELETE -H "If-Match: \"$(md5sum < "$DATA/f5m" | cut -d' ' -f1)\"" \
       -o /dev/null -w '%{http_code}' "$EP/itest/curl/crc")
[ "$code" = 204 ] || fail "DELETE with the right If-Match: $code"
# A wrong secret: 403 SignatureDoesNotMatch.
code=$(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:wrong-secret" \
       -o "$TEST_DIR/err.xml" -w '%{http_code}' "$EP/itest/f5m")
[ "$code" = 403 ] && grep -q '<Code>SignatureDoesNotMatch</Code>' "$TEST_DIR/err.xml" ||
  fail "bad signature gave $code"
# Unsigned request: AccessDenied.
code=$(curl -s -o /dev/null -w '%{http_code}' "$EP/itest/f5m")
[ "$code" = 403 ] || fail "anonymous GET gave $code"

step "public-read bucket and object: anonymous reads, signed writes"
# As in S3: the bucket's ACL lets anyone list it; an object is readable by
# anyone when its own ACL says so.
code=$("${CURL[@]}" -X PUT -H 'x-amz-acl: public-read' -o /dev/null -w '%{http_code}' "$EP/pubread")
[ "$code" = 200 ] || fail "CreateBucket public-read: $code"
"${CURL[@]}" -f -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$DATA/f1" -o /dev/null \
  "$EP/pubread/private" || fail "signed PUT into the public-read bucket"
code=$(curl -s -o /dev/null -w '%{http_code}' "$EP/pubread/private")
[ "$code" = 403 ] || fail "anonymous GET of a private object in a public-read bucket gave $code"
"${CURL[@]}" -f -X DELETE -o /dev/null "$EP/pubread/private" || fail "delete pubread/private"
"${CURL[@]}" -f -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H 'x-amz-acl: public-read' \
  -T "$DATA/f5m" -o /dev/null "$EP/pubread/f5m" || fail "signed public-read PUT"
curl -sf -o "$DATA/f5m.anon" "$EP/pubread/f5m" || fail "anonymous GET of a public-read object"
same "$DATA/f5m" "$DATA/f5m.anon"
curl -sf "$EP/pubread?list-type=2" | grep '<Key>f5m</Key>' >/dev/null || fail "anonymous list"
code=$(curl -s -T "$DATA/f1" -o /dev/null -w '%{http_code}' "$EP/pubread/anon")
[ "$code" = 403 ] || fail "anonymous PUT into a public-read bucket gave $code"
"${CURL[@]}" -f -X DELETE -o /dev/null "$EP/pubread/f5m" || fail "delete pubread/f5m"
"${CURL[@]}" -f -X DELETE -o /dev/null "$EP/pubread" || fail "delete bucket pubread"

step "virtual-host style (BUCKET.s3.cairn.test)"
VH="itest.s3.cairn.test:${HOSTPORT#*:}"
"${CURL[@]}" --resolve "$VH:127.0.0.1" -o "$DATA/f5m.vhost" "http://$VH/f5m"
same "$DATA/f5m" "$DATA/f5m.vhost"
"${CURL[@]}" --resolve "$VH:127.0.0.1" "http://$VH/?list-type=2&prefix=f5" |
  grep '<Key>f5m</Key>' >/dev/null || fail "virtual-host listing"

step "aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)"
CHUNKED="$CAIRN_SRC/tests/integration/s3_chunked_put.py"
for f in f1 f5m; do
  /usr/bin/python3 "$CHUNKED" "$EP" itest "chunked/$f" "$DATA/$f" >/dev/null || fail "chunked PUT $f"
  "${CURL[@]}" -o "$DATA/$f.chunked" "$EP/itest/chunked/$f"
  same "$DATA/$f" "$DATA/$f.chunked"
done
# A bad chunk signature: 403 SignatureDoesNotMatch, the object is unchanged.
/usr/bin/python3 "$CHUNKED" "$EP" itest chunked/f5m "$DATA/f16k1" --corrupt >/dev/null ||
  fail "a corrupt chunk signature was not refused"
"${CURL[@]}" -o "$DATA/f5m.chunked2" "$EP/itest/chunked/f5m"
same "$DATA/f5m" "$DATA/f5m.chunked2"
[ "$(metric 'cairn_gw_payloads_total{mode="streaming"}')" -ge 3 ] || fail "streaming not counted"

step "boto3"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_boto3_checks.py" "$EP" itest "$DATA"

step "concurrency: 16 parallel PUTs then 16 parallel GETs"
for i in $(seq 16); do head -c $((600000 + i * 70001)) /dev/urandom > "$DATA/par$i"; done
pids=()
for i in $(seq 16); do
  "${CURL[@]}" -f -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$DATA/par$i" -o /dev/null \
    "$EP/itest/par/$i" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel PUT failed"; done
pids=()
for i in $(seq 16); do
  "${CURL[@]}" -f -o "$DATA/par$i.back" "$EP/itest/par/$i" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel GET failed"; done
for i in $(seq 16); do same "$DATA/par$i" "$DATA/par$i.back"; done

step "aws cli: delete"
"${AWS[@]}" s3 rm s3://itest/f16k >/dev/null
if "${AWS[@]}" s3api head-object --bucket itest --key f16k >/dev/null 2>&1; then
  fail "f16k still there after rm"
fi
out="$("${AWS[@]}" s3 rb s3://itest 2>&1)" && fail "rb of a non-empty bucket succeeded"
echo "$out" | grep BucketNotEmpty >/dev/null || fail "rb: $out"
"${AWS[@]}" s3 mb s3://empty-one >/dev/null
"${AWS[@]}" s3 rb s3://empty-one >/dev/null
"${AWS[@]}" s3 ls | grep ' empty-one$' >/dev/null && fail "empty-one still listed"

step "degraded reads: one chunkserver lost"
"$CLUSTER" stop chunk1 --dir "$CDIR"
for f in f5m f40m f16k1 mp40; do
  src="$DATA/$f"; [ "$f" = mp40 ] && src="$DATA/f40m"
  "${AWS[@]}" s3 cp --no-progress "s3://itest/$f" "$DATA/$f.deg1" >/dev/null
  same "$src" "$DATA/$f.deg1"
done
# A write with one chunkserver down still reaches its write quorum (k+1).
"${AWS[@]}" s3 cp --no-progress "$DATA/f5m" s3://itest/after-loss >/dev/null
"${AWS[@]}" s3 cp --no-progress s3://itest/after-loss "$DATA/after-loss" >/dev/null
same "$DATA/f5m" "$DATA/after-loss"

step "degraded reads: two chunkservers lost"
"$CLUSTER" stop chunk2 --dir "$CDIR"
for f in f5m f40m after-loss mp40copy; do
  src="$DATA/$f"; [ "$f" = after-loss ] && src="$DATA/f5m"; [ "$f" = mp40copy ] && src="$DATA/f40m"
  "${AWS[@]}" s3 cp --no-progress "s3://itest/$f" "$DATA/$f.deg2" >/dev/null
  same "$src" "$DATA/$f.deg2"
done
/usr/bin/python3 - "$EP" "$DATA/f40m" <<'PY'
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
big = open(sys.argv[2], "rb").read()
for a, b in ((0, 10), (4194300, 4194400), (20000000, 29000000), (len(big) - 7, len(big) - 1)):
    got = s3.get_object(Bucket="itest", Key="f40m", Range=f"bytes={a}-{b}")["Body"].read()
    assert got == big[a:b + 1], (a, b)
PY
deg="$(metric cairn_gw_degraded_reads_total)"
[ "${deg:-0}" -gt 0 ] || fail "no degraded reads counted"
echo "degraded stripes served: $deg, fragments decoded: $(metric cairn_gw_decodes_total)"

step "three chunkservers lost: errors, never wrong bytes"
"$CLUSTER" stop chunk3 --dir "$CDIR"
for f in f5m f40m; do
  rm -f "$DATA/$f.deg3"
  code=$("${CURL[@]}" --max-time 60 -o "$DATA/$f.deg3" -w '%{http_code}' "$EP/itest/$f" || true)
  if [ "$code" = 200 ]; then
    # Headers went out before a failure: the body must be short, never wrong.
    [ "$(stat -c %s "$DATA/$f.deg3")" -lt "$(stat -c %s "$DATA/$f")" ] ||
      fail "$f read with 3 of 6 fragments lost gave a full 200 body"
    cmp -s -n "$(stat -c %s "$DATA/$f.deg3")" "$DATA/$f" "$DATA/$f.deg3" || fail "$f: wrong bytes"
  else
    [ "$code" = 503 ] || [ "$code" = 500 ] || fail "$f with 3 lost: HTTP $code"
  fi
  echo "$f with 3 of 6 chunkservers lost: HTTP $code"
done
if "${AWS[@]}" s3 cp --no-progress s3://itest/f40m "$DATA/f40m.aws3" >/dev/null 2>&1; then
  fail "aws s3 cp succeeded with 3 of 6 fragments lost"
fi
# Inline objects live in the metadata record and still read.
"${AWS[@]}" s3 cp --no-progress s3://itest/f16k "$DATA/f16k.deg3" >/dev/null 2>&1 ||
  "${AWS[@]}" s3 cp --no-progress s3://itest/f1 "$DATA/f16k.deg3" >/dev/null
"${AWS[@]}" s3 cp --no-progress s3://itest/f1 "$DATA/f1.deg3" >/dev/null
same "$DATA/f1" "$DATA/f1.deg3"

step "done in $((SECONDS - T0)) s"
