"""S3 conformance checks (issue #13) for s3_more_clients_test.sh: S3's exact
answers where the gateway used to differ, through real clients -- boto3,
hand-signed requests (a SigV4 signer here, checked against botocore's) and
curl.

  1. CompleteMultipartUpload repeated after it succeeded: 200, same ETag;
     copies of one part number: the one the Complete names wins
  2. GET/HEAD ?partNumber=N
  3. PUT / UploadPart sent chunked without Content-Length
  4. non-ASCII user metadata (RFC 2047) and Content-Encoding spelling
  5. Date vs x-amz-date as the signing time
  6. presigned URLs: X-Amz-Expires out of range, expired
  7. UploadPartCopy with a range past the source
  8. listings: empty continuation-token, encoding-type=url everywhere
  9. keys that are not UTF-8, keys with control characters

usage: s3_conformance.py ENDPOINT BUCKET
Reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment. Exits
non-zero (with a message) on the first failed check."""
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

endpoint, bucket = sys.argv[1:3]
AK, SK = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = "us-east-1"
HOST = urllib.parse.urlparse(endpoint).netloc
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MIB = 1024 * 1024
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                  config=Config(signature_version="s3v4", retries={"max_attempts": 1},
                                s3={"addressing_style": "path"}))
rng = random.Random(13)


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def rand(n):
    return rng.randbytes(n)


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


# ---- a SigV4 signer with every knob (raw bytes, Date, unsigned bodies) ----

def q(s, safe="-_.~"):
    if isinstance(s, str):
        s = s.encode()
    return urllib.parse.quote_from_bytes(s, safe=safe)


def key_path(key):
    """/bucket/key, the key URI-encoded once (str or raw bytes)."""
    return "/" + bucket + "/" + q(key, safe="-_.~/")


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def h(self, name):
        return self.headers.get(name.lower())

    def code(self):
        m = re.search(rb"<Code>(.*?)</Code>", self.body)
        return m.group(1).decode() if m else None

    def elem(self, name):
        m = re.search(rb"<%s>(.*?)</%s>" % (name.encode(), name.encode()), self.body, re.S)
        return m.group(1).decode() if m else None

    def __repr__(self):
        return f"HTTP {self.status} {self.headers} {self.body[:400]!r}"


def signed_headers(method, path, query, headers, payload_hash, when=None, date_mode="amz",
                   sign_time=None):
    """The request's headers with Authorization. date_mode: "amz" (x-amz-date),
    "date" (Date only), "both" (x-amz-date plus a Date a day earlier).
    sign_time: the time the signature is made with (default: the request's)."""
    t = when or datetime.datetime.now(datetime.timezone.utc)
    h = {k.lower(): v for k, v in headers.items()}
    h["host"] = HOST
    h["x-amz-content-sha256"] = payload_hash
    if date_mode in ("amz", "both"):
        h["x-amz-date"] = t.strftime("%Y%m%dT%H%M%SZ")
    if date_mode in ("date", "both"):
        dt = t if date_mode == "date" else t - datetime.timedelta(days=1)
        h["date"] = dt.strftime("%a, %d %b %Y %H:%M:%S GMT")
    st = sign_time or t
    amz, day = st.strftime("%Y%m%dT%H%M%SZ"), st.strftime("%Y%m%d")
    names = sorted(h)
    canon_q = "&".join(f"{q(k)}={q(v or '')}" for k, v in sorted(query, key=lambda p: (p[0], p[1] or "")))
    canon_h = b"".join(k.encode() + b":" + b" ".join(str(h[k]).encode().split()) + b"\n"
                       for k in names)
    creq = b"\n".join([method.encode(), path.encode(), canon_q.encode(), canon_h,
                       ";".join(names).encode(), payload_hash.encode()])
    scope = f"{day}/{REGION}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq).hexdigest()])
    k = ("AWS4" + SK).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, "
                          f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return h


