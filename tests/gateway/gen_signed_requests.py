#!/usr/bin/python3
"""Produces SigV4-signed S3 requests from real signers -- botocore (pure
Python signer, BOTO_DISABLE_CRT=true) and `curl --aws-sigv4` -- without
sending them to any server but a local capture socket, and writes them to a
file that test_gw_sigv4 verifies with gw_sigv4.c.

Output: one block per request, every value hex-encoded so any byte survives:
  L <label>            E <expectation: ok | badbody | S3 error code>
  N <now, Unix s>      M <method>   P <raw path>   Q <raw query>
  H <name> <value>     B <body>     .
Usage: gen_signed_requests.py OUTFILE
The requests are produced twice: with botocore's pure-Python signer and, in a
child process, with the CRT signer (awscrt), which botocore switches to when
python3-awscrt is installed -- as it is for Debian's awscli.
"""
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

CRT = "--crt" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--crt"]
if not CRT:
    os.environ["BOTO_DISABLE_CRT"] = "true"
else:
    os.environ.pop("BOTO_DISABLE_CRT", None)
for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ[var] = "/dev/null"

import botocore.session  # noqa: E402
from botocore.auth import AUTH_TYPE_MAPS  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

AK, SK = "CAIRNTESTKEY0001", "cairn/test+secret=42/abcdefghijklmnopqrst"
WRONG_SK = "not-the-secret-the-gateway-knows-000000000"
UNKNOWN_AK = "NOSUCHKEY0000000"
REGION = "us-east-1"

out = []


def h(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return b.hex()


def emit(label, expect, now, method, path, query, headers, body=b""):
    out.append("L " + h(("crt " if CRT else "") + label))
    out.append("E " + expect)
    out.append("N %d" % int(now))
    out.append("M " + h(method))
    out.append("P " + h(path))
    out.append("Q " + h(query))
    for name, value in headers:
        out.append("H %s %s" % (h(name), h(value)))
    out.append("B " + h(body))
    out.append(".")


def emit_url(label, expect, now, method, url, headers, body=b""):
    parts = urlsplit(url)
    emit(label, expect, now, method, parts.path, parts.query, headers, body)


# ---- botocore's signer on hand-built requests ------------------------------

def signed(method, url, headers=None, body=b"", ak=AK, sk=SK):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    # S3SigV4Auth, or CrtS3SigV4Auth when awscrt is active
    AUTH_TYPE_MAPS["s3v4"](Credentials(ak, sk), "s3", REGION).add_auth(req)
    prep = req.prepare()
    hdrs = list(prep.headers.items())
    if not any(k.lower() == "host" for k, _ in hdrs):  # the CRT signer adds its own
        hdrs.append(("Host", urlsplit(prep.url).netloc))
    return prep.url, hdrs, body


now = time.time()
base = "http://127.0.0.1:9000"
url, hdrs, body = signed(
    "GET", base + "/bkt/dir/a%20b%2Bc%24%26%3D%C3%BC%40.txt?list-type=2&prefix=a%20b%2F&delimiter=%2F&empty=")
emit_url("botocore-auth get odd key and query", "ok", now, "GET", url, hdrs)

url, hdrs, body = signed("PUT", base + "/bkt/obj", {"x-amz-meta-note": "  two   spaces\there  ",
                                                     "Content-Type": "text/plain"},
                         b"hello, cairn\n" * 100)
emit_url("botocore-auth put signed body", "ok", now, "PUT", url, hdrs, body)
emit_url("botocore-auth put body tampered", "badbody", now, "PUT", url, hdrs,
         body[:-1] + b"X")
tampered = [(k, "text/html" if k.lower() == "content-type" else v) for k, v in hdrs]
emit_url("botocore-auth header tampered", "SignatureDoesNotMatch", now, "PUT", url,
         tampered, body)
emit_url("botocore-auth path tampered", "SignatureDoesNotMatch", now, "PUT",
         url.replace("/bkt/obj", "/bkt/obk"), hdrs, body)
emit_url("botocore-auth skewed clock", "RequestTimeTooSkewed", now + 3600, "PUT", url,
         hdrs, body)

url, hdrs, body = signed("GET", base + "/bkt/x", sk=WRONG_SK)
emit_url("botocore-auth wrong secret", "SignatureDoesNotMatch", now, "GET", url, hdrs)
url, hdrs, body = signed("GET", base + "/bkt/x", ak=UNKNOWN_AK)
emit_url("botocore-auth unknown key", "InvalidAccessKeyId", now, "GET", url, hdrs)

# ---- a real client, captured before it is sent ------------------------------


class Captured(Exception):
    pass


def make_client(endpoint, style, ak=AK, sk=SK):
    sess = botocore.session.get_session()
    return sess.create_client(
        "s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id=ak,
        aws_secret_access_key=sk,
        config=Config(signature_version="s3v4", s3={"addressing_style": style},
                      retries={"max_attempts": 0}))


def capture(client, op, label, expect="ok", **params):
    got = {}

    def before_send(request, **kwargs):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        got["req"] = (request.method, request.url, list(request.headers.items()),
                      body if isinstance(body, bytes) else (body or "").encode())
        raise Captured()

    client.meta.events.register_first("before-send.s3", before_send)
    try:
        getattr(client, op)(**params)
    except Captured:
        pass
    client.meta.events.unregister("before-send.s3", before_send)
    method, url, hdrs, body = got["req"]
    hdrs = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in hdrs]
    if not any(k.lower() == "host" for k, _ in hdrs):
        hdrs.append(("Host", urlsplit(url).netloc))
    emit_url(label, expect, time.time(), method, url, hdrs, body)


