#!/usr/bin/env bash
# scripts/bench.sh: the S3 gateway benchmark (issue 5), with its baselines measured
# in the same run. Not a test: it prints figures and PASS/BELOW against the targets.
#
#   scripts/bench.sh [--keep]
#
# Starts its own cluster with scripts/cluster.sh in a temp dir (ports from
# BENCH_BASE_PORT, default 23000: below the ephemeral range, gateway on P+2000),
# or uses a running one when BENCH_CLUSTER_ENV
# names its cluster.env (then BENCH_GW_PID must be the gateway's pid for the RSS
# figure). Binaries from $CAIRN_BUILD (default ./build); the small-object load
# generator cairn-s3load is taken from $CAIRN_BUILD/tests/bench/ or
# $CAIRN_BUILD/cairn-s3load (compiled from tests/bench/s3load.c if missing).
# Knobs (env): BIG (1G: single-stream object), PAR_N / PAR_SIZE (8 x 64M),
# SMALL_CLIENTS (32), SMALL_SECS (5), RSS_N / RSS_SIZE (16 x 1G), BENCH_TMP
# (temp dir, on the disk to measure), BENCH_ONLY=small (only the 4 KiB phases,
# with each daemon's CPU per operation), BENCH_ONLY=packed (only the packed-size
# phases of issue #17: 1 MiB x 8 clients and 64 KiB x 32 clients, PUT and GET,
# each next to its baseline: the same objects stored a chunk group each, sent
# chunked, which the packer does not take), PACK_SECS (5), PACK_FILES (10000:
# objects of 64 KiB after which the fragment files are counted), BENCH_SCHEME
# (4+2: the gateway's scheme, for the disk baseline of the PUT). Client: curl
# --aws-sigv4 with UNSIGNED-PAYLOAD for the streams, cairn-s3load (libcurl
# multi, SigV4; every GET body verified) for the small and packed sizes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
BASE="${BENCH_BASE_PORT:-23000}"
BIG="${BIG:-1G}"
PAR_N="${PAR_N:-8}"
PAR_SIZE="${PAR_SIZE:-64M}"
SMALL_CLIENTS="${SMALL_CLIENTS:-32}"
SMALL_SECS="${SMALL_SECS:-5}"
PACK_SECS="${PACK_SECS:-5}"
ONLY="${BENCH_ONLY:-}"
RSS_N="${RSS_N:-16}"
RSS_SIZE="${RSS_SIZE:-1G}"
SCHEME="${BENCH_SCHEME:-4+2}" # the gateway's --default-scheme (its own cluster: the default)
SCHEME_K="${SCHEME%+*}" SCHEME_M="${SCHEME#*+}"
KEEP=0
for a in "$@"; do
  case "$a" in
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument: $a (see --help)" >&2; exit 2 ;;
  esac
done

TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-bench.XXXXXX")"
OWN_CLUSTER=0
cleanup() {
  local rc=$?
  if [ "$OWN_CLUSTER" = 1 ] && [ "$KEEP" = 0 ]; then
    "$ROOT/scripts/cluster.sh" down --dir "$TMP/cluster" >/dev/null 2>&1 || true
  fi
  if [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "bench: kept $TMP"; fi
  exit $rc
}
trap cleanup EXIT

bytes() { numfmt --from=iec "$1"; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="${3:-ge}" 'BEGIN {
  ok = (dir == "ge") ? (v >= t) : (v <= t); print ok ? "PASS" : "BELOW" }'; }
now() { date +%s.%N; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; } # a as % of b
# cpu_snap: "NAME TICKS" (user + system) for every daemon of the cluster this
# script started (nothing for BENCH_CLUSTER_ENV).
cpu_snap() {
  local f p
  [ "$OWN_CLUSTER" = 1 ] || return 0
  for f in "$TMP"/cluster/pids/*.pid; do
    p="$(cat "$f")"
    [ -r "/proc/$p/stat" ] && echo "$(basename "$f" .pid) $(awk '{ print $14 + $15 }' "/proc/$p/stat")"
  done
}
# cpu_per_op BEFORE AFTER OPS: each daemon's CPU per operation between two
# snapshots (chunkservers summed).
cpu_per_op() {
  awk -v ops="${3:-0}" -v hz="$(getconf CLK_TCK)" '
    NR == FNR { a[$1] = $2; next }
    ops > 0 { d = ($2 - a[$1]) * 1e6 / hz / ops
      if ($1 ~ /^chunk/) c += d; else printf "%s %.0f us, ", $1, d }
    END { if (ops > 0) printf "chunkservers %.0f us", c; else printf "no operations" }' \
    <(echo "$1") <(echo "$2")
}

# ---- cluster ----
if [ -n "${BENCH_CLUSTER_ENV:-}" ]; then
  # shellcheck disable=SC1090
  . "$BENCH_CLUSTER_ENV"
  GW_PID="${BENCH_GW_PID:-}"
else
  "$ROOT/scripts/cluster.sh" up --dir "$TMP/cluster" --base-port "$BASE" \
    ${BENCH_GATEWAY_OPTS:+--gateway-opts "$BENCH_GATEWAY_OPTS"} >"$TMP/cluster-up.log" 2>&1 ||
    { cat "$TMP/cluster-up.log" >&2; exit 1; }
  OWN_CLUSTER=1
  # shellcheck disable=SC1091
  . "$TMP/cluster/cluster.env"
  GW_PID="$(cat "$TMP/cluster/pids/gateway.pid")"
fi
REGION="${AWS_DEFAULT_REGION:-us-east-1}"
S3=(curl -sS --fail --aws-sigv4 "aws:amz:$REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
UP=(-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
BUCKET="bench-$$"
"${S3[@]}" -X PUT "$S3_ENDPOINT/$BUCKET" -o /dev/null

LOAD=""
for c in "$CAIRN_BUILD/tests/bench/cairn-s3load" "$CAIRN_BUILD/cairn-s3load"; do
  [ -x "$c" ] && LOAD="$c" && break
done
if [ -z "$LOAD" ]; then
  LOAD="$TMP/cairn-s3load"
  cc -O2 -std=c11 -o "$LOAD" "$ROOT/tests/bench/s3load.c" -lcurl
fi

echo "cairn S3 benchmark, $(date -u "+%Y-%m-%d %H:%M UTC"), $(nproc) cores, endpoint $S3_ENDPOINT, load average $(cut -d" " -f1-3 /proc/loadavg) (other work on the box depresses every figure)"

if [ -z "$ONLY" ]; then
# ---- baselines ----
HB="$("$CAIRN_BUILD/tests/common/cairn-httpbench" --size 1G --rounds 3 --no-auth)"
RAW_PUT="$(echo "$HB" | awk '/^put/ { for (i=1;i<=NF;i++) if ($i ~ /^best_mbps=/) { sub(/.*=/,"",$i); print int($i) } }')"
RAW_GET="$(echo "$HB" | awk '/^get/ { for (i=1;i<=NF;i++) if ($i ~ /^best_mbps=/) { sub(/.*=/,"",$i); print int($i) } }')"
# openssl speed prints kB/s (1000 bytes) for 1 MiB blocks
MD5="$(openssl speed -evp md5 -bytes 1048576 -seconds 2 2>/dev/null | awk '/^md5/ { sub(/k$/,"",$2); printf "%.0f", $2 * 1000 / 1e6 }')"
printf '%-44s %8s MB/s\n' "baseline: loopback HTTP PUT (null, best of 3)" "$RAW_PUT"
printf '%-44s %8s MB/s\n' "baseline: loopback HTTP GET (null, best of 3)" "$RAW_GET"
printf '%-44s %8s MB/s\n' "baseline: OpenSSL MD5 (EVP, 1 MiB blocks)" "$MD5"
# The disk as a PUT of $BIG uses it: k+m files of $BIG/k each (its fragments,
# one per chunkserver, all on this box's disk), written at once and each
# fdatasync'ed; MB/s of object bytes. Virtual disks vary by 3x from one minute
# to the next: read the PUT against this figure of the same run.
DMB=$(($(bytes "$BIG") / SCHEME_K / 1048576)); [ "$DMB" -ge 1 ] || DMB=1
t0=$(now)
dpids=()
for i in $(seq 1 $((SCHEME_K + SCHEME_M))); do
  dd if=/dev/zero of="$TMP/disk$i" bs=1M count="$DMB" conv=fdatasync 2>/dev/null & dpids+=($!)
done
wait "${dpids[@]}"
t1=$(now)
rm -f "$TMP"/disk*
DISK="$(mbps $((DMB * SCHEME_K * 1048576)) "$(echo "$t1 - $t0" | bc)")"
printf '%-44s %8s MB/s\n' "baseline: disk, $SCHEME_K+$SCHEME_M fragments + fdatasync" "$DISK"

# ---- single stream ----
head -c "$(bytes "$BIG")" /dev/urandom >"$TMP/big"
BIGB="$(stat -c %s "$TMP/big")"
BIGMD5="$(md5sum "$TMP/big" | cut -d' ' -f1)"
t0=$(now)
etag="$("${S3[@]}" "${UP[@]}" -T "$TMP/big" "$S3_ENDPOINT/$BUCKET/big" -D - -o /dev/null |
  tr -d '\r' | awk 'tolower($1) == "etag:" { gsub(/"/, "", $2); print $2 }')"
t1=$(now)
[ "$etag" = "$BIGMD5" ] || { echo "bench: ETag $etag != MD5 $BIGMD5" >&2; exit 1; }
PUT1="$(mbps "$BIGB" "$(echo "$t1 - $t0" | bc)")"
t0=$(now)
got="$("${S3[@]}" "$S3_ENDPOINT/$BUCKET/big" | md5sum | cut -d' ' -f1)"
t1=$(now)
[ "$got" = "$BIGMD5" ] || { echo "bench: GET bytes differ (md5 $got)" >&2; exit 1; }
# the GET is timed through md5sum of the body (byte-exact check); md5sum runs beside it
GET1="$(mbps "$BIGB" "$(echo "$t1 - $t0" | bc)")"
t0=$(now)
"${S3[@]}" "$S3_ENDPOINT/$BUCKET/big" -o /dev/null
t1=$(now)
GET1N="$(mbps "$BIGB" "$(echo "$t1 - $t0" | bc)")"
PT=$(awk -v m="$MD5" 'BEGIN { printf "%.0f", 0.4 * m }')
GT=$(awk -v r="$RAW_GET" 'BEGIN { printf "%.0f", 0.25 * r }')
printf '%-44s %8s MB/s  target >= %s (40%% of MD5) %s\n' "PUT  1 x $BIG, one stream" "$PUT1" "$PT" "$(verdict "$PUT1" "$PT")"
printf '  the PUT is %s%% of MD5 and %s%% of the disk baseline\n' "$(pct "$PUT1" "$MD5")" "$(pct "$PUT1" "$DISK")"
printf '%-44s %8s MB/s  target >= %s (25%% of raw GET) %s\n' "GET  1 x $BIG, one stream (to /dev/null)" "$GET1N" "$GT" "$(verdict "$GET1N" "$GT")"
printf '%-44s %8s MB/s  (byte-exact check, md5sum in the pipe)\n' "GET  1 x $BIG, one stream, piped to md5sum" "$GET1"
"${S3[@]}" -X DELETE "$S3_ENDPOINT/$BUCKET/big" -o /dev/null

# ---- parallel streams ----
head -c "$(bytes "$PAR_SIZE")" "$TMP/big" >"$TMP/par"
PARB="$(stat -c %s "$TMP/par")"
t0=$(now)
pids=()
for i in $(seq 1 "$PAR_N"); do
  "${S3[@]}" "${UP[@]}" -T "$TMP/par" "$S3_ENDPOINT/$BUCKET/par$i" -o /dev/null & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(now)
PUTP="$(mbps $((PARB * PAR_N)) "$(echo "$t1 - $t0" | bc)")"
t0=$(now)
pids=()
for i in $(seq 1 "$PAR_N"); do
  "${S3[@]}" "$S3_ENDPOINT/$BUCKET/par$i" -o "$TMP/par.out$i" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(now)
GETP="$(mbps $((PARB * PAR_N)) "$(echo "$t1 - $t0" | bc)")"
for i in $(seq 1 "$PAR_N"); do
  cmp -s "$TMP/par" "$TMP/par.out$i" || { echo "bench: par$i differs" >&2; exit 1; }
  rm -f "$TMP/par.out$i"
  "${S3[@]}" -X DELETE "$S3_ENDPOINT/$BUCKET/par$i" -o /dev/null
done
printf '%-44s %8s MB/s  (aggregate)\n' "PUT  $PAR_N x $PAR_SIZE, $PAR_N streams" "$PUTP"
printf '%-44s %8s MB/s  (aggregate, byte-exact)\n' "GET  $PAR_N x $PAR_SIZE, $PAR_N streams" "$GETP"

fi

# ---- 4 KiB objects (the GET phase reads keys 0..3 of each client, written by the PUT phase) ----
if [ -z "$ONLY" ] || [ "$ONLY" = small ]; then
C0="$(cpu_snap)"
SP="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" put 4096 "$SMALL_CLIENTS" "$SMALL_SECS" 64 || true)"
C1="$(cpu_snap)"
SG="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" get 4096 "$SMALL_CLIENTS" "$SMALL_SECS" 4 || true)"
C2="$(cpu_snap)"
SPR="$(echo "$SP" | sed -n 's/.*: \([0-9]*\) req\/s.*/\1/p')"
SGR="$(echo "$SG" | sed -n 's/.*: \([0-9]*\) req\/s.*/\1/p')"
printf '%-44s %8s /s    target >= 2000 %s   [%s]\n' "PUT  4 KiB, $SMALL_CLIENTS clients" "$SPR" "$(verdict "$SPR" 2000)" "${SP#*: }"
printf '%-44s %8s /s    target >= 5000 %s   [%s]\n' "GET  4 KiB, $SMALL_CLIENTS clients" "$SGR" "$(verdict "$SGR" 5000)" "${SG#*: }"
if [ -n "$C0" ]; then
  printf '  CPU per PUT: %s\n' "$(cpu_per_op "$C0" "$C1" "$(echo "$SP" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
  printf '  CPU per GET: %s\n' "$(cpu_per_op "$C1" "$C2" "$(echo "$SG" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
fi
# How the gateway sent its metadata requests (--meta-batch): in batches, or alone.
curl -s "$S3_ENDPOINT/metrics" | awk '
  $1 == "cairn_gw_meta_batches_total" { b = $2 } $1 == "cairn_gw_meta_batch_items_total" { i = $2 }
  $1 == "cairn_gw_meta_alone_total" { a = $2 } $1 == "cairn_gw_meta_batch_again_total" { g = $2 }
  END { if (b + a > 0) printf "  metadata requests so far: %d in %d batches, %d alone, %d sent again\n", i, b, a, g }'
fi

# ---- packed-size objects (issue #17): each size first stored a chunk group
# each (chunked PUTs: the baseline, never packed), then packed (PUTs with a
# Content-Length); each GET phase reads keys 0..15 of each client, written by
# the PUT phase before it, and verifies every body ----
rate_of() { echo "$1" | sed -n 's/.*: \([0-9]*\) req\/s.*/\1/p'; }
if [ -z "$ONLY" ] || [ "$ONLY" = packed ]; then
  for pcase in "1048576 8 400 1300" "65536 32 3000 6000"; do
    read -r psize pcl pput pget <<<"$pcase"
    plabel="$((psize / 1024)) KiB"
    [ "$psize" -ge 1048576 ] && plabel="$((psize / 1048576)) MiB"
    B0="$(cpu_snap)"
    BP="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" put-chunked "$psize" "$pcl" "$PACK_SECS" 16 || true)"
    B1="$(cpu_snap)"
    BG="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" get "$psize" "$pcl" "$PACK_SECS" 16 || true)"
    B2="$(cpu_snap)"
    C0="$(cpu_snap)"
    PP="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" put "$psize" "$pcl" "$PACK_SECS" 16 || true)"
    C1="$(cpu_snap)"
    PG="$("$LOAD" "$S3_ENDPOINT" "$BUCKET" get "$psize" "$pcl" "$PACK_SECS" 16 || true)"
    C2="$(cpu_snap)"
    printf '%-44s %8s /s    (a chunk group each: chunked PUTs)   [%s]\n' "baseline: PUT $plabel, $pcl clients" "$(rate_of "$BP")" "${BP#*: }"
    printf '%-44s %8s /s    (of those objects)   [%s]\n' "baseline: GET $plabel, $pcl clients" "$(rate_of "$BG")" "${BG#*: }"
    printf '%-44s %8s /s    target >= %s %s   [%s]\n' "PUT  $plabel packed, $pcl clients" "$(rate_of "$PP")" "$pput" "$(verdict "$(rate_of "$PP")" "$pput")" "${PP#*: }"
    printf '%-44s %8s /s    target >= %s %s   [%s]\n' "GET  $plabel packed, $pcl clients" "$(rate_of "$PG")" "$pget" "$(verdict "$(rate_of "$PG")" "$pget")" "${PG#*: }"
    if [ -n "$C0" ]; then
      printf '  CPU per baseline PUT: %s\n' "$(cpu_per_op "$B0" "$B1" "$(echo "$BP" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
      printf '  CPU per baseline GET: %s\n' "$(cpu_per_op "$B1" "$B2" "$(echo "$BG" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
      printf '  CPU per packed PUT: %s\n' "$(cpu_per_op "$C0" "$C1" "$(echo "$PP" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
      printf '  CPU per packed GET: %s\n' "$(cpu_per_op "$C1" "$C2" "$(echo "$PG" | sed -n 's/.* \([0-9]*\) ok.*/\1/p')")"
    fi
  done
  # fragment files per chunkserver after PACK_FILES (10,000) objects of 64 KiB
  # (issue #17: <= 100), counted in the data dirs of the cluster bench.sh started
  if [ "$OWN_CLUSTER" = 1 ]; then
    pkeys=$(((${PACK_FILES:-10000} + 31) / 32))
    "${S3[@]}" -X PUT "$S3_ENDPOINT/$BUCKET-files" -o /dev/null
    FP="$("$LOAD" "$S3_ENDPOINT" "$BUCKET-files" put 65536 32 1 "$pkeys" 2>&1 || true)"
    fmax=0
    for d in "$TMP"/cluster/chunk*/frags; do
      n=$(find "$d" -type f | wc -l)
      [ "$n" -gt "$fmax" ] && fmax=$n
    done
    printf '%-44s %8s      target <= 100 %s   [%s]\n' "fragment files per chunkserver (max)" "$fmax" \
      "$(verdict "$fmax" 100 le)" "$((pkeys * 32)) objects of 64 KiB more; ${FP#*: }"
  fi
  PM="$(curl -s "$S3_ENDPOINT/metrics")"
  printf '  packer: %s objects in %s batches (%s per batch), %s padding bytes, %s fallbacks\n' \
    "$(echo "$PM" | awk '$1 == "cairn_gw_packed_objects_total" { print $2 }')" \
    "$(echo "$PM" | awk '$1 == "cairn_gw_packed_batches_total" { print $2 }')" \
    "$(echo "$PM" | awk '$1 == "cairn_gw_packed_objects_per_batch" { print $2 }')" \
    "$(echo "$PM" | awk '$1 == "cairn_gw_packed_padding_bytes_total" { print $2 }')" \
    "$(echo "$PM" | awk '$1 == "cairn_gw_packed_fallbacks_total" { print $2 }')"
fi

# ---- gateway peak RSS under concurrent big uploads ----
if [ -z "$ONLY" ] && [ -n "${GW_PID:-}" ] && [ -r "/proc/$GW_PID/status" ]; then
  head -c "$(bytes "$RSS_SIZE")" "$TMP/big" >"$TMP/rss" 2>/dev/null || true
  [ "$(stat -c %s "$TMP/rss")" = "$(bytes "$RSS_SIZE")" ] ||
    head -c "$(bytes "$RSS_SIZE")" /dev/urandom >"$TMP/rss"
  rm -f "$TMP/big"
  RSSB="$(stat -c %s "$TMP/rss")"
  echo 5 >"/proc/$GW_PID/clear_refs" 2>/dev/null || true   # reset VmHWM
  hwm0="$(awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status")"
  t0=$(now)
  pids=()
  for i in $(seq 1 "$RSS_N"); do
    "${S3[@]}" "${UP[@]}" -T "$TMP/rss" "$S3_ENDPOINT/$BUCKET/rss$i" -o /dev/null & pids+=($!)
  done
  fails=0
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  t1=$(now)
  hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status")"
  AGG="$(mbps $((RSSB * RSS_N)) "$(echo "$t1 - $t0" | bc)")"
  for i in $(seq 1 "$RSS_N"); do "${S3[@]}" -X DELETE "$S3_ENDPOINT/$BUCKET/rss$i" -o /dev/null || true; done
  RSSM=$((hwm / 1024))
  printf '%-44s %8s MiB   target <= 256 %s   (%s MB/s aggregate, %d failed; VmHWM before: %s MiB)\n' \
    "gateway VmHWM, $RSS_N x $RSS_SIZE concurrent PUTs" "$RSSM" "$(verdict "$RSSM" 256 le)" "$AGG" "$fails" "$((hwm0 / 1024))"
elif [ -z "$ONLY" ]; then
  echo "gateway VmHWM: skipped (no gateway pid; set BENCH_GW_PID)"
fi
"${S3[@]}" -X GET "$S3_ENDPOINT/$BUCKET?list-type=2" -o /dev/null || true
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