def send(method, path, query=(), headers=None, body=b"", payload=None, sign=True, **kw):
    """One request. body: bytes (Content-Length), a list of byte chunks (sent
    Transfer-Encoding: chunked) or None (no body, no length). payload: the
    x-amz-content-sha256 value (default: the hash of a bytes body, else
    UNSIGNED-PAYLOAD)."""
    headers = dict(headers or {})
    if payload is None:
        payload = (hashlib.sha256(body).hexdigest() if isinstance(body, bytes)
                   else "UNSIGNED-PAYLOAD")
    if sign:
        headers = signed_headers(method, path, query, headers, payload, **kw)
    else:
        headers["host"] = HOST
    qs = "&".join(f"{q(k)}={q(v)}" if v is not None else q(k) for k, v in query)
    c = http.client.HTTPConnection(HOST, timeout=120)
    c.putrequest(method, path + ("?" + qs if qs else ""), skip_host=True,
                 skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v.encode() if isinstance(v, str) else v)
    if isinstance(body, list):
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for ch in body:
            if ch:
                c.send(b"%x\r\n%s\r\n" % (len(ch), ch))
        c.send(b"0\r\n\r\n")
    elif body is None:
        c.endheaders()
    else:
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
    r = c.getresponse()
    out = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def chunks(data, size=65536):
    return [data[i:i + size] for i in range(0, len(data), size)]


# The signer agrees with botocore's (else every raw check below is moot).
req = AWSRequest(method="GET", url=f"{endpoint}/{bucket}/a%20b?x=1&y=%2B",
                 headers={"X-Amz-Content-SHA256": hashlib.sha256(b"").hexdigest()})
S3SigV4Auth(Credentials(AK, SK), "s3", REGION).add_auth(req)
then = datetime.datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
    tzinfo=datetime.timezone.utc)
mine = signed_headers("GET", f"/{bucket}/a%20b", [("x", "1"), ("y", "+")], {},
                      hashlib.sha256(b"").hexdigest(), when=then)
check(mine["authorization"].split("Signature=")[1] ==
      req.headers["Authorization"].split("Signature=")[1], "test signer agrees with botocore")

try:
    s3.create_bucket(Bucket=bucket)
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", f"create bucket: {e}")


# ---- 1. CompleteMultipartUpload repeated; copies of one part number ----

def complete_xml(parts):
    return ("<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts) +
        "</CompleteMultipartUpload>").encode()


p1, p2 = rand(5 * MIB), rand(4321)
uid = s3.create_multipart_upload(Bucket=bucket, Key="mp/replay")["UploadId"]
e1 = s3.upload_part(Bucket=bucket, Key="mp/replay", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
e2 = s3.upload_part(Bucket=bucket, Key="mp/replay", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
parts = [(1, e1), (2, e2)]
first = send("POST", key_path("mp/replay"), [("uploadId", uid)], body=complete_xml(parts))
check(first.status == 200 and first.elem("ETag"), f"first completion: {first}")
want_etag = '"%s-2"' % md5hex(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e2.strip('"')))
check(first.elem("ETag").replace("&quot;", '"') == want_etag, f"multipart ETag: {first}")
again = send("POST", key_path("mp/replay"), [("uploadId", uid)], body=complete_xml(parts))
check(again.status == 200, f"repeated completion answers 200: {again}")
for el in ("Location", "Bucket", "Key", "ETag"):
    check(again.elem(el) == first.elem(el), f"repeated completion's {el}: {again}")
# an SDK's retry, with a condition that fails now: still the first answer
cond = send("POST", key_path("mp/replay"), [("uploadId", uid)], body=complete_xml(parts),
            headers={"If-None-Match": "*"})
check(cond.status == 200 and cond.elem("ETag") == first.elem("ETag"), f"retry with If-None-Match: {cond}")
r = s3.complete_multipart_upload(Bucket=bucket, Key="mp/replay", UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})
check(r["ETag"] == want_etag, f"boto3 retry: {r['ETag']}")
check(s3.get_object(Bucket=bucket, Key="mp/replay")["Body"].read() == p1 + p2, "replayed object")
other = send("POST", key_path("mp/replay"), [("uploadId", uid)],
             body=complete_xml([(1, e1), (2, '"%s"' % ("0" * 32))]))
