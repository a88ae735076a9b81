#!/usr/bin/env bash
# Garbage outlives the GETs that began before it became garbage
# (docs/operations.md, "Garbage"; issue #15):
#   - with --garbage-grace 15s, a GET of a 40 MB object read at 4 MB/s (10 s)
#     that began before the object was overwritten finishes byte-exact with
#     the old bytes, the old fragments are still stored after it, and they
#     are deleted once the grace has passed (without the grace they go at the
#     next heartbeat, about a second after the overwrite, and the GET fails);
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
export CAIRN_GATEWAY_OPTS="--max-get-duration 3s"
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
echo "garbage_grace: OK"
