#!/usr/bin/env bash
# Fault test 5 (issue 6): the S3 gateway is killed (kill -9) in the middle of
# a large upload, on a cluster from scripts/cluster.sh (6 chunkservers with
# --orphan-grace 6s --orphan-scan-interval 1s).
#   - single PUT (aws s3 cp, 600 MiB, one PutObject): after the gateway is
#     restarted (cluster.sh start gateway) the object never appears (HEAD 404,
#     not listed), and the fragment files its finished chunk groups left on
#     the chunkservers' disks are deleted after the grace period: the count
#     returns to exactly what the committed objects' records place there;
#   - multipart (aws s3 cp, 600 MiB in 32 MiB parts): the upload stays
#     S3-visible with the parts that were committed (by design, until
#     aborted), the fragments of the parts in flight are collected, and
#     AbortMultipartUpload then garbage-collects the parts' fragments too;
#   - committed objects stay byte-exact (sha256) throughout.
# The aws client is limited to 100 MB/s (its max_bandwidth) and makes one
# attempt per request, so the kill lands mid-upload and nothing is retried
# against the restarted gateway.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="$TEST_DIR/data"
mkdir -p "$DATA"

s3_cleanup() {
  local rc=$?
  [ -n "${AWS_PID:-}" ] && kill -9 "$AWS_PID" 2>/dev/null
  teardown "$rc"
}
trap s3_cleanup EXIT

export CAIRN_CHUNK_OPTS="--orphan-grace 6s --orphan-scan-interval 1s --heartbeat 500ms"
cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_MAX_ATTEMPTS=1
CAIRN=("$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret")
# single.conf: one PutObject per file; mp.conf: 32 MiB parts, two at a time.
printf '[default]\ns3 =\n    multipart_threshold = 2GB\n    max_bandwidth = 100MB/s\n' > "$TEST_DIR/single.conf"
printf '[default]\ns3 =\n    multipart_threshold = 8MB\n    multipart_chunksize = 32MB\n    max_concurrent_requests = 2\n    max_bandwidth = 100MB/s\n' > "$TEST_DIR/mp.conf"
export AWS_CONFIG_FILE="$TEST_DIR/single.conf"
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" --cli-read-timeout 60)
B=gwkill

# Fragment files on the chunkservers' disks (committed fragments only; an
# open fragment of a packed group is its data file, not its .crc file).
frag_files() { find "$CDIR"/chunk*/frags -type f -name '*.[0-9]*' ! -name '*.crc' | wc -l; }
# Fragments the committed objects' records place on a chunkserver.
needed() {
  local k n=0 c
  for k in "${KEYS[@]}"; do
    c=$("${CAIRN[@]}" locate "$B" "$k" | grep -Ec '^  (data  |parity) +[0-9]+  [0-9a-f]{16} ')
    n=$((n + c))
  done
  echo "$n"
}
# objs put|check: boto3 writes the committed objects (those of 8 MiB and more as
# multipart uploads of 8 MiB parts) or reads them all back and compares sha256.
objs() {
  /usr/bin/python3 - "$1" "$S3_ENDPOINT" "$B" "$DATA" "${KEYS[@]}" <<'PY'
import boto3, hashlib, sys
from boto3.s3.transfer import TransferConfig
mode, ep, bucket, data, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1")
for k in keys:
    path = f"{data}/{k}"
    if mode == "put":
        cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20)
        s3.upload_file(path, bucket, k, Config=cfg)
        continue
    want = hashlib.sha256(open(path, "rb").read()).hexdigest()
    h = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=k)["Body"].iter_chunks(1 << 20):
        h.update(chunk)
    if h.hexdigest() != want:
        sys.exit(f"{k}: sha256 {h.hexdigest()} != {want}")
PY
}
check_committed() { objs check || fail "a committed object does not read back byte-exact"; }
gateway_ready() {
  curl -sf -o /dev/null --max-time 3 --aws-sigv4 "aws:amz:us-east-1:s3" \
    -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$S3_ENDPOINT/"
}
head_code() {
  curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 "aws:amz:us-east-1:s3" \
    -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$S3_ENDPOINT/$B/$1"
}
# kill_mid_upload MIN_FILES CMD...: runs the upload CMD in the background,
# kills the gateway (-9) once MIN_FILES fragment files are on disk, and checks
# that the client then failed.
kill_mid_upload() {
  local want="$1"; shift
  "$@" > "$TEST_DIR/client.out" 2>&1 &
  AWS_PID=$!
  local deadline=$((SECONDS + 60))
  until [ "$(frag_files)" -ge "$want" ]; do
    kill -0 "$AWS_PID" 2>/dev/null || { cat "$TEST_DIR/client.out"; fail "the upload ended before the kill"; }
    [ "$SECONDS" -lt "$deadline" ] || fail "the upload made no progress"
    sleep 0.05
  done
  "$CLUSTER" stop gateway --dir "$CDIR"
  step "gateway killed with $(frag_files) fragment files on disk"
  if wait "$AWS_PID"; then AWS_PID=""; fail "the client's upload succeeded although the gateway died"; fi
  AWS_PID=""
  "$CLUSTER" start gateway --dir "$CDIR"
  wait_for 30 gateway_ready || fail "the restarted gateway does not answer"
  step "gateway restarted"
}