check(other.status == 404 and other.code() == "NoSuchUpload", f"other parts: {other}")
s3.put_object(Bucket=bucket, Key="mp/replay", Body=b"overwritten")
gone = send("POST", key_path("mp/replay"), [("uploadId", uid)], body=complete_xml(parts))
check(gone.status == 404 and gone.code() == "NoSuchUpload", f"after overwrite: {gone}")
print("conformance: repeated CompleteMultipartUpload ok")

# Part 1 uploaded twice with different bytes; the client completes with the
# ETag of the copy whose answer it got -- whichever finished last.
for winner in (0, 1):
    key = f"mp/copies-{winner}"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    bodies = [rand(5 * MIB + 11), rand(5 * MIB + 22)]
    etags = [None, None]

    def up(i, key=key, uid=uid, bodies=bodies, etags=etags):
        etags[i] = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1,
                                  Body=bodies[i])["ETag"]
    ts = [threading.Thread(target=up, args=(i,)) for i in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(all(etags), "both copies of part 1 uploaded")
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]
    check(len(listed) == 1 and listed[0]["ETag"] in etags, f"ListParts shows one part 1: {listed}")
    tail = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etags[winner]}, {"PartNumber": 2, "ETag": tail}]})
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    check(got == bodies[winner] + b"tail", f"the copy the Complete names wins ({winner})")
# sequentially: the later copy does not replace the earlier
key = "mp/copies-seq"
uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
a, b = rand(5 * MIB), rand(5 * MIB)
ea = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=a)["ETag"]
eb = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b)["ETag"]
check(s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"][0]["ETag"] == eb,
      "ListParts shows the latest copy")
s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": ea}]})
check(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == a, "earlier copy named, earlier copy kept")
print("conformance: part copies ok")


# ---- 2. GET/HEAD ?partNumber=N ----

sizes = [5 * MIB, 5 * MIB + 7, 1234]
bodies = [rand(n) for n in sizes]
uid = s3.create_multipart_upload(Bucket=bucket, Key="pn/mp")["UploadId"]
pe = [s3.upload_part(Bucket=bucket, Key="pn/mp", UploadId=uid, PartNumber=i + 1,
                     Body=bodies[i])["ETag"] for i in range(3)]
