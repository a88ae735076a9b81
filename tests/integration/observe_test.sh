#!/usr/bin/env bash
# Observability with real daemons (scripts/cluster.sh: 3 cairn-meta, 7
# cairn-chunk, cairn-gateway; chunkservers declared down after 2 s of
# silence). Checks that
#   - /metrics of every daemon parses under a strict exposition-format checker
#     (TYPE for every family, contiguous families, no duplicate series,
#     well-formed histograms) and carries the documented series
#     (docs/observability.md);
#   - the series move: S3 requests grow the per-operation counts and latency
#     histograms and the byte counters, metadata commits grow the leader's
#     Paxos commit-latency histogram, fragment writes grow the chunkservers'
#     fsync histogram;
#   - 48 concurrent S3 clients open no more than a few connections to the
#     metadata leader (the gateway's batches go out on connections of their
#     own: cairn_meta_connections_accepted_total);
#   - GET /_cairn/status answers 401 without credentials or with a wrong
#     secret, 403 for a wrong SigV4 signature or a key that is not an admin
#     key, and 200 for the root key (HTTP Basic and SigV4) and a stored admin
#     key;
#   - headless Chromium renders the page: the leader the metrics name, every
#     chunkserver up; after a chunkserver is killed it is shown down, its
#     groups degraded, and a read of an object it held is served by decoding
#     (byte-exact) and bumps cairn_gw_degraded_reads_total and the page's
#     counter; after it returns and another chunkserver is drained, the page
#     shows the drained one retired, the fragments rebuilt and a measured
#     rebuild rate. Screenshots are kept in $CAIRN_BUILD/artifacts/;
#   - a GET that finds a damaged fragment: the chunkserver's and the gateway's
#     log lines about it end with the x-amz-request-id the client got.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NCHUNK=7
ZONE='<i>&"z</i>' # markup in a value the page shows: it must come out as text
CAIRN="$CAIRN_BUILD/cli/cairn"
ART="$CAIRN_BUILD/artifacts"
mkdir -p "$ART"
CHROMIUM="$(command -v chromium || true)"
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/install-deps.sh)"

# ---- a strict checker of the Prometheus text format ------------------------
cat > "$TEST_DIR/promcheck.py" <<'PY'
"""promcheck.py NAME.prom...: exits 1 with a message on the first violation of
the Prometheus text exposition format (0.0.4); else writes every sample of
NAME.prom to NAME.samples as 'name{l1="v1",...} value' (labels sorted;
'name value' without labels).
Checks: line syntax (metric and label names, label value escapes, float
values, optional integer timestamp); # TYPE at most once per family, before
its samples, with a known type, and present for every family; # HELP at most
once; a family's samples contiguous; no duplicate series; counters >= 0;
histograms: le on every _bucket, ascending bounds, non-decreasing cumulative
counts, a +Inf bucket equal to _count, a _sum. If python3-prometheus-client
is installed, the text must also parse with it."""
import math, re, sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LNAME = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
SAMPLE = re.compile(r'^(' + NAME + r')(\{(.*)\})? (\S+)( -?[0-9]+)?$')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def die(path, no, line, why):
    sys.stderr.write('%s:%d: %s\n  %r\n' % (path, no, why, line))
    sys.exit(1)


