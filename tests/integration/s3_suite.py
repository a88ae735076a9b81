"""Cairn's gateway against what the public Ceph S3 conformance suite
(ceph/s3-tests, s3tests_boto3/functional/test_s3.py and test_headers.py)
expects, for the areas outside reviewers run it for: listings (v1 and v2),
buckets (create, delete, head, names), objects (PUT/GET/HEAD/DELETE,
metadata, response-* overrides), conditional requests, ranges, CopyObject,
multipart uploads, DeleteObjects, canned ACLs and error answers.

These are our own checks, one per behaviour; the comment above each names
the s3-tests test it mirrors. Versioning, object lock, tagging, CORS,
lifecycle, POST uploads, SSE, website, logging, STS/IAM and bucket policies
are left out (other tests cover what Cairn serves of them).

usage: s3_suite.py ENDPOINT
Environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the main user),
ALT_ACCESS_KEY_ID / ALT_SECRET_ACCESS_KEY (a second user), optional
S3_SUITE_ONLY (a substring: run only the checks whose name holds it).
Prints every failure and exits 1 if any check failed. A check listed in
KNOWN_GAPS is run and reported, but its failure does not fail the script;
a known gap that passes does (take it off the list)."""
import datetime
import email.utils
import os
import random
import socket
import string
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config

# Where Cairn still answers differently from s3-tests, and why it is left so.
# name of the check -> reason (reported, not failed).
KNOWN_GAPS = {
    "list_prefix_unreadable_v1":
        "ListObjects (v1) with encoding-type=url URL-encodes Prefix, as AWS documents (and its "
        "Java SDK decodes); botocore, which adds encoding-type=url to every list_objects, does "
        "not decode v1's Prefix, so boto3 shows '%0A' where s3-tests expects '\\n'",
    "object_presigned_expires_out_of_range":
        "X-Amz-Expires of 0, negative or over 604800 is answered as AWS does, 400 "
        "AuthorizationQueryParametersError (s3_conformance.py holds that), not s3-tests' 403",
    "put_ifnonematch_etag":
        "PUT with If-None-Match naming an ETag is 501 NotImplemented, as AWS answers (only '*' "
        "is supported); s3-tests marks test_put_object_ifnonmatch_good/_failed fails_on_aws",
    "object_read_unreadable":
        "boto3 sends the key '\\xae\\x8a-' as valid UTF-8 (U+00AE U+008A '-'), a key S3 "
        "accepts, so a GET of it is 404 NoSuchKey; 400 \"Couldn't parse the specified URI.\" is "
        "what a key that is not UTF-8 gets (s3_conformance.py section 9), which boto2, for which "
        "the test was written, sent. Refusing C1 control characters in keys is not S3's rule",
    "bucket_acl_no_grants":
        "the suite's main user is the cluster's root key, which is the operator: allowed "
        "everything by design (docs/security.md), so it still writes into its bucket after "
        "removing its own grants; s3-tests wants 403. An ordinary user owning a bucket also "
        "keeps writing it (gw_authz.c gives a bucket's owner its data whatever the ACL)",
    "object_unicode_metadata":
        "a non-ASCII metadata value comes back as RFC 2047 words (=?UTF-8?B?...?=), as AWS "
        "documents and s3_conformance.py holds; s3-tests (fails_on_rgw) wants the raw text",
    "multipart_resend_first_finishes_last":
        "a CompleteMultipartUpload listing part 1 twice is 400 InvalidPartOrder (the list must "
        "be strictly ascending; test_gw_xml holds that on purpose); s3-tests lists the part "
        "twice and wants the later entry. Re-sent parts themselves are handled: the copy "
        "the Complete names wins (multipart_upload_resend_part, s3_conformance.py section 1)",
}

ENDPOINT = sys.argv[1]
HOST = urllib.parse.urlparse(ENDPOINT).hostname
PORT = urllib.parse.urlparse(ENDPOINT).port
REGION = "us-east-1"
MIB = 1024 * 1024
ALLUSERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHUSERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
CFG = dict(signature_version="s3v4", retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(ak=None, sk=None, unsigned=False):
    kw = dict(endpoint_url=ENDPOINT, region_name=REGION)
    if unsigned:
        return boto3.client("s3", config=Config(signature_version=UNSIGNED,
                                                retries={"max_attempts": 1},
                                                s3={"addressing_style": "path"}), **kw)
    return boto3.client("s3", aws_access_key_id=ak, aws_secret_access_key=sk,
                        config=Config(**CFG), **kw)


def main_client():
    return client(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def alt_client():
    return client(os.environ["ALT_ACCESS_KEY_ID"], os.environ["ALT_SECRET_ACCESS_KEY"])


def anon_client():
    return client(unsigned=True)


s3 = main_client()
alt = alt_client()
anon = anon_client()
MAIN_ID = None  # the main user's canonical id and name (from a bucket ACL)
MAIN_NAME = None
ALT_ID = None
ALT_NAME = None

_seq = [0]
_seq_lock = threading.Lock()
RUN = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def new_name():
    with _seq_lock:
        _seq[0] += 1
        return f"s3t-{RUN}-{_seq[0]}"


def new_bucket(c=None, **kw):
    name = new_name()
    (c or s3).create_bucket(Bucket=name, **kw)
    return name


def create_objects(keys, bucket=None, parallel=1):
    """Bucket (new unless given) holding each key, its body the key itself."""
    b = bucket or new_bucket()
    if parallel > 1:
        with ThreadPoolExecutor(parallel) as ex:
            list(ex.map(lambda k: s3.put_object(Bucket=b, Key=k, Body=k.encode()), keys))
    else:
        for k in keys:
            s3.put_object(Bucket=b, Key=k, Body=k.encode())
    return b


class Fail(Exception):
    pass


def eq(got, want, what=""):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}" if what else f"got {got!r}, want {want!r}")


def err(fn, **kw):
    """(status, code, response) of a call that must fail."""
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"),
                e.response)
    raise Fail(f"{fn.__name__ if hasattr(fn, '__name__') else fn} succeeded, want an error")


def expect_err(fn, status, code=None, **kw):
    st, c, _ = err(fn, **kw)
    eq((st, c) if code is not None else st, (status, code) if code is not None else status,
       "status/code")


def keys_of(r):
    return [o["Key"] for o in r.get("Contents", [])]


def prefixes_of(r):
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


def body(r):
    return r["Body"].read()


def with_hook(c, event, fn):
    """Registers fn on c for event; returns a function that unregisters it."""
    c.meta.events.register(event, fn)
    return lambda: c.meta.events.unregister(event, fn)


def add_headers(c, op, headers):
    def hook(**kw):
        kw["params"]["headers"].update(headers)
    return with_hook(c, f"before-call.s3.{op}", hook)


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---------------------------------------------------------------- listings --

# test_bucket_list_empty
@check
def list_empty():
    b = new_bucket()
    eq(keys_of(s3.list_objects(Bucket=b)), [])


# test_bucket_list_distinct
@check
def list_distinct():
    b1, b2 = new_bucket(), new_bucket()
    s3.put_object(Bucket=b1, Key="asdf", Body=b"str")
    eq(keys_of(s3.list_objects_v2(Bucket=b2)), [])


# test_bucket_list_many, test_bucket_listv2_many
@check
def list_many():
    b = create_objects(["foo", "bar", "baz"])
    r = s3.list_objects(Bucket=b, MaxKeys=2)
    eq((keys_of(r), r["IsTruncated"]), (["bar", "baz"], True), "v1 page 1")
    r = s3.list_objects(Bucket=b, Marker="baz", MaxKeys=2)
    eq((keys_of(r), r["IsTruncated"]), (["foo"], False), "v1 page 2")
    r = s3.list_objects_v2(Bucket=b, MaxKeys=2)
    eq((keys_of(r), r["IsTruncated"]), (["bar", "baz"], True), "v2 page 1")
    r = s3.list_objects_v2(Bucket=b, StartAfter="baz", MaxKeys=2)
    eq((keys_of(r), r["IsTruncated"]), (["foo"], False), "v2 page 2")


# test_basic_key_count
@check
def list_key_count():
    b = create_objects([str(i) for i in range(5)])
    eq(s3.list_objects_v2(Bucket=b)["KeyCount"], 5)


# test_bucket_list_delimiter_basic, test_bucket_listv2_delimiter_basic
@check
def list_delimiter_basic():
    b = create_objects(["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"])
    for v2 in (False, True):
        r = (s3.list_objects_v2 if v2 else s3.list_objects)(Bucket=b, Delimiter="/")
        eq(r["Delimiter"], "/", "Delimiter")
        eq(keys_of(r), ["asdf"], "keys")
        eq(prefixes_of(r), ["foo/", "quux/"], "prefixes")
        if v2:
            eq(r["KeyCount"], 3, "KeyCount counts keys and prefixes")


# test_bucket_list_encoding_basic, test_bucket_listv2_encoding_basic
@check
def list_encoding_basic():
    b = create_objects(["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"])
    for v2 in (False, True):
        # boto3 decodes url-encoded fields itself: read the XML as sent
        doc = raw_list(b, v2, Delimiter="/", EncodingType="url")
        eq([e.text for e in doc.iter(NS + "Key")], ["asdf%2Bb"], f"v2={v2} keys")
        eq([e.find(NS + "Prefix").text for e in doc.iter(NS + "CommonPrefixes")],
           ["foo%2B1/", "foo/", "quux%20ab/"], f"v2={v2} prefixes")


NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def raw_list(b, v2, **kw):
    """The parsed XML body of a ListObjects(V2) of b as the main user."""
    c = main_client()
    holder = {}

    def grab(http_response, **_):
        holder["body"] = http_response.content
    c.meta.events.register("after-call.s3.ListObjects", grab)
    c.meta.events.register("after-call.s3.ListObjectsV2", grab)
    (c.list_objects_v2 if v2 else c.list_objects)(Bucket=b, **kw)
    return ET.fromstring(holder["body"])


def list_v1(b, prefix, delim, marker, max_keys):
    return s3.list_objects(Bucket=b, Prefix=prefix, Delimiter=delim, Marker=marker, MaxKeys=max_keys)


def list_v2(b, prefix, delim, token, max_keys):
    kw = dict(Bucket=b, Prefix=prefix, Delimiter=delim, MaxKeys=max_keys)
    if token is None:
        kw["StartAfter"] = ""
    else:
        kw["ContinuationToken"] = token
    return s3.list_objects_v2(**kw)


def walk_v1(b, steps):
    """steps: (prefix, max_keys, start_fresh, truncated, keys, prefixes, next_marker)."""
    marker = ""
    for i, (prefix, mk, fresh, trunc, keys, pfx, nxt) in enumerate(steps):
        if fresh:
            marker = ""
        r = list_v1(b, prefix, "/", marker, mk)
        eq((r["IsTruncated"], keys_of(r), prefixes_of(r), r.get("NextMarker")),
           (trunc, keys, pfx, nxt), f"v1 step {i}")
        marker = r.get("NextMarker")


def walk_v2(b, steps):
    token = None
    for i, (prefix, mk, fresh, trunc, keys, pfx, last) in enumerate(steps):
        if fresh:
            token = None
        r = list_v2(b, prefix, "/", token, mk)
        eq((r["IsTruncated"], keys_of(r), prefixes_of(r)), (trunc, keys, pfx), f"v2 step {i}")
        if last:
            eq(r.get("NextContinuationToken"), None, f"v2 step {i}: no NextContinuationToken")
        token = r.get("NextContinuationToken")


# test_bucket_list_delimiter_prefix, test_bucket_listv2_delimiter_prefix
@check
def list_delimiter_prefix():
    b = create_objects(["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"])
    walk_v1(b, [("", 1, True, True, ["asdf"], [], "asdf"),
                ("", 1, False, True, [], ["boo/"], "boo/"),
                ("", 1, False, False, [], ["cquux/"], None),
                ("", 2, True, True, ["asdf"], ["boo/"], "boo/"),
                ("", 2, False, False, [], ["cquux/"], None),
                ("boo/", 1, True, True, ["boo/bar"], [], "boo/bar"),
                ("boo/", 1, False, False, [], ["boo/baz/"], None),
                ("boo/", 2, True, False, ["boo/bar"], ["boo/baz/"], None)])
    walk_v2(b, [("", 1, True, True, ["asdf"], [], False),
                ("", 1, False, True, [], ["boo/"], False),
                ("", 1, False, False, [], ["cquux/"], True),
                ("", 2, True, True, ["asdf"], ["boo/"], False),
                ("", 2, False, False, [], ["cquux/"], True),
                ("boo/", 1, True, True, ["boo/bar"], [], False),
                ("boo/", 1, False, False, [], ["boo/baz/"], True),
                ("boo/", 2, True, False, ["boo/bar"], ["boo/baz/"], True)])


