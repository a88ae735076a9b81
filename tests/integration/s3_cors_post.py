"""CORS and browser POST uploads through boto3 and raw HTTP (s3_cors_post_test.sh):
Put/Get/DeleteBucketCors and its errors; preflight OPTIONS answered from the rules
(origin wildcards, methods, Access-Control-Request-Headers, MaxAgeSeconds,
ExposeHeaders, Vary, 403 when no rule matches); CORS headers on actual requests,
errors included; POST object uploads with a SigV4 POST policy made by boto3's
generate_presigned_post (conditions eq / starts-with / content-length-range,
expiration, success_action_status / success_action_redirect, ${filename},
x-amz-meta-*, Content-Type, tagging, signature checked) and anonymous POSTs
allowed only by a bucket policy.

usage: s3_cors_post.py ENDPOINT ROOT_AK ROOT_SK
Exits non-zero on the first failed check, naming it."""
import base64
import hashlib
from http.client import HTTPConnection
import json
import re
import sys
import urllib.parse
import uuid

import boto3
import botocore
from botocore.config import Config

endpoint, root_ak, root_sk = sys.argv[1:4]
ep = urllib.parse.urlparse(endpoint)
checks = 0

s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=root_ak, aws_secret_access_key=root_sk,
                  config=Config(retries={"max_attempts": 1}, signature_version="s3v4",
                                s3={"addressing_style": "path"}))


def check(cond, what):
    global checks
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def err(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    print(f"FAIL: {fn.__name__} {kw} succeeded", file=sys.stderr)
    sys.exit(1)


def http(method, path, headers=None, body=None):
    """(status, headers as a lower-cased dict, body) of one raw request."""
    c = HTTPConnection(ep.hostname, ep.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    h = {}
    for k, v in r.getheaders():
        if k.lower() in h and k.lower() not in ("vary",):
            print(f"FAIL: {method} {path}: header {k} sent twice", file=sys.stderr)
            sys.exit(1)
        h[k.lower()] = v
    c.close()
    return r.status, h, data


def code_of(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else ""


# ---- Put/Get/DeleteBucketCors ------------------------------------------------
s3.create_bucket(Bucket="web")
s3.create_bucket(Bucket="plain")
code, _ = err(s3.get_bucket_cors, Bucket="web")
check(code == "NoSuchCORSConfiguration", f"GetBucketCors without one: {code}")
rules = [
    {"ID": "app", "AllowedOrigins": ["http://app.example.com", "https://*.example.org"],
     "AllowedMethods": ["GET", "PUT", "POST"], "AllowedHeaders": ["x-amz-*", "Content-Type"],
     "ExposeHeaders": ["ETag", "x-amz-meta-who"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]
r = s3.put_bucket_cors(Bucket="web", CORSConfiguration={"CORSRules": rules})
check(r["ResponseMetadata"]["HTTPStatusCode"] == 200, "PutBucketCors 200")
got = s3.get_bucket_cors(Bucket="web")["CORSRules"]
check(got == rules, f"GetBucketCors gives the rules back: {got}")
code, msg = err(s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]})
check(code == "InvalidRequest" and "PATCH" in msg, f"method PATCH: {code} {msg}")
code, msg = err(s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["http://*.*.com"], "AllowedMethods": ["GET"]}]})
check(code == "InvalidRequest" and "wildcard" in msg, f"two wildcards: {code} {msg}")
code, _ = err(s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": []})
check(code == "MalformedXML", f"no rules: {code}")
check(s3.get_bucket_cors(Bucket="web")["CORSRules"] == rules, "a refused PutBucketCors changes nothing")
code, _ = err(s3.get_bucket_cors, Bucket="nosuchbucket-cors")
check(code == "NoSuchBucket", f"GetBucketCors of a missing bucket: {code}")
s3.put_bucket_cors(Bucket="plain", CORSConfiguration={"CORSRules": rules})
r = s3.delete_bucket_cors(Bucket="plain")
check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "DeleteBucketCors 204")
code, _ = err(s3.get_bucket_cors, Bucket="plain")
check(code == "NoSuchCORSConfiguration", f"after DeleteBucketCors: {code}")

