"""Packed chunk groups (issue #17) through boto3 (s3_packed_test.sh).

usage: s3_packed.py PHASE ENDPOINT STATE_DIR [ARGS]
  basic    concurrent writers (8 threads) of 17 KiB..4 MiB objects, every GET
           md5-verified, ranged GETs, overwrites and deletes, a versioned
           bucket with packed versions, If-None-Match: * raced by 8 writers in
           one batch (exactly one wins, the rest 412). What must survive is
           written to STATE_DIR/objects.json.
  many     N (ARGS) objects of 64 KiB by 16 threads (for the fragment count).
  writer   PUTs until STATE_DIR/stop exists (8 threads, 17 KiB..1 MiB, keys
           w-<n>), logging "try KEY MD5" before and "ack KEY MD5" after each
           acknowledged PUT to STATE_DIR/writer.log; errors are tolerated (a
           gateway or chunkserver is being killed).
  verify   every object of objects.json exact; with ARGS "writer": every
           acknowledged writer key exact and every tried-but-unacknowledged
           key absent or exactly one of the bodies tried for it.
The operator's keys come from the environment. Exits non-zero on the first
failed check, naming it."""
import concurrent.futures as cf
import hashlib
import json
import os
import random
import sys
import threading
import time

import boto3
import botocore
from botocore.config import Config

phase, endpoint, state = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
KiB, MiB = 1024, 1024 * 1024
checks = 0
lock = threading.Lock()


def client(retries=1, timeout=60):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": retries, "mode": "standard"},
                                      s3={"addressing_style": "path"}, max_pool_connections=32,
                                      read_timeout=timeout, connect_timeout=5))


def check(cond, what):
    global checks
    with lock:
        checks += 1
    if not cond:
        print("FAIL:", what, file=sys.stderr, flush=True)
        os._exit(1)


def md5(b):
    return hashlib.md5(b).hexdigest()


def body(seed, size):
    return random.Random(seed).randbytes(size)


