#!/usr/bin/python3
"""Parses the XML documents test_gw_xml wrote (argv[1] is their directory)
with botocore's own S3 response parser and URL-decoding handlers, and checks
that a real client reads back exactly the values the C builders were given.
Exits non-zero with a message on the first mismatch."""
import datetime
import os
import sys

os.environ["BOTO_DISABLE_CRT"] = "true"
import botocore.session  # noqa: E402
from botocore import handlers, parsers  # noqa: E402

d = sys.argv[1]
model = botocore.session.get_session().get_service_model("s3")
failures = []


def parse(name, op, status=200):
    with open(os.path.join(d, name), "rb") as f:
        body = f.read()
    shape = model.operation_model(op).output_shape
    return parsers.create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": status}, shape)


def eq(what, got, want):
    if got != want:
        failures.append("%s: got %r want %r" % (what, got, want))


UTC = datetime.timezone.utc
KEY = "a b/c+d&\u00fc.txt"

p = parse("list_v2.xml", "ListObjectsV2")
handlers.decode_list_object_v2(p, {"encoding_type_auto_set": True})
eq("v2 key", p["Contents"][0]["Key"], KEY)
eq("v2 prefix", p["Prefix"], "a b/")
eq("v2 start-after", p["StartAfter"], "x+y")
eq("v2 common prefix", p["CommonPrefixes"][0]["Prefix"], "a b/sub dir/")
eq("v2 etag", p["Contents"][0]["ETag"], '"abc123"')
eq("v2 size", p["Contents"][0]["Size"], 12345)
eq("v2 mtime", p["Contents"][0]["LastModified"],
   datetime.datetime(2009, 10, 12, 17, 50, 30, tzinfo=UTC))
eq("v2 truncated", p["IsTruncated"], True)
eq("v2 key count", p["KeyCount"], 2)
eq("v2 next token", p["NextContinuationToken"], "tok2")

p = parse("list_v1.xml", "ListObjects")
eq("v1 key", p["Contents"][0]["Key"], KEY)
eq("v1 marker", p["Marker"], "m<1>")
eq("v1 next marker", p["NextMarker"], "n&2")
eq("v1 storage class", p["Contents"][0]["StorageClass"], "REDUCED_REDUNDANCY")

p = parse("buckets.xml", "ListBuckets")
eq("buckets", [b["Name"] for b in p["Buckets"]], ["alpha", "beta"])
eq("owner", p["Owner"]["DisplayName"], "cairn & co")

p = parse("parts.xml", "ListParts")
eq("parts", [(x["PartNumber"], x["ETag"], x["Size"]) for x in p["Parts"]],
   [(1, '"e1"', 5 << 20), (2, '"e2"', 100)])
eq("parts next marker", p["NextPartNumberMarker"], 2)

p = parse("uploads.xml", "ListMultipartUploads")
eq("uploads", [(u["Key"], u["UploadId"]) for u in p["Uploads"]], [("k y", "u2")])

p = parse("initiate.xml", "CreateMultipartUpload")
eq("initiate", (p["Bucket"], p["Key"], p["UploadId"]), ("bkt", "k&y", "up-1"))
p = parse("complete.xml", "CompleteMultipartUpload")
eq("complete etag", p["ETag"], '"abc-3"')
p = parse("copy.xml", "CopyObject")
eq("copy etag", p["CopyObjectResult"]["ETag"], '"abc"')
p = parse("delete.xml", "DeleteObjects")
eq("deleted", [(x["Key"], x.get("VersionId"), x.get("DeleteMarker"),
                 x.get("DeleteMarkerVersionId")) for x in p["Deleted"]],
   [("a&b", None, None, None), ("v", "0000000000000007", None, None),
    ("m", None, True, "0000000000000009")])
eq("delete errors", [(x["Key"], x.get("VersionId"), x["Code"]) for x in p["Errors"]],
   [("c", None, "AccessDenied"), ("l", "0000000000000003", "AccessDenied")])
p = parse("versions.xml", "ListObjectVersions")
handlers.decode_list_object_versions(p, {"encoding_type_auto_set": True})
eq("versions markers", (p["KeyMarker"], p["VersionIdMarker"], p["NextKeyMarker"],
                        p["NextVersionIdMarker"], p["IsTruncated"], p["MaxKeys"]),
   ("k m", "0000000000000002", KEY, "null", True, 3))
eq("versions prefix", (p["Prefix"], p["Delimiter"]), ("a b/", "/"))
eq("versions delete marker", [(m["Key"], m["VersionId"], m["IsLatest"], m["LastModified"],
                               m["Owner"]["DisplayName"]) for m in p["DeleteMarkers"]],
   [(KEY, "0000000000000005", True, datetime.datetime(2009, 10, 12, 17, 50, 30, tzinfo=UTC),
     "cairn & co")])
eq("versions", [(v["Key"], v["VersionId"], v["IsLatest"], v["ETag"], v["Size"],
                 v["StorageClass"]) for v in p["Versions"]],
   [(KEY, "null", False, '"abc"', 42, "STANDARD")])
eq("versions common prefix", p["CommonPrefixes"][0]["Prefix"], "a b/sub dir/")
p = parse("location.xml", "GetBucketLocation")


class _Resp:  # what the handler reads from an http response
    raw = True

    def __init__(self, content):
        self.content = content


with open(os.path.join(d, "location.xml"), "rb") as f:
    handlers.parse_get_bucket_location(p, _Resp(f.read()))
eq("location", p.get("LocationConstraint"), "eu-west-1")
p = parse("error.xml", "GetObject", 404)
eq("error", (p["Error"]["Code"], p["Error"]["Message"]),
   ("NoSuchKey", "The specified key does not exist."))

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("botocore read %d documents" % 13)