def parse_labels(s, path, no, line):
    labels, i = {}, 0
    while i < len(s):
        m = LNAME.match(s, i)
        if not m:
            die(path, no, line, 'bad label name')
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            die(path, no, line, 'label %s: expected ="' % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                die(path, no, line, 'unterminated label value')
            c = s[i]
            if c == '\\':
                nxt = s[i + 1:i + 2]
                if nxt not in ('\\', '"', 'n'):
                    die(path, no, line, 'bad escape \\%s' % nxt)
                val.append({'\\': '\\', '"': '"', 'n': '\n'}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        if name in labels:
            die(path, no, line, 'duplicate label %s' % name)
        labels[name] = ''.join(val)
        if i < len(s):
            if s[i] != ',':
                die(path, no, line, 'expected , between labels')
            i += 1
    return labels


def value(tok, path, no, line):
    if tok in ('NaN', '+Inf', '-Inf'):
        return float(tok.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.match(r'^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$', tok):
        die(path, no, line, 'bad value %r' % tok)
    return float(tok)


def key(name, labels):
    if not labels:
        return name
    return name + '{' + ','.join('%s="%s"' % (k, labels[k].replace('\\', '\\\\')
                                 .replace('"', '\\"').replace('\n', '\\n'))
                                 for k in sorted(labels)) + '}'


def check(path, text):
    if not text.endswith('\n'):
        die(path, 0, text[-40:], 'does not end with a newline')
    types, helps, done, series, out = {}, set(), set(), set(), []
    current = None
    hist = {}
    for no, line in enumerate(text[:-1].split('\n'), 1):
        if line == '':
            die(path, no, line, 'empty line')
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                fam = parts[2]
                if not re.match('^' + NAME + '$', fam):
                    die(path, no, line, 'bad metric name')
                if fam in done or fam == current:
                    die(path, no, line, '%s after samples of %s' % (parts[1], fam))
                if parts[1] == 'HELP':
                    if fam in helps:
                        die(path, no, line, 'second HELP')
                    helps.add(fam)
                else:
                    if len(parts) != 4 or parts[3] not in TYPES:
                        die(path, no, line, 'bad TYPE')
                    if fam in types:
                        die(path, no, line, 'second TYPE')
                    types[fam] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            die(path, no, line, 'not a sample line')
        name, labels = m.group(1), parse_labels(m.group(3) or '', path, no, line)
        v = value(m.group(4), path, no, line)
        fam = name
        for suf in ('_bucket', '_sum', '_count'):
            if name.endswith(suf) and types.get(name[:-len(suf)]) == 'histogram':
                fam = name[:-len(suf)]
        if fam not in types:
            die(path, no, line, 'no TYPE for %s' % fam)
        if fam != current:
            if fam in done:
                die(path, no, line, 'samples of %s are not contiguous' % fam)
            if current:
                done.add(current)
            current = fam
        k = key(name, labels)
        if k in series:
            die(path, no, line, 'duplicate series')
        series.add(k)
        t = types[fam]
        if t == 'counter' and not (v >= 0):
            die(path, no, line, 'negative or NaN counter')
        if t == 'histogram':
            if name == fam:
                die(path, no, line, 'bare sample of a histogram')
            base = dict(labels)
            le = base.pop('le', None)
            h = hist.setdefault((fam, key('', base)), {'b': [], 'sum': None, 'count': None})
            if name.endswith('_bucket'):
                if le is None:
                    die(path, no, line, 'bucket without le')
                b = value(le, path, no, line)
                if h['b'] and (b <= h['b'][-1][0] or v < h['b'][-1][1]):
                    die(path, no, line, 'buckets not ascending or counts falling')
                h['b'].append((b, v))
            elif le is not None:
                die(path, no, line, 'le outside a bucket')
            else:
                h['sum' if name.endswith('_sum') else 'count'] = v
        out.append('%s %s' % (k, m.group(4)))
    for (fam, lab), h in hist.items():
        if not h['b'] or not math.isinf(h['b'][-1][0]):
            die(path, 0, fam + lab, 'histogram without a +Inf bucket')
        if h['count'] is None or h['sum'] is None:
            die(path, 0, fam + lab, 'histogram without _sum or _count')
        if h['count'] != h['b'][-1][1]:
            die(path, 0, fam + lab, '_count != +Inf bucket')
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        pass
    else:
        list(text_string_to_metric_families(text))
    return out


for p in sys.argv[1:]:
    with open(p) as f:
        samples = check(p, f.read())
    with open(p[:-len('.prom')] + '.samples', 'w') as f:
        f.write(''.join(s + '\n' for s in samples))
PY

# The checker must refuse what it exists to refuse.
for bad in 'x 1' $'# TYPE x counter\nx -1' $'# TYPE x gauge\nx{a="b\\q"} 1' \
           $'# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1' \
           $'# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a="1"} 2' $'# TYPE x gauge\nx 1\nx 2' \
           $'# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1'; do
  printf '%s\n' "$bad" > "$TEST_DIR/bad.prom"
  if python3 "$TEST_DIR/promcheck.py" "$TEST_DIR/bad.prom" >/dev/null 2>&1; then
    fail "promcheck accepted: $bad"
  fi
done

# ---- the cluster -------------------------------------------------------------
CAIRN_META_OPTS="--down-after 2s --repair-scan-interval 1s" CAIRN_CHUNK_OPTS="--metrics-public --zone $ZONE" \
  CAIRN_GATEWAY_OPTS="--group-fragment 4M" cluster_up 7
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
EP="$S3_ENDPOINT"
AK="$AWS_ACCESS_KEY_ID"
SK="$AWS_SECRET_ACCESS_KEY"
S3=(curl -sS --fail-with-body --max-time 30 --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AK:$SK")
STATUS="$EP/_cairn/status"
META_URLS=("http://127.0.0.1:$(cluster_port meta 1)" "http://127.0.0.1:$(cluster_port meta 2)" "http://127.0.0.1:$(cluster_port meta 3)")
chunk_url() { echo "http://127.0.0.1:$(cluster_port chunk "$1")"; }
cs_id() { cut -c1-16 "$CDIR/chunk$1/chunkserver-id"; }

# fetch NAME URL: URL/metrics into $TEST_DIR/NAME.prom.
fetch() { curl -sS --fail --max-time 10 "$2/metrics" > "$TEST_DIR/$1.prom" || fail "GET $2/metrics"; }
# check NAME...: checks each NAME.prom strictly; the samples go to NAME.samples.
check() {
  local n files=()
  for n in "$@"; do files+=("$TEST_DIR/$n.prom"); done
  python3 "$TEST_DIR/promcheck.py" "${files[@]}" || fail "/metrics is not valid exposition format"
}
scrape() { fetch "$1" "$2"; check "$1"; } # scrape NAME URL
# val NAME SERIES: the value of SERIES (exact, labels sorted) in NAME's last scrape.
val() {
  local v
  v="$(awk -v s="$2" '$1 == s { print $2; exit }' "$TEST_DIR/$1.samples")"
  [ -n "$v" ] || fail "$1: no series $2"
  echo "$v"
}
grew() { # grew NAME-BEFORE NAME-AFTER SERIES [MIN]
  local a b
  a="$(val "$1" "$3")"; b="$(val "$2" "$3")"
  awk -v a="$a" -v b="$b" -v d="${4:-1}" 'BEGIN { exit !(b - a >= d) }' ||
    fail "$3 did not grow by ${4:-1} ($a -> $b)"
}
scrape_all() { # scrape_all SUFFIX: every daemon (but a stopped chunkserver)
  local i names=("gw$1")
  fetch "gw$1" "$EP"
  for i in 1 2 3; do fetch "meta$i$1" "${META_URLS[$((i - 1))]}"; names+=("meta$i$1"); done
  for i in $(seq "$NCHUNK"); do
    [ "${DOWN:-0}" = "$i" ] && continue
    fetch "chunk$i$1" "$(chunk_url "$i")"; names+=("chunk$i$1")
  done
  check "${names[@]}"
}

step "every daemon's /metrics parses and carries the documented series"
scrape_all .0
for s in 'cairn_gw_requests_total{op="PutObject"}' 'cairn_gw_request_seconds_count{op="GetObject"}' \
         'cairn_gw_request_seconds_bucket{le="0.005",op="ListObjectsV2"}' \
         cairn_gw_bytes_in_total cairn_gw_bytes_out_total cairn_gw_degraded_reads_total \
         cairn_gw_decodes_total cairn_gw_get_direct_fills_total \
         cairn_gw_get_prefetch_redone_total; do val gw.0 "$s" >/dev/null; done
for i in 1 2 3; do
  for s in cairn_meta_is_leader cairn_meta_leader cairn_meta_leader_changes_total \
           cairn_meta_commit_seconds_count 'cairn_meta_commit_seconds_bucket{le="+Inf"}' \
           cairn_repair_queued_groups cairn_repair_degraded_groups cairn_repair_in_flight \
           cairn_repair_rebuilt_bytes_total cairn_repair_tasks_done_total; do
    val "meta$i.0" "$s" >/dev/null
  done
  # Every replica has seen a leader elected at least once.
  [ "$(val "meta$i.0" cairn_meta_leader_changes_total)" -ge 1 ] || fail "meta$i: no leader change seen"
  # The log was written (chunkservers registered) and the state store synced
  # beside it: the Paxos log's fsyncs do not cover LevelDB (plog/).
  [ "$(val "meta$i.0" cairn_meta_fsyncs_total)" -ge 1 ] || fail "meta$i: no Paxos log fsync"
  [ "$(val "meta$i.0" cairn_meta_store_syncs_total)" -ge 1 ] || fail "meta$i: state store never synced"
done
for i in $(seq "$NCHUNK"); do
  for s in cairn_chunk_fsync_seconds_count 'cairn_chunk_fsync_seconds_bucket{le="0.001"}' \
           cairn_chunk_scrub_pass_progress cairn_chunk_scrub_pass_fragments_done \
           cairn_chunk_scrub_pass_fragments cairn_chunk_scrub_bytes_total; do
    val "chunk$i.0" "$s" >/dev/null
  done
done
# Exactly one replica leads, and all three name it.
LEADER=""
for i in 1 2 3; do [ "$(val "meta$i.0" cairn_meta_is_leader)" = 1 ] && LEADER="$LEADER$i"; done
[ "${#LEADER}" = 1 ] || fail "replicas leading: '$LEADER' (want exactly one)"
for i in 1 2 3; do [ "$(val "meta$i.0" cairn_meta_leader)" = "$LEADER" ] || fail "meta$i names another leader"; done

step "S3 traffic moves the counters and histograms"
head -c 5000000 /dev/urandom > "$TEST_DIR/big"
head -c 1000 /dev/urandom > "$TEST_DIR/small"
"${S3[@]}" -X PUT "$EP/obs" -o /dev/null
PUT=("${S3[@]}" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
"${PUT[@]}" -T "$TEST_DIR/big" "$EP/obs/big" -o /dev/null
for n in 1 2 3; do "${PUT[@]}" -T "$TEST_DIR/small" "$EP/obs/small$n" -o /dev/null; done
"${S3[@]}" "$EP/obs/big" -o "$TEST_DIR/big.back"
same "$TEST_DIR/big" "$TEST_DIR/big.back"
for n in 1 2 3; do "${S3[@]}" "$EP/obs/small$n" -o /dev/null; done
"${S3[@]}" "$EP/obs?list-type=2" -o /dev/null
"${S3[@]}" -X DELETE "$EP/obs/small3" -o /dev/null
curl -s -o /dev/null "$EP/obs/small1" # anonymous: refused, still counted
scrape_all .1
grew gw.0 gw.1 'cairn_gw_requests_total{op="PutObject"}' 4
grew gw.0 gw.1 'cairn_gw_request_seconds_count{op="PutObject"}' 4
grew gw.0 gw.1 'cairn_gw_request_seconds_count{op="GetObject"}' 5
grew gw.0 gw.1 'cairn_gw_request_seconds_count{op="ListObjectsV2"}' 1
grew gw.0 gw.1 'cairn_gw_request_seconds_count{op="DeleteObject"}' 1
grew gw.0 gw.1 'cairn_gw_request_seconds_count{op="CreateBucket"}' 1
grew gw.0 gw.1 'cairn_gw_request_seconds_bucket{le="+Inf",op="GetObject"}' 5
grew gw.0 gw.1 'cairn_gw_errors_total{op="GetObject"}' 1
grew gw.0 gw.1 cairn_gw_bytes_in_total 5003000
grew gw.0 gw.1 cairn_gw_bytes_out_total 5003000
awk -v s="$(val gw.1 'cairn_gw_request_seconds_sum{op="PutObject"}')" 'BEGIN { exit !(s > 0) }' ||
  fail "PutObject latency sum is zero"
# The leader timed every commit (bucket, 4 objects, a delete) propose -> commit.
grew "meta$LEADER.0" "meta$LEADER.1" cairn_meta_commit_seconds_count 6
grew "meta$LEADER.0" "meta$LEADER.1" cairn_meta_commands_applied_total 6
# The 5 MB object's group went to six of the chunkservers (4+2), each fsyncing
# its fragment (a write is accepted with k+1 = 5 of them).
synced=0
for i in $(seq "$NCHUNK"); do
  a="$(val "chunk$i.0" cairn_chunk_fsync_seconds_count)"; b="$(val "chunk$i.1" cairn_chunk_fsync_seconds_count)"
  [ "$b" -gt "$a" ] && synced=$((synced + 1))
  grew "chunk$i.0" "chunk$i.1" cairn_chunk_put_seconds_count 0
done
[ "$synced" -ge 5 ] || fail "only $synced chunkservers' fsync histograms moved"

step "48 concurrent S3 clients: the leader sees the gateway's own connections, not one per client"
# Each client connection has a gateway thread; the batches of all of them go
# out on the gateway's --meta-batch (2) connections of their own, and what is
# not batched (the placement of each erasure-coded object's chunk group) on 4
# more. Before, every thread that ever sent a batch, or placed a group, kept
# its own connection to the leader.
LOAD="$CAIRN_BUILD/tests/bench/cairn-s3load"
LURL="${META_URLS[$((LEADER - 1))]}"
scrape lc.0 "$LURL"
"$LOAD" "$EP" obs put 4096 48 2 96 > "$TEST_DIR/load.out" 2>&1 || { cat "$TEST_DIR/load.out"; fail "s3load put"; }
"$LOAD" "$EP" obs get 4096 48 2 96 >> "$TEST_DIR/load.out" 2>&1 || { cat "$TEST_DIR/load.out"; fail "s3load get"; }
# 64 KiB without a length: a chunk group each, placed by the leader
"$LOAD" "$EP" obs put-chunked 65536 32 2 64 >> "$TEST_DIR/load.out" 2>&1 ||
  { cat "$TEST_DIR/load.out"; fail "s3load put-chunked"; }
[ "$(grep -c " 0 errors" "$TEST_DIR/load.out")" = 3 ] || { cat "$TEST_DIR/load.out"; fail "s3load saw errors"; }
scrape lc.1 "$LURL"
accepted=$(( $(val lc.1 cairn_meta_connections_accepted_total) - $(val lc.0 cairn_meta_connections_accepted_total) ))
step "the leader accepted $accepted connection(s) meanwhile"
[ "$accepted" -le 8 ] || fail "the leader accepted $accepted connections under 48 S3 clients (want <= 8: 2 for batches, 4 for the rest)"

step "status page: authentication"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }
[ "$(code "$STATUS")" = 401 ] || fail "no credentials: not 401"
curl -s -D - -o /dev/null "$STATUS" | grep -i >/dev/null '^WWW-Authenticate: Basic' || fail "no Basic challenge"
[ "$(code -u "$AK:wrong-secret" "$STATUS")" = 401 ] || fail "wrong Basic secret: not 401"
[ "$(code -u "NOSUCHKEY:$SK" "$STATUS")" = 401 ] || fail "unknown Basic key: not 401"
[ "$(code -H 'Authorization: Basic !!!!' "$STATUS")" = 401 ] || fail "malformed Basic: not 401"
[ "$(code --aws-sigv4 aws:amz:us-east-1:s3 -u "$AK:wrong-secret" "$STATUS")" = 403 ] ||
  fail "wrong SigV4 signature: not 403"
KEYS="$("$CAIRN" --meta "$CAIRN_META" keys create observer-plain)"
PAK="$(awk '/^access key/ { print $3 }' <<< "$KEYS")"; PSK="$(awk '/^secret key/ { print $3 }' <<< "$KEYS")"
KEYS="$("$CAIRN" --meta "$CAIRN_META" keys create observer-admin --admin)"
AAK="$(awk '/^access key/ { print $3 }' <<< "$KEYS")"; ASK="$(awk '/^secret key/ { print $3 }' <<< "$KEYS")"
[ -n "$PAK" ] && [ -n "$AAK" ] || fail "cairn keys create printed no key"
[ "$(code -u "$PAK:$PSK" "$STATUS")" = 403 ] || fail "non-admin key (Basic): not 403"
[ "$(code --aws-sigv4 aws:amz:us-east-1:s3 -u "$PAK:$PSK" "$STATUS")" = 403 ] ||
  fail "non-admin key (SigV4): not 403"
[ "$(code -u "$AAK:$ASK" "$STATUS")" = 200 ] || fail "stored admin key (Basic): not 200"
[ "$(code --aws-sigv4 aws:amz:us-east-1:s3 -u "$AK:$SK" "$STATUS")" = 200 ] || fail "root key (SigV4): not 200"
[ "$(code -u "$AK:$SK" "$STATUS")" = 200 ] || fail "root key (Basic): not 200"
presign() { # presign AK SK: a SigV4 presigned URL of the page (botocore)
  python3 - "$STATUS" "$1" "$2" <<'PY'
import sys
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method='GET', url=sys.argv[1])
S3SigV4QueryAuth(Credentials(sys.argv[2], sys.argv[3]), 's3', 'us-east-1', expires=300).add_auth(req)
print(req.url)
PY
}
[ "$(code "$(presign "$AK" "$SK")")" = 200 ] || fail "root key (presigned URL): not 200"
[ "$(code "$(presign "$PAK" "$PSK")")" = 403 ] || fail "non-admin key (presigned URL): not 403"
URL="$(presign "$AK" "$SK")"
[ "$(code "${URL%?}0")" = 403 ] || [ "$(code "${URL%?}1")" = 403 ] || fail "tampered presigned URL: not 403"

# chrome OUT ARGS...: headless Chromium on the page with the root key as Basic
# credentials; the DOM (or screenshot) as rendered.
chrome() {
  local out="$1"; shift
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$TEST_DIR/chromium" --window-size=1280,1300 "$@" \
    "http://$AK:$SK@${EP#http://}/_cairn/status" > "$out" 2>> "$TEST_DIR/chromium.log"
}
# row ID FILE: the chunkserver row of ID in a rendered DOM.
row() { grep -o "<tr class=\"chunkserver\" data-id=\"$1\"[^>]*>" "$2" || true; }

step "status page in headless Chromium: leader and every chunkserver up"
chrome "$TEST_DIR/dom1.html" --dump-dom || fail "chromium --dump-dom failed"
grep -q '<title>Cairn cluster status</title>' "$TEST_DIR/dom1.html" || fail "not the status page"
tr -d '\n' < "$TEST_DIR/dom1.html" | grep >/dev/null "id=\"leader\"><div class=\"k\">metadata leader</div><div class=\"v\">replica $LEADER</div>" ||
  fail "page does not name replica $LEADER as leader"
[ "$(grep -c '<tr class="replica"' "$TEST_DIR/dom1.html")" = 3 ] || fail "page does not list 3 replicas"
grep -q "data-url=\"${META_URLS[$((LEADER - 1))]}\" data-role=\"leader\"" "$TEST_DIR/dom1.html" ||
  fail "leader row missing"
for i in $(seq "$NCHUNK"); do
  r="$(row "$(cs_id "$i")" "$TEST_DIR/dom1.html")"
  [ -n "$r" ] || fail "chunk$i ($(cs_id "$i")) not on the page"
  grep -q 'data-liveness="up"' <<< "$r" || fail "chunk$i not shown up: $r"
done
grep -q 'class="fill' "$TEST_DIR/dom1.html" || fail "no fill bars"
grep -q '/ &lt;i&gt;&amp;"z&lt;/i&gt;</td>' "$TEST_DIR/dom1.html" || fail "zone not shown as escaped text"
! grep -q '<i>' "$TEST_DIR/dom1.html" || fail "markup from the cluster reached the DOM"

step "a chunkserver killed: degraded read, and the page shows it down"
# The holder of data fragment 0 of the 5 MB object: reading it must decode.
ADDR="$("$CAIRN" --meta "$CAIRN_META" locate obs big | awk '$1 == "data" && $2 == 0 { print $4; exit }')"
[ -n "$ADDR" ] || fail "cairn locate found no data fragment 0"
DOWN=""
for i in $(seq "$NCHUNK"); do [ "127.0.0.1:$(chunk_url "$i" | sed 's/.*://')" = "$ADDR" ] && DOWN=$i; done
[ -n "$DOWN" ] || fail "no chunkserver at $ADDR"
DOWN_ID="$(cs_id "$DOWN")"
"$CLUSTER" stop "chunk$DOWN" --dir "$CDIR" >/dev/null
"${S3[@]}" "$EP/obs/big" -o "$TEST_DIR/big.degraded"
same "$TEST_DIR/big" "$TEST_DIR/big.degraded"
scrape_all .2
grew gw.1 gw.2 cairn_gw_degraded_reads_total 1
grew gw.1 gw.2 cairn_gw_decodes_total 1
# 5 MB is two stripes: the first goes through a stripe buffer (read before
# the status line), the second straight into the response block (prefetched
# around the stopped chunkserver: nothing to fetch again; ec_data_path checks
# the prefetch_redone counter with a slow reader)
grew gw.1 gw.2 cairn_gw_get_direct_fills_total 1
page_shows_down() { # ... and the groups it holds degraded
  curl -s --max-time 10 -u "$AK:$SK" "$STATUS" > "$TEST_DIR/poll.html" &&
    row "$DOWN_ID" "$TEST_DIR/poll.html" | grep >/dev/null 'data-liveness="down"' &&
    grep -q 'id="repair-degraded">[1-9]' "$TEST_DIR/poll.html"
}
wait_for 30 page_shows_down || fail "chunk$DOWN never shown down with degraded groups"
chrome "$TEST_DIR/dom2.html" --dump-dom || fail "chromium --dump-dom failed"
row "$DOWN_ID" "$TEST_DIR/dom2.html" | grep >/dev/null 'data-liveness="down"' || fail "Chromium: chunk$DOWN not down"
for i in $(seq "$NCHUNK"); do
  [ "$i" = "$DOWN" ] && continue
  row "$(cs_id "$i")" "$TEST_DIR/dom2.html" | grep >/dev/null 'data-liveness="up"' || fail "chunk$i not up"
done
tr -d '\n' < "$TEST_DIR/dom2.html" | grep >/dev/null 'id="chunkservers-up"><div class="k">chunkservers up</div><div class="v">6 of 7</div>' ||
  fail "summary does not say 6 of 7 up"
DEG="$(grep -o 'id="repair-degraded">[0-9]*' "$TEST_DIR/dom2.html" | grep -o '[0-9]*$')"
[ "${DEG:-0}" -ge 1 ] || fail "page shows no degraded group with chunk$DOWN down"
GWDEG="$(grep -o 'id="gw-degraded-reads">[0-9]*' "$TEST_DIR/dom2.html" | grep -o '[0-9]*$')"
[ "${GWDEG:-0}" -ge 1 ] || fail "page shows no degraded read"
scrape "meta$LEADER.3" "${META_URLS[$((LEADER - 1))]}"
[ "$(val "meta$LEADER.3" cairn_repair_degraded_groups)" -ge 1 ] || fail "leader's metrics show no degraded group"
chrome /dev/null --screenshot="$ART/observe-status.png" || fail "chromium --screenshot failed"
[ -s "$ART/observe-status.png" ] && head -c 8 "$ART/observe-status.png" | od -An -c | grep >/dev/null 'P   N   G' ||
  fail "no PNG screenshot"
step "screenshot: $ART/observe-status.png"

step "repair progress: the chunkserver returns, another is drained, the page measures the rate"
"$CLUSTER" start "chunk$DOWN" --dir "$CDIR" >/dev/null
page_shows_up() {
  curl -s --max-time 10 -u "$AK:$SK" "$STATUS" > "$TEST_DIR/poll.html" &&
    row "$DOWN_ID" "$TEST_DIR/poll.html" | grep >/dev/null 'data-liveness="up"'
}
wait_for 30 page_shows_up || fail "chunk$DOWN never shown up again"
DONE0="$(grep -o 'id="repair-done">[0-9]*' "$TEST_DIR/poll.html" | grep -o '[0-9]*$')"
# Drain the holder of data fragment 1: repair moves it to the chunkserver
# that holds nothing of the group, then retires it.
ADDR1="$("$CAIRN" --meta "$CAIRN_META" locate obs big | awk '$1 == "data" && $2 == 1 { print $4; exit }')"
DRAIN=""
for i in $(seq "$NCHUNK"); do [ "127.0.0.1:$(chunk_url "$i" | sed 's/.*://')" = "$ADDR1" ] && DRAIN=$i; done
[ -n "$DRAIN" ] || fail "no chunkserver at $ADDR1"
timeout 60 "$CAIRN" --meta "$CAIRN_META" drain "$(cs_id "$DRAIN")" > "$TEST_DIR/drain.out" 2>&1 ||
  { cat "$TEST_DIR/drain.out"; fail "cairn drain did not finish"; }
"${S3[@]}" "$EP/obs/big" -o "$TEST_DIR/big.drained"
same "$TEST_DIR/big" "$TEST_DIR/big.drained"
# The page keeps one sample a second: once one from before the drain is two
# seconds old, the rate it shows is positive.
rate_positive() {
  curl -s --max-time 10 -u "$AK:$SK" "$STATUS" > "$TEST_DIR/poll.html" &&
    grep -o 'id="repair-rate">[0-9.]*' "$TEST_DIR/poll.html" | grep -o '[0-9.]*$' |
      awk '{ exit !($1 > 0) }'
}
wait_for 30 rate_positive || fail "the page shows no rebuild rate after the drain"
chrome "$TEST_DIR/dom3.html" --dump-dom || fail "chromium --dump-dom failed"
DONE1="$(grep -o 'id="repair-done">[0-9]*' "$TEST_DIR/dom3.html" | grep -o '[0-9]*$')"
[ "${DONE1:-0}" -gt "${DONE0:-0}" ] || fail "rebuilt count did not grow (${DONE0:-?} -> ${DONE1:-?})"
grep -q 'id="repair-rate">[0-9.]* fragments/s' "$TEST_DIR/dom3.html" || fail "Chromium: no rate rendered"
grep -q 'id="repair-eta">-' "$TEST_DIR/dom3.html" || fail "ETA should be '-' with nothing queued"
row "$(cs_id "$DRAIN")" "$TEST_DIR/dom3.html" | grep >/dev/null 'data-state="retired"' || fail "drained chunkserver not shown retired"
scrape "meta$LEADER.4" "${META_URLS[$((LEADER - 1))]}"
[ "$(val "meta$LEADER.4" cairn_repair_tasks_done_total)" -ge 1 ] || fail "leader's metrics show no rebuild"
[ "$(val "meta$LEADER.4" cairn_repair_rebuilt_bytes_total)" -ge 1 ] || fail "leader's metrics show no rebuilt bytes"
chrome /dev/null --screenshot="$ART/observe-status-repair.png" || fail "chromium --screenshot failed"
step "screenshot: $ART/observe-status-repair.png"

step "one request's id in every daemon's log: the gateway's and the chunkserver's lines of a GET"
# A fresh object, its fragment 0 damaged: the GET's answer is still exact (read
# around it); the chunkserver that found the damage and the gateway that read
# around it both log it with the id the client got as x-amz-request-id.
head -c 6000000 /dev/urandom > "$TEST_DIR/rid.bin" # over 4 MiB: a chunk group of its own, not packed
touch "$TEST_DIR/rid.mark"
sleep 1
"${PUT[@]}" -T "$TEST_DIR/rid.bin" "$EP/obs/rid" -o /dev/null
FRAG="$(find "$CDIR"/chunk*/frags -type f -name '*.0' -newer "$TEST_DIR/rid.mark" | head -n 1)"
[ -n "$FRAG" ] || fail "no fragment 0 of the new object"
ORIG="$(od -An -tu1 -j 164 -N 1 "$FRAG" | tr -d ' ')"
printf "\\$(printf '%03o' $(( (ORIG + 1) % 256 )))" | dd of="$FRAG" bs=1 seek=164 conv=notrunc 2>/dev/null
"${S3[@]}" -D "$TEST_DIR/rid.hdr" "$EP/obs/rid" -o "$TEST_DIR/rid.out"
same "$TEST_DIR/rid.bin" "$TEST_DIR/rid.out"
RID="$(tr -d '\r' < "$TEST_DIR/rid.hdr" | awk 'tolower($1) == "x-amz-request-id:" { print $2 }')"
[ -n "$RID" ] || fail "no x-amz-request-id"
grep -h "req=$RID\$" "$CDIR"/logs/chunk*.log | grep -q "damaged" ||
  fail "no chunkserver log line of request $RID says the fragment is damaged"
grep "req=$RID\$" "$CDIR/logs/gateway.log" | grep -q "reading around it" ||
  fail "no gateway log line of request $RID says it read around the fragment"
step "request $RID: $(grep -h "req=$RID\$" "$CDIR"/logs/*.log | wc -l) log lines in $(grep -l "req=$RID\$" "$CDIR"/logs/*.log | wc -l) daemons' logs"

step "done in $((SECONDS - T0)) s"