path = make_client("http://127.0.0.1:9000", "path")
vhost = make_client("http://s3.cairn.test:8000", "virtual")
key = "photos/2024/\u00fc b+c&d=e~f'g(h).jpg"
capture(path, "put_object", "client put_object", Bucket="bkt", Key=key,
        Body=b"\x00\x01binary\xff" * 50, Metadata={"Color": "  red   blue "},
        ContentType="image/jpeg", StorageClass="REDUCED_REDUNDANCY")
capture(path, "list_objects_v2", "client list_objects_v2", Bucket="bkt", Prefix="a b/+",
        Delimiter="/", StartAfter="x y", EncodingType="url")
capture(path, "list_objects", "client list_objects", Bucket="bkt", Marker="m&n", MaxKeys=7)
capture(path, "get_object", "client get_object range", Bucket="bkt", Key=key, Range="bytes=0-9",
        IfNoneMatch='"abc"')
capture(path, "delete_objects", "client delete_objects", Bucket="bkt",
        Delete={"Objects": [{"Key": "a"}, {"Key": "b&c"}], "Quiet": True})
capture(path, "create_multipart_upload", "client create_multipart_upload", Bucket="bkt", Key=key)
capture(path, "upload_part", "client upload_part", Bucket="bkt", Key=key, PartNumber=3,
        UploadId="u/p+id=", Body=b"p" * 1000)
capture(path, "copy_object", "client copy_object", Bucket="bkt", Key="dst key",
        CopySource={"Bucket": "src", "Key": "a b/c+d"}, MetadataDirective="REPLACE",
        Metadata={"k": "v"})
