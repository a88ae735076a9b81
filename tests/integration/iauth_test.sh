#!/usr/bin/env bash
# Internal authentication against real daemons (docs/security.md "Internal
# requests"). auth-probe makes a request exactly as a daemon of a role would
# sign it (cluster secret, or the role's key file); curl sends it, again,
# elsewhere and altered:
#   1. a captured command is accepted once: replayed to the same replica,
#      to another one, with another Host, header, body or target: 401;
#   2. roles: gateway credentials sending Paxos messages, snapshots, repair
#      orders: 403; chunkserver credentials creating a bucket: 403; a role
#      key file signs as its role only;
#   3. an unsigned snapshot, a snapshot with its slot header altered: 401;
#   4. fragment PUTs: signed (body streamed, its tag after it) accepted;
#      unsigned, or k / CRC header or body altered: 401, nothing stored;
#   5. a chunkserver whose metadata service is a fake: heartbeat replies
#      ordering a deletion, unsigned or signed with another secret, are
#      refused and nothing is deleted; the same reply signed with the
#      cluster secret deletes the fragment (the check is what stopped it).
#      A heartbeat the chunkserver really sent, captured by the fake, is
#      refused by the real leader (also with its Host rewritten).
# Then the cluster secret is rotated without downtime (docs/operations.md):
# rolling restarts with --cluster-secret-accept-file while an S3 client
# writes and reads; every operation succeeds and no daemon logs a refused
# request.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROBE="$CAIRN_BUILD/tests/integration/auth-probe"
CLI="$(cluster_bin cli)"

step "cluster up"
cluster_up 6 >/dev/null
S="$CDIR/secret"
meta_url() { echo "http://127.0.0.1:$(cluster_port meta "$1")"; }
chunk_addr() { echo "127.0.0.1:$(cluster_port chunk "$1")"; }

# send METHOD URL HEADER_FILE [BODY_FILE]: the HTTP status of the request
# with the headers of HEADER_FILE (one a line) and the body (answer in
# $TEST_DIR/answer).
send() {
  local m="$1" url="$2" hf="$3" body="${4:-}" args=() l
  while IFS= read -r l; do args+=(-H "$l"); done <"$hf"
  if [ -n "$body" ]; then args+=(--data-binary "@$body"); fi
  curl -s -o "$TEST_DIR/answer" -w '%{http_code}' -X "$m" "${args[@]}" "$url"
}
# expect WANT WHAT METHOD URL HEADER_FILE [BODY_FILE]
expect() {
  local want="$1" what="$2" got
  shift 2
  got="$(send "$@")"
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want ($(head -c 200 "$TEST_DIR/answer"))"
  echo "   ok: $what -> $got"
}
# sign FILE SECRET ROLE METHOD URL [args]: signed headers into FILE
sign() {
  local f="$1"
  shift
  "$PROBE" sign "$@" >"$f" 2>"$TEST_DIR/probe.err" || { cat "$TEST_DIR/probe.err"; fail "auth-probe sign $*"; }
}
# edit FILE SED_EXPR: alter a captured request's headers in place
edit() { sed -i "$2" "$1"; }

step "1. a captured command: accepted once, then never again, nowhere else, unaltered only"
"$PROBE" create-bucket captured "$TEST_DIR/cmd.pb"
"$PROBE" create-bucket altered "$TEST_DIR/cmd2.pb"
leader=""
for i in 1 2 3; do # the leader takes commands (a follower answers 421)
  sign "$TEST_DIR/h" "$S" gateway POST "$(meta_url "$i")/v1/cmd" -H "X-Cairn-Client: 77" \
    -H "X-Cairn-Seq: 1" --body "$TEST_DIR/cmd.pb"
  code="$(send POST "$(meta_url "$i")/v1/cmd" "$TEST_DIR/h" "$TEST_DIR/cmd.pb")"
  if [ "$code" = 200 ]; then leader="$i"; break; fi
  [ "$code" = 421 ] || fail "command to meta$i: HTTP $code"
done
[ -n "$leader" ] || fail "no replica took the command"
L="$(meta_url "$leader")"
other=$((leader % 3 + 1))
O="$(meta_url "$other")"
echo "   ok: the gateway's command accepted by the leader meta$leader"
cp "$TEST_DIR/h" "$TEST_DIR/captured"
expect 401 "replayed to the same replica" POST "$L/v1/cmd" "$TEST_DIR/captured" "$TEST_DIR/cmd.pb"
expect 401 "replayed to another replica (meta$other)" POST "$O/v1/cmd" "$TEST_DIR/captured" "$TEST_DIR/cmd.pb"
cp "$TEST_DIR/captured" "$TEST_DIR/h2"
edit "$TEST_DIR/h2" "s/^Host: .*/Host: ${O#http://}/"
expect 401 "replayed to another replica, Host rewritten" POST "$O/v1/cmd" "$TEST_DIR/h2" "$TEST_DIR/cmd.pb"
# fresh signatures (never sent), each altered in one place
sign "$TEST_DIR/h" "$S" gateway POST "$L/v1/cmd" -H "X-Cairn-Client: 77" -H "X-Cairn-Seq: 2" \
  --body "$TEST_DIR/cmd.pb"
