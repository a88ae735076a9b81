"""2,000 keys for s3_more_clients_test.sh: put them, check ListObjectsV2 and
ListObjects (v1) through boto3's paginators against what a sorted list says
the answer must be (exact keys and common prefixes on every page, truncation,
continuation), read them back, and delete them with DeleteObjects in batches
of 1000.

usage: s3_more_list.py ENDPOINT BUCKET put|check|read|delete
Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits non-zero with
a message on the first failed check."""
import concurrent.futures
import sys

import boto3
import botocore
from botocore.config import Config

N = 2000


def keys():
    out = []
    for i in range(N):
        c = i % 10
        if c == 0:
            out.append(f"top{i:04d}")
        elif c in (1, 2):
            out.append(f"photos/2024/{i % 12 + 1:02d}/img{i:04d}.jpg")
        elif c == 3:
            out.append(f"photos/2025/img{i:04d}.jpg")
        elif c == 4:
            out.append(f"docs/readme-{i:04d}.txt")
        elif c == 5:
            out.append(f"docs-old/{i % 7}/{i:04d}")
        elif c == 6:
            out.append(f"deep/a/b/c/d/{i:04d}")
        elif c == 7:
            out.append(f"sp ace/{i % 3}/f {i:04d}")
        elif c == 8:
            out.append(f"uni/\u00fc{i % 5}/\u00e9t\u00e9-{i:04d}")
        else:
            out.append(f"plus+&=/{i:04d}/")  # ends with the delimiter
    assert len(set(out)) == N
    return sorted(out)  # code point order == UTF-8 byte order, S3's order


def body(k):
    return (k + "\n").encode() * 3


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def expected_entries(all_keys, prefix, delim, after=""):
    """The sorted sequence of ('K', key) / ('P', common prefix) S3 must return."""
    out, last_p = [], None
    for k in all_keys:
        if not k.startswith(prefix) or k <= after:
            continue
        rest = k[len(prefix):]
        if delim and delim in rest:
            p = prefix + rest[:rest.index(delim) + len(delim)]
            if p != last_p and p > after:
                out.append(("P", p))
            last_p = p
            continue
        out.append(("K", k))
    return out


def check_pages(pages, want, size, what, v1):
    chunks = [want[i:i + size] for i in range(0, len(want), size)] or [[]]
    check(len(pages) == len(chunks), f"{what}: {len(pages)} pages, want {len(chunks)}")
    for n, (pg, ch) in enumerate(zip(pages, chunks)):
        got_k = [o["Key"] for o in pg.get("Contents", [])]
        got_p = [p["Prefix"] for p in pg.get("CommonPrefixes", [])]
        want_k = [v for t, v in ch if t == "K"]
        want_p = [v for t, v in ch if t == "P"]
        check(got_k == want_k, f"{what} page {n}: keys {got_k[:3]}..{got_k[-2:]} want "
                               f"{want_k[:3]}..{want_k[-2:]} ({len(got_k)} vs {len(want_k)})")
        check(got_p == want_p, f"{what} page {n}: prefixes {got_p[:5]} want {want_p[:5]}")
        last = n == len(chunks) - 1
        check(pg["IsTruncated"] == (not last), f"{what} page {n}: IsTruncated {pg['IsTruncated']}")
        if v1:
            if not last and ch and "Delimiter" in pg:
                check(pg.get("NextMarker") == ch[-1][1],
                      f"{what} page {n}: NextMarker {pg.get('NextMarker')!r} want {ch[-1][1]!r}")
        else:
            check(pg["KeyCount"] == len(ch), f"{what} page {n}: KeyCount {pg['KeyCount']}")
            if not last:
                check(pg.get("NextContinuationToken"), f"{what} page {n}: no continuation token")
        for o in pg.get("Contents", []):
            check(o["Size"] == len(body(o["Key"])), f"{what}: size of {o['Key']!r}")


QUERIES = [  # prefix, delimiter
    ("", None), ("", "/"), ("photos/", "/"), ("photos/2024/", "/"), ("photos/2024/0", "/"),
    ("photos/", None), ("docs", "/"), ("docs", "-"), ("docs-old/", "/"), ("deep/", "/"),
    ("deep/a/b/c/d/", "/"), ("nomatch/", "/"), ("top", "/"), ("sp ace/", "/"),
    ("sp ace/1/", None), ("uni/", "/"), ("uni/\u00fc3/", "/"), ("plus+&=/", "/"), ("", "o"),
    ("", "/0"),
]


