"""Versioning and object lock through boto3 (s3_versioning_test.sh).

usage: s3_versioning.py PHASE ENDPOINT STATE_DIR [KEYS_JSON]
  before   versions, delete markers, Suspended and the null version,
           ListObjectVersions pages against a model, multipart, copies of old
           versions, DeleteObjects with versions, concurrent writers; object
           lock (GOVERNANCE, COMPLIANCE, legal hold, default retention, bypass
           and its permission). What must survive is written to STATE_DIR.
  writer   PUTs to one key of a versioned bucket until STATE_DIR/stop exists,
           appending each acknowledged version id to STATE_DIR/acked (run
           while the metadata leader is killed).
  after    everything recorded by `before` and `writer` is still there,
           byte-exact, every acknowledged version listed, locks still hold.
  gc       (4th argument: the cluster directory) old versions' fragment files
           stay on the chunkservers, past the orphan grace, until the version
           is deleted, then go.
  expire   once the short retentions have run out: the versions go.
The operator's keys come from the environment; KEYS_JSON (phase before)
holds bob's {"access_key", "secret_key"}. Exits non-zero on the first failed
check, naming it."""
import glob
import hashlib
import json
import os
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import boto3
import botocore
from botocore.config import Config

phase, endpoint, state_dir = sys.argv[1], sys.argv[2], sys.argv[3]
keys_json = sys.argv[4] if len(sys.argv) > 4 else None
checks = 0


def client(ak=None, sk=None, retries=1):
    kw = {}
    if ak:
        kw = {"aws_access_key_id": ak, "aws_secret_access_key": sk}
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": retries, "mode": "standard"},
                                      s3={"addressing_style": "path"}), **kw)


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def err(fn, **kw):
    """(code, http status, response headers) of a call; code None on success."""
    try:
        r = fn(**kw)
        return None, r["ResponseMetadata"]["HTTPStatusCode"], r["ResponseMetadata"]["HTTPHeaders"]
    except botocore.exceptions.ClientError as e:
        md = e.response["ResponseMetadata"]
        return e.response["Error"]["Code"], md["HTTPStatusCode"], md.get("HTTPHeaders", {})


def expect(code, status, fn, what, **kw):
    c, s, _ = err(fn, **kw)
    check((c, s) == (code, status), f"{what}: want {code} {status}, got {c} {s}")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def body_of(s3, bucket, key, vid=None):
    kw = {"VersionId": vid} if vid else {}
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def all_versions(s3, bucket, prefix=""):
    """Every (key, id, is_latest, is_marker) by the paginator, in the order
    the gateway sent them (boto3 splits a page into Versions and
    DeleteMarkers, so the order is read from the raw documents)."""
    docs = []

    def keep(http_response, **kw):
        docs.append(http_response.content)
    s3.meta.events.register("after-call.s3.ListObjectVersions", keep)
    try:
        for _ in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            pass
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectVersions", keep)
    out = []
    for d in docs:
        for e in ET.fromstring(d):
            tag = e.tag.split("}")[-1]
            if tag in ("Version", "DeleteMarker"):
                f = {c.tag.split("}")[-1]: c.text for c in e}
                out.append((f["Key"], f["VersionId"], f["IsLatest"] == "true",
                            tag == "DeleteMarker"))
    return out


def state_path(name):
    return os.path.join(state_dir, name)


s3 = client()
s3r = client(retries=8)  # the phases that run through a leader change
BLOB = bytes(range(256)) * 12289  # 3 MiB + : erasure coded, not inline


