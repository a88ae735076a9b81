#!/usr/bin/env bash
# scripts/cluster.sh up|down|status [--dir DIR] [--chunkservers N]
# Starts a local Cairn cluster (3 cairn-meta, N cairn-chunk, one cairn-gateway)
# on 127.0.0.1. The daemons are not built yet (issues #3, #4, #5); until they
# are, this script says so and exits non-zero instead of pretending.
set -euo pipefail
case "${1:-}" in
  -h|--help|"")
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
esac
echo "cluster.sh: the local cluster needs cairn-meta, cairn-chunk and cairn-gateway," \
     "which are not implemented yet (issues #3, #4, #5)" >&2
exit 2
