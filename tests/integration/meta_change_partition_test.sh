#!/usr/bin/env bash
# Membership changes meet a network partition (#14). Four cairn-meta, each in
# a network namespace of its own on 10.78.0.0/24 (.11-.14), and a client
# namespace (.40), joined by veth pairs to a bridge in a namespace of its own;
# the host's network is never touched, every name carries cm<pid>.
#
#  1. replicas 1-3 form the group; a fourth starts empty with --join;
#  2. `cairn meta add` of the fourth is sent to the leader and the leader's
#     bridge port goes down at that moment: the change either committed (the
#     add answered) or is cleanly absent (the add failed and no member lists
#     the fourth); the cut-off leader commits nothing; the majority side
#     elects a leader and takes writes; after the heal the fourth is added
#     (again, if it was lost) and every replica agrees on members and state;
#  3. the leader is cut off again and the majority removes it: the removed
#     replica, healed, is refused by the others and says so; the three left
#     agree; no state hash differs anywhere among the members.
# Needs root (ip netns); skipped (exit 77) without it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "meta_change_partition_test: needs root and iproute2 (ip netns); skipped"
  exit 77
fi

META="$CAIRN_BUILD/metadata/cairn-meta"
CAIRN="$CAIRN_BUILD/cli/cairn"
P="cm$$"
NET=10.78.0
MPORT=7001
SECRET="$TEST_DIR/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
chmod 600 "$SECRET"
NODES=(m1 m2 m3 m4 cl)
declare -A ADDR=([m1]=$NET.11 [m2]=$NET.12 [m3]=$NET.13 [m4]=$NET.14 [cl]=$NET.40)
murl() { echo "http://$NET.1$1:$MPORT"; }
PEERS="1=$(murl 1),2=$(murl 2),3=$(murl 3)"
URLS="$(murl 1),$(murl 2),$(murl 3),$(murl 4)"

net_cleanup() {
  local rc=$? pid n
  set +e
  trap '' TERM INT
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  cluster_down >/dev/null 2>&1
  for n in "${NODES[@]}"; do
    for pid in $(ip netns pids "$P$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  for n in "${NODES[@]}"; do
    for _ in $(seq 50); do [ -z "$(ip netns pids "$P$n" 2>/dev/null)" ] && break; sleep 0.1; done
  done
  for n in "${NODES[@]}" br; do ip netns del "$P$n" 2>/dev/null || true; done
  teardown "$rc"
}
trap net_cleanup EXIT
# Namespaces left by a run that was killed outright (its pid gone).
for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^cm[0-9]+(m[1-4]|cl|br)$'); do
  pid="${ns#cm}"; pid="${pid%%[a-z]*}"
  kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

nsx() { local n="$1"; shift; ip netns exec "$P$n" "$@"; }
cairn_() { nsx cl "$CAIRN" --cluster-secret-file "$SECRET" --meta "$URLS" "$@"; }
# status_of I NAME: field NAME of `cairn status` for replica I (asked alone).
status_of() {
  { nsx cl "$CAIRN" --cluster-secret-file "$SECRET" --meta "$(murl "$1")" status 2>/dev/null || true; } |
    awk -v u="$(murl "$1")" -v f="$2" '$1 == u { print $f }'
}
role_of() { status_of "$1" 3; }
leader_of() { status_of "$1" 4; }
commit_of() { status_of "$1" 5; }
hash_of() { nsx cl "$CAIRN" --cluster-secret-file "$SECRET" --meta "$(murl "$1")" state-hash 2>/dev/null; }
cut() { ip -n "${P}br" link set "vm$1" down; }
heal() { ip -n "${P}br" link set "vm$1" up; }
members() { cairn_ meta status | awk 'NR > 1 { print $1 ":" $3 }' | sort | tr '\n' ' '; }

step "network: bridge ${P}br, ${#NODES[@]} namespaces on $NET.0/24"
ip netns add "${P}br"
ip -n "${P}br" link add br0 type bridge
ip -n "${P}br" link set br0 up
for n in "${NODES[@]}"; do
  ip netns add "$P$n"
  ip -n "$P$n" link set lo up
  ip -n "${P}br" link add "v$n" type veth peer name eth0 netns "$P$n"
  ip -n "${P}br" link set "v$n" master br0 up
  ip -n "$P$n" addr add "${ADDR[$n]}/24" dev eth0
  ip -n "$P$n" link set eth0 up
done

step "1. three replicas, and a fourth waiting to join"
for i in 1 2 3; do
  cluster_launch "meta$i" ip netns exec "${P}m$i" "$META" --id "$i" --listen "$NET.1$i:$MPORT" \
    --peers "$PEERS" --data-dir "$CDIR/meta$i" --cluster-secret-file "$SECRET"
done
cluster_launch meta4 ip netns exec "${P}m4" "$META" --join "$(murl 1)" --listen "$NET.14:$MPORT" \
  --data-dir "$CDIR/meta4" --cluster-secret-file "$SECRET"
stable_leader() {
  local l
  l="$(leader_of 1)" && [ -n "$l" ] && [ "$l" != 0 ] && [ "$(leader_of 2)" = "$l" ] &&
    [ "$(leader_of 3)" = "$l" ] && [ "$(role_of "$l")" = leader ] && echo "$l"
}
wait_for 30 stable_leader || fail "no stable leader"
cairn_ keys create before-owner >/dev/null || fail "a command before the partition"

step "2. add replica 4 while the leader is cut off"
L="$(stable_leader)"
C0="$(commit_of "$L")"
nsx cl timeout 60 "$CAIRN" --cluster-secret-file "$SECRET" --meta "$(murl "$L")" \
  meta add "$(murl 4)" > "$TEST_DIR/add.out" 2>&1 &
ADD_PID=$!
PIDS+=("$ADD_PID")
sleep 0.05
cut "$L"
CUT_COMMIT="$(nsx "m$L" "$CAIRN" --cluster-secret-file "$SECRET" --meta "$(murl "$L")" status 2>/dev/null |
  awk -v u="$(murl "$L")" '$1 == u { print $5 }' || true)"