mp_etag = s3.complete_multipart_upload(Bucket=bucket, Key="pn/mp", UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": i + 1, "ETag": pe[i]} for i in range(3)]})["ETag"]
whole = b"".join(bodies)
off = 0
for i in range(3):
    g = send("GET", key_path("pn/mp"), [("partNumber", str(i + 1))])
    end = off + sizes[i] - 1
    check(g.status == 206 and g.body == bodies[i], f"part {i + 1}: {g.status}")
    check(g.h("Content-Range") == f"bytes {off}-{end}/{len(whole)}", f"Content-Range of part {i + 1}: {g.h('Content-Range')}")
    check(g.h("x-amz-mp-parts-count") == "3" and g.h("ETag") == mp_etag, f"part {i + 1} headers: {g.headers}")
    hd = send("HEAD", key_path("pn/mp"), [("partNumber", str(i + 1))])
    check(hd.status == 206 and hd.h("Content-Length") == str(sizes[i]) and
          hd.h("x-amz-mp-parts-count") == "3", f"HEAD part {i + 1}: {hd}")
    off += sizes[i]
h = s3.head_object(Bucket=bucket, Key="pn/mp", PartNumber=2)
check(h["ContentLength"] == sizes[1] and h["PartsCount"] == 3, f"boto3 head_object(PartNumber=2): {h}")
check(s3.get_object(Bucket=bucket, Key="pn/mp", PartNumber=3)["Body"].read() == bodies[2], "boto3 PartNumber=3")
plain = send("GET", key_path("pn/mp"))
check(plain.status == 200 and plain.body == whole and plain.h("x-amz-mp-parts-count") is None,
      "a plain GET has no parts count (S3 sends it only with partNumber)")
bad = send("GET", key_path("pn/mp"), [("partNumber", "4")])
check(bad.status == 416 and bad.code() == "InvalidPartNumber" and
      bad.elem("Message") == "The requested partnumber is not satisfiable" and
      bad.elem("PartNumberRequested") == "4" and bad.elem("ActualPartCount") == "3", f"part 4 of 3: {bad}")
check(send("HEAD", key_path("pn/mp"), [("partNumber", "4")]).status == 416, "HEAD part 4 of 3")
for v in ("0", "10001", "x", ""):
    bad = send("GET", key_path("pn/mp"), [("partNumber", v)])
    check(bad.status == 400 and bad.code() == "InvalidArgument" and
          bad.elem("ArgumentName") == "partNumber", f"partNumber={v!r}: {bad}")
both = send("GET", key_path("pn/mp"), [("partNumber", "1")], headers={"Range": "bytes=0-9"})
check(both.status == 400 and both.code() == "InvalidRequest", f"Range and partNumber: {both}")
s3.put_object(Bucket=bucket, Key="pn/simple", Body=b"simple object")
g = send("GET", key_path("pn/simple"), [("partNumber", "1")])
check(g.status == 206 and g.body == b"simple object" and g.h("Content-Range") == "bytes 0-12/13" and
      g.h("x-amz-mp-parts-count") is None, f"part 1 of a simple object: {g}")
g = send("GET", key_path("pn/simple"), [("partNumber", "2")])
check(g.status == 416 and g.code() == "InvalidPartNumber" and g.elem("ActualPartCount") == "1",
      f"part 2 of a simple object: {g}")
print("conformance: partNumber ok")


# ---- 3. chunked bodies without Content-Length ----

for n in (0, 5, 16384, 16385, 3 * MIB + 1, 32 * MIB, 40 * MIB + 3):
    data = rand(n)
    r = send("PUT", key_path(f"te/{n}"), body=chunks(data))
    check(r.status == 200 and r.h("ETag") == '"%s"' % md5hex(data), f"chunked PUT of {n}: {r}")
    g = s3.get_object(Bucket=bucket, Key=f"te/{n}")
    check(g["Body"].read() == data and g["ContentLength"] == n, f"chunked PUT of {n} reads back")
    check(g["ETag"] == '"%s"' % md5hex(data), f"ETag of chunked {n}")
# a signed payload hash is checked against the whole chunked body
data = rand(2 * MIB)
r = send("PUT", key_path("te/signed"), body=chunks(data), payload=hashlib.sha256(data).hexdigest())
check(r.status == 200, f"chunked PUT with signed hash: {r}")
r = send("PUT", key_path("te/signed"), body=chunks(rand(2 * MIB)), payload=hashlib.sha256(data).hexdigest())
check(r.status == 400 and r.code() == "XAmzContentSHA256Mismatch", f"wrong hash: {r}")
check(s3.get_object(Bucket=bucket, Key="te/signed")["Body"].read() == data, "refused body stored nothing")
# neither Content-Length nor chunked: S3's 411
r = send("PUT", key_path("te/nolength"), body=None)
check(r.status == 411 and r.code() == "MissingContentLength", f"no length at all: {r}")
# UploadPart chunked
uid = s3.create_multipart_upload(Bucket=bucket, Key="te/mp")["UploadId"]
a, b = rand(6 * MIB), rand(777)
ra = send("PUT", key_path("te/mp"), [("partNumber", "1"), ("uploadId", uid)], body=chunks(a))
rb = send("PUT", key_path("te/mp"), [("partNumber", "2"), ("uploadId", uid)], body=chunks(b))
check(ra.status == 200 and rb.status == 200, f"chunked UploadPart: {ra} {rb}")
s3.complete_multipart_upload(Bucket=bucket, Key="te/mp", UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": ra.h("ETag")}, {"PartNumber": 2, "ETag": rb.h("ETag")}]})
check(s3.get_object(Bucket=bucket, Key="te/mp")["Body"].read() == a + b, "chunked parts read back")
# curl -T - streams stdin chunked
data = rand(5 * MIB + 3)
with tempfile.NamedTemporaryFile() as f:
    f.write(data)
    f.flush()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4",
                          f"aws:amz:{REGION}:s3", "--user", f"{AK}:{SK}", "-H",
                          "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", "-",
                          f"{endpoint}{key_path('te/curl')}"],
                         stdin=open(f.name, "rb"), capture_output=True, text=True)