cp "$TEST_DIR/h" "$TEST_DIR/fresh"
edit "$TEST_DIR/h" "s/^X-Cairn-Seq: 2/X-Cairn-Seq: 3/"
expect 401 "X-Cairn-Seq altered" POST "$L/v1/cmd" "$TEST_DIR/h" "$TEST_DIR/cmd.pb"
expect 401 "body altered (another bucket)" POST "$L/v1/cmd" "$TEST_DIR/fresh" "$TEST_DIR/cmd2.pb"
sign "$TEST_DIR/h" "$S" gateway POST "$L/v1/cmd" -H "X-Cairn-Client: 77" -H "X-Cairn-Seq: 4" \
  --body "$TEST_DIR/cmd.pb"
expect 401 "target altered" POST "$L/v1/cmd?x=1" "$TEST_DIR/h" "$TEST_DIR/cmd.pb"
sign "$TEST_DIR/h" "$S" gateway POST "$L/v1/cmd" -H "X-Cairn-Client: 77" -H "X-Cairn-Seq: 5" \
  --body "$TEST_DIR/cmd.pb"
edit "$TEST_DIR/h" "/^X-Cairn-Signature/d"
expect 401 "signature removed" POST "$L/v1/cmd" "$TEST_DIR/h" "$TEST_DIR/cmd.pb"

step "2. roles"
: >"$TEST_DIR/empty"
sign "$TEST_DIR/h" "$S" gateway POST "$L/paxos/msg" --to meta --body "$TEST_DIR/empty"
expect 403 "gateway credentials sending a Paxos message" POST "$L/paxos/msg" "$TEST_DIR/h" "$TEST_DIR/empty"
sign "$TEST_DIR/h" "$S" gateway POST "$L/paxos/snapshot" --to meta -H "X-Cairn-From: 1" \
  -H "X-Cairn-Snapshot-Slot: 1" --body "$TEST_DIR/empty"
expect 403 "gateway credentials sending a snapshot" POST "$L/paxos/snapshot" "$TEST_DIR/h" "$TEST_DIR/empty"
sign "$TEST_DIR/h" "$S" gateway POST "$L/v1/repair" --body "$TEST_DIR/empty"
expect 403 "gateway credentials ordering a repair" POST "$L/v1/repair" "$TEST_DIR/h" "$TEST_DIR/empty"
sign "$TEST_DIR/h" "$S" gateway POST "http://$(chunk_addr 1)/v1/rebuild" --body "$TEST_DIR/empty"
expect 403 "gateway credentials ordering a rebuild" POST "http://$(chunk_addr 1)/v1/rebuild" "$TEST_DIR/h" "$TEST_DIR/empty"
"$PROBE" create-bucket by-chunk "$TEST_DIR/cmd3.pb"
sign "$TEST_DIR/h" "$S" chunk POST "$L/v1/cmd" -H "X-Cairn-Client: 78" -H "X-Cairn-Seq: 1" \
  --body "$TEST_DIR/cmd3.pb"
expect 403 "chunkserver credentials creating a bucket" POST "$L/v1/cmd" "$TEST_DIR/h" "$TEST_DIR/cmd3.pb"
sign "$TEST_DIR/h" "$S" chunk POST "$L/v1/meta/change" --body "$TEST_DIR/empty"
expect 403 "chunkserver credentials changing the replicas" POST "$L/v1/meta/change" "$TEST_DIR/h" "$TEST_DIR/empty"
# a role key file holds no other role's keys
"$CLI" --cluster-secret-file "$S" role-key gateway >"$TEST_DIR/gateway.key" || fail "cairn role-key"
grep -q "meta>meta" "$TEST_DIR/gateway.key" && fail "the gateway key file holds meta>meta"
"$PROBE" sign "$TEST_DIR/gateway.key" meta POST "$L/paxos/msg" >/dev/null 2>&1 &&
  fail "a gateway key file signed as a meta"
sign "$TEST_DIR/h" "$TEST_DIR/gateway.key" gateway GET "$L/v1/status"
expect 200 "the gateway key file signs as a gateway" GET "$L/v1/status" "$TEST_DIR/h"

