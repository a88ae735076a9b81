#!/usr/bin/env bash
# Packed chunk groups (issue #17) through the S3 gateway, on 8 chunkservers
# (4+2 packed groups need k+m = 6 live ones; one may die and writers go on):
#   - boto3 (s3_packed.py basic): 8 concurrent writers of 17 KiB..4 MiB, every
#     GET md5-verified, ranged GETs, overwrites, deletes, a versioned bucket
#     with packed versions, Content-MD5 / checksum headers, If-None-Match: *
#     raced by 8 writers in one batch (one wins, the rest 412); the gateway's
#     /metrics show packed batches of several objects;
#   - 400 objects of 64 KiB leave few fragment files on each chunkserver;
#   - kill -9 of a chunkserver mid-batch under 8 writers: they keep going
#     (into new groups) and every acknowledged object is exact;
#   - kill -9 of the gateway mid-batch under 8 writers, then a restarted
#     gateway: every acknowledged object exact, every unacknowledged one
#     absent or exact (nothing half-visible);
#   - `cairn drain` of a chunkserver holding fragments of open groups ends
#     while a writer goes on (the leader seals open groups on a draining
#     chunkserver; the writer moves to groups placed elsewhere);
#   - two chunkservers down: every object still reads back (decoded), and a
#     PUT of packed size, with fewer than k+m chunkservers up, is stored the
#     ordinary way (the packer hands it back).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CAIRN_META_OPTS="--down-after 2s" CAIRN_CHUNK_OPTS="--heartbeat 200ms" \
  CAIRN_GATEWAY_OPTS="--fragment-timeout 3s" cluster_up 8
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
PY=/usr/bin/python3
DRIVER="$CAIRN_SRC/tests/integration/s3_packed.py"
drive() { $PY "$DRIVER" "$1" "$S3_ENDPOINT" "$TEST_DIR" "${@:2}"; }
metric() { curl -s "$S3_ENDPOINT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

step "boto3: concurrent writers, ranges, overwrites, deletes, versions, If-None-Match"
drive basic
objs=$(metric cairn_gw_packed_objects_total)
batches=$(metric cairn_gw_packed_batches_total)
echo "packed objects $objs in $batches batches"
[ "${objs:-0}" -ge 100 ] || fail "only ${objs:-0} objects were packed"
[ "$batches" -lt "$objs" ] || fail "no batch held more than one object ($objs in $batches)"
[ "$(metric cairn_gw_packed_fallbacks_total)" = 0 ] || fail "objects fell back to the ordinary path"

step "400 objects of 64 KiB: few fragment files per chunkserver"
drive many 400
for d in "$CDIR"/chunk*/frags; do
  n=$(find "$d" -type f | wc -l)
  echo "$(basename "$(dirname "$d")"): $n fragment files"
  [ "$n" -le 60 ] || fail "$d holds $n files for ~500 packed objects"
done

writer_acks() { grep -c '^ack ' "$TEST_DIR/writer.log" 2>/dev/null || echo 0; }
has_acks() { [ "$(writer_acks)" -ge "$1" ]; }
start_writer() {
  rm -f "$TEST_DIR/stop"
  # python itself in the background (not a subshell running it), so that the
  # teardown's kill of $PIDS stops it when a step fails
  $PY "$DRIVER" writer "$S3_ENDPOINT" "$TEST_DIR" 2>>"$TEST_DIR/writer.err" &
  WRITER=$!
  PIDS+=("$WRITER")
}
stop_writer() {
  touch "$TEST_DIR/stop"
  wait "$WRITER" || fail "the writer failed: $(tail -5 "$TEST_DIR/writer.err")"
}

step "kill -9 of a chunkserver mid-batch: writers go on into new groups"
start_writer
wait_for 30 has_acks 20 || fail "the writer made no progress"
opened=$(metric cairn_gw_packed_groups_opened_total)
cluster_kill chunk3
before=$(writer_acks)
wait_for 40 has_acks $((before + 40)) || fail "writes stalled after chunk3 died"
stop_writer
echo "$(writer_acks) acknowledged; groups opened $opened -> $(metric cairn_gw_packed_groups_opened_total)"
[ "$(metric cairn_gw_packed_groups_opened_total)" -gt "$opened" ] || fail "no new packed group"
drive verify writer
cluster_start chunk3

step "kill -9 of the gateway mid-batch; a restarted gateway serves every acknowledged object"
start_writer
before=$(writer_acks)
wait_for 30 has_acks $((before + 20)) || fail "the writer made no progress"
cluster_kill gateway
sleep 1
cluster_start gateway
wait_for 30 curl -sf "$S3_ENDPOINT/metrics" -o /dev/null || fail "the gateway did not come back"
before=$(writer_acks)
wait_for 40 has_acks $((before + 20)) || fail "no write acknowledged by the restarted gateway"
stop_writer
drive verify writer

step "drain of a chunkserver holding open groups' fragments, under a writer"
# Every lane's open group has a fragment on 6 of the 8 chunkservers, so
# chunk8 holds some. Repair leaves open groups alone, so the leader's sealer
# seals the open groups on a draining chunkserver (the writer moves to new
# groups placed elsewhere) and the drain ends while the writes go on.
start_writer
before=$(writer_acks)
wait_for 30 has_acks $((before + 20)) || fail "the writer made no progress"
DRAIN_ID=$(cut -c1-16 "$CDIR/chunk8/chunkserver-id")
# (without the sealer's help the drain waits for the writer's groups to fill,
# ~100 s here; with it, ~10 s)
t0=$SECONDS
timeout 50 "$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret" \
  drain "$DRAIN_ID" > "$TEST_DIR/drain.out" 2>&1 ||
  { cat "$TEST_DIR/drain.out"; fail "cairn drain of chunk8 did not finish under a writer"; }
tail -2 "$TEST_DIR/drain.out"
echo "drained in $((SECONDS - t0)) s"
before=$(writer_acks)
wait_for 30 has_acks $((before + 20)) || fail "writes stalled after the drain"
stop_writer
drive verify writer

step "two chunkservers down: every packed object reads back (decoded)"
cluster_kill chunk1
cluster_kill chunk2
drive verify writer
deg=$(metric cairn_gw_degraded_reads_total)
echo "degraded stripes decoded: $deg"
[ "${deg:-0}" -gt 0 ] || fail "no stripe was decoded with two chunkservers down"

step "5 chunkservers left (< k+m): a PUT of packed size goes the ordinary way"
head -c 100000 /dev/urandom > "$TEST_DIR/fb"
S3C=(curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
put_fb() {
  "${S3C[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$TEST_DIR/fb" "$S3_ENDPOINT/packed/fallback" \
    -o /dev/null
}
# Until the leader calls chunk1 and chunk2 down (--down-after 2s) it still
# places fragments on them, and an ordinary PUT misses its write quorum too.
wait_for 20 put_fb || fail "a PUT with fewer than k+m chunkservers up failed"
"${S3C[@]}" "$S3_ENDPOINT/packed/fallback" -o "$TEST_DIR/fb.out" || fail "GET of the fallback object"
same "$TEST_DIR/fb" "$TEST_DIR/fb.out"
[ "$(metric cairn_gw_packed_fallbacks_total)" -ge 1 ] || fail "the packer did not hand it back"
step "PASS"
