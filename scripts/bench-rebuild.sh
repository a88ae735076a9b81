#!/usr/bin/env bash
# scripts/bench-rebuild.sh: rebuild rate after losing a chunkserver (issue 6).
# Not a test: it prints figures next to baselines measured in the same run.
#
#   scripts/bench-rebuild.sh [--fill-gib G] [--budget MBS] [--concurrency N]
#                            [--streams N] [--keep]
#
#   --fill-gib G     GiB of fragments on the chunkserver that is lost (default 4).
#                    With 6 chunkservers and 4+2 every chunk group has one fragment
#                    on each, so each holds 1/4 of the object bytes: the fill
#                    writes 4 x G GiB of objects (6 x G GiB of fragments on disk).
#   --budget MBS     the budgeted round's --repair-bandwidth (default: half the
#                    unlimited round's rate, at least 10)
#   --concurrency N  --repair-concurrency of the metadata leader and
#                    --max-rebuilds of the chunkservers (default 8)
#   --streams N      parallel PUT streams of the fill (default 3)
#   --keep           keep the cluster directory (default: removed)
# BENCH_PERF=FILE: perf record -a during each round (FILE.VICTIM).
#
# Steps: baselines (the disk's sequential write + fdatasync and O_DIRECT read
# with dd, raw ISA-L 4+2 single-fragment decode from cairn-ecbench);
# scripts/cluster.sh up with 6
# chunkservers (metadata: --down-after 2s --out-after 4s); fill with 1 GiB
# objects (curl --aws-sigv4, parallel streams); two empty chunkservers join (the
# rebuild targets); chunk6 is killed and the rate of rebuilt fragment bytes and
# the time until `cairn status --json` reports no degraded group are measured
# (budget unlimited). Then the metadata replicas restart with
# --repair-bandwidth BUDGET, chunk5 is killed, and the same is measured again,
# with the rate printed every 5 s to show the budget holds. Each round also
# prints the chunkservers' CPU-seconds (/proc) per GB rebuilt. Needs ~8 x G GiB
# of free disk under BENCH_TMP (default /tmp). Ports from BENCH_BASE_PORT
# (default 24000). Binaries from $CAIRN_BUILD (default ./build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_BUILD="${CAIRN_BUILD:-$ROOT/build}"
BASE="${BENCH_BASE_PORT:-24000}"
FILL_GIB=4
BUDGET=""
CONC=8
STREAMS=3
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fill-gib) FILL_GIB="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --concurrency) CONC="$2"; shift 2 ;;
    --streams) STREAMS="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-rebuild: unknown argument $1" >&2; exit 2 ;;
  esac
done

