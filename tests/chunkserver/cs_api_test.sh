#!/usr/bin/env bash
# Integration: the fragment API of a real cairn-chunk — put/get/range/head/
# delete, idempotent re-put, bad requests, authentication, concurrency, and a
# corrupted block found by a ranged get and by the scrubber.
source "$(dirname "$0")/lib.sh"

start_cs a "$WORK/a" --scrub-interval 1s --scrub-rate 1G
G=$(group_id 1)
frag_file() { echo "$WORK/a/frags/${1:0:2}/${1:2:2}/$1.$2"; }

echo "== put, idempotent re-put, conflicting put"
head -c 1000000 /dev/urandom >"$WORK/f1"
expect_status 201 a put "$G" 0 4 2 65536 "$WORK/f1"
expect_status 200 a put "$G" 0 4 2 65536 "$WORK/f1"
head -c 1000000 /dev/urandom >"$WORK/f2"
expect_status 409 a put "$G" 0 4 2 65536 "$WORK/f2"
tc a get "$G" 0 "$WORK/out" 2>/dev/null
cmp "$WORK/f1" "$WORK/out" || fail "get after conflicting put differs"

echo "== bad puts store nothing"
expect_status 400 a put "$G" 1 4 2 65536 "$WORK/f1" badcrc
expect_status 404 a head "$G" 1
expect_status 400 a put "$G" 6 4 2 65536 "$WORK/f1"        # index >= k+m
expect_status 400 a put "$G" 1 0 2 65536 "$WORK/f1"        # k = 0
expect_status 201 a put "$G" 2 4 2 65536 "$WORK/f1" nocrc  # CRC is optional
expect_status 201 a put "$G" 5 4 2 65536 "$WORK/f1" chunked # no Content-Length
tc a get "$G" 5 "$WORK/out" 2>/dev/null && cmp "$WORK/f1" "$WORK/out" || fail "chunked put differs"
expect_status 204 a delete "$G" 5
[ -z "$(ls "$WORK/a/tmp")" ] || fail "temporaries left: $(ls "$WORK/a/tmp")"

echo "== ranged gets"
check_range() {
    tc a get "$G" 0 "$WORK/part" "$1" "$2" 2>/dev/null || fail "range $1+$2 failed"
    cmp "$WORK/part" <(tail -c +$(($1 + 1)) "$WORK/f1" | head -c "$2") || fail "range $1+$2 differs"
}
check_range 0 1
check_range 65535 2
check_range 65536 65536
check_range 70000 300000
check_range 999999 1
check_range 0 1000000
expect_status 416 a get "$G" 0 "$WORK/part" 1000000 5
expect_status 200 a head "$G" 0
expect_status 404 a head "$G" 5

echo "== zero-length and streamed (8 MiB) fragments"
: >"$WORK/empty"
expect_status 201 a put "$G" 3 4 2 65536 "$WORK/empty"
tc a get "$G" 3 "$WORK/out" 2>/dev/null
[ ! -s "$WORK/out" ] || fail "empty fragment read back non-empty"
head -c $((8 << 20)) /dev/urandom >"$WORK/big"
expect_status 201 a put "$G" 4 4 2 65536 "$WORK/big"
tc a get "$G" 4 "$WORK/out" 2>/dev/null
cmp "$WORK/big" "$WORK/out" || fail "8 MiB fragment differs"
tc a get "$G" 4 "$WORK/part" 1234567 5000000 2>/dev/null
cmp "$WORK/part" <(tail -c +1234568 "$WORK/big" | head -c 5000000) || fail "8 MiB range differs"

echo "== a client that dies mid-put leaves nothing"
"$TC" "$(addr a)" "$SECRET" put "$G" 5 4 2 65536 "$WORK/big" slow >/dev/null 2>&1 &
client=$!
for _ in $(seq 1 100); do
    [ -n "$(ls "$WORK/a/tmp")" ] && break
    sleep 0.02
