#!/usr/bin/env bash
# Garbage outlives the GETs that began before it became garbage
# (docs/operations.md, "Garbage"; issue #15):
#   - with --garbage-grace 15s, a GET of a 40 MB object read at 4 MB/s (10 s)
#     that began before the object was overwritten finishes byte-exact with
#     the old bytes, the old fragments are still stored after it, and they
#     are deleted once the grace has passed (without the grace they go at the
#     next heartbeat, about a second after the overwrite, and the GET fails);
#   - an upload that fails (Content-MD5 mismatch, client gone) hands what it
#     wrote to garbage collection at once, grace or not;
#   - a GET still streaming after the gateway's --max-get-duration is cut
#     (cairn_gw_gets_cut_total), which is what makes the grace enough.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export CAIRN_META_OPTS="--garbage-grace 15s"
cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
put() { curl -sf "${sig[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "$@" >/dev/null; }
frag_files() { find "$CDIR"/chunk*/frags -type f -name '*.[0-9]*' | wc -l; }
put "$S3_ENDPOINT/grace" || fail "create bucket"
head -c 40000000 /dev/urandom > "$TEST_DIR/old"
head -c 40000000 /dev/urandom > "$TEST_DIR/new"

step "a slow GET races an overwrite"
put --data-binary @"$TEST_DIR/old" "$S3_ENDPOINT/grace/obj" || fail "PUT old"
n_one=$(frag_files)
t0=$(date +%s%N)
curl -sf "${sig[@]}" --limit-rate 4M "$S3_ENDPOINT/grace/obj" -o "$TEST_DIR/got" &
GET=$!
PIDS+=("$GET")
sleep 1
put --data-binary @"$TEST_DIR/new" "$S3_ENDPOINT/grace/obj" || fail "PUT new"
t_over=$(date +%s%N)
wait "$GET" || fail "the GET that began before the overwrite failed"
PIDS=()
same "$TEST_DIR/old" "$TEST_DIR/got"
echo "   GET of the old version: $((($(date +%s%N) - t0) / 1000000)) ms, byte-exact"
[ "$(frag_files)" -ge $((2 * n_one)) ] ||
  fail "old fragments deleted within the grace: $(frag_files) files, $n_one per version"

step "the old fragments go once the grace has passed"
back_to_one() { [ "$(frag_files)" -le "$n_one" ]; }
wait_for 30 back_to_one || fail "old fragments not collected: $(frag_files) files, want $n_one"
dt=$((($(date +%s%N) - t_over) / 1000000))
echo "   collected ${dt} ms after the overwrite (grace 15 s)"
[ "$dt" -ge 14000 ] || fail "collected ${dt} ms after the overwrite, within the 15 s grace"
curl -sf "${sig[@]}" "$S3_ENDPOINT/grace/obj" -o "$TEST_DIR/got" || fail "GET new"
same "$TEST_DIR/new" "$TEST_DIR/got"

step "a GET past --max-get-duration (3 s) is cut"
cluster_kill gateway TERM
# (1 MiB group fragments: a 40 MB upload writes ten groups, each complete
# on the chunkservers as soon as its stripe is, for the next step)
export CAIRN_GATEWAY_OPTS="--max-get-duration 3s --group-fragment 1M"
rm -f "$CDIR/cmd/gateway"
cluster_launch_gateway
wait_for 20 _cluster_s3_ready || fail "gateway restart"
t0=$(date +%s%N)
curl -sf "${sig[@]}" --limit-rate 4M "$S3_ENDPOINT/grace/obj" -o "$TEST_DIR/got" &&
  fail "a 10 s GET outlived --max-get-duration 3s"
dt=$((($(date +%s%N) - t0) / 1000000))
echo "   cut after ${dt} ms, $(stat -c %s "$TEST_DIR/got") of 40000000 bytes"
[ "$dt" -lt 8000 ] || fail "cut only after ${dt} ms"
[ "$(curl -sf "$S3_ENDPOINT/metrics" | awk '$1 == "cairn_gw_gets_cut_total" { print $2 }')" = 1 ] ||
  fail "cairn_gw_gets_cut_total"

step "a failed upload's fragments go at once (neither the grace nor the 24 h orphan scan)"
n0=$(frag_files)
curl -s -o "$TEST_DIR/err.xml" -w '%{http_code}' "${sig[@]}" -X PUT --limit-rate 10M \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -H "Content-MD5: $(printf x | openssl md5 -binary | base64)" \
  --data-binary @"$TEST_DIR/old" "$S3_ENDPOINT/grace/badmd5" > "$TEST_DIR/code" &
UP=$!
sleep 2.5
mid=$(frag_files)
wait "$UP"
code=$(cat "$TEST_DIR/code")
[ "$code" = 400 ] && grep -q BadDigest "$TEST_DIR/err.xml" || fail "Content-MD5 mismatch: HTTP $code"
[ "$mid" -gt "$n0" ] || fail "no fragment written 2.5 s into the upload (the test proves nothing)"
back_to_n0() { [ "$(frag_files)" -le "$n0" ]; }
t0=$(date +%s%N)
wait_for 10 back_to_n0 || fail "a BadDigest upload left $(($(frag_files) - n0)) fragment files"
echo "   BadDigest upload: $((mid - n0)) fragment files, gone $((($(date +%s%N) - t0) / 1000000)) ms after the answer"
# the client goes away 3 s into a 10 s upload
curl -s -o /dev/null "${sig[@]}" -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  --limit-rate 4M --max-time 3 --data-binary @"$TEST_DIR/old" "$S3_ENDPOINT/grace/gone" &
UP=$!
sleep 2.5
mid=$(frag_files)
wait "$UP" && fail "the cut upload succeeded"
[ "$mid" -gt "$n0" ] || fail "no fragment written 2.5 s into the upload (the test proves nothing)"
t0=$(date +%s%N)
wait_for 10 back_to_n0 || fail "an upload whose client went away left $(($(frag_files) - n0)) fragment files"
echo "   client gone mid-upload: $((mid - n0)) fragment files, gone $((($(date +%s%N) - t0) / 1000000)) ms after"

echo "garbage_grace: OK"