capture(path, "create_bucket", "client create_bucket", Bucket="new-bkt",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
capture(vhost, "put_object", "client virtual-host put_object", Bucket="vbkt", Key="dir/v key",
        Body=b"virtual")
capture(vhost, "list_objects_v2", "client virtual-host list", Bucket="vbkt", Prefix="p/")
capture(make_client("http://127.0.0.1:9000", "path", sk=WRONG_SK), "head_object",
        "client wrong secret", "SignatureDoesNotMatch", Bucket="bkt", Key="k")

# ---- presigned URLs ---------------------------------------------------------

now = time.time()
for label, client, op, params in (
        ("presign get_object", path, "get_object", {"Bucket": "bkt", "Key": key}),
        ("presign put_object", path, "put_object", {"Bucket": "bkt", "Key": "up load+1"}),
        ("presign virtual-host get", vhost, "get_object", {"Bucket": "vbkt", "Key": "k/x y"}),
        ("presign list", path, "list_objects_v2", {"Bucket": "bkt", "Prefix": "a b"})):
    url = client.generate_presigned_url(op, Params=params, ExpiresIn=600)
    method = "PUT" if op.startswith("put") else "GET"
    hdrs = [("Host", urlsplit(url).netloc)]
    emit_url(label, "ok", now, method, url, hdrs)
url = path.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=60)
hdrs = [("Host", urlsplit(url).netloc)]
emit_url("presign expired", "AccessDenied", now + 120, "GET", url, hdrs)
emit_url("presign wrong method", "SignatureDoesNotMatch", now, "DELETE", url, hdrs)
emit_url("presign extra parameter", "SignatureDoesNotMatch", now, "GET", url + "&acl=", hdrs)

# ---- curl --aws-sigv4, captured on a local socket ---------------------------


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
    length = int(next((v for k, v in hdrs if k.lower() == "content-length"), "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return lines[0], hdrs, rest


def curl_capture(label, args, expect="ok", body=None):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(20)
    port = srv.getsockname()[1]
    got = {}

    def serve():
        conn, _ = srv.accept()
        conn.settimeout(20)
        got["req"] = read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    curl = "/usr/bin/curl" if os.path.exists("/usr/bin/curl") else "curl"
    cmd = [curl, "-s", "-o", "/dev/null", "--max-time", "20", "--aws-sigv4",
           "aws:amz:%s:s3" % REGION, "-u", "%s:%s" % (AK, SK)] + \
        [a.replace("PORT", str(port)) for a in args]
    subprocess.run(cmd, input=body, check=True)
    t.join()
    srv.close()
    line, hdrs, body = got["req"]
    method, target, _ = line.split(" ", 2)
    path, _, query = target.partition("?")
    emit(label, expect, time.time(), method, path, query, hdrs, body)


if CRT:
    if "Crt" not in AUTH_TYPE_MAPS["s3v4"].__name__:
        sys.exit("botocore did not switch to the CRT signer: is python3-awscrt installed?")
    with open(ARGS[0], "w") as f:
        f.write("\n".join(out) + "\n")
    sys.exit(0)
assert "Crt" not in AUTH_TYPE_MAPS["s3v4"].__name__, "pure-Python signer expected"

curl_capture("curl get", ["http://127.0.0.1:PORT/bkt/some%20key.txt?list-type=2&prefix=a%2Fb"])
curl_capture("curl get with range and spaced header",
             ["-H", "Range: bytes=0-9", "-H", "x-amz-meta-x:  a   b ",
              "http://127.0.0.1:PORT/bkt/k"])
curl_capture("curl put unsigned payload",
             ["-X", "PUT", "--data-binary", "@-", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
              "-H", "Content-Type: application/octet-stream", "http://127.0.0.1:PORT/bkt/up.bin"],
             body=b"curl body \x00\x01\x02" * 100)

# The same requests from the CRT signer, in a process where awscrt is active.
env = dict(os.environ)
env.pop("BOTO_DISABLE_CRT", None)
subprocess.run([sys.executable, os.path.abspath(__file__), "--crt", ARGS[0] + ".crt"], env=env,
               check=True)
with open(ARGS[0] + ".crt") as f:
    crt = f.read()
os.unlink(ARGS[0] + ".crt")
if "crt " not in bytes.fromhex(crt.split("\n", 1)[0][2:]).decode():
    sys.exit("CRT pass produced nothing")
with open(ARGS[0], "w") as f:
    f.write("\n".join(out) + "\n" + crt)
