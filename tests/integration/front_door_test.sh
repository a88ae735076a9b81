#!/usr/bin/env bash
# The gateway's front door under abuse (docs/security.md, "The front door"):
#   - 500 slow-loris connections from 127.0.0.1 trickling header bytes: the
#     per-IP limit holds them to --per-ip-connections, the header deadline
#     closes the rest although they keep sending, and a client from another
#     address (127.0.0.2) meanwhile PUTs and GETs within a bound;
#   - --data-memory: uploads that fill the budget make a third PUT and a GET
#     503 SlowDown, and the budget is given back;
#   - an x-amz-* header outside SignedHeaders is refused; the SigV4 skew
#     window follows --sigv4-max-skew;
#   - floods of unknown keys, bad signatures, wrong status-page logins and
#     refused anonymous requests cost metadata reads in proportion to time,
#     not to their number; a new key works at once, a disabled or deleted
#     one fails at the next request; --anonymous-cache 0 turns the anonymous
#     cache off.
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
metric() { curl -sf "$S3_ENDPOINT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
echo "   metrics: $(metric cairn_gw_connections_refused_total) connections refused at the limits," \
  "$(metric cairn_gw_header_timeouts_total) closed by the header deadline"
[ "$(metric cairn_gw_connections_refused_total)" -gt 0 ] || fail "refusals at the per-IP limit not counted"
[ "$(metric cairn_gw_header_timeouts_total)" -ge "$PER_IP" ] || fail "header deadline closes not counted"

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

step "authentication floods cost no metadata read each (unknown keys, bad signatures, anonymous, status page)"
meta_reads() { # the metadata service's linearizable reads, all replicas
  local n t=0
  for n in $(cluster_meta_names); do
    t=$((t + $(curl -sf "http://127.0.0.1:$((CLUSTER_BASE + ${n#meta}))/metrics" |
      awk '$1 == "cairn_meta_reads_total" { print $2 }')))
  done
  echo "$t"
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# reads the gateway makes anyway in T ms (its key table once a second, a
# miss bringing that forward at most 4 times a second, status refreshes):
# they grow with time, not with the number of requests
bound() { echo $((5 * ($1 / 1000 + 1) + 4)); }
FD=(/usr/bin/python3 "$CAIRN_SRC/tests/integration/front_door.py" "$S3_ENDPOINT")
flood() { # flood WHAT N: N refused requests, then the reads they cost
  local r0 t0 n dt
  r0=$(meta_reads) t0=$(date +%s%N)
  "${FD[@]}" "$1" "$2" || fail "flood $1"
  dt=$(ms_since "$t0") n=$(($(meta_reads) - r0))
  echo "   $2 requests ($1) in ${dt} ms: $n metadata reads"
  [ "$n" -le "$(bound "$dt")" ] || fail "$n metadata reads for $2 requests ($1)"
}
kr0=$(metric cairn_gw_auth_key_reads_total)
flood flood 400
[ "$(metric cairn_gw_auth_cache_unknown_total)" -ge 400 ] || fail "unknown keys not counted"
flood badsig 400
[ "$(metric cairn_gw_auth_key_reads_total)" = "$kr0" ] || fail "a bad signature read its key"
r0=$(meta_reads) t0=$(date +%s%N)
# the status page's Basic login: unknown keys (20 at a time), the real key
# with a wrong secret
seq 1 100 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' -u "NOSUCHKEY{}:x" \
  "$S3_ENDPOINT/_cairn/status" > "$TEST_DIR/codes"
for i in $(seq 1 100); do
  curl -s -o /dev/null -w '%{http_code}\n' -u "$AK:wrong$i" "$S3_ENDPOINT/_cairn/status"
done >> "$TEST_DIR/codes"
[ "$(grep -c '^401$' "$TEST_DIR/codes")" = 200 ] ||
  fail "wrong status-page logins: $(sort "$TEST_DIR/codes" | uniq -c | tr '\n' ' ')"
dt=$(ms_since "$t0") n=$(($(meta_reads) - r0))
echo "   200 wrong status-page logins in ${dt} ms: $n metadata reads"
[ "$n" -le "$(bound "$dt")" ] || fail "$n metadata reads for 200 wrong status-page logins"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "$AK:$SK" "$S3_ENDPOINT/_cairn/status")" = 200 ] ||
  fail "status page with the root key"
# anonymous: a private bucket's object, and a bucket that does not exist
r0=$(meta_reads) t0=$(date +%s%N)
for i in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/door/k1")
  [ "$code" = 403 ] || fail "anonymous GET of a private object: $code"
  code=$(curl -s -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/no-such-door")
  [ "$code" = 404 ] || fail "anonymous HeadBucket of no bucket: $code"
done
dt=$(ms_since "$t0") n=$(($(meta_reads) - r0))
echo "   200 anonymous requests in ${dt} ms: $n metadata reads"
[ "$n" -le "$(bound "$dt")" ] || fail "$n metadata reads for 200 anonymous requests"
# each of the 2 refusals is read again once per --auth-refresh (1 s)
[ "$(metric cairn_gw_anonymous_cached_total)" -ge $((200 - 2 * (dt / 1000 + 2))) ] || fail "anonymous refusals not cached"
# a change made through this gateway reaches the anonymous cache at once
c2 -X PUT -H 'x-amz-acl: public-read' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  --data-binary hello "http://127.0.0.1:$PORT/door/k1" >/dev/null || fail "PUT public-read"
[ "$(curl -s "$S3_ENDPOINT/door/k1")" = hello ] || fail "public-read object refused from the cache"

step "key changes: a new key works at once, a disabled or deleted one fails at the next request"
export CAIRN_SECRET
CAIRN_SECRET="$(cat "$CDIR/secret")"
CLI=("$(cluster_bin cli)" --meta "$CAIRN_META")
out="$("${CLI[@]}" keys create alice)" || fail "cairn keys create"
NAK="$(awk '/^access key/ { print $NF }' <<<"$out")"
NSK="$(awk '/^secret key/ { print $NF }' <<<"$out")"
[ -n "$NAK" ] && [ -n "$NSK" ] || fail "no key in: $out"
asalice() { curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -u "$NAK:$NSK" "$S3_ENDPOINT/"; }
t0=$(date +%s%N)
[ "$(asalice)" = 200 ] || fail "a key just made does not work at once: $(asalice)"
echo "   a new key's first request: $(ms_since "$t0") ms"
albk() { # HEAD of alice's bucket: confirmed by the bucket read itself
  curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 "aws:amz:us-east-1:s3" -u "$NAK:$NSK" \
    "$S3_ENDPOINT/alice-door"
}
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
  -u "$NAK:$NSK" "$S3_ENDPOINT/alice-door")
[ "$code" = 200 ] || fail "alice's CreateBucket: $code"
kr0=$(metric cairn_gw_auth_key_reads_total) fo0=$(metric cairn_gw_auth_confirmed_in_read_total)
for i in 1 2 3 4 5; do [ "$(asalice)" = 200 ] || fail "alice ListBuckets $i"; done
for i in 1 2 3 4 5; do [ "$(albk)" = 200 ] || fail "alice HeadBucket $i"; done
# ListBuckets reads no bucket: its key is read once; HeadBucket's key rides
# on the bucket read
[ $(($(metric cairn_gw_auth_key_reads_total) - kr0)) = 5 ] ||
  fail "5 ListBuckets made $(($(metric cairn_gw_auth_key_reads_total) - kr0)) key reads"
[ $(($(metric cairn_gw_auth_confirmed_in_read_total) - fo0)) = 5 ] ||
  fail "5 HeadBuckets: $(($(metric cairn_gw_auth_confirmed_in_read_total) - fo0)) confirmed in their read"
"${CLI[@]}" keys disable "$NAK" >/dev/null || fail "cairn keys disable"
[ "$(asalice)" = 403 ] || fail "a disabled key worked after the disable (ListBuckets)"
[ "$(albk)" = 403 ] || fail "a disabled key worked after the disable (HeadBucket)"
"${CLI[@]}" keys enable "$NAK" >/dev/null || fail "cairn keys enable"
[ "$(asalice)" = 200 ] || fail "a re-enabled key does not work at once"
[ "$(albk)" = 200 ] || fail "a re-enabled key does not work at once (HeadBucket)"
curl -sf -o /dev/null -X DELETE --aws-sigv4 "aws:amz:us-east-1:s3" -u "$NAK:$NSK" \
  "$S3_ENDPOINT/alice-door" || fail "alice's DeleteBucket"
"${CLI[@]}" keys delete "$NAK" >/dev/null || fail "cairn keys delete"
[ "$(asalice)" = 403 ] || fail "a deleted key worked after the delete"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 "aws:amz:us-east-1:s3" \
  -u "$NAK:$NSK" "$S3_ENDPOINT/door")" = 403 ] || fail "a deleted key worked after the delete (HeadBucket)"

step "--anonymous-cache 0: every anonymous refusal is read again"
cluster_kill gateway TERM
export CAIRN_GATEWAY_OPTS="--anonymous-cache 0"
rm -f "$CDIR/cmd/gateway"
cluster_launch_gateway
wait_for 20 _cluster_s3_ready || fail "gateway restart"
r0=$(meta_reads)
for i in $(seq 1 20); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/no-such-door")" = 404 ] ||
    fail "anonymous HeadBucket of no bucket"
done
[ "$(metric cairn_gw_anonymous_cached_total)" = 0 ] || fail "refusals cached with --anonymous-cache 0"
[ $(($(meta_reads) - r0)) -ge 20 ] || fail "20 uncached anonymous requests made $(($(meta_reads) - r0)) reads"
echo "front_door: OK"