def phase_before():
    state = {"versions": {}, "locked": {}}

    # ---- versioning basics -------------------------------------------------
    s3.create_bucket(Bucket="ver")
    s3.put_object(Bucket="ver", Key="old", Body=b"written before versioning")
    check("Status" not in s3.get_bucket_versioning(Bucket="ver"), "a new bucket has no Status")
    h = s3.head_object(Bucket="ver", Key="old")
    check("VersionId" not in h, f"no version id before versioning: {h.get('VersionId')}")
    expect("MalformedXML", 400, s3.put_bucket_versioning, "bad status",
           Bucket="ver", VersioningConfiguration={"Status": "Sometimes"})
    expect("NotImplemented", 501, s3.put_bucket_versioning, "MFA delete",
           Bucket="ver", VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    check(s3.get_bucket_versioning(Bucket="ver").get("Status") == "Enabled", "Enabled")

    contents = [b"one", BLOB, b"three" * 1000]
    vids = []
    for c in contents:
        r = s3.put_object(Bucket="ver", Key="k", Body=c)
        check(r.get("VersionId") not in (None, "null"), f"a version id on PUT: {r}")
        vids.append(r["VersionId"])
    check(len(set(vids)) == 3 and vids == sorted(vids), f"ids distinct, in commit order: {vids}")
    for v, c in zip(vids, contents):
        g = s3.get_object(Bucket="ver", Key="k", VersionId=v)
        check(g["Body"].read() == c and g["VersionId"] == v, f"GET version {v} byte-exact")
        h = s3.head_object(Bucket="ver", Key="k", VersionId=v)
        check(h["ContentLength"] == len(c) and h["VersionId"] == v, f"HEAD version {v}")
    check(body_of(s3, "ver", "k") == contents[-1], "GET of the key is the latest")
    check(body_of(s3, "ver", "old", "null") == b"written before versioning",
          "the object from before versioning is the null version")
    check(all_versions(s3, "ver", "old") == [("old", "null", True, False)],
          f"listed as the null version: {all_versions(s3, 'ver', 'old')}")
    expect("NoSuchVersion", 404, s3.get_object, "an id no version has",
           Bucket="ver", Key="k", VersionId="00000000000fffff")
    expect("InvalidArgument", 400, s3.get_object, "a malformed id",
           Bucket="ver", Key="k", VersionId="not-a-version")

    # tagging one version (s3:PutObjectVersionTagging): the others keep theirs
    s3.put_object_tagging(Bucket="ver", Key="k", VersionId=vids[0],
                          Tagging={"TagSet": [{"Key": "gen", "Value": "first"}]})
    t = s3.get_object_tagging(Bucket="ver", Key="k", VersionId=vids[0])
    check(t["TagSet"] == [{"Key": "gen", "Value": "first"}] and t.get("VersionId") == vids[0],
          f"the version's tags, named by id: {t}")
    check(s3.get_object_tagging(Bucket="ver", Key="k")["TagSet"] == [],
          "the current version's tags untouched")
    s3.put_object_tagging(Bucket="ver", Key="k", Tagging={"TagSet": [{"Key": "gen", "Value": "3"}]})
    check(s3.get_object_tagging(Bucket="ver", Key="k", VersionId=vids[2])["TagSet"] ==
          [{"Key": "gen", "Value": "3"}], "tagging the key tags its current version")
    s3.delete_object_tagging(Bucket="ver", Key="k", VersionId=vids[0])
    check(s3.get_object_tagging(Bucket="ver", Key="k", VersionId=vids[0])["TagSet"] == [],
          "DeleteObjectTagging of a version")
    check(s3.get_object_tagging(Bucket="ver", Key="k")["TagSet"] == [{"Key": "gen", "Value": "3"}],
          "... leaves the current version's tags")
    expect("NoSuchVersion", 404, s3.get_object_tagging, "tags of an id no version has",
           Bucket="ver", Key="k", VersionId="00000000000fffff")
    expect("NoSuchVersion", 404, s3.put_object_tagging, "tagging an id no version has",
           Bucket="ver", Key="k", VersionId="00000000000fffff", Tagging={"TagSet": []})
    s3.delete_object_tagging(Bucket="ver", Key="k")

    # a delete marker
    d = s3.delete_object(Bucket="ver", Key="k")
    check(d.get("DeleteMarker") is True and d.get("VersionId"), f"DELETE makes a marker: {d}")
    marker = d["VersionId"]
    c, s, hdrs = err(s3.get_object, Bucket="ver", Key="k")
    check((c, s) == ("NoSuchKey", 404) and hdrs.get("x-amz-delete-marker") == "true" and
          hdrs.get("x-amz-version-id") == marker, f"GET under a marker: {c} {s} {hdrs}")
    c, s, hdrs = err(s3.head_object, Bucket="ver", Key="k", VersionId=marker)
    check(s == 405 and hdrs.get("x-amz-delete-marker") == "true",
          f"HEAD of the marker by id: 405, got {c} {s}")
    check(body_of(s3, "ver", "k", vids[1]) == BLOB, "an old version survives the marker")
    lst = all_versions(s3, "ver", "k")
    check(lst == [("k", marker, True, True)] + [("k", v, False, False) for v in reversed(vids)],
          f"versions of k: {lst}")
    check("Contents" not in s3.list_objects_v2(Bucket="ver", Prefix="k"),
          "ListObjectsV2 hides a key under a marker")
    d = s3.delete_object(Bucket="ver", Key="k", VersionId=marker)
    check(d.get("DeleteMarker") is True and d.get("VersionId") == marker, f"marker removed: {d}")
    check(body_of(s3, "ver", "k") == contents[-1], "removing the marker brings the key back")
    d = s3.delete_object(Bucket="ver", Key="k", VersionId=vids[2])
    check(d.get("VersionId") == vids[2], "a version deleted by id")
    check(body_of(s3, "ver", "k") == BLOB, "the one before becomes the latest")
    d = s3.delete_object(Bucket="ver", Key="k", VersionId=vids[2])
    check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "deleting it again: 204")
    state["versions"]["k"] = {vids[0]: sha(contents[0]), vids[1]: sha(BLOB)}

    # Suspended: the null version
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
    check(s3.get_bucket_versioning(Bucket="ver").get("Status") == "Suspended", "Suspended")
    r1 = s3.put_object(Bucket="ver", Key="k", Body=b"null one")
    r2 = s3.put_object(Bucket="ver", Key="k", Body=b"null two")
    check(r1.get("VersionId") == "null" and r2.get("VersionId") == "null", f"null ids: {r1} {r2}")
    lst = all_versions(s3, "ver", "k")
    check([e[1] for e in lst] == ["null", vids[1], vids[0]],
          f"one null version, replaced in place: {lst}")
    check(body_of(s3, "ver", "k", "null") == b"null two", "GET ?versionId=null")
    d = s3.delete_object(Bucket="ver", Key="k")
    check(d.get("DeleteMarker") is True and d.get("VersionId") == "null",
          f"a delete under Suspended is a null marker: {d}")
    check([e[1] for e in all_versions(s3, "ver", "k")] == ["null", vids[1], vids[0]],
          "the null marker took the null version's place")
    s3.delete_object(Bucket="ver", Key="k", VersionId="null")
    check(body_of(s3, "ver", "k") == BLOB, "the marker gone, the newest version is back")
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})

    # ListObjectVersions: pages, prefix, delimiter against a model
    model = []
    for i in range(5):
        key = f"list/{i % 2}/obj{i}"
        for j in range(3):
            vid = s3.put_object(Bucket="ver", Key=key, Body=f"{key}#{j}".encode())["VersionId"]
            model.append((key, vid))
        if i == 3:
            model.append((key, s3.delete_object(Bucket="ver", Key=key)["VersionId"]))
    want = sorted(model, key=lambda e: (e[0], -int(e[1], 16)))
    got = [(e[0], e[1]) for e in all_versions(s3, "ver", "list/")]
    check(got == want, f"paginated listing == model:\n{got}\n{want}")
    # by hand, max-keys 4, following the markers
    seen, km, vm, pages = [], None, None, 0
    while True:
        kw = {"Bucket": "ver", "Prefix": "list/", "MaxKeys": 4}
        if km:
            kw.update(KeyMarker=km, VersionIdMarker=vm)
        p = s3.list_object_versions(**kw)
        pages += 1
        ent = [(v["Key"], v["VersionId"]) for v in p.get("Versions", [])]
        ent += [(m["Key"], m["VersionId"]) for m in p.get("DeleteMarkers", [])]
        check(len(ent) <= 4, "at most max-keys entries")
        seen += sorted(ent, key=lambda e: (e[0], -int(e[1], 16)))  # no null versions here
        if not p["IsTruncated"]:
            break
        km, vm = p["NextKeyMarker"], p["NextVersionIdMarker"]
    check(seen == want and pages == 4, f"max-keys 4 pages ({pages}): {seen}")
    latest = {}
    for e in all_versions(s3, "ver", "list/"):
        if e[2]:
            latest[e[0]] = e[1]
    check(latest == {k: max(v for kk, v in model if kk == k) for k, _ in model},
          f"IsLatest on the newest of each key: {latest}")
    p = s3.list_object_versions(Bucket="ver", Prefix="list/", Delimiter="/")
    check([c["Prefix"] for c in p.get("CommonPrefixes", [])] == ["list/0/", "list/1/"] and
          not p.get("Versions"), f"delimiter: {p.get('CommonPrefixes')}")
    p = s3.list_object_versions(Bucket="ver", Prefix="list/1/", Delimiter="/")
    check(len(p["Versions"]) == 6 and len(p.get("DeleteMarkers", [])) == 1, "under list/1/")
    expect("InvalidArgument", 400, s3.list_object_versions, "version-id-marker alone",
           Bucket="ver", VersionIdMarker=want[0][1])

    # multipart into a versioned bucket
    part = os.urandom(5 << 20)
    mp = s3.create_multipart_upload(Bucket="ver", Key="mp")
    e1 = s3.upload_part(Bucket="ver", Key="mp", UploadId=mp["UploadId"], PartNumber=1,
                        Body=part)["ETag"]
    e2 = s3.upload_part(Bucket="ver", Key="mp", UploadId=mp["UploadId"], PartNumber=2,
                        Body=b"tail")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket="ver", Key="mp", UploadId=mp["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    check(done.get("VersionId") not in (None, "null"), f"CompleteMultipartUpload's version: {done}")
    mp2 = s3.put_object(Bucket="ver", Key="mp", Body=b"over the multipart")["VersionId"]
    check(body_of(s3, "ver", "mp", done["VersionId"]) == part + b"tail",
          "the multipart version byte-exact under a newer one")
    state["versions"]["mp"] = {done["VersionId"]: sha(part + b"tail"),
                               mp2: sha(b"over the multipart")}

    # the ACL of one version
    s3.put_object_acl(Bucket="ver", Key="k", VersionId=vids[0], ACL="public-read")
    grants = s3.get_object_acl(Bucket="ver", Key="k", VersionId=vids[0])["Grants"]
    check(any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants),
          f"PutObjectAcl of a version: {grants}")
    grants = s3.get_object_acl(Bucket="ver", Key="k")["Grants"]
    check(not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants),
          f"the current version's ACL is its own: {grants}")

    # CopyObject from an old version (and a restore onto the same key)
    cp = s3.copy_object(Bucket="ver", Key="copy", CopySource={"Bucket": "ver", "Key": "k",
                                                              "VersionId": vids[0]})
    check(cp.get("CopySourceVersionId") == vids[0] and cp.get("VersionId"),
          f"copy of an old version: {cp}")
    check(body_of(s3, "ver", "copy") == b"one", "the copy is the old version's bytes")
    rs = s3.copy_object(Bucket="ver", Key="k", CopySource={"Bucket": "ver", "Key": "k",
                                                           "VersionId": vids[0]})
    check(body_of(s3, "ver", "k") == b"one", "an old version restored over its key")
    state["versions"]["k"][rs["VersionId"]] = sha(b"one")
    expect("NoSuchVersion", 404, s3.copy_object, "copy of a missing version", Bucket="ver",
           Key="c2", CopySource={"Bucket": "ver", "Key": "k", "VersionId": "0000000000ffffff"})

    # DeleteObjects with versions
    a1 = s3.put_object(Bucket="ver", Key="d/a", Body=b"a1")["VersionId"]
    a2 = s3.put_object(Bucket="ver", Key="d/a", Body=b"a2")["VersionId"]
    s3.put_object(Bucket="ver", Key="d/b", Body=b"b")
    r = s3.delete_objects(Bucket="ver", Delete={"Objects": [
        {"Key": "d/a", "VersionId": a1}, {"Key": "d/b"},
        {"Key": "d/a", "VersionId": "0000000000fffffe"}]})
    dl = {(x["Key"], x.get("VersionId")): x for x in r.get("Deleted", [])}
    check(not r.get("Errors") and ("d/a", a1) in dl and dl[("d/b", None)].get("DeleteMarker")
          and dl[("d/b", None)].get("DeleteMarkerVersionId"), f"DeleteObjects: {r}")
    check([e[1] for e in all_versions(s3, "ver", "d/a")] == [a2], "d/a keeps its other version")
    check(all_versions(s3, "ver", "d/b")[0][3], "d/b's latest is a marker")

    # concurrent writers to one key: one version each, in commit order
    acks, lock = [], threading.Lock()

    def writer(n):
        c = client()
        for j in range(5):
            v = c.put_object(Bucket="ver", Key="hot", Body=f"{n}/{j}".encode())["VersionId"]
            with lock:
                acks.append((v, f"{n}/{j}".encode()))
    ts = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lst = all_versions(s3, "ver", "hot")
    check(len(acks) == 40 and sorted(v for v, _ in acks) == sorted(e[1] for e in lst),
          f"40 writes, 40 versions: {len(acks)} acked, {len(lst)} listed")
    check([e[1] for e in lst] == sorted((e[1] for e in lst), reverse=True), "newest first")
    newest = max(acks)
    check(body_of(s3, "ver", "hot") == newest[1], "the latest is the last committed")
    for v, b in acks[:5]:
        check(body_of(s3, "ver", "hot", v) == b, f"hot version {v}")
    state["hot"] = len(lst)

    # ---- object lock ------------------------------------------------------
    s3.create_bucket(Bucket="lockb", ObjectLockEnabledForBucket=True)
    check(s3.get_bucket_versioning(Bucket="lockb").get("Status") == "Enabled",
          "object lock turns versioning on")
    cfg = s3.get_object_lock_configuration(Bucket="lockb")["ObjectLockConfiguration"]
    check(cfg == {"ObjectLockEnabled": "Enabled"}, f"lock configuration: {cfg}")
    expect("InvalidBucketState", 409, s3.put_bucket_versioning, "suspend under object lock",
           Bucket="lockb", VersioningConfiguration={"Status": "Suspended"})
    expect("ObjectLockConfigurationNotFoundError", 404, s3.get_object_lock_configuration,
           "no lock on ver", Bucket="ver")
    soon = datetime.now(timezone.utc) + timedelta(seconds=300)
    expect("InvalidRequest", 400, s3.put_object, "lock headers in a bucket without lock",
           Bucket="ver", Key="x", Body=b"x", ObjectLockMode="GOVERNANCE",
           ObjectLockRetainUntilDate=soon)
    expect("InvalidArgument", 400, s3.put_object, "a retention date in the past",
           Bucket="lockb", Key="x", Body=b"x", ObjectLockMode="GOVERNANCE",
           ObjectLockRetainUntilDate=datetime.now(timezone.utc) - timedelta(days=1))

    # GOVERNANCE: removable only with the bypass (and its permission)
    g = s3.put_object(Bucket="lockb", Key="gov", Body=BLOB, ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=soon)["VersionId"]
    h = s3.head_object(Bucket="lockb", Key="gov")
    check(h.get("ObjectLockMode") == "GOVERNANCE" and
          abs((h["ObjectLockRetainUntilDate"] - soon).total_seconds()) < 1.5, f"lock headers {h}")
    expect("AccessDenied", 403, s3.delete_object, "delete of a GOVERNANCE version",
           Bucket="lockb", Key="gov", VersionId=g)
    d = s3.delete_object(Bucket="lockb", Key="gov")
    check(d.get("DeleteMarker"), "a delete marker over a locked version is allowed")
    s3.delete_object(Bucket="lockb", Key="gov", VersionId=d["VersionId"])
    ow = s3.put_object(Bucket="lockb", Key="gov", Body=b"newer")["VersionId"]
    check(body_of(s3, "lockb", "gov", g) == BLOB, "a PUT over a locked version keeps it")
    s3.delete_object(Bucket="lockb", Key="gov", VersionId=ow)
    r = s3.get_object_retention(Bucket="lockb", Key="gov", VersionId=g)["Retention"]
    check(r["Mode"] == "GOVERNANCE", f"GetObjectRetention: {r}")
    expect("AccessDenied", 403, s3.put_object_retention, "shortening GOVERNANCE without bypass",
           Bucket="lockb", Key="gov", VersionId=g,
           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon - timedelta(seconds=10)})

    # bob may delete versions (bucket policy) but not bypass governance
    keys = json.load(open(keys_json))
    bob = client(keys["bob"]["access_key"], keys["bob"]["secret_key"])
    pol = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"},
                          "Action": ["s3:DeleteObjectVersion", "s3:GetObjectVersion",
                                     "s3:PutObject"],
                          "Resource": "arn:aws:s3:::lockb/*"}]}
    s3.put_bucket_policy(Bucket="lockb", Policy=json.dumps(pol))
    b1 = s3.put_object(Bucket="lockb", Key="gov2", Body=b"g2", ObjectLockMode="GOVERNANCE",
                       ObjectLockRetainUntilDate=soon)["VersionId"]
    expect("AccessDenied", 403, bob.delete_object, "bob's bypass without the permission",
           Bucket="lockb", Key="gov2", VersionId=b1, BypassGovernanceRetention=True)
    expect("AccessDenied", 403, bob.put_object, "bob's lock headers without PutObjectRetention",
           Bucket="lockb", Key="bobs", Body=b"x", ObjectLockMode="GOVERNANCE",
           ObjectLockRetainUntilDate=soon)
    # in a lock bucket of his own, bob sets the lock of what he writes
    bob.create_bucket(Bucket="bob-lock", ObjectLockEnabledForBucket=True)
    bv = bob.put_object(Bucket="bob-lock", Key="mine", Body=b"bob's", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=soon, ObjectLockLegalHoldStatus="OFF")
    check(bob.head_object(Bucket="bob-lock", Key="mine").get("ObjectLockMode") == "GOVERNANCE",
          "the bucket owner's lock headers")
    bob.delete_object(Bucket="bob-lock", Key="mine", VersionId=bv["VersionId"],
                      BypassGovernanceRetention=True)
    pol["Statement"][0]["Action"].append("s3:BypassGovernanceRetention")
    s3.put_bucket_policy(Bucket="lockb", Policy=json.dumps(pol))
    c, s, _ = err(bob.delete_object, Bucket="lockb", Key="gov2", VersionId=b1,
                  BypassGovernanceRetention=True)
    check(c is None, f"bob's bypass with s3:BypassGovernanceRetention: {c} {s}")
    expect("AccessDenied", 403, bob.get_object, "GetObjectVersion allowed, GetObject not",
           Bucket="lockb", Key="gov")
    check(bob.get_object(Bucket="lockb", Key="gov", VersionId=g)["Body"].read() == BLOB,
          "bob's GetObjectVersion")

    # COMPLIANCE: nobody, not even with the bypass; extended, never shortened
    until = datetime.now(timezone.utc) + timedelta(seconds=40)
    cv = s3.put_object(Bucket="lockb", Key="comp", Body=b"compliance data",
                       ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    expect("AccessDenied", 403, s3.delete_object, "COMPLIANCE with bypass",
           Bucket="lockb", Key="comp", VersionId=cv, BypassGovernanceRetention=True)
    expect("AccessDenied", 403, s3.put_object_retention, "shortening COMPLIANCE",
           Bucket="lockb", Key="comp", VersionId=cv, BypassGovernanceRetention=True,
           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(seconds=5)})
    expect("AccessDenied", 403, s3.put_object_retention, "COMPLIANCE to GOVERNANCE",
           Bucket="lockb", Key="comp", VersionId=cv, BypassGovernanceRetention=True,
           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(seconds=5)})
    until2 = until + timedelta(seconds=5)
    s3.put_object_retention(Bucket="lockb", Key="comp", VersionId=cv,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until2})
    r = s3.get_object_retention(Bucket="lockb", Key="comp", VersionId=cv)["Retention"]
    check(r["Mode"] == "COMPLIANCE" and abs((r["RetainUntilDate"] - until2).total_seconds()) < 1.5,
          f"extended: {r}")
    state["locked"]["comp"] = {"vid": cv, "until": until2.timestamp(), "sha": sha(b"compliance data")}

    # legal hold
    lh = s3.put_object(Bucket="lockb", Key="hold", Body=b"held", ObjectLockLegalHoldStatus="ON")
    lv = lh["VersionId"]
    check(s3.get_object_legal_hold(Bucket="lockb", Key="hold")["LegalHold"]["Status"] == "ON",
          "legal hold ON from the PUT header")
    expect("AccessDenied", 403, s3.delete_object, "a held version, with bypass",
           Bucket="lockb", Key="hold", VersionId=lv, BypassGovernanceRetention=True)
    state["locked"]["hold"] = {"vid": lv, "sha": sha(b"held")}

    # default retention
    s3.put_object_lock_configuration(Bucket="lockb", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    cfg = s3.get_object_lock_configuration(Bucket="lockb")["ObjectLockConfiguration"]
    check(cfg["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}, f"{cfg}")
    dv = s3.put_object(Bucket="lockb", Key="dflt", Body=b"default")["VersionId"]
    h = s3.head_object(Bucket="lockb", Key="dflt")
    day = datetime.now(timezone.utc) + timedelta(days=1)
    check(h.get("ObjectLockMode") == "GOVERNANCE" and
          abs((h["ObjectLockRetainUntilDate"] - day).total_seconds()) < 60,
          f"default retention applied: {h.get('ObjectLockMode')} {h.get('ObjectLockRetainUntilDate')}")
    expect("AccessDenied", 403, s3.delete_object, "a version under default retention",
           Bucket="lockb", Key="dflt", VersionId=dv)
    expect("MalformedXML", 400, s3.put_object_lock_configuration, "days and years",
           Bucket="lockb", ObjectLockConfiguration={
               "ObjectLockEnabled": "Enabled",
               "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}})
    state["locked"]["dflt"] = {"vid": dv, "sha": sha(b"default")}
    state["locked"]["gov"] = {"vid": g, "until": soon.timestamp(), "sha": sha(BLOB)}
    expect("InvalidRequest", 400, s3.get_object_retention, "retention in a bucket without lock",
           Bucket="ver", Key="k")
    expect("NoSuchObjectLockConfiguration", 404, s3.get_object_retention,
           "a version without retention", Bucket="lockb", Key="hold")
    expect("BucketNotEmpty", 409, s3.delete_bucket, "a bucket with versions", Bucket="lockb")

    json.dump(state, open(state_path("state.json"), "w"))


def phase_writer():
    acked = open(state_path("acked"), "a")
    n = 0
    while not os.path.exists(state_path("stop")):
        body = f"writer {n}".encode()
        try:
            v = s3r.put_object(Bucket="ver", Key="failover", Body=body)["VersionId"]
            acked.write(f"{v} {sha(body)}\n")
            acked.flush()
        except botocore.exceptions.ClientError as e:
            print("writer: PUT failed:", e.response["Error"]["Code"], file=sys.stderr)
        except botocore.exceptions.BotoCoreError as e:
            print("writer: PUT failed:", e, file=sys.stderr)
        n += 1
        time.sleep(0.02)


def phase_after():
    state = json.load(open(state_path("state.json")))
    for key, vs in state["versions"].items():
        for vid, digest in vs.items():
            check(sha(body_of(s3r, "ver", key, vid)) == digest, f"{key}@{vid} byte-exact after")
    check(len(all_versions(s3r, "ver", "hot")) == state["hot"], "the hot key's versions")
    acked = [line.split() for line in open(state_path("acked"))]
    listed = {e[1] for e in all_versions(s3r, "ver", "failover")}
    check(len(acked) >= 20, f"the writer got through the failover ({len(acked)} acks)")
    lost = [v for v, _ in acked if v not in listed]
    check(not lost, f"acknowledged versions lost: {lost}")
    for v, digest in acked[:: max(1, len(acked) // 20)]:
        check(sha(body_of(s3r, "ver", "failover", v)) == digest, f"failover@{v} byte-exact")
    for key, l in state["locked"].items():
        check(sha(body_of(s3r, "lockb", key, l["vid"])) == l["sha"], f"locked {key} byte-exact")
        if key == "comp" and time.time() > l["until"] - 1:
            print("note: COMPLIANCE ran out before the check after the failover")
            continue
        expect("AccessDenied", 403, s3r.delete_object, f"{key} still locked after the failover",
               Bucket="lockb", Key=key, VersionId=l["vid"],
               BypassGovernanceRetention=key in ("comp", "hold"))
    r = s3r.get_object_retention(Bucket="lockb", Key="comp", VersionId=state["locked"]["comp"]["vid"])
    check(r["Retention"]["Mode"] == "COMPLIANCE", "COMPLIANCE survives the failover")


def frag_files(cdir):
    return len(glob.glob(os.path.join(cdir, "chunk*", "frags", "**", "*.[0-9]*"), recursive=True))


def wait_frags(cdir, want, what, timeout=30):
    deadline = time.time() + timeout
    while frag_files(cdir) != want:
        check(time.time() < deadline, f"{what}: {frag_files(cdir)} fragment files, want {want}")
        time.sleep(0.2)


def settled(cdir):
    """The fragment file count once it holds still for 2 s (garbage in flight done)."""
    deadline = time.time() + 60
    while True:
        a = frag_files(cdir)
        time.sleep(2)
        if frag_files(cdir) == a:
            return a
        check(time.time() < deadline, "fragment files never settled")


def phase_gc():
    """Old versions keep their fragments until deleted; then garbage takes them."""
    cdir = keys_json  # the cluster directory (4th argument)
    n0 = settled(cdir)
    s3.create_bucket(Bucket="gc-ver")
    s3.put_bucket_versioning(Bucket="gc-ver", VersioningConfiguration={"Status": "Enabled"})
    # Above the gateway's --pack-max (4 MiB): each version a chunk group of its
    # own. (Packed versions share groups; deleting one leaves a hole for the
    # compactor, not files to collect: s3_packed covers them.)
    data = [os.urandom(5000000) for _ in range(3)]
    gv = [s3.put_object(Bucket="gc-ver", Key="g", Body=d)["VersionId"] for d in data]
    per = (settled(cdir) - n0) // 3
    check(per > 0 and frag_files(cdir) == n0 + 3 * per,
          f"3 versions left {frag_files(cdir) - n0} fragment files, not 3 equal groups")
    print(f"each version holds {per} fragment files")
    time.sleep(10)  # past the chunkservers' orphan grace (8 s), scanned every second
    check(frag_files(cdir) == n0 + 3 * per,
          f"the orphan scan took old versions' fragments: {frag_files(cdir) - n0} left")
    s3.delete_object(Bucket="gc-ver", Key="g")  # a marker frees nothing
    s3.delete_object(Bucket="gc-ver", Key="g", VersionId=gv[0])
    wait_frags(cdir, n0 + 2 * per, "the oldest version deleted")
    check(body_of(s3, "gc-ver", "g", gv[1]) == data[1], "the others still read byte-exact")
    for v in gv[1:]:
        s3.delete_object(Bucket="gc-ver", Key="g", VersionId=v)
    wait_frags(cdir, n0, "every version deleted")


def phase_expire():
    state = json.load(open(state_path("state.json")))
    comp = state["locked"]["comp"]
    wait = comp["until"] + 1.5 - time.time()
    if wait > 0:
        time.sleep(wait)
    d = s3.delete_object(Bucket="lockb", Key="comp", VersionId=comp["vid"])
    check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "COMPLIANCE expired: deleted")
    expect("NoSuchVersion", 404, s3.get_object, "the expired version is gone",
           Bucket="lockb", Key="comp", VersionId=comp["vid"])
    g = state["locked"]["gov"]
    s3.delete_object(Bucket="lockb", Key="gov", VersionId=g["vid"], BypassGovernanceRetention=True)
    hold = state["locked"]["hold"]
    s3.put_object_legal_hold(Bucket="lockb", Key="hold", VersionId=hold["vid"],
                             LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket="lockb", Key="hold", VersionId=hold["vid"])
    dv = state["locked"]["dflt"]["vid"]
    d = s3.delete_object(Bucket="lockb", Key="dflt", VersionId=dv, BypassGovernanceRetention=True)
    check(d["ResponseMetadata"]["HTTPStatusCode"] == 204, "the owner bypasses GOVERNANCE")
    left = all_versions(s3, "lockb")
    check([e for e in left if e[0] in ("comp", "hold", "dflt")] == [],
          f"the lock bucket's versions gone: {left}")


{"before": phase_before, "writer": phase_writer, "after": phase_after, "gc": phase_gc,
 "expire": phase_expire}[phase]()
if phase != "writer":
    print(f"s3_versioning.py {phase}: {checks} checks passed")
