#!/usr/bin/env bash
# Scrub and targeted repair with real daemons: 3 cairn-meta and 7 cairn-chunk
# (4+2 groups of at most 1 MiB, so objects span several groups). Checks that
#   - fragment files deleted behind the chunkservers' backs are found by
#     `cairn scrub --wait` (the chunkservers' inventory check), reported as
#     missing, rebuilt in place byte for byte, and a second scrub finds none
#     (while an object deleted just before is being garbage collected);
#   - a parity fragment whose data was changed AND whose CRCs were fixed up
#     passes the CRC scrub, is found by `cairn scrub --deep`, named, and
#     rebuilt; a second deep scrub is clean;
#   - `cairn repair --bucket B --key K` and `--bucket B` find and repair the
#     damaged groups of exactly that object / bucket, nothing else;
#   - the rebuilt fragments are real: with two more chunkservers (holding
#     fragments of every repaired group) killed, every object reads back
#     byte-exact.
source "$(dirname "$0")/lib.sh"

CAIRN="$CAIRN_BUILD/cli/cairn"
TOOL="$CAIRN_BUILD/tests/integration/ec-path-tool"
PY=/usr/bin/python3

CAIRN_META_OPTS="--down-after 1s --out-after 120s --repair-scan-interval 500ms" \
  CAIRN_CHUNK_OPTS="--reserve 16M --heartbeat 200ms --scrub-rate 1G" cluster_up 7 --no-gateway
SECRET="$CDIR/secret"
URLS="$(cluster_meta_urls)"