def run_check(s3, bucket, all_keys):
    v2 = s3.get_paginator("list_objects_v2")
    v1 = s3.get_paginator("list_objects")
    nreq = 0
    for prefix, delim in QUERIES:
        want = expected_entries(all_keys, prefix, delim)
        for size in (1000, 333, 37):
            if size < 100 and len(want) > 400:
                continue  # keep the request count modest
            kw = {"Bucket": bucket, "Prefix": prefix, "PaginationConfig": {"PageSize": size}}
            if delim:
                kw["Delimiter"] = delim
            what = f"prefix {prefix!r} delimiter {delim!r} page {size}"
            pages = list(v2.paginate(**kw))
            check_pages(pages, want, size, "V2 " + what, False)
            pages1 = list(v1.paginate(**kw))
            check_pages(pages1, want, size, "V1 " + what, True)
            nreq += len(pages) + len(pages1)
    # StartAfter (v2) and Marker (v1): at a key, at a common prefix (skipped, as v1
    # continues with NextMarker = that prefix), between prefixes, past the end.
    for after, prefix, delim in ((all_keys[777], "", None), (all_keys[777], "photos/", None),
                                 ("photos/2024/05/", "photos/2024/", "/"),
                                 ("photos/2024/05", "photos/2024/", "/"), ("docs-", "", "/"),
                                 ("docs-old/", "", "/"), ("top1000", "", "/"), ("zzz", "", "/")):
        want = expected_entries(all_keys, prefix, delim, after)
        kw = {"Bucket": bucket, "Prefix": prefix, "PaginationConfig": {"PageSize": 400}}
        if delim:
            kw["Delimiter"] = delim
        what = f"after {after!r} prefix {prefix!r} delimiter {delim!r}"
        check_pages(list(v2.paginate(StartAfter=after, **kw)), want, 400, "V2 " + what, False)
        check_pages(list(v1.paginate(Marker=after, **kw)), want, 400, "V1 " + what, True)
    # MaxKeys 0: no keys.
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    check(r["KeyCount"] == 0 and "Contents" not in r, "MaxKeys=0 returns no keys")
    print(f"listings: {len(QUERIES)} prefix/delimiter queries x page sizes, v1 and v2, "
          f"start-after/marker: all pages exact ({nreq}+ list requests)")


def main():
    endpoint, bucket, cmd = sys.argv[1:4]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                    max_pool_connections=16, connect_timeout=10,
                                    read_timeout=60, s3={"addressing_style": "path"}))
    all_keys = keys()
    pool = concurrent.futures.ThreadPoolExecutor(8)
    if cmd == "put":
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body(k)), all_keys))
        print(f"put {len(all_keys)} keys")
    elif cmd == "check":
        run_check(s3, bucket, all_keys)
    elif cmd == "read":
        def rd(k):
            return s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body(k)
        bad = [k for k, ok in zip(all_keys, pool.map(rd, all_keys)) if not ok]
        check(not bad, f"{len(bad)} keys read back wrong: {bad[:5]}")
        print(f"read {len(all_keys)} keys byte-exact")
    elif cmd == "delete":
        for n, start in enumerate(range(0, N, 1000)):
            batch = all_keys[start:start + 1000]
            quiet = n % 2 == 1
            r = s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in batch], "Quiet": quiet})
            check(not r.get("Errors"), f"delete batch {n}: errors {r.get('Errors', [])[:3]}")
            got = sorted(d["Key"] for d in r.get("Deleted", []))
            check(got == ([] if quiet else batch), f"delete batch {n}: {len(got)} reported deleted")
            r = s3.list_objects_v2(Bucket=bucket)
            check(r["KeyCount"] == N - start - len(batch),
                  f"after delete batch {n}: {r['KeyCount']} keys listed")
        for k in (all_keys[0], all_keys[1500]):
            try:
                s3.head_object(Bucket=bucket, Key=k)
                check(False, f"{k!r} still there after DeleteObjects")
            except botocore.exceptions.ClientError as e:
                check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"HEAD {k!r}")
        r = s3.list_objects(Bucket=bucket)
        check("Contents" not in r and not r["IsTruncated"], "bucket empty after DeleteObjects")
        print(f"DeleteObjects: {N} keys in batches of 1000 (verbose and quiet), bucket empty")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
