"""boto3 checks for s3_clients_test.sh: round trips, ranges, listings,
conditional requests, multi-delete and error codes against a running gateway.

usage: s3_boto3_checks.py ENDPOINT BUCKET DATA_DIR
Reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment. Exits
non-zero (with a message) on the first failed check."""
import hashlib
import os
import random
import sys

import boto3
import botocore
from botocore.config import Config

endpoint, bucket, data_dir = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
rng = random.Random(42)


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def sha(b):
    return hashlib.sha256(b).hexdigest()


# Round trips at the inline boundary and around it, with attributes.
for size in (0, 1, 16383, 16384, 16385, 300000):
    body = os.urandom(size)
    r = s3.put_object(Bucket=bucket, Key=f"boto/rt-{size}", Body=body, ContentType="text/x-test",
                      Metadata={"color": "blue", "n": str(size)}, CacheControl="max-age=5")
    check(r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), f"ETag of {size} bytes")
    g = s3.get_object(Bucket=bucket, Key=f"boto/rt-{size}")
    got = g["Body"].read()
    check(sha(got) == sha(body), f"round trip of {size} bytes")
    check(g["ContentType"] == "text/x-test", f"content type of {size}: {g['ContentType']}")
    check(g["Metadata"] == {"color": "blue", "n": str(size)}, f"metadata of {size}: {g['Metadata']}")
    check(g["CacheControl"] == "max-age=5", "cache control")
    h = s3.head_object(Bucket=bucket, Key=f"boto/rt-{size}")
    check(h["ContentLength"] == size, f"HEAD length of {size}")
for key in ("weird/ä ö+%20&=?#;:.txt", "weird/a//b/", "weird/~!$'()*,@[]"):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    check(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode(), f"key {key!r}")
    check([o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]] == [key],
          f"listing of key {key!r}")
    s3.delete_object(Bucket=bucket, Key=key)
print("boto3: round trips ok")

# Ranged reads of the big file, at random offsets (stripe and group edges too).
path = os.path.join(data_dir, "f40m")
with open(path, "rb") as f:
    big = f.read()
n = len(big)
offsets = [(0, 0), (0, 99), (1048575, 1048576), (4194303, 4194304 + 10), (16777215, 16777216),
           (n - 1, n - 1), (n - 100, n + 1000)]
offsets += [(a, a + rng.randrange(1, 3000000)) for a in (rng.randrange(n) for _ in range(8))]
for first, last in offsets:
    g = s3.get_object(Bucket=bucket, Key="f40m", Range=f"bytes={first}-{last}")
    got = g["Body"].read()
    want = big[first:last + 1]
    check(got == want, f"range {first}-{last}: got {len(got)} bytes")
    check(g["ContentRange"] == f"bytes {first}-{min(last, n - 1)}/{n}", g["ContentRange"])
g = s3.get_object(Bucket=bucket, Key="f40m", Range="bytes=-1000")
check(g["Body"].read() == big[-1000:], "suffix range")
g = s3.get_object(Bucket=bucket, Key="f40m", Range=f"bytes={n - 5000}-")
check(g["Body"].read() == big[n - 5000:], "open range")
check(error_code(s3.get_object, Bucket=bucket, Key="f40m", Range=f"bytes={n}-")
      == ("InvalidRange", 416), "416 past the end")
print("boto3: ranges ok")