# test_bucket_list_delimiter_prefix_underscore (and its v2)
@check
def list_delimiter_prefix_underscore():
    b = create_objects(["_obj1_", "_under1/bar", "_under1/baz/xyzzy", "_under2/thud", "_under2/bla"])
    walk_v1(b, [("", 1, True, True, ["_obj1_"], [], "_obj1_"),
                ("", 1, False, True, [], ["_under1/"], "_under1/"),
                ("", 1, False, False, [], ["_under2/"], None),
                ("_under1/", 1, True, True, ["_under1/bar"], [], "_under1/bar"),
                ("_under1/", 1, False, False, [], ["_under1/baz/"], None)])
    walk_v2(b, [("", 2, True, True, ["_obj1_"], ["_under1/"], False),
                ("", 2, False, False, [], ["_under2/"], True)])


# test_bucket_list_delimiter_prefix_ends_with_delimiter (and v2)
@check
def list_delimiter_prefix_ends_with_delimiter():
    b = create_objects(["asdf/"])
    walk_v1(b, [("asdf/", 1000, True, False, ["asdf/"], [], None)])
    walk_v2(b, [("asdf/", 1000, True, False, ["asdf/"], [], True)])


def delimiter_split(keys, delim, want_keys, want_prefixes):
    b = create_objects(keys)
    for fn in (s3.list_objects, s3.list_objects_v2):
        r = fn(Bucket=b, Delimiter=delim)
        eq(r.get("Delimiter"), delim, f"{fn.__name__} Delimiter")
        eq(keys_of(r), want_keys, f"{fn.__name__} keys")
        eq(prefixes_of(r), want_prefixes, f"{fn.__name__} prefixes")


# test_bucket_list_delimiter_alt, test_bucket_listv2_delimiter_alt
@check
def list_delimiter_alt():
    delimiter_split(["bar", "baz", "cab", "foo"], "a", ["foo"], ["ba", "ca"])


# test_bucket_list_delimiter_percentage (and v2)
@check
def list_delimiter_percentage():
    delimiter_split(["b%ar", "b%az", "c%ab", "foo"], "%", ["foo"], ["b%", "c%"])


# test_bucket_list_delimiter_whitespace (and v2)
@check
def list_delimiter_whitespace():
    delimiter_split(["b ar", "b az", "c ab", "foo"], " ", ["foo"], ["b ", "c "])


# test_bucket_list_delimiter_dot (and v2)
@check
def list_delimiter_dot():
    delimiter_split(["b.ar", "b.az", "c.ab", "foo"], ".", ["foo"], ["b.", "c."])


# test_bucket_list_delimiter_unreadable (and v2)
@check
def list_delimiter_unreadable():
    delimiter_split(["bar", "baz", "cab", "foo"], "\x0a", ["bar", "baz", "cab", "foo"], [])


# test_bucket_list_delimiter_not_exist (and v2)
@check
def list_delimiter_not_exist():
    delimiter_split(["bar", "baz", "cab", "foo"], "/", ["bar", "baz", "cab", "foo"], [])


# test_bucket_list_delimiter_empty, test_bucket_list_delimiter_none (and v2)
@check
def list_delimiter_empty_or_none():
    names = ["bar", "baz", "cab", "foo"]
    b = create_objects(names)
    for fn in (s3.list_objects, s3.list_objects_v2):
        for kw in ({"Delimiter": ""}, {}):
            r = fn(Bucket=b, **kw)
            eq("Delimiter" in r, False, f"{fn.__name__} {kw}: Delimiter in the answer")
            eq((keys_of(r), prefixes_of(r)), (names, []), f"{fn.__name__} {kw}")


# test_bucket_list_delimiter_not_skip_special
@check
def list_delimiter_not_skip_special():
    tail = ["1999", "1999#", "1999+", "2000"]
    names = ["0/"] + [f"0/{i}" for i in range(1000, 1999)] + tail
    b = create_objects(names, parallel=16)
    r = s3.list_objects(Bucket=b, Delimiter="/")
    eq((keys_of(r), prefixes_of(r)), (tail, ["0/"]))


