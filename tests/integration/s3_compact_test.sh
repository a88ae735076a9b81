#!/usr/bin/env bash
# Compaction of packed groups (issue #17) on 6 chunkservers (4+2 groups):
#   - 240 objects of 16..300 KiB are packed; 9 of 10 are deleted;
#   - `cairn compact` rewrites the groups (each chunkserver copies its own
#     fragment ranges, paced by --compact-rate 8MiB) while 4 readers GET the
#     survivors (their latency before and during is printed);
#   - space is returned: the old groups' fragment files go (garbage, grace
#     0) and the fragment bytes on the chunkservers' disks drop below 30 %;
#   - `cairn status` shows the packed groups' live and dead bytes and the
#     compactions; the compaction rate stays near its budget;
#   - survivors byte-exact through S3 (md5, ranged GETs), the deleted ones 404;
#   - the CRC scrub and the deep scrub (re-encode, compare parity) of the new
#     groups are clean;
#   - two chunkservers stopped: every survivor still reads back exact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CAIRN_META_OPTS="--down-after 2s --packed-idle 1s --garbage-grace 0 --compact-interval 1h \
--compact-rate 8MiB" CAIRN_CHUNK_OPTS="--heartbeat 200ms" \
  CAIRN_GATEWAY_OPTS="--fragment-timeout 3s --pack-idle 500ms" cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
PY=/usr/bin/python3
DRIVER="$CAIRN_SRC/tests/integration/s3_compact.py"
drive() { $PY "$DRIVER" "$1" "$S3_ENDPOINT" "$TEST_DIR" "${@:2}"; }
frag_bytes() { find "$CDIR"/chunk*/frags -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
# `cairn locate` names a packed extent's group as "packed group ID ..."
group_of() { cairn locate cmp "$1" | awk '/^packed group / { print $3; exit } /^group / { print $2; exit }'; }
files_of() { find "$CDIR"/chunk*/frags -type f -name "$1.*" ! -name '*.open' ! -name '*.crc' | wc -l; }
open_of() { find "$CDIR"/chunk*/frags -type f -name "$1.*.open" | wc -l; }
status_json() { cairn status --json; }
jfield() { $PY -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

step "240 packed objects, then 9 of every 10 deleted"
drive write 240
before=$(frag_bytes)
old=$(group_of k00000)
sealed() { [ "$(open_of "$old")" = 0 ]; }
wait_for 30 sealed || fail "group $old was not sealed (gateway --pack-idle, leader --packed-idle)"
echo "fragment bytes on disk: $before; k00000 in group $old ($(files_of "$old") files)"
[ "$(files_of "$old")" = 6 ] || fail "group $old should have 6 fragment files"
drive delete
# a group that lost every object is garbage by itself; the others keep their space
[ "$(frag_bytes)" -ge $((before * 80 / 100)) ] || fail "deletes alone freed too much: $(frag_bytes) of $before"

step "compaction under a read load"
rm -f "$TEST_DIR/stop"
drive load 2>>"$TEST_DIR/load.err" &
LOAD=$!
PIDS+=("$LOAD")
sleep 4
t_start=$(date +%s.%N)
compacted=0
compact_all() {
  local n
  n=$(cairn compact | awk '/^compacted/ { print $2 }')
  compacted=$((compacted + ${n:-0}))
  # done when no candidate is left and something was compacted
  [ "$compacted" -ge 1 ] && [ "$(status_json | jfield '["compaction"]["candidates"]')" = 0 ]
}
wait_for 60 compact_all || fail "compaction did not happen ($compacted group(s))"
t_end=$(date +%s.%N)
sleep 2
touch "$TEST_DIR/stop"
wait "$LOAD" || fail "the read load failed: $(tail -5 "$TEST_DIR/load.err")"
$PY - "$TEST_DIR/latency.log" "$t_start" "$t_end" <<'PYEOF'
import sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
for name, sel in (("before", [ms for t, ms in rows if t < t0]),
                  ("during", [ms for t, ms in rows if t0 <= t <= t1])):
    print("GET latency %s compaction: %d GETs, p50 %.1f ms, p99 %.1f ms"
          % (name, len(sel), pct(sel, 0.5), pct(sel, 0.99)))
PYEOF
cairn status | tee "$TEST_DIR/status.out"
grep -q "^packed groups: " "$TEST_DIR/status.out" || fail "cairn status shows no packed groups line"
grep -Eq "^compaction: [1-9][0-9]* group\(s\) compacted" "$TEST_DIR/status.out" \
  || fail "cairn status shows no compaction"
rate=$(status_json | jfield '["compaction"]["last_rate_bytes_s"]')
echo "last compaction: $rate fragment bytes/s (budget 8 MiB/s)"
[ "$rate" -le $((12 * 1024 * 1024)) ] || fail "compaction ran at $rate B/s, over its 8 MiB/s budget"
grep "compacted into" "$CDIR"/logs/meta*.log | sed 's/^.*compact: //' || true

step "space returned: the old groups' fragments go"
new=$(group_of k00000)
[ "$new" != "$old" ] || fail "k00000 is still in group $old"
gone_old() { [ "$(files_of "$old")" = 0 ]; }
wait_for 30 gone_old || fail "group $old still has $(files_of "$old") fragment files"
[ "$(files_of "$new")" = 6 ] || fail "new group $new has $(files_of "$new") fragment files"
shrunk() { [ "$(frag_bytes)" -lt $((before * 30 / 100)) ]; }
wait_for 30 shrunk || fail "fragment bytes $(frag_bytes) not below 30% of $before"
echo "fragment bytes on disk: $before -> $(frag_bytes)"
status_json | jfield '["packed"]'

step "survivors exact through S3"
drive verify

step "scrub and deep scrub of the new groups are clean"
cairn scrub --wait | tee "$TEST_DIR/scrub.out" || fail "cairn scrub --wait"
grep -q "^scrub finished: .* 0 corrupt, 0 missing" "$TEST_DIR/scrub.out" || fail "scrub found damage"
cairn scrub --deep --wait | tee "$TEST_DIR/deep.out" || fail "cairn scrub --deep --wait"
grep -q "^deep scrub finished: [1-9][0-9]* group(s) checked, 0 mismatched" "$TEST_DIR/deep.out" \
  || fail "the deep scrub found a mismatch"

step "two chunkservers stopped: survivors still exact (decoded)"
cluster_kill chunk1
cluster_kill chunk2
drive verify
deg=$(curl -s "$S3_ENDPOINT/metrics" | awk '$1 == "cairn_gw_degraded_reads_total" { print $2 }')
echo "degraded stripes decoded: $deg"
[ "${deg:-0}" -gt 0 ] || fail "no stripe was decoded with two chunkservers down"
step "PASS"