step "3. snapshots"
printf 'X-Cairn-From: %s\nX-Cairn-Snapshot-Slot: 1\n' "$other" >"$TEST_DIR/h"
expect 401 "an unsigned snapshot" POST "$L/paxos/snapshot" "$TEST_DIR/h" "$TEST_DIR/empty"
sign "$TEST_DIR/h" "$S" meta POST "$L/paxos/snapshot" -H "X-Cairn-From: $other" \
  -H "X-Cairn-Snapshot-Slot: 1" --stream "$TEST_DIR/empty" "$TEST_DIR/snap"
edit "$TEST_DIR/h" "s/^X-Cairn-Snapshot-Slot: 1/X-Cairn-Snapshot-Slot: 999999/"
expect 401 "a snapshot with its slot altered" POST "$L/paxos/snapshot" "$TEST_DIR/h" "$TEST_DIR/snap"

step "4. fragment PUTs"
C="http://$(chunk_addr 1)"
GID=00112233445566778899aabbccddeeff
head -c 4096 /dev/urandom >"$TEST_DIR/frag"
frag_put() { # frag_put HEADER_FILE_OUT STREAM_OUT INDEX: signed like the gateway's
  sign "$1" "$S" gateway PUT "$C/v1/fragment/$GID/$3" -H "X-Cairn-K: 4" -H "X-Cairn-M: 2" \
    -H "X-Cairn-Unit: 4096" -H "X-Cairn-Data-Length: 4096" --stream "$TEST_DIR/frag" "$2"
}
frag_get() { # frag_get INDEX: the status of an admin's GET
  sign "$TEST_DIR/hg" "$S" admin GET "$C/v1/fragment/$GID/$1"
  send GET "$C/v1/fragment/$GID/$1" "$TEST_DIR/hg"
}
frag_put "$TEST_DIR/h" "$TEST_DIR/stream" 0
code="$(send PUT "$C/v1/fragment/$GID/0" "$TEST_DIR/h" "$TEST_DIR/stream")"
case "$code" in 200|201) echo "   ok: a signed fragment PUT -> $code" ;; *) fail "signed PUT: HTTP $code" ;; esac
[ "$(frag_get 0)" = 200 ] || fail "the fragment is not there"
cmp -s "$TEST_DIR/answer" "$TEST_DIR/frag" || fail "the fragment reads back different"
frag_put "$TEST_DIR/h" "$TEST_DIR/stream" 1
grep -v '^X-Cairn-Signature' "$TEST_DIR/h" >"$TEST_DIR/h2"
expect 401 "an unsigned fragment PUT" PUT "$C/v1/fragment/$GID/1" "$TEST_DIR/h2" "$TEST_DIR/frag"
edit "$TEST_DIR/h" "s/^X-Cairn-K: 4/X-Cairn-K: 3/"
expect 401 "fragment PUT with X-Cairn-K altered" PUT "$C/v1/fragment/$GID/1" "$TEST_DIR/h" "$TEST_DIR/stream"
frag_put "$TEST_DIR/h" "$TEST_DIR/stream" 1
printf 'X-Cairn-Data-CRC32C: 01234567\n' >>"$TEST_DIR/h"
expect 401 "fragment PUT with a CRC header added" PUT "$C/v1/fragment/$GID/1" "$TEST_DIR/h" "$TEST_DIR/stream"
frag_put "$TEST_DIR/h" "$TEST_DIR/stream" 1
printf '\x01' | dd of="$TEST_DIR/stream" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 401 "fragment PUT with one body byte altered" PUT "$C/v1/fragment/$GID/1" "$TEST_DIR/h" "$TEST_DIR/stream"
[ "$(frag_get 1)" = 404 ] || fail "a refused PUT stored a fragment"
echo "   ok: nothing stored by the refused PUTs"

