"""Compaction of packed groups through boto3 (s3_compact_test.sh).

usage: s3_compact.py PHASE ENDPOINT STATE_DIR [ARGS]
  write    N [MAX_KIB] (ARGS) objects of 16 KiB..MAX_KIB (default 300) KiB
           into bucket "cmp" by 8 threads (they are packed); their seeds and
           sizes to STATE_DIR/objects.json.
  delete   [EVERY]: keeps every EVERY-th object (default 10: deletes 9 of
           10), 8 threads; the survivors stay in objects.json.
  verify   every object of objects.json exact (md5), with ranged GETs of
           each; every deleted one 404.
  load     GETs of the survivors by 4 threads until STATE_DIR/stop exists;
           each latency (ms) to STATE_DIR/latency.log (the foreground while
           compaction runs).
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
KiB = 1024
checks = 0
lock = threading.Lock()
BUCKET = "cmp"
OBJS = os.path.join(state, "objects.json")


def client(retries=3, timeout=60):
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


def write():
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    n = int(args[0])
    top = int(args[1]) if len(args) > 1 else 300
    rnd = random.Random(17)
    objs = {"k%05d" % i: (1000 + i, rnd.randrange(16 * KiB, top * KiB)) for i in range(n)}

    def put(key):
        seed, size = objs[key]
        r = s3.put_object(Bucket=BUCKET, Key=key, Body=body(seed, size))
        check(r["ETag"].strip('"') == md5(body(seed, size)), "PUT %s etag" % key)

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(put, sorted(objs)))
    json.dump({"live": objs, "gone": []}, open(OBJS, "w"))
    print("%d objects, %d bytes" % (n, sum(s for _, s in objs.values())), flush=True)


def delete():
    s3 = client()
    o = json.load(open(OBJS))
    keys = sorted(o["live"])
    every = int(args[0]) if args else 10
    gone = [k for i, k in enumerate(keys) if i % every != 0]
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.delete_object(Bucket=BUCKET, Key=k), gone))
    for k in gone:
        del o["live"][k]
    o["gone"] = gone
    json.dump(o, open(OBJS, "w"))
    print("%d deleted, %d left (%d bytes)" % (len(gone), len(o["live"]),
                                              sum(s for _, s in o["live"].values())), flush=True)


def verify():
    s3 = client(retries=5)
    o = json.load(open(OBJS))

    def one(key):
        seed, size = o["live"][key]
        want = body(seed, size)
        got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        check(md5(got) == md5(want), "GET %s md5" % key)
        a = random.Random(seed).randrange(size)
        b = min(size - 1, a + random.Random(seed + 1).randrange(1, 40000))
        part = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=%d-%d" % (a, b))["Body"].read()
        check(part == want[a:b + 1], "GET %s bytes=%d-%d" % (key, a, b))

    def gone(key):
        try:
            s3.head_object(Bucket=BUCKET, Key=key)
            check(False, "deleted %s still there" % key)
        except botocore.exceptions.ClientError as e:
            check(e.response["Error"]["Code"] in ("404", "NoSuchKey"), "HEAD %s: %s" % (key, e))

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(one, sorted(o["live"])))
        list(ex.map(gone, o["gone"][:40]))
    print("%d survivors exact" % len(o["live"]), flush=True)


def load():
    o = json.load(open(OBJS))
    keys = sorted(o["live"])
    stop = os.path.join(state, "stop")
    log = open(os.path.join(state, "latency.log"), "a", buffering=1)

    def loop(t):
        s3 = client()
        rnd = random.Random(t)
        while not os.path.exists(stop):
            k = rnd.choice(keys)
            t0 = time.monotonic()
            got = s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()
            ms = (time.monotonic() - t0) * 1000
            check(len(got) == o["live"][k][1], "load GET %s" % k)
            with lock:
                log.write("%.2f %.3f\n" % (time.time(), ms))

    ts = [threading.Thread(target=loop, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


{"write": write, "delete": delete, "verify": verify, "load": load}[phase]()
print("%s: %d checks passed" % (phase, checks), flush=True)