# test_bucket_listv2_fetchowner_notempty / _defaultempty / _empty
@check
def list_fetch_owner():
    b = create_objects(["foo/bar", "foo/baz", "quux"])
    eq("Owner" in s3.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"][0], True, "FetchOwner=true")
    eq("Owner" in s3.list_objects_v2(Bucket=b)["Contents"][0], False, "default")
    eq("Owner" in s3.list_objects_v2(Bucket=b, FetchOwner=False)["Contents"][0], False, "FetchOwner=false")


def prefix_list(names, prefix, want_keys, delim=None, want_prefixes=(), fns=None):
    b = create_objects(names)
    for fn in fns or (s3.list_objects, s3.list_objects_v2):
        kw = dict(Bucket=b, Prefix=prefix)
        if delim is not None:
            kw["Delimiter"] = delim
        r = fn(**kw)
        eq(r.get("Prefix"), prefix, f"{fn.__name__} Prefix")
        if delim is not None:
            eq(r.get("Delimiter"), delim, f"{fn.__name__} Delimiter")
        eq((keys_of(r), prefixes_of(r)), (want_keys, list(want_prefixes)), fn.__name__)


# test_bucket_list_prefix_basic (and v2)
@check
def list_prefix_basic():
    prefix_list(["foo/bar", "foo/baz", "quux"], "foo/", ["foo/bar", "foo/baz"])


# test_bucket_list_prefix_alt (and v2)
@check
def list_prefix_alt():
    prefix_list(["bar", "baz", "foo"], "ba", ["bar", "baz"])


# test_bucket_list_prefix_empty, test_bucket_list_prefix_none (and v2)
@check
def list_prefix_empty():
    prefix_list(["foo/bar", "foo/baz", "quux"], "", ["foo/bar", "foo/baz", "quux"])


# test_bucket_list_prefix_not_exist (and v2)
@check
def list_prefix_not_exist():
    prefix_list(["foo/bar", "foo/baz", "quux"], "d", [])


# test_bucket_listv2_prefix_unreadable
@check
def list_prefix_unreadable():
    prefix_list(["foo/bar", "foo/baz", "quux"], "\x0a", [], fns=[s3.list_objects_v2])


# test_bucket_list_prefix_unreadable
@check
def list_prefix_unreadable_v1():
    prefix_list(["foo/bar", "foo/baz", "quux"], "\x0a", [], fns=[s3.list_objects])


# test_bucket_list_prefix_delimiter_basic (and v2)
@check
def list_prefix_delimiter_basic():
    prefix_list(["foo/bar", "foo/baz/xyzzy", "quux/thud", "asdf"], "foo/", ["foo/bar"], "/", ["foo/baz/"])


# test_bucket_list_prefix_delimiter_alt (and v2)
@check
def list_prefix_delimiter_alt():
    prefix_list(["bar", "bazar", "cab", "foo"], "ba", ["bar"], "a", ["baza"])


# test_bucket_list_prefix_delimiter_prefix_not_exist (and v2)
@check
def list_prefix_delimiter_prefix_not_exist():
    prefix_list(["b/a/r", "b/a/c", "b/a/g", "g"], "/", [], "d")


# test_bucket_list_prefix_delimiter_delimiter_not_exist (and v2)
@check
def list_prefix_delimiter_delimiter_not_exist():
    prefix_list(["b/a/c", "b/a/g", "b/a/r", "g"], "b", ["b/a/c", "b/a/g", "b/a/r"], "z")


# test_bucket_list_prefix_delimiter_prefix_delimiter_not_exist (and v2)
@check
def list_prefix_delimiter_prefix_delimiter_not_exist():
    prefix_list(["b/a/c", "b/a/g", "b/a/r", "g"], "y", [], "z")


FOUR = ["bar", "baz", "foo", "quxx"]


# test_bucket_list_maxkeys_one (and v2)
@check
def list_maxkeys_one():
    b = create_objects(FOUR)
    r = s3.list_objects(Bucket=b, MaxKeys=1)
    eq((r["IsTruncated"], keys_of(r)), (True, FOUR[:1]), "v1 first")
    r = s3.list_objects(Bucket=b, Marker=FOUR[0])
    eq((r["IsTruncated"], keys_of(r)), (False, FOUR[1:]), "v1 rest")
    r = s3.list_objects_v2(Bucket=b, MaxKeys=1)
    eq((r["IsTruncated"], keys_of(r)), (True, FOUR[:1]), "v2 first")
    r = s3.list_objects_v2(Bucket=b, StartAfter=FOUR[0])
    eq((r["IsTruncated"], keys_of(r)), (False, FOUR[1:]), "v2 rest")


# test_bucket_list_maxkeys_zero (and v2)
@check
def list_maxkeys_zero():
    b = create_objects(FOUR)
    for fn in (s3.list_objects, s3.list_objects_v2):
        r = fn(Bucket=b, MaxKeys=0)
        eq((r["IsTruncated"], keys_of(r)), (False, []), fn.__name__)


# test_bucket_list_maxkeys_none (and v2)
@check
def list_maxkeys_none():
    b = create_objects(FOUR)
    for fn in (s3.list_objects, s3.list_objects_v2):
        r = fn(Bucket=b)
        eq((r["IsTruncated"], keys_of(r), r["MaxKeys"]), (False, FOUR, 1000), fn.__name__)


# test_bucket_list_maxkeys_invalid
@check
def list_maxkeys_invalid():
    b = create_objects(FOUR)
    c = main_client()

    def bad(**kw):
        kw["params"]["url"] += "&max-keys=blah"
    c.meta.events.register("before-call.s3.ListObjects", bad)
    expect_err(c.list_objects, 400, "InvalidArgument", Bucket=b)


# test_bucket_list_marker_none, test_bucket_list_marker_empty
@check
def list_marker_none_empty():
    b = create_objects(FOUR)
    eq(s3.list_objects(Bucket=b)["Marker"], "", "no marker")
    r = s3.list_objects(Bucket=b, Marker="")
    eq((r["Marker"], r["IsTruncated"], keys_of(r)), ("", False, FOUR), "empty marker")


# test_bucket_listv2_continuationtoken_empty
@check
def list_continuationtoken_empty():
    b = create_objects(FOUR)
    r = s3.list_objects_v2(Bucket=b, ContinuationToken="")
    eq((r["ContinuationToken"], r["IsTruncated"], keys_of(r)), ("", False, FOUR))


# test_bucket_listv2_continuationtoken
@check
def list_continuationtoken():
    b = create_objects(FOUR)
    tok = s3.list_objects_v2(Bucket=b, MaxKeys=1)["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket=b, ContinuationToken=tok)
    eq((r["ContinuationToken"], r["IsTruncated"], keys_of(r)), (tok, False, FOUR[1:]))


# test_bucket_listv2_both_continuationtoken_startafter
@check
def list_continuationtoken_startafter():
    b = create_objects(FOUR)
    tok = s3.list_objects_v2(Bucket=b, StartAfter="bar", MaxKeys=1)["NextContinuationToken"]
    r = s3.list_objects_v2(Bucket=b, StartAfter="bar", ContinuationToken=tok)
    eq((r["ContinuationToken"], r["StartAfter"], r["IsTruncated"], keys_of(r)),
       (tok, "bar", False, ["foo", "quxx"]))


# test_bucket_list_marker_unreadable, test_bucket_listv2_startafter_unreadable
@check
def list_marker_unreadable():
    b = create_objects(FOUR)
    r = s3.list_objects(Bucket=b, Marker="\x0a")
    eq((r["Marker"], r["IsTruncated"], keys_of(r)), ("\x0a", False, FOUR), "v1")
    r = s3.list_objects_v2(Bucket=b, StartAfter="\x0a")
    eq((r["StartAfter"], r["IsTruncated"], keys_of(r)), ("\x0a", False, FOUR), "v2")


# test_bucket_list_marker_not_in_list, test_bucket_listv2_startafter_not_in_list,
# test_bucket_list_marker_after_list, test_bucket_listv2_startafter_after_list
@check
def list_marker_not_in_list_and_after():
    b = create_objects(FOUR)
    r = s3.list_objects(Bucket=b, Marker="blah")
    eq((r["Marker"], keys_of(r)), ("blah", ["foo", "quxx"]), "v1 blah")
    r = s3.list_objects_v2(Bucket=b, StartAfter="blah")
    eq((r["StartAfter"], keys_of(r)), ("blah", ["foo", "quxx"]), "v2 blah")
    r = s3.list_objects(Bucket=b, Marker="zzz")
    eq((r["Marker"], r["IsTruncated"], keys_of(r)), ("zzz", False, []), "v1 zzz")
    r = s3.list_objects_v2(Bucket=b, StartAfter="zzz")
    eq((r["StartAfter"], r["IsTruncated"], keys_of(r)), ("zzz", False, []), "v2 zzz")


# test_bucket_list_return_data
@check
def list_return_data():
    names = ["bar", "baz", "foo"]
    b = create_objects(names)
    want = {}
    for k in names:
        h = s3.head_object(Bucket=b, Key=k)
        a = s3.get_object_acl(Bucket=b, Key=k)
        want[k] = (a["Owner"]["DisplayName"], a["Owner"]["ID"], h["ETag"], h["ContentLength"],
                   h["LastModified"])
    for o in s3.list_objects(Bucket=b)["Contents"]:
        d = want[o["Key"]]
        eq((o["Owner"]["DisplayName"], o["Owner"]["ID"], o["ETag"], o["Size"]), d[:4], o["Key"])
        eq(o["LastModified"].replace(microsecond=0), d[4], f"{o['Key']} LastModified")


# test_bucket_list_objects_anonymous, test_bucket_listv2_objects_anonymous,
# test_bucket_list_objects_anonymous_fail, test_bucket_listv2_objects_anonymous_fail
@check
def list_anonymous():
    b = new_bucket()
    expect_err(anon.list_objects, 403, "AccessDenied", Bucket=b)
    expect_err(anon.list_objects_v2, 403, "AccessDenied", Bucket=b)
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    anon.list_objects(Bucket=b)
    anon.list_objects_v2(Bucket=b)


# test_bucket_notexist, test_bucketv2_notexist
@check
def list_bucket_notexist():
    b = new_name()
    expect_err(s3.list_objects, 404, "NoSuchBucket", Bucket=b)
    expect_err(s3.list_objects_v2, 404, "NoSuchBucket", Bucket=b)


# test_bucket_list_special_prefix
@check
def list_special_prefix():
    b = create_objects(["_bla/1", "_bla/2", "_bla/3", "_bla/4", "abcd"])
    eq(len(keys_of(s3.list_objects(Bucket=b))), 5)
    eq(len(keys_of(s3.list_objects(Bucket=b, Prefix="_bla/"))), 4)


# test_bucket_create_special_key_names
@check
def special_key_names():
    names = [" ", '"', "$", "%", "&", "'", "<", ">", "_", "_ ", "_ _", "__"]
    b = create_objects(names)
    eq(keys_of(s3.list_objects(Bucket=b)), names, "listed")
    for k in names:
        eq(body(s3.get_object(Bucket=b, Key=k)), k.encode(), repr(k))
        s3.put_object_acl(Bucket=b, Key=k, ACL="private")


# ----------------------------------------------------------------- buckets --

# test_bucket_delete_notexist, test_bucket_create_delete
@check
def bucket_delete_notexist():
    expect_err(s3.delete_bucket, 404, "NoSuchBucket", Bucket=new_name())
    b = new_bucket()
    s3.delete_bucket(Bucket=b)
    expect_err(s3.delete_bucket, 404, "NoSuchBucket", Bucket=b)


# test_bucket_delete_nonempty
@check
def bucket_delete_nonempty():
    b = create_objects(["foo"])
    expect_err(s3.delete_bucket, 409, "BucketNotEmpty", Bucket=b)


# test_object_write_to_nonexist_bucket
@check
def object_write_to_nonexist_bucket():
    expect_err(s3.put_object, 404, "NoSuchBucket", Bucket=new_name(), Key="foo", Body=b"foo")


# test_bucket_head, test_bucket_head_notexist
@check
def bucket_head():
    b = new_bucket()
    eq(s3.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"], 200)
    st, _, _ = err(s3.head_bucket, Bucket=new_name())
    eq(st, 404)


def bad_name(name):
    """(status, code) of CreateBucket for a name boto3 would refuse to send."""
    c = main_client()
    placeholder = new_name()

    def swap(**kw):
        kw["params"]["url"] = kw["params"]["url"].replace(placeholder, name)
    c.meta.events.register("before-call.s3.CreateBucket", swap)
    st, code, _ = err(c.create_bucket, Bucket=placeholder)
    return st, code


# test_bucket_create_naming_bad_short_one, _short_two, _bad_starts_nonalpha,
# _bad_ip, _dns_underscore, _dns_dash_at_end, _dns_dot_dot, _dns_dot_dash,
# _dns_dash_dot, _bad_punctuation, _bad_long (and a 64-character name)
@check
def bucket_naming_bad():
    for n in ["a", "aa", "_" + new_name(), "192.168.5.123", "foo_bar", "foo-", "foo..bar",
              "foo.-bar", "foo-.bar", "a" * 64, "alpha!soup", "a" * 256, "a" * 280, "a" * 3000]:
        eq(bad_name(n), (400, "InvalidBucketName"), repr(n))


# test_bucket_create_naming_good_long_60.._63, test_bucket_list_long_name,
# test_bucket_create_naming_dns_long, _good_starts_alpha, _good_starts_digit,
# _good_contains_period, _good_contains_hyphen
@check
def bucket_naming_good():
    base = new_name()
    names = [base + "a" * (n - len(base)) for n in (60, 61, 62, 63)]
    names += ["a" + base + "foo", "0" + base + "foo", base + "aaa.111", base + "aaa-111"]
    for n in names:
        eq(s3.create_bucket(Bucket=n)["ResponseMetadata"]["HTTPStatusCode"], 200, n)
    eq(keys_of(s3.list_objects(Bucket=names[1])), [], "list of a 61-character name")


# test_bucket_create_exists
@check
def bucket_create_exists():
    b = new_bucket()
    try:
        s3.create_bucket(Bucket=b)
    except botocore.exceptions.ClientError as e:
        eq((e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]),
           (409, "BucketAlreadyOwnedByYou"))


# test_bucket_create_exists_nonowner
@check
def bucket_create_exists_nonowner():
    b = new_bucket()
    expect_err(alt.create_bucket, 409, "BucketAlreadyExists", Bucket=b)


# test_bucket_recreate_not_overriding
@check
def bucket_recreate_not_overriding():
    b = create_objects(["mykey1", "mykey2"])
    s3.create_bucket(Bucket=b)
    eq(keys_of(s3.list_objects(Bucket=b)), ["mykey1", "mykey2"])


# test_bucket_recreate_overwrite_acl, test_bucket_recreate_new_acl
@check
def bucket_recreate_other_acl():
    b = new_bucket(ACL="public-read")
    eq(err(s3.create_bucket, Bucket=b)[:2], (409, "BucketAlreadyExists"), "public-read, then none")
    b = new_bucket()
    eq(err(s3.create_bucket, Bucket=b, ACL="public-read")[:2], (409, "BucketAlreadyExists"),
       "none, then public-read")


# test_bucket_get_location
@check
def bucket_get_location():
    b = new_bucket()
    eq(s3.get_bucket_location(Bucket=b).get("LocationConstraint"), None)


# test_buckets_create_then_list, test_buckets_list_ctime
@check
def buckets_create_then_list():
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    names = [new_bucket() for _ in range(5)]
    listed = s3.list_buckets()["Buckets"]
    got = {x["Name"] for x in listed}
    for n in names:
        eq(n in got, True, f"{n} listed")
    for x in listed:
        eq(x["CreationDate"] >= before, True, f"{x['Name']} CreationDate {x['CreationDate']}")


# test_list_buckets_invalid_auth, test_list_buckets_bad_auth
@check
def list_buckets_bad_auth():
    expect_err(client("AKIAIGNOTAREALKEY123", "x" * 40).list_buckets, 403, "InvalidAccessKeyId")
    expect_err(client(os.environ["AWS_ACCESS_KEY_ID"], "x" * 40).list_buckets, 403,
               "SignatureDoesNotMatch")


# ----------------------------------------------------------------- objects --

# test_object_read_not_exist
@check
def object_read_not_exist():
    expect_err(s3.get_object, 404, "NoSuchKey", Bucket=new_bucket(), Key="bar")


# test_object_requestid_matches_header_on_error
@check
def object_requestid_matches_header_on_error():
    b = new_bucket()
    holder = {}
    c = main_client()
    c.meta.events.register("after-call.s3.GetObject",
                           lambda http_response, **kw: holder.update(body=http_response.content))
    _, _, resp = err(c.get_object, Bucket=b, Key="bar")
    rid = ET.fromstring(holder["body"]).find(".//RequestId")
    eq(rid is not None and rid.text, resp["ResponseMetadata"]["RequestId"])


# (the error document behind every code the suite compares: Code, Message,
# Resource naming what was asked for, RequestId as in the header; none for HEAD)
@check
def error_document():
    b = new_bucket(ACL="public-read")  # the requests are anonymous
    for path, code, status in ((f"/{b}/no/such key", "NoSuchKey", 404),
                               (f"/{new_name()}/k", "NoSuchBucket", 404),
                               (f"/{new_name()}", "NoSuchBucket", 404)):
        quoted = urllib.parse.quote(path)
        st, rest = raw_request(f"GET {quoted} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nConnection: close")
        head, _, doc = rest.partition("\r\n\r\n")
        rid = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
               if ln.lower().startswith("x-amz-request-id:")]
        x = ET.fromstring(doc)
        got = (st, x.findtext("Code"), bool(x.findtext("Message")), x.findtext("Resource"),
               [x.findtext("RequestId")] == rid)
        eq(got, (status, code, True, path, True), path)
    st, rest = raw_request(f"HEAD /{b}/nope HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nConnection: close")
    eq((st, rest.partition("\r\n\r\n")[2]), (404, ""), "HEAD: no body")


# test_object_head_zero_bytes
@check
def object_head_zero_bytes():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"")
    eq(s3.head_object(Bucket=b, Key="foo")["ContentLength"], 0)


# test_object_write_check_etag
@check
def object_write_check_etag():
    r = s3.put_object(Bucket=new_bucket(), Key="foo", Body=b"bar")
    eq((r["ResponseMetadata"]["HTTPStatusCode"], r["ETag"]), (200, '"37b51d194a7513e45b56f6524f2d51f2"'))


# test_object_write_cache_control
@check
def object_write_cache_control():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", CacheControl="public, max-age=14400")
    eq(s3.head_object(Bucket=b, Key="foo")["ResponseMetadata"]["HTTPHeaders"].get("cache-control"),
       "public, max-age=14400")


# test_object_write_expires
@check
def object_write_expires():
    b = new_bucket()
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=6000)
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", Expires=expires)
    eq(s3.head_object(Bucket=b, Key="foo").get("Expires"), expires.replace(microsecond=0))


# test_object_write_read_update_read_delete, test_object_write_file
@check
def object_write_read_update_read_delete():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"bar")
    s3.put_object(Bucket=b, Key="foo", Body=b"soup")
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"soup")
    s3.delete_object(Bucket=b, Key="foo")
    expect_err(s3.get_object, 404, "NoSuchKey", Bucket=b, Key="foo")


def set_get_meta(value, b=None):
    b = b or new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", Metadata={"meta1": value})
    return s3.get_object(Bucket=b, Key="foo")["Metadata"].get("meta1")


# test_object_set_get_metadata_none_to_good, _none_to_empty, _overwrite_to_empty
@check
def object_metadata_values():
    eq(set_get_meta("mymeta"), "mymeta", "good")
    eq(set_get_meta(""), "", "empty")
    b = new_bucket()
    eq(set_get_meta("oldmeta", b), "oldmeta", "old")
    eq(set_get_meta("", b), "", "overwritten with empty")


# test_object_set_get_unicode_metadata (fails_on_rgw upstream): a raw
# Latin-1 byte in the header (http.client sends str headers as Latin-1)
@check
def object_unicode_metadata():
    b = new_bucket()
    c = main_client()
    add_headers(c, "PutObject", {"x-amz-meta-meta1": "Hello World\xe9"})
    c.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(s3.get_object(Bucket=b, Key="foo")["Metadata"].get("meta1"), "Hello World\xe9")


# test_object_set_get_non_utf8_metadata, _metadata_empty_to_unreadable_prefix,
# _suffix, _infix
@check
def object_metadata_unreadable():
    b = new_bucket()
    for v in ["\x04mymeta", "\x04w", "h\x04", "h\x04w"]:
        st, _, _ = err(s3.put_object, Bucket=b, Key="bar", Metadata={"meta1": v})
        eq(st, 400, repr(v))


# test_object_metadata_replaced_on_put
@check
def object_metadata_replaced_on_put():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar", Metadata={"meta1": "bar"})
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(s3.get_object(Bucket=b, Key="foo")["Metadata"], {})


