#!/usr/bin/env bash
# scripts/fuzz.sh: runs the libFuzzer harnesses of tests/fuzz (docs/security.md
# "Fuzzing").
#
#   scripts/fuzz.sh NAME [SECONDS]   fuzz harness NAME for SECONDS (default 300), niced
#   scripts/fuzz.sh --smoke [SECONDS]
#                                    every harness for SECONDS each (default 10), one
#                                    after the other, from the tree's seeds only; fails
#                                    on any finding (scripts/test.sh)
#   scripts/fuzz.sh --list           the harness names, one a line
#   scripts/fuzz.sh --help
#
# Builds build-fuzz with clang (-DCAIRN_FUZZ=ON) when needed. The seed corpus
# tests/fuzz/corpus/NAME/ is only read; what the fuzzer learns goes to
# $CAIRN_FUZZ_DIR/NAME/corpus and findings (crash-*, leak-*, timeout-*,
# oom-*) to $CAIRN_FUZZ_DIR/NAME/findings, outside the tree
# (CAIRN_FUZZ_DIR defaults to ${TMPDIR:-/tmp}/cairn-fuzz), and each run's CPU
# seconds to $CAIRN_FUZZ_DIR/cpu.log. Exits 1 when the run found something,
# after printing how to make it a regression test.
#
# Environment: CAIRN_FUZZ_BUILD (default ./build-fuzz), JOBS (build
# parallelism, default 2), FUZZ_ARGS (extra libFuzzer flags, e.g.
# "-max_len=65536" or "-jobs=2 -workers=2").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${CAIRN_FUZZ_BUILD:-$ROOT/build-fuzz}"
WORK="${CAIRN_FUZZ_DIR:-${TMPDIR:-/tmp}/cairn-fuzz}"
JOBS="${JOBS:-2}"
SRC="$ROOT/tests/fuzz"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

names() {
  for f in "$SRC"/fuzz_*.c; do
    basename "$f" .c | sed 's/^fuzz_//'
  done
}

build() { # build TARGET
  if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang is missing: run scripts/install-deps.sh" >&2
    exit 2
  fi
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
          -DCAIRN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  nice cmake --build "$BUILD" -j"$JOBS" --target "$1" >/dev/null
}

# run NAME SECONDS [CORPUS]: fuzzes, keeping what it learns in CORPUS
# (default $WORK/NAME/corpus); returns 1 if a finding was written.
run() {
  local name="$1" secs="$2"
  local out="$WORK/$name"
  local learned="${3:-$out/corpus}"
  mkdir -p "$learned" "$out/findings"
  local stamp
  stamp="$(mktemp)"
  local dict=()
  if [ -f "$SRC/dict/$name.dict" ]; then dict=(-dict="$SRC/dict/$name.dict"); fi
  echo "== fuzz $name for ${secs}s (learned inputs: $learned)"
  # Leaks and UB abort like crashes; -timeout catches an input that hangs.
  # The CPU seconds the fuzzer used (user + system) go to $WORK/cpu.log.
  local cpu TIMEFORMAT='%U %S'
  cpu="$( { time ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}" \
      UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
      nice -n 10 "$BUILD/tests/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=25 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/findings/" \
      "${dict[@]}" ${FUZZ_ARGS:-} "$learned" "$SRC/corpus/$name" \
      > "$out/last.log" 2>&1 ; } 2>&1 )" || true
  cpu="$(echo "$cpu" | tail -n 1 | awk '{printf "%.0f", $1 + $2}')"
  local execs
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/last.log")"
  echo "   ${cpu}s CPU, ${execs:-?} inputs run, $(find "$learned" -type f | wc -l) learned"
  echo "$(date -u +%FT%TZ) $name ${secs}s ${cpu}s-cpu ${execs:-?}-execs" >> "$WORK/cpu.log"
  local found
  found="$(find "$out/findings" -type f -newer "$stamp" | sort)"
  rm -f "$stamp"
  if [ -n "$found" ]; then
    echo "fuzz.sh: $name found something (log: $out/last.log):" >&2
    tail -n 40 "$out/last.log" >&2
    for f in $found; do
      echo "  $f" >&2
    done
    cat >&2 <<MSG
To reproduce and keep it as a regression test:
  $BUILD/tests/fuzz/fuzz_$name <file>                    # replays it, with the stack
  cp <file> $SRC/corpus/$name/crash-<what-it-breaks>      # then fix the bug;
  build/tests/fuzz/fuzz_replay_$name $SRC/corpus/$name   # the replay test covers it from now on
(commit the fix and the corpus file together, and list it in docs/security.md "Fuzzing").
MSG
    return 1
  fi
  return 0
}

case "${1:-}" in
  --help|-h|"")
    usage
    [ -n "${1:-}" ] || exit 2
    ;;
  --list)
    names
    ;;
  --smoke)
    secs="${2:-10}"
    build fuzzers
    failed=()
    # From the tree's seeds only (a fresh learned corpus, dropped after), so
    # the step takes the same time however much the long runs have learned.
    for n in $(names); do
      fresh="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz-smoke.XXXXXX")"
      run "$n" "$secs" "$fresh" || failed+=("$n")
      rm -rf "$fresh"
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz.sh: findings in: ${failed[*]}" >&2
      exit 1
    fi
    echo "fuzz.sh: every harness ran ${secs}s without a finding"
    ;;
  -*)
    echo "fuzz.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
  *)
    name="$1"
    secs="${2:-300}"
    if [ ! -f "$SRC/fuzz_$name.c" ]; then
      echo "fuzz.sh: no harness named $name (scripts/fuzz.sh --list)" >&2
      exit 2
    fi
    build "fuzz_$name"
    run "$name" "$secs"
    ;;
esac
