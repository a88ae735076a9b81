#!/usr/bin/env python3
"""Raw SigV4 requests for front_door_test.sh (a signer of its own, so the
test controls the date and which headers are signed).

front_door.py ENDPOINT unsigned-header   a signed PUT succeeds; the same PUT with
                                         an x-amz-copy-source added after signing
                                         is 403 AccessDenied (headers not signed)
front_door.py ENDPOINT skew SECONDS OK|SKEWED
                                         a GET signed with a date SECONDS in the past
                                         (and in the future) answers 200 or
                                         403 RequestTimeTooSkewed
front_door.py ENDPOINT flood N           N ListObjects requests signed with unknown
                                         random keys: every one 403 InvalidAccessKeyId
front_door.py ENDPOINT badsig N          N ListObjects requests with the real key and a
                                         wrong secret: every one 403 SignatureDoesNotMatch
Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; region us-east-1.
"""
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import os
import secrets
import sys
import urllib.parse

REGION = "us-east-1"


def sign(method, path, headers, ak, sk, when):
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = dict(headers)
    headers["x-amz-date"] = amz_date
    headers.setdefault("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    names = sorted(k.lower() for k in headers)
    canon_h = "".join("%s:%s\n" % (k.lower(), " ".join(str(v).split())) for k, v in
                      sorted(headers.items(), key=lambda kv: kv[0].lower()))
    signed = ";".join(names)
    creq = "\n".join([method, urllib.parse.quote(path), "", canon_h, signed,
                      headers["x-amz-content-sha256"]])
    scope = "%s/%s/s3/aws4_request" % (day, REGION)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                "Signature=%s" % (ak, scope, signed, sig))
    return headers


def send(ep, method, path, headers, body=b""):
    u = urllib.parse.urlsplit(ep)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data.decode(errors="replace")


def main():
    ep, what = sys.argv[1], sys.argv[2]
    ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    host = urllib.parse.urlsplit(ep).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    if what == "unsigned-header":
        h = sign("PUT", "/door/signed-put", {"Host": host}, ak, sk, now)
        st, body = send(ep, "PUT", "/door/signed-put", h, b"hello")
        assert st == 200, (st, body)
        h["x-amz-copy-source"] = "/door/k1"  # added after signing
        st, body = send(ep, "PUT", "/door/signed-put", h, b"hello")
        assert st == 403 and "<Code>AccessDenied</Code>" in body and \
            "headers present in the request which were not signed" in body, (st, body)
        print("unsigned x-amz-copy-source: 403 AccessDenied")
    elif what == "skew":
        secs, want = int(sys.argv[3]), sys.argv[4]
        for sign_s in (-1, 1):
            when = now + datetime.timedelta(seconds=sign_s * secs)
            st, body = send(ep, "GET", "/door", sign("GET", "/door", {"Host": host}, ak, sk, when))
            if want == "OK":
                assert st == 200, (secs * sign_s, st, body)
            else:
                assert st == 403 and "RequestTimeTooSkewed" in body, (secs * sign_s, st, body)
        print("skew %d s: %s" % (secs, want))
    elif what in ("flood", "badsig"):
        # N requests from 16 threads: unknown random keys (403
        # InvalidAccessKeyId), or the real key with a wrong secret (403
        # SignatureDoesNotMatch)
        n = int(sys.argv[3])

        def one(_):
            if what == "flood":
                key, secret, want = "FAKE" + secrets.token_hex(8).upper(), "x" * 40, \
                    "InvalidAccessKeyId"
            else:
                key, secret, want = ak, "y" * 40, "SignatureDoesNotMatch"
            st, body = send(ep, "GET", "/door", sign("GET", "/door", {"Host": host}, key,
                                                    secret, now))
            assert st == 403 and want in body, (st, body)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(one, range(n)))
        print("%d requests (%s): 403" % (n, what))
    else:
        sys.exit("unknown command " + what)


if __name__ == "__main__":
    main()