# test_object_raw_response_headers
@check
def object_response_headers():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"")
    r = s3.get_object(Bucket=b, Key="foo", ResponseCacheControl="no-cache",
                      ResponseContentDisposition="bla", ResponseContentEncoding="aaa",
                      ResponseContentLanguage="esperanto", ResponseContentType="foo/bar",
                      ResponseExpires="123")
    h = r["ResponseMetadata"]["HTTPHeaders"]
    eq((h.get("content-type"), h.get("content-disposition"), h.get("content-language"),
        h.get("content-encoding"), h.get("cache-control")),
       ("foo/bar", "bla", "esperanto", "aaa", "no-cache"))


# test_object_raw_get, _get_bucket_gone, _get_object_gone,
# test_object_delete_key_bucket_gone
@check
def object_raw_get_gone():
    b = new_bucket(ACL="public-read")
    s3.put_object(Bucket=b, Key="foo", ACL="public-read", Body=b"")
    eq(anon.get_object(Bucket=b, Key="foo")["ResponseMetadata"]["HTTPStatusCode"], 200, "public")
    s3.delete_object(Bucket=b, Key="foo")
    expect_err(anon.get_object, 404, "NoSuchKey", Bucket=b, Key="foo")
    expect_err(s3.get_object, 404, "NoSuchKey", Bucket=b, Key="foo")
    s3.delete_bucket(Bucket=b)
    expect_err(anon.get_object, 404, "NoSuchBucket", Bucket=b, Key="foo")
    expect_err(anon.delete_object, 404, "NoSuchBucket", Bucket=b, Key="foo")
    expect_err(s3.get_object, 404, "NoSuchBucket", Bucket=b, Key="foo")


# test_object_raw_get_bucket_acl, test_object_raw_get_object_acl,
# test_object_raw_authenticated_bucket_acl, _object_acl
@check
def object_raw_acls():
    b = new_bucket(ACL="private")
    s3.put_object(Bucket=b, Key="foo", ACL="public-read", Body=b"")
    eq(anon.get_object(Bucket=b, Key="foo")["ResponseMetadata"]["HTTPStatusCode"], 200,
       "private bucket, public object")
    b2 = new_bucket(ACL="public-read")
    s3.put_object(Bucket=b2, Key="foo", ACL="private", Body=b"")
    expect_err(anon.get_object, 403, "AccessDenied", Bucket=b2, Key="foo")
    s3.get_object(Bucket=b2, Key="foo")


# test_object_anon_put, test_object_anon_put_write_access, test_object_put_authenticated
@check
def object_anon_put():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo")
    expect_err(anon.put_object, 403, "AccessDenied", Bucket=b, Key="foo", Body=b"foo")
    b2 = new_bucket(ACL="public-read-write")
    s3.put_object(Bucket=b2, Key="foo")
    eq(anon.put_object(Bucket=b2, Key="foo", Body=b"foo")["ResponseMetadata"]["HTTPStatusCode"], 200)


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# test_object_raw_get_x_amz_expires_not_expired, test_object_raw_put_authenticated_expired
@check
def object_presigned_expires():
    b = new_bucket(ACL="public-read")
    s3.put_object(Bucket=b, Key="foo", ACL="public-read", Body=b"")
    p = {"Bucket": b, "Key": "foo"}
    url = s3.generate_presigned_url("get_object", Params=p, ExpiresIn=100000)
    eq(http("GET", url)[0], 200, "GET, expires in 100000 s")
    # expired (s3-tests signs ExpiresIn=-1000, out of range: the check below)
    url = s3.generate_presigned_url("put_object", Params=p, ExpiresIn=1)
    time.sleep(2)
    eq(http("PUT", url, b"foo")[0], 403, "PUT expired")


# test_object_raw_get_x_amz_expires_out_range_zero, _out_max_range, _out_positive_range,
# test_object_raw_put_authenticated_expired
@check
def object_presigned_expires_out_of_range():
    b = new_bucket(ACL="public-read")
    s3.put_object(Bucket=b, Key="foo", ACL="public-read", Body=b"")
    p = {"Bucket": b, "Key": "foo"}
    for exp in (0, 609901, -7):
        url = s3.generate_presigned_url("get_object", Params=p, ExpiresIn=exp)
        eq(http("GET", url)[0], 403, f"GET expires {exp}")
    url = s3.generate_presigned_url("put_object", Params=p, ExpiresIn=-1000)
    eq(http("PUT", url, b"foo")[0], 403, "PUT expires -1000")


# test_100_continue
@check
def object_100_continue():
    b = new_bucket()

    def send():
        s = socket.create_connection((HOST, PORT), timeout=5)
        s.sendall(f"PUT /{b}/testobj HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
                  "Accept-Encoding: identity\r\nContent-Length: 123\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        data = s.recv(1024)
        s.close()
        return data.decode(errors="replace").split(" ")[1]
    eq(send(), "403", "anonymous PUT to a private bucket")
    s3.put_bucket_acl(Bucket=b, ACL="public-read-write")
    eq(send(), "100", "anonymous PUT to a public-read-write bucket")


# test_multi_object_delete, test_multi_objectv2_delete
@check
def multi_object_delete():
    names = ["key0", "key1", "key2"]
    b = create_objects(names)
    eq(len(s3.list_objects(Bucket=b)["Contents"]), 3)
    d = {"Objects": [{"Key": k} for k in names]}
    for i in range(2):  # the second time the keys are gone: still Deleted
        r = s3.delete_objects(Bucket=b, Delete=d)
        eq((len(r.get("Deleted", [])), "Errors" in r), (3, False), f"round {i}")
        eq("Contents" in s3.list_objects_v2(Bucket=b), False, f"round {i} listed")


# test_multi_object_delete_key_limit, test_multi_objectv2_delete_key_limit
@check
def multi_object_delete_key_limit():
    b = new_bucket()
    st, _, _ = err(s3.delete_objects, Bucket=b,
                   Delete={"Objects": [{"Key": f"key-{i}"} for i in range(1001)]})
    eq(st, 400)


# ------------------------------------------------------------- conditions --

def put_foo(b=None, data=b"bar"):
    b = b or new_bucket()
    return b, s3.put_object(Bucket=b, Key="foo", Body=data)["ETag"]


# test_get_object_ifmatch_good, test_get_object_ifmatch_failed
@check
def get_ifmatch():
    b, etag = put_foo()
    eq(body(s3.get_object(Bucket=b, Key="foo", IfMatch=etag)), b"bar")
    expect_err(s3.get_object, 412, "PreconditionFailed", Bucket=b, Key="foo", IfMatch='"ABCORZ"')


# test_get_object_ifnonematch_good, test_get_object_ifnonematch_failed
@check
def get_ifnonematch():
    b, etag = put_foo()
    st, _, r = err(s3.get_object, Bucket=b, Key="foo", IfNoneMatch=etag)
    eq((st, r["Error"].get("Message")), (304, "Not Modified"))
    eq(body(s3.get_object(Bucket=b, Key="foo", IfNoneMatch="ABCORZ")), b"bar")


# test_get_object_ifmodifiedsince_good, test_get_object_ifmodifiedsince_failed
@check
def get_ifmodifiedsince():
    b, _ = put_foo()
    eq(body(s3.get_object(Bucket=b, Key="foo", IfModifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")), b"bar")
    mtime = s3.get_object(Bucket=b, Key="foo")["LastModified"].astimezone(datetime.timezone.utc)
    after = email.utils.format_datetime(mtime + datetime.timedelta(seconds=1), usegmt=True)
    st, _, r = err(s3.get_object, Bucket=b, Key="foo", IfModifiedSince=after)
    eq((st, r["Error"].get("Message")), (304, "Not Modified"))


# test_get_object_ifunmodifiedsince_good, test_get_object_ifunmodifiedsince_failed
@check
def get_ifunmodifiedsince():
    b, _ = put_foo()
    expect_err(s3.get_object, 412, "PreconditionFailed", Bucket=b, Key="foo",
               IfUnmodifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")
    eq(body(s3.get_object(Bucket=b, Key="foo", IfUnmodifiedSince="Sat, 29 Oct 2100 19:43:31 GMT")), b"bar")


def put_with(b, headers, data=b"zar"):
    c = main_client()
    add_headers(c, "PutObject", headers)
    return c.put_object(Bucket=b, Key="foo", Body=data)


def put_with_err(b, headers, status, code):
    c = main_client()
    add_headers(c, "PutObject", headers)
    expect_err(c.put_object, status, code, Bucket=b, Key="foo", Body=b"zar")


# test_put_object_ifmatch_good, _ifmatch_failed, _ifmatch_overwrite_existed_good,
# _ifmatch_nonexisted_failed
@check
def put_ifmatch():
    b, etag = put_foo()
    put_with(b, {"If-Match": etag.strip('"')})
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"zar", "If-Match: the ETag unquoted")
    put_with_err(b, {"If-Match": '"ABCORZ"'}, 412, "PreconditionFailed")
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"zar", "kept after a failed If-Match")
    put_with(b, {"If-Match": "*"}, b"zoo")
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"zoo", "If-Match: * on an object")
    b2 = new_bucket()
    put_with_err(b2, {"If-Match": "*"}, 412, "PreconditionFailed")
    expect_err(s3.get_object, 404, "NoSuchKey", Bucket=b2, Key="foo")


# test_put_object_ifnonmatch_nonexisted_good, _ifnonmatch_overwrite_existed_failed
@check
def put_ifnonematch():
    b, etag = put_foo()
    put_with_err(b, {"If-None-Match": "*"}, 412, "PreconditionFailed")
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"bar", "kept")
    b2 = new_bucket()
    put_with(b2, {"If-None-Match": "*"}, b"bar")
    eq(body(s3.get_object(Bucket=b2, Key="foo")), b"bar", "If-None-Match: * on no object")


# test_put_object_ifnonmatch_good, test_put_object_ifnonmatch_failed (fails_on_aws)
@check
def put_ifnonematch_etag():
    b, etag = put_foo()
    put_with(b, {"If-None-Match": "ABCORZ"})
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"zar", "outdated ETag")
    etag = s3.head_object(Bucket=b, Key="foo")["ETag"]
    put_with_err(b, {"If-None-Match": etag.strip('"')}, 412, "PreconditionFailed")


# (test_get_object_if* as HEAD asks them: the same answers, without a body)
@check
def head_conditions():
    b, etag = put_foo()
    h = s3.head_object(Bucket=b, Key="foo", IfMatch=etag)
    eq(h["ContentLength"], 3, "If-Match good")
    eq(err(s3.head_object, Bucket=b, Key="foo", IfMatch='"ABCORZ"')[0], 412, "If-Match bogus")
    eq(err(s3.head_object, Bucket=b, Key="foo", IfNoneMatch=etag)[0], 304, "If-None-Match etag")
    s3.head_object(Bucket=b, Key="foo", IfNoneMatch="ABCORZ")
    eq(err(s3.head_object, Bucket=b, Key="foo", IfUnmodifiedSince="Sat, 29 Oct 1994 19:43:31 GMT")[0],
       412, "If-Unmodified-Since past")
    eq(err(s3.head_object, Bucket=b, Key="foo", IfModifiedSince="Sat, 29 Oct 2100 19:43:31 GMT")[0],
       304, "If-Modified-Since future")
    eq(err(s3.head_object, Bucket=b, Key="nope")[0], 404, "HEAD of no object")


class Trigger:
    """A file of size bytes of one character that calls hook once, when
    half of it has been read."""

    def __init__(self, size, ch, hook=None):
        self.size, self.ch, self.hook, self.pos = size, ch.encode(), hook, 0

    def read(self, n=-1):
        if n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        if self.hook and self.pos + n >= self.size // 2:
            hook, self.hook = self.hook, None
            hook()
        self.pos += n
        return self.ch * n

    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (self.pos + off if whence == 1 else self.size + off)
        return self.pos

    def tell(self):
        return self.pos


def all_of(b, key, size, ch):
    data = body(s3.get_object(Bucket=b, Key=key))
    eq((len(data), data == ch.encode() * size), (size, True), f"{key}: all {ch!r}")


