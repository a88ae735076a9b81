#!/usr/bin/env bash
# scripts/cluster.sh as a user runs it, from a copy of scripts/ in a scratch
# tree (so ./build is the scratch tree's), with dpkg-query, apt-get, sudo and
# cmake replaced by stubs on PATH that log their calls; the stub build links
# the real binaries of $CAIRN_BUILD. Nothing is installed or uninstalled.
#   1. a fresh machine (cmake and pkg-config there, ISA-L and libmicrohttpd
#      not, no build directory): `cluster.sh up` installs exactly the missing
#      packages, then configures and builds, then starts a cluster that
#      answers S3;
#   2. the command line that must not change: up with --dir, --port-base /
#      --base-port (both spellings, also with =), --chunkservers; status,
#      pids, stop NAME (kill -9), start NAME, down; the variables of
#      DIR/cluster.env;
#   3. a build directory left by a configure that failed on an incomplete
#      machine, with a cache cmake refuses to reuse: up installs what is
#      missing and configures that directory afresh;
#   4. a complete machine: `cluster.sh build` runs install-deps (one
#      dpkg-query, no apt-get) and builds; up with the binaries there neither
#      installs nor builds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TREE="$TEST_DIR/tree"   # the scratch checkout: scripts/ only
STUBS="$TEST_DIR/stubs" # dpkg-query, apt-get, sudo, cmake
STATE="$TEST_DIR/state" # missing: packages the stub dpkg says are not installed
CALLS="$TEST_DIR/calls.log"
mkdir -p "$TREE/scripts" "$STUBS" "$STATE"
cp "$CAIRN_SRC/scripts/cluster.sh" "$CAIRN_SRC/scripts/install-deps.sh" "$TREE/scripts/"
: > "$CALLS"

cat > "$STUBS/dpkg-query" <<'EOF'
#!/usr/bin/env bash
# dpkg-query -W -f=FORMAT PKG...: every package is installed but those in $STATE/missing.
echo "dpkg-query $*" >> "$CALLS"
rc=0
for p in "$@"; do
  case "$p" in -*) continue ;; esac
  if grep -qx "$p" "$STATE/missing" 2>/dev/null; then
    echo "dpkg-query: no packages found matching $p" >&2; rc=1
  else
    echo "$p install ok installed"
  fi
done
exit "$rc"
EOF
cat > "$STUBS/apt-get" <<'EOF'
#!/usr/bin/env bash
# apt-get update | install -y ... PKG...: "installs" by taking them off $STATE/missing.
echo "apt-get $*" >> "$CALLS"
[ "$1" = install ] || exit 0
for p in "$@"; do
  case "$p" in -*|install) continue ;; esac
  grep -vx "$p" "$STATE/missing" > "$STATE/missing.new" || true
  mv "$STATE/missing.new" "$STATE/missing"
done
EOF
cat > "$STUBS/sudo" <<'EOF'
#!/usr/bin/env bash
exec "$@"
EOF
cat > "$STUBS/cmake" <<'EOF'
#!/usr/bin/env bash
# cmake -S SRC -B DIR ARGS: fails while libisal-dev is missing (as the real
# configure stops on pkg_check_modules(ISAL REQUIRED)), or when DIR's cache
# is marked refused; leaves a CMakeCache.txt either way.
# cmake --build DIR ...: links the real binaries into DIR.
echo "cmake $*" >> "$CALLS"
if [ "$1" = --build ]; then
  dir="$2"
  for b in metadata/cairn-meta chunkserver/cairn-chunk gateway/cairn-gateway cli/cairn; do
    mkdir -p "$dir/$(dirname "$b")"
    ln -sf "$REAL_BUILD/$b" "$dir/$b"
  done
  exit 0
