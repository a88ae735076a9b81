#!/usr/bin/env bash
# The gateway's erasure-coded data path (gw_data) against real daemons: 3
# cairn-meta, 6 cairn-chunk that register themselves through heartbeats, and
# ec-path-tool driving gw_put / gw_get. Checks, byte for byte:
#   - objects of awkward sizes round-trip (short last stripe, exact stripe
#     multiples, several chunk groups, another scheme);
#   - random ranges read only what they ask for, correctly;
#   - all of it (whole objects, ranges across units, stripes and groups,
#     packed, degraded) also through the direct reader the S3 GET uses
#     (gw_get_open_direct: fragments written straight into the caller's
#     buffer in object order, the next stripe prefetched), and a slow direct
#     reader whose prefetched answers time out reads them again, not degraded;
#   - a PUT while a chunkserver is dead still commits (write quorum k+1) and
#     records the missing fragment; once the leader calls it down, new groups
#     are placed on the hosts left with the last parity fragments missing;
#   - with m = 2 chunkservers dead every object still reads back exactly
#     (degraded reads decode);
#   - with 3 dead, a read fails; it never returns wrong bytes;
#   - packed groups (issue #17): objects appended in batches into one group
#     (gw_packed_append) read back whole and in ranges through packed extents,
#     and decoded with 2 of 4+2 chunkservers dead.
source "$(dirname "$0")/lib.sh"

TOOL="$CAIRN_BUILD/tests/integration/ec-path-tool"

CAIRN_META_OPTS="--down-after 2s" CAIRN_CHUNK_OPTS="--reserve 16M --heartbeat 200ms" \
  cluster_up 6 --no-gateway
SECRET="$CDIR/secret"
URLS="$(cluster_meta_urls)"

tool() { "$TOOL" --meta "$URLS" --cluster-secret-file "$SECRET" "$@"; }
mkfile() { head -c "$2" /dev/urandom > "$TEST_DIR/$1"; }

mkfile tiny 1
# Placement needs all six registered: retry the first put until it lands.
wait_for 20 tool put bucket1 tiny "$TEST_DIR/tiny"

echo "== round trips"
mkfile short 100000            # one short stripe (units of 25000)
mkfile exact $((4 * 1048576))  # exactly one full stripe
mkfile odd $((4 * 1048576 + 3))
mkfile big 45000000            # 3 groups with --frag-max 4 MiB
tool put bucket1 short "$TEST_DIR/short"
tool put bucket1 exact "$TEST_DIR/exact"
tool put bucket1 odd "$TEST_DIR/odd"
tool --frag-max 4194304 put bucket1 big "$TEST_DIR/big"
tool --scheme 3+2 --unit 65536 put bucket1 s32 "$TEST_DIR/odd"
[ "$(tool put bucket1 big2 "$TEST_DIR/big" | cut -d' ' -f1)" = "$(md5sum < "$TEST_DIR/big" | cut -c1-32)" ] \
  || fail "ETag is not the MD5 of the body"

check_all() { # every object reads back byte-exact, through both kinds of reader
  local k f
  for k in tiny short exact odd big s32; do
    f=$k; [ "$k" = s32 ] && f=odd
    tool get bucket1 "$k" "$TEST_DIR/out.$k" || fail "get $k ($1)"
    cmp -s "$TEST_DIR/$f" "$TEST_DIR/out.$k" || fail "$k differs ($1)"
    tool --direct 1 get bucket1 "$k" "$TEST_DIR/out.$k" > "$TEST_DIR/direct.out" \
      || fail "direct get $k ($1)"
    cmp -s "$TEST_DIR/$f" "$TEST_DIR/out.$k" || fail "$k differs, direct reader ($1)"
  done
  # big: the first stripe goes through the stripe buffer (a short first
  # read), every later one straight into the reader's buffer
  awk '$1 == "direct" && $2 >= 9 { ok = 1 } END { exit !ok }' "$TEST_DIR/direct.out" \
    || fail "direct get of big ($1): $(cat "$TEST_DIR/direct.out"), not 10 of its 11 stripes direct"
  # every chunkserver up: each prefetched stripe is used as it came. Its
  # requests go out on the connections the stripe before used, and an answer
  # that comes back within cn_http_fanout_start is held for its read, not
  # failed and fetched again
  if [ "$1" = "all up" ]; then
    grep -q " redone 0 degraded 0 errors 0$" "$TEST_DIR/direct.out" \
      || fail "direct get of big ($1): $(cat "$TEST_DIR/direct.out"), want no stripe fetched again"
  fi
}

check_ranges() { # $1: what; ranges of big, both readers
  local off len d
  while read -r off len; do
    for d in 0 1; do
      tool --direct $d get bucket1 big "$TEST_DIR/range" "$off" "$len" >/dev/null \
        || fail "range $off+$len (direct $d, $1)"
      [ "$(stat -c %s "$TEST_DIR/range")" = "$len" ] || fail "range $off+$len: wrong length (direct $d, $1)"
      cmp -s -i "$off:0" -n "$len" "$TEST_DIR/big" "$TEST_DIR/range" \
        || fail "range $off+$len differs (direct $d, $1)"
    done
  done < "$TEST_DIR/ranges"
}
check_all "all up"

