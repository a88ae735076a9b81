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

CHROMIUM="$(command -v chromium || true)"
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/install-deps.sh)"
# chrome URL [FLAGS...]: headless Chromium loads URL and prints its final DOM.
# --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
# The virtual time budget lets the page's redirects and fetch() calls finish
# (time stands still while a request is in flight) before the DOM is dumped.
chrome() {
  local url="$1"; shift
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$TEST_DIR/chromium" --virtual-time-budget=20000 "$@" --dump-dom "$url" \
    2>> "$TEST_DIR/chromium.log"
}

step "the web application: bucket 'browser', CORS for origin A only, pages on two origins (s3_browser.py)"
/usr/bin/python3 "$CAIRN_SRC/tests/integration/s3_browser.py" "$S3_ENDPOINT" \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$TEST_DIR" 2> "$TEST_DIR/webapp.log" &
PIDS+=($!)
wait_for 30 test -s "$TEST_DIR/ports" || fail "s3_browser.py did not start"
read -r PORT_A PORT_B < "$TEST_DIR/ports"
A="http://127.0.0.1:$PORT_A" B="http://127.0.0.1:$PORT_B"
# events KIND ORIGIN: the JSON records of that kind from that origin, one a line.
events() {
  /usr/bin/python3 - "$TEST_DIR/events.jsonl" "$1" "$2" <<'PY'
import json, sys
path, kind, origin = sys.argv[1:4]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
for l in lines:
    e = json.loads(l)
    if e["event"] == kind and e["origin"] == origin:
        print(json.dumps(e))
PY
}

step "Chromium submits a real HTML form with a SigV4 POST policy (redirected to origin A)"
chrome "$A/form.html" > "$TEST_DIR/form.dom" || fail "chromium failed on the form page"
DONE="$(events done A)"
[ -n "$DONE" ] || fail "the browser never reached success_action_redirect: $(grep -o 'ERR_[A-Z_]*' "$TEST_DIR/form.dom" | head -1)"
/usr/bin/python3 - "$DONE" <<'PY' || fail "redirect query: $DONE"
import json, sys
q = json.loads(sys.argv[1])["query"]
assert q["bucket"] == "browser" and q["key"] == "uploads/form.txt", q
assert q["etag"].startswith('"') and len(q["etag"]) == 34, q
PY
grep -q 'id="done"' "$TEST_DIR/form.dom" || fail "the browser did not end on /done"
"${AWS[@]}" s3api get-object --bucket browser --key uploads/form.txt "$TEST_DIR/form.out" \
  > "$TEST_DIR/form.json" || fail "the form's upload is not stored"
[ "$(cat "$TEST_DIR/form.out")" = "uploaded by a form in chromium" ] || fail "form upload bytes"
/usr/bin/python3 - "$TEST_DIR/form.json" <<'PY' || fail "form upload attributes: $(cat "$TEST_DIR/form.json")"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["ContentType"] == "text/plain", o
assert o["Metadata"] == {"from": "chromium-form"}, o
PY

step "Chromium fetch() from origin A: preflighted GET with exposed headers, a refused header, POST upload"
chrome "$A/cors.html?post=1" > "$TEST_DIR/cors-a.dom" || fail "chromium failed on cors.html (A)"
REP="$(events report A)"
[ -n "$REP" ] || fail "no report from origin A"
/usr/bin/python3 - "$REP" <<'PY' || fail "origin A: $REP"
import json, sys
r = json.loads(sys.argv[1])["results"]
g = r["get"]
assert g.get("status") == 200 and g["body"] == "hello from the gateway", g
assert g["etag"] and g["etag"].startswith('"'), "ETag is exposed: %r" % g
assert g["color"] == "blue", "x-amz-meta-color is exposed: %r" % g
assert "error" in r["forbidden_header"], "a header no rule allows must fail: %r" % r
assert r["simple"].get("status") == 200, r["simple"]
p = r["post"]
assert p.get("status") == 201 and "<Key>fetched/fetch.txt</Key>" in p["body"], p
assert p["etag"] and p["etag"].startswith('"'), p
PY
"${AWS[@]}" s3api get-object --bucket browser --key fetched/fetch.txt "$TEST_DIR/fetch.out" \
  >/dev/null || fail "the fetch() upload is not stored"
[ "$(cat "$TEST_DIR/fetch.out")" = "uploaded by fetch in chromium" ] || fail "fetch upload bytes"

step "Chromium fetch() from origin B (no rule): every cross-origin read is refused"
chrome "$B/cors.html" > "$TEST_DIR/cors-b.dom" || fail "chromium failed on cors.html (B)"
REP="$(events report B)"
[ -n "$REP" ] || fail "no report from origin B"
/usr/bin/python3 - "$REP" <<'PY' || fail "origin B: $REP"
import json, sys
r = json.loads(sys.argv[1])["results"]
for what in ("get", "forbidden_header", "simple"):
    assert "error" in r[what], "%s from origin B must fail: %r" % (what, r)
PY

step "CORS rules are replicated state: every metadata replica killed (-9) and restarted"
for i in 1 2 3; do cluster_kill "meta$i"; done
for i in 1 2 3; do cluster_start "meta$i"; done
wait_for 30 "${AWS[@]}" s3api get-bucket-cors --bucket browser ||
  fail "the gateway does not answer after the replicas restarted"
"${AWS[@]}" s3api get-bucket-cors --bucket browser --query 'CORSRules[0].AllowedOrigins[0]' \
  --output text | grep -x >/dev/null "$A" || fail "CORS rules lost over a restart"
curl -s -o /dev/null -w '%{http_code}' -X OPTIONS -H "Origin: $A" \
  -H 'Access-Control-Request-Method: PUT' "$S3_ENDPOINT/browser/x" | grep -x >/dev/null 200 ||
  fail "preflight after the restart"
step "PASS"
