#!/usr/bin/env bash
# Self-healing with real daemons: 3 cairn-meta (down after 1 s, out after 3 s)
# and 7 cairn-chunk. Checks that
#   - a corrupt fragment found by a read, or by cairn scrub, is rebuilt in
#     place, and a second scrub is clean;
#   - a fragment a PUT could not write (location 0) is rebuilt and recorded;
#   - the fragments of a chunkserver that stays silent past out-after are
#     rebuilt on another host and the moves committed through Paxos;
#   - the rebuilt fragments are real: with two more chunkservers killed, every
#     object still reads back byte-exact;
#   - cairn drain moves every fragment off a live chunkserver and retires it,
#     while a client reading and writing sees no failed request;
#   - killing the metadata leader while repair runs: the new leader finishes it;
#   - an upload that dies before its commit leaves fragments that are collected
#     after the grace period, and committed data is untouched;
#   - a deleted object's fragments are deleted from the live chunkservers
#     (garbage list -> heartbeat reply -> delete -> acknowledged through Paxos).
source "$(dirname "$0")/lib.sh"

CAIRN="$CAIRN_BUILD/cli/cairn"
TOOL="$CAIRN_BUILD/tests/integration/ec-path-tool"

export CAIRN_META_OPTS="--down-after 1s --out-after 3s --repair-scan-interval 500ms"
export CAIRN_CHUNK_OPTS="--reserve 16M --heartbeat 200ms --orphan-grace 3s --orphan-scan-interval 1s"
cluster_up 6 --no-gateway
SECRET="$CDIR/secret"
URLS="$(cluster_meta_urls)"
start_chunk() { cluster_launch_chunk "$1"; }   # chunk7..9, spares added later

tool() { "$TOOL" --meta "$URLS" --cluster-secret-file "$SECRET" "$@"; }
head -c 9000000 /dev/urandom > "$TEST_DIR/a"
head -c 3000001 /dev/urandom > "$TEST_DIR/b"
wait_for 20 tool put bucket1 a "$TEST_DIR/a"

# Chunkserver ids as the metadata service knows them (first 64 bits).
cs_id() { cut -c1-16 "$CDIR/chunk$1/chunkserver-id"; }
holders() { tool info bucket1 "$1" | awk '/^group/ { for (i = 10; i <= NF; i++) print $i }'; }

echo "== a corrupt fragment found by a read is rebuilt in place"
# A data fragment (index 0..3): the read uses it, finds it corrupt, reports it.
FRAG=$(find "$CDIR"/chunk[1-5]/frags -type f -name '*.[0-3]' | head -n 1)
[ -n "$FRAG" ] || fail "no data fragment found"
byte_at() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }
ORIG=$(byte_at "$FRAG" 164)
printf "\\$(printf '%03o' $(( (ORIG + 1) % 256 )))" | dd of="$FRAG" bs=1 seek=164 conv=notrunc 2>/dev/null
[ "$(byte_at "$FRAG" 164)" != "$ORIG" ] || fail "could not corrupt the fragment"
tool get bucket1 a "$TEST_DIR/out.a" || fail "degraded read of a corrupt fragment"
cmp -s "$TEST_DIR/a" "$TEST_DIR/out.a" || fail "corrupt fragment leaked into a read"
repaired() { [ -f "$FRAG" ] && [ "$(byte_at "$FRAG" 164)" = "$ORIG" ]; }
wait_for 30 repaired || fail "the corrupt fragment was not rebuilt in place"
echo "corrupt fragment rebuilt"

echo "== cairn scrub finds a corrupt parity fragment (no read touches it); repair fixes it"
PFRAG=$(find "$CDIR"/chunk[1-5]/frags -type f -name '*.[45]' | head -n 1)
[ -n "$PFRAG" ] || fail "no parity fragment found"
PORIG=$(byte_at "$PFRAG" 200)
printf "\\$(printf '%03o' $(( (PORIG + 1) % 256 )))" | dd of="$PFRAG" bs=1 seek=200 conv=notrunc 2>/dev/null
timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" scrub --wait \
  | tee "$TEST_DIR/scrub.out" || fail "cairn scrub --wait"
grep -q "scrub finished: .* 1 corrupt" "$TEST_DIR/scrub.out" || fail "scrub did not find the damage"
prepaired() { [ -f "$PFRAG" ] && [ "$(byte_at "$PFRAG" 200)" = "$PORIG" ]; }
wait_for 30 prepaired || fail "the corrupt parity fragment was not rebuilt"
timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" scrub --wait \
  | grep >/dev/null "scrub finished: .* 0 corrupt" || fail "a second scrub still finds damage"