check(out.stdout == "200", f"curl -T - : {out.stdout} {out.stderr}")
check(s3.get_object(Bucket=bucket, Key="te/curl")["Body"].read() == data, "curl -T - reads back")
print("conformance: chunked uploads ok")


# ---- 4. non-ASCII user metadata, Content-Encoding spelling ----

text = "h\u00e9llo w\u00f6rld \u20ac"
word = "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="
r = send("PUT", key_path("meta/raw"), body=b"x",
         headers={"x-amz-meta-raw": text, "x-amz-meta-word": word,
                  "x-amz-meta-q": "=?utf-8?q?h=C3=A9llo_w=C3=B6rld_=E2=82=AC?=",
                  "x-amz-meta-ascii": "plain text", "Content-Encoding": "gzip, identity"})
check(r.status == 200, f"PUT with non-ASCII metadata: {r}")
hd = send("HEAD", key_path("meta/raw"))
for name in ("raw", "word", "q"):
    check(hd.h("x-amz-meta-" + name) == word, f"x-amz-meta-{name} comes back as S3 sends it: {hd.headers}")
check(hd.h("x-amz-meta-ascii") == "plain text", "ASCII metadata as sent")
check(hd.h("Content-Encoding") == "gzip, identity", f"Content-Encoding spelling: {hd.h('Content-Encoding')}")
# boto3 (ASCII-only metadata) round-trips the encoded word exactly
s3.put_object(Bucket=bucket, Key="meta/boto", Body=b"y", Metadata={"n": word}, ContentEncoding="GZIP")
g = s3.head_object(Bucket=bucket, Key="meta/boto")
check(g["Metadata"] == {"n": word} and g["ContentEncoding"] == "GZIP", f"boto3 metadata: {g}")
s3.copy_object(Bucket=bucket, Key="meta/copy", CopySource={"Bucket": bucket, "Key": "meta/boto"})
check(s3.head_object(Bucket=bucket, Key="meta/copy")["Metadata"] == {"n": word}, "CopyObject keeps it")
print("conformance: metadata ok")


# ---- 5. Date vs x-amz-date ----

r = send("GET", key_path("pn/simple"), date_mode="date")
check(r.status == 200 and r.body == b"simple object", f"signed with Date only: {r}")
r = send("GET", key_path("pn/simple"), date_mode="both")
check(r.status == 200, f"x-amz-date wins over a Date a day off: {r}")
r = send("GET", key_path("pn/simple"), date_mode="both",
         sign_time=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1))
check(r.status == 400 and r.code() == "AuthorizationHeaderMalformed",
      f"a signature made with Date's time while x-amz-date is sent (scope date is not x-amz-date's): {r}")
old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
r = send("GET", key_path("pn/simple"), date_mode="date", when=old)
check(r.status == 403 and r.code() == "RequestTimeTooSkewed", f"an hour-old Date: {r}")
print("conformance: Date / x-amz-date ok")


# ---- 6. presigned URLs ----

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pn/simple"},
                                ExpiresIn=600)
out = subprocess.run(["curl", "-sS", url], capture_output=True)
check(out.stdout == b"simple object", f"curl fetches a presigned URL: {out}")
for v, msg in (("0", None), ("-1", "X-Amz-Expires must be non-negative"),
               ("604801", "X-Amz-Expires must be less than a week (in seconds); that is, the "
                          "given X-Amz-Expires must be less than 604800 seconds")):
    p = urllib.parse.urlparse(url.replace("X-Amz-Expires=600", "X-Amz-Expires=" + v))
    c = http.client.HTTPConnection(HOST)
    c.request("GET", p.path + "?" + p.query)
    resp = c.getresponse()
    r = Resp(resp.status, {}, resp.read())
    check(r.status == 400 and r.code() == "AuthorizationQueryParametersError",
          f"X-Amz-Expires={v}: {r}")
    check(msg is None or r.elem("Message") == msg, f"X-Amz-Expires={v} message: {r}")
