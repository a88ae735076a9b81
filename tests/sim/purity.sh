#!/bin/bash
# The Multi-Paxos core (metadata/paxos*.c, paxos.h, paxos_int.h) is pure: it
# includes only the headers listed below (no I/O, clock, thread or storage
# header); its private header paxos_int.h is included only by metadata/paxos*.c;
# and no file of it is over 1,500 lines (the limit for a .c outside tests/).
set -euo pipefail
src=${1:?usage: purity.sh SOURCE_DIR}
allowed='^(paxos\.h|paxos_int\.h|cn_error\.h|cn_log\.h|stdbool\.h|stddef\.h|stdint\.h|stdlib\.h|string\.h)$'
fail=0
shopt -s nullglob
core=("$src"/metadata/paxos*.c "$src"/metadata/paxos*.h)
[ ${#core[@]} -ge 2 ] || { echo "no Paxos core under $src/metadata"; exit 1; }
for f in "${core[@]}"; do
    while read -r h; do
        if ! [[ $h =~ $allowed ]]; then
            echo "$f includes $h: the Paxos core does no I/O (see metadata/paxos.h)"
            fail=1
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f")
    n=$(wc -l < "$f")
    if [[ $f == *.c ]] && [ "$n" -gt 1500 ]; then
        echo "$f has $n lines (over 1,500): cut it along a seam"
        fail=1
    fi
done
while read -r f; do
    case $f in
    "$src"/metadata/paxos*.c | "$src"/metadata/paxos*.h) ;;
    *)
        echo "$f includes paxos_int.h, private to metadata/paxos*.c"
        fail=1
        ;;
    esac
done < <(grep -rl --include='*.c' --include='*.h' --exclude-dir='build*' --exclude-dir=.git \
    '#[[:space:]]*include[[:space:]]*"paxos_int\.h"' "$src" || true)
[ $fail = 0 ] && echo "paxos core purity ok (${#core[@]} files)"
exit $fail