# test_atomic_read_1mb / _4mb / _8mb: a GET started before an overwrite
# returns the old object whole
@check
def atomic_read():
    b = new_bucket()
    for size in (MIB, 8 * MIB):
        s3.put_object(Bucket=b, Key="testobj", Body=b"A" * size)
        r = s3.get_object(Bucket=b, Key="testobj")
        first = r["Body"].read(size // 2)
        s3.put_object(Bucket=b, Key="testobj", Body=b"B" * size)
        rest = r["Body"].read()
        eq((len(first + rest), first + rest == b"A" * size), (size, True), f"{size}: the read began on A's")
        all_of(b, "testobj", size, "B")


# test_atomic_write_1mb / _4mb / _8mb, test_atomic_dual_write_1mb / _4mb / _8mb:
# a write that ends last wins whole
@check
def atomic_dual_write():
    b = new_bucket()
    for size in (MIB, 8 * MIB):
        c2 = main_client()
        fp_a = Trigger(size, "A")

        def put_a():
            fp_a.seek(0)
            c2.put_object(Bucket=b, Key="testobj", Body=fp_a)
        s3.put_object(Bucket=b, Key="testobj", Body=Trigger(size, "B", put_a))
        all_of(b, "testobj", size, "B")


# test_atomic_write_1mb / _4mb / _8mb: while B's are being written, a read
# still sees the A's (boto3 reads the body to sign it before sending, so the
# read happens before the write starts, as the suite's own run does)
@check
def atomic_write():
    b = new_bucket()
    size = 4 * MIB
    s3.put_object(Bucket=b, Key="testobj", Body=b"A" * size)
    s3.put_object(Bucket=b, Key="testobj",
                  Body=Trigger(size, "B", lambda: all_of(b, "testobj", size, "A")))
    all_of(b, "testobj", size, "B")


# test_atomic_conditional_write_1mb (fails_on_aws): the same with If-Match: *
@check
def atomic_conditional_write():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="testobj", Body=b"A" * MIB)
    c = main_client()
    add_headers(c, "PutObject", {"If-Match": "*"})
    c.put_object(Bucket=b, Key="testobj", Body=Trigger(MIB, "B", lambda: all_of(b, "testobj", MIB, "A")))
    all_of(b, "testobj", MIB, "B")


# test_atomic_multipart_upload_write: an upload begun (then aborted) over a
# key leaves the object as it was
@check
def atomic_multipart_upload_write():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    uid = s3.create_multipart_upload(Bucket=b, Key="foo")["UploadId"]
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"bar", "during the upload")
    s3.abort_multipart_upload(Bucket=b, Key="foo", UploadId=uid)
    eq(body(s3.get_object(Bucket=b, Key="foo")), b"bar", "after the abort")


# test_multipart_resend_first_finishes_last: part 1 sent as A's, and as B's
# while the A's are in flight; the Complete lists part 1 twice, the B's copy
# first (its answer came first), and the object is the A's
@check
def multipart_resend_first_finishes_last():
    b = new_bucket()
    uid = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    parts = []
    c2 = main_client()

    def upload_b():
        r = c2.upload_part(UploadId=uid, Bucket=b, Key="mymultipart", PartNumber=1, Body=b"B" * 8)
        parts.append({"ETag": r["ETag"].strip('"'), "PartNumber": 1})
    r = s3.upload_part(UploadId=uid, Bucket=b, Key="mymultipart", PartNumber=1, Body=Trigger(8, "A", upload_b))
    parts.append({"ETag": r["ETag"].strip('"'), "PartNumber": 1})
    complete(b, "mymultipart", uid, parts)
    all_of(b, "mymultipart", 8, "A")


# ------------------------------------------------------------------ ranges --

# test_ranged_request_response_code, _skip_leading_bytes_response_code,
# _return_trailing_bytes_response_code
@check
def ranged_request():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="testobj", Body=b"testcontent")
    for rng, want, cr in (("bytes=4-7", b"cont", "bytes 4-7/11"),
                          ("bytes=4-", b"content", "bytes 4-10/11"),
                          ("bytes=-7", b"content", "bytes 4-10/11")):
        r = s3.get_object(Bucket=b, Key="testobj", Range=rng)
        eq((body(r), r["ResponseMetadata"]["HTTPHeaders"].get("content-range"),
            r["ResponseMetadata"]["HTTPStatusCode"]), (want, cr, 206), rng)


# test_ranged_big_request_response_code
@check
def ranged_big_request():
    b = new_bucket()
    data = random.Random(1).randbytes(8 * MIB)
    s3.put_object(Bucket=b, Key="testobj", Body=data)
    r = s3.get_object(Bucket=b, Key="testobj", Range="bytes=3145728-5242880")
    eq((body(r) == data[3145728:5242881], r["ResponseMetadata"]["HTTPHeaders"].get("content-range"),
        r["ResponseMetadata"]["HTTPStatusCode"]), (True, "bytes 3145728-5242880/8388608", 206))


# test_ranged_request_invalid_range, test_ranged_request_empty_object
@check
def ranged_request_invalid():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="testobj", Body=b"testcontent")
    s3.put_object(Bucket=b, Key="empty", Body=b"")
    expect_err(s3.get_object, 416, "InvalidRange", Bucket=b, Key="testobj", Range="bytes=40-50")
    expect_err(s3.get_object, 416, "InvalidRange", Bucket=b, Key="empty", Range="bytes=40-50")


# test_object_read_unreadable (fails_on_rgw upstream)
@check
def object_read_unreadable():
    st, _, r = err(s3.get_object, Bucket=new_bucket(), Key="\xae\x8a-")
    eq((st, r["Error"].get("Message")), (400, "Couldn't parse the specified URI."))


# (DeleteObject of a key that is not there: 204, as the suite's cleanups rely on)
@check
def object_delete_absent():
    r = s3.delete_object(Bucket=new_bucket(), Key="never-written")
    eq(r["ResponseMetadata"]["HTTPStatusCode"], 204)


# test_bucket_create_bad_authorization_none (test_headers.py)
@check
def bucket_create_anonymous():
    st, rest = raw_request(f"PUT /{new_name()} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
                           "Content-Length: 0\r\nConnection: close")
    eq((st, "<Code>AccessDenied</Code>" in rest), (403, True), rest[-300:])


# test_access_bucket_private_object_private, test_access_bucket_publicread_object_private,
# test_access_bucket_publicread_object_publicread (the alt user's view)
@check
def access_canned():
    b = new_bucket(ACL="private")
    s3.put_object(Bucket=b, Key="foo", Body=b"foocontent", ACL="private")
    eq(err(alt.get_object, Bucket=b, Key="foo")[:2], (403, "AccessDenied"), "private/private get")
    eq(err(alt.list_objects, Bucket=b)[:2], (403, "AccessDenied"), "private list")
    eq(err(alt.put_object, Bucket=b, Key="new", Body=b"x")[:2], (403, "AccessDenied"), "private put")
    b = new_bucket(ACL="public-read")
    s3.put_object(Bucket=b, Key="foo", Body=b"foocontent", ACL="private")
    s3.put_object(Bucket=b, Key="bar", Body=b"barcontent", ACL="public-read")
    eq(keys_of(alt.list_objects(Bucket=b)), ["bar", "foo"], "public-read list")
    eq(err(alt.get_object, Bucket=b, Key="foo")[:2], (403, "AccessDenied"), "private object")
    eq(body(alt.get_object(Bucket=b, Key="bar")), b"barcontent", "public-read object")
    eq(err(alt.put_object, Bucket=b, Key="bar", Body=b"x")[:2], (403, "AccessDenied"), "public-read put")


# test_access_bucket_private_object_publicreadwrite: an object's WRITE grant
# does not let others overwrite it (writes are the bucket's);
# test_access_bucket_publicreadwrite_object_private / _object_publicread:
# anyone may write into a public-read-write bucket, not read its private objects
@check
def access_canned_write():
    b = new_bucket(ACL="private")
    s3.put_object(Bucket=b, Key="foo", Body=b"foocontent", ACL="public-read-write")
    eq(body(alt.get_object(Bucket=b, Key="foo")), b"foocontent", "public-read-write object")
    eq(err(alt.put_object, Bucket=b, Key="foo", Body=b"x")[:2], (403, "AccessDenied"),
       "overwrite of a public-read-write object in a private bucket")
    b = new_bucket(ACL="public-read-write")
    s3.put_object(Bucket=b, Key="foo", Body=b"foocontent", ACL="public-read")
    s3.put_object(Bucket=b, Key="bar", Body=b"barcontent")
    eq(body(alt.get_object(Bucket=b, Key="foo")), b"foocontent", "public-read object")
    alt.put_object(Bucket=b, Key="foo", Body=b"barcontent")
    eq(err(alt.get_object, Bucket=b, Key="bar")[:2], (403, "AccessDenied"), "private object")
    alt.put_object(Bucket=b, Key="bar", Body=b"baroverwrite")
    eq(keys_of(alt.list_objects(Bucket=b)), ["bar", "foo"], "listed by alt")
    alt.put_object(Bucket=b, Key="new", Body=b"newcontent")


# test_bucket_acl_revoke_all
@check
def bucket_acl_revoke_all():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    r = s3.get_bucket_acl(Bucket=b)
    old = r["Grants"]
    s3.put_bucket_acl(Bucket=b, AccessControlPolicy={"Owner": r["Owner"], "Grants": []})
    eq(s3.get_bucket_acl(Bucket=b).get("Grants", []), [], "no grants left")
    s3.put_bucket_acl(Bucket=b, AccessControlPolicy={"Owner": r["Owner"], "Grants": old})
    eq(len(s3.get_bucket_acl(Bucket=b)["Grants"]), 1, "restored")


# -------------------------------------------------------------------- copy --

# test_object_copy_zero_size
@check
def copy_zero_size():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"")
    s3.copy_object(Bucket=b, Key="bar321foo", CopySource={"Bucket": b, "Key": "foo123bar"})
    eq(s3.get_object(Bucket=b, Key="bar321foo")["ContentLength"], 0)


# test_object_copy_same_bucket, test_object_copy_verify_contenttype,
# test_object_copy_diff_bucket
@check
def copy_same_and_diff_bucket():
    b, b2 = new_bucket(), new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"foo", ContentType="text/bla")
    src = {"Bucket": b, "Key": "foo123bar"}
    s3.copy_object(Bucket=b, Key="bar321foo", CopySource=src)
    r = s3.get_object(Bucket=b, Key="bar321foo")
    eq((body(r), r["ContentType"]), (b"foo", "text/bla"), "same bucket")
    s3.copy_object(Bucket=b2, Key="bar321foo", CopySource=src)
    eq(body(s3.get_object(Bucket=b2, Key="bar321foo")), b"foo", "other bucket")


# test_object_copy_to_itself
@check
def copy_to_itself():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"foo")
    expect_err(s3.copy_object, 400, "InvalidRequest", Bucket=b, Key="foo123bar",
               CopySource={"Bucket": b, "Key": "foo123bar"})


# test_object_copy_to_itself_with_metadata
@check
def copy_to_itself_with_metadata():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"foo")
    s3.copy_object(Bucket=b, Key="foo123bar", CopySource={"Bucket": b, "Key": "foo123bar"},
                   Metadata={"foo": "bar"}, MetadataDirective="REPLACE")
    eq(s3.get_object(Bucket=b, Key="foo123bar")["Metadata"], {"foo": "bar"})


# test_object_copy_retaining_metadata
@check
def copy_retaining_metadata():
    for size in (3, MIB):
        b = new_bucket()
        md = {"key1": "value1", "key2": "value2"}
        s3.put_object(Bucket=b, Key="foo123bar", Metadata=md, ContentType="audio/ogg", Body=bytes(size))
        s3.copy_object(Bucket=b, Key="bar321foo", CopySource={"Bucket": b, "Key": "foo123bar"})
        r = s3.get_object(Bucket=b, Key="bar321foo")
        eq((r["ContentType"], r["Metadata"], r["ContentLength"]), ("audio/ogg", md, size), size)


# test_object_copy_replacing_metadata
@check
def copy_replacing_metadata():
    for size in (3, MIB):
        b = new_bucket()
        s3.put_object(Bucket=b, Key="foo123bar", Metadata={"key1": "value1", "key2": "value2"},
                      ContentType="audio/ogg", Body=bytes(size))
        md = {"key3": "value3", "key2": "value2"}
        s3.copy_object(Bucket=b, Key="bar321foo", CopySource={"Bucket": b, "Key": "foo123bar"},
                       Metadata=md, MetadataDirective="REPLACE", ContentType="audio/mpeg")
        r = s3.get_object(Bucket=b, Key="bar321foo")
        eq((r["ContentType"], r["Metadata"], r["ContentLength"]), ("audio/mpeg", md, size), size)


# test_object_copy_bucket_not_found, test_object_copy_key_not_found
@check
def copy_source_not_found():
    b = new_bucket()
    st, _, _ = err(s3.copy_object, Bucket=b, Key="bar321foo",
                   CopySource={"Bucket": b + "-fake", "Key": "foo123bar"})
    eq(st, 404, "no source bucket")
    st, _, _ = err(s3.copy_object, Bucket=b, Key="bar321foo", CopySource={"Bucket": b, "Key": "foo123bar"})
    eq(st, 404, "no source key")