short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pn/simple"},
                                  ExpiresIn=1)
time.sleep(2.5)
p = urllib.parse.urlparse(short)
c = http.client.HTTPConnection(HOST)
c.request("GET", p.path + "?" + p.query)
resp = c.getresponse()
r = Resp(resp.status, {}, resp.read())
check(r.status == 403 and r.code() == "AccessDenied" and r.elem("Message") == "Request has expired",
      f"expired presigned URL: {r}")
print("conformance: presigned URLs ok")


# ---- 7. UploadPartCopy range past the source ----

s3.put_object(Bucket=bucket, Key="upc/src", Body=b"0123456789" * 5)
uid = s3.create_multipart_upload(Bucket=bucket, Key="upc/dst")["UploadId"]
src = {"x-amz-copy-source": f"/{bucket}/upc/src"}
# past the source: 416 InvalidRange (issue #13, s3-tests); malformed: 400 InvalidArgument
for rng_hdr, msg in (("bytes=0-50", "Range specified is not valid for source object of size: 50"),
                     ("bytes=50-60", "Range specified is not valid for source object of size: 50")):
    r = send("PUT", key_path("upc/dst"), [("partNumber", "1"), ("uploadId", uid)],
             headers=dict(src, **{"x-amz-copy-source-range": rng_hdr}))
    check(r.status == 416 and r.code() == "InvalidRange" and r.elem("Message") == msg,
          f"copy range {rng_hdr}: {r}")
for rng_hdr, msg in (("bytes=9-3", "The x-amz-copy-source-range value must be of the form "
                                   "bytes=first-last where first and last are the zero-based "
                                   "offsets of the first and last bytes to copy"),):
    r = send("PUT", key_path("upc/dst"), [("partNumber", "1"), ("uploadId", uid)],
             headers=dict(src, **{"x-amz-copy-source-range": rng_hdr}))
    check(r.status == 400 and r.code() == "InvalidArgument" and r.elem("Message") == msg and
          r.elem("ArgumentName") == "x-amz-copy-source-range" and r.elem("ArgumentValue") == rng_hdr,
          f"copy range {rng_hdr}: {r}")
check(error_code(s3.upload_part_copy, Bucket=bucket, Key="upc/dst", UploadId=uid, PartNumber=1,
                 CopySource={"Bucket": bucket, "Key": "upc/src"}, CopySourceRange="bytes=10-99") ==
      ("InvalidRange", 416), "boto3 upload_part_copy past the source")
r = s3.upload_part_copy(Bucket=bucket, Key="upc/dst", UploadId=uid, PartNumber=1,
                        CopySource={"Bucket": bucket, "Key": "upc/src"}, CopySourceRange="bytes=10-49")
check(r["CopyPartResult"]["ETag"] == '"%s"' % md5hex((b"0123456789" * 5)[10:]), "copy range in bounds")
s3.abort_multipart_upload(Bucket=bucket, Key="upc/dst", UploadId=uid)
print("conformance: UploadPartCopy ranges ok")


# ---- 8. listings ----

lkeys = ["ls/a b", "ls/a+b", "ls/a%b", "ls/\u00e4/x", "ls/c\x01d", "ls/z"]
for k in lkeys:
    s3.put_object(Bucket=bucket, Key=k, Body=b"l")
r = send("GET", "/" + bucket, [("list-type", "2"), ("prefix", "ls/"), ("continuation-token", "")])
check(r.status == 200 and r.elem("KeyCount") == str(len(lkeys)), f"empty continuation-token: {r}")


def unq(s):
    return urllib.parse.unquote_plus(s)


def listed(doc, tag):
    root = ET.fromstring(doc)
    return [e.text or "" for e in root.iter(NS + tag)]


r = send("GET", "/" + bucket, [("list-type", "2"), ("prefix", "ls/"), ("encoding-type", "url"),
                               ("start-after", "ls/a b"), ("delimiter", "/")])
