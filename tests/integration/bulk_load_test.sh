#!/usr/bin/env bash
# The bulk loader (`cairn load`, LoadObjects; issue #16) on a real cluster:
#   - 5,000 objects over 10 buckets: each bucket lists exactly its 500 keys
#     through S3 (boto3, paginated), a delimiter listing gives each key's
#     prefix once, and a sample of GETs return the bytes cairn load
#     promises (cli_load.h: size 1..100, byte j = 'a' + (i + j) % 26) with
#     their MD5 as ETag;
#   - a second load with --start adds up (and overwrites nothing);
#   - a LoadObjects signed with a gateway role key is refused (403 from every
#     replica) and stores nothing; the same signed with the admin role key is
#     applied (auth-probe signs both);
#   - `cairn meta compact` (after a bulk load, docs/operations.md) compacts
#     each replica's store to one level, followers first; one replica by id;
#     an unknown id and a gateway key are refused; a replica that is down is
#     reported and the others compacted (exit 1); the S3 checks run after it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cluster_up 0
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
CLI=("$(cluster_bin cli)" --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret")

step "load 5000 objects over 10 buckets, then 1000 more with --start"
"${CLI[@]}" load --bucket bl --buckets 10 --objects 4000 --clients 4 >"$TEST_DIR/load1.log" ||
  { cat "$TEST_DIR/load1.log"; fail "cairn load"; }
tail -n 1 "$TEST_DIR/load1.log"
grep -q "^loaded 4000 objects" "$TEST_DIR/load1.log" || fail "load did not report 4000"
"${CLI[@]}" load --bucket bl --buckets 10 --start 4000 --objects 1000 --batch 97 \
  >"$TEST_DIR/load2.log" || { cat "$TEST_DIR/load2.log"; fail "cairn load --start"; }
tail -n 1 "$TEST_DIR/load2.log"

step "a gateway role key is refused the command, an admin key is not"
PROBE="$CAIRN_BUILD/tests/integration/auth-probe"
"${CLI[@]}" role-key gateway >"$TEST_DIR/gateway.key"
"${CLI[@]}" role-key admin >"$TEST_DIR/admin.key"
"$PROBE" load-objects bl-0000 refused/1 "$TEST_DIR/refused.pb"
"$PROBE" load-objects bl-0000 admin/1 "$TEST_DIR/admin.pb"
# post KEYFILE ROLE URL BODY SEQ: the HTTP status of a signed POST /v1/cmd
post() {
  local args=() l
  "$PROBE" sign "$1" "$2" POST "$3/v1/cmd" -H "X-Cairn-Client: 4242" -H "X-Cairn-Seq: $5"     --body "$4" >"$TEST_DIR/h" || fail "auth-probe sign"
  while IFS= read -r l; do args+=(-H "$l"); done <"$TEST_DIR/h"
  curl -s -o "$TEST_DIR/answer" -w '%{http_code}' -X POST "${args[@]}" --data-binary "@$4" "$3/v1/cmd"
}
seq=1
admin_ok=""
for url in ${CAIRN_META//,/ }; do
  code="$(post "$TEST_DIR/gateway.key" gateway "$url" "$TEST_DIR/refused.pb" "$seq")"
  seq=$((seq + 1))
  [ "$code" = 403 ] || fail "gateway key, LoadObjects to $url: HTTP $code, expected 403 ($(head -c 200 "$TEST_DIR/answer"))"
  code="$(post "$TEST_DIR/admin.key" admin "$url" "$TEST_DIR/admin.pb" "$seq")"
  seq=$((seq + 1))
  case "$code" in
    200) admin_ok="$url" ;;
    421) ;; # a follower: the leader takes commands
    *) fail "admin key, LoadObjects to $url: HTTP $code ($(head -c 200 "$TEST_DIR/answer"))" ;;
  esac
done
[ -n "$admin_ok" ] || fail "no replica took the admin key's LoadObjects"
echo "   gateway key: 403 from every replica; admin key: applied by $admin_ok"