done
[ -n "$(ls "$WORK/a/tmp")" ] || fail "no temporary while a slow put runs"
kill -9 $client
wait $client 2>/dev/null || true
for _ in $(seq 1 100); do
    [ -z "$(ls "$WORK/a/tmp")" ] && break
    sleep 0.05
done
[ -z "$(ls "$WORK/a/tmp")" ] || fail "temporary left after the client died"
expect_status 404 a head "$G" 5

echo "== bad paths"
expect_status 400 a raw GET "/v1/fragment/xyz/1"
expect_status 400 a raw GET "/v1/fragment/$G/48"
expect_status 400 a raw GET "/v1/fragment/$G/-1"
expect_status 400 a raw GET "/v1/fragment/../../../../etc/passwd/1"
expect_status 404 a raw GET "/v1/nothing"

echo "== unauthenticated and wrongly signed requests are refused"
P=${CS_PORT[a]}
for m in "-X GET" "-I" "-X DELETE"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' $m "http://127.0.0.1:$P/v1/fragment/$G/0")
    [ "$code" = 401 ] || fail "plain curl $m got $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$WORK/f2" \
    -H "X-Cairn-K: 4" -H "X-Cairn-M: 2" -H "X-Cairn-Unit: 65536" \
    -H "X-Cairn-Data-Length: 1000000" "http://127.0.0.1:$P/v1/fragment/$G/1")
[ "$code" = 401 ] || fail "plain curl PUT got $code"
for t in /metrics /v1/admin/status /v1/admin/damaged; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P$t")
    [ "$code" = 401 ] || fail "plain curl $t got $code"
done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/other-secret"
got=$("$TC" "$(addr a)" "$WORK/other-secret" head "$G" 0 2>&1 | sed -n 's/^status //p' || true)
[ "$got" = 401 ] || fail "wrong secret got $got"
expect_status 404 a head "$G" 1
tc a get "$G" 0 "$WORK/out" 2>/dev/null && cmp "$WORK/f1" "$WORK/out" || fail "fragment changed"

echo "== concurrent puts and gets"
G2=$(group_id 2)
pids=()
for i in $(seq 0 7); do
    head -c $((300000 + i * 70001)) /dev/urandom >"$WORK/c$i"
done
for i in $(seq 0 7); do
    tc a put "$G2" "$i" 8 8 65536 "$WORK/c$i" 2>/dev/null &
    pids+=($!)
    tc a get "$G" 0 "$WORK/g$i" 2>/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent request failed"; done
for i in $(seq 0 7); do
    cmp "$WORK/f1" "$WORK/g$i" || fail "concurrent get $i differs"
    tc a get "$G2" "$i" "$WORK/out" 2>/dev/null || fail "get G2.$i"
    cmp "$WORK/c$i" "$WORK/out" || fail "concurrent put $i differs"
done
[ -z "$(ls "$WORK/a/tmp")" ] || fail "temporaries left after concurrency"

echo "== a damaged block fails only the ranges that touch it"
head -c $((4 * 65536 + 1000)) /dev/urandom >"$WORK/d"
G3=$(group_id 3)
expect_status 201 a put "$G3" 1 4 2 65536 "$WORK/d"
F=$(frag_file "$G3" 1)
# Flip one byte in block 2 (file offset = 64-byte header + data offset).
off=$((64 + 2 * 65536 + 777))
flip_byte "$F" $off
got=$(tc a get "$G3" 1 "$WORK/part" $((2 * 65536 + 10)) 100 2>&1 >/dev/null || true)
echo "$got" | grep >/dev/null "^status 500" || fail "damaged range read: $got"
echo "$got" | grep >/dev/null "X-Cairn-Error: corrupt" || fail "no corrupt reason: $got"
expect_status 500 a get "$G3" 1 "$WORK/part"
for r in "0 65536" "65536 65536" "$((3 * 65536)) 66536" "100 130900"; do
    set -- $r
    tc a get "$G3" 1 "$WORK/part" "$1" "$2" 2>/dev/null || fail "healthy range $r failed"
    cmp "$WORK/part" <(tail -c +$(($1 + 1)) "$WORK/d" | head -c "$2") || fail "range $r differs"