CLUSTER="$ROOT/scripts/cluster.sh"
TMP="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-rebuild.XXXXXX")"
CDIR="$TMP/cluster"
cleanup() {
  local rc=$?
  "$CLUSTER" down --dir "$CDIR" >/dev/null 2>&1 || true
  if [ "$KEEP" = 0 ]; then rm -rf "$TMP"; else echo "bench-rebuild: kept $TMP"; fi
  exit $rc
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "cairn rebuild benchmark, $(date -u '+%F %H:%M') UTC, $(nproc) cores, fill ${FILL_GIB} GiB per chunkserver, load average $(loadavg)"

# ---- baselines (same disk, same minutes) ----
t0=$(now)
dd if=/dev/zero of="$TMP/dd.bin" bs=1M count=1024 conv=fdatasync status=none
t1=$(now)
DISK_R=$( { dd if="$TMP/dd.bin" of=/dev/null bs=1M iflag=direct 2>&1 >/dev/null; } |
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int($(i - 1) > 0 ? 1073741824 / $(i - 1) / 1e6 : 0) }')
rm -f "$TMP/dd.bin"
DISK=$(mbps $((1024 * 1048576)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
printf '%-52s %6s MB/s\n' "baseline: disk sequential write + fdatasync (dd 1 GiB)" "$DISK"
printf '%-52s %6s MB/s\n' "baseline: disk sequential read, O_DIRECT (dd 1 GiB)" "${DISK_R:-?}"
DEC=$("$CAIRN_BUILD/ec/cairn-ecbench" --quick 2>/dev/null |
  awk '$1 == "4+2" && $2 == "1024K" && $3 == "decode-1" { printf "%.0f", $5 * 1000 }' || true)
printf '%-52s %6s MB/s\n' "baseline: raw ISA-L 4+2 decode of 1 fragment (1 MiB unit)" "${DEC:-?}"

# ---- cluster ----
export CAIRN_META_OPTS="--down-after 2s --out-after 4s --repair-concurrency $CONC"
export CAIRN_CHUNK_OPTS="--max-rebuilds $CONC --heartbeat 500ms --reserve 1G"
"$CLUSTER" up --dir "$CDIR" --chunkservers 6 --base-port "$BASE" >"$TMP/up.log" 2>&1 ||
  { cat "$TMP/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
CAIRN=("$CAIRN_BUILD/cli/cairn" --meta "$CAIRN_META" --cluster-secret-file "$CDIR/secret")
S3=(curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
"${S3[@]}" -X PUT "$S3_ENDPOINT/fill" >/dev/null

# ---- fill ----
NOBJ=$(awk -v g="$FILL_GIB" 'BEGIN { n = g * 4; printf "%d", (n == int(n)) ? n : int(n) + 1 }')
head -c 1G /dev/urandom > "$TMP/pool"
echo "fill: $NOBJ x 1 GiB objects, $STREAMS streams"
t0=$(now)
seq 1 "$NOBJ" | xargs -P "$STREAMS" -I{} "${S3[@]}" -o /dev/null -T "$TMP/pool" "$S3_ENDPOINT/fill/obj{}"
t1=$(now)
rm -f "$TMP/pool"
printf '%-52s %6s MB/s  (%d GiB in %.0f s)\n' "fill: S3 PUT, $STREAMS streams" \
  "$(mbps $((NOBJ * 1073741824)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")" "$NOBJ" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
frag_bytes() { du -sb "$CDIR/chunk$1/frags" 2>/dev/null | cut -f1; }
for i in 1 2 3 4 5 6; do printf 'chunk%d holds %s bytes of fragments\n' "$i" "$(frag_bytes "$i")"; done

# Two empty chunkservers join: the rebuilds' targets (distinct hosts).
"$CLUSTER" up --dir "$CDIR" --chunkservers 8 >"$TMP/up2.log" 2>&1 || { cat "$TMP/up2.log" >&2; exit 1; }
sleep 2

# CPU seconds (user + system) used so far by the running chunkservers (or chunkserver N).
declare -A CPU_BEFORE
cs_cpu() {
  local f t=0
  for f in "$CDIR"/pids/chunk${1:-*}.pid; do
    [ -f "$f" ] || continue
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$(cat "$f")/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
cs_id() { cut -c1-16 "$CDIR/chunk$1/chunkserver-id"; }

# measure LABEL VICTIM: kills chunk VICTIM, follows the leader's repair stats
# until no group is degraded; prints a line every 5 s and the totals.
measure() {
  local label="$1" victim="$2" bytes
  bytes=$(frag_bytes "$victim")
  echo "== $label: chunk$victim killed ($bytes bytes of fragments; load average $(loadavg))"
  "$CLUSTER" stop "chunk$victim" --dir "$CDIR"
  local perf_pid="" cpu0 i
  cpu0=$(cs_cpu)
  for i in 1 2 3 4 5 6 7 8; do CPU_BEFORE[$i]=$(cs_cpu "$i"); done
  if [ -n "${BENCH_PERF:-}" ]; then  # BENCH_PERF=FILE: perf record the chunkservers
    perf record -q -F 499 -a -g -o "$BENCH_PERF.$victim" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  /usr/bin/python3 - "$(cs_id "$victim")" "$victim" "$label" "$CDIR" "${CAIRN[@]}" <<'PY'
import json, os, subprocess, sys, time
victim, lost, label, cdir, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
# Progress = fragment bytes committed on the two targets' disks (independent
# of which metadata replica leads; a rebuild whose commit failed shows up
# there too and is reported as the excess over the lost bytes).
def target_bytes(chunks=("chunk7", "chunk8")):
    n = 0
    for c in chunks:
        for root, _, files in os.walk(f"{cdir}/{c}/frags"):
            for f in files:
                try: n += os.path.getsize(os.path.join(root, f))
                except OSError: pass
    return n
def status():
    try:
        out = subprocess.run(cmd + ["status", "--json"], capture_output=True, text=True, timeout=10).stdout
        return json.loads(out)
    except Exception:
        return None
lost = target_bytes((f"chunk{lost}",))  # file bytes only (du counts directories too)
t_stop = time.monotonic()
base = target_bytes()
t_out = t_first = t_ok = None
last_t = last_b = None
leaders, failed_max = set(), 0
samples = []
while time.monotonic() < t_stop + 3600:
    d = status()
    now = time.monotonic()
    b = target_bytes() - base
    if not d or "repair" not in d:
        time.sleep(0.25); continue
    r = d["repair"]
    leaders |= {x.get("leader") for x in d["replicas"] if x.get("reachable") and x.get("leader")}
    failed_max = max(failed_max, r["failed"])
    live = {c["id"]: c["liveness"] for c in d["chunkservers"]}
    if t_out is None and live.get(victim) == "out":
        t_out = now
    if t_first is None and (b > 0 or r["in_flight"] > 0):
        t_first, last_t, last_b = now, now, b  # the first rebuild started
    if last_t is not None and now - last_t >= 5:
        w = (b - last_b) / 1e6 / (now - last_t)
        print(f"  t={now - t_stop:6.1f}s  rebuilt {b / 1e6:8.0f} MB  last 5 s: {w:6.0f} MB/s"
              f"  degraded groups {r['degraded_groups']}  in flight {r['in_flight']}", flush=True)
        samples.append(w)
        last_t, last_b = now, b
    # Fully redundant: the leader reports nothing degraded, and it stays so for
    # 3 s (a new leader reports 0 until it has judged the lost server DOWN).
    ok = t_out is not None and b >= lost and r["degraded_groups"] == 0 and r["in_flight"] == 0 \
        and r["unrecoverable"] == 0
    if not ok:
        t_ok = None
    elif t_ok is None:
        t_ok = now
    elif now - t_ok >= 3:
        rate = lost / 1e6 / (t_ok - t_first)
        print(f"{label}: rebuilt {lost / 1e6:.0f} MB (the lost chunkserver's fragments) in {t_ok - t_first:.1f} s "
              f"= {rate:.0f} MB/s; fully redundant {t_ok - t_out:.1f} s after the chunkserver went out "
              f"({t_ok - t_stop:.1f} s after the kill); written on the targets {b / 1e6:.0f} MB "
              f"({(b - lost) / 1e6:.0f} MB of rebuilds whose commit failed); leaders seen: {len(leaders)}; "
              f"{failed_max} failed task(s)")
        if samples:
            print(f"{label}: 5 s windows min {min(samples):.0f} max {max(samples):.0f} MB/s")
        open("rate.out", "w").write(f"{rate:.0f} {t_ok - t_out:.1f}\n")
        open("rate.bytes", "w").write(f"{lost}\n")
        sys.exit(0)
    time.sleep(0.25)
print(f"{label}: not fully redundant after an hour"); sys.exit(1)
PY
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  awk -v a="$cpu0" -v b="$(cs_cpu)" -v r="$(cat rate.bytes)" -v l="$label" -v n="$(nproc)" 'BEGIN {
    c = (b - a) / (r / 1e9)
    printf "%s: chunkservers used %.1f CPU-s, %.2f CPU-s per GB rebuilt (%.0f MB/s if they had the %d cores to themselves)\n", l, b - a, c, n / c * 1000, n
    printf "%.2f\n", c > "cpu.out" }'
  local line="  CPU-s by chunkserver:"
  for i in 1 2 3 4 5 6 7 8; do
    [ -f "$CDIR/pids/chunk$i.pid" ] && line="$line chunk$i $(awk -v a="${CPU_BEFORE[$i]}" -v b="$(cs_cpu "$i")" 'BEGIN { printf "%.1f", b - a }')"
  done
  echo "$line"
}

cd "$TMP"
measure "unlimited (concurrency $CONC)" 6
read -r UNL UNL_T < rate.out
UNL_CPU=$(cat cpu.out)
if [ -z "$BUDGET" ]; then BUDGET=$(( UNL / 2 > 10 ? UNL / 2 : 10 )); fi

# Restart the metadata replicas with the budget: appended to the command lines
# cluster.sh recorded (`cluster.sh up` would also restart the killed chunk6).
for i in 1 2 3; do
  "$CLUSTER" stop "meta$i" --dir "$CDIR"
  printf -- '--repair-bandwidth %s ' "$BUDGET" >> "$CDIR/cmd/meta$i"
  "$CLUSTER" start "meta$i" --dir "$CDIR"
done
until "${CAIRN[@]}" status --json >/dev/null 2>&1; do sleep 0.5; done
# The new leader must hear from every live chunkserver before the next loss.
sleep 3
measure "budget $BUDGET MB/s (concurrency $CONC)" 5
read -r BUD BUD_T < rate.out
echo
echo "summary ($(date -u '+%F %H:%M') UTC, load average at the end $(loadavg)):"
printf '  %-46s %5s MB/s, fully redundant %5s s after out  target >= 150 %s\n' \
  "budget unlimited, concurrency $CONC:" "$UNL" "$UNL_T" "$(awk -v r="$UNL" 'BEGIN { print ((r >= 150) ? "PASS" : "BELOW") }')"
printf '  %-46s %5s MB/s, fully redundant %5s s after out  (%s%% of the budget: a 1 s burst, and tasks take their tokens when they start)\n' \
  "budget $BUDGET MB/s, concurrency $CONC:" "$BUD" "$BUD_T" "$(awk -v r="$BUD" -v b="$BUDGET" 'BEGIN { printf "%.0f", 100 * r / b }')"
printf '  %-46s %5s CPU-s per GB rebuilt (chunkservers, all of them)\n' "cost:" "$UNL_CPU"
printf '  %-46s %5s MB/s disk write+fdatasync, %s MB/s disk read, %s MB/s ISA-L decode\n' "baselines:" "$DISK" "${DISK_R:-?}" "${DEC:-?}"
