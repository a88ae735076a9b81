#!/usr/bin/env bash
# More real clients against a cluster from scripts/cluster.sh (3 cairn-meta,
# 6 cairn-chunk, gateway, EC 4+2):
#   - aws s3 cp of a 1100 MiB file (multipart, aws's 8 MiB parts: 138 parts)
#     and back, byte-exact by sha256, multipart ETag;
#   - aws s3 sync of a tree (300 files in nested dirs, inline and erasure-coded
#     sizes): a second sync uploads nothing, a changed file is the only upload,
#     sync back down and diff -r; rclone check of the tree;
#   - 2,000 keys: ListObjectsV2 and ListObjects (v1) through boto3 paginators
#     for many prefixes, delimiters, page sizes and start-after/marker values,
#     every page exact against a sorted list (s3_more_list.py);
#   - two chunkservers killed (cluster.sh stop): the 1100 MiB object, the tree
#     (sync down + diff -r, rclone check) and the 2,000 keys read byte-exact,
#     listings are still exact, and DeleteObjects removes the 2,000 keys in
#     batches of 1000.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LISTPY="$CAIRN_SRC/tests/integration/s3_more_list.py"
DATA="$TEST_DIR/data"
mkdir -p "$DATA"
BIG_MIB=${S3_MORE_BIG_MIB:-1100}

more_cleanup() {
  local rc=$?
  # The big files and the fragments go even when the logs are kept.
  teardown "$rc" "$DATA"/big* "$CDIR"/chunk*/
}
trap more_cleanup EXIT


step "test data: ${BIG_MIB} MiB file, a 300-file tree"
openssl rand -out "$DATA/big" $((BIG_MIB * 1024 * 1024))
BIG_SHA="$(sha256sum < "$DATA/big" | cut -d' ' -f1)"
/usr/bin/python3 - "$DATA/tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(7)
dirs = ["", "a", "a/b", "a/b/c", "a/b/c/d", "x y", "x y/z", "n\u00e4me", "deep/1/2/3/4/5"]
for i in range(300):
    d = os.path.join(root, dirs[i % len(dirs)])
    os.makedirs(d, exist_ok=True)
    if i % 50 == 0:
        size = 0
    elif i % 30 == 1:
        size = rng.randint(16385, 3 * 1024 * 1024)  # erasure-coded
    else:
        size = rng.randint(1, 6000)  # inline
    with open(os.path.join(d, f"file {i:03d}.bin"), "wb") as f:
        f.write(rng.randbytes(size))
PY
NFILES="$(find "$DATA/tree" -type f | wc -l)"

cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
EP="$S3_ENDPOINT"
AWS=(/usr/bin/aws --endpoint-url "$EP" --cli-read-timeout 120)
rclone_() {
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_GW_TYPE=s3 RCLONE_CONFIG_GW_PROVIDER=Other \
      RCLONE_CONFIG_GW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
      RCLONE_CONFIG_GW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
      RCLONE_CONFIG_GW_ENDPOINT="$EP" RCLONE_CONFIG_GW_FORCE_PATH_STYLE=true \
      rclone --config /dev/null "$@"
}
"${AWS[@]}" s3 mb s3://more >/dev/null
"${AWS[@]}" s3 mb s3://lst >/dev/null

step "aws s3 cp: ${BIG_MIB} MiB multipart upload"
"${AWS[@]}" s3 cp --no-progress "$DATA/big" s3://more/big.bin >/dev/null
parts=$(( (BIG_MIB + 7) / 8 ))
etag="$("${AWS[@]}" s3api head-object --bucket more --key big.bin --query '[ETag,ContentLength]' --output text)"
[[ "$etag" == *"-$parts\""*"$((BIG_MIB * 1024 * 1024))" ]] || fail "multipart ETag/size of big.bin: $etag (want -$parts)"
step "aws s3 cp: download"
"${AWS[@]}" s3 cp --no-progress s3://more/big.bin "$DATA/big.back" >/dev/null
[ "$(sha256sum < "$DATA/big.back" | cut -d' ' -f1)" = "$BIG_SHA" ] || fail "big.bin read back differs"
rm -f "$DATA/big.back"