step "committed objects"
"${AWS[@]}" s3 mb "s3://$B" >/dev/null
head -c 600M /dev/urandom > "$DATA/big"
KEYS=(one tiny five thirty mp20)
head -c 1 /dev/urandom > "$DATA/one"
head -c 100000 /dev/urandom > "$DATA/tiny"
head -c 5000000 /dev/urandom > "$DATA/five"
head -c 31457281 /dev/urandom > "$DATA/thirty"
head -c 20971520 /dev/urandom > "$DATA/mp20"
objs put || fail "boto3 could not write the committed objects"
N0=$(frag_files)
NEED=$(needed)
echo "fragment files on disk: $N0; the committed records place: $NEED"
[ "$N0" = "$NEED" ] || fail "disk holds $N0 fragment files, the records place $NEED"

step "single PUT of 600 MiB; the gateway dies once its first chunk group is stored"
# A group is 256 MiB of the object (4 x 64 MiB fragments): 6 files per group.
kill_mid_upload $((N0 + 6)) "${AWS[@]}" s3 cp --no-progress "$DATA/big" "s3://$B/big-single"
N1=$(frag_files)
[ "$N1" -gt "$N0" ] || fail "no fragments left by the dead upload"
code=$(head_code big-single)
[ "$code" = 404 ] || fail "HEAD of the dead upload answered $code, not 404"
grep -q big-single <<<"$("${AWS[@]}" s3 ls "s3://$B")" && fail "the dead upload is listed"
step "orphans: $((N1 - N0)) fragment files to collect"
t=$SECONDS
back_to_n0() { [ "$(frag_files)" = "$N0" ]; }
wait_for 60 back_to_n0 || fail "orphans not collected: $(frag_files) fragment files, want $N0"
step "orphans collected in $((SECONDS - t)) s: $(frag_files) fragment files = what the records place"
[ "$(needed)" = "$N0" ] || fail "the committed records changed"
[ "$(head_code big-single)" = 404 ] || fail "the dead upload appeared"
check_committed

step "multipart upload of 600 MiB (32 MiB parts); the gateway dies after a few parts"
kill_mid_upload $((N0 + 3 * 6)) env AWS_CONFIG_FILE="$TEST_DIR/mp.conf" \
  "${AWS[@]}" s3 cp --no-progress "$DATA/big" "s3://$B/big-mp"
N2=$(frag_files)
[ "$(head_code big-mp)" = 404 ] || fail "HEAD of the unfinished multipart object is not 404"
grep -q big-mp <<<"$("${AWS[@]}" s3 ls "s3://$B")" && fail "the unfinished multipart object is listed"
UPLOAD=$("${AWS[@]}" s3api list-multipart-uploads --bucket "$B" --query 'Uploads[?Key==`big-mp`].UploadId' --output text)
[ -n "$UPLOAD" ] && [ "$UPLOAD" != None ] || fail "the unfinished upload is not listed"
PARTS=$("${AWS[@]}" s3api list-parts --bucket "$B" --key big-mp --upload-id "$UPLOAD" --query 'length(Parts)' --output text)
[ "$PARTS" -ge 1 ] || fail "no committed parts"
# Each 32 MiB part is one chunk group: 6 fragment files.
WANT=$((N0 + 6 * PARTS))
step "upload $UPLOAD kept with $PARTS committed parts; $N2 fragment files, $WANT named by records"
[ "$N2" -ge "$WANT" ] || fail "fewer fragment files ($N2) than the committed parts need ($WANT)"
echo "orphan fragment files of parts in flight: $((N2 - WANT)) (the others were temporaries, dropped with the connection)"
t=$SECONDS
at_want() { [ "$(frag_files)" = "$WANT" ]; }
wait_for 60 at_want || fail "in-flight parts not collected: $(frag_files) fragment files, want $WANT"
sleep 3   # two more orphan scans: the committed parts' fragments stay
[ "$(frag_files)" = "$WANT" ] || fail "committed parts' fragments were collected: $(frag_files), want $WANT"
step "fragment files of parts in flight gone after $((SECONDS - t - 3)) s; the $PARTS committed parts' fragments kept"
"${AWS[@]}" s3api abort-multipart-upload --bucket "$B" --key big-mp --upload-id "$UPLOAD"
t=$SECONDS
wait_for 60 back_to_n0 || fail "aborted parts not collected: $(frag_files) fragment files, want $N0"
step "AbortMultipartUpload: parts collected in $((SECONDS - t)) s; $(frag_files) fragment files"
left=$("${AWS[@]}" s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)' --output text)
[ "$left" = 0 ] || fail "$left multipart uploads still listed after the abort"
[ "$(needed)" = "$N0" ] || fail "the committed records changed"
[ -z "$(find "$CDIR"/chunk*/tmp -type f 2>/dev/null)" ] || fail "temporary files left: $(find "$CDIR"/chunk*/tmp -type f)"
check_committed
step "committed objects byte-exact; done in $((SECONDS - T0)) s"
