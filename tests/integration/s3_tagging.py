"""Object and bucket tagging through boto3 (s3_tagging_test.sh): tags with
PutObject (x-amz-tagging), CreateMultipartUpload and CopyObject (tagging
directive COPY / REPLACE), Put/Get/DeleteObjectTagging, x-amz-tagging-count,
S3's limits and errors, bucket tagging (NoSuchTagSet), concurrent
PutObjectTagging (the last command wins whole, never a mix), and the policy
condition keys s3:ExistingObjectTag/<k> and s3:RequestObjectTag/<k> for a
second user.

usage: s3_tagging.py ENDPOINT ROOT_AK ROOT_SK BOB_AK BOB_SK
Exits non-zero on the first failed check, naming it."""
import json
import sys
import threading

import boto3
import botocore
from botocore.config import Config

endpoint, root_ak, root_sk, bob_ak, bob_sk = sys.argv[1:6]
checks = 0


def client(ak, sk):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=Config(retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


s3 = client(root_ak, root_sk)
bob = client(bob_ak, bob_sk)


def check(cond, what):
    global checks
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def err(fn, **kw):
    """The S3 error code (and message) fn(**kw) fails with; fails the test
    if it succeeds."""
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    print(f"FAIL: {fn.__name__} {kw} succeeded", file=sys.stderr)
    sys.exit(1)


def tagset(d):
    return {t["Key"]: t["Value"] for t in d}


def tags_of(key, c=None):
    return tagset((c or s3).get_object_tagging(Bucket="tgs", Key=key)["TagSet"])


s3.create_bucket(Bucket="tgs")

# ---- PutObject with x-amz-tagging; GET/HEAD count; GetObjectTagging --------
s3.put_object(Bucket="tgs", Key="a", Body=b"hello", Tagging="project=cairn&empty=&sp%20ace=a%2Bb")
check(tags_of("a") == {"project": "cairn", "empty": "", "sp ace": "a+b"}, f"tags of a: {tags_of('a')}")
check(s3.head_object(Bucket="tgs", Key="a")["ResponseMetadata"]["HTTPHeaders"]
      .get("x-amz-tagging-count") == "3", "HEAD x-amz-tagging-count")
check(s3.get_object(Bucket="tgs", Key="a").get("TagCount") == 3, "GET TagCount")
s3.put_object(Bucket="tgs", Key="plain", Body=b"x")
check(tags_of("plain") == {}, "untagged object: empty TagSet")
check("x-amz-tagging-count" not in s3.head_object(Bucket="tgs", Key="plain")
      ["ResponseMetadata"]["HTTPHeaders"], "no count header without tags")

# ---- Put/DeleteObjectTagging replace the set whole ---------------------------
s3.put_object_tagging(Bucket="tgs", Key="a", Tagging={"TagSet": [{"Key": "k1", "Value": "v1"}]})
check(tags_of("a") == {"k1": "v1"}, "PutObjectTagging replaces")
check(s3.get_object(Bucket="tgs", Key="a")["Body"].read() == b"hello", "data kept")
r = s3.delete_object_tagging(Bucket="tgs", Key="a")
check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "DeleteObjectTagging 204")
check(tags_of("a") == {}, "DeleteObjectTagging empties")

# ---- S3's limits and errors --------------------------------------------------
eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
code, msg = err(s3.put_object_tagging, Bucket="tgs", Key="a", Tagging={"TagSet": eleven})
check(code == "BadRequest" and "greater than 10" in msg, f"11 tags: {code} {msg}")
code, msg = err(s3.put_object_tagging, Bucket="tgs", Key="a",
                Tagging={"TagSet": [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]})
check(code == "InvalidTag", f"duplicate keys: {code}")
code, msg = err(s3.put_object_tagging, Bucket="tgs", Key="a",
                Tagging={"TagSet": [{"Key": "aws:x", "Value": "1"}]})
check(code == "InvalidTag", f"aws: prefix: {code}")
code, msg = err(s3.put_object_tagging, Bucket="tgs", Key="a",
                Tagging={"TagSet": [{"Key": "k" * 129, "Value": "1"}]})
check(code == "InvalidTag" and "max 128" in msg, f"long key: {code} {msg}")
code, msg = err(s3.put_object_tagging, Bucket="tgs", Key="a",
                Tagging={"TagSet": [{"Key": "k", "Value": "v" * 257}]})
