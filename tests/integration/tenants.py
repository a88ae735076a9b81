"""Tenants through boto3 (tenants_test.sh): three users and anonymous
against a running gateway — isolation of every operation, S3's 403/404
rules, canned ACLs and explicit grants, bucket policies (allow another user,
deny a prefix, IP conditions, malformed policies), quotas, and keys disabled
or deleted while their owner is busy.

usage: tenants.py ENDPOINT KEYS_JSON CAIRN...
KEYS_JSON maps alice/bob/carol to {"access_key", "secret_key", "id"} (their
canonical ids); CAIRN... is the cairn command line (with --meta and the
secret) used to change quotas and keys. Exits non-zero on the first failed
check, naming it."""
import hashlib
import json
import subprocess
import sys
import threading
import time

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests
from botocore.config import Config

endpoint = sys.argv[1]
keys = json.load(open(sys.argv[2]))
cairn = sys.argv[3:]
checks = 0


def client(who):
    k = keys[who]
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=k["access_key"], aws_secret_access_key=k["secret_key"],
                        config=Config(retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def err(fn, **kw):
    """(code, http status) of a call; (None, 2xx) when it succeeds."""
    try:
        r = fn(**kw)
        return None, r["ResponseMetadata"]["HTTPStatusCode"]
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def denied(fn, what, **kw):
    code, status = err(fn, **kw)
    # HEAD answers carry no body: boto3 reports the status as the code
    check(status == 403 and code in ("AccessDenied", "403"),
          f"{what}: want 403 AccessDenied, got {code} {status}")


def allowed(fn, what, **kw):
    code, status = err(fn, **kw)
    check(code is None, f"{what}: want success, got {code} {status}")


def anon(method, path, **kw):
    return requests.request(method, endpoint + path, timeout=10, **kw)


def run_cairn(*args):
    return subprocess.run(cairn + list(args), check=True, capture_output=True, text=True).stdout


alice, bob, carol = client("alice"), client("bob"), client("carol")
A, B, C = keys["alice"]["id"], keys["bob"]["id"], keys["carol"]["id"]
body = b"alice's data " * 100
big = bytes(range(256)) * 4096  # 1 MiB: erasure coded

# ---- ownership and isolation -------------------------------------------------
allowed(alice.create_bucket, "alice creates a-bkt", Bucket="a-bkt")
allowed(bob.create_bucket, "bob creates b-bkt", Bucket="b-bkt")
allowed(alice.put_object, "alice puts", Bucket="a-bkt", Key="doc", Body=body)
allowed(alice.put_object, "alice puts a big one", Bucket="a-bkt", Key="big", Body=big)
lb = alice.list_buckets()
check([b["Name"] for b in lb["Buckets"]] == ["a-bkt"], f"alice sees only her bucket: {lb['Buckets']}")
check(lb["Owner"]["ID"] == A and lb["Owner"]["DisplayName"] == "alice", f"owner {lb['Owner']}")
check([b["Name"] for b in bob.list_buckets()["Buckets"]] == ["b-bkt"], "bob sees only his bucket")
code, status = err(bob.create_bucket, Bucket="a-bkt")
check((code, status) == ("BucketAlreadyExists", 409), f"bob creating a-bkt: {code} {status}")
allowed(alice.create_bucket, "alice creating a-bkt again (us-east-1: 200)", Bucket="a-bkt")

# Every operation of bob on alice's bucket and objects is refused.
denied(bob.head_bucket, "HeadBucket", Bucket="a-bkt")
denied(bob.list_objects, "ListObjects", Bucket="a-bkt")
denied(bob.list_objects_v2, "ListObjectsV2", Bucket="a-bkt")
denied(bob.get_object, "GetObject", Bucket="a-bkt", Key="doc")
denied(bob.head_object, "HeadObject", Bucket="a-bkt", Key="doc")
denied(bob.put_object, "PutObject", Bucket="a-bkt", Key="x", Body=b"x")
denied(bob.put_object, "PutObject over alice's", Bucket="a-bkt", Key="doc", Body=b"x")
denied(bob.delete_object, "DeleteObject", Bucket="a-bkt", Key="doc")
denied(bob.delete_bucket, "DeleteBucket", Bucket="a-bkt")
denied(bob.get_bucket_location, "GetBucketLocation", Bucket="a-bkt")
denied(bob.get_bucket_versioning, "GetBucketVersioning", Bucket="a-bkt")
denied(bob.get_bucket_acl, "GetBucketAcl", Bucket="a-bkt")
denied(bob.put_bucket_acl, "PutBucketAcl", Bucket="a-bkt", ACL="public-read")
denied(bob.get_object_acl, "GetObjectAcl", Bucket="a-bkt", Key="doc")
denied(bob.put_object_acl, "PutObjectAcl", Bucket="a-bkt", Key="doc", ACL="public-read")
denied(bob.get_bucket_policy, "GetBucketPolicy", Bucket="a-bkt")
denied(bob.delete_bucket_policy, "DeleteBucketPolicy", Bucket="a-bkt")
denied(bob.put_bucket_policy, "PutBucketPolicy", Bucket="a-bkt", Policy=json.dumps({
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                   "Resource": "arn:aws:s3:::a-bkt/*"}]}))
denied(bob.create_multipart_upload, "CreateMultipartUpload", Bucket="a-bkt", Key="mp")
denied(bob.list_multipart_uploads, "ListMultipartUploads", Bucket="a-bkt")
denied(bob.copy_object, "CopyObject from a-bkt", Bucket="b-bkt", Key="stolen",
       CopySource={"Bucket": "a-bkt", "Key": "doc"})