# ---- preflight ---------------------------------------------------------------
st, h, body = http("OPTIONS", "/web/some/key", {
    "Origin": "http://app.example.com", "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "X-Amz-Meta-Who, content-type"})
check(st == 200, f"preflight allowed: {st} {body!r}")
check(h.get("access-control-allow-origin") == "http://app.example.com", f"ACAO: {h}")
check(h.get("access-control-allow-credentials") == "true", "credentials allowed for an origin")
check(h.get("access-control-allow-methods") == "GET, PUT, POST", f"ACAM: {h}")
check(h.get("access-control-allow-headers") == "x-amz-meta-who, content-type", f"ACAH: {h}")
check(h.get("access-control-max-age") == "600", f"max-age: {h}")
check(h.get("access-control-expose-headers") == "ETag, x-amz-meta-who", f"expose: {h}")
check("Origin" in h.get("vary", ""), f"Vary: {h}")
st, h, _ = http("OPTIONS", "/web/k", {"Origin": "https://cdn.eu.example.org",
                                      "Access-Control-Request-Method": "GET"})
check(st == 200 and h.get("access-control-allow-origin") == "https://cdn.eu.example.org",
      f"origin wildcard: {st} {h}")
check("access-control-allow-headers" not in h, "no requested headers, none allowed back")
st, h, _ = http("OPTIONS", "/web/k", {"Origin": "http://evil.example.com",
                                      "Access-Control-Request-Method": "HEAD"})
check(st == 200 and h.get("access-control-allow-origin") == "*", f"rule '*': {st} {h}")
check("access-control-allow-credentials" not in h, "no credentials for '*'")
check("access-control-max-age" not in h, "no max-age without MaxAgeSeconds")
st, h, body = http("OPTIONS", "/web/k", {"Origin": "http://evil.example.com",
                                         "Access-Control-Request-Method": "GET"})
check(st == 403 and code_of(body) == "AccessForbidden" and b"CORSResponse" in body,
      f"no rule for the origin: {st} {body!r}")
check("access-control-allow-origin" not in h, "no CORS headers on a refused preflight")
st, _, body = http("OPTIONS", "/web/k", {"Origin": "http://app.example.com",
                                         "Access-Control-Request-Method": "DELETE"})
check(st == 403 and code_of(body) == "AccessForbidden", f"method not allowed: {st}")
st, _, body = http("OPTIONS", "/web/k", {"Origin": "http://app.example.com",
                                         "Access-Control-Request-Method": "PUT",
                                         "Access-Control-Request-Headers": "x-amz-meta-a, x-custom"})
check(st == 403 and code_of(body) == "AccessForbidden", f"a header not allowed: {st}")
st, _, body = http("OPTIONS", "/web/k", {"Origin": "HTTP://APP.EXAMPLE.COM",
                                         "Access-Control-Request-Method": "GET"})
check(st == 403, f"origins match case-sensitively: {st}")
st, _, body = http("OPTIONS", "/plain/k", {"Origin": "http://app.example.com",
                                           "Access-Control-Request-Method": "GET"})
check(st == 403 and b"CORS is not enabled for this bucket" in body,
      f"bucket without CORS: {st} {body!r}")
st, _, body = http("OPTIONS", "/nosuchbucket-cors/k", {"Origin": "http://app.example.com",
                                                       "Access-Control-Request-Method": "GET"})
check(st == 403, f"missing bucket reads as no CORS: {st}")
st, _, body = http("OPTIONS", "/web/k", {"Access-Control-Request-Method": "GET"})
check(st == 400 and code_of(body) == "BadRequest", f"preflight without Origin: {st}")
st, _, body = http("OPTIONS", "/web/k", {"Origin": "http://app.example.com"})
check(st == 400, f"preflight without Access-Control-Request-Method: {st}")

# ---- CORS headers on actual requests -----------------------------------------
s3.put_object(Bucket="web", Key="hello.txt", Body=b"hello", Metadata={"who": "me"})
url = s3.generate_presigned_url("get_object", Params={"Bucket": "web", "Key": "hello.txt"})
path = url[len(endpoint):]
st, h, body = http("GET", path, {"Origin": "http://app.example.com"})
check(st == 200 and body == b"hello", f"signed GET with Origin: {st}")
check(h.get("access-control-allow-origin") == "http://app.example.com", f"GET ACAO: {h}")
check(h.get("access-control-expose-headers") == "ETag, x-amz-meta-who", f"GET expose: {h}")
check("Origin" in h.get("vary", ""), f"GET Vary: {h}")
st, h, _ = http("GET", path, {"Origin": "http://evil.example.com"})
check(st == 200 and "access-control-allow-origin" not in h, f"no rule, no headers: {h}")
st, h, _ = http("GET", path)
check("access-control-allow-origin" not in h, "no Origin, no CORS headers")
url = s3.generate_presigned_url("get_object", Params={"Bucket": "web", "Key": "missing"})
st, h, body = http("GET", url[len(endpoint):], {"Origin": "https://x.example.org"})
check(st == 404 and h.get("access-control-allow-origin") == "https://x.example.org",
      f"an error carries CORS headers: {st} {h}")
st, h, body = http("GET", "/web/hello.txt", {"Origin": "http://app.example.com"})
check(st == 403 and h.get("access-control-allow-origin") == "http://app.example.com",
      f"an anonymous refusal carries CORS headers: {st} {h}")


# ---- POST object -------------------------------------------------------------
def form(fields, file_body, filename="hello.txt", ctype="text/plain", file_first=False):
    """A multipart/form-data body (fields in order, then the file)."""
    b = "----cairn" + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode()
                     + v.encode() + b"\r\n")
    fp = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
          f"Content-Type: {ctype}\r\n\r\n").encode() + file_body + b"\r\n"
    parts = [fp] + parts if file_first else parts + [fp]
    return b"".join(parts) + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def post(bucket, fields, file_body, headers=None, **kw):
    body, ct = form(fields, file_body, **kw)
    hd = {"Content-Type": ct}
    hd.update(headers or {})
    return http("POST", f"/{bucket}", hd, body)


