#!/usr/bin/env bash
# scripts/bench-scale.sh: does the cost of an S3 operation stay flat from 10^3
# to N objects (issue #16)? Not a test.
#
#   scripts/bench-scale.sh [--objects N] [--buckets B] [--ops K] [--steps LIST]
#                          [--rounds M] [--warmup W] [--no-compact] [--no-control]
#
# Starts its own cluster (scripts/cluster.sh up --base-port auto, 3 cairn-meta,
# no chunkserver: every object is small and inline, a gateway) in a temp dir,
# and loads with `cairn load` (LoadObjects, up to ~400 objects a Paxos slot)
# two data sets side by side: "one" (every object in bucket scale-one) and
# "spread" (over B buckets scale-b-0000 .., default 1000), each to 10^3,
# 10^5, 10^6 and N objects (default 10^7; --steps overrides the list, N last;
# the cluster then holds twice the count). A second cluster, the control,
# holds the first step's data sets throughout (--no-control: none).
# At each step, after `cairn meta compact` (docs/operations.md: after a bulk
# load; its time is printed; --no-compact skips it), after the replicas'
# LevelDB compactions went quiet and W GETs (default 2000; --warmup) of each
# data set warmed the replicas up (their cost printed, not in R), it
# measures for each data set with cairn-s3ops (one client, one kept-alive
# connection, SigV4 by libcurl; K operations each, default 1000, lists K/4):
# PUT, GET (bytes checked), HEAD, DELETE, ListObjectsV2 first page, a page
# from start-after=80/ (half-way) and a delimiter listing: median and p99
# latency and the CPU each daemon used per operation beyond its idle rate
# (/proc/PID/stat, as `cairn bench meta --cpu-pids` reads it); each
# operation runs on the control right after, with the same keys' pattern;
# GET and HEAD read other random keys in each round, the listings run
# first, and the small stores (the control, the first step's) are compacted
# before each round, so no round's listing steps over the last round's
# deleted keys. The sequence runs M
# times (default 3; --rounds): each figure is the median round, and the
# range of the rounds' CPU is printed beside it. Then the LevelDB size on
# disk and RSS of each replica, the gateway's RSS; a replica replaced by an
# empty one (scripts/cluster.sh replace: wiped disk, joins, catches up by
# snapshot): snapshot bytes (the leader's log) and time to install, time
# until it is a caught-up voter; and the leader killed (-9) and started
# again: time until a PUT succeeds again and until the restarted replica is
# caught up.
#
# It prints a table per step, a summary, and last the line
#   worst cost ratio R
# R = the largest (CPU per operation at N) / (the same on the control,
# measured in the same minutes) over every operation and data set whose
# work the control does too; for the others (the spread set's listings,
# which fill their pages only at 10^6) the ratio to the first step that did
# the same work, measured earlier. CPU = gateway + all replicas (client
# excluded), each the median of the M rounds. Why a control: one round's
# CPU per operation swings by a third, and the box's speed drifts between
# steps an hour apart (at 10^7 the gateway, whose work does not depend on N,
# once cost 1.2-1.8x its first-step figure). The summary prints both
# ratios, the gateway's serial ratios, and the method's noise: the two
# clusters' ratios at the first step, where they hold the same data.
# Latency ratios are printed too but not in R: on a shared machine they
# follow the neighbours' load more than the object count.
# Binaries from $CAIRN_BUILD (default ./build); BENCH_TMP: the temp dir's
# parent (default /tmp); BENCH_KEEP=1 keeps the cluster dir (logs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
CLI="$CAIRN_BUILD/cli/cairn"
S3OPS="$CAIRN_BUILD/tests/bench/cairn-s3ops"
N=10000000
B=1000
OPS=1000
ROUNDS=3
WARMUP=2000
COMPACT=1
CONTROL=1
STEPS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) N="$2"; shift 2 ;;
    --buckets) B="$2"; shift 2 ;;
    --ops) OPS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --no-compact) COMPACT=0; shift ;;
    --no-control) CONTROL=0; shift ;;
    -h|--help) sed -n '2,56p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-scale.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
