"""A lease lock on S3 conditional writes (docs/locks.md), and its test driver.

The lock is one object, BUCKET/KEY. Whoever creates it holds it:

  acquire  PUT KEY  If-None-Match: *      body = {owner, nonce, deadline}
                                          x-amz-meta-owner, x-amz-meta-lease-deadline
  release  DELETE KEY  If-Match: "<etag of my lock object>"
  break    PUT KEY  If-Match: "<etag of the expired lock object>"   (compare-and-swap)

The body carries a random nonce, so a lock object's ETag (MD5 of the body) names
one acquisition: a stale release or a second breaker names an ETag that is gone
and gets 412. The gateway decides If-None-Match / If-Match inside the metadata
state machine, so exactly one of several racing PUTs wins.

usage:
  s3_lock.py selftest  ENDPOINT BUCKET
  s3_lock.py contend   ENDPOINT BUCKET LOCKKEY LOG ID ROUNDS [--crash-at R --crash-phase before|after]
  s3_lock.py verify    ENDPOINT BUCKET LOCKKEY LOG --contenders N --rounds R [--crash ID:R:PHASE ...]
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import argparse
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time
import uuid

import boto3
import botocore
from botocore.config import Config

LEASE_S = 2.0  # lease length
# A breaker waits this long past the deadline (clock skew, request delay). The
# environment may change it: a negative grace breaks live leases, which the
# verifier must catch (how the test itself was tested).
GRACE_S = float(os.environ.get("S3_LOCK_GRACE_S", "0.5"))


def make_client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                      read_timeout=20, s3={"addressing_style": "path"}))


def status_of(err):
    return err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


class CondHeaders:
    """Adds If-Match / If-None-Match to PutObject and DeleteObject.

    botocore learnt IfNoneMatch / IfMatch on put_object (and IfMatch on delete_object)
    in 2024; older ones (Debian's) do not have them, so the headers are set in a
    before-sign hook while a call made through `call` runs. One instance per client;
    the headers are per thread."""

    def __init__(self, client):
        self.client = client
        self.local = threading.local()
        model = client.meta.service_model
        self.native = {
            op: set(model.operation_model(op).input_shape.members)
            for op in ("PutObject", "DeleteObject")}
        for op in ("PutObject", "DeleteObject"):
            client.meta.events.register(f"before-sign.s3.{op}", self._add)

    def _add(self, request, **_):
        for k, v in getattr(self.local, "headers", {}).items():
            if k in request.headers:
                del request.headers[k]
            request.headers[k] = v

    def call(self, op, fn, if_match=None, if_none_match=None, **kw):
        headers = {}
        for name, header, val in (("IfMatch", "If-Match", if_match),
                                  ("IfNoneMatch", "If-None-Match", if_none_match)):
            if val is None:
                continue
            if name in self.native[op]:
                kw[name] = val
            else:
                headers[header] = val
        self.local.headers = headers
        try:
            return fn(**kw)
        finally:
            self.local.headers = {}


class Lease:
    """A held lock: its ETag, and until when (monotonic clock) the holder may act."""

    def __init__(self, etag, t_mono, deadline_wall, broke=None):
        self.etag = etag
        self.t_mono = t_mono  # taken before the winning PUT was sent
        self.valid_until = t_mono + LEASE_S
        self.deadline_wall = deadline_wall
        self.broke = broke  # ETag of the expired lock this acquisition replaced

    def remaining(self):
        return self.valid_until - time.monotonic()


class S3Lock:
    def __init__(self, client, bucket, key, owner, lease_s=LEASE_S, grace_s=GRACE_S):
        self.s3 = client
        self.cond = CondHeaders(client)
        self.bucket, self.key, self.owner = bucket, key, owner
        self.lease_s, self.grace_s = lease_s, grace_s
        self.stats = {"puts": 0, "busy": 0, "breaks": 0, "break_lost": 0}

    def _put(self, expect_etag):
        """One conditional PUT of a fresh lock object. Returns a Lease if this call
        created it, else None. expect_etag None: create only if absent."""
        t0, w0 = time.monotonic(), time.time()
        deadline = w0 + self.lease_s
        body = json.dumps({"owner": self.owner, "nonce": uuid.uuid4().hex,
                           "deadline": deadline}).encode()
        etag = '"%s"' % hashlib.md5(body).hexdigest()
        meta = {"owner": self.owner, "lease-deadline": "%.3f" % deadline,
                "lease-ms": str(int(self.lease_s * 1000))}
        self.stats["puts"] += 1
        try:
            r = self.cond.call(
                "PutObject", self.s3.put_object, Bucket=self.bucket, Key=self.key, Body=body,
                Metadata=meta, ContentType="application/json",
                if_match=expect_etag, if_none_match=None if expect_etag else "*")
            if r["ETag"] != etag:
                raise RuntimeError(f"lock PUT answered ETag {r['ETag']}, body MD5 is {etag}")
            return Lease(etag, t0, deadline, broke=expect_etag)
        except botocore.exceptions.ClientError as e:
            if status_of(e) not in (412, 404):
                raise
        # Refused. If a retry of this very PUT was the one refused, the lock is mine:
        # only this call wrote a body with this nonce.
        cur = self.peek()
        if cur and cur[0] == etag:
            return Lease(etag, t0, deadline, broke=expect_etag)
        return None

    def peek(self):
        """(etag, deadline_wall, owner) of the current lock object, or None."""
        try:
            h = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except botocore.exceptions.ClientError as e:
            if status_of(e) == 404:
                return None
            raise
        m = h.get("Metadata", {})
        return h["ETag"], float(m.get("lease-deadline", "0")), m.get("owner", "")

    def try_acquire(self):
        """One attempt: create the lock, or break it if its lease ran out. Lease or None."""
        lease = self._put(None)
        if lease:
            return lease
        cur = self.peek()
        if cur is None:
            return None  # released meanwhile: the caller retries at once
        etag, deadline, _ = cur
        if time.time() <= deadline + self.grace_s:
            self.stats["busy"] += 1
            return None
        lease = self.break_expired(etag)
        if lease:
            self.stats["breaks"] += 1
        else:
            self.stats["break_lost"] += 1
        return lease

    def break_expired(self, etag):
        """Compare-and-swap: replace the (expired) lock object ETAG by a new one of ours."""
        return self._put(etag)

    def acquire(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lease = self.try_acquire()
            if lease:
                return lease
            time.sleep(random.uniform(0.01, 0.05))
        return None

    def release(self, lease):
        """True if our lock object was deleted; False if it was no longer ours."""
        try:
            self.cond.call("DeleteObject", self.s3.delete_object, Bucket=self.bucket,
                           Key=self.key, if_match=lease.etag)
            return True
        except botocore.exceptions.ClientError as e:
            if status_of(e) in (412, 404):
                return False
            raise


# ---------------------------------------------------------------- self test

def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def selftest(endpoint, bucket):
    s3 = make_client(endpoint)
    key = "selftest/lock"
    a = S3Lock(s3, bucket, key, "A")
    b = S3Lock(make_client(endpoint), bucket, key, "B")

    la = a.try_acquire()
    check(la is not None, "A acquires a free lock")
    check(b.try_acquire() is None, "B cannot take a held lock")
    cur = b.peek()
    check(cur and cur[0] == la.etag and cur[2] == "A", f"lock object names A: {cur}")
    check(abs(cur[1] - la.deadline_wall) < 0.01, "lease deadline in x-amz-meta-lease-deadline")
    check(a.release(la), "A releases its lock")
    check(b.peek() is None, "lock object gone after release")
    check(not a.release(la), "a second release is refused")

    la = a.try_acquire()
    check(la is not None, "A acquires again")
    time.sleep(LEASE_S + GRACE_S + 0.2)
    lb = b.try_acquire()
    check(lb is not None and lb.broke == la.etag, "B breaks A's expired lease")
    check(not a.release(la), "A's stale release (If-Match its old ETag) is refused")
    check(b.peek()[0] == lb.etag, "the lock is still B's after A's stale release")
    check(a.break_expired(la.etag) is None, "a late breaker naming a replaced ETag loses")
    check(b.release(lb), "B releases")
    print("selftest: acquire / busy / release / break / stale release ok")

    # Races: N threads with their own clients start together; exactly one wins.
    n = 8
    clients = [make_client(endpoint) for _ in range(n)]
    locks = [S3Lock(clients[i], bucket, "selftest/race", f"T{i}") for i in range(n)]
    for rnd in range(6):
        breaking = rnd % 2 == 1
        expired = None
        if breaking:
            # An expired lock object to break.
            old = S3Lock(make_client(endpoint), bucket, "selftest/race", "old", lease_s=0.0)
            lo = old.try_acquire()
            check(lo is not None, "create the lock to be broken")
            expired = lo.etag
        barrier = threading.Barrier(n)
        wins = [None] * n

        def run(i):
            barrier.wait()
            if breaking:
                wins[i] = locks[i].break_expired(expired)
            else:
                wins[i] = locks[i]._put(None)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        won = [i for i in range(n) if wins[i]]
        check(len(won) == 1, f"race {rnd} ({'break' if breaking else 'create'}): winners {won}")
        check(locks[0].peek()[0] == wins[won[0]].etag, "the winner's object is the lock")
        check(locks[won[0]].release(wins[won[0]]), "winner releases")
    print(f"selftest: {n}-way create and break races have exactly one winner (6 rounds)")


# ---------------------------------------------------------------- contenders

class Log:
    """Appends one JSON line per event with a single write(2) (O_APPEND: lines of
    concurrent processes do not interleave). Times are CLOCK_MONOTONIC, one clock
    for every process on this machine."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, **ev):
        ev.setdefault("t", time.monotonic())
        os.write(self.fd, (json.dumps(ev) + "\n").encode())


def counter_bump(s3, cond, bucket, who):
    """Read-modify-write of the counter with If-Match. Returns (new value, True) or
    (value seen, False) when someone else changed it in between (exclusion broken)."""
    g = s3.get_object(Bucket=bucket, Key="counter")
    n = int(g["Body"].read().split()[0])
    time.sleep(random.uniform(0.005, 0.03))  # widen the window a second writer would hit
    body = f"{n + 1} {who}".encode()
    try:
        cond.call("PutObject", s3.put_object, Bucket=bucket, Key="counter", Body=body,
                  if_match=g["ETag"])
        return n + 1, True
    except botocore.exceptions.ClientError as e:
        if status_of(e) != 412:
            raise
    # A retried PUT refused after the first try landed is still ours: unique body.
    h = s3.head_object(Bucket=bucket, Key="counter")
    if h["ETag"] == '"%s"' % hashlib.md5(body).hexdigest():
        return n + 1, True
    return n, False


def contend(a):
    s3 = make_client(a.endpoint)
    owner = f"c{a.id}-{os.getpid()}"
    lock = S3Lock(s3, a.bucket, a.lockkey, owner)
    log = Log(a.log)
    log.write(ev="start", id=a.id, pid=os.getpid())
    for r in range(1, a.rounds + 1):
        lease = lock.acquire(timeout=120)
        if lease is None:
            log.write(ev="timeout", id=a.id, r=r)
            print(f"contender {a.id}: no lock in 120 s at round {r}", file=sys.stderr)
            sys.exit(1)
        log.write(ev="B", id=a.id, r=r, acq=lease.t_mono, exp=lease.valid_until,
                  etag=lease.etag, broke=lease.broke)
        crash = a.crash_at == r
        if crash and a.crash_phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        n, ok = counter_bump(s3, lock.cond, a.bucket, f"{a.id}/{r}")
        log.write(ev="C", id=a.id, r=r, n=n, ok=ok)
        if crash:
            os.kill(os.getpid(), signal.SIGKILL)
        log.write(ev="E", id=a.id, r=r, exp=lease.valid_until)
        released = lock.release(lease)
        log.write(ev="R", id=a.id, r=r, ok=released)
        time.sleep(random.uniform(0, 0.02))  # give the others a chance
    log.write(ev="done", id=a.id, stats=lock.stats)


# ---------------------------------------------------------------- verifier

def verify(a):
    evs = [json.loads(line) for line in open(a.log)]
    crashes = {}
    for c in a.crash:
        i, r, phase = c.split(":")
        crashes[int(i)] = (int(r), phase)
    bad = []
    begins, ends, counts = {}, {}, {}
    for e in evs:
        k = (e.get("id"), e.get("r"))
        if e["ev"] == "B":
            begins[k] = e
        elif e["ev"] == "E":
            ends[k] = e
        elif e["ev"] == "C":
            counts[k] = e
        elif e["ev"] == "timeout":
            bad.append(f"contender {e['id']} timed out at round {e['r']}")

    # Progress: every contender took the lock as often as planned.
    for i in range(a.contenders):
        want = crashes[i][0] if i in crashes else a.rounds
        got = sorted(r for (j, r) in begins if j == i)
        if got != list(range(1, want + 1)):
            bad.append(f"contender {i}: acquisitions {got}, want 1..{want}")
        if i not in crashes and not any(e["ev"] == "done" and e["id"] == i for e in evs):
            bad.append(f"contender {i} did not finish")
    want_total = sum(crashes[i][0] if i in crashes else a.rounds for i in range(a.contenders))
    if len(begins) != want_total:
        bad.append(f"{len(begins)} acquisitions, want {want_total}")

    # Mutual exclusion on one monotonic clock. A section runs from its B to its E;
    # a crashed holder's from its B to the end of its lease (nobody may enter before).
    secs = []
    overran = 0
    for k, b in begins.items():
        if k in ends:
            end, crashed = ends[k]["t"], False
            if end > b["exp"]:
                overran += 1
        else:
            end, crashed = b["exp"], True
            if k[0] not in crashes or crashes[k[0]][0] != k[1]:
                bad.append(f"section {k} has no end and was not a planned crash")
        secs.append((b["t"], end, k, crashed, b))
    secs.sort()
    # Each section against the one reaching furthest among those begun before it.
    # A lease promises exclusion only to a holder that finishes within it: an
    # overlap with a holder that overran its lease (stalled > lease + grace on a
    # loaded machine) is reported, not failed; one with a holder inside its lease is
    # a broken lock.
    stalled = set()
    reach = None
    for y in secs:
        if reach is not None and y[0] < reach[1]:
            x = reach
            msg = (f"{x[2]} [{x[0]:.4f}, {x[1]:.4f}]{' (crashed)' if x[3] else ''}"
                   f" and {y[2]} begins {y[0]:.4f}")
            if not x[3] and x[1] > x[4]["exp"]:
                print(f"note: holder overran its lease: {msg}")
                stalled.update((x[2], y[2]))
            else:
                bad.append("overlap: " + msg)
        if reach is None or y[1] > reach[1]:
            reach = y
    if overran * 10 > len(secs):
        bad.append(f"{overran} of {len(secs)} sections overran their lease: inconclusive")
    # Every crashed holder's lock was broken (by the next holder), after its lease.
    broken = {b["broke"]: b for b in begins.values() if b.get("broke")}
    for s in secs:
        if s[3] and s[4]["etag"] not in broken:
            bad.append(f"crashed holder {s[2]}'s lock {s[4]['etag']} was never broken")
    # The counter: each update with If-Match against the value read inside the
    # section; none refused (nobody else wrote in between), none lost.
    refused = [k for k, c in counts.items() if not c["ok"]]
    if set(refused) - stalled:
        bad.append(f"counter updates refused (another writer inside the section): {refused}")
    ns = sorted(c["n"] for c in counts.values() if c["ok"])
    if ns != list(range(1, len(ns) + 1)):
        bad.append(f"counter values are not 1..{len(ns)}: {ns[:10]}...")
    want_c = sum((crashes[i][0] - (crashes[i][1] == "before")) if i in crashes else a.rounds
                 for i in range(a.contenders))
    want_c -= len(refused)  # only those of stalled holders get here
    if len(ns) != want_c:
        bad.append(f"{len(ns)} counter updates, want {want_c}")
    s3 = make_client(a.endpoint)
    final = int(s3.get_object(Bucket=a.bucket, Key="counter")["Body"].read().split()[0])
    if final != want_c:
        bad.append(f"counter object says {final}, want {want_c}")
    lock = S3Lock(s3, a.bucket, a.lockkey, "verifier")
    if lock.peek() is not None:
        bad.append(f"the lock is still held at the end: {lock.peek()}")
    stats = [e["stats"] for e in evs if e["ev"] == "done"]
    tot = {k: sum(s[k] for s in stats) for k in stats[0]} if stats else {}
    span = max(s[1] for s in secs) - min(s[0] for s in secs) if secs else 0
    print(f"verify: {len(begins)} acquisitions ({len(broken)} by breaking an expired lease), "
          f"{len(ns)} counter updates, {overran} sections overran their lease, "
          f"{span:.1f} s; lock requests of finished contenders: {tot}")
    for b in bad:
        print("FAIL:", b, file=sys.stderr)
    sys.exit(1 if bad else 0)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("selftest")
    s.add_argument("endpoint")
    s.add_argument("bucket")
    c = sub.add_parser("contend")
    for n in ("endpoint", "bucket", "lockkey", "log"):
        c.add_argument(n)
    c.add_argument("id", type=int)
    c.add_argument("rounds", type=int)
    c.add_argument("--crash-at", type=int, default=0)
    c.add_argument("--crash-phase", choices=("before", "after"), default="before")
    v = sub.add_parser("verify")
    for n in ("endpoint", "bucket", "lockkey", "log"):
        v.add_argument(n)
    v.add_argument("--contenders", type=int, required=True)
    v.add_argument("--rounds", type=int, required=True)
    v.add_argument("--crash", action="append", default=[])
    a = p.parse_args()
    if a.cmd == "selftest":
        selftest(a.endpoint, a.bucket)
    elif a.cmd == "contend":
        contend(a)
    else:
        verify(a)


if __name__ == "__main__":
    main()