def get_bytes(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def code_of(fn, **kw):
    try:
        fn(**kw)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def basic():
    s3 = client()
    s3.create_bucket(Bucket="packed")
    rnd = random.Random(17)
    sizes = [17 * KiB, 17 * KiB + 1, 64 * KiB, 100 * KiB + 3, 1 * MiB, 4 * MiB]
    sizes += [rnd.randrange(17 * KiB, 600 * KiB) for _ in range(90)]
    sizes += [rnd.randrange(600 * KiB, 4 * MiB + 1) for _ in range(8)]
    objs = {}  # key -> (seed, size)

    def put(i):
        key = "obj/%03d" % i
        b = body(i, sizes[i])
        r = s3.put_object(Bucket="packed", Key=key, Body=b)
        check(r["ETag"].strip('"') == md5(b), "ETag of %s is its MD5" % key)
        with lock:
            objs[key] = (i, sizes[i])

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(put, range(len(sizes))))
    print("put %d objects (8 writers)" % len(objs), flush=True)

    def verify(key):
        seed, size = objs[key]
        b = body(seed, size)
        check(md5(get_bytes(s3, "packed", key)) == md5(b), "GET %s md5" % key)
        r = random.Random(seed)
        for _ in range(3):
            a = r.randrange(size)
            z = min(size - 1, a + r.randrange(1, 300 * KiB))
            got = get_bytes(s3, "packed", key, Range="bytes=%d-%d" % (a, z))
            check(got == b[a:z + 1], "GET %s range %d-%d" % (key, a, z))
        got = get_bytes(s3, "packed", key, Range="bytes=-100")
        check(got == b[-100:], "GET %s suffix range" % key)

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(verify, sorted(objs)))
    print("every object md5-verified, with ranges", flush=True)

    # overwrites and deletes
    for i in range(0, 20, 2):
        key = "obj/%03d" % i
        seed, size = 1000 + i, 30 * KiB + i * 1000
        s3.put_object(Bucket="packed", Key=key, Body=body(seed, size))
        objs[key] = (seed, size)
    for i in range(1, 20, 2):
        key = "obj/%03d" % i
        s3.delete_object(Bucket="packed", Key=key)
        del objs[key]
        check(code_of(s3.head_object, Bucket="packed", Key=key) in ("404", "NoSuchKey"),
              "deleted %s is gone" % key)
    for i in range(20):
        key = "obj/%03d" % i
        if key in objs:
            seed, size = objs[key]
            check(get_bytes(s3, "packed", key) == body(seed, size), "overwritten %s" % key)
    print("overwrites and deletes", flush=True)

    # a versioned bucket with packed versions
    s3.create_bucket(Bucket="packed-ver")
    s3.put_bucket_versioning(Bucket="packed-ver", VersioningConfiguration={"Status": "Enabled"})
    vers = []
    for j in range(4):
        b = body(2000 + j, 20 * KiB + j * 7777)
        r = s3.put_object(Bucket="packed-ver", Key="v", Body=b, Metadata={"n": str(j)},
                          ContentType="application/x-test-%d" % j)
        check(r.get("VersionId"), "packed version %d has a version id" % j)
        vers.append((r["VersionId"], b))
    check(len({v for v, _ in vers}) == 4, "4 distinct version ids")
    for j, (v, b) in enumerate(vers):
        r = s3.get_object(Bucket="packed-ver", Key="v", VersionId=v)
        check(r["Body"].read() == b, "version %d bytes" % j)
        check(r["Metadata"].get("n") == str(j), "version %d user metadata" % j)
        check(r["ContentType"] == "application/x-test-%d" % j, "version %d content type" % j)
    listed = s3.list_object_versions(Bucket="packed-ver", Prefix="v")["Versions"]
    check(len(listed) == 4, "4 versions listed")
    s3.delete_object(Bucket="packed-ver", Key="v", VersionId=vers[1][0])
    check(get_bytes(s3, "packed-ver", "v") == vers[3][1], "latest version after deleting one")
    check(get_bytes(s3, "packed-ver", "v", VersionId=vers[0][0]) == vers[0][1],
          "oldest version still exact")
    print("versioned bucket with packed versions", flush=True)

    # Content-MD5 and checksum headers behave as for an ordinary PUT
    b = body(3000, 40 * KiB)
    check(code_of(s3.put_object, Bucket="packed", Key="badmd5", Body=b,
                  ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==") == "BadDigest", "wrong Content-MD5: BadDigest")
    check(code_of(s3.head_object, Bucket="packed", Key="badmd5") in ("404", "NoSuchKey"),
          "nothing stored after BadDigest")
    s3.put_object(Bucket="packed", Key="sha", Body=b, ChecksumAlgorithm="SHA256")
    check(get_bytes(s3, "packed", "sha") == b, "PUT with x-amz-checksum-sha256")

    # If-None-Match: * raced by 8 writers (one batch): one wins, the rest 412
    barrier = threading.Barrier(8)
    results = []

    def race(j):
        c = client()
        # (the system's botocore predates the IfNoneMatch parameter)
        c.meta.events.register("before-sign.s3.PutObject",
                               lambda request, **kw: request.headers.__setitem__(
                                   "If-None-Match", "*"))
        barrier.wait()
        results.append((j, code_of(c.put_object, Bucket="packed", Key="race",
                                   Body=body(4000 + j, 50 * KiB))))

    ts = [threading.Thread(target=race, args=(j,)) for j in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    winners = [j for j, c in results if c is None]
    losers = [c for _, c in results if c is not None]
    check(len(winners) == 1, "exactly one If-None-Match writer wins (%s)" % results)
    check(all(c == "PreconditionFailed" for c in losers), "the rest get 412 (%s)" % losers)
    check(get_bytes(s3, "packed", "race") == body(4000 + winners[0], 50 * KiB),
          "the winner's bytes are stored")
    objs["race"] = (4000 + winners[0], 50 * KiB)
    print("If-None-Match within a batch", flush=True)

    # Records with near the most user metadata S3 allows (2 KB each), 48 at
    # once: a batch of them would not fit one Paxos slot (64 KiB), so the
    # packer cuts batches by their records' size; every one lands
    meta = {"m%02d" % i: "v" * 60 for i in range(28)}
    barrier = threading.Barrier(48)
    errs = []

    def big(j):
        c = client()
        barrier.wait()
        try:
            c.put_object(Bucket="packed", Key="meta%02d" % j, Body=body(5000 + j, 20 * KiB),
                         Metadata=meta)
        except Exception as e:  # noqa: BLE001 (reported below)
            errs.append((j, repr(e)))

    ts = [threading.Thread(target=big, args=(j,)) for j in range(48)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errs, "every PUT with large metadata stored (%s)" % errs[:3])
    for j in (0, 23, 47):
        h = s3.head_object(Bucket="packed", Key="meta%02d" % j)
        check(h["Metadata"] == meta and get_bytes(s3, "packed", "meta%02d" % j) ==
              body(5000 + j, 20 * KiB), "meta%02d exact with its metadata" % j)
        objs["meta%02d" % j] = (5000 + j, 20 * KiB)
    print("large records batched within a Paxos slot", flush=True)
    json.dump(objs, open(os.path.join(state, "objects.json"), "w"))


def many():
    s3 = client()
    s3.create_bucket(Bucket="many")
    n = int(args[0])

    def put(i):
        s3.put_object(Bucket="many", Key="m%05d" % i, Body=body(50000 + i, 64 * KiB))

    with cf.ThreadPoolExecutor(16) as ex:
        list(ex.map(put, range(n)))
    for i in random.Random(1).sample(range(n), 20):
        check(get_bytes(s3, "many", "m%05d" % i) == body(50000 + i, 64 * KiB), "many/m%05d" % i)
    print("%d objects of 64 KiB" % n, flush=True)


def writer():
    log = open(os.path.join(state, "writer.log"), "a", buffering=1)
    stop = os.path.join(state, "stop")
    counter = [int(time.time() * 1000) % 1000000 * 100]

    def loop(t):
        s3 = client(retries=1, timeout=30)
        rnd = random.Random(t * 7919 + os.getpid())
        while not os.path.exists(stop):
            with lock:
                counter[0] += 1
                n = counter[0]
            key = "w-%d" % n
            seed, size = n, rnd.randrange(17 * KiB, 1 * MiB)
            b = body(seed, size)
            with lock:
                log.write("try %s %d %d\n" % (key, seed, size))
            try:
                s3.put_object(Bucket="packed", Key=key, Body=b)
            except Exception:
                time.sleep(0.2)
                continue
            with lock:
                log.write("ack %s %d %d\n" % (key, seed, size))

    ts = [threading.Thread(target=loop, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def verify():
    s3 = client(retries=3)
    objs = json.load(open(os.path.join(state, "objects.json")))

    def one(key):
        seed, size = objs[key]
        check(md5(get_bytes(s3, "packed", key)) == md5(body(seed, size)), "GET %s md5" % key)

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(one, sorted(objs)))
    print("%d objects exact" % len(objs), flush=True)
    if args and args[0] == "writer":
        tried, acked = {}, {}
        for line in open(os.path.join(state, "writer.log")):
            f = line.split()
            if len(f) != 4:
                continue  # a line cut by kill
            (acked if f[0] == "ack" else tried)[f[1]] = (int(f[2]), int(f[3]))

        def w(key):
            seed, size = tried[key]
            try:
                got = get_bytes(s3, "packed", key)
            except botocore.exceptions.ClientError as e:
                check(key not in acked, "acknowledged %s is gone (%s)" % (key, e))
                return
            check(got == body(seed, size), "%s is exact (%s)" %
                  (key, "acknowledged" if key in acked else "unacknowledged"))

        with cf.ThreadPoolExecutor(8) as ex:
            list(ex.map(w, sorted(tried)))
        print("writer: %d acknowledged exact, %d tried" % (len(acked), len(tried)), flush=True)


{"basic": basic, "many": many, "writer": writer, "verify": verify}[phase]()
print("%s: %d checks passed" % (phase, checks), flush=True)
