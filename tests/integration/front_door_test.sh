#!/usr/bin/env bash
# The gateway's front door under abuse (docs/security.md, "The front door"):
#   - 500 slow-loris connections from 127.0.0.1 trickling header bytes: the
#     per-IP limit holds them to --per-ip-connections, the header deadline
#     closes the rest although they keep sending, and a client from another
#     address (127.0.0.2) meanwhile PUTs and GETs within a bound;
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PER_IP=16
HDR_S=3
export CAIRN_GATEWAY_OPTS="--per-ip-connections $PER_IP --header-timeout ${HDR_S}s --max-connections 256"
cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
PORT="${S3_ENDPOINT##*:}"
AK="$AWS_ACCESS_KEY_ID" SK="$AWS_SECRET_ACCESS_KEY"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "$AK:$SK")
# a client on another address of the loopback network
c2() { curl -sf --max-time 10 --interface 127.0.0.2 "${sig[@]}" "$@"; }
c2 -X PUT "http://127.0.0.1:$PORT/door" >/dev/null || fail "create bucket"
head -c 3000000 /dev/urandom > "$TEST_DIR/obj"

step "500 slow-loris connections from 127.0.0.1 ($((HDR_S + 7)) s)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/slowloris.py" 127.0.0.1 "$PORT" 500 $((HDR_S + 7)) \
  > "$TEST_DIR/loris.log" 2>&1 &
LORIS=$!
PIDS+=("$LORIS")
sleep 1.5
for i in 1 2 3; do
  t0=$(date +%s%N)
  c2 -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary @"$TEST_DIR/obj" \
    "http://127.0.0.1:$PORT/door/k$i" >/dev/null || fail "PUT $i from 127.0.0.2 during the attack"
  c2 "http://127.0.0.1:$PORT/door/k$i" -o "$TEST_DIR/got" || fail "GET $i from 127.0.0.2"
  same "$TEST_DIR/obj" "$TEST_DIR/got"
  dt=$((($(date +%s%N) - t0) / 1000000))
  echo "   PUT+GET $i from 127.0.0.2: ${dt} ms"
  [ "$dt" -lt 5000 ] || fail "PUT+GET took ${dt} ms during the attack"
  sleep 1
done
wait "$LORIS" || fail "slowloris.py failed"
cat "$TEST_DIR/loris.log"
res="$(tail -n 1 "$TEST_DIR/loris.log")"
max_open="$(sed -n 's/.*max_open=\([0-9]*\).*/\1/p' <<<"$res")"
final_open="$(sed -n 's/.*final_open=\([0-9]*\).*/\1/p' <<<"$res")"
last_close="$(sed -n 's/.*last_close=\([0-9.]*\).*/\1/p' <<<"$res")"
[ "$max_open" -le "$PER_IP" ] || fail "$max_open slow connections held open (per-IP limit $PER_IP)"
[ "$final_open" = 0 ] || fail "$final_open trickling connections outlived the header deadline"
awk -v t="$last_close" -v d="$HDR_S" 'BEGIN { exit !(t <= d + 3) }' ||
  fail "the last trickling connection closed at ${last_close}s (deadline ${HDR_S}s)"
grep -q 'past the header deadline' "$(cluster_log gateway)" || fail "no header-deadline log line"