done
tc a raw GET /v1/admin/damaged 2>/dev/null | grep -Eq "^$G3 1 2 (read|scrub) " || fail "not in damaged list"

echo "== a damaged block in a streamed (large) get aborts the body"
FB=$(frag_file "$G" 4)
flip_byte "$FB" $((64 + 100 * 65536 + 3))
if tc a get "$G" 4 "$WORK/out" >/dev/null 2>&1; then
    fail "a streamed get of a damaged fragment succeeded"
fi
[ "$(stat -c %s "$WORK/out")" -lt $((8 << 20)) ] || fail "damaged stream delivered every byte"
tc a get "$G" 4 "$WORK/part" 0 $((4 << 20)) 2>/dev/null || fail "healthy first half failed"
cmp "$WORK/part" <(head -c $((4 << 20)) "$WORK/big") || fail "healthy first half differs"
expect_status 500 a get "$G" 4 "$WORK/part" $((100 * 65536)) 65536
# Damage within the first MiB of a streamed get is a clean status.
flip_byte "$FB" $((64 + 65536 + 9))
expect_status 500 a get "$G" 4 "$WORK/out"
expect_status 500 a get "$G" 4 "$WORK/out" 100 $((3 << 20))
expect_status 204 a delete "$G" 4

echo "== the scrubber finds it too"
for _ in $(seq 1 60); do
    n=$(tc a raw GET /v1/admin/status 2>/dev/null | sed -n 's/^scrub_corrupt_blocks //p')
    [ "${n:-0}" -ge 1 ] && break
    sleep 0.1
done
[ "${n:-0}" -ge 1 ] || fail "scrubber did not find the damaged block"
tc a raw GET /metrics 2>/dev/null >"$WORK/metrics"
grep -q '^cairn_chunk_scrub_corrupt_blocks_total [1-9]' "$WORK/metrics" || fail "metrics: scrub"
grep -q '^cairn_chunk_damaged_fragments 1$' "$WORK/metrics" || fail "metrics: damaged"
grep -q '^cairn_chunk_fsync_seconds_count [1-9]' "$WORK/metrics" || fail "metrics: fsync"
grep -q '^cairn_chunk_requests_total{op="put",code="2xx"} [1-9]' "$WORK/metrics" || fail "metrics: puts"

echo "== re-putting the good content repairs it"
got=$(tc a put "$G3" 1 4 2 65536 "$WORK/d" 2>&1 || true)
echo "$got" | grep >/dev/null "X-Cairn-Put-Result: replaced" || fail "repair put: $got"
tc a get "$G3" 1 "$WORK/out" 2>/dev/null && cmp "$WORK/d" "$WORK/out" || fail "repaired differs"
[ -z "$(tc a raw GET /v1/admin/damaged 2>/dev/null)" ] || fail "damaged list not cleared"

echo "== a damaged header fails the whole fragment"
flip_byte "$F" 20
expect_status 500 a get "$G3" 1 "$WORK/part" 0 10
expect_status 500 a head "$G3" 1

echo "== open fragments (packed groups): appends, reads while open, errors"
GP=$(group_id packed)
U=4096
head -c $((20 * U)) /dev/urandom >"$WORK/p"
expect_status 200 a append "$GP" 1 4 2 $U 0 "$WORK/p" 0 $U
got=$(tc a append "$GP" 1 4 2 $U $U "$WORK/p" $U $((7 * U)) 2>&1) || fail "append: $got"
echo "$got" | grep -q "X-Cairn-Open-Length: $((8 * U))" || fail "append length: $got"
expect_status 200 a append "$GP" 1 4 2 $U $U "$WORK/p" $U $U       # a retry of what is stored
got=$(tc a append "$GP" 1 4 2 $U $((9 * U)) "$WORK/p" 0 $U 2>&1) && fail "append past the length: $got"
echo "$got" | grep -q "^status 409" && echo "$got" | grep -q "X-Cairn-Open-Length: $((8 * U))" &&
    echo "$got" | grep -q "X-Cairn-Error: offset" || fail "append past the length: $got"
