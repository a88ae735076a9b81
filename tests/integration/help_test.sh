#!/usr/bin/env bash
# Every binary and script a user runs answers --help (and -h) with its usage on
# stdout and exit status 0, without a cluster, a secret or any configuration;
# an unknown option is refused with status 2 and a message on stderr.
set -euo pipefail
: "${CAIRN_BUILD:?}" "${CAIRN_SRC:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
out="$(mktemp)"; err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT
unset CAIRN_SECRET CAIRN_META

check_help() { # check_help NAME CMD...: --help prints a usage (or WANT), exit 0
  local name="$1"; shift
  "$@" >"$out" 2>"$err" || fail "$name: exit $? ($(head -c 300 "$err"))"
  grep -qi -- "${WANT:-usage}" "$out" || fail "$name: no usage on stdout ($(head -c 300 "$out"))"
  echo "ok  $name"
}

B="$CAIRN_BUILD"
for bin in metadata/cairn-meta chunkserver/cairn-chunk gateway/cairn-gateway cli/cairn \
           ec/cairn-ecbench chunkserver/cairn-chunkbench; do
  [ -x "$B/$bin" ] || fail "$bin not built"
  check_help "$bin --help" "$B/$bin" --help
  check_help "$bin -h" "$B/$bin" -h
  set +e; "$B/$bin" --no-such-option >"$out" 2>"$err"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "$bin --no-such-option: exit $rc, want 2"
  [ -s "$err" ] || fail "$bin --no-such-option: nothing on stderr"
done

# Every cairn command (as `cairn --help` lists them), anywhere on its line,
# with no secret configured.
mapfile -t listed < <("$B/cli/cairn" --help | awk '/^  [a-z]/ {print $1}')
[ "${#listed[@]}" -ge 10 ] || fail "cairn --help lists only ${#listed[@]} commands"
for c in "${listed[@]}" "repair --bucket b" "scrub --deep" "keys create" "user create" \
         "quota set" "bench meta" "meta transfer"; do
  # shellcheck disable=SC2086
  check_help "cairn $c --help" "$B/cli/cairn" $c --help
done

# cairn-meta refuses a leader lease longer than its safety bound (docs/paxos.md):
# 442 ms for a 500 ms election timeout and the default 5% drift bound.
set +e
timeout 10 "$B/metadata/cairn-meta" --secret 0123456789abcdef0123456789 --election-timeout 500ms \
  --lease 443ms >"$out" 2>"$err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "cairn-meta --lease 443ms: exit $rc, want 2"
grep -q "longer than the safe bound 442ms" "$err" ||
  fail "cairn-meta --lease 443ms: $(head -c 300 "$err")"
echo "ok  cairn-meta --lease above the bound refused"

for s in cluster.sh bench.sh mount.sh bench-rebuild.sh bench-meta.sh bench-scale.sh; do
  [ -f "$CAIRN_SRC/scripts/$s" ] || continue
  WANT="$s" check_help "scripts/$s --help" bash "$CAIRN_SRC/scripts/$s" --help
done
echo "PASS"