[ -n "$STEPS" ] || STEPS="1000 100000 1000000 $N"
# steps below N, ascending, then N
steps=()
for s in $STEPS; do [ "$s" -lt "$N" ] && steps+=("$s"); done
steps+=("$N")
LISTOPS=$(( OPS / 4 > 10 ? OPS / 4 : 10 ))
for b in "$CLI" "$S3OPS"; do
  [ -x "$b" ] || { echo "bench-scale.sh: $b missing (build first)" >&2; exit 1; }
done

TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-bench-scale.XXXXXX")"
C="$TMP/cluster"
CC="$TMP/control"
cleanup() {
  "$ROOT/scripts/cluster.sh" down --dir "$C" >/dev/null 2>&1 || true
  "$ROOT/scripts/cluster.sh" down --dir "$CC" >/dev/null 2>&1 || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

"$ROOT/scripts/cluster.sh" up --dir "$C" --base-port auto --chunkservers 0 >"$TMP/up.log" 2>&1 ||
  { cat "$TMP/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$C/cluster.env"
export CAIRN_SECRET
CAIRN_SECRET="$(cat "$C/secret")"

cairn_() { "$CLI" --meta "$(meta_urls)" "$@"; }
# the running replicas' URLs and names (replace renames one)
meta_names() { "$ROOT/scripts/cluster.sh" pids --dir "$C" | awk '$1 ~ /^meta/ { print $1 }'; }
meta_urls() {
  local n u=""
  for n in $(ls "$C/cmd" | grep -E '^meta[0-9]+$'); do
    u="$u${u:+,}http://127.0.0.1:$(( $(cat "$C/base-port") + ${n#meta} ))"
  done
  echo "$u"
}
pid_of() { cat "$C/pids/$1.pid"; }
cpu_pids() {
  local p n
  p="gateway=$(pid_of gateway)"
  for n in $(meta_names); do p="$p,$n=$(pid_of "$n")"; done
  echo "$p"
}
# The control cluster's: it never changes members
ctl_pids() {
  local p n
  p="gateway=$(cat "$CC/pids/gateway.pid")"
  for n in meta1 meta2 meta3; do p="$p,$n=$(cat "$CC/pids/$n.pid")"; done
  echo "$p"
}
# cairn, on the control cluster
ctl_cairn() {
  ( # shellcheck disable=SC1091
    . "$CC/cluster.env"
    CAIRN_SECRET="$(cat "$CC/secret")" "$CLI" --meta "$CAIRN_META" "$@" ) ||
    { echo "bench-scale.sh: cairn $* on the control failed" >&2; return 1; }
}
# s3op ENV NOBJ PIDS layout op count seed: one cairn-s3ops run against the
# cluster of ENV (its cluster.env), whose data sets hold NOBJ objects each;
# prints its line
s3op() {
  local env="$1" nobj="$2" pids="$3" layout="$4" op="$5" k="$6" seed="$7" bk nb
  if [ "$layout" = one ]; then bk=scale-one; nb=1; else bk=scale-b; nb=$B; fi
  ( # shellcheck disable=SC1090
    . "$env"
    CAIRN_S3OPS_SEED=$seed "$S3OPS" "$S3_ENDPOINT" "$bk" "$nb" "$nobj" "$op" "$k" "$pids" \
      2>"$TMP/s3ops.err") ||
    { echo "cairn-s3ops $op failed:" >&2; cat "$TMP/s3ops.err" >&2; return 1; }
}
# record LINE LAYOUT OP: "layout op p50 p99 cpu entries gateway per-daemon..."
record() {
  local line="$1" p50 p99 per tot gw ent
  p50="$(sed -n 's/.* p50_ms=\([^ ]*\).*/\1/p' <<<"$line")"
  p99="$(sed -n 's/.* p99_ms=\([^ ]*\).*/\1/p' <<<"$line")"
  per="$(grep -o '[a-z0-9]*_us=[^ ]*' <<<"$line" | grep -v '^client_us' | tr '\n' ' ')"
  tot="$(grep -o '[a-z0-9]*_us=[^ ]*' <<<"$line" | grep -v '^client_us' | cut -d= -f2 |
    awk '{ s += $1 } END { printf "%.1f", s }')"
  gw="$(sed -n 's/.* gateway_us=\([^ ]*\).*/\1/p' <<<"$line")"
  ent="$(sed -n 's/.* entries=\([^ ]*\).*/\1/p' <<<"$line")"
  echo "$2 $3 $p50 $p99 $tot $ent $gw $per"
}
# median FILE LAYOUT OP: the median round by CPU of FILE's records, then the
# rounds' CPU range
median() {
  awk -v l="$2" -v o="$3" '$1 == l && $2 == o' "$1" | sort -n -k5,5 >"$TMP/op"
  local n
  n="$(wc -l <"$TMP/op")"
  echo "$(sed -n "$(( (n + 1) / 2 ))p" "$TMP/op") $(awk 'NR == 1 { lo = $5 } { hi = $5 }
    END { printf "%.0f-%.0f", lo, hi }' "$TMP/op")"
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
# The anonymous part of the RSS (heap, memtables, block cache, the Paxos log in
# memory): the rest is LevelDB's table files, which it maps (mmap) to read
# them, i.e. the page cache, shared and given back under memory pressure.
anon_kb() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
cpu_ticks() { # total utime+stime ticks of the replicas
  local t=0 n s
  for n in $(meta_names); do
    s="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$(pid_of "$n")/stat" 2>/dev/null || echo 0)"
    t=$((t + s))
  done
  echo "$t"
}
# Waits (at most 300 s) until the replicas use less than a tenth of a core over
# 2 s: LevelDB compactions after a load would count against the operations.
wait_quiet() {
  local start=$SECONDS a b hz
  hz="$(getconf CLK_TCK)"
  while [ $((SECONDS - start)) -lt 300 ]; do
    a="$(cpu_ticks)"; sleep 2; b="$(cpu_ticks)"
    [ $(( (b - a) * 10 )) -lt $(( hz * 2 )) ] && { echo "quiet after $((SECONDS - start)) s"; return 0; }
  done
  echo "still busy after 300 s (measuring anyway)"
}
leader_name() {
  local url
  url="$(cairn_ meta status | awk '$4 == "leader" { print $2 }')"
  echo "meta$(( ${url##*:} - $(cat "$C/base-port") ))"
}
now_ms() { date +%s%3N; }

BASE="${steps[0]}"
if [ "$CONTROL" = 1 ]; then
  # the control: a second cluster that keeps the first step's data sets, measured
  # in the same minutes as every step's (each operation on the measured cluster,
  # then on it), so a box that got slower or faster between steps shows in both
  "$ROOT/scripts/cluster.sh" up --dir "$CC" --base-port auto --chunkservers 0 >"$TMP/up-control.log" 2>&1 ||
    { cat "$TMP/up-control.log" >&2; exit 1; }
  ctl_cairn load --bucket scale-one --buckets 1 --objects "$BASE" --clients 4 >/dev/null || exit 1
  ctl_cairn load --bucket scale-b --buckets "$B" --objects "$BASE" --clients 4 >/dev/null || exit 1
fi
RES="$TMP/results"   # step layout op p50 p99 cpu_total(us) details...
: >"$RES"
loaded=0
echo "cairn bench-scale, $(date -u '+%Y-%m-%d %H:%M UTC'), daemons $CAIRN_BUILD, steps ${steps[*]}," \
  "buckets $B, $OPS ops ($LISTOPS lists) per measurement, $ROUNDS rounds, $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for step in "${steps[@]}"; do
  add=$((step - loaded))
  echo
  echo "== $step objects per data set (the cluster holds $((2 * step)))"
  t0=$(now_ms)
  cairn_ load --bucket scale-one --buckets 1 --start "$loaded" --objects "$add" --clients 4 |
    tail -n 1
  cairn_ load --bucket scale-b --buckets "$B" --start "$loaded" --objects "$add" --clients 4 |
    tail -n 1
  t1=$(now_ms)
  echo "load: $((2 * add)) objects in $(( (t1 - t0) / 1000 )) s ($(( 2 * add * 1000 / (t1 - t0 + 1) )) objects/s)"
  loaded=$step
  if [ "$COMPACT" = 1 ]; then
    # after a bulk load the tables of the later data set overlap those of
    # several levels: each GET would consult one per level and charge the
    # first, and LevelDB compacts a table after enough such charges, on the
    # leader, inside the measurement (measured at 10^7 without this: spread
    # GET 1.83x its 10^3 cost)
    t0=$(now_ms)
    cairn_ meta compact | grep -v 'compacting \.\.\.$' | sed 's/^/  /'
    echo "cairn meta compact: $(( ($(now_ms) - t0) / 1000 )) s"
  fi
  wait_quiet
  # Warm-up, not measured in R but printed: the first few thousand reads
  # after a load cost the leader up to twice what later ones do (measured at
  # 10^7: 275 then 110-160 us per GET), whatever keys they read.
  for layout in one spread; do
    line="$(s3op "$C/cluster.env" "$step" "$(cpu_pids)" "$layout" get "$WARMUP" 999)" || exit 1
    echo "warm-up $layout: $WARMUP GETs, $(grep -o '[a-z0-9]*_us=[^ ]*' <<<"$line" | grep -v '^client_us' |
      tr '\n' ' ')"
    [ "$CONTROL" = 1 ] && { s3op "$CC/cluster.env" "$BASE" "$(ctl_pids)" "$layout" get "$WARMUP" 999 >/dev/null || exit 1; }
  done
  wait_quiet
  : >"$TMP/rounds"
  : >"$TMP/ctl-rounds"
  for round in $(seq "$ROUNDS"); do
    # A round's deletes leave a tombstone per key (zz/put-N) until a
    # compaction drops it, and a listing that reaches zz/ steps over them: in
    # a bucket of 1000 keys (the first step's, the control's) a first page
    # does, and cost 6.5 ms instead of 3.9 by the third round (the control
    # carries them over from step to step too). So the small stores are
    # compacted before each round (instant at that size), and the listings
    # run first.
    if [ "$COMPACT" = 1 ]; then
      [ "$step" = "$BASE" ] && cairn_ meta compact >/dev/null
      [ "$CONTROL" = 1 ] && { ctl_cairn meta compact >/dev/null || exit 1; }
    fi
    for layout in one spread; do
      for op in list-first list-deep list-delim put get head delete; do
        case "$op" in list-*) k=$LISTOPS ;; *) k=$OPS ;; esac
        # each round and each of GET and HEAD reads other keys: the same keys
        # again would find their blocks in LevelDB's cache
        [ "$op" = head ] && seed=$((10 * round + 1)) || seed=$((10 * round))
        line="$(s3op "$C/cluster.env" "$step" "$(cpu_pids)" "$layout" "$op" "$k" "$seed")" || exit 1
        record "$line" "$layout" "$op" >>"$TMP/rounds"
        if [ "$CONTROL" = 1 ]; then
          line="$(s3op "$CC/cluster.env" "$BASE" "$(ctl_pids)" "$layout" "$op" "$k" "$seed")" || exit 1
          record "$line" "$layout" "$op" >>"$TMP/ctl-rounds"
        fi
      done
    done
  done
  # each operation's median round by CPU (its latencies with it), the range of
  # the rounds' CPU, and the control's median CPU in the same minutes
  printf '%-7s %-11s %9s %9s %10s %15s %8s %9s   %s\n' set op "p50 ms" "p99 ms" "CPU us/op" \
    "rounds' range" listed "control" "per daemon (us/op, beyond idle)"
  for layout in one spread; do
    for op in put get head delete list-first list-deep list-delim; do
      read -r _ _ p50 p99 tot ent gw per <<<"$(median "$TMP/rounds" "$layout" "$op")"
      # (per is the rest of the line: the daemons, then the range)
      range="${per##* }"
      per="${per% *}"
      ctot="-" cent="-"
      if [ "$CONTROL" = 1 ]; then
        read -r _ _ _ _ ctot cent _ <<<"$(median "$TMP/ctl-rounds" "$layout" "$op")"
      fi
      printf '%-7s %-11s %9s %9s %10s %15s %8s %9s   %s\n' "$layout" "$op" "$p50" "$p99" "$tot" "$range" \
        "$ent" "$ctot" "$per"
      echo "$step $layout $op $p50 $p99 $tot $ent $gw $ctot $cent" >>"$RES"
    done
  done
  # disk and memory
  for n in $(meta_names); do
    echo "$n: data dir (LevelDB, plog/) $(du -sm "$C/$n" | cut -f1) MiB, RSS $(( $(rss_kb "$(pid_of "$n")") / 1024 )) MiB" \
      "(anonymous $(( $(anon_kb "$(pid_of "$n")") / 1024 )) MiB)"
  done
  echo "gateway: RSS $(( $(rss_kb "$(pid_of gateway)") / 1024 )) MiB"
  # a new empty replica catches up (snapshot)
  victim="$(meta_names | grep -v "^$(leader_name)\$" | tail -n 1)"
  t0=$(now_ms)
  new="$("$ROOT/scripts/cluster.sh" replace "$victim" --dir "$C" 2>"$TMP/replace.log")" ||
    { echo "replace failed:" >&2; cat "$TMP/replace.log" >&2; exit 1; }
  t1=$(now_ms)
  # the snapshots sent to this replica (a new id each time: the logs hold the
  # earlier steps' too, in whichever replica led then); a sender that gave up
  # (e.g. stalled while the receiver installed) is counted
  snap="$( (grep -h "sent a snapshot .* to replica ${new#meta}\$" "$C"/logs/meta*.log || true) |
    sort | tail -n 1 | sed -n 's/.*(\([0-9]*\) bytes).*/\1/p')"
  failed="$(grep -h "snapshot to replica ${new#meta} failed" "$C"/logs/meta*.log | wc -l || true)"
  inst="$( (grep -h "installed a snapshot" "$C/logs/$new.log" || true) | tail -n 1 | cut -d' ' -f1)"
  inst_ms=""
  [ -n "$inst" ] && inst_ms=$(( $(date -d "$inst" +%s%3N) - t0 ))
  if [ -n "$snap" ]; then
    how="snapshot $snap bytes ($(( snap / 1048576 )) MiB) installed after ${inst_ms:-?} ms"
  elif [ -n "$inst" ]; then
    how="a snapshot installed after ${inst_ms} ms (its sender gave up: $failed failed sends)"
  else
    how="no snapshot (the log was not trimmed: caught up from it)"
  fi
  echo "replace $victim by empty $new: $how, caught-up voter after $((t1 - t0)) ms"
  echo "$step catchup - - - $((t1 - t0))" >>"$RES"
  # leader restart
  lead="$(leader_name)"
  commit="$(cairn_ meta status | awk '$4 == "leader" { print $5 }')"
  lpid="$(pid_of "$lead")"
  "$ROOT/scripts/cluster.sh" stop "$lead" --dir "$C" >/dev/null || true
  # every thread gone (its LevelDB lock with it) before the start
  for _ in $(seq 600); do [ -e "/proc/$lpid" ] || break; sleep 0.1; done
  t0=$(now_ms)
  "$ROOT/scripts/cluster.sh" start "$lead" --dir "$C" >/dev/null
  lurl="http://127.0.0.1:$(( $(cat "$C/base-port") + ${lead#meta} ))"
  served="" caught=""
  while [ $(( $(now_ms) - t0 )) -lt 120000 ]; do
    if [ -z "$served" ] && curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" \
      -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      -T /dev/null "$S3_ENDPOINT/scale-one/zz/restart-probe"; then
      served=$(( $(now_ms) - t0 ))
    fi
    if [ -z "$caught" ] && cairn_ meta status 2>/dev/null |
      awk -v u="$lurl" -v c="$commit" '$2 == u && $6 >= c && $7 == 0 { ok = 1 } END { exit !ok }'; then
      caught=$(( $(now_ms) - t0 ))
    fi
    [ -n "$served" ] && [ -n "$caught" ] && break
    sleep 0.05
  done
  echo "leader $lead killed and started: PUTs served again after ${served:-?} ms," \
    "it is caught up (slot $commit) after ${caught:-?} ms"
  echo "$step restart - - - ${caught:-999999}" >>"$RES"
done

echo
echo "== summary: cost at $N objects per data set / cost of the same work at the first step"
# Two ratios per operation. "vs control": against the control cluster (the
# first step's data, measured in the same minutes), for every operation whose
# work there is the same (a listing that returns as many entries): R takes it.
# "serial": against the first step that did the same work, measured earlier
# (a spread bucket holds 1 object at 10^3 but 1000 at 10^6: its listings only
# fill their pages later, and have no control): R takes it where there is no
# control. At the first step both clusters hold the same data: their ratios
# there are the noise of the method.
awk -v z="$N" -v base="$BASE" '
  $2 == "catchup" || $2 == "restart" { next }
  {
    k = $2 " " $3
    if ($1 == base && $9 != "-" && $9 > 0) {
      f = $6 / $9; if (!nf++ || f < flo) flo = f; if (f > fhi) fhi = f
    }
    if ($1 == z) { p50z[k] = $4; cpuz[k] = $6; entz[k] = $7; gwz[k] = $8; ctlz[k] = $9; centz[k] = $10; order[++n] = k }
    else if (!(k in nb)) { nb[k] = 0 }
    i = ++nb[k]; st[k, i] = $1; p50[k, i] = $4; cpu[k, i] = $6; ent[k, i] = $7; gw[k, i] = $8
  }
  function near(a, b,   d) { d = a - b; if (d < 0) d = -d; return d <= 0.05 * b + 0.5 }
  END {
    worst = 0
    printf "%-18s %9s %11s %11s %7s %11s %7s %7s %9s\n", "set op", "base step", "CPU us@base", "CPU us@" z,
      "serial", "control us", "vs ctl", "p50 r", "gw ratio"
    glo = 1e9; ghi = 0
    for (j = 1; j <= n; j++) {
      k = order[j]; b = 0
      for (i = 1; i <= nb[k] && !b; i++) if (near(ent[k, i], entz[k])) b = i
      rs = "-"; l = 0; g = 0
      if (b && st[k, b] != z) {
        rs = cpu[k, b] > 0 ? cpuz[k] / cpu[k, b] : 0
        l = p50[k, b] > 0 ? p50z[k] / p50[k, b] : 0
        g = gw[k, b] > 0 ? gwz[k] / gw[k, b] : 0
        if (g > 0 && g < glo) glo = g
        if (g > ghi) ghi = g
      }
      rc = "-"
      if (ctlz[k] != "-" && ctlz[k] > 0 && near(centz[k], entz[k])) rc = cpuz[k] / ctlz[k]
      if (rs == "-" && rc == "-") { printf "%-18s %9s (no earlier step and no control did the same work)\n", k, "-"; continue }
      r = rc != "-" ? rc : rs
      printf "%-18s %9s %11s %11.1f %7s %11s %7s %7s %9s\n", k, b ? st[k, b] : "-",
        b ? sprintf("%.1f", cpu[k, b]) : "-", cpuz[k], rs == "-" ? "-" : sprintf("%.2f", rs),
        rc == "-" ? "-" : sprintf("%.1f", ctlz[k]), rc == "-" ? "-" : sprintf("%.2f", rc),
        l ? sprintf("%.2f", l) : "-", g ? sprintf("%.2f", g) : "-"
      if (r > worst) { worst = r; wk = k (rc != "-" ? ", vs control" : ", serial") }
      if (l > lworst) { lworst = l; lk = k }
    }
    printf "worst latency ratio %.2f (%s, serial; not in R)\n", lworst, lk
    if (ghi > 0)
      printf "gateway ratios %.2f to %.2f (serial: its work per operation does not change with N)\n", glo, ghi
    if (nf)
      printf "the method'"'"'s noise: at the first step the measured cluster cost %.2f to %.2f of the control\n", flo, fhi
    printf "worst CPU ratio: %s\n", wk
    printf "worst cost ratio %.2f\n", worst
  }' "$RES" >"$TMP/summary"
grep -v '^worst cost ratio' "$TMP/summary"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
grep '^worst cost ratio' "$TMP/summary"