expect_status 409 a append "$GP" 1 4 2 $U $U "$WORK/p" 0 $U         # other bytes at a stored offset
expect_status 400 a append "$GP" 1 4 2 $U $((8 * U)) "$WORK/p" 0 100 # not whole units
expect_status 409 a append "$GP" 1 4 2 $((2 * U)) $((8 * U)) "$WORK/p" 0 $((2 * U)) # another unit
expect_status 409 a append "$GP" 2 4 2 $U $U "$WORK/p" 0 $U         # the first append is at 0
expect_status 400 a seal "$GP" 1 $((9 * U))                        # past the length
tc a get "$GP" 1 "$WORK/out" 2>/dev/null && cmp "$WORK/out" <(head -c $((8 * U)) "$WORK/p") ||
    fail "open fragment read back differs"
check_open_range() {
    tc a get "$GP" 1 "$WORK/part" "$1" "$2" 2>/dev/null || fail "open range $1+$2 failed"
    cmp "$WORK/part" <(tail -c +$(($1 + 1)) "$WORK/p" | head -c "$2") || fail "open range $1+$2 differs"
}
check_open_range 100 5000
check_open_range $((3 * U - 1)) $((2 * U + 2))
got=$(tc a head "$GP" 1 2>&1)
echo "$got" | grep -q "X-Cairn-Open: 1" && ! echo "$got" | grep -q "X-Cairn-Data-CRC32C" ||
    fail "head of an open fragment: $got"
tc a raw GET /v1/admin/inventory 2>/dev/null | grep -q "^$GP " && fail "an open fragment is in the inventory"
flip_byte "$WORK/a/frags/${GP:0:2}/${GP:2:2}/$GP.1.open" $((64 + 5 * U + 7))
expect_status 500 a get "$GP" 1 "$WORK/part" $((5 * U)) 10
flip_byte "$WORK/a/frags/${GP:0:2}/${GP:2:2}/$GP.1.open" $((64 + 5 * U + 7))
check_open_range $((5 * U)) 10

echo "== delete"
expect_status 204 a delete "$G" 0
expect_status 404 a get "$G" 0 "$WORK/out"
expect_status 404 a delete "$G" 0

echo "== a second process on the same directory is refused"
if timeout 10 "$CHUNK" --data-dir "$WORK/a" --port 0 --cluster-secret-file "$SECRET" \
    >"$WORK/second.out" 2>&1; then
    fail "a second cairn-chunk served the same directory"
fi
grep -q "in use by another process" "$WORK/second.out" || fail "second: $(cat "$WORK/second.out")"
expect_status 200 a head "$G2" 3

echo "== restart keeps the id and the fragments"
id1=$(tc a raw GET /v1/admin/status 2>/dev/null | sed -n 's/^id //p')
n1=$(tc a raw GET /v1/admin/status 2>/dev/null | sed -n 's/^fragments //p')
stop_cs a
start_cs a "$WORK/a"
id2=$(tc a raw GET /v1/admin/status 2>/dev/null | sed -n 's/^id //p')
n2=$(tc a raw GET /v1/admin/status 2>/dev/null | sed -n 's/^fragments //p')
[ "$id1" = "$id2" ] && [ "$n1" = "$n2" ] || fail "restart: id $id1/$id2 fragments $n1/$n2"
tc a raw GET /v1/admin/inventory 2>/dev/null >"$WORK/inventory"
[ "$(wc -l <"$WORK/inventory")" = "$n2" ] || fail "inventory: $(cat "$WORK/inventory")"
grep -q "^$G2 3\$" "$WORK/inventory" || fail "inventory lacks $G2 3"
LC_ALL=C sort -c "$WORK/inventory" || fail "inventory not in order"
stop_cs a
start_cs a "$WORK/a" --rack r7 --zone z2 --advertise 10.1.2.3:9300
tc a raw GET /v1/admin/status 2>/dev/null >"$WORK/status"
grep -q '^rack r7$' "$WORK/status" && grep -q '^zone z2$' "$WORK/status" &&
    grep -q '^address 10.1.2.3:9300$' "$WORK/status" || fail "labels: $(cat "$WORK/status")"
