#!/usr/bin/env python3
"""Client load for the metadata membership tests (meta_members_test.sh).

  meta_load.py run ENDPOINT BUCKET DIR [--clients 8] [--uploaders 2]
      runs until DIR/stop exists, then writes DIR/result.json:
      * a compare-and-swap counter: each client appends its own token
        ("client:seq") to the object `counter` with GET then PUT If-Match of
        the ETag it read; 412 means another client won (retry), any other
        failure is ambiguous (the PUT may or may not have been applied);
      * uploads: objects of 64 KiB..2 MiB under up/, each with its MD5; an
        acknowledged one must read back byte-exact.
      Progress goes to DIR/progress (acknowledged increments and uploads).
  meta_load.py verify ENDPOINT BUCKET DIR
      the counter holds every acknowledged token exactly once, no token twice,
      and nothing but acknowledged or ambiguous tokens (no lost update, none
      applied twice); every acknowledged upload reads back with its MD5.

Retries are off (one attempt per call): a retried conditional PUT that was
applied the first time would answer 412 and hide it.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3_lock import CondHeaders  # noqa: E402  (If-Match on Debian's botocore)

KEY = "counter"


def client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                      read_timeout=30, s3={"addressing_style": "path"}))


def status_of(err):
    return err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


class Stats:
    def __init__(self):
        self.mu = threading.Lock()
        self.acked, self.ambiguous, self.conflicts = [], [], 0
        self.uploads, self.upload_errors, self.read_errors = {}, 0, 0


def counter_client(endpoint, bucket, cid, stop, st):
    s3 = client(endpoint)
    cond = CondHeaders(s3)
    seq = 0
    while not os.path.exists(stop):
        try:
            got = s3.get_object(Bucket=bucket, Key=KEY)
            body, etag = got["Body"].read().decode(), got["ETag"]
        except (ClientError, BotoCoreError):
            with st.mu:
                st.read_errors += 1
            time.sleep(0.05)
            continue
        seq += 1
        token = f"{cid}:{seq}"
        try:
            cond.call("PutObject", s3.put_object, if_match=etag, Bucket=bucket, Key=KEY,
                      Body=(body + token + "\n").encode())
            with st.mu:
                st.acked.append(token)
        except ClientError as e:
            with st.mu:
                if status_of(e) == 412:
                    st.conflicts += 1
                else:
                    st.ambiguous.append(token)
        except BotoCoreError:
            with st.mu:
                st.ambiguous.append(token)


def uploader(endpoint, bucket, uid, stop, st):
    s3 = client(endpoint)
    rnd = random.Random(uid)
    n = 0
    while not os.path.exists(stop):
        n += 1
        key = f"up/{uid}/{n}"
        data = rnd.randbytes(rnd.randint(64 << 10, 2 << 20))
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            with st.mu:
                st.uploads[key] = hashlib.md5(data).hexdigest()
        except (ClientError, BotoCoreError):
            with st.mu:
                st.upload_errors += 1


def run(a):
    os.makedirs(a.dir, exist_ok=True)
    stop = os.path.join(a.dir, "stop")
    s3 = client(a.endpoint)
    try:
        s3.create_bucket(Bucket=a.bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",):
            raise
    s3.put_object(Bucket=a.bucket, Key=KEY, Body=b"")
    st = Stats()
    threads = [threading.Thread(target=counter_client, args=(a.endpoint, a.bucket, i, stop, st))
               for i in range(a.clients)]
    threads += [threading.Thread(target=uploader, args=(a.endpoint, a.bucket, i, stop, st))
                for i in range(a.uploaders)]
    for t in threads:
        t.start()
    prog = os.path.join(a.dir, "progress")
    while any(t.is_alive() for t in threads):
        with st.mu:
            line = f"{len(st.acked)} {len(st.uploads)}\n"
        with open(prog + ".tmp", "w") as f:
            f.write(line)
        os.replace(prog + ".tmp", prog)
        time.sleep(0.2)
    for t in threads:
        t.join()
    res = {"acked": st.acked, "ambiguous": st.ambiguous, "conflicts": st.conflicts,
           "uploads": st.uploads, "upload_errors": st.upload_errors,
           "read_errors": st.read_errors}
    with open(os.path.join(a.dir, "result.json"), "w") as f:
        json.dump(res, f)
    print(f"load: {len(st.acked)} increments acknowledged, {len(st.ambiguous)} ambiguous, "
          f"{st.conflicts} lost races (412), {st.read_errors} failed reads; "
          f"{len(st.uploads)} uploads acknowledged, {st.upload_errors} failed")


def verify(a):
    res = json.load(open(os.path.join(a.dir, "result.json")))
    s3 = client(a.endpoint)
    tokens = s3.get_object(Bucket=a.bucket, Key=KEY)["Body"].read().decode().split()
    acked, ambiguous = set(res["acked"]), set(res["ambiguous"])
    bad = []
    if len(tokens) != len(set(tokens)):
        bad.append(f"a token applied twice ({len(tokens)} tokens, {len(set(tokens))} distinct)")
    lost = acked - set(tokens)
    if lost:
        bad.append(f"{len(lost)} acknowledged increment(s) lost, e.g. {sorted(lost)[:3]}")
    alien = set(tokens) - acked - ambiguous
    if alien:
        bad.append(f"{len(alien)} token(s) nobody wrote, e.g. {sorted(alien)[:3]}")
    for key, md5 in res["uploads"].items():
        try:
            got = hashlib.md5(s3.get_object(Bucket=a.bucket, Key=key)["Body"].read()).hexdigest()
        except ClientError as e:
            bad.append(f"{key}: {e}")
            continue
        if got != md5:
            bad.append(f"{key}: md5 {got}, wrote {md5}")
    if not res["acked"] or not res["uploads"]:
        bad.append("the load made no progress")
    if bad:
        print("verify: FAIL\n  " + "\n  ".join(bad[:20]))
        sys.exit(1)
    print(f"verify: counter holds {len(tokens)} increments ({len(acked)} acknowledged, "
          f"{len(set(tokens) & ambiguous)} of {len(ambiguous)} ambiguous applied), none twice; "
          f"{len(res['uploads'])} uploads read back byte-exact")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "verify"):
        s = sub.add_parser(name)
        s.add_argument("endpoint")
        s.add_argument("bucket")
        s.add_argument("dir")
        if name == "run":
            s.add_argument("--clients", type=int, default=8)
            s.add_argument("--uploaders", type=int, default=2)
    a = p.parse_args()
    run(a) if a.cmd == "run" else verify(a)


if __name__ == "__main__":
    main()
