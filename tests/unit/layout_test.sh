#!/usr/bin/env bash
# The tree's layout rules (docs/architecture.md, "Who may include what"),
# checked so they cannot erode:
#   1. no .c file outside tests/ is over 1,500 lines;
#   2. internal routes and X-Cairn-* header names are spelled only in
#      common/cn_wire.h (string literals in code; comments may mention them);
#   3. the gateway, chunkserver and CLI include no metadata-server header, and
#      metadata/ and chunkserver/ include nothing of each other;
#   4. cairn-gateway, cairn-chunk and cairn do not load LevelDB.
set -euo pipefail
: "${CAIRN_SRC:?}" "${CAIRN_BUILD:?}"
cd "$CAIRN_SRC"
fail=0
bad() { echo "layout: $*"; fail=1; }

mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ ${#sources[@]} -gt 50 ] || { echo "layout: found only ${#sources[@]} sources"; exit 1; }

for f in "${sources[@]}"; do
  case $f in tests/*) continue ;; esac
  if [[ $f == *.c ]]; then
    n=$(wc -l < "$f")
    [ "$n" -le 1500 ] || bad "$f has $n lines (over 1,500): cut it along a seam"
  fi
  [ "$f" = common/cn_wire.h ] && continue
  # Comments removed by the preprocessor; what is left is code.
  if gcc -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null |
       grep -nE '"(/v1/|/paxos/|/_cairn/|/metrics"|X-Cairn-)' >/tmp/layout.$$ ; then
    bad "$f spells a route or X-Cairn header outside common/cn_wire.h:"; cat /tmp/layout.$$
  fi
done
rm -f /tmp/layout.$$

server_headers='md_(store|sm|sm_int|txn|tree|query|snap|check|place|repair|server|server_int|replica|plog|live|waiter)\.h|paxos(_int)?\.h'
for dir in gateway chunkserver cli; do
  if grep -nE "#include \"($server_headers)\"" $dir/*.[ch] $dir/*/*.[ch] 2>/dev/null; then
    bad "$dir/ includes a metadata-server header (use mdclient/)"
  fi
done
if grep -nE '#include "(\.\./chunkserver/|cs_)[a-z_]*\.h"' metadata/*.[ch]; then
  bad "metadata/ includes a chunkserver header"
fi
if grep -nE '#include "(\.\./metadata/|md_|paxos)[a-z_]*\.h"' chunkserver/*.[ch] |
     grep -vE '"md_(client|cmd)\.h"'; then
  bad "chunkserver/ includes a metadata header other than the client's"
fi

for bin in gateway/cairn-gateway chunkserver/cairn-chunk cli/cairn; do
  [ -x "$CAIRN_BUILD/$bin" ] || { bad "$CAIRN_BUILD/$bin is not built"; continue; }
  if ldd "$CAIRN_BUILD/$bin" | grep -q leveldb; then
    bad "$bin loads LevelDB: it must talk to the metadata service through libcairn-mdclient"
  fi
done

[ "$fail" = 0 ] && echo "layout: ok (${#sources[@]} sources)"
exit "$fail"