check(r.status == 200, f"v2 encoding-type=url: {r}")
root = ET.fromstring(r.body)
check(root.find(NS + "EncodingType").text == "url", "EncodingType echoed")
# URL-encoded as S3 does it ('/' kept; a space is %20 here, '+' at S3: both
# decode the same with the form decoding every SDK applies)


def encoded(tag, want, root=None):
    got = (root if root is not None else ET.fromstring(r.body)).find(NS + tag).text
    return unq(got) == want and " " not in got and "+" not in got.replace("%2B", "")


check(encoded("Prefix", "ls/", root) and encoded("StartAfter", "ls/a b", root) and
      encoded("Delimiter", "/", root), f"v2 Prefix/StartAfter/Delimiter encoded: {r.body}")
keys = [c.find(NS + "Key").text for c in root.iter(NS + "Contents")]
check([unq(k) for k in keys] == ["ls/a%b", "ls/a+b", "ls/c\x01d", "ls/z"] and
      keys[:3] == ["ls/a%25b", "ls/a%2Bb", "ls/c%01d"], f"v2 keys encoded: {keys}")
check([unq(p.find(NS + "Prefix").text) for p in root.iter(NS + "CommonPrefixes")] == ["ls/\u00e4/"],
      f"v2 common prefixes: {r.body}")
r = send("GET", "/" + bucket, [("prefix", "ls/a"), ("encoding-type", "url"), ("marker", "ls/a b"),
                               ("max-keys", "1"), ("delimiter", "/")])
root = ET.fromstring(r.body)
check(encoded("Marker", "ls/a b", root) and root.find(NS + "NextMarker").text == "ls/a%25b" and
      encoded("Prefix", "ls/a", root), f"v1 Marker/NextMarker/Prefix encoded: {r.body}")
up = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in ("ls/u 1", "ls/u+2")]
r = send("GET", "/" + bucket, [("uploads", None), ("prefix", "ls/u"), ("encoding-type", "url"),
                               ("key-marker", "ls/u 0"), ("max-uploads", "1")])
root = ET.fromstring(r.body)
check(encoded("KeyMarker", "ls/u 0", root) and encoded("Prefix", "ls/u", root) and
      encoded("NextKeyMarker", "ls/u 1", root) and
      [u.find(NS + "Key").text for u in root.iter(NS + "Upload")] == ["ls/u%201"],
      f"ListMultipartUploads encoded: {r.body}")
for k, u in zip(("ls/u 1", "ls/u+2"), up):
    s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
# the SDK's own decoding gets every key back exactly
got = sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="ls/",
                                                                             PaginationConfig={"PageSize": 2})
             for o in p.get("Contents", []))
check(got == sorted(lkeys), f"boto3 paginated listing: {got}")
print("conformance: listings ok")


# ---- 9. keys that are not UTF-8; control characters ----

for raw in (b"bad\xffkey", b"bad\xc3", b"bad\xed\xa0\x80"):
    for m in ("GET", "PUT"):
        r = send(m, key_path(raw), body=b"x" if m == "PUT" else b"")
        check(r.status == 400 and r.code() == "InvalidURI" and
              r.elem("Message") == "Couldn&apos;t parse the specified URI.", f"{m} {raw!r}: {r}")
r = send("GET", f"/{bucket}/nul%00key")
check(r.status == 400 and r.code() == "InvalidURI", f"escaped NUL: {r}")
for k in ("ctl/\x01\x1f\x7f", "ctl/tab\there", "ctl/cr\rlf\n"):
    body = k.encode()
    s3.put_object(Bucket=bucket, Key=k, Body=body)
    check(s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body, f"key {k!r} round trip")
    check(s3.head_object(Bucket=bucket, Key=k)["ContentLength"] == len(body), f"HEAD {k!r}")
got = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ctl/")["Contents"]]
check(sorted(got) == sorted(["ctl/\x01\x1f\x7f", "ctl/tab\there", "ctl/cr\rlf\n"]),
      f"control-character keys listed (encoding-type=url): {got!r}")
for k in got:
    s3.delete_object(Bucket=bucket, Key=k)
print("conformance: key encodings ok")
print("conformance: all checks passed")
