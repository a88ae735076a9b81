#!/usr/bin/env bash
# THE test command. On any machine: installs what is missing, configures,
# builds (warnings are errors), and runs the whole suite through ctest:
#   1. an AddressSanitizer + UndefinedBehaviorSanitizer build runs every unit
#      test and the deterministic simulation (labels "unit" and "sim");
#   2. the release build runs everything, integration tests with real daemons
#      and real S3 clients included;
#   3. a clang build (build-fuzz) runs every libFuzzer harness for a short
#      fixed time (scripts/fuzz.sh --smoke: 10 s each), failing on any finding.
# Exits non-zero on any failure.
#
# Environment: JOBS (build parallelism, default nproc), CAIRN_SKIP_ASAN=1 /
# CAIRN_SKIP_FUZZ=1 to skip step 1 / step 3 while iterating locally (CI
# never sets them), CAIRN_FUZZ_SECONDS (per harness in step 3, default 10).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc)}"
cd "$ROOT"
# cluster_configure: a build directory that a configure on an incomplete
# machine left behind is configured afresh.
# shellcheck source=cluster.sh
source "$ROOT/scripts/cluster.sh"

echo "== install-deps"
"$ROOT/scripts/install-deps.sh"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [ "${CAIRN_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan + UBSan)"
  cluster_configure "$ROOT/build-asan" -DCAIRN_WERROR=ON -DCAIRN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  cmake --build "$ROOT/build-asan" -j"$JOBS"
  echo "== unit + simulation tests under ASan + UBSan"
  ctest --test-dir "$ROOT/build-asan" -L 'unit|sim' --output-on-failure --no-tests=error
fi

echo "== build (release, -Werror)"
cluster_configure "$ROOT/build" -DCAIRN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$ROOT/build" -j"$JOBS"
echo "== the whole suite"
ctest --test-dir "$ROOT/build" --output-on-failure --no-tests=error

if [ "${CAIRN_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz smoke (clang, libFuzzer + ASan + UBSan)"
  JOBS="$JOBS" "$ROOT/scripts/fuzz.sh" --smoke "${CAIRN_FUZZ_SECONDS:-10}"
fi
