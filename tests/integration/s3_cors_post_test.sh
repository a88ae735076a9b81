#!/usr/bin/env bash
# CORS and browser POST uploads (#13) through real clients: s3_cors_post.py
# (boto3 and raw HTTP) checks Put/Get/DeleteBucketCors, preflights, CORS
# headers on actual requests and POST uploads with a SigV4 POST policy; then
# headless Chromium submits a real HTML form to the gateway and runs fetch()
# calls from an allowed and a refused origin (s3_browser.py serves the pages);
# then the CORS rules survive a restart of every metadata replica.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cluster_up 6
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
unset AWS_CA_BUNDLE AWS_PROFILE
export BOTO_DISABLE_CRT=true AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null
export AWS_DEFAULT_REGION=us-east-1
AWS=(/usr/bin/aws --endpoint-url "$S3_ENDPOINT")

step "boto3 and raw HTTP: CORS configuration, preflights, CORS headers, POST uploads (s3_cors_post.py)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_cors_post.py" "$S3_ENDPOINT" \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
step "PASS"
