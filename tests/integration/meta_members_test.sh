#!/usr/bin/env bash
# The metadata group changes members while it serves (#14), under load from
# meta_load.py: 8 clients increment a compare-and-swap counter (GET, PUT
# If-Match) and 2 upload objects, through the gateway, the whole time.
#
#  1. a replica's disk is lost: `cluster.sh replace meta2` (kill -9, data
#     deleted, a new empty replica joins with --join, cairn meta replace);
#  2. full rotation: meta1 and meta3 replaced too, so no original replica is
#     left; then one of the new ones is killed: service continues;
#  3. 3 -> 5 (two replicas added with cairn meta add --wait), two of the five
#     killed: writes continue; 5 -> 3 (the dead two removed);
#  4. a removed replica that comes back is refused by the others and says so
#     in its log; its /v1/status says "removed"; `cairn meta add --wait` of its
#     URL says that another replica's process answers there;
#  4b. the leader is killed while it adds a replica: the change completed or
#     is cleanly absent (then added again), and the group goes on;
#  5. the load stops: the counter holds every acknowledged increment exactly
#     once, every acknowledged upload reads back byte-exact, every replica
#     has the same state hash, and the gateway and chunkservers (never
#     restarted, started with the original three URLs) still work.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
PY=/usr/bin/python3
LOAD="$CAIRN_SRC/tests/integration/meta_load.py"
CLI="$CAIRN_BUILD/cli/cairn"
cairn_() { "$CLI" --meta "$(cluster_meta_urls)" "$@"; }
meta_url() { echo "http://127.0.0.1:$((CLUSTER_BASE + ${1#meta}))"; }
id_of() { cairn_ meta status | awk -v u="$(meta_url "$1")" '$2 == u { print $1 }'; }
voters() { cairn_ meta status --json | $PY -c 'import json,sys; print(sum(m["member"] == "voter" for m in json.load(sys.stdin)["members"]))'; }
progress() { cut -d' ' -f"$1" "$TEST_DIR/load/progress" 2>/dev/null || echo 0; }
# advances N: the acknowledged increments and uploads both grow by N or more
# within 60 s.
advances() {
  local n="$1" c0 u0 deadline=$((SECONDS + 60))
  c0=$(progress 1); u0=$(progress 2)
  until [ "$(progress 1)" -ge $((c0 + n)) ] && [ "$(progress 2)" -ge $((u0 + 1)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the load stalled (counter $(progress 1), uploads $(progress 2))"
    sleep 0.2
  done
}

step "load: 8 CAS-counter clients, 2 uploaders"
$PY "$LOAD" run "$S3_ENDPOINT" membk "$TEST_DIR/load" >"$TEST_DIR/load.log" 2>&1 &
PIDS+=($!)
advances 20

step "1. meta2's disk is lost: cluster.sh replace meta2"
old_id=$(id_of meta2)
new=$(cluster_replace_meta meta2) || fail "cluster.sh replace meta2"
[ "$new" = meta4 ] || fail "the replacement is $new, not meta4"
[ -z "$(id_of meta2)" ] || fail "meta2 is still a member"
[ -d "$CDIR/meta2" ] && fail "meta2's data was not deleted"
grep -q "$(meta_url meta4)" "$CDIR/cluster.env" || fail "cluster.env does not name meta4"
grep -q "$(meta_url meta2)" "$CDIR/cluster.env" && fail "cluster.env still names meta2"
cairn_ meta status | grep >/dev/null "^$old_id " && fail "replica $old_id still listed"
[ "$(voters)" = 3 ] || fail "$(voters) voters after the replace"
advances 20

step "2. rotation: meta1 and meta3 replaced as well"
for m in meta1 meta3; do
  cluster_replace_meta "$m" >/dev/null || fail "cluster.sh replace $m"
  advances 10
done
[ "$(cluster_meta_names)" = "meta4 meta5 meta6" ] || fail "replicas now: $(cluster_meta_names)"
for m in meta1 meta2 meta3; do [ -z "$(id_of $m)" ] || fail "$m is still a member"; done
"$CLUSTER" status --dir "$CDIR" | grep >/dev/null "$(meta_url meta6) *voter" || fail "cluster.sh status shows the members"
step "   kill -9 meta5: service continues"
cluster_kill meta5
advances 20
cluster_start meta5

step "3. 3 -> 5 replicas"
for j in 7 8; do
  cluster_launch "meta$j" "$CAIRN_BUILD/metadata/cairn-meta" --join "$(meta_url meta4)" \
    --listen "127.0.0.1:$((CLUSTER_BASE + j))" --data-dir "$CDIR/meta$j" \
    --cluster-secret-file "$CDIR/secret"
  cairn_ meta add "$(meta_url meta$j)" --wait >"$TEST_DIR/add$j.out" ||
    fail "cairn meta add meta$j: $(cat "$TEST_DIR/add$j.out")"
  grep -q "is a voter, caught up" "$TEST_DIR/add$j.out" || fail "no --wait result: $(cat "$TEST_DIR/add$j.out")"
done
[ "$(voters)" = 5 ] || fail "$(voters) voters, not 5"
step "   two of the five killed: writes continue"
gone1=$(id_of meta7); gone2=$(id_of meta4)
cluster_kill meta7; cluster_kill meta4
advances 20
step "   5 -> 3: the dead two removed"
cairn_ meta remove "$gone1" | grep >/dev/null "removed replica $gone1" || fail "cairn meta remove $gone1"
cairn_ meta remove "$gone2" | grep >/dev/null "removed replica $gone2" || fail "cairn meta remove $gone2"
[ "$(voters)" = 3 ] || fail "$(voters) voters, not 3"
step "   a removal that would leave no majority is refused"
cluster_kill meta5
sleep 1.5 # the leader counts a voter live while it acked within 2 election timeouts
if cairn_ meta remove "$(id_of meta6)" 2>"$TEST_DIR/err"; then
  fail "removed a voter with another one down"
fi
grep -q 'too few live voters' "$TEST_DIR/err" || fail "refusal: $(cat "$TEST_DIR/err")"
cluster_start meta5
[ "$(voters)" = 3 ] || fail "$(voters) voters after the refused removal"
advances 10

step "4. a removed replica comes back: refused, and it says so"
cluster_start meta7
wait_for 15 grep -q 'removed from the group\|refuses this replica' "$(cluster_log meta7)" ||
  fail "meta7's log does not say it was removed"
role7() { "$CLI" --meta "$(meta_url meta7)" status 2>/dev/null | awk -v u="$(meta_url meta7)" '$1 == u { print $3 }'; }
says_removed() { [ "$(role7)" = removed ]; }
wait_for 15 says_removed || fail "meta7 says it is '$(role7)', not removed"
cairn_ meta status | grep >/dev/null "$(meta_url meta7)" && fail "meta7 listed again"
cairn_ status | grep >/dev/null "$(meta_url meta7)" && fail "cairn status shows meta7"
advances 10

step "4a. cairn meta add of a URL where another replica's process answers: told so"
# meta7's old process (replica 7's data) still serves its URL: the replica
# added for that URL would never join, and --wait says why instead of waiting.
if cairn_ meta add "$(meta_url meta7)" --wait >"$TEST_DIR/add7b.out" 2>&1; then
  fail "cairn meta add --wait succeeded with replica 7's process at the URL"
fi
grep -q "answers as replica 7, not .*another replica's data" "$TEST_DIR/add7b.out" ||
  fail "no wrong-process message: $(cat "$TEST_DIR/add7b.out")"
nid=$(id_of meta7)
[ -n "$nid" ] || fail "the add did not record a learner for meta7's URL"
cairn_ meta remove "$nid" | grep >/dev/null "removed replica $nid" || fail "cairn meta remove $nid"
[ -z "$(id_of meta7)" ] || fail "meta7's URL is still a member"
[ "$(voters)" = 3 ] || fail "$(voters) voters after removing the learner"
advances 10

step "4b. the leader killed in the middle of an add"
leader_name() {
  local id u
  id=$(cairn_ meta status --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
  u=$(cairn_ meta status | awk -v i="$id" '$1 == i { print $2 }')
  for m in $(cluster_meta_names); do [ "$(meta_url "$m")" = "$u" ] && echo "$m"; done
}
lead=$(leader_name)
[ -n "$lead" ] || fail "no leader to kill"
cluster_launch meta9 "$CAIRN_BUILD/metadata/cairn-meta" --join "$(meta_url meta6)" \
  --listen "127.0.0.1:$((CLUSTER_BASE + 9))" --data-dir "$CDIR/meta9" --cluster-secret-file "$CDIR/secret"
"$CLI" --meta "$(meta_url "$lead"),$(cluster_meta_urls)" meta add "$(meta_url meta9)" >"$TEST_DIR/add9.out" 2>&1 &
add9=$!
sleep 0.05
cluster_kill "$lead"
wait "$add9" && echo "the add answered: $(cat "$TEST_DIR/add9.out")" ||
  echo "the add failed: $(tr '\n' ' ' < "$TEST_DIR/add9.out")"
advances 10
if cairn_ meta status | grep >/dev/null "$(meta_url meta9)"; then
  echo "the change completed"
else
  echo "the change is absent: adding again"
  cairn_ meta add "$(meta_url meta9)" --wait >/dev/null || fail "cairn meta add meta9 again"
fi
nine_voter() { cairn_ meta status | grep >/dev/null "$(meta_url meta9) *voter"; }
wait_for 30 nine_voter || fail "meta9 is not a voter: $(cairn_ meta status)"
cluster_start "$lead"
advances 10

step "5. stop the load and check everything"
touch "$TEST_DIR/load/stop"
wait "${PIDS[0]}" || fail "the load generator failed: $(tail -5 "$TEST_DIR/load.log")"
cat "$TEST_DIR/load.log"
$PY "$LOAD" verify "$S3_ENDPOINT" membk "$TEST_DIR/load" || fail "verify"
# Every member ends with the same state (applied index included).
same_hash() {
  local u h first=""
  for u in $(cairn_ meta status | awk 'NR > 1 { print $2 }'); do
    h=$("$CLI" --meta "$u" state-hash) || return 1
    [ -z "$first" ] && first="$h"
    [ "$h" = "$first" ] || return 1
  done
}
wait_for 20 same_hash || fail "the replicas' state hashes differ"
# The gateway and chunkservers were started with meta1..meta3, all gone now.
echo "after" > "$TEST_DIR/after"
/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp --no-progress "$TEST_DIR/after" s3://membk/after >/dev/null
/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp --no-progress s3://membk/after "$TEST_DIR/after.back" >/dev/null
same "$TEST_DIR/after" "$TEST_DIR/after.back"
cairn_ status | grep >/dev/null '^6 of 6 chunkservers up' || fail "chunkservers: $(cairn_ status | grep chunkservers)"
step "PASS"
