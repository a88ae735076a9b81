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

step "data-path memory budget: 2 slow uploads fill it, a third PUT and a GET get 503 SlowDown"
cluster_kill gateway TERM
export CAIRN_GATEWAY_OPTS="--data-memory 24M"
rm -f "$CDIR/cmd/gateway"
cluster_launch_gateway
wait_for 20 _cluster_s3_ready || fail "gateway restart"
U=(curl -s --max-time 60 "${sig[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
head -c 5000000 /dev/urandom > "$TEST_DIR/get5"
"${U[@]}" -f -X PUT --data-binary @"$TEST_DIR/get5" "$S3_ENDPOINT/door/get5" >/dev/null ||
  fail "PUT get5"
head -c 5000000 /dev/urandom > "$TEST_DIR/slow"
for i in 1 2; do # 10 MiB of the budget each (4+2, 1 MiB unit: 2 stripes of 4 + parity 2)
  "${U[@]}" -f -X PUT --limit-rate 500K --data-binary @"$TEST_DIR/slow" "$S3_ENDPOINT/door/slow$i" \
    -o /dev/null & PIDS+=($!)
done
metric() { curl -sf "$S3_ENDPOINT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
mem_at_least() { [ "$(metric cairn_gw_data_memory_bytes)" -ge "$1" ]; }
wait_for 10 mem_at_least $((20 << 20)) ||
  fail "the slow uploads did not take their buffers ($(metric cairn_gw_data_memory_bytes))"
code="$("${U[@]}" -X PUT --data-binary @"$TEST_DIR/obj" "$S3_ENDPOINT/door/third" \
  -o "$TEST_DIR/third.xml" -w '%{http_code}')"
[ "$code" = 503 ] && grep -q '<Code>SlowDown</Code>' "$TEST_DIR/third.xml" ||
  fail "PUT past the budget: HTTP $code $(cat "$TEST_DIR/third.xml")"
code="$("${U[@]}" "$S3_ENDPOINT/door/get5" -o "$TEST_DIR/get.xml" -w '%{http_code}')"
[ "$code" = 503 ] && grep -q '<Code>SlowDown</Code>' "$TEST_DIR/get.xml" ||
  fail "GET past the budget: HTTP $code"
# 3 MB: one stripe buffer (4 MiB) fits what is left
"${U[@]}" -f "$S3_ENDPOINT/door/k1" -o "$TEST_DIR/small" || fail "a 3 MB GET (4 MiB) was refused"
for p in "${PIDS[@]:1}"; do wait "$p" || fail "a slow upload failed"; done
PIDS=()
[ "$(metric cairn_gw_data_memory_bytes)" = 0 ] || fail "budget not given back: $(metric cairn_gw_data_memory_bytes)"
[ "$(metric cairn_gw_data_memory_peak_bytes)" -le $((24 << 20)) ] || fail "peak over the budget"
[ "$(metric cairn_gw_data_memory_refused_total)" -ge 2 ] || fail "refusals not counted"
"${U[@]}" -f "$S3_ENDPOINT/door/get5" -o "$TEST_DIR/got5" || fail "GET after the uploads"
same "$TEST_DIR/get5" "$TEST_DIR/got5"

step "an x-amz-* header outside SignedHeaders is refused (a PUT is not turned into a copy)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/front_door.py" "$S3_ENDPOINT" unsigned-header ||
  fail "unsigned x-amz header"
[ "$(curl -s "${sig[@]}" "$S3_ENDPOINT/door/signed-put")" = hello ] || fail "signed-put changed"

step "SigV4 clock skew follows --sigv4-max-skew (60 s)"
cluster_kill gateway TERM
export CAIRN_GATEWAY_OPTS="--sigv4-max-skew 60s"
rm -f "$CDIR/cmd/gateway"
cluster_launch_gateway
wait_for 20 _cluster_s3_ready || fail "gateway restart"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/front_door.py" "$S3_ENDPOINT" skew 30 OK || fail "skew 30 s"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/front_door.py" "$S3_ENDPOINT" skew 120 SKEWED ||
  fail "skew 120 s"