def presigned(key, fields=None, conditions=None, expires=300):
    p = s3.generate_presigned_post(Bucket="web", Key=key, Fields=fields or {},
                                   Conditions=conditions or [], ExpiresIn=expires)
    check(p["fields"].get("x-amz-algorithm") == "AWS4-HMAC-SHA256", "boto3 signs with SigV4")
    return dict(p["fields"])


cond = [["starts-with", "$key", "up/"], {"success_action_status": "201"},
        {"x-amz-meta-who": "form"}, ["starts-with", "$Content-Type", "text/"],
        ["content-length-range", 1, 100]]
base = {"success_action_status": "201", "x-amz-meta-who": "form", "Content-Type": "text/plain"}
f = presigned("up/${filename}", base, cond)
st, h, body = post("web", f, b"hello form", filename="C:\\Users\\me\\hello.txt",
                   headers={"Origin": "http://app.example.com"})
check(st == 201, f"POST upload: {st} {body!r}")
check(b"<Key>up/hello.txt</Key>" in body and b"<Bucket>web</Bucket>" in body,
      f"${{filename}} is the file's base name: {body!r}")
o = s3.get_object(Bucket="web", Key="up/hello.txt")
check(o["Body"].read() == b"hello form", "POSTed bytes stored")
check(o["ContentType"] == "text/plain" and o["Metadata"] == {"who": "form"},
      f"Content-Type and x-amz-meta-* fields applied: {o['ContentType']} {o['Metadata']}")
check(f'<ETag>{o["ETag"]}</ETag>'.encode() in body and h.get("etag") == o["ETag"], "ETag")
check(h.get("access-control-allow-origin") == "http://app.example.com", "POST answer has CORS")
st, _, body = post("web", f, b"x" * 101)
check(st == 400 and code_of(body) == "EntityTooLarge", f"over content-length-range: {st} {body!r}")
st, _, body = post("web", f, b"")
check(st == 400 and code_of(body) == "EntityTooSmall", f"under content-length-range: {st}")
check(s3.list_objects_v2(Bucket="web", Prefix="up/")["KeyCount"] == 1, "refused POSTs store nothing")
bad = dict(f, key="down/x")
st, _, body = post("web", bad, b"x")
check(st == 403 and code_of(body) == "AccessDenied" and b"starts-with" in body,
      f"a field against the policy: {st} {body!r}")
bad = dict(f, **{"x-amz-meta-extra": "1"})
st, _, body = post("web", bad, b"x")
check(st == 403 and b"Extra input fields" in body, f"a field the policy does not cover: {body!r}")
bad = dict(f, **{"Content-Type": "image/png"})
st, _, body = post("web", bad, b"x")
check(st == 403 and code_of(body) == "AccessDenied", f"Content-Type against starts-with: {st}")
sig = f["x-amz-signature"]
bad = dict(f, **{"x-amz-signature": ("0" if sig[0] != "0" else "1") + sig[1:]})
st, _, body = post("web", bad, b"x")
check(st == 403 and code_of(body) == "SignatureDoesNotMatch", f"bad signature: {st} {body!r}")
bad = dict(f, **{"x-amz-credential": "AKNOSUCHKEY" + f["x-amz-credential"][len(root_ak):]})
st, _, body = post("web", bad, b"x")
check(st == 403 and code_of(body) == "InvalidAccessKeyId", f"unknown key: {st} {body!r}")
bad = dict(f)
del bad["x-amz-signature"]
st, _, body = post("web", bad, b"x")
check(st == 400 and code_of(body) == "MissingFields", f"policy without signature: {st} {body!r}")
st, _, body = post("web", dict(f, policy="bm90IGpzb24="), b"x")
check(st == 400 and code_of(body) == "InvalidPolicyDocument", f"not JSON: {st} {body!r}")
expired = presigned("up/late", {}, [], expires=-60)
st, _, body = post("web", expired, b"x")
check(st == 403 and code_of(body) == "AccessDenied" and b"expired" in body,
      f"expired policy: {st} {body!r}")