denied(bob.copy_object, "CopyObject into a-bkt", Bucket="a-bkt", Key="planted",
       CopySource={"Bucket": "b-bkt", "Key": "nothing"})
mp = bob.create_multipart_upload(Bucket="b-bkt", Key="mp")
denied(bob.upload_part_copy, "UploadPartCopy from a-bkt", Bucket="b-bkt", Key="mp",
       UploadId=mp["UploadId"], PartNumber=1, CopySource={"Bucket": "a-bkt", "Key": "big"})
bob.abort_multipart_upload(Bucket="b-bkt", Key="mp", UploadId=mp["UploadId"])
# alice's upload in progress: bob may not see or end it
amp = alice.create_multipart_upload(Bucket="a-bkt", Key="amp")
denied(bob.list_parts, "ListParts", Bucket="a-bkt", Key="amp", UploadId=amp["UploadId"])
denied(bob.upload_part, "UploadPart", Bucket="a-bkt", Key="amp", UploadId=amp["UploadId"],
       PartNumber=1, Body=b"p")
denied(bob.abort_multipart_upload, "AbortMultipartUpload", Bucket="a-bkt", Key="amp",
       UploadId=amp["UploadId"])
denied(bob.complete_multipart_upload, "CompleteMultipartUpload", Bucket="a-bkt", Key="amp",
       UploadId=amp["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]})
alice.abort_multipart_upload(Bucket="a-bkt", Key="amp", UploadId=amp["UploadId"])
# DeleteObjects: one AccessDenied entry per key, nothing deleted
res = bob.delete_objects(Bucket="a-bkt", Delete={"Objects": [{"Key": "doc"}, {"Key": "big"}]})
check(sorted(e["Key"] for e in res.get("Errors", [])) == ["big", "doc"] and
      all(e["Code"] == "AccessDenied" for e in res["Errors"]) and not res.get("Deleted"),
      f"bob's DeleteObjects: {res.get('Errors')} {res.get('Deleted')}")
check(alice.get_object(Bucket="a-bkt", Key="doc")["Body"].read() == body, "doc untouched")

# S3's existence rules: a missing bucket is 404 to anyone; a missing key is
# 404 to who may list the bucket and 403 to others.
code, status = err(bob.get_object, Bucket="no-such-bkt", Key="k")
check((code, status) == ("NoSuchBucket", 404), f"missing bucket: {code} {status}")
denied(bob.get_object, "GetObject of a missing key in someone else's bucket", Bucket="a-bkt",
       Key="missing")
code, status = err(alice.get_object, Bucket="a-bkt", Key="missing")
check((code, status) == ("NoSuchKey", 404), f"owner's missing key: {code} {status}")

# ---- anonymous ----------------------------------------------------------------
check(anon("GET", "/a-bkt/doc").status_code == 403, "anonymous GET of a private object")
check(anon("GET", "/a-bkt").status_code == 403, "anonymous list of a private bucket")
check(anon("PUT", "/a-bkt/anon", data=b"x").status_code == 403, "anonymous PUT")
check(anon("GET", "/").status_code == 403, "anonymous ListBuckets")
allowed(alice.put_object_acl, "canned public-read on an object", Bucket="a-bkt", Key="doc",
        ACL="public-read")
r = anon("GET", "/a-bkt/doc")
check(r.status_code == 200 and r.content == body, f"anonymous GET of a public-read object: {r.status_code}")
check(anon("GET", "/a-bkt").status_code == 403, "the bucket is still private")
allowed(alice.put_object, "a public-read PutObject", Bucket="a-bkt", Key="pub", Body=b"pub",
        ACL="public-read")
check(anon("GET", "/a-bkt/pub").content == b"pub", "x-amz-acl on PutObject")
allowed(alice.put_bucket_acl, "public-read bucket", Bucket="a-bkt", ACL="public-read")
check(anon("GET", "/a-bkt?list-type=2").status_code == 200, "anonymous list of a public-read bucket")
check(anon("GET", "/a-bkt/big").status_code == 403, "its private objects stay private")
allowed(alice.put_bucket_acl, "private again", Bucket="a-bkt", ACL="private")
check(anon("GET", "/a-bkt?list-type=2").status_code == 403, "private again")
# authenticated-read: any signed user, not anonymous
allowed(alice.put_object, "authenticated-read", Bucket="a-bkt", Key="auth", Body=b"auth",
        ACL="authenticated-read")
check(carol.get_object(Bucket="a-bkt", Key="auth")["Body"].read() == b"auth", "carol reads authenticated-read")
check(anon("GET", "/a-bkt/auth").status_code == 403, "anonymous does not")

# ---- ACL grants ----------------------------------------------------------------
allowed(alice.put_object_acl, "grant bob READ", Bucket="a-bkt", Key="big",
        GrantRead=f'id="{B}"')
check(hashlib.sha256(bob.get_object(Bucket="a-bkt", Key="big")["Body"].read()).digest() ==
      hashlib.sha256(big).digest(), "bob reads big byte-exact")
denied(carol.get_object, "carol has no grant", Bucket="a-bkt", Key="big")
denied(bob.put_object_acl, "READ is not WRITE_ACP", Bucket="a-bkt", Key="big", ACL="public-read")
acl = alice.get_object_acl(Bucket="a-bkt", Key="big")
check(acl["Owner"]["ID"] == A and any(g["Grantee"].get("ID") == B and g["Permission"] == "READ"
                                      for g in acl["Grants"]), f"GetObjectAcl: {acl}")
# bucket WRITE by an AccessControlPolicy body: bob may write into a-bkt; his
# objects are his, alice needs bucket-owner-full-control to read them
policy = alice.get_bucket_acl(Bucket="a-bkt")
grants = policy["Grants"] + [{"Grantee": {"Type": "CanonicalUser", "ID": B}, "Permission": "WRITE"}]
allowed(alice.put_bucket_acl, "grant bob WRITE (XML body)", Bucket="a-bkt",
        AccessControlPolicy={"Grants": grants, "Owner": policy["Owner"]})
allowed(bob.put_object, "bob writes into a-bkt", Bucket="a-bkt", Key="from-bob", Body=b"b")
denied(alice.get_object, "alice cannot read bob's private object", Bucket="a-bkt", Key="from-bob")
allowed(bob.put_object, "bob writes bucket-owner-full-control", Bucket="a-bkt", Key="for-alice",
        Body=b"fa", ACL="bucket-owner-full-control")
check(alice.get_object(Bucket="a-bkt", Key="for-alice")["Body"].read() == b"fa", "alice reads it")
allowed(alice.delete_object, "the bucket owner deletes bob's object", Bucket="a-bkt", Key="from-bob")
denied(bob.list_objects_v2, "WRITE is not READ", Bucket="a-bkt")
code, _ = err(alice.put_bucket_acl, Bucket="a-bkt", ACL="no-such-canned-acl")
check(code == "InvalidArgument", f"a bad canned ACL: {code}")
code, _ = err(alice.put_object, Bucket="a-bkt", Key="bad-acl", Body=b"x", ACL="public-read",
              GrantRead=f'id="{B}"')
check(code == "InvalidRequest", f"canned ACL and grants together: {code}")
check(err(alice.head_object, Bucket="a-bkt", Key="bad-acl")[1] == 404, "nothing stored by it")

# ---- bucket policies -------------------------------------------------------------
code, status = err(alice.get_bucket_policy, Bucket="a-bkt")
check((code, status) == ("NoSuchBucketPolicy", 404), f"no policy yet: {code} {status}")
pol = {"Version": "2012-10-17", "Statement": [
    {"Sid": "carol-reads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/carol"},
     "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::a-bkt", "arn:aws:s3:::a-bkt/*"]},
    {"Sid": "no-secrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::a-bkt/secret/*"}]}