fi
while [ $# -gt 0 ]; do [ "$1" = -B ] && dir="$2"; shift; done
mkdir -p "$dir"
if grep -qs refused "$dir/CMakeCache.txt"; then
  echo "CMake Error: this cache cannot be used" >&2; exit 1
fi
if grep -qx libisal-dev "$STATE/missing"; then
  echo "configured without ISA-L" > "$dir/CMakeCache.txt"
  echo "-- Checking for module 'libisal'" >&2
  echo "--   Package 'libisal', required by 'virtual:world', not found" >&2
  exit 1
fi
echo "configured" > "$dir/CMakeCache.txt"
EOF
chmod +x "$STUBS"/*
export PATH="$STUBS:$PATH" STATE CALLS REAL_BUILD="$CAIRN_BUILD"
# As a user runs it: no CAIRN_BUILD, so binaries come from (and build into) ./build.
ucluster() { env -u CAIRN_BUILD "$TREE/scripts/cluster.sh" "$@"; }
called() { grep -c "$1" "$CALLS" || true; }
runs() { # runs PID: that process exists and is not a zombie
  local s
  s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  s="${s##*) }"
  [ "${s:0:1}" != Z ]
}
UDIR="$CDIR" # the harness's cluster directory: its teardown stops what runs there
# The ports: one free range from the harness, reused by each cluster below.
cluster_pick_base 1
P=$CLUSTER_BASE

step "1. fresh machine: up installs what is missing, configures, builds, starts"
printf 'libisal-dev\nlibmicrohttpd-dev\n' > "$STATE/missing"
ucluster up --dir "$UDIR" --port-base "$P" --chunkservers 1 > "$TEST_DIR/up1.out" 2>&1 ||
  { cat "$TEST_DIR/up1.out"; fail "cluster.sh up on a fresh machine"; }
cat "$CALLS"
grep -q '^apt-get install .* libisal-dev libmicrohttpd-dev$' "$CALLS" ||
  fail "install-deps did not install exactly the missing packages"
[ ! -s "$STATE/missing" ] || fail "packages left missing: $(cat "$STATE/missing")"
# Order: packages first, then configure, then build.
awk '/^apt-get install/ { i = NR } /^cmake -S/ { c = NR } /^cmake --build/ { b = NR }
     END { exit !(i && c > i && b > c) }' "$CALLS" || fail "not install, configure, build in that order"
[ "$(called '^cmake -S')" = 1 ] || fail "configured more than once on a fresh build directory"
grep -q "^Cairn is up: 3 metadata replicas, 1 chunkservers, 1 gateway" "$TEST_DIR/up1.out" ||
  fail "no banner: $(cat "$TEST_DIR/up1.out")"

step "2. the command line: status, pids, stop, start, cluster.env, down"
for v in S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION CAIRN_SECRET CAIRN_META; do
  grep -q "^export $v=." "$UDIR/cluster.env" || fail "cluster.env lacks $v"
done
# shellcheck disable=SC1091
(. "$UDIR/cluster.env"
 [ "$S3_ENDPOINT" = "http://127.0.0.1:$((P + 2000))" ] || fail "S3_ENDPOINT $S3_ENDPOINT"
 [ "$CAIRN_META" = "http://127.0.0.1:$((P + 1)),http://127.0.0.1:$((P + 2)),http://127.0.0.1:$((P + 3))" ] ||
   fail "CAIRN_META $CAIRN_META"
 curl -sf -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:$AWS_DEFAULT_REGION:s3" \
   -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$S3_ENDPOINT/") || fail "the gateway does not answer S3"
# The banner's hint `cairn --meta $CAIRN_META status` works in a shell with
# nothing but cluster.env (twice: PATH gets the directory once).
env -i HOME="$HOME" PATH=/usr/bin:/bin bash -c '. "$1"; . "$1"
  [ "$(tr : "\n" <<<"$PATH" | grep -c /cli$)" = 1 ] && cairn --meta "$CAIRN_META" status' _ "$UDIR/cluster.env" \
  >"$TEST_DIR/hint.out" 2>&1 || fail "cairn hint after . cluster.env: $(cat "$TEST_DIR/hint.out")"
ucluster status --dir "$UDIR" > "$TEST_DIR/status.out" 2>&1 || fail "cluster.sh status"
for n in meta1 meta2 meta3 chunk1 gateway; do
  grep -q "^$n  *running  pid [0-9]" "$TEST_DIR/status.out" || fail "status: $n not running"
done
ucluster pids --dir="$UDIR" > "$TEST_DIR/pids.out"
[ "$(awk '{ print $1 }' "$TEST_DIR/pids.out" | tr '\n' ' ')" = "meta1 meta2 meta3 chunk1 gateway " ] ||
  fail "pids: $(cat "$TEST_DIR/pids.out")"
CHUNK_PID="$(awk '$1 == "chunk1" { print $2 }' "$TEST_DIR/pids.out")"
ucluster stop chunk1 --dir "$UDIR"
! runs "$CHUNK_PID" || fail "stop chunk1: pid $CHUNK_PID still runs"
ucluster status --dir "$UDIR" > "$TEST_DIR/status2.out" 2>&1
grep -q '^chunk1  *stopped' "$TEST_DIR/status2.out" || fail "status after stop"
ucluster start chunk1 --dir "$UDIR"
chunk1_runs() { local p; p="$(ucluster pids --dir "$UDIR")" && grep -q '^chunk1 ' <<<"$p"; }
wait_for 10 chunk1_runs || fail "start chunk1"
ucluster start nosuch --dir "$UDIR" 2>/dev/null && fail "start of an unknown daemon succeeded"
ucluster down --dir "$UDIR" > /dev/null
for pid in $(awk '{ print $2 }' "$TEST_DIR/pids.out"); do
  ! runs "$pid" || fail "down left pid $pid running"
done
[ -z "$(ucluster pids --dir "$UDIR")" ] || fail "pids after down"
# The other spellings, and the same ports again from DIR/base-port (no
# gateway, no chunkserver: quicker).
ucluster up --dir="$UDIR" --base-port="$P" --chunkservers=0 --no-gateway > /dev/null 2>&1 ||
  fail "up --base-port=P"
ucluster down --dir "$UDIR" > /dev/null
ucluster up --dir "$UDIR" --chunkservers 0 --no-gateway > "$TEST_DIR/up2.out" 2>&1 ||
  fail "up again without a port"
grep -q "^export CAIRN_META=http://127.0.0.1:$((P + 1))," "$UDIR/cluster.env" || fail "up again moved the ports"
ucluster down --dir "$UDIR" > /dev/null
ucluster up --dir "$UDIR" --bogus 2>/dev/null && fail "an unknown option was accepted"
[ "$(called '^cmake')" = 2 ] || fail "built again although the binaries were there"

step "3. a build directory a failed configure left: installed, then configured afresh"
rm -rf "$TREE/build" "$UDIR"
: > "$CALLS"
printf 'libisal-dev\n' > "$STATE/missing"
mkdir -p "$TREE/build"
echo "configured without ISA-L; refused" > "$TREE/build/CMakeCache.txt"
ucluster up --dir "$UDIR" --port-base "$P" --chunkservers 0 --no-gateway > "$TEST_DIR/up3.out" 2>&1 ||
  { cat "$TEST_DIR/up3.out"; fail "cluster.sh up over a stale build directory"; }
grep -q '^apt-get install .* libisal-dev$' "$CALLS" || fail "ISA-L was not installed"
grep -q "configuring $TREE/build afresh" "$TEST_DIR/up3.out" || fail "no fresh configure"
[ "$(called '^cmake -S')" = 2 ] || fail "expected a refused configure, then a fresh one"
ucluster down --dir "$UDIR" > /dev/null

step "4. a complete machine: build runs install-deps (nothing to install) and builds"
: > "$CALLS"
: > "$STATE/missing"
ucluster build > "$TEST_DIR/build4.out" 2>&1 || { cat "$TEST_DIR/build4.out"; fail "cluster.sh build"; }
[ "$(called '^dpkg-query')" = 1 ] || fail "install-deps: expected one dpkg-query"
[ "$(called '^apt-get')" = 0 ] || fail "apt-get ran with nothing missing"
[ "$(called '^cmake --build')" = 1 ] || fail "build did not build"
step "cluster_cli: all checks passed"
