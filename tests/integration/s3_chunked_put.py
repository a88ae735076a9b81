"""PUT an object with an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD),
signed here by hand as the AWS SigV4 documentation describes, since no client
on this machine sends that mode over plain HTTP.

usage: s3_chunked_put.py ENDPOINT BUCKET KEY FILE [--corrupt]
With --corrupt the third (or last) chunk's signature is wrong: the gateway must refuse
(403 SignatureDoesNotMatch). Prints the HTTP status and exits 0 when the
status is the expected one (200, or 403 with --corrupt)."""
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse

endpoint, bucket, key, path = sys.argv[1:5]
corrupt = "--corrupt" in sys.argv[5:]
ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
region, service = "us-east-1", "s3"
data = open(path, "rb").read()
CHUNK = 64 * 1024


def h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


now = datetime.datetime.now(datetime.timezone.utc)
amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/{region}/{service}/aws4_request"
signing_key = h(h(h(h(("AWS4" + sk).encode(), day), region), service), "aws4_request")

chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] + [b""]


def chunk_len(n):
    return len(f"{n:x};chunk-signature=") + 64 + 2 + n + 2


body_len = sum(chunk_len(len(c)) for c in chunks)
u = urllib.parse.urlparse(endpoint)
host = u.netloc
uri = "/" + urllib.parse.quote(bucket) + "/" + urllib.parse.quote(key, safe="/~")
headers = {
    "host": host,
    "x-amz-date": amz_date,
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "x-amz-decoded-content-length": str(len(data)),
    "content-encoding": "aws-chunked",
    "content-length": str(body_len),
    "content-type": "application/x-chunked-test",
}
signed = sorted(headers)
creq = "\n".join(["PUT", uri, "", "".join(f"{k}:{headers[k]}\n" for k in signed),
                  ";".join(signed), headers["x-amz-content-sha256"]])
sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
seed = hmac.new(signing_key, sts.encode(), hashlib.sha256).hexdigest()
headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                            f"SignedHeaders={';'.join(signed)}, Signature={seed}")

empty = hashlib.sha256(b"").hexdigest()
prev, body = seed, bytearray()
for i, c in enumerate(chunks):
    s2s = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                     hashlib.sha256(c).hexdigest()])
    sig = hmac.new(signing_key, s2s.encode(), hashlib.sha256).hexdigest()
    prev = sig
    if corrupt and i == min(2, len(chunks) - 1):
        sig = "0" * 64
    body += f"{len(c):x};chunk-signature={sig}\r\n".encode() + c + b"\r\n"
assert len(body) == body_len

conn = http.client.HTTPConnection(host, timeout=60)
conn.request("PUT", uri, body=bytes(body), headers=headers)
resp = conn.getresponse()
text = resp.read().decode(errors="replace")
print(resp.status, text[:200])
if corrupt:
    sys.exit(0 if resp.status == 403 and "SignatureDoesNotMatch" in text else 1)
sys.exit(0 if resp.status == 200 else 1)