allowed(alice.put_object, "a secret", Bucket="a-bkt", Key="secret/s", Body=b"s")
allowed(alice.put_bucket_policy, "PutBucketPolicy", Bucket="a-bkt", Policy=json.dumps(pol))
check(json.loads(alice.get_bucket_policy(Bucket="a-bkt")["Policy"]) == pol, "GetBucketPolicy round trip")
check(carol.get_object(Bucket="a-bkt", Key="doc")["Body"].read() == body, "the policy lets carol read")
check(len(carol.list_objects_v2(Bucket="a-bkt")["Contents"]) >= 4, "and list")
denied(carol.put_object, "but not write", Bucket="a-bkt", Key="c", Body=b"c")
denied(carol.get_object, "the Deny beats carol's Allow", Bucket="a-bkt", Key="secret/s")
denied(alice.get_object, "the Deny beats ownership", Bucket="a-bkt", Key="secret/s")
code, _ = err(carol.get_object, Bucket="a-bkt", Key="missing")
check(code == "NoSuchKey", f"carol may list: a missing key is 404 ({code})")
# IP conditions: the test runs on 127.0.0.1
ip_pol = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "carol"}, "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::a-bkt/*", "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
    {"Effect": "Deny", "Principal": {"AWS": "bob"}, "Action": "s3:*",
     "Resource": "arn:aws:s3:::a-bkt/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
allowed(alice.put_bucket_policy, "IP policy", Bucket="a-bkt", Policy=json.dumps(ip_pol))
allowed(carol.get_object, "from 127.0.0.1: allowed", Bucket="a-bkt", Key="big")
denied(bob.get_object, "bob's grant is overridden by the Deny", Bucket="a-bkt", Key="big")
ip_pol["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}
allowed(alice.put_bucket_policy, "IP policy elsewhere", Bucket="a-bkt", Policy=json.dumps(ip_pol))
denied(carol.get_object, "from 127.0.0.1: not allowed any more (takes effect at once)",
       Bucket="a-bkt", Key="big")
# Malformed policies change nothing
for bad, what in [("not json", "not JSON"),
                  (json.dumps({"Statement": []}), "empty"),
                  (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Dance",
                                              "Resource": "arn:aws:s3:::a-bkt/*"}]}), "unknown action"),
                  (json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "nosuchuser"},
                                              "Action": "s3:GetObject",
                                              "Resource": "arn:aws:s3:::a-bkt/*"}]}), "unknown user"),
                  (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                              "Resource": "arn:aws:s3:::b-bkt/*"}]}), "another bucket")]:
    code, status = err(alice.put_bucket_policy, Bucket="a-bkt", Policy=bad)
    check((code, status) == ("MalformedPolicy", 400), f"malformed policy ({what}): {code} {status}")