# test_object_copy_versioning_multipart_upload (without versioning): a copy
# of a multipart object keeps its bytes, size, metadata and content type
@check
def copy_multipart_source():
    b, b2 = new_bucket(), new_bucket()
    uid, data, parts = mp_upload(b, "srcmultipart", 11 * MIB, content_type="text/bla", metadata={"foo": "bar"})
    complete(b, "srcmultipart", uid, parts)
    for dst_b, dst_k in ((b, "dstmultipart"), (b2, "dstmultipart2")):
        s3.copy_object(Bucket=dst_b, Key=dst_k, CopySource={"Bucket": b, "Key": "srcmultipart"})
        r = s3.get_object(Bucket=dst_b, Key=dst_k)
        eq((r["ContentLength"], r["Metadata"], r["ContentType"], body(r) == data),
           (len(data), {"foo": "bar"}, "text/bla", True), f"{dst_b}/{dst_k}")


# test_object_copy_16m
@check
def copy_16m():
    b = new_bucket()
    data = gen(16 * MIB, 16)
    s3.put_object(Bucket=b, Key="obj1", Body=data)
    s3.copy_object(Bucket=b, Key="obj2", CopySource={"Bucket": b, "Key": "obj1"})
    eq(body(s3.get_object(Bucket=b, Key="obj2")) == data, True)


# test_object_copy_versioned_url_encoding (without versioning),
# test_upload_part_copy_percent_encoded_key: sources whose names need escaping
@check
def copy_special_source_names():
    b = new_bucket()
    for k in ("foo?bar", "bar&foo", "a b", "a+b", "a%b", "100%25", "\u00fc/\u00e9 x", "x=y;z"):
        s3.put_object(Bucket=b, Key=k, Body=k.encode())
        s3.copy_object(Bucket=b, Key="dst-" + k, CopySource={"Bucket": b, "Key": k})
        eq(body(s3.get_object(Bucket=b, Key="dst-" + k)), k.encode(), f"CopyObject {k!r}")
        uid = s3.create_multipart_upload(Bucket=b, Key="mp-" + k)["UploadId"]
        r = s3.upload_part_copy(Bucket=b, Key="mp-" + k, UploadId=uid, PartNumber=1,
                                CopySource={"Bucket": b, "Key": k})
        complete(b, "mp-" + k, uid, [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}])
        eq(body(s3.get_object(Bucket=b, Key="mp-" + k)), k.encode(), f"UploadPartCopy {k!r}")


# test_object_copy_not_owned_bucket
@check
def copy_not_owned_bucket():
    b1 = new_bucket()
    b2 = new_bucket(alt)
    s3.put_object(Bucket=b1, Key="foo123bar", Body=b"foo")
    st, _, _ = err(alt.copy_object, Bucket=b2, Key="bar321foo", CopySource={"Bucket": b1, "Key": "foo123bar"})
    eq(st, 403)


# test_object_copy_canned_acl
@check
def copy_canned_acl():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo123bar", Body=b"foo")
    s3.copy_object(Bucket=b, Key="bar321foo", CopySource={"Bucket": b, "Key": "foo123bar"}, ACL="public-read")
    alt.get_object(Bucket=b, Key="bar321foo")
    s3.copy_object(ACL="public-read", Bucket=b, Key="foo123bar", CopySource={"Bucket": b, "Key": "bar321foo"},
                   Metadata={"abc": "def"}, MetadataDirective="REPLACE")
    alt.get_object(Bucket=b, Key="foo123bar")


# test_copy_object_ifmatch_good, _ifmatch_failed, _ifnonematch_good, _ifnonematch_failed
@check
def copy_conditions():
    b, etag = put_foo()
    s3.copy_object(Bucket=b, Key="bar", CopySource=f"{b}/foo", CopySourceIfMatch=etag)
    eq(body(s3.get_object(Bucket=b, Key="bar")), b"bar", "if-match good")
    expect_err(s3.copy_object, 412, "PreconditionFailed", Bucket=b, Key="bar",
               CopySource=f"{b}/foo", CopySourceIfMatch="ABCORZ")
    expect_err(s3.copy_object, 412, "PreconditionFailed", Bucket=b, Key="bar",
               CopySource=f"{b}/foo", CopySourceIfNoneMatch=etag)
    s3.copy_object(Bucket=b, Key="bar2", CopySource=f"{b}/foo", CopySourceIfNoneMatch="ABCORZ")
    eq(body(s3.get_object(Bucket=b, Key="bar2")), b"bar", "if-none-match failed: copied")


# --------------------------------------------------------------- multipart --

def gen(size, seed=0):
    return random.Random(seed).randbytes(size)


def mp_upload(b, key, size, part_size=5 * MIB, content_type=None, metadata=None, resend=()):
    kw = {}
    if content_type is not None:
        kw["ContentType"] = content_type
    if metadata is not None:
        kw["Metadata"] = metadata
    uid = s3.create_multipart_upload(Bucket=b, Key=key, **kw)["UploadId"]
    data = gen(size, size)
    parts = []
    for i, off in enumerate(range(0, size, part_size)):
        chunk = data[off:off + part_size]
        r = s3.upload_part(UploadId=uid, Bucket=b, Key=key, PartNumber=i + 1, Body=chunk)
        parts.append({"ETag": r["ETag"].strip('"'), "PartNumber": i + 1})
        if i in resend:
            s3.upload_part(UploadId=uid, Bucket=b, Key=key, PartNumber=i + 1, Body=chunk)
    return uid, data, parts


def complete(b, key, uid, parts):
    return s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": parts})


def check_ranges(b, key, data, step):
    for off in range(0, len(data), step):
        end = min(off + step, len(data)) - 1
        r = s3.get_object(Bucket=b, Key=key, Range=f"bytes={off}-{end}")
        eq((r["ContentLength"], body(r) == data[off:end + 1]), (end - off + 1, True), f"range {off}-{end}")


# test_multipart_upload (smaller: 12 MiB, and the second Complete)
@check
def multipart_upload():
    b = new_bucket()
    uid, data, parts = mp_upload(b, "mymultipart", 12 * MIB, content_type="text/bla", metadata={"foo": "bar"})
    r1 = complete(b, "mymultipart", uid, parts)
    r2 = complete(b, "mymultipart", uid, parts)
    eq(r1["ETag"], r2["ETag"], "the repeated Complete's ETag")
    r = s3.get_object(Bucket=b, Key="mymultipart")
    eq((r["ContentType"], r["Metadata"], r["ContentLength"]), ("text/bla", {"foo": "bar"}, len(data)))
    eq(body(r) == data, True, "body")
    eq(r["ETag"].endswith('-3"'), True, f"ETag {r['ETag']}")
    check_ranges(b, "mymultipart", data, 5000000)


# test_multipart_upload_resend_part
@check
def multipart_upload_resend_part():
    b = new_bucket()
    for resend in ([0], [1], [0, 1, 2]):
        uid, data, parts = mp_upload(b, "mymultipart", 11 * MIB, resend=resend)
        complete(b, "mymultipart", uid, parts)
        eq(body(s3.get_object(Bucket=b, Key="mymultipart")) == data, True, f"resend {resend}")


# test_multipart_upload_multiple_sizes
@check
def multipart_upload_multiple_sizes():
    b = new_bucket()
    for size in (5 * MIB, 5 * MIB + 100 * 1024, 10 * MIB):
        uid, data, parts = mp_upload(b, "mymultipart", size)
        complete(b, "mymultipart", uid, parts)
        eq(s3.head_object(Bucket=b, Key="mymultipart")["ContentLength"], size, size)


# test_multipart_upload_size_too_small
@check
def multipart_upload_size_too_small():
    b = new_bucket()
    uid, _, parts = mp_upload(b, "mymultipart", 100 * 1024, part_size=10 * 1024)
    expect_err(s3.complete_multipart_upload, 400, "EntityTooSmall", Bucket=b, Key="mymultipart",
               UploadId=uid, MultipartUpload={"Parts": parts})


# test_multipart_upload_contents, test_multipart_upload_overwrite_existing_object
@check
def multipart_upload_contents_overwrite():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="mymultipart", Body=b"12345" * 1000)
    payload = b"abcde" * MIB
    uid = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    parts = []
    for n, chunk in enumerate((payload, payload, b"123" * MIB)):
        r = s3.upload_part(UploadId=uid, Bucket=b, Key="mymultipart", PartNumber=n + 1, Body=chunk)
        parts.append({"ETag": r["ETag"].strip('"'), "PartNumber": n + 1})
    complete(b, "mymultipart", uid, parts)
    eq(body(s3.get_object(Bucket=b, Key="mymultipart")) == payload * 2 + b"123" * MIB, True)


# test_multipart_upload_empty
@check
def multipart_upload_empty():
    b = new_bucket()
    uid = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    expect_err(s3.complete_multipart_upload, 400, "MalformedXML", Bucket=b, Key="mymultipart", UploadId=uid)


# test_multipart_upload_small
@check
def multipart_upload_small():
    b = new_bucket()
    uid, _, parts = mp_upload(b, "mymultipart", 1)
    complete(b, "mymultipart", uid, parts)
    eq(s3.get_object(Bucket=b, Key="mymultipart")["ContentLength"], 1)
    complete(b, "mymultipart", uid, parts)


# test_abort_multipart_upload, test_abort_multipart_upload_not_found
@check
def multipart_abort():
    b = new_bucket()
    uid, _, _ = mp_upload(b, "mymultipart", 6 * MIB)
    s3.abort_multipart_upload(Bucket=b, Key="mymultipart", UploadId=uid)
    eq(s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [], "aborted upload listed")
    expect_err(s3.list_parts, 404, "NoSuchUpload", Bucket=b, Key="mymultipart", UploadId=uid)
    eq(keys_of(s3.list_objects(Bucket=b)), [], "an aborted upload is no object")
    s3.put_object(Bucket=b, Key="mymultipart")
    expect_err(s3.abort_multipart_upload, 404, "NoSuchUpload", Bucket=b, Key="mymultipart", UploadId="56788")


# test_list_multipart_upload, test_list_multipart_upload_owner
@check
def multipart_list_uploads():
    b = new_bucket(ACL="public-read-write")
    u1 = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    u2 = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    u3 = s3.create_multipart_upload(Bucket=b, Key="mymultipart2")["UploadId"]
    got = [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]]
    eq(sorted(got), sorted([("mymultipart", u1), ("mymultipart", u2), ("mymultipart2", u3)]))
    for k, u in (("mymultipart", u1), ("mymultipart", u2), ("mymultipart2", u3)):
        s3.abort_multipart_upload(Bucket=b, Key=k, UploadId=u)
    a1 = s3.create_multipart_upload(Bucket=b, Key="multipart1")["UploadId"]
    a2 = alt.create_multipart_upload(Bucket=b, Key="multipart2")["UploadId"]
    try:
        for c in (s3, alt):
            ups = c.list_multipart_uploads(Bucket=b)["Uploads"]
            got = [(u["Key"], u["UploadId"], u["Initiator"]["ID"], u["Initiator"]["DisplayName"],
                    u["Owner"]["ID"], u["Owner"]["DisplayName"]) for u in ups]
            eq(got, [("multipart1", a1, MAIN_ID, MAIN_NAME, MAIN_ID, MAIN_NAME),
                     ("multipart2", a2, ALT_ID, ALT_NAME, ALT_ID, ALT_NAME)],
               "owners listed by " + ("main" if c is s3 else "alt"))
    finally:
        alt.abort_multipart_upload(Bucket=b, Key="multipart2", UploadId=a2)
        s3.abort_multipart_upload(Bucket=b, Key="multipart1", UploadId=a1)


# test_multipart_upload_missing_part, test_multipart_upload_incorrect_etag
@check
def multipart_complete_bad_parts():
    b = new_bucket()
    uid = s3.create_multipart_upload(Bucket=b, Key="mymultipart")["UploadId"]
    etag = s3.upload_part(UploadId=uid, Bucket=b, Key="mymultipart", PartNumber=1, Body=b"\x00")["ETag"]
    expect_err(s3.complete_multipart_upload, 400, "InvalidPart", Bucket=b, Key="mymultipart", UploadId=uid,
               MultipartUpload={"Parts": [{"ETag": etag.strip('"'), "PartNumber": 9999}]})
    expect_err(s3.complete_multipart_upload, 400, "InvalidPart", Bucket=b, Key="mymultipart", UploadId=uid,
               MultipartUpload={"Parts": [{"ETag": "ffffffffffffffffffffffffffffffff", "PartNumber": 1}]})