echo "== a slow direct reader: prefetched answers that time out are fetched again, not decoded"
# odd is 2 stripes: the second is prefetched after the first read and read
# 4 s later, past the 3 s fragment timeout
tool --direct 1 --fragment-timeout 3000 --read-delay 2000 get bucket1 odd "$TEST_DIR/out.slow" \
  > "$TEST_DIR/slow.out" || fail "slow direct get"
cmp -s "$TEST_DIR/odd" "$TEST_DIR/out.slow" || fail "slow direct get differs"
grep -qx "direct [0-9]* redone [1-9][0-9]* degraded 0 errors 0" "$TEST_DIR/slow.out" \
  || fail "slow direct get: $(cat "$TEST_DIR/slow.out") (want the prefetch redone, nothing degraded)"

echo "== packed group: batches appended to all k+m, read back whole and in ranges"
tool --scheme 4+2 --unit 4096 packed-write "$TEST_DIR/packed.state" 42 || fail "packed appends"
tool packed-verify "$TEST_DIR/packed.state" | tee "$TEST_DIR/packed.out" || fail "packed reads"
grep -q "^degraded 0 " "$TEST_DIR/packed.out" || fail "packed reads decoded with every chunkserver up"
tool --scheme 3+2 --unit 16384 packed-write "$TEST_DIR/packed32.state" 7 || fail "packed 3+2"
tool --direct 1 packed-verify "$TEST_DIR/packed.state" >/dev/null || fail "packed reads, direct reader"
tool --direct 1 packed-verify "$TEST_DIR/packed32.state" >/dev/null || fail "packed 3+2 reads, direct reader"

echo "== random ranges"
/usr/bin/python3 - "$TEST_DIR/big" > "$TEST_DIR/ranges" <<'PY'
import os, random, sys
size = os.path.getsize(sys.argv[1]); random.seed(7)
for _ in range(25):
    off = random.randrange(size); ln = random.randrange(1, min(size - off, 9_000_000) + 1)
    print(off, ln)
print(0, 1); print(size - 1, 1); print(4194304 * 4 - 5, 10)   # edges, a group boundary
# across a unit (fragment) boundary, a stripe boundary, from mid-unit over
# several stripes and units, a group's last bytes into the next, odd tails
U, S = 1048576, 4194304
print(U - 3, 7); print(S - 5, 10); print(3 * U + 17, 2 * S + 1000); print(U + 1, S)
print(4 * S - 100001, 300003); print(S + 1, 5 * S - 1); print(size - S - 3, S + 3)
PY
check_ranges "all up"

echo "== a put while one chunkserver is dead commits with k+1..k+m-1 fragments"
cluster_kill chunk1
tool put bucket1 during "$TEST_DIR/odd"
tool info bucket1 during | grep >/dev/null " 0000000000000000" || fail "missing fragment not recorded"
tool get bucket1 during "$TEST_DIR/out.during" && cmp -s "$TEST_DIR/odd" "$TEST_DIR/out.during" \
  || fail "short group does not read back"

echo "== once the leader calls it down, new groups go on the 5 hosts left (k+1 <= 5 < k+m)"
sleep 3
tool put bucket1 after "$TEST_DIR/odd"
tool info bucket1 after | awk '/^group/ { print $NF }' | grep -x >/dev/null 0000000000000000 \
  || fail "the unplaced fragment is not the last parity one"
tool get bucket1 after "$TEST_DIR/out.after" && cmp -s "$TEST_DIR/odd" "$TEST_DIR/out.after" \
  || fail "a group placed on 5 hosts does not read back"

echo "== m = 2 chunkservers dead: degraded reads"
cluster_kill chunk2
check_all "two chunkservers down"
check_ranges "two chunkservers down"
tool packed-verify "$TEST_DIR/packed32.state" >/dev/null || fail "degraded 3+2 packed reads"
tool --direct 1 packed-verify "$TEST_DIR/packed32.state" >/dev/null \
  || fail "degraded 3+2 packed reads, direct reader"
tool --direct 1 packed-verify "$TEST_DIR/packed.state" >/dev/null \
  || fail "degraded packed reads, direct reader"
tool packed-verify "$TEST_DIR/packed.state" > "$TEST_DIR/packed.out" || fail "degraded packed reads"
# 4+2 on 6 chunkservers: two of its fragments are gone. Unless both were its
# parity fragments (placement is random: 1 time in 15), stripes were decoded.
# The state file: id k m unit length seed, then the k+m chunkserver ids
# (decimal) in fragment order.
dead_data=$(/usr/bin/python3 - "$TEST_DIR/packed.state" "$CDIR" <<'PY'
import sys
t = open(sys.argv[1]).read().split()
k = int(t[1])
data = {"%016x" % int(x) for x in t[6:6 + k]}
dead = {open(f"{sys.argv[2]}/chunk{n}/chunkserver-id").read()[:16] for n in (1, 2)}
print(1 if data & dead else 0)
PY
)
if [ "$dead_data" = 1 ]; then
  grep -q "^degraded 0 " "$TEST_DIR/packed.out" && fail "packed: no stripe was decoded"
else
  echo "(the packed group's two lost fragments were both parity: nothing to decode)"
fi

echo "== 3 dead: reads fail, never wrong bytes"
cluster_kill chunk3
if tool get bucket1 big "$TEST_DIR/out.fail" 2>/dev/null; then
  fail "read succeeded with 3 of 6 fragments gone"
fi
echo "ec_data_path: all checks passed"