check(json.loads(alice.get_bucket_policy(Bucket="a-bkt")["Policy"]) == ip_pol, "unchanged")
allowed(alice.delete_bucket_policy, "DeleteBucketPolicy", Bucket="a-bkt")
code, _ = err(alice.get_bucket_policy, Bucket="a-bkt")
check(code == "NoSuchBucketPolicy", "deleted")
check(alice.get_object(Bucket="a-bkt", Key="secret/s")["Body"].read() == b"s", "the Deny is gone")
# a public policy for anonymous reads of one prefix
allowed(alice.put_bucket_policy, "public prefix", Bucket="a-bkt", Policy=json.dumps({
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::a-bkt/pub*"}]}))
check(anon("GET", "/a-bkt/pub").status_code == 200, "Principal * reaches anonymous")
check(anon("GET", "/a-bkt/big").status_code == 403, "only that prefix")
alice.delete_bucket_policy(Bucket="a-bkt")

# ---- quotas ----------------------------------------------------------------------
allowed(carol.create_bucket, "carol's bucket", Bucket="c-bkt")
run_cairn("quota", "set", "--bucket", "c-bkt", "--max-objects", "2")
allowed(carol.put_object, "1st", Bucket="c-bkt", Key="1", Body=b"1")
allowed(carol.put_object, "2nd", Bucket="c-bkt", Key="2", Body=b"2")
code, status = err(carol.put_object, Bucket="c-bkt", Key="3", Body=b"3")
check((code, status) == ("QuotaExceeded", 403), f"3rd object over the quota: {code} {status}")
check(err(carol.head_object, Bucket="c-bkt", Key="3")[1] == 404, "nothing stored")
allowed(carol.put_object, "overwrite within the quota", Bucket="c-bkt", Key="2", Body=b"22")
run_cairn("quota", "set", "--bucket", "c-bkt")
run_cairn("quota", "set", "--user", "carol", "--max-bytes", "1M")
code, status = err(carol.put_object, Bucket="c-bkt", Key="huge", Body=big + b"more")
check((code, status) == ("QuotaExceeded", 403), f"over the user's byte quota: {code} {status}")
check(err(carol.head_object, Bucket="c-bkt", Key="huge")[1] == 404, "nothing stored")
allowed(carol.put_object, "under it", Bucket="c-bkt", Key="ok", Body=b"x" * 1000)
status = json.loads(run_cairn("status", "--json"))
users = {u["user"]: u for u in status["users"]}
check(users["carol"]["usage"] == {"bytes": 1003, "objects": 3} and
      users["carol"]["quota"]["max_bytes"] == 1 << 20, f"carol's usage in status --json: {users['carol']}")
buckets = {b["bucket"]: b for b in status["buckets"]}
check(buckets["c-bkt"]["owner"] == "carol", "bucket owner in status --json")
run_cairn("quota", "set", "--user", "carol")

# ---- keys disabled and deleted -----------------------------------------------------
run_cairn("keys", "disable", keys["carol"]["access_key"])
code, status = err(carol.list_buckets)
check((code, status) == ("InvalidAccessKeyId", 403), f"a disabled key: {code} {status}")
run_cairn("keys", "enable", keys["carol"]["access_key"])
allowed(carol.list_buckets, "enabled again")
# deleted while its owner's client is busy: every request after the delete
# fails, none hangs, and nothing half-written appears
stop = threading.Event()
outcomes = []


def busy():
    c = client("carol")
    i = 0
    while not stop.is_set():
        code, status = err(c.put_object, Bucket="c-bkt", Key=f"busy-{i}", Body=b"b" * 20000)
        outcomes.append((time.monotonic(), code))
        i += 1


t = threading.Thread(target=busy)
t.start()
time.sleep(1.0)
out = run_cairn("keys", "delete", keys["carol"]["access_key"])
deleted_at = time.monotonic()
time.sleep(1.5)
stop.set()
t.join(timeout=30)
check(not t.is_alive(), "the busy client finished")
after = [code for when, code in outcomes if when > deleted_at + 0.5]
check(after and all(code == "InvalidAccessKeyId" for code in after),
      f"after the delete every request fails with InvalidAccessKeyId: {after[:5]}")
check(any(code is None for _, code in outcomes), "before it, requests succeeded")

print(f"tenants: {checks} checks passed")