step "5. forged heartbeat replies"
FAKE_PORT="$(cluster_port chunk 8)"
CS_PORT="$(cluster_port chunk 9)"
"$PROBE" hb-reply-delete "$GID" 0 "$TEST_DIR/hb-reply"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TEST_DIR/wrong-secret"
echo unsigned >"$TEST_DIR/fake-mode"
cat >"$TEST_DIR/fake_meta.py" <<'EOF'
# A fake metadata service: registration and acknowledgements answered as a
# genuine replica would (signed with the cluster secret), heartbeats with a
# reply ordering a deletion, signed as $TEST_DIR/fake-mode says.
import http.server, os, subprocess, sys
probe, secret, wrong, d, port = sys.argv[1:6]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, body, mode):
        sig = self.headers.get("X-Cairn-Signature", "")
        self.send_response(200)
        if mode != "unsigned" and sig:
            with open(os.path.join(d, "fake-body"), "wb") as f:
                f.write(body)
            key = secret if mode == "genuine" else wrong
            out = subprocess.run([probe, "sign-response", key, "meta", sig, "200",
                                  os.path.join(d, "fake-body")], capture_output=True)
            self.send_header("X-Cairn-Response-Signature", out.stdout.decode().strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        cap = os.path.join(d, "captured-hb")
        if self.path.startswith("/v1/heartbeat") and not os.path.exists(cap + ".h"):
            # a real chunkserver's request, captured for replay
            with open(cap + ".body", "wb") as f:
                f.write(body)
            with open(cap + ".h.tmp", "w") as f:
                for k, v in self.headers.items():
                    if k.lower() == "host" or k.lower().startswith("x-cairn-"):
                        f.write("%s: %s\n" % (k, v))
            os.rename(cap + ".h.tmp", cap + ".h")
        if self.path.startswith("/v1/heartbeat"):
            mode = open(os.path.join(d, "fake-mode")).read().strip()
            with open(os.path.join(d, "fake.log"), "a") as f:
                f.write(mode + "\n")
            self.answer(open(os.path.join(d, "hb-reply"), "rb").read(), mode)
        else:
            self.answer(b"", "genuine")
    def do_GET(self):
        self.answer(b"", "genuine")
http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()
EOF
cluster_launch fakemeta python3 "$TEST_DIR/fake_meta.py" "$PROBE" "$S" "$TEST_DIR/wrong-secret" \
  "$TEST_DIR" "$FAKE_PORT"
cluster_launch chunk9 "$(cluster_bin chunk)" --data-dir "$CDIR/chunk9" --port "$CS_PORT" \
  --cluster-secret-file "$S" --reserve 64M --meta "http://127.0.0.1:$FAKE_PORT" --host chunk9 \
  --heartbeat 200ms
C="http://127.0.0.1:$CS_PORT"
wait_for 10 curl -s -o /dev/null "$C/metrics"
frag_put "$TEST_DIR/h" "$TEST_DIR/stream" 0
code="$(send PUT "$C/v1/fragment/$GID/0" "$TEST_DIR/h" "$TEST_DIR/stream")"
case "$code" in 200|201) ;; *) fail "PUT to chunk9: HTTP $code" ;; esac
beats() { grep -c "^$1\$" "$TEST_DIR/fake.log" 2>/dev/null || true; }
hb_at_least() { [ "$(beats "$1")" -ge "$2" ]; }
wait_for 10 hb_at_least unsigned 3
[ "$(frag_get 0)" = 200 ] || fail "an unsigned heartbeat reply deleted the fragment"
grep -aq "answer (HTTP 200) not authentic" "$(cluster_log chunk9)" ||
  fail "chunk9 does not say it refused the answer"
echo "   ok: unsigned replies ordering a deletion refused, fragment kept"
echo wrongkey >"$TEST_DIR/fake-mode"
wait_for 10 hb_at_least wrongkey 3
[ "$(frag_get 0)" = 200 ] || fail "a reply signed with another secret deleted the fragment"
echo "   ok: replies signed with another secret refused, fragment kept"
echo genuine >"$TEST_DIR/fake-mode"
gone() { [ "$(frag_get 0)" = 404 ]; }
wait_for 10 gone || fail "the genuinely signed deletion was not carried out (the check proves nothing)"
echo "   ok: the same reply signed with the cluster secret deletes it"
# a heartbeat chunk9 really sent (to the fake), replayed to the real leader
[ -s "$TEST_DIR/captured-hb.h" ] || fail "no heartbeat captured"
expect 401 "chunk9's captured heartbeat replayed to the real leader" POST "$L/v1/heartbeat" \
  "$TEST_DIR/captured-hb.h" "$TEST_DIR/captured-hb.body"