st, _, body = post("web", f, b"x", file_first=True)
check(st == 400 and code_of(body) == "InvalidArgument" and b"field named &apos;key" in body,
      f"file before the key: {st} {body!r}")

# default answer, redirect, tagging
f = presigned("up/plain", {}, [])
st, h, body = post("web", f, b"p")
check(st == 204 and body == b"", f"default success: 204: {st}")
check(h.get("location", "").endswith("/web/up/plain"), f"Location: {h}")
f = presigned("up/redir", {"success_action_redirect": "http://127.0.0.1:9/done?x=1"},
              [{"success_action_redirect": "http://127.0.0.1:9/done?x=1"}])
st, h, body = post("web", f, b"r")
loc = h.get("location", "")
check(st == 303 and loc.startswith("http://127.0.0.1:9/done?x=1&bucket=web&key=up%2Fredir&etag=%22"),
      f"success_action_redirect: {st} {loc}")
tagging = "<Tagging><TagSet><Tag><Key>src</Key><Value>form</Value></Tag></TagSet></Tagging>"
f = presigned("up/tagged", {"tagging": tagging}, [{"tagging": tagging}])
st, _, body = post("web", f, b"t")
check(st == 204, f"POST with tagging: {st} {body!r}")
ts = s3.get_object_tagging(Bucket="web", Key="up/tagged")["TagSet"]
check(ts == [{"Key": "src", "Value": "form"}], f"tagging field applied: {ts}")

# the Content-MD5 field is checked as the header is
good = base64.b64encode(hashlib.md5(b"digest").digest()).decode()
f = presigned("up/md5", {"Content-MD5": good}, [{"Content-MD5": good}])
st, _, body = post("web", f, b"digest")
check(st == 204, f"POST with a matching Content-MD5: {st} {body!r}")
st, _, body = post("web", f, b"other")
check(st == 400 and code_of(body) == "BadDigest", f"Content-MD5 mismatch: {st} {body!r}")
check(s3.get_object(Bucket="web", Key="up/md5")["Body"].read() == b"digest",
      "a BadDigest POST replaces nothing")

# anonymous POSTs: only as a bucket policy allows PutObject to everyone
st, _, body = post("web", {"key": "public/anon.txt"}, b"anon")
check(st == 403 and code_of(body) == "AccessDenied", f"anonymous POST to a private bucket: {st}")
s3.put_bucket_policy(Bucket="web", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": ["s3:PutObject", "s3:GetObject"],
     "Resource": "arn:aws:s3:::web/public/*"}]}))
st, _, body = post("web", {"key": "public/anon.txt"}, b"anon")
check(st == 204, f"anonymous POST the policy allows: {st} {body!r}")
check(s3.get_object(Bucket="web", Key="public/anon.txt")["Body"].read() == b"anon", "anon stored")
st, _, body = post("web", {"key": "private/anon.txt"}, b"anon")
check(st == 403, f"anonymous POST outside the policy: {st}")
st, _, body = post("web", {"key": "public/x", "x-amz-signature": "00"}, b"x")
check(st in (400, 403), f"a signature without a policy: {st}")
s3.delete_bucket_policy(Bucket="web")

# a versioned bucket: each POST makes a version and names it, as PutObject does
s3.create_bucket(Bucket="webv")
s3.put_bucket_versioning(Bucket="webv", VersioningConfiguration={"Status": "Enabled"})
vids = []
for data in (b"v1", b"v2"):
    p = s3.generate_presigned_post(Bucket="webv", Key="doc.txt", ExpiresIn=300)
    st, h, body = post("webv", dict(p["fields"]), data)
    check(st == 204 and h.get("x-amz-version-id"), f"versioned POST names its version: {st} {h}")
    vids.append(h.get("x-amz-version-id"))
vs = s3.list_object_versions(Bucket="webv", Prefix="doc.txt")["Versions"]
check(sorted(v["VersionId"] for v in vs) == sorted(vids) and len(set(vids)) == 2,
      f"the ids answered are the versions stored: {vids} {vs}")
check(s3.get_object(Bucket="webv", Key="doc.txt", VersionId=vids[0])["Body"].read() == b"v1",
      "the first version's bytes by its id")
print(f"s3_cors_post.py: {checks} checks passed")