tool() { "$TOOL" --meta "$URLS" --cluster-secret-file "$SECRET" --unit 65536 --frag-max 262144 "$@"; }
cairn() { timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" "$@"; }
cs_id() { cut -c1-16 "$CDIR/chunk$1/chunkserver-id"; }
cs_num() { # chunkserver number of a metadata id
  local i; for i in 1 2 3 4 5 6 7; do [ "$(cs_id "$i")" = "$1" ] && echo "$i"; done; true
}
# "GROUP HOLDER0 .. HOLDER5" for each chunk group of an object.
groups() { tool info "$1" "$2" | awk '/^group/ { l = $8; for (i = 10; i <= NF; i++) l = l " " $i; print l }'; }
frag() { echo "$CDIR/chunk$1/frags/${2:0:2}/${2:2:2}/$2.$3"; }  # CS_NUM GROUP INDEX
sha() { sha256sum < "$1" | cut -d' ' -f1; }

OBJECTS="bkt1/o1 bkt1/o2 bkt1/o3 bkt1/o4 bkt2/x bkt2/y bkt3/z"
declare -A SIZE=([bkt1/o1]=1 [bkt1/o2]=100000 [bkt1/o3]=1048583 [bkt1/o4]=3000000
                 [bkt2/x]=500000 [bkt2/y]=2000000 [bkt3/z]=700000)
step "writing ${OBJECTS// /, }"
for o in $OBJECTS; do head -c "${SIZE[$o]}" /dev/urandom > "$TEST_DIR/${o/\//.}"; done
wait_for 30 tool put bkt1 o1 "$TEST_DIR/bkt1.o1" || fail "first put"
for o in $OBJECTS; do tool put "${o%/*}" "${o#*/}" "$TEST_DIR/${o/\//.}" > /dev/null || fail "put $o"; done
tool put bkt1 gone "$TEST_DIR/bkt2.x" > /dev/null || fail "put bkt1/gone"   # deleted later

# ---------------------------------------------------------------------------
# X: the chunkserver holding fragments of the most groups of bkt1 (7 groups
# of 6 fragments on 7 chunkservers: at least 6).
XID=$(for o in bkt1/o1 bkt1/o2 bkt1/o3 bkt1/o4; do groups "${o%/*}" "${o#*/}"; done |
      awk '{ for (i = 2; i <= NF; i++) n[$i]++ } END { for (c in n) print n[c], c }' | sort -rn |
      head -n 1 | cut -d' ' -f2)
X=$(cs_num "$XID")
[ -n "$X" ] || fail "no chunkserver holds bkt1's fragments"
step "fragment files deleted behind chunkserver $X's back are found by scrub"
: > "$TEST_DIR/deleted"
for o in bkt1/o1 bkt1/o2 bkt1/o3 bkt1/o4; do
  while read -r g h0 h1 h2 h3 h4 h5; do
    hs=($h0 $h1 $h2 $h3 $h4 $h5)
    for idx in 0 1 2 3 4 5; do
      if [ "${hs[$idx]}" = "$XID" ] && [ "$(wc -l < "$TEST_DIR/deleted")" -lt 4 ]; then
        f=$(frag $X "$g" $idx)
        [ -f "$f" ] || fail "fragment file $f not found"
        echo "$g $idx $(sha "$f") ${hs[*]}" >> "$TEST_DIR/deleted"
        rm -f "$f"
      fi
    done
  done < <(groups "${o%/*}" "${o#*/}")
done
[ "$(wc -l < "$TEST_DIR/deleted")" = 4 ] || fail "expected 4 fragments of bkt1 on chunkserver $X"
cairn scrub --wait | tee "$TEST_DIR/scrub1.out" || fail "cairn scrub --wait"
grep -q "^scrub finished: .* 0 corrupt, 4 missing" "$TEST_DIR/scrub1.out" \
  || fail "scrub did not report the 4 missing fragments"
grep -q "chunkserver $XID: 4 missing fragment(s)" "$TEST_DIR/scrub1.out" \
  || fail "scrub did not name chunkserver $X"
restored() {
  local g idx s rest
  while read -r g idx s rest; do
    [ -f "$(frag $X "$g" "$idx")" ] && [ "$(sha "$(frag $X "$g" "$idx")")" = "$s" ] || return 1
  done < "$TEST_DIR/deleted"
}
wait_for 30 restored || fail "the missing fragments were not rebuilt byte for byte"
# Rebuilt in place: the committed state still places each on chunkserver X.
while read -r g idx s rest; do
  for o in bkt1/o1 bkt1/o2 bkt1/o3 bkt1/o4; do groups "${o%/*}" "${o#*/}"; done | awk -v g="$g" -v i="$idx" \
    -v x="$XID" '$1 == g && $(i + 2) == x { ok = 1 } END { exit !ok }' \
    || fail "group $g fragment $idx is not recorded on chunkserver $X after the repair"
done < "$TEST_DIR/deleted"
# An object deleted just before: its fragments leave through garbage
# collection while the scrub runs; they must not be reported missing.
GONE=$(groups bkt1 gone | cut -d' ' -f1)
tool delete bkt1 gone || fail "delete bkt1/gone"
cairn scrub --wait | tee "$TEST_DIR/scrub2.out" || fail "second cairn scrub --wait"
grep -q "^scrub finished: .* 0 corrupt, 0 missing" "$TEST_DIR/scrub2.out" \
  || fail "a second scrub still finds damage"
no_gone() { [ -z "$(find "$CDIR"/chunk*/frags -name "$GONE.*")" ]; }
wait_for 20 no_gone || fail "the deleted object's fragments were not collected"

# ---------------------------------------------------------------------------
step "a parity fragment rewritten with valid CRCs: only the deep scrub sees it"
read -r DG DH0 DH1 DH2 DH3 DH4 DH5 < <(groups bkt1 o4 | head -n 1)
DHS=($DH0 $DH1 $DH2 $DH3 $DH4 $DH5)
DN=$(cs_num "${DHS[5]}")
PF=$(frag "$DN" "$DG" 5)
PSHA=$(sha "$PF")
# Changes bytes of data block 1 and rewrites that block's CRC, the table CRC,
# the whole-data CRC and the header CRC (chunkserver/cs_fragment.h, v1).
"$PY" - "$PF" <<'PY'
import struct, sys
T = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
path = sys.argv[1]
f = bytearray(open(path, "rb").read())
assert f[:8] == b"CAIRNFRG"
block = struct.unpack_from("<I", f, 12)[0]
dlen = struct.unpack_from("<Q", f, 48)[0]
assert dlen > block + 100, dlen
data = 64
for off in range(block + 10, block + 60):
    f[data + off] ^= 0x5A
nblocks = (dlen + block - 1) // block
table = data + dlen
b = 1
chunk = f[data + b * block: data + min((b + 1) * block, dlen)]
struct.pack_into("<I", f, table + 4 * b, crc32c(chunk))
struct.pack_into("<I", f, 44, crc32c(f[data:data + dlen]))
struct.pack_into("<I", f, 56, crc32c(f[table:table + 4 * nblocks]))
struct.pack_into("<I", f, 60, crc32c(f[:60]))
open(path, "r+b").write(f)
PY
[ "$(sha "$PF")" != "$PSHA" ] || fail "could not change the parity fragment"
cairn scrub --wait | tee "$TEST_DIR/scrub3.out" || fail "cairn scrub --wait"
grep -q "^scrub finished: .* 0 corrupt, 0 missing" "$TEST_DIR/scrub3.out" \
  || fail "the CRC scrub was expected not to see the rewritten parity"
cairn scrub --deep --wait | tee "$TEST_DIR/deep1.out" || fail "cairn scrub --deep --wait"
grep -q "^deep scrub finished: .* 1 mismatched, 1 queued for repair" "$TEST_DIR/deep1.out" \
  || fail "the deep scrub did not find the rewritten parity"
grep -q "group $DG: parity fragment 5 on chunkserver ${DHS[5]} does not match" "$TEST_DIR/deep1.out" \
  || fail "the deep scrub did not name the rewritten fragment"
prepaired() { [ "$(sha "$PF")" = "$PSHA" ]; }
wait_for 30 prepaired || fail "the rewritten parity fragment was not rebuilt"
cairn scrub --deep | tee "$TEST_DIR/deep2.out" || fail "second cairn scrub --deep"
grep -q "^deep scrub finished: [1-9][0-9]* group(s) checked, 0 mismatched" "$TEST_DIR/deep2.out" \
  || fail "a second deep scrub still finds a mismatch"

# ---------------------------------------------------------------------------
step "cairn repair --bucket/--key repairs exactly that object's / bucket's groups"
: > "$TEST_DIR/lost"
for o in bkt2/x bkt2/y bkt3/z; do   # one fragment file of the first group of each
  read -r g h0 h1 h2 h3 h4 h5 < <(groups "${o%/*}" "${o#*/}" | head -n 1)
  idx=$(( RANDOM % 6 )); hs=($h0 $h1 $h2 $h3 $h4 $h5)
  f=$(frag "$(cs_num "${hs[$idx]}")" "$g" $idx)
  echo "$o $f $(sha "$f")" >> "$TEST_DIR/lost"
  rm -f "$f"
done
back() { local s; s=$(awk -v o="$1" '$1 == o { print $2, $3 }' "$TEST_DIR/lost"); [ -f "${s% *}" ] && [ "$(sha "${s% *}")" = "${s#* }" ]; }
gone() { [ ! -e "$(awk -v o="$1" '$1 == o { print $2 }' "$TEST_DIR/lost")" ]; }
cairn repair --bucket bkt2 --key x --wait | tee "$TEST_DIR/rk.out" || fail "cairn repair --bucket bkt2 --key x"
grep -q "^bkt2/x: 1 object(s), 1 group(s) checked, 1 damaged, 1 queued for repair (1 fragment(s)" \
  "$TEST_DIR/rk.out" || fail "repair --key did not find exactly x's damaged group"
wait_for 20 back bkt2/x || fail "x's fragment was not rebuilt"
gone bkt2/y && gone bkt3/z || fail "repair --key touched other objects"
cairn repair --bucket bkt2 --wait | tee "$TEST_DIR/rb.out" || fail "cairn repair --bucket bkt2"
grep -q "^bkt2: 2 object(s), 3 group(s) checked, 1 damaged, 1 queued for repair (1 fragment(s)" \
  "$TEST_DIR/rb.out" || fail "repair --bucket did not find exactly y's damaged group"
wait_for 20 back bkt2/y || fail "y's fragment was not rebuilt"
gone bkt3/z || fail "repair --bucket bkt2 touched bucket b3"
cairn repair --bucket bkt3 --wait > "$TEST_DIR/rb3.out" || fail "cairn repair --bucket bkt3"
wait_for 20 back bkt3/z || fail "z's fragment was not rebuilt"

# ---------------------------------------------------------------------------
step "the rebuilt fragments are real: lose two more chunkservers, read everything"
# Two chunkservers other than X that hold a fragment of every group that lost
# one on X: with them gone, those groups need the rebuilt copies. (Each group
# leaves out one of the 7, so at most 4 of the 6 others are ruled out.)
KILL=()
for i in 1 2 3 4 5 6 7; do
  [ "$i" = "$X" ] && continue
  id=$(cs_id "$i")
  [ "$(awk -v id="$id" '{ n = 0; for (j = 4; j <= NF; j++) n += $j == id; if (!n) bad = 1 }
        END { print bad ? 0 : 1 }' "$TEST_DIR/deleted")" = 1 ] && KILL+=("$i")
done
[ "${#KILL[@]}" -ge 2 ] || fail "no two chunkservers share every repaired group"
cluster_kill "chunk${KILL[0]}"; cluster_kill "chunk${KILL[1]}"
for o in $OBJECTS; do
  tool get "${o%/*}" "${o#*/}" "$TEST_DIR/out" || fail "get $o with chunkservers ${KILL[0]} and ${KILL[1]} down"
  same "$TEST_DIR/${o/\//.}" "$TEST_DIR/out"
done
step "scrub: all checks passed"