tc a get "$G2" 3 "$WORK/out" 2>/dev/null && cmp "$WORK/c3" "$WORK/out" || fail "after restart"

echo "== an open fragment survives restarts, then is sealed"
tc a get "$GP" 1 "$WORK/out" 2>/dev/null && cmp "$WORK/out" <(head -c $((8 * U)) "$WORK/p") ||
    fail "open fragment after restart"
expect_status 200 a append "$GP" 1 4 2 $U $((8 * U)) "$WORK/p" $((8 * U)) $((4 * U))
got=$(tc a seal "$GP" 1 $((12 * U)) 2>&1) || fail "seal: $got"
echo "$got" | grep -q "^status 201" && echo "$got" | grep -q "X-Cairn-Put-Result: created" || fail "seal: $got"
head -c $((12 * U)) "$WORK/p" >"$WORK/p12"
crc=$("$TC" - - crc "$WORK/p12")
echo "$got" | grep -qi "X-Cairn-Data-CRC32C: $crc" || fail "sealed CRC (want $crc): $got"
expect_status 200 a seal "$GP" 1 $((12 * U))                        # a retried seal
expect_status 409 a seal "$GP" 1 $((8 * U))
expect_status 409 a append "$GP" 1 4 2 $U $((12 * U)) "$WORK/p" 0 $U
got=$(tc a head "$GP" 1 2>&1)
echo "$got" | grep -qi "X-Cairn-Data-CRC32C: $crc" && ! echo "$got" | grep -q "X-Cairn-Open" ||
    fail "head of the sealed fragment: $got"
tc a raw GET /v1/admin/inventory 2>/dev/null | grep -q "^$GP 1\$" || fail "sealed fragment not in the inventory"
stop_cs a
start_cs a "$WORK/a"
tc a get "$GP" 1 "$WORK/out" 2>/dev/null && cmp "$WORK/out" "$WORK/p12" ||
    fail "sealed fragment after restart"
[ -z "$(ls "$WORK/a/frags/${GP:0:2}/${GP:2:2}/" | grep -E '\.(open|crc)$')" ] || fail "open files left after the seal"

echo "== compaction: a new fragment from ranges of the sealed one (POST /v1/compact)"
GN=5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e
got=$(tc a compact "$GN" "$GP" 1 4 2 $U $((8 * U)):$((4 * U)) 0:$((2 * U)) 2>&1) ||
    fail "compact: $got"
echo "$got" | grep -q "^status 201" && echo "$got" | grep -q "X-Cairn-Put-Result: created" ||
    fail "compact: $got"
{ tail -c +$((8 * U + 1)) "$WORK/p12"; head -c $((2 * U)) "$WORK/p12"; } >"$WORK/pc"
crc=$("$TC" - - crc "$WORK/pc")
echo "$got" | grep -qi "X-Cairn-Data-CRC32C: $crc" || fail "compacted CRC (want $crc): $got"
tc a get "$GN" 1 "$WORK/out" 2>/dev/null && cmp "$WORK/out" "$WORK/pc" || fail "compacted fragment"
expect_status 200 a compact "$GN" "$GP" 1 4 2 $U $((8 * U)):$((4 * U)) 0:$((2 * U)) # a retry
expect_status 404 a compact 6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e "$GP" 2 4 2 $U 0:$U  # no old fragment 2
expect_status 409 a compact 6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e "$GP" 1 4 2 $U $((11 * U)):$((2 * U))
expect_status 400 a compact 6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e "$GP" 1 4 2 $U 0:$((2 * U)) $U:$U
expect_status 400 a compact "$GP" "$GP" 1 4 2 $U 0:$U                                 # same group
stop_all
echo PASS
