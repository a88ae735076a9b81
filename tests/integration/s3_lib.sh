# Helpers shared by the S3 tests that run a cluster from scripts/cluster.sh
# (sourced after lib.sh). T0 is the test's start in $SECONDS; CLUSTER is
# scripts/cluster.sh and CDIR the cluster's directory.

step() { echo "-- [$((SECONDS - T0))s] $*"; }

same() { # same FILE FILE: byte-exact by sha256
  local a b
  a="$(sha256sum < "$1" | cut -d' ' -f1)"; b="$(sha256sum < "$2" | cut -d' ' -f1)"
  [ "$a" = "$b" ] || fail "$2 differs from $1 ($a vs $b)"
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# pick_base [N]: sets BASE to a base port whose whole range (meta +1..+3,
# chunkservers +101..+100+N (N defaults to 6), gateway +2000) is free, below
# the kernel's ephemeral range (outgoing connections take ports there that no
# listener check can see). Another test may grab a port between the check and
# the bind: cluster_up then retries with another.
EPH_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)"
pick_base() {
  local n="${1:-6}" ok p
  for _ in $(seq 20); do
    BASE=$(( (RANDOM % ((EPH_LOW - 12100) / 10)) * 10 + 10000 ))
    ok=1
    for p in $((BASE+1)) $((BASE+2)) $((BASE+3)) $(seq $((BASE+101)) $((BASE+100+n))) $((BASE+2000)); do
      port_free "$p" || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
  done
  return 1
}

# cluster_up N: scripts/cluster.sh up in $CDIR with N chunkservers on a free
# port range (BASE), three attempts; the daemons' extra flags come from the
# caller's CAIRN_{META,CHUNK,GATEWAY}_OPTS. Fails the test after three.
cluster_up() {
  local n="$1" attempt
  for attempt in 1 2 3; do
    pick_base "$n" || continue
    step "cluster up: $n chunkservers (base port $BASE, attempt $attempt)"
    if "$CLUSTER" up --dir "$CDIR" --chunkservers "$n" --base-port "$BASE" \
         > "$TEST_DIR/up.out" 2>&1; then
      return 0
    fi
    cat "$TEST_DIR/up.out"
    "$CLUSTER" down --dir "$CDIR" >/dev/null 2>&1 || true
    rm -rf "$CDIR"
  done
  fail "cluster.sh up failed 3 times"
}

# cluster_teardown RC [PATH...]: the end of a test's EXIT trap. On failure
# the cluster's logs are shown; the cluster goes down; PATHs (big data) are
# removed even when the logs are kept; a sanitizer report in the gateway's
# log fails the test; lib.sh's cleanup then exits with the result.
cluster_teardown() {
  local rc="$1" f
  shift
  if [ "$rc" -ne 0 ] && [ -d "$CDIR/logs" ]; then
    for f in "$CDIR"/logs/*.log; do echo "== $f"; tail -n 30 "$f"; done
  fi
  "$CLUSTER" down --dir "$CDIR" >/dev/null 2>&1 || true
  [ $# -eq 0 ] || rm -rf "$@" 2>/dev/null || true
  sanitizer_scan "$CDIR" || rc=1
  set +e # (exit rc) must not end the trap before cleanup runs
  (exit "$rc")
  cleanup
}

# sanitizer_scan DIR: shows any sanitizer report in DIR/logs; returns 1 when
# the gateway's log has one (sanitizer builds: that fails the test).
sanitizer_scan() {
  local f bad=0
  for f in "$1"/logs/*.log; do
    [ -f "$f" ] && grep -Eq 'Sanitizer|runtime error:' "$f" || continue
    echo "== sanitizer report in $f"; grep -E -A30 'Sanitizer|runtime error:' "$f" | head -60
    case "$f" in */gateway.log) bad=1 ;; esac
  done
  return "$bad"
}
