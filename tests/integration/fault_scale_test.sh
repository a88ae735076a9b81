#!/usr/bin/env bash
# Fault test 1 (issue 6) at the issue's scale, on a cluster from
# scripts/cluster.sh with 8 chunkservers (metadata: --down-after 2s
# --out-after 8s):
#   - 300 objects of mixed sizes, 1 B to 200 MiB (~1.3 GiB: many small ones,
#     some of a few MiB, a few large), written in parallel by real clients:
#     boto3 (put_object below 8 MiB, multipart upload_file above) and
#     aws s3 cp for the five largest;
#   - two chunkservers are killed: every object reads back byte-exact
#     (sha256) while they are down, and again while repair runs;
#   - after out-after, repair rebuilds their fragments on the 6 left, until
#     `cairn status --json` reports every group fully redundant; the 6 live
#     chunkservers then hold a fragment file for every fragment of every group;
#   - two more chunkservers are killed: with 4 of 8 left, every object still
#     reads back byte-exact (which needs every 4+2 group whole on the 6).
# Timings of each phase are printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="$TEST_DIR/data"
mkdir -p "$DATA"

export CAIRN_META_OPTS="--down-after 2s --out-after 8s"
export CAIRN_CHUNK_OPTS="--heartbeat 500ms"
cluster_up 8
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
CAIRN=("$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret")
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT" --cli-read-timeout 120)
B=scale
"${AWS[@]}" s3 mb "s3://$B" >/dev/null

# The objects: slices of one 256 MiB random pool at seeded offsets, listed in
# DATA/manifest (key, offset, size, sha256); the five largest also as files
# for aws s3 cp.
head -c 256M /dev/urandom > "$DATA/pool"
cat > "$TEST_DIR/objs.py" <<'PY'
import hashlib, io, random, sys, time
from concurrent.futures import ThreadPoolExecutor
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

mode, ep, bucket, data = sys.argv[1:5]
MiB = 1 << 20
pool = open(f"{data}/pool", "rb").read()

def manifest():
    rnd = random.Random(6)
    sizes = [1, 16384, 16385]                                           # inline edge
    sizes += [int(2 ** rnd.uniform(0, 16)) for _ in range(187)]         # 1 B .. 64 KiB
    sizes += [int(2 ** rnd.uniform(16, 23)) for _ in range(85)]         # 64 KiB .. 8 MiB
    sizes += [rnd.randint(8 * MiB, 40 * MiB) for _ in range(20)]        # 8 .. 40 MiB
    sizes += [200 * MiB, 150 * MiB + 7, 120 * MiB, 100 * MiB + 1, 64 * MiB]
    out = []
    for i, n in enumerate(sizes):
        off = rnd.randrange(0, len(pool) - n + 1)
        out.append((f"obj{i:03d}-{n}", off, n))
    return out

s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  config=Config(max_pool_connections=16, retries={"max_attempts": 1},
                                read_timeout=120))

if mode == "put":
    objs = manifest()
    with open(f"{data}/manifest", "w") as f:
        for k, off, n in objs:
            f.write(f"{k} {off} {n} {hashlib.sha256(pool[off:off + n]).hexdigest()}\n")
    big = sorted(objs, key=lambda o: -o[2])[:5]
    for k, off, n in big:                       # files for aws s3 cp
        open(f"{data}/{k}", "wb").write(pool[off:off + n])
    with open(f"{data}/big.keys", "w") as f:
        f.write("".join(f"{k}\n" for k, _, _ in big))
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=2)
    def put(o):
        k, off, n = o
        if n < 8 * MiB:
            s3.put_object(Bucket=bucket, Key=k, Body=pool[off:off + n])
        else:
            s3.upload_fileobj(io.BytesIO(pool[off:off + n]), bucket, k, Config=cfg)
    rest = [o for o in objs if o not in big]
    with ThreadPoolExecutor(6) as ex:
        list(ex.map(put, rest))
    print(f"boto3 wrote {len(rest)} objects, {sum(o[2] for o in rest) / MiB:.0f} MiB")
    sys.exit(0)

# check: every object of the manifest and the listing, read back and hashed.
want = {}
for line in open(f"{data}/manifest"):
    k, off, n, h = line.split()
    want[k] = (int(n), h)
listed = {o["Key"]: o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
          for o in p.get("Contents", [])}
if listed != {k: v[0] for k, v in want.items()}:
    sys.exit(f"listing differs: {len(listed)} keys listed, {len(want)} written")
def get(k):  # one attempt: a failed read fails the test
    h = hashlib.sha256()
    try:
        for chunk in s3.get_object(Bucket=bucket, Key=k)["Body"].iter_chunks(MiB):
            h.update(chunk)
    except Exception as e:
        return f"{k}: {e}"
    return None if h.hexdigest() == want[k][1] else f"{k}: sha256 differs"
t = time.monotonic()
with ThreadPoolExecutor(6) as ex:
    bad = [r for r in ex.map(get, sorted(want, key=lambda k: -want[k][0])) if r]
total = sum(n for n, _ in want.values())
dt = time.monotonic() - t
if bad:
    sys.exit(f"{len(bad)} objects not byte-exact: {bad[:5]}")
print(f"{len(want)} objects ({total / MiB:.0f} MiB) byte-exact in {dt:.1f} s ({total / 1e6 / dt:.0f} MB/s)")
PY
objs() { /usr/bin/python3 "$TEST_DIR/objs.py" "$1" "$S3_ENDPOINT" "$B" "$DATA"; }