check(code == "InvalidTag" and "max 256" in msg, f"long value: {code} {msg}")
s3.put_object_tagging(Bucket="tgs", Key="a",
                      Tagging={"TagSet": [{"Key": "é" * 128, "Value": "ü" * 256}]})
check(tags_of("a") == {"é" * 128: "ü" * 256}, "128/256 characters of two bytes fit")
code, _ = err(s3.put_object_tagging, Bucket="tgs", Key="missing",
              Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
check(code == "NoSuchKey", f"tagging a missing key: {code}")
code, _ = err(s3.get_object_tagging, Bucket="tgs", Key="missing")
check(code == "NoSuchKey", f"GetObjectTagging of a missing key: {code}")
code, _ = err(s3.put_object, Bucket="tgs", Key="b", Body=b"x", Tagging="a=1&a=2")
check(code == "InvalidArgument", f"x-amz-tagging with a repeated key: {code}")
code, _ = err(s3.put_object, Bucket="tgs", Key="b", Body=b"x",
              Tagging="&".join(f"k{i}=v" for i in range(11)))
check(code == "BadRequest", f"x-amz-tagging with 11 tags: {code}")
code, _ = err(s3.head_object, Bucket="tgs", Key="b")
check(code == "404", "a refused PutObject stores nothing")

# ---- a write replaces the tags with its own (none without x-amz-tagging) ------
s3.put_object(Bucket="tgs", Key="over", Body=b"1", Tagging="gen=1")
s3.put_object(Bucket="tgs", Key="over", Body=b"2", Tagging="gen=2")
check(tags_of("over") == {"gen": "2"}, f"overwrite with tags: {tags_of('over')}")
s3.put_object(Bucket="tgs", Key="over", Body=b"3")
check(tags_of("over") == {}, f"overwrite without tags clears them: {tags_of('over')}")

# ---- multipart and copies ----------------------------------------------------
mp = s3.create_multipart_upload(Bucket="tgs", Key="mp", Tagging="from=multipart")
part = s3.upload_part(Bucket="tgs", Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=b"m" * 1000)
s3.complete_multipart_upload(Bucket="tgs", Key="mp", UploadId=mp["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
check(tags_of("mp") == {"from": "multipart"}, "multipart upload keeps its tags")
s3.put_object(Bucket="tgs", Key="src", Body=b"s" * 40000, Tagging="t=src")
s3.copy_object(Bucket="tgs", Key="copy1", CopySource={"Bucket": "tgs", "Key": "src"})
check(tags_of("copy1") == {"t": "src"}, "CopyObject copies tags by default")
s3.copy_object(Bucket="tgs", Key="copy2", CopySource={"Bucket": "tgs", "Key": "src"},
               TaggingDirective="REPLACE", Tagging="t=new&u=2")
check(tags_of("copy2") == {"t": "new", "u": "2"}, "CopyObject REPLACE takes x-amz-tagging")
s3.copy_object(Bucket="tgs", Key="copy3", CopySource={"Bucket": "tgs", "Key": "src"},
               TaggingDirective="REPLACE")
check(tags_of("copy3") == {}, "CopyObject REPLACE without tags: none")
s3.copy_object(Bucket="tgs", Key="copy4", CopySource={"Bucket": "tgs", "Key": "src"},
               MetadataDirective="REPLACE", Metadata={"m": "1"})
check(tags_of("copy4") == {"t": "src"}, "metadata REPLACE keeps the tagging directive's COPY")

# ---- concurrent PutObjectTagging: one whole set wins -------------------------
sets = [[{"Key": f"w{w}k{i}", "Value": str(w)} for i in range(10)] for w in range(6)]


def writer(w):
    c = client(root_ak, root_sk)
    for _ in range(15):
        c.put_object_tagging(Bucket="tgs", Key="a", Tagging={"TagSet": sets[w]})


threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
final = tags_of("a")
check(any(final == tagset(s) for s in sets), f"concurrent PutObjectTagging left a mix: {final}")

# ---- bucket tagging ------------------------------------------------------------
code, _ = err(s3.get_bucket_tagging, Bucket="tgs")
check(code == "NoSuchTagSet", f"GetBucketTagging without tags: {code}")
s3.put_bucket_tagging(Bucket="tgs", Tagging={"TagSet": [{"Key": f"b{i}", "Value": "v"}
                                                       for i in range(50)]})
check(len(s3.get_bucket_tagging(Bucket="tgs")["TagSet"]) == 50, "50 bucket tags")
code, msg = err(s3.put_bucket_tagging, Bucket="tgs",
                Tagging={"TagSet": [{"Key": f"b{i}", "Value": "v"} for i in range(51)]})
check(code == "BadRequest" and "50" in msg, f"51 bucket tags: {code} {msg}")
s3.delete_bucket_tagging(Bucket="tgs")
code, _ = err(s3.get_bucket_tagging, Bucket="tgs")
check(code == "NoSuchTagSet", "DeleteBucketTagging")
code, _ = err(s3.get_bucket_tagging, Bucket="nosuchbucket-tg")
check(code == "NoSuchBucket", f"bucket tagging of a missing bucket: {code}")

# ---- authorization: actions and tag condition keys ---------------------------
s3.put_object(Bucket="tgs", Key="pub", Body=b"public", Tagging="class=public")
s3.put_object(Bucket="tgs", Key="sec", Body=b"secret", Tagging="class=secret")
code, _ = err(bob.get_object_tagging, Bucket="tgs", Key="pub")
check(code == "AccessDenied", f"bob without a policy: {code}")
policy = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::tgs/*",
     "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}}},
    {"Effect": "Allow", "Principal": {"AWS": "bob"},
     "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObjectTagging"],
     "Resource": "arn:aws:s3:::tgs/bob/*",
     "Condition": {"StringEquals": {"s3:RequestObjectTag/owner": "bob"}}},
    # bob owns what he writes (and may tag it): only a Deny limits the owner
    {"Effect": "Deny", "Principal": {"AWS": "bob"}, "Action": "s3:PutObjectTagging",
     "Resource": "arn:aws:s3:::tgs/bob/*",
     "Condition": {"StringNotEquals": {"s3:RequestObjectTag/owner": "bob"}}},
]}
s3.put_bucket_policy(Bucket="tgs", Policy=json.dumps(policy))
check(bob.get_object(Bucket="tgs", Key="pub")["Body"].read() == b"public",
      "ExistingObjectTag allows the public object")
code, _ = err(bob.get_object, Bucket="tgs", Key="sec")
check(code == "AccessDenied", f"ExistingObjectTag denies the secret one: {code}")
bob.put_object(Bucket="tgs", Key="bob/1", Body=b"b", Tagging="owner=bob")
code, _ = err(bob.put_object, Bucket="tgs", Key="bob/2", Body=b"b", Tagging="owner=alice")
check(code == "AccessDenied", f"RequestObjectTag (header) denies another value: {code}")
code, _ = err(bob.put_object, Bucket="tgs", Key="bob/3", Body=b"b")
check(code == "AccessDenied", f"RequestObjectTag absent: {code}")
bob.put_object_tagging(Bucket="tgs", Key="bob/1",
                       Tagging={"TagSet": [{"Key": "owner", "Value": "bob"}, {"Key": "x", "Value": "1"}]})
check(tags_of("bob/1", bob) == {"owner": "bob", "x": "1"}, "RequestObjectTag (body) allows")
code, _ = err(bob.put_object_tagging, Bucket="tgs", Key="bob/1",
              Tagging={"TagSet": [{"Key": "owner", "Value": "eve"}]})
check(code == "AccessDenied", f"RequestObjectTag (body) denies: {code}")
check(tags_of("bob/1") == {"owner": "bob", "x": "1"}, "a denied PutObjectTagging changes nothing")
code, _ = err(bob.delete_object_tagging, Bucket="tgs", Key="pub")
check(code == "AccessDenied", f"DeleteObjectTagging not granted: {code}")
code, _ = err(bob.put_object_tagging, Bucket="tgs", Key="pub",
              Tagging={"TagSet": [{"Key": "owner", "Value": "bob"}]})
check(code == "AccessDenied", f"PutObjectTagging of another's object: {code}")
check(tags_of("pub") == {"class": "public"}, "tags of pub unchanged")
code, _ = err(bob.put_bucket_tagging, Bucket="tgs", Tagging={"TagSet": []})
check(code == "AccessDenied", f"bob's PutBucketTagging: {code}")
print(f"s3_tagging.py: {checks} checks passed")