# (ListParts, as the multipart tests' helpers use it)
@check
def multipart_list_parts():
    b = new_bucket()
    uid, data, parts = mp_upload(b, "mymultipart", 11 * MIB)
    r = s3.list_parts(Bucket=b, Key="mymultipart", UploadId=uid)
    eq([(p["PartNumber"], p["ETag"].strip('"'), p["Size"]) for p in r["Parts"]],
       [(1, parts[0]["ETag"], 5 * MIB), (2, parts[1]["ETag"], 5 * MIB), (3, parts[2]["ETag"], MIB)])
    r = s3.list_parts(Bucket=b, Key="mymultipart", UploadId=uid, MaxParts=1)
    eq((len(r["Parts"]), r["IsTruncated"], r.get("NextPartNumberMarker")), (1, True, 1), "MaxParts=1")
    r = s3.list_parts(Bucket=b, Key="mymultipart", UploadId=uid, PartNumberMarker=1)
    eq([p["PartNumber"] for p in r["Parts"]], [2, 3], "PartNumberMarker=1")
    s3.abort_multipart_upload(Bucket=b, Key="mymultipart", UploadId=uid)


def mp_copy(src_b, src_k, dst_b, dst_k, size, part_size=5 * MIB):
    uid = s3.create_multipart_upload(Bucket=dst_b, Key=dst_k)["UploadId"]
    parts = []
    for i, off in enumerate(range(0, size, part_size)):
        end = min(off + part_size, size) - 1
        r = s3.upload_part_copy(Bucket=dst_b, Key=dst_k, UploadId=uid, PartNumber=i + 1,
                                CopySource={"Bucket": src_b, "Key": src_k}, CopySourceRange=f"bytes={off}-{end}")
        parts.append({"ETag": r["CopyPartResult"]["ETag"], "PartNumber": i + 1})
    return uid, parts


# test_multipart_copy_small, test_multipart_copy_special_names
@check
def multipart_copy_small_and_special_names():
    src, dst = new_bucket(), new_bucket()
    for k in ("foo", " ", "_", "__", "?versionId"):
        data = gen(7 * MIB if k == "foo" else 1000, len(k))
        s3.put_object(Bucket=src, Key=k, Body=data)
        uid, parts = mp_copy(src, k, dst, "mymultipart", 1)
        complete(dst, "mymultipart", uid, parts)
        r = s3.get_object(Bucket=dst, Key="mymultipart")
        eq((r["ContentLength"], body(r)), (1, data[:1]), repr(k))


# test_multipart_copy_multiple_sizes
@check
def multipart_copy_multiple_sizes():
    src, dst = new_bucket(), new_bucket()
    data = gen(12 * MIB, 3)
    s3.put_object(Bucket=src, Key="foo", Body=data)
    for size in (5 * MIB, 5 * MIB + 100 * 1024, 10 * MIB + 600 * 1024):
        uid, parts = mp_copy(src, "foo", dst, "mymultipart", size)
        complete(dst, "mymultipart", uid, parts)
        eq(body(s3.get_object(Bucket=dst, Key="mymultipart")) == data[:size], True, size)


# test_multipart_copy_without_range
@check
def multipart_copy_without_range():
    src, dst = new_bucket(), new_bucket()
    data = gen(10, 4)
    s3.put_object(Bucket=src, Key="source", Body=data)
    uid = s3.create_multipart_upload(Bucket=dst, Key="mymultipartcopy")["UploadId"]
    r = s3.upload_part_copy(Bucket=dst, Key="mymultipartcopy", CopySource={"Bucket": src, "Key": "source"},
                            PartNumber=1, UploadId=uid)
    complete(dst, "mymultipartcopy", uid, [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}])
    r = s3.get_object(Bucket=dst, Key="mymultipartcopy")
    eq((r["ContentLength"], body(r)), (10, data))


# test_multipart_copy_invalid_range
@check
def multipart_copy_invalid_range():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="source", Body=b"12345")
    uid = s3.create_multipart_upload(Bucket=b, Key="dest")["UploadId"]
    st, code, _ = err(s3.upload_part_copy, Bucket=b, Key="dest", UploadId=uid, PartNumber=1,
                      CopySource={"Bucket": b, "Key": "source"}, CopySourceRange="bytes=0-21")
    eq(st in (400, 416), True, f"status {st}")
    eq(code, "InvalidRange")


# test_multipart_copy_improper_range
@check
def multipart_copy_improper_range():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="source", Body=b"12345")
    uid = s3.create_multipart_upload(Bucket=b, Key="dest")["UploadId"]
    for rng in ("0-2", "bytes=0", "bytes=hello-world", "bytes=0-bar", "bytes=hello-", "bytes=0-2,3-5"):
        st, code, _ = err(s3.upload_part_copy, Bucket=b, Key="dest", UploadId=uid, PartNumber=1,
                          CopySource={"Bucket": b, "Key": "source"}, CopySourceRange=rng)
        eq((st, code), (400, "InvalidArgument"), rng)


# ---------------------------------------------------------------- ACLs --

def grants_of(r):
    out = []
    for g in r["Grants"]:
        gr = g["Grantee"]
        out.append((g["Permission"], gr.get("Type"), gr.get("ID"), gr.get("DisplayName"), gr.get("URI")))
    return sorted(out, key=lambda x: (x[1], x[0]))


def owner_full():
    return ("FULL_CONTROL", "CanonicalUser", MAIN_ID, MAIN_NAME, None)


def group(perm, uri):
    return (perm, "Group", None, None, uri)


def want_grants(*gs):
    return sorted(gs, key=lambda x: (x[1], x[0]))


# test_bucket_acl_default, test_bucket_acl_canned_during_create, test_bucket_acl_canned,
# test_bucket_acl_canned_publicreadwrite, test_bucket_acl_canned_authenticatedread,
# test_bucket_acl_canned_private_to_private
@check
def bucket_acl_canned():
    b = new_bucket()
    r = s3.get_bucket_acl(Bucket=b)
    eq((r["Owner"]["ID"], r["Owner"]["DisplayName"]), (MAIN_ID, MAIN_NAME), "owner")
    eq(grants_of(r), want_grants(owner_full()), "default")
    eq(s3.put_bucket_acl(Bucket=b, ACL="private")["ResponseMetadata"]["HTTPStatusCode"], 200)
    b = new_bucket(ACL="public-read")
    eq(grants_of(s3.get_bucket_acl(Bucket=b)), want_grants(group("READ", ALLUSERS), owner_full()), "public-read")
    s3.put_bucket_acl(Bucket=b, ACL="private")
    eq(grants_of(s3.get_bucket_acl(Bucket=b)), want_grants(owner_full()), "back to private")
    b = new_bucket(ACL="public-read-write")
    eq(grants_of(s3.get_bucket_acl(Bucket=b)),
       want_grants(group("READ", ALLUSERS), group("WRITE", ALLUSERS), owner_full()), "public-read-write")
    b = new_bucket(ACL="authenticated-read")
    eq(grants_of(s3.get_bucket_acl(Bucket=b)), want_grants(group("READ", AUTHUSERS), owner_full()),
       "authenticated-read")


# test_object_acl_default, _canned_during_create, _canned, _canned_publicreadwrite,
# _canned_authenticatedread
@check
def object_acl_canned():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    eq(grants_of(s3.get_object_acl(Bucket=b, Key="foo")), want_grants(owner_full()), "default")
    s3.put_object(ACL="public-read", Bucket=b, Key="foo", Body=b"bar")
    eq(grants_of(s3.get_object_acl(Bucket=b, Key="foo")), want_grants(group("READ", ALLUSERS), owner_full()),
       "public-read")
    s3.put_object_acl(ACL="private", Bucket=b, Key="foo")
    eq(grants_of(s3.get_object_acl(Bucket=b, Key="foo")), want_grants(owner_full()), "private")
    s3.put_object(ACL="public-read-write", Bucket=b, Key="foo", Body=b"bar")
    eq(grants_of(s3.get_object_acl(Bucket=b, Key="foo")),
       want_grants(group("READ", ALLUSERS), group("WRITE", ALLUSERS), owner_full()), "public-read-write")
    s3.put_object(ACL="authenticated-read", Bucket=b, Key="foo", Body=b"bar")
    eq(grants_of(s3.get_object_acl(Bucket=b, Key="foo")), want_grants(group("READ", AUTHUSERS), owner_full()),
       "authenticated-read")


# test_object_acl_canned_bucketownerread, test_object_acl_canned_bucketownerfullcontrol
@check
def object_acl_bucket_owner():
    b = new_bucket(ACL="public-read-write")
    for acl, perm in (("bucket-owner-read", "READ"), ("bucket-owner-full-control", "FULL_CONTROL")):
        alt.put_object(ACL=acl, Bucket=b, Key="foo", Body=b"")
        got = grants_of(alt.get_object_acl(Bucket=b, Key="foo"))
        eq(got, sorted([("FULL_CONTROL", "CanonicalUser", ALT_ID, ALT_NAME, None),
                        (perm, "CanonicalUser", MAIN_ID, MAIN_NAME, None)], key=lambda x: (x[1], x[0])), acl)


# test_object_header_acl_grants, test_bucket_header_acl_grants: x-amz-grant-*
# headers are the whole ACL (no implicit grant to the owner)
@check
def header_acl_grants():
    ident = f"id={ALT_ID}"
    kw = dict(GrantFullControl=ident, GrantRead=ident, GrantReadACP=ident, GrantWriteACP=ident)
    want = sorted([(p, "CanonicalUser", ALT_ID, ALT_NAME, None)
                   for p in ("FULL_CONTROL", "READ", "READ_ACP", "WRITE", "WRITE_ACP")])
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo_key", Body=b"bar", **kw)
    got = sorted(grants_of(s3.get_object_acl(Bucket=b, Key="foo_key")))
    eq(got, [w for w in want if w[0] != "WRITE"], "object")
    name = new_name()
    s3.create_bucket(Bucket=name, GrantWrite=ident, **kw)
    eq(sorted(grants_of(alt.get_bucket_acl(Bucket=name))), want, "bucket")
    alt.put_object(Bucket=name, Key="foo", Body=b"bar")  # alt may write, having WRITE


# test_bucket_acl_grant_userid_fullcontrol, _read, _readacp, _write, _writeacp
# (an AccessControlPolicy granting by ID only: read back with the user's
# name; the grantee may do just what the permission allows)
@check
def bucket_acl_grant_userid():
    may = {"FULL_CONTROL": "rRwW", "READ": "r", "READ_ACP": "R", "WRITE": "w", "WRITE_ACP": "W"}
    for perm, can in may.items():
        b = new_bucket()
        owner = s3.get_bucket_acl(Bucket=b)["Owner"]
        s3.put_bucket_acl(Bucket=b, AccessControlPolicy={"Owner": owner, "Grants": [
            {"Grantee": {"ID": MAIN_ID, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"ID": ALT_ID, "Type": "CanonicalUser"}, "Permission": perm}]})
        eq(sorted(grants_of(s3.get_bucket_acl(Bucket=b))),
           sorted([owner_full(), (perm, "CanonicalUser", ALT_ID, ALT_NAME, None)]), perm)
        for what, fn, kw in (("r", alt.head_bucket, {}), ("R", alt.get_bucket_acl, {}),
                             ("w", alt.put_object, {"Key": "foo-write", "Body": b"bar"}),
                             ("W", alt.put_bucket_acl, {"ACL": "public-read"})):
            if what in can:
                fn(Bucket=b, **kw)
            else:
                eq(err(fn, Bucket=b, **kw)[0], 403, f"{perm}: {fn.__name__}")


