#!/usr/bin/env bash
# Integration: a 4+2 group spread over three chunkservers; lost fragments are
# rebuilt by a fourth (and by a holder) from peers and compared byte for byte
# with the originals: data and parity fragments, a dead source, a source with
# a damaged block, too few sources, a wrong expected CRC.
source "$(dirname "$0")/lib.sh"

for s in a b c d; do start_cs $s "$WORK/$s"; done
LEN=$((3 * 1048576 + 12345))
"$TC" - - mkfrags 4 2 $LEN 7 "$WORK/frag"
G=$(group_id 1)
crc() { "$TC" - - crc "$1"; }
put() { expect_status 201 "$1" put "$G" "$2" 4 2 65536 "$WORK/frag.$2"; }
put a 0; put a 1; put b 2; put b 3; put c 4; put c 5

echo "== rebuild a lost data fragment on another server"
expect_status 204 a delete "$G" 1
expect_status 201 d rebuild "$G" 1 4 2 65536 $LEN \
    0="$(addr a)" 2="$(addr b)" 3="$(addr b)" 4="$(addr c)" 5="$(addr c)" crc="$(crc "$WORK/frag.1")"
tc d get "$G" 1 "$WORK/out" 2>/dev/null
cmp "$WORK/frag.1" "$WORK/out" || fail "rebuilt fragment 1 differs"

echo "== rebuild a parity fragment; the first source is dead and is replaced"
expect_status 204 c delete "$G" 5
expect_status 201 a rebuild "$G" 5 4 2 65536 $LEN \
    0=127.0.0.1:1 1="$(addr d)" 2="$(addr b)" 3="$(addr b)" 4="$(addr c)"
tc a get "$G" 5 "$WORK/out" 2>/dev/null
cmp "$WORK/frag.5" "$WORK/out" || fail "rebuilt fragment 5 differs"

echo "== a source with a damaged block is replaced by a spare"
F="$WORK/b/frags/${G:0:2}/${G:2:2}/$G.2"
off=$((64 + 20 * 65536 + 5))
flip_byte "$F" $off
expect_status 500 b get "$G" 2 "$WORK/out" $((20 * 65536)) 10
expect_status 201 d rebuild "$G" 0 4 2 65536 $LEN \
    1="$(addr d)" 2="$(addr b)" 3="$(addr b)" 4="$(addr c)" 5="$(addr a)"
tc d get "$G" 0 "$WORK/out" 2>/dev/null
cmp "$WORK/frag.0" "$WORK/out" || fail "rebuilt fragment 0 differs"
grep -q "failed at offset" "$(cluster_log d)" || fail "the damaged source was not noticed"

echo "== the damaged fragment is rebuilt in place (replaced)"
got=$(tc b rebuild "$G" 2 4 2 65536 $LEN 0="$(addr d)" 1="$(addr d)" 3="$(addr b)" \
    4="$(addr c)" 2>&1 || true)
echo "$got" | grep >/dev/null "X-Cairn-Put-Result: replaced" || fail "in-place rebuild: $got"
tc b get "$G" 2 "$WORK/out" 2>/dev/null
cmp "$WORK/frag.2" "$WORK/out" || fail "fragment 2 after in-place rebuild differs"

echo "== a group streamed to four servers in parallel (the gateway's way), then rebuilt"
"$TC" - - mkfrags 4 2 $LEN 8 "$WORK/gw"
G5=$(group_id 5)
"$TC" - "$SECRET" fanput "$G5" 4 2 65536 "$WORK/gw" "$(addr a)" "$(addr b)" "$(addr c)" \
    "$(addr d)" "$(addr a)" "$(addr b)" 2>"$WORK/fanput.out" || fail "fanput: $(cat "$WORK/fanput.out")"
srv=(a b c d a b)
for i in 0 1 2 3 4 5; do
    tc "${srv[$i]}" get "$G5" "$i" "$WORK/out" 2>/dev/null || fail "fanput fragment $i missing"
    cmp "$WORK/gw.$i" "$WORK/out" || fail "fanput fragment $i differs"
done
expect_status 204 c delete "$G5" 2
expect_status 201 c rebuild "$G5" 2 4 2 65536 $LEN 0="$(addr a)" 1="$(addr b)" 3="$(addr d)" \
    4="$(addr a)" 5="$(addr b)"
tc c get "$G5" 2 "$WORK/out" 2>/dev/null
cmp "$WORK/gw.2" "$WORK/out" || fail "rebuilt G5.2 differs"

echo "== refusals store nothing"
expect_status 503 c rebuild "$G" 5 4 2 65536 $LEN 0="$(addr a)" 1="$(addr d)" 2="$(addr b)"
expect_status 404 c head "$G" 5
expect_status 500 c rebuild "$G" 5 4 2 65536 $LEN \
    0="$(addr a)" 1="$(addr d)" 2="$(addr b)" 3="$(addr b)" crc=deadbeef
expect_status 404 c head "$G" 5
expect_status 400 c rebuild "$G" 5 4 2 65536 $LEN 5="$(addr a)" 1="$(addr d)" 2="$(addr b)" \
    3="$(addr b)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary x \
    "http://$(addr c)/v1/rebuild")
[ "$code" = 401 ] || fail "unsigned rebuild got $code"
for s in a b c d; do
    [ -z "$(ls "$WORK/$s/tmp")" ] || fail "temporaries left on $s"
done
stop_all
echo PASS
