# Helpers shared by the S3 tests that run a cluster from scripts/cluster.sh
# (sourced after lib.sh). T0 is the test's start in $SECONDS.

step() { echo "-- [$((SECONDS - T0))s] $*"; }

same() { # same FILE FILE: byte-exact by sha256
  local a b
  a="$(sha256sum < "$1" | cut -d' ' -f1)"; b="$(sha256sum < "$2" | cut -d' ' -f1)"
  [ "$a" = "$b" ] || fail "$2 differs from $1 ($a vs $b)"
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# Sets BASE to a base port whose whole range (meta +1..+3, chunks +101..+106,
# gateway +2000) is free, below the kernel's ephemeral range (outgoing
# connections take ports there that no listener check can see). Another test
# may grab a port between the check and the bind: then retry with another.
EPH_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)"
pick_base() {
  local ok p
  for _ in $(seq 20); do
    BASE=$(( (RANDOM % ((EPH_LOW - 12100) / 10)) * 10 + 10000 ))
    ok=1
    for p in $((BASE+1)) $((BASE+2)) $((BASE+3)) $(seq $((BASE+101)) $((BASE+106))) $((BASE+2000)); do
      port_free "$p" || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
  done
  return 1
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