# Listings against what a sorted list says.
keys = sorted([f"l/{d}/{i:03d}" for d in ("a", "b", "c d") for i in range(9)] + ["l/top", "l/z+1"])
for k in keys:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
got, token = [], None
while True:
    kw = {"Bucket": bucket, "Prefix": "l/", "MaxKeys": 7}
    if token:
        kw["ContinuationToken"] = token
    page = s3.list_objects_v2(**kw)
    got += [o["Key"] for o in page.get("Contents", [])]
    check(page["KeyCount"] <= 7, "page size")
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
check(got == keys, f"v2 paging: {got}")
page = s3.list_objects_v2(Bucket=bucket, Prefix="l/", Delimiter="/")
check([p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["l/a/", "l/b/", "l/c d/"],
      f"common prefixes {page.get('CommonPrefixes')}")
check([o["Key"] for o in page.get("Contents", [])] == ["l/top", "l/z+1"], "delimiter contents")
page = s3.list_objects_v2(Bucket=bucket, Prefix="l/", StartAfter="l/b/004")
check([o["Key"] for o in page["Contents"]] == [k for k in keys if k > "l/b/004"], "start-after")
got, marker = [], ""
while True:
    page = s3.list_objects(Bucket=bucket, Prefix="l/", Marker=marker, MaxKeys=10)
    got += [o["Key"] for o in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    marker = got[-1]
check(got == keys, "v1 paging")
page = s3.list_objects(Bucket=bucket, Prefix="l/c", Delimiter="/", EncodingType="url")
# botocore leaves values encoded when the caller asked for encoding-type=url.
check([p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["l/c%20d/"],
      f"url-encoded listing: {page.get('CommonPrefixes')}")
print("boto3: listings ok")

# Conditional GET/HEAD.
h = s3.head_object(Bucket=bucket, Key="f40m")
etag, lm = h["ETag"], h["LastModified"]
check(error_code(s3.get_object, Bucket=bucket, Key="f40m", IfNoneMatch=etag)[1] == 304, "304")
check(error_code(s3.get_object, Bucket=bucket, Key="f40m", IfMatch='"0123"')
      == ("PreconditionFailed", 412), "If-Match mismatch")
check(error_code(s3.head_object, Bucket=bucket, Key="f40m", IfModifiedSince=lm)[1] == 304,
      "If-Modified-Since")
g = s3.get_object(Bucket=bucket, Key="f40m", IfMatch=etag, Range="bytes=0-9")
check(g["Body"].read() == big[:10], "If-Match match")
print("boto3: conditional requests ok")

# Multipart: 3 parts (5 MiB, 5 MiB, 1 byte), ListParts, ListMultipartUploads,
# the S3 multipart ETag, and abort.
parts_data = [os.urandom(5 << 20), os.urandom(5 << 20), b"z"]
up = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj", ContentType="x/mp",
                                Metadata={"m": "1"})
uid = up["UploadId"]
etags = []
for i, d in enumerate(parts_data, 1):
    etags.append(s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=i,
                                Body=d)["ETag"])
lp = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)
check([p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3], "ListParts")
check([p["Size"] for p in lp["Parts"]] == [len(d) for d in parts_data], "ListParts sizes")
lu = s3.list_multipart_uploads(Bucket=bucket)
check(any(u["UploadId"] == uid for u in lu.get("Uploads", [])), "ListMultipartUploads")
check(error_code(s3.complete_multipart_upload, Bucket=bucket, Key="mp/obj", UploadId=uid,
                 MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]},
                                            {"PartNumber": 1, "ETag": etags[0]}]})[0]
      == "InvalidPartOrder", "InvalidPartOrder")
check(error_code(s3.complete_multipart_upload, Bucket=bucket, Key="mp/obj", UploadId=uid,
                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]})[0]
      == "InvalidPart", "InvalidPart")