echo "scrub found it, repair fixed it, a second scrub is clean"

echo "== a PUT with a dead chunkserver leaves a hole; repair fills it"
cluster_kill chunk6
DEAD6=$(cs_id 6)
tool put bucket1 b "$TEST_DIR/b"
holders b | grep >/dev/null '^0000000000000000$' || fail "expected a missing fragment"
start_chunk 7   # a spare host for the rebuilds
timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" repair --wait \
  | tee "$TEST_DIR/repair.out" || fail "cairn repair --wait"
grep -q "fully redundant" "$TEST_DIR/repair.out" || fail "cairn repair --wait did not finish"
no_holes() { ! holders b | grep >/dev/null '^0000000000000000$'; }
wait_for 30 no_holes || fail "the missing fragment was not rebuilt"
echo "hole filled"

echo "== chunkserver 6 stays silent past out-after: its fragments move"
gone6() { ! holders a | grep >/dev/null "^$DEAD6\$" && ! holders b | grep >/dev/null "^$DEAD6\$"; }
wait_for 40 gone6 || fail "fragments of the out chunkserver were not rebuilt"
echo "fragments rebuilt elsewhere"
redundant() { "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" status | grep >/dev/null "fully redundant"; }
wait_for 20 redundant || fail "cairn status does not report full redundancy after repair"
"$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" status | tail -n 4
"$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" locate bucket1 a | grep >/dev/null "^  parity  5 " \
  || fail "cairn locate does not list the fragments"
"$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" status --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["leader_known"] and len(d["replicas"]) == 3, d
assert d["repair"]["degraded_groups"] == 0, d["repair"]
states = {c["id"]: c["liveness"] for c in d["chunkservers"]}
assert list(states.values()).count("up") == 6, states
' || fail "cairn status --json"
for k in a b; do
  [ "$(holders "$k" | sort -u | wc -l)" = "$(holders "$k" | wc -l)" ] \
    || fail "$k: two fragments of a group on one chunkserver"
done

echo "== access keys live in the metadata service"
C=("$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET")
KEY=$("${C[@]}" keys create alice | awk '/^access key/ { print $3 }')
[ -n "$KEY" ] && "${C[@]}" keys list | grep >/dev/null "^$KEY .*alice" || fail "keys create/list"
"${C[@]}" keys delete "$KEY" && ! "${C[@]}" keys list | grep >/dev/null "^$KEY " || fail "keys delete"

echo "== cairn drain moves everything off a live chunkserver, then retires it"
start_chunk 8   # somewhere for the drained fragments to go (distinct hosts)
wait_for 10 test -s "$CDIR/chunk8/chunkserver-id"
sleep 1         # its first heartbeat
DRAIN4=$(cs_id 4)
head -c 1500000 /dev/urandom > "$TEST_DIR/m"
for i in $(seq 1 12); do tool put bucket1 "many-$i" "$TEST_DIR/m" >/dev/null; done  # more to move
# A client keeps reading and writing while the drain runs: no request may fail.
: > "$TEST_DIR/client.failures"
(
  n=0
  while [ ! -f "$TEST_DIR/drain.done" ] || [ "$n" -lt 3 ]; do
    n=$((n + 1))
    tool put bucket1 "during-drain-$n" "$TEST_DIR/b" >/dev/null 2>&1 || echo "put $n" >> "$TEST_DIR/client.failures"
    for k in a b; do
      { tool get bucket1 "$k" "$TEST_DIR/cl.$k" 2>/dev/null && cmp -s "$TEST_DIR/$k" "$TEST_DIR/cl.$k"; } \
        || echo "get $k" >> "$TEST_DIR/client.failures"
    done
    { tool get bucket1 "many-$(( n % 12 + 1 ))" "$TEST_DIR/cl.m" 2>/dev/null &&
      cmp -s "$TEST_DIR/m" "$TEST_DIR/cl.m"; } || echo "get many" >> "$TEST_DIR/client.failures"
  done
  echo "$n" > "$TEST_DIR/client.rounds"
) &
CLIENT=$!
timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" drain "$DRAIN4" \
  | tee "$TEST_DIR/drain.out" || fail "cairn drain did not finish"