step "aws s3 sync: $NFILES files up"
"${AWS[@]}" s3 sync --no-progress "$DATA/tree" s3://more/tree > "$TEST_DIR/sync1.out"
n="$(grep -c '^upload: ' "$TEST_DIR/sync1.out" || true)"
[ "$n" = "$NFILES" ] || fail "first sync uploaded $n of $NFILES files"
"${AWS[@]}" s3 sync --no-progress "$DATA/tree" s3://more/tree > "$TEST_DIR/sync2.out"
[ ! -s "$TEST_DIR/sync2.out" ] || { head "$TEST_DIR/sync2.out"; fail "second sync transferred something"; }
echo "more bytes" >> "$DATA/tree/a/b/c/file 003.bin"
"${AWS[@]}" s3 sync --no-progress "$DATA/tree" s3://more/tree > "$TEST_DIR/sync3.out"
[ "$(wc -l < "$TEST_DIR/sync3.out")" = 1 ] &&
  grep -q '^upload: .*/tree/a/b/c/file 003.bin to s3://more/tree/a/b/c/file 003.bin$' "$TEST_DIR/sync3.out" ||
  { cat "$TEST_DIR/sync3.out"; fail "sync after one change"; }
step "aws s3 sync: down, diff -r"
"${AWS[@]}" s3 sync --no-progress s3://more/tree "$DATA/down1" > "$TEST_DIR/sync4.out"
diff -r "$DATA/tree" "$DATA/down1" || fail "tree synced down differs"
"${AWS[@]}" s3 sync --no-progress s3://more/tree "$DATA/down1" > "$TEST_DIR/sync5.out"
[ ! -s "$TEST_DIR/sync5.out" ] || { head "$TEST_DIR/sync5.out"; fail "second sync down transferred something"; }
rclone_ check "$DATA/tree" gw:more/tree 2>&1 | tail -1

step "2,000 keys: put, list (v1 and v2, every page exact)"
/usr/bin/python3 "$LISTPY" "$EP" lst put
/usr/bin/python3 "$LISTPY" "$EP" lst check
/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_conformance.py" "$EP" conf || fail "S3 conformance (issue #13)"

step "two chunkservers lost (chunk2, chunk5)"
"$CLUSTER" stop chunk2 --dir "$CDIR"
"$CLUSTER" stop chunk5 --dir "$CDIR"
step "degraded: ${BIG_MIB} MiB object"
"${AWS[@]}" s3 cp --no-progress s3://more/big.bin "$DATA/big.back" >/dev/null
[ "$(sha256sum < "$DATA/big.back" | cut -d' ' -f1)" = "$BIG_SHA" ] || fail "degraded big.bin differs"
rm -f "$DATA/big.back"
step "degraded: tree"
"${AWS[@]}" s3 sync --no-progress s3://more/tree "$DATA/down2" >/dev/null
diff -r "$DATA/tree" "$DATA/down2" || fail "tree synced down with 2 chunkservers lost differs"
rclone_ check "$DATA/tree" gw:more/tree 2>&1 | tail -1
step "degraded: 2,000 keys read, listed, deleted in batches of 1000"
/usr/bin/python3 "$LISTPY" "$EP" lst read
/usr/bin/python3 "$LISTPY" "$EP" lst check
/usr/bin/python3 "$LISTPY" "$EP" lst delete
/usr/bin/python3 - "$EP" "$DATA/tree" <<'PY' || fail "bucket more does not list exactly big.bin and the tree"
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
listed = [(o["Key"], o["Size"]) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="more")
          for o in p.get("Contents", [])]
got = dict(listed)
if len(got) != len(listed):
    print("a key is listed twice")
    sys.exit(1)
want = {"tree/" + os.path.relpath(os.path.join(d, f), sys.argv[2]):
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[2]) for f in fs}
want["big.bin"] = os.path.getsize(os.path.join(sys.argv[2], "..", "big"))
for k in sorted(set(got) | set(want)):
    if got.get(k) != want.get(k):
        print(f"{k!r}: listed {got.get(k)}, want {want.get(k)}")
sys.exit(got != want)
PY
deg="$(curl -s "$EP/metrics" | awk '$1 == "cairn_gw_degraded_reads_total" { print $2 }')"
[ "${deg:-0}" -gt 0 ] || fail "no degraded reads counted with two chunkservers down"
echo "degraded stripes served: $deg"
step "done in $((SECONDS - T0)) s"