edit "$TEST_DIR/captured-hb.h" "s/^Host: .*/Host: ${L#http://}/"
expect 401 "... with its Host rewritten to the leader's" POST "$L/v1/heartbeat" \
  "$TEST_DIR/captured-hb.h" "$TEST_DIR/captured-hb.body"
{ cluster_kill chunk9; cluster_kill fakemeta; } 2>/dev/null
echo "   the refusals the daemons logged:"
grep -ah "http: req .*authentication failed" "$CDIR"/logs/*.log | sed 's/.*failed: /     /' | sort | uniq -c

[ "${IAUTH_SKIP_ROTATION:-0}" = 1 ] && exit 0

step "6. rotating the cluster secret while an S3 client works"
# From here on no daemon may log a refused request.
for f in "$CDIR"/logs/*.log; do wc -c <"$f" >"$f.mark"; done
A="$CDIR/secret.old"
B="$CDIR/secret.new"
cp "$S" "$A"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$B")
# A second gateway: a client that knows both never waits for a restarting one.
GW2_PORT="$(cluster_port chunk 10)"
sed "s/--port $(cluster_port gateway) /--port $GW2_PORT /" "$CDIR/cmd/gateway" >"$CDIR/cmd/gateway2"
cluster_start gateway2
EP1="http://127.0.0.1:$(cluster_port gateway)"
EP2="http://127.0.0.1:$GW2_PORT"
IFS=: read -r AK SK <"$CDIR/credentials"
gw_up() { curl -s -o /dev/null "$1/"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; } # no request: nothing logged
wait_for 10 gw_up "$EP2"
python3 "$CAIRN_SRC/tests/integration/s3_rotation_load.py" "$EP1" "$EP2" "$AK" "$SK" \
  "$TEST_DIR/stop" >"$TEST_DIR/s3_load.log" 2>&1 &
LOAD=$!
PIDS+=("$LOAD")
# restart NAME SECRET [ACCEPT]: NAME with these secret files, then waits
# until it serves again.
restart() {
  local n="$1" sec="$2" acc="${3:-}" cmd
  cmd="$(sed -E "s# --cluster-secret-accept-file [^ ]+##; s# --cluster-secret-file [^ ]+# --cluster-secret-file $sec#" "$CDIR/cmd/$n")"
  [ -z "$acc" ] || cmd="$cmd --cluster-secret-accept-file $acc "
  printf '%s' "$cmd" >"$CDIR/cmd/$n"
  cluster_kill "$n" TERM
  cluster_start "$n"
  case "$n" in
    meta*)
      wait_for 20 "$CLI" --meta "http://127.0.0.1:$(cluster_port meta "${n#meta}")" \
        --cluster-secret-file "$sec" state-hash
      sleep 0.5 ;; # time to catch up before the next replica stops
    chunk*) wait_for 10 port_open "$(cluster_port chunk "${n#chunk}")" ;;
    gateway) wait_for 10 gw_up "$EP1" ;;
    gateway2) wait_for 10 gw_up "$EP2" ;;
  esac
}
RECEIVERS="meta1 meta2 meta3 chunk1 chunk2 chunk3 chunk4 chunk5 chunk6"
step "6a. every receiver also accepts the new secret (all still sign with the old)"
for n in $RECEIVERS; do restart "$n" "$A" "$B"; done
step "6b. every daemon signs with the new secret (and accepts the old)"
for n in $RECEIVERS gateway gateway2; do restart "$n" "$B" "$A"; done
step "6c. the old secret is dropped"
for n in $RECEIVERS gateway gateway2; do restart "$n" "$B"; done
sleep 1
touch "$TEST_DIR/stop"
wait "$LOAD" || true
tail -5 "$TEST_DIR/s3_load.log"
grep -q "^ops [0-9]* failed 0\$" "$TEST_DIR/s3_load.log" || fail "S3 operations failed during the rotation"
# A request signed in the milliseconds before its receiver restarted is
# refused as older than the receiver (its replay cache is new) and signed
# afresh by the client: not a failure. Anything else is.
restarts=0
for f in "$CDIR"/logs/*.log; do
  tail -c +"$(($(cat "$f.mark" 2>/dev/null || echo 0) + 1))" "$f" >"$TEST_DIR/since"
  restarts=$((restarts + $(grep -ac "signed before this server started" "$TEST_DIR/since" || true)))
  if grep -aE "authentication failed|not authentic" "$TEST_DIR/since" |
    grep -av "signed before this server started"; then
    fail "$(basename "$f" .log) refused a request during the rotation"
  fi
done
echo "   ok: no request refused during the rotation ($restarts signed just before a restart, signed again)"
sign "$TEST_DIR/h" "$A" admin GET "$L/v1/status"
expect 401 "a request signed with the old secret" GET "$L/v1/status" "$TEST_DIR/h"
sign "$TEST_DIR/h" "$A" admin GET "http://$(chunk_addr 2)/v1/admin/status"
expect 401 "... at a chunkserver" GET "http://$(chunk_addr 2)/v1/admin/status" "$TEST_DIR/h"
sign "$TEST_DIR/h" "$B" admin GET "$L/v1/status"
expect 200 "a request signed with the new secret" GET "$L/v1/status" "$TEST_DIR/h"
{ cluster_kill gateway2; } 2>/dev/null
step "done"