step "write 300 objects (boto3, 6 threads; aws s3 cp for the 5 largest, in parallel)"
t=$SECONDS
objs put &
PYPID=$!
# objs put writes the big files and big.keys before it starts uploading.
wait_for 60 test -s "$DATA/big.keys" || fail "no manifest"
AWSPIDS=()
while read -r k; do
  "${AWS[@]}" s3 cp --no-progress "$DATA/$k" "s3://$B/$k" > "$TEST_DIR/aws.$k.out" 2>&1 &
  AWSPIDS+=("$!")
done < "$DATA/big.keys"
wait "$PYPID" || fail "boto3 writes failed"
for p in "${AWSPIDS[@]}"; do wait "$p" || fail "aws s3 cp failed: $(cat "$TEST_DIR"/aws.*.out)"; done
TOTAL=$(awk '{ s += $3 } END { print s }' "$DATA/manifest")
N=$(wc -l < "$DATA/manifest")
[ "$N" = 300 ] || fail "manifest has $N objects"
T_WRITE=$((SECONDS - t))
step "wrote $N objects, $((TOTAL / 1048576)) MiB in $T_WRITE s"
while read -r k; do rm -f "$DATA/$k"; done < "$DATA/big.keys"

frag_files() { # frag_files N...: fragments on those chunkservers' disks (an open
  local dirs=() i #    packed fragment is its data file, not its .crc file)
  for i in "$@"; do dirs+=("$CDIR/chunk$i/frags"); done
  find "${dirs[@]}" -type f -name '*.[0-9]*' ! -name '*.crc' | wc -l
}
NFRAG=$(frag_files 1 2 3 4 5 6 7 8)
echo "fragment files on the 8 chunkservers: $NFRAG ($((NFRAG / 6)) erasure-coded 4+2 groups)"
[ $((NFRAG % 6)) = 0 ] || fail "$NFRAG fragment files: not 6 per group"

cs_id() { cut -c1-16 "$CDIR/chunk$1/chunkserver-id"; }
# status_ok EXPR: cairn status --json, then a python expression over d, r
# (the repair stats) and live (chunkserver id -> liveness) must be true.
status_ok() {
  "${CAIRN[@]}" status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); r = d.get("repair", {})
live = {c["id"]: c["liveness"] for c in d["chunkservers"]}
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}

step "kill chunk3 and chunk7"
DEAD1=$(cs_id 3) DEAD2=$(cs_id 7)
BYTES0=$("${CAIRN[@]}" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["repair"]["bytes_rebuilt"])')
"$CLUSTER" stop chunk3 --dir "$CDIR"
"$CLUSTER" stop chunk7 --dir "$CDIR"
t_kill=$SECONDS
step "read everything with two chunkservers down"
t=$SECONDS
objs check || fail "reads with two chunkservers down"
T_READ1=$((SECONDS - t))
# A second pass runs on while they go out and repair starts.
objs check > "$TEST_DIR/during-repair.out" 2>&1 &
DURING=$!

step "wait for repair: both out, then every group fully redundant"
wait_for 60 status_ok "live['$DEAD1'] == 'out' and live['$DEAD2'] == 'out'" || fail "the killed chunkservers are not out"
redundant="r['degraded_groups'] == 0 and r['queued'] == 0 and r['in_flight'] == 0 and r['unrecoverable'] == 0 and r['done'] > 0"
# Fully redundant at two looks 1.5 s apart (the scan interval is the default
# 10 s: the leader scans a chunkserver at once when it goes down or out).
full() { status_ok "$redundant" && sleep 1.5 && status_ok "$redundant"; }
wait_for 180 full || { "${CAIRN[@]}" status; fail "repair did not restore full redundancy"; }
t_full=$SECONDS
wait "$DURING" || fail "reads during repair: $(cat "$TEST_DIR/during-repair.out")"
echo "reads while repair ran: $(cat "$TEST_DIR/during-repair.out")"
"${CAIRN[@]}" status | tail -n 3
REBUILT=$("${CAIRN[@]}" status --json | /usr/bin/python3 -c "import json,sys; r = json.load(sys.stdin)['repair']; print(r['bytes_rebuilt'] - $BYTES0, r['done'], r['failed'])")
read -r RB RDONE RFAIL <<< "$REBUILT"
LIVE6=$(frag_files 1 2 4 5 6 8)
step "fully redundant $((t_full - t_kill)) s after the kill (out-after: 8 s): $RDONE fragments rebuilt ($((RB / 1000000)) MB, $RFAIL failed attempts); the 6 live chunkservers hold $LIVE6 fragment files for $NFRAG fragments"
[ "$LIVE6" -ge "$NFRAG" ] || fail "the 6 live chunkservers hold $LIVE6 fragment files, the groups have $NFRAG"

step "kill chunk1 and chunk5: 4 of 8 left"
"$CLUSTER" stop chunk1 --dir "$CDIR"
"$CLUSTER" stop chunk5 --dir "$CDIR"
t=$SECONDS
objs check || fail "reads with four chunkservers down after repair"
T_READ2=$((SECONDS - t))
step "done in $((SECONDS - T0)) s"
echo "timings: write $T_WRITE s ($((TOTAL / 1048576)) MiB, $N objects); read with 2 down $T_READ1 s;" \
  "fully redundant $((t_full - t_kill)) s after the kill (out-after 8 s)" \
  "($((RB / 1000000)) MB rebuilt); read with 4 down $T_READ2 s"
