"""Lifecycle through boto3 (s3_lifecycle_test.sh), in two phases.

usage: s3_lifecycle.py ENDPOINT AK SK setup|check|setup2|check2

setup: Put/Get/DeleteBucketLifecycleConfiguration and S3's errors on bucket
"lcb", then rules (a "day" is the cluster's --lifecycle-day): logs/ expire after
1 day, objects tagged class=tmp after 1 day, uploads under up/ aborted after 1
day, keep/ under a Disabled rule, v/ under NoncurrentVersionExpiration only
(stored: no versions yet); and the objects and uploads they act on.
check: exits 0 once the due objects and uploads are gone and the others are all
still there; 1 while waiting; 2 (a failed check) if something that must stay
went. setup2/check2: bucket "lcb2", one rule (after/ expire after 1 day) and
objects, for the leader kill; check2 as check."""
import sys

import boto3
import botocore
from botocore.config import Config

endpoint, ak, sk, phase = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=ak, aws_secret_access_key=sk,
                  config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr)
    sys.exit(2)


def err(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    fail(f"{fn.__name__} {kw} succeeded")


def keys(bucket):
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def uploads(bucket):
    return {u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}


RULES = [
    {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
     "Expiration": {"Days": 1}},
    {"ID": "tmp", "Filter": {"Tag": {"Key": "class", "Value": "tmp"}}, "Status": "Enabled",
     "Expiration": {"Days": 1}},
    {"ID": "mpu", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled",
     "Expiration": {"Days": 1}},
    {"ID": "versions", "Filter": {"Prefix": "v/"}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
]
GONE = {"logs/a", "logs/deep/b", "t/x"}
STAY = {"keep/b", "t/y", "v/z", "other"}

if phase == "setup":
    s3.create_bucket(Bucket="lcb")
    code, _ = err(s3.get_bucket_lifecycle_configuration, Bucket="lcb")
    if code != "NoSuchLifecycleConfiguration":
        fail(f"no configuration: {code}")
    code, msg = err(s3.put_bucket_lifecycle_configuration, Bucket="lcb",
                    LifecycleConfiguration={"Rules": [
                        {"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled",
                         "Expiration": {"Days": 0}}]})
    if code != "InvalidArgument" or "positive integer" not in msg:
        fail(f"Days 0: {code} {msg}")
    code, msg = err(s3.put_bucket_lifecycle_configuration, Bucket="lcb",
                    LifecycleConfiguration={"Rules": [
                        {"ID": "d", "Filter": {"Tag": {"Key": "a", "Value": "b"}},
                         "Status": "Enabled",
                         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    if code != "InvalidRequest":
        fail(f"abort with tags: {code} {msg}")
    code, msg = err(s3.put_bucket_lifecycle_configuration, Bucket="lcb",
                    LifecycleConfiguration={"Rules": [
                        {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
                         "Expiration": {"Days": 1}},
                        {"ID": "x", "Filter": {"Prefix": "a"}, "Status": "Enabled",
                         "Expiration": {"Days": 1}}]})
    if code != "InvalidArgument" or "unique" not in msg:
        fail(f"duplicate IDs: {code} {msg}")
    # a rule without an ID gets one; a date at midnight round-trips
    s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": [
        {"Filter": {"Prefix": "x/"}, "Status": "Enabled",
         "Expiration": {"Date": "2030-01-01T00:00:00Z"}}]})
    got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
    if len(got) != 1 or len(got[0].get("ID", "")) == 0 or \
            got[0]["Expiration"]["Date"].isoformat() != "2030-01-01T00:00:00+00:00":
        fail(f"generated ID, date: {got}")
    r = s3.delete_bucket_lifecycle(Bucket="lcb")
    if r["ResponseMetadata"]["HTTPStatusCode"] != 204:
        fail("DeleteBucketLifecycle 204")
    code, _ = err(s3.get_bucket_lifecycle_configuration, Bucket="lcb")
    if code != "NoSuchLifecycleConfiguration":
        fail(f"after delete: {code}")

    s3.put_bucket_lifecycle_configuration(Bucket="lcb",
                                          LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
    if got != RULES:
        fail(f"GetBucketLifecycleConfiguration gives other rules: {got}")
    for k in ["logs/a", "logs/deep/b", "keep/b", "v/z", "other"]:
        s3.put_object(Bucket="lcb", Key=k, Body=b"data")
    s3.put_object(Bucket="lcb", Key="t/x", Body=b"data", Tagging="class=tmp")
    s3.put_object(Bucket="lcb", Key="t/y", Body=b"data", Tagging="class=keep")
    for k in ["up/big", "other-upload"]:
        u = s3.create_multipart_upload(Bucket="lcb", Key=k)
        s3.upload_part(Bucket="lcb", Key=k, UploadId=u["UploadId"], PartNumber=1, Body=b"p" * 1000)
    print("s3_lifecycle.py: setup done")
elif phase == "check":
    have, ups = keys("lcb"), uploads("lcb")
    if not STAY <= have:
        fail(f"expired what no enabled rule expires: {STAY - have}")
    if "other-upload" not in ups:
        fail("aborted an upload no rule aborts")
    if have & GONE or "up/big" in ups:
        print(f"waiting: {sorted(have & GONE)} {sorted(ups)}")
        sys.exit(1)
    print("s3_lifecycle.py: due objects expired, due upload aborted, the rest kept")
elif phase == "setup2":
    s3.create_bucket(Bucket="lcb2")
    s3.put_bucket_lifecycle_configuration(Bucket="lcb2", LifecycleConfiguration={"Rules": [
        {"ID": "after", "Filter": {"Prefix": "after/"}, "Status": "Enabled",
         "Expiration": {"Days": 1}}]})
    for i in range(5):
        s3.put_object(Bucket="lcb2", Key=f"after/{i}", Body=b"x")
    s3.put_object(Bucket="lcb2", Key="stays", Body=b"x")
elif phase == "setupv":
    # A versioned bucket: v1 of "doc" becomes noncurrent when v2 is written
    # and expires a day later (NoncurrentVersionExpiration); "gone" is
    # deleted (a marker), its data version expires the same way, and the
    # marker, then alone, is removed (ExpiredObjectDeleteMarker). "kept/"
    # has no rule.
    s3.create_bucket(Bucket="lcv")
    s3.put_bucket_versioning(Bucket="lcv", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="lcv", LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Filter": {"Prefix": "d/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    for k in ("d/doc", "kept/doc"):
        s3.put_object(Bucket="lcv", Key=k, Body=b"v1")
        s3.put_object(Bucket="lcv", Key=k, Body=b"v2")
    for k in ("d/gone", "kept/gone"):
        s3.put_object(Bucket="lcv", Key=k, Body=b"x")
        s3.delete_object(Bucket="lcv", Key=k)
elif phase == "checkv":
    r = s3.list_object_versions(Bucket="lcv")
    vers = [(v["Key"], v["IsLatest"]) for v in r.get("Versions", [])]
    marks = [(m["Key"], m["IsLatest"]) for m in r.get("DeleteMarkers", [])]
    if vers.count(("kept/doc", False)) != 1 or ("kept/gone", True) not in marks or \
            ("kept/gone", False) not in vers:
        fail(f"expired versions no rule expires: {vers} {marks}")
    if ("d/doc", True) not in vers:
        fail(f"the current version of d/doc expired: {vers}")
    if ("d/doc", False) in vers or any(k == "d/gone" for k, _ in vers + marks):
        print(f"waiting: {vers} {marks}")
        sys.exit(1)
    if s3.get_object(Bucket="lcv", Key="d/doc")["Body"].read() != b"v2":
        fail("d/doc reads another version than v2")
    print("s3_lifecycle.py: noncurrent version and lone delete marker expired, the rest kept")
elif phase == "check2":
    have = keys("lcb2")
    if "stays" not in have:
        fail("lcb2/stays expired")
    if any(k.startswith("after/") for k in have):
        print(f"waiting: {sorted(have)}")
        sys.exit(1)
    print("s3_lifecycle.py: lcb2 expired by the new leader")