# test_bucket_acl_grant_nonexist_user
@check
def bucket_acl_grant_nonexist_user():
    b = new_bucket()
    r = s3.get_bucket_acl(Bucket=b)
    grants = r["Grants"] + [{"Grantee": {"ID": "_foo", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    eq(err(s3.put_bucket_acl, Bucket=b, AccessControlPolicy={"Owner": r["Owner"], "Grants": grants})[:2],
       (400, "InvalidArgument"))


# (test_bucket_acl_grant_nonexist_user's rule through x-amz-grant-* headers)
@check
def header_acl_grant_nonexist_user():
    b = new_bucket()
    bad = "id=" + "1" * 64
    eq(err(s3.put_object, Bucket=b, Key="foo", Body=b"x", GrantRead=bad)[:2], (400, "InvalidArgument"),
       "PutObject")
    eq(err(s3.put_object_acl, Bucket=b, Key="foo", GrantRead=bad)[:2], (404, "NoSuchKey"),
       "PutObjectAcl of no object")
    eq(err(s3.create_bucket, Bucket=new_name(), GrantRead=bad)[:2], (400, "InvalidArgument"),
       "CreateBucket")
    eq(err(s3.put_bucket_acl, Bucket=b, GrantRead=bad)[:2], (400, "InvalidArgument"), "PutBucketAcl")
    eq(keys_of(s3.list_objects(Bucket=b)), [], "nothing written")


# test_bucket_acl_no_grants: the owner keeps reading its objects and the ACL
@check
def bucket_acl_no_grants():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="foo", Body=b"bar")
    r = s3.get_bucket_acl(Bucket=b)
    s3.put_bucket_acl(Bucket=b, AccessControlPolicy={"Owner": r["Owner"], "Grants": []})
    s3.get_object(Bucket=b, Key="foo")
    eq(err(s3.put_object, Bucket=b, Key="baz", Body=b"a")[0], 403, "the owner writes without WRITE")
    s3.get_bucket_acl(Bucket=b)
    s3.put_bucket_acl(Bucket=b, ACL="private")


# test_object_header_acl_grants with x-amz-grant-write too (boto3 has no
# GrantWrite for objects: the header is added as the test adds it)
@check
def object_header_acl_grant_write():
    ident = f"id={ALT_ID}"
    b = new_bucket()
    c = main_client()
    add_headers(c, "PutObject", {"x-amz-grant-write": ident})
    c.put_object(Bucket=b, Key="foo_key", Body=b"bar", GrantFullControl=ident, GrantRead=ident,
                 GrantReadACP=ident, GrantWriteACP=ident)
    eq(sorted(grants_of(s3.get_object_acl(Bucket=b, Key="foo_key"))),
       sorted([(p, "CanonicalUser", ALT_ID, ALT_NAME, None)
               for p in ("FULL_CONTROL", "READ", "READ_ACP", "WRITE", "WRITE_ACP")]))


# test_bucket_put_bad_canned_acl (test_headers.py)
@check
def bucket_put_bad_canned_acl():
    b = new_bucket()
    c = main_client()
    add_headers(c, "PutBucketAcl", {"x-amz-acl": "public-ready"})
    st, _, _ = err(c.put_bucket_acl, Bucket=b, ACL="public-read")
    eq(st, 400)


# ---------------------------------------------------------- test_headers --

def bad_put(headers):
    b = new_bucket()
    c = main_client()
    add_headers(c, "PutObject", headers)
    return err(c.put_object, Bucket=b, Key="foo", Body=b"bar")


# test_object_create_bad_md5_invalid_short, _md5_bad, _md5_empty
@check
def headers_bad_md5():
    eq(bad_put({"Content-MD5": "YWJyYWNhZGFicmE="})[:2], (400, "InvalidDigest"), "short")
    eq(bad_put({"Content-MD5": "rL0Y20xC+Fzt72VPzMSk2A=="})[:2], (400, "BadDigest"), "mismatched")
    eq(bad_put({"Content-MD5": ""})[:2], (400, "InvalidDigest"), "empty")


# test_object_create_bad_expect_mismatch, _expect_empty, _contenttype_invalid,
# _contenttype_empty; test_bucket_create_bad_expect_mismatch, _expect_empty
@check
def headers_harmless():
    for h in ({"Expect": "200"}, {"Expect": ""}, {"Content-Type": "text/plain"}):
        b = new_bucket()
        c = main_client()
        add_headers(c, "PutObject", h)
        c.put_object(Bucket=b, Key="foo", Body=b"bar")
    s3.put_object(Bucket=new_bucket(), Key="foo", Body=b"bar", ContentType="")
    for h in ({"Expect": "200"}, {"Expect": ""}):
        c = main_client()
        add_headers(c, "CreateBucket", h)
        c.create_bucket(Bucket=new_name())


# test_object_create_bad_contentlength_negative, test_bucket_create_bad_contentlength_negative
@check
def headers_contentlength_negative():
    b = new_bucket()
    st, _, _ = err(s3.put_object, Bucket=b, Key="foo", ContentLength=-1)
    eq(st, 400, "PutObject")
    c = main_client()
    add_headers(c, "CreateBucket", {"Content-Length": "-1"})
    st, _, _ = err(c.create_bucket, Bucket=new_name())
    eq(st, 400, "CreateBucket")


def raw_request(head, body=b""):
    """Sends head (request line and headers, without the blank line) and
    body on a new connection; the answer's status and the text after it."""
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(head.encode() + b"\r\n\r\n" + body)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    line, _, rest = data.partition(b"\r\n")
    return int(line.split()[1]), rest.decode(errors="replace")


# test_object_create_bad_contentlength_none (fails_on_rgw upstream: boto3
# cannot leave Content-Length out, so by hand, to a bucket anyone may write)
@check
def headers_contentlength_none():
    b = new_bucket(ACL="public-read-write")
    st, rest = raw_request(f"PUT /{b}/foo HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nConnection: close")
    eq((st, "<Code>MissingContentLength</Code>" in rest), (411, True), rest[-300:])


def put_with_auth(b, auth):
    return raw_request(f"PUT /{b}/foo HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n{auth}"
                       "Content-Length: 3\r\nConnection: close", b"bar")


# test_object_create_bad_authorization_none (fails_on_rgw upstream: botocore
# signs over what the test sets, so by hand)
@check
def headers_authorization_none():
    st, rest = put_with_auth(new_bucket(), "")
    eq((st, "<Code>AccessDenied</Code>" in rest), (403, True), rest[-300:])


# test_object_create_bad_authorization_empty (fails_on_rgw upstream)
@check
def headers_authorization_empty():
    st, rest = put_with_auth(new_bucket(), "Authorization: \r\n")
    eq(st, 403, rest[-300:])


# ---------------------------------------------------------------- encryption --
# Cairn does not implement server-side encryption: a request that asks for it
# is refused (501 NotImplemented), never stored in the clear as if honoured
# (s3-tests test_sse_s3_* / test_encrypted_transfer_* would need it).

@check
def sse_refused_not_ignored():
    b = new_bucket()
    expect_err(s3.put_object, 501, "NotImplemented", Bucket=b, Key="sse", Body=b"x",
               ServerSideEncryption="AES256")
    expect_err(s3.put_object, 501, "NotImplemented", Bucket=b, Key="kms", Body=b"x",
               ServerSideEncryption="aws:kms", SSEKMSKeyId="k1")
    key = b"k" * 32
    expect_err(s3.put_object, 501, "NotImplemented", Bucket=b, Key="ssec", Body=b"x",
               SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    expect_err(s3.create_multipart_upload, 501, "NotImplemented", Bucket=b, Key="mp",
               ServerSideEncryption="AES256")
    s3.put_object(Bucket=b, Key="plain", Body=b"y")
    expect_err(s3.copy_object, 501, "NotImplemented", Bucket=b, Key="c",
               CopySource={"Bucket": b, "Key": "plain"}, ServerSideEncryption="AES256")
    expect_err(s3.get_object, 501, "NotImplemented", Bucket=b, Key="plain",
               SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    # nothing was stored by the refused writes
    eq(keys_of(s3.list_objects_v2(Bucket=b)), ["plain"], "keys after refused SSE writes")
    eq(s3.list_multipart_uploads(Bucket=b).get("Uploads", []), [], "uploads")


# GetObjectAttributes: ETag, size, storage class, a multipart object's parts
@check
def object_attributes():
    b = new_bucket()
    s3.put_object(Bucket=b, Key="plain", Body=b"x" * 1234)
    a = s3.get_object_attributes(Bucket=b, Key="plain",
                                 ObjectAttributes=["ETag", "ObjectSize", "StorageClass",
                                                   "ObjectParts", "Checksum"])
    h = s3.head_object(Bucket=b, Key="plain")
    eq((a["ETag"], a["ObjectSize"], a["StorageClass"], "ObjectParts" in a),
       (h["ETag"].strip('"'), 1234, "STANDARD", False), "single-part attributes")
    eq(a["LastModified"], h["LastModified"], "Last-Modified")
    a = s3.get_object_attributes(Bucket=b, Key="plain", ObjectAttributes=["ObjectSize"])
    eq(("ETag" in a, a["ObjectSize"]), (False, 1234), "only what was asked")
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    sizes = [5 << 20, 5 << 20, 1000]
    parts = []
    for i, n in enumerate(sizes, 1):
        r = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=i, Body=b"p" * n)
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    a = s3.get_object_attributes(Bucket=b, Key="mp", ObjectAttributes=["ObjectParts", "ETag"])
    op = a["ObjectParts"]
    eq((op["TotalPartsCount"], [(p["PartNumber"], p["Size"]) for p in op["Parts"]],
        op["IsTruncated"], a["ETag"].endswith("-3")),
       (3, [(1, 5 << 20), (2, 5 << 20), (3, 1000)], False, True), "multipart parts")
    a = s3.get_object_attributes(Bucket=b, Key="mp", ObjectAttributes=["ObjectParts"],
                                 MaxParts=1, PartNumberMarker=1)
    op = a["ObjectParts"]
    eq(([p["PartNumber"] for p in op["Parts"]], op["IsTruncated"], op["NextPartNumberMarker"]),
       ([2], True, 2), "a page of parts")
    expect_err(s3.get_object_attributes, 404, "NoSuchKey", Bucket=b, Key="none",
               ObjectAttributes=["ETag"])
    expect_err(alt.get_object_attributes, 403, "AccessDenied", Bucket=b, Key="plain",
               ObjectAttributes=["ETag"])
    expect_err(s3.get_object_attributes, 400, "InvalidArgument", Bucket=b, Key="plain",
               ObjectAttributes=["Color"])


# Bucket configurations Cairn never stores answer what S3 answers for a bucket
# without one (clients and Terraform probe them), to the owner only; their
# PUTs stay NotImplemented (never stored and then ignored).
@check
def bucket_unset_configurations():
    b = new_bucket()
    expect_err(s3.get_bucket_encryption, 404, "ServerSideEncryptionConfigurationNotFoundError",
               Bucket=b)
    expect_err(s3.get_public_access_block, 404, "NoSuchPublicAccessBlockConfiguration", Bucket=b)
    expect_err(s3.get_bucket_ownership_controls, 404, "OwnershipControlsNotFoundError", Bucket=b)
    expect_err(s3.get_bucket_website, 404, "NoSuchWebsiteConfiguration", Bucket=b)
    expect_err(s3.get_bucket_replication, 404, "ReplicationConfigurationNotFoundError", Bucket=b)
    eq("LoggingEnabled" in s3.get_bucket_logging(Bucket=b), False, "logging")
    eq(s3.get_bucket_request_payment(Bucket=b)["Payer"], "BucketOwner", "request payment")
    eq("Status" in s3.get_bucket_accelerate_configuration(Bucket=b), False, "accelerate")
    n = s3.get_bucket_notification_configuration(Bucket=b)
    eq([k for k in n if k.endswith("Configurations")], [], "notifications")
    # a missing bucket is NoSuchBucket; another user is refused
    expect_err(s3.get_bucket_encryption, 404, "NoSuchBucket", Bucket=b + "-none")
    expect_err(alt.get_bucket_logging, 403, "AccessDenied", Bucket=b)
    expect_err(alt.get_bucket_encryption, 403, "AccessDenied", Bucket=b)
    # refused, not stored
    expect_err(s3.put_bucket_encryption, 501, "NotImplemented", Bucket=b,
               ServerSideEncryptionConfiguration={"Rules": [
                   {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    expect_err(s3.get_bucket_encryption, 404, "ServerSideEncryptionConfigurationNotFoundError",
               Bucket=b)


# ------------------------------------------------------------------ runner --

def who():
    global MAIN_ID, MAIN_NAME, ALT_ID, ALT_NAME
    b = new_bucket()
    o = s3.get_bucket_acl(Bucket=b)["Owner"]
    MAIN_ID, MAIN_NAME = o["ID"], o.get("DisplayName")
    b = new_bucket(alt)
    o = alt.get_bucket_acl(Bucket=b)["Owner"]
    ALT_ID, ALT_NAME = o["ID"], o.get("DisplayName")


def main():
    who()
    only = os.environ.get("S3_SUITE_ONLY", "")
    todo = [f for f in CHECKS if only in f.__name__]
    failed, gaps, fixed = [], [], []

    def run(fn):
        t = time.monotonic()
        try:
            fn()
            return fn.__name__, None, time.monotonic() - t
        except Exception as e:  # a check's failure, whatever raised it
            msg = str(e) if isinstance(e, Fail) else "".join(
                traceback.format_exception_only(type(e), e)).strip()
            return fn.__name__, msg, time.monotonic() - t

    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(run, todo))
    for name, msg, secs in results:
        if msg is None:
            if name in KNOWN_GAPS:
                fixed.append(name)
                print(f"FAIL {name}: passes but is listed in KNOWN_GAPS (take it off)")
            continue
        if name in KNOWN_GAPS:
            gaps.append(name)
            print(f"known gap {name}: {msg} [{KNOWN_GAPS[name]}]")
        else:
            failed.append(name)
            print(f"FAIL {name}: {msg}")
    print(f"s3_suite: {len(todo)} checks, {len(todo) - len(failed) - len(gaps) - len(fixed)} passed, "
          f"{len(failed) + len(fixed)} failed, {len(gaps)} known gaps")
    sys.exit(1 if failed or fixed else 0)


main()