r = s3.complete_multipart_upload(
    Bucket=bucket, Key="mp/obj", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
want_etag = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest()
check(r["ETag"] == '"%s-3"' % want_etag, f"multipart ETag {r['ETag']}")
g = s3.get_object(Bucket=bucket, Key="mp/obj")
whole = b"".join(parts_data)
check(g["Body"].read() == whole, "multipart object bytes")
check(g["ContentType"] == "x/mp" and g["Metadata"] == {"m": "1"}, "multipart attributes")
g = s3.get_object(Bucket=bucket, Key="mp/obj", Range="bytes=5242870-5242889")
check(g["Body"].read() == whole[5242870:5242890], "range across parts")
up2 = s3.create_multipart_upload(Bucket=bucket, Key="mp/aborted")
s3.upload_part(Bucket=bucket, Key="mp/aborted", UploadId=up2["UploadId"], PartNumber=1, Body=b"q")
s3.abort_multipart_upload(Bucket=bucket, Key="mp/aborted", UploadId=up2["UploadId"])
check(error_code(s3.list_parts, Bucket=bucket, Key="mp/aborted", UploadId=up2["UploadId"])
      == ("NoSuchUpload", 404), "NoSuchUpload after abort")
check(error_code(s3.head_object, Bucket=bucket, Key="mp/aborted")[1] == 404, "aborted invisible")
print("boto3: multipart ok")

# CopyObject (COPY and REPLACE directives) and UploadPartCopy.
s3.copy_object(Bucket=bucket, Key="cp/a", CopySource={"Bucket": bucket, "Key": "mp/obj"})
g = s3.get_object(Bucket=bucket, Key="cp/a")
check(g["Body"].read() == whole and g["Metadata"] == {"m": "1"}, "CopyObject COPY")
s3.copy_object(Bucket=bucket, Key="cp/b", CopySource={"Bucket": bucket, "Key": "boto/rt-16385"},
               MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="a/b")
g = s3.get_object(Bucket=bucket, Key="cp/b")
check(g["Metadata"] == {"new": "yes"} and g["ContentType"] == "a/b", "CopyObject REPLACE")
check(len(g["Body"].read()) == 16385, "CopyObject inline-size source")
check(error_code(s3.copy_object, Bucket=bucket, Key="cp/c",
                 CopySource={"Bucket": bucket, "Key": "no/such"})[0] == "NoSuchKey",
      "CopyObject NoSuchKey")
up3 = s3.create_multipart_upload(Bucket=bucket, Key="cp/parts")
e1 = s3.upload_part_copy(Bucket=bucket, Key="cp/parts", UploadId=up3["UploadId"], PartNumber=1,
                         CopySource={"Bucket": bucket, "Key": "f40m"},
                         CopySourceRange="bytes=1000-5243879")["CopyPartResult"]["ETag"]
e2 = s3.upload_part_copy(Bucket=bucket, Key="cp/parts", UploadId=up3["UploadId"], PartNumber=2,
                         CopySource={"Bucket": bucket, "Key": "f40m"},
                         CopySourceRange="bytes=0-99")["CopyPartResult"]["ETag"]
s3.complete_multipart_upload(Bucket=bucket, Key="cp/parts", UploadId=up3["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                        {"PartNumber": 2, "ETag": e2}]})
got = s3.get_object(Bucket=bucket, Key="cp/parts")["Body"].read()
check(got == big[1000:5243880] + big[:100], "UploadPartCopy")
print("boto3: copy ok")

# A presigned GET, fetched without any signing client.
s3v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "boto/rt-300000"},
                                ExpiresIn=300)
import urllib.request
with urllib.request.urlopen(url) as resp:
    body = resp.read()
check(len(body) == 300000, "presigned GET")
print("boto3: presigned ok")

# Multi-delete, then the keys are gone.
r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
check(len(r.get("Deleted", [])) == len(keys) and not r.get("Errors"), "multi-delete")
check("Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="l/"), "listing after delete")

# Errors.
check(error_code(s3.get_object, Bucket=bucket, Key="no/such/key") == ("NoSuchKey", 404), "NoSuchKey")
check(error_code(s3.get_object, Bucket="no-such-bucket-x", Key="k") == ("NoSuchBucket", 404),
      "NoSuchBucket on GET")
check(error_code(s3.put_object, Bucket="no-such-bucket-x", Key="k", Body=b"x")
      == ("NoSuchBucket", 404), "NoSuchBucket on PUT")
check(error_code(s3.list_objects_v2, Bucket="no-such-bucket-x") == ("NoSuchBucket", 404),
      "NoSuchBucket on list")
check(error_code(s3.head_bucket, Bucket="no-such-bucket-x")[1] == 404, "HeadBucket 404")
check(error_code(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409), "BucketNotEmpty")
# us-east-1 keeps S3's old answer for a bucket you already own: 200
check(error_code(s3.create_bucket, Bucket=bucket) == (None, 200),
      "CreateBucket of an owned bucket in us-east-1")
check(error_code(s3.create_bucket, Bucket="Bad_Name")[0] == "InvalidBucketName",
      "InvalidBucketName")
check(error_code(s3.head_object, Bucket=bucket, Key="no/such/key")[1] == 404, "HEAD 404")
bad = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                   aws_secret_access_key="wrong" + os.environ["AWS_SECRET_ACCESS_KEY"][5:],
                   config=Config(retries={"max_attempts": 1}))
check(error_code(bad.get_object, Bucket=bucket, Key="f40m") == ("SignatureDoesNotMatch", 403),
      "SignatureDoesNotMatch")
nokey = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="NOSUCHKEY0000000", aws_secret_access_key="x" * 40,
                     config=Config(retries={"max_attempts": 1}))
check(error_code(nokey.list_buckets) == ("InvalidAccessKeyId", 403), "InvalidAccessKeyId")
print("boto3: errors ok")
