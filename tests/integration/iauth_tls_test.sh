#!/usr/bin/env bash
# Internal links over TLS with client certificates (--tls-internal,
# docs/security.md): a test CA made here signs one certificate for the
# daemons (subjectAltName 127.0.0.1); every replica, chunkserver and the
# gateway run with it.
#   1. the cluster comes up and serves S3 (gateway -> replicas and
#      chunkservers, replica <-> replica, heartbeats: all over TLS);
#   2. plain HTTP to a replica or a chunkserver gets no answer;
#   3. over TLS, a correctly signed request without a client certificate,
#      or with one from another CA, is refused; with the CA's, accepted;
#   4. the CLI with the TLS options works.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROBE="$CAIRN_BUILD/tests/integration/auth-probe"
CLI="$(cluster_bin cli)"
PKI="$TEST_DIR/pki"
mkdir -p "$PKI"
step "a test CA, a daemon certificate, and a stranger's"
mkcert() { # mkcert NAME CA_NAME: NAME.key, NAME.pem signed by CA_NAME
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" \
    -out "$PKI/$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" -CAcreateserial \
    -out "$PKI/$1.pem" -days 2 -extfile "$PKI/$1.ext" 2>/dev/null
}
for ca in ca otherca; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$ca.key" -out "$PKI/$ca.pem" -days 2 -subj "/CN=cairn-test-$ca" 2>/dev/null
done
mkcert node ca
mkcert stranger otherca
TLS="--tls-internal --tls-internal-ca $PKI/ca.pem --tls-internal-cert $PKI/node.pem --tls-internal-key $PKI/node.key"
export CAIRN_META_OPTS="$TLS" CAIRN_CHUNK_OPTS="$TLS" CAIRN_GATEWAY_OPTS="$TLS"

step "1. the cluster over TLS serves S3"
cluster_up 6 >/dev/null
. "$CDIR/cluster.env"
head -c 3000000 /dev/urandom >"$TEST_DIR/obj"
python3 - "$S3_ENDPOINT" "$TEST_DIR/obj" <<'EOF'
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.create_bucket(Bucket="tls")
data = open(sys.argv[2], "rb").read()
s3.put_object(Bucket="tls", Key="obj", Body=data)
assert s3.get_object(Bucket="tls", Key="obj")["Body"].read() == data
print("   ok: a 3 MB object written and read back through chunkservers over TLS")
EOF
grep -aq "internal links over TLS" "$(cluster_log meta1)" || fail "meta1 does not say it runs TLS"

S="$CDIR/secret"
M="127.0.0.1:$(cluster_port meta 1)"
C="127.0.0.1:$(cluster_port chunk 1)"
step "2. plain HTTP gets no answer"
for a in "$M" "$C"; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$a/v1/status" || true)"
  [ "$code" = 000 ] || fail "plain HTTP to $a answered $code"
  echo "   ok: http://$a -> no HTTP answer"
done

step "3. client certificates"
# tls_get ADDR TARGET [CERT]: status of a signed admin GET over TLS
tls_get() {
  local args=() l
  "$PROBE" sign "$S" admin GET "https://$1$2" >"$TEST_DIR/h" 2>/dev/null || fail "auth-probe"
  while IFS= read -r l; do args+=(-H "$l"); done <"$TEST_DIR/h"
  [ -z "${3:-}" ] || args+=(--cert "$PKI/$3.pem" --key "$PKI/$3.key")
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$PKI/ca.pem" "${args[@]}" \
    "https://$1$2" || true
}
for a in "$M/v1/status" "$C/v1/admin/status"; do
  addr="${a%%/*}" target="/${a#*/}"
  code="$(tls_get "$addr" "$target")"
  [ "$code" = 401 ] || [ "$code" = 000 ] || fail "no client certificate at $addr: HTTP $code"
  echo "   ok: signed, no client certificate -> $code"
  code="$(tls_get "$addr" "$target" stranger)"
  [ "$code" = 401 ] || [ "$code" = 000 ] || fail "another CA's certificate at $addr: HTTP $code"
  echo "   ok: signed, another CA's client certificate -> $code"
  code="$(tls_get "$addr" "$target" node)"
  [ "$code" = 200 ] || fail "the CA's certificate at $addr: HTTP $code"
  echo "   ok: signed, the CA's client certificate -> 200"
done

step "4. the CLI over TLS"
"$CLI" --meta "https://$M" --cluster-secret-file "$S" $TLS state-hash >/dev/null ||
  fail "cairn state-hash over TLS"
"$CLI" --meta "http://$M" --cluster-secret-file "$S" state-hash >/dev/null 2>&1 &&
  fail "cairn without TLS options reached a TLS replica"
echo "   ok: cairn with the TLS options works, without them it does not"
step "done"