echo "leader $L cut off at commit $CUT_COMMIT (was $C0 before the add)"
MAJ=()
for i in 1 2 3; do [ "$i" != "$L" ] && MAJ+=("$i"); done
new_leader() {
  local a b
  a="$(leader_of "${MAJ[0]}")" && b="$(leader_of "${MAJ[1]}")" && [ "$a" = "$b" ] &&
    [ -n "$a" ] && [ "$a" != 0 ] && [ "$a" != "$L" ] && [ "$(role_of "$a")" = leader ] && echo "$a"
}
wait_for 30 new_leader || fail "no new leader among ${MAJ[*]}"
N="$(new_leader)"
echo "majority side: leader $N; members now $(members)"
cairn_ keys create during-owner >/dev/null || fail "a command on the majority side"
ADD_OK=0
if wait "$ADD_PID"; then ADD_OK=1; fi
echo "the add: $([ "$ADD_OK" = 1 ] && echo answered || echo failed): $(tr '\n' ' ' < "$TEST_DIR/add.out")"
if [ "$ADD_OK" = 1 ]; then
  members | grep >/dev/null '4:' || fail "the add was answered but the majority does not list replica 4"
fi
# The cut-off leader alone commits nothing more.
OLD_NOW="$(nsx "m$L" "$CAIRN" --cluster-secret-file "$SECRET" --meta "$(murl "$L")" status 2>/dev/null |
  awk -v u="$(murl "$L")" '$1 == u { print $3, $5 }' || true)"
[ "${OLD_NOW#* }" = "$CUT_COMMIT" ] || fail "the cut-off replica's commit moved: $CUT_COMMIT -> $OLD_NOW"
[ "${OLD_NOW%% *}" != leader ] || fail "the cut-off replica still leads"

step "   heal: one group, replica 4 in it (added again if the change was lost)"
heal "$L"
if ! members | grep >/dev/null '4:'; then
  echo "the add did not commit: members $(members); adding again"
  cairn_ meta add "$(murl 4)" --wait > "$TEST_DIR/add2.out" 2>&1 ||
    fail "cairn meta add after the heal: $(cat "$TEST_DIR/add2.out")"
fi
four_voters() { [ "$(members)" = "1:voter 2:voter 3:voter 4:voter " ]; }
wait_for 30 four_voters || fail "members after the heal: $(members)"
converged() {
  local i h first=""
  for i in 1 2 3 4; do
    h="$(hash_of "$i")" || return 1
    [ -z "$first" ] && first="$h"
    [ "$h" = "$first" ] || return 1
  done
}
wait_for 60 converged || fail "the four replicas' states differ"
cairn_ keys list > "$TEST_DIR/keys.out"
grep -q ' during-owner ' "$TEST_DIR/keys.out" || fail "the majority side's key is missing"

step "3. the leader cut off and removed by the majority"
wait_for 30 stable_leader >/dev/null 2>&1 || true
L="$(cairn_ meta status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')"
[ -n "$L" ] && [ "$L" != 0 ] || fail "no leader to cut"
cut "$L"
REST=()
for i in 1 2 3 4; do [ "$i" != "$L" ] && REST+=("$i"); done
other_leader() {
  local l
  l="$(leader_of "${REST[0]}")" && [ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != "$L" ] &&
    [ "$(role_of "$l")" = leader ]
}
wait_for 30 other_leader || fail "no leader among ${REST[*]}"
cairn_ meta remove "$L" > "$TEST_DIR/remove.out" 2>&1 || fail "cairn meta remove $L: $(cat "$TEST_DIR/remove.out")"
members | grep >/dev/null "^$L:\| $L:" && fail "replica $L still listed: $(members)"
cairn_ keys create after-owner >/dev/null || fail "a command after the removal"
heal "$L"
says_removed() { [ "$(role_of "$L")" = removed ]; }
wait_for 20 says_removed || fail "replica $L says it is '$(role_of "$L")'"
grep -q 'refuses this replica\|removed from the group' "$(cluster_log "meta$L")" ||
  fail "replica $L's log does not say it was removed"
three_agree() {
  local i h first=""
  for i in "${REST[@]}"; do
    h="$(hash_of "$i")" || return 1
    [ -z "$first" ] && first="$h"
    [ "$h" = "$first" ] || return 1
  done
}
wait_for 30 three_agree || fail "the three members' states differ"
[ "$(members | wc -w)" = 3 ] || fail "members at the end: $(members)"
echo "members at the end: $(members)"
step "PASS"
