#!/usr/bin/env bash
# Packed groups (issue #17), the metadata half against real daemons: 3
# cairn-meta with --packed-idle 10s, 6 cairn-chunk, and packed-writer standing
# in for a gateway's packer. Checks:
#   - OpenGroup places k+m fragments; two appends (batches of objects, each
#     from a stripe boundary) land on every chunkserver as open fragments and
#     CommitPacked records the objects (`cairn packed`: open, live bytes);
#   - the writer gone, the leader's sealer seals the group once idle: in the
#     metadata (state sealed, then fragments sealed) and on every chunkserver
#     (each <group>.<i>.open renamed to <group>.<i>, the length the
#     metadata says, scrub-clean);
#   - `cairn locate` shows an object's place in the group;
#   - deleting the objects one by one leaves the group until the last, then
#     it is garbage and its fragment files go (--garbage-grace 0).
source "$(dirname "$0")/lib.sh"

WRITER="$CAIRN_BUILD/tests/integration/packed-writer"
CAIRN="$CAIRN_BUILD/cli/cairn"

CAIRN_META_OPTS="--packed-idle 10s --garbage-grace 0s --down-after 5s" \
  CAIRN_CHUNK_OPTS="--reserve 16M --heartbeat 200ms" cluster_up 6 --no-gateway
SECRET="$CDIR/secret"
URLS="$(cluster_meta_urls)"
writer() { "$WRITER" --meta "$URLS" --cluster-secret-file "$SECRET" "$@"; }
cairn() { timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" "$@"; }
mkfile() { head -c "$2" /dev/urandom > "$TEST_DIR/$1"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
group_json() { # the group G as `cairn packed --json` lists it ({} when gone)
  cairn packed --json | python3 -c "
import json, sys
g = [x for x in json.load(sys.stdin)['groups'] if x['group'] == sys.argv[1]]
print(json.dumps(g[0]) if g else '{}')" "$G"
}
field() { group_json | json_field "$1"; }

step "open a 4+2 group (unit 4 KiB), append two batches, then the writer is gone"
mkfile a 10000      # 1 stripe of 16 KiB
mkfile b 40000      # 3 stripes
mkfile c 5          # 1 stripe
# Placement needs all six registered: retry until it lands.
G=""
for _ in $(seq 60); do G="$(writer --scheme 4+2 --unit 4096 open 2>/dev/null)" && break; sleep 0.5; done
[ "${#G}" = 32 ] || fail "no group opened: $G"
writer append "$G" pbkt a "$TEST_DIR/a" b "$TEST_DIR/b" > "$TEST_DIR/out1"
writer append "$G" pbkt c "$TEST_DIR/c" > "$TEST_DIR/out2"
t_last=$SECONDS
# Within the 10 s the sealer waits (the files first: no metadata call before)
open_files() { find "$CDIR"/chunk*/frags -name "$G.*.open" | wc -l; }
sealed_files() { find "$CDIR"/chunk*/frags -regex ".*/$G\.[0-9]+" | wc -l; }
n_open=$(open_files)
cairn packed --json > "$TEST_DIR/packed.json"
dt=$((SECONDS - t_last))
[ "$n_open" = 6 ] || fail "open fragment files: $n_open, want 6"
grep -qx "a ok" "$TEST_DIR/out1" && grep -qx "b ok" "$TEST_DIR/out1" && grep -qx "c ok" "$TEST_DIR/out2" ||
  fail "CommitPacked: $(cat "$TEST_DIR/out1" "$TEST_DIR/out2")"
saved() { python3 -c "
import json, sys
g = [x for x in json.load(open(sys.argv[1]))['groups'] if x['group'] == sys.argv[2]][0]
print(g[sys.argv[3]])" "$TEST_DIR/packed.json" "$G" "$1"; }
if [ "$dt" -lt 9 ]; then
  [ "$(saved state)" = open ] || fail "the group is not open $dt s after its last commit"
fi
[ "$(saved length)" = $((5 * 16384)) ] || fail "committed length: $(saved length)"
[ "$(saved live_bytes)" = 50005 ] || fail "live bytes: $(saved live_bytes)"
[ "$(saved live_objects)" = 3 ] || fail "live objects: $(saved live_objects)"
cairn locate pbkt b | grep -q "packed group $G  bytes 0..40000 at group offset 16384" ||
  fail "cairn locate: $(cairn locate pbkt b)"

step "the leader's sealer seals it, in the metadata and on the chunkservers"
finished() { [ "$(field "['state']")" = sealed ]; }
wait_for 45 finished || fail "not sealed: $(group_json)"
echo "   sealed $((SECONDS - t_last)) s after the last commit (--packed-idle 10s)"
[ "$(open_files)" = 0 ] || fail "open fragment files left: $(open_files)"
[ "$(sealed_files)" = 6 ] || fail "sealed fragment files: $(sealed_files), want 6"
cairn packed | grep -q "0 open, 1 sealed packed group" || fail "cairn packed: $(cairn packed)"
cairn status | grep -q "^packed: 0 open, 1 sealed" || fail "cairn status: $(cairn status)"
metric() { for u in ${URLS//,/ }; do curl -sf "$u/metrics"; done | awk -v m="$1" '$1 == m { s += $2 } END { print s + 0 }'; }
[ "$(metric cairn_packed_idle_sealed_total)" = 1 ] || fail "cairn_packed_idle_sealed_total"
[ "$(metric cairn_packed_fragments_sealed_total)" = 6 ] || fail "cairn_packed_fragments_sealed_total"
cairn scrub --wait > "$TEST_DIR/scrub" 2>&1 || fail "scrub of the sealed group: $(cat "$TEST_DIR/scrub")"

step "its objects deleted: the last one makes the group garbage and its files go"
writer delete pbkt a
writer delete pbkt b
[ "$(field "['live_objects']")" = 1 ] || fail "two deleted: $(group_json)"
[ "$(field "['live_bytes']")" = 5 ] || fail "two deleted: $(group_json)"
[ "$(sealed_files)" = 6 ] || fail "fragments deleted while an object lives: $(sealed_files)"
writer delete pbkt c
gone() { [ "$(group_json)" = "{}" ] && [ "$(sealed_files)" = 0 ]; }
wait_for 30 gone || fail "the empty sealed group was not collected: $(group_json), $(sealed_files) files"
echo "   collected"