step "cairn meta compact: every replica's store down to one level, followers first"
"${CLI[@]}" meta compact >"$TEST_DIR/compact.log" || { cat "$TEST_DIR/compact.log"; fail "cairn meta compact"; }
cat "$TEST_DIR/compact.log"
leader_id="$("${CLI[@]}" meta status | awk '$4 == "leader" { print $1 }')"
n=0
for url in ${CAIRN_META//,/ }; do
  line="$(grep "compacted in" "$TEST_DIR/compact.log" | sed -n "$((n + 1))p")"
  n=$((n + 1))
  # "... tables per level 0,2,0,0,0,0,0 -> 0,0,3,0,0,0,0": afterwards the
  # loaded objects (flushed from the memtable too) sit in one level, not L0
  after="${line##* -> }"
  levels="$(tr ',' '\n' <<<"$after" | awk '$1 > 0' | wc -l)"
  [ "$levels" = 1 ] && [ "${after%%,*}" = 0 ] || fail "after compaction, tables per level $after: want one level, not 0"
done
[ "$n" = 3 ] || fail "$n replicas compacted, 3 expected"
tail -n 1 "$TEST_DIR/compact.log" | grep -q "^replica $leader_id: compacted" ||
  fail "the leader ($leader_id) was not compacted last"
"${CLI[@]}" meta compact 2 >"$TEST_DIR/compact2.log" || fail "cairn meta compact 2"
[ "$(grep -c "compacted in" "$TEST_DIR/compact2.log")" = 1 ] && grep -q "^replica 2: compacted" "$TEST_DIR/compact2.log" ||
  fail "cairn meta compact 2 did not compact replica 2 alone: $(cat "$TEST_DIR/compact2.log")"
if "${CLI[@]}" meta compact 77 2>"$TEST_DIR/err"; then fail "compact of replica 77 succeeded"; fi
grep -q "replica 77 is not a member" "$TEST_DIR/err" || fail "unknown replica: $(cat "$TEST_DIR/err")"
first="${CAIRN_META%%,*}"
"$PROBE" sign "$TEST_DIR/gateway.key" gateway POST "$first/v1/meta/compact-store" >"$TEST_DIR/h" ||
  fail "auth-probe sign"
args=()
while IFS= read -r l; do args+=(-H "$l"); done <"$TEST_DIR/h"
code="$(curl -s -o "$TEST_DIR/answer" -w '%{http_code}' -X POST "${args[@]}" "$first/v1/meta/compact-store")"
[ "$code" = 403 ] || fail "gateway key, compact-store: HTTP $code, expected 403"
# a replica that is down: reported, the others still compacted, exit 1
down_id=""
for id in 1 2 3; do [ "$id" != "$leader_id" ] && down_id=$id; done
cluster_stop "meta$down_id"
if "${CLI[@]}" meta compact >"$TEST_DIR/compact3.log" 2>"$TEST_DIR/err"; then
  fail "cairn meta compact with replica $down_id down exited 0"
fi
grep -q "replica $down_id:" "$TEST_DIR/err" || fail "the down replica was not reported: $(cat "$TEST_DIR/err")"
[ "$(grep -c "compacted in" "$TEST_DIR/compact3.log")" = 2 ] ||
  fail "with replica $down_id down, not the 2 others compacted: $(cat "$TEST_DIR/compact3.log")"
cluster_start "meta$down_id"
echo "   3 replicas compacted (leader $leader_id last), one by id; unknown id and gateway key refused;"
echo "   with replica $down_id down: the other 2 compacted, exit 1"

step "S3 (boto3): counts, prefixes and bytes"
python3 - "$S3_ENDPOINT" <<'PY' || fail "S3 checks"
import hashlib, random, sys
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=sys.argv[1],
                  config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}))

def key(i):
    h = (i * 2654435761) & 0xffffffff
    return "%02x/%010d" % (h >> 24, i)

def data(i):
    size = 1 + (((i * 2246822519) & 0xffffffff) >> 16) % 100
    return bytes(ord("a") + (i + j) % 26 for j in range(size))

total = 0
for b in range(10):
    bucket = "bl-%04d" % b
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    want = sorted(key(i) for i in range(b, 5000, 10))
    if b == 0:
        keys = [k for k in keys if k != "admin/1"]  # the admin key's probe
    assert keys == want, "%s: %d keys listed, %d expected" % (bucket, len(keys), len(want))
    total += len(keys)
    if b == 0:
        # (a page may hold fewer than max-keys prefixes: paginate)
        prefixes = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/"):
            assert not page.get("Contents"), "objects at the top level"
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        expect = sorted(set(k[:3] for k in want) | {"admin/"})
        assert prefixes == expect, "delimiter listing: %d prefixes, %d expected" % (len(prefixes), len(expect))
assert total == 5000, total
random.seed(16)
for i in random.sample(range(5000), 60) + [0, 3999, 4000, 4999]:
    r = s3.get_object(Bucket="bl-%04d" % (i % 10), Key=key(i))
    body = r["Body"].read()
    assert body == data(i), "object %d: %r" % (i, body[:20])
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), "object %d: ETag %s" % (i, r["ETag"])
    assert r["ContentLength"] == len(body)
h = s3.head_object(Bucket="bl-0007", Key=key(17))
assert h["ContentLength"] == len(data(17))
# the refused load stored nothing; the admin's did
try:
    s3.head_object(Bucket="bl-0000", Key="refused/1")
    raise AssertionError("the refused load stored an object")
except s3.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] in ("404", "NoSuchKey"), e.response
assert s3.get_object(Bucket="bl-0000", Key="admin/1")["Body"].read() == b"probe"
print("   5000 keys listed in 10 buckets, %d prefixes in bl-0000, 64 GETs byte-exact with MD5 ETags" % len(prefixes))
PY
step "done"
