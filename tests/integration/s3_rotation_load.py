"""S3 load for iauth_test.sh's secret rotation: PUT, GET and compare objects
until the STOP file exists (and at least 20 rounds ran), through either of
two gateways (the other one when a call fails, as a client configured with
two endpoints does), with the SDK's standard retries. Prints each failure
and "ops N failed F" at the end.

usage: s3_rotation_load.py ENDPOINT1 ENDPOINT2 ACCESS_KEY SECRET_KEY STOP"""
import os
import sys

import boto3
import botocore.config

ep1, ep2, ak, sk, stop = sys.argv[1:6]
cfg = botocore.config.Config(retries={"mode": "standard", "max_attempts": 4},
                             connect_timeout=2, read_timeout=10)
clients = [boto3.client("s3", endpoint_url=e, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1", config=cfg) for e in (ep1, ep2)]


def call(f):
    last = None
    for c in clients:
        try:
            return f(c)
        except Exception as e:  # the other gateway then
            last = e
    raise last


call(lambda c: c.create_bucket(Bucket="rotation"))
ops = failed = 0
while not os.path.exists(stop) or ops < 20:
    key = "k%d" % ops
    body = os.urandom(200000 + ops)
    try:
        call(lambda c: c.put_object(Bucket="rotation", Key=key, Body=body))
        got = call(lambda c: c.get_object(Bucket="rotation", Key=key)["Body"].read())
        if got != body:
            failed += 1
            print("%s read back different" % key, flush=True)
    except Exception as e:
        failed += 1
        print("%s: %s" % (key, e), flush=True)
    ops += 1
print("ops %d failed %d" % (ops, failed), flush=True)