touch "$TEST_DIR/drain.done"
wait "$CLIENT"
[ ! -s "$TEST_DIR/client.failures" ] || fail "requests failed during the drain: $(cat "$TEST_DIR/client.failures")"
echo "$(cat "$TEST_DIR/client.rounds") client rounds during the drain, none failed"
grep -q "drained and retired" "$TEST_DIR/drain.out" || fail "drain did not retire it"
for k in a b; do
  holders "$k" | grep >/dev/null "^$DRAIN4\$" && fail "$k still has a fragment on the drained chunkserver"
done
cluster_kill chunk4   # retired: nothing may depend on it any more
for k in a b; do
  tool get bucket1 "$k" "$TEST_DIR/out.$k" && cmp -s "$TEST_DIR/$k" "$TEST_DIR/out.$k" \
    || fail "$k unreadable after its drained chunkserver went away"
done

echo "== the metadata leader dies while a chunkserver's fragments are being repaired"
start_chunk 9   # a spare host, so the repair has somewhere to go
wait_for 10 test -s "$CDIR/chunk9/chunkserver-id"
sleep 1
DEAD3=$(cs_id 3)
cluster_kill chunk3
sleep 3.5       # past out-after: the leader starts rebuilding chunkserver 3's fragments
# (The metrics body is read whole before grep: `curl | grep -q` under pipefail
# fails when grep exits early and curl cannot finish writing.)
for _ in $(seq 20); do
  for i in 1 2 3; do
    m="$(curl -sf --max-time 5 "http://127.0.0.1:$(cluster_port meta "$i")/metrics" || true)"
    if grep -q '^cairn_meta_is_leader 1' <<<"$m"; then
      cluster_kill "meta$i"; echo "killed metadata leader $i"; KILLED_META=$i; break 2
    fi
  done
  sleep 0.5
done
[ -n "${KILLED_META:-}" ] || fail "no metadata leader to kill"
gone3() { ! holders a | grep >/dev/null "^$DEAD3\$" && ! holders b | grep >/dev/null "^$DEAD3\$"; }
wait_for 60 gone3 || fail "repair did not finish under the new leader"
timeout 60 "$CAIRN" --meta "$URLS" --cluster-secret-file "$SECRET" repair --wait | tail -n 1 \
  | grep >/dev/null "fully redundant" || fail "not fully redundant after the leader change"
echo "repair finished under the new leader"

UP6=("$CDIR"/chunk{1,2,5,7,8,9}/frags)
echo "== an upload that died half way: its fragments are collected after the grace period"
DEADG=$(tool put-nocommit bucket1 never "$TEST_DIR/b" | head -n 1)
[ -n "$(find "${UP6[@]}" -name "$DEADG.*")" ] || fail "no fragments of the dead upload"
tool get bucket1 never "$TEST_DIR/out.never" 2>/dev/null && fail "an uncommitted object is visible"
no_orphans() { [ -z "$(find "${UP6[@]}" -name "$DEADG.*")" ]; }
wait_for 30 no_orphans || fail "orphan fragments were not collected"
tool get bucket1 a "$TEST_DIR/out.a" && cmp -s "$TEST_DIR/a" "$TEST_DIR/out.a" \
  || fail "the orphan collector touched a committed object"
echo "orphans collected, committed data intact"

echo "== the rebuilt fragments are real: lose two more chunkservers"
cluster_kill chunk1; cluster_kill chunk2
for k in a b; do
  tool get bucket1 "$k" "$TEST_DIR/out.$k" || fail "get $k after repair"
  cmp -s "$TEST_DIR/$k" "$TEST_DIR/out.$k" || fail "$k differs after repair"
done
curl -sf "http://127.0.0.1:$(cluster_port meta 1)/metrics" | grep >/dev/null cairn_repair || true
echo "== garbage collection: a deleted object's fragments leave every chunkserver"
GID=$(tool info bucket1 b | awk '/^group/ { print $8 }')
LIVE=("$CDIR"/chunk{5,7,8,9}/frags)  # the dead ones delete theirs when they return
[ -n "$(find "${LIVE[@]}" -name "$GID.*")" ] || fail "no fragments of b found before delete"
tool delete bucket1 b
no_frags() { [ -z "$(find "${LIVE[@]}" -name "$GID.*")" ]; }
wait_for 20 no_frags || fail "fragments of a deleted object are still stored"
echo "garbage collected"

echo "repair: all checks passed"
