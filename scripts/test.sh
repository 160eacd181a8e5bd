#!/usr/bin/env bash
# test.sh: the README's test command and what CI runs (.ci/run). Sets up the machine (scripts/setup.sh),
# builds dsm once (build/, RelWithDebInfo with line tables only, -g1: the same code as -g and a
# fifth less compiling, 95 s against 122 s at -j2; a build configured without it gets CMake's -g)
# and runs ctest twice there:
#   1. every ctest test (unit, mpi, conformance, example, apps, stress, chaos, death, trace, bench,
#      fuzz, netns as root, install) but the soak (label soak, 4-5 minutes per model:
#      DSM_TEST_SOAK=1 runs it too);
#   2. with DSM_INVARIANTS=1 (the runtime's expensive invariant checks, runtime/base/invariant.hpp):
#      the semantics and litmus tests again at 2, 3 and 4 ranks, the litmus tests with 1,000 rounds
#      each (DSM_LITMUS_ROUNDS: enough to take every protocol path past the checks; the first run
#      gives the outcomes their 2,000-10,000 rounds). Left out there: what does not depend on the
#      checks or exercises no more protocol code than the first run under the checks would (fuzz,
#      install, the mpi-transport variants, np1 where no protocol message is exchanged, the
#      application benchmarks, stress and chaos runs, death, trace, the suite runner and the
#      two-host tests (label netns), large_memory). (docs/reliability.md)
# The checks are switched on at run time, so one build serves both runs.
# Both ctest runs share CPU slots among the tests, two per core and at least four (a ctest resource
# spec, <build>/cpu-slots.json, written here; cmake/DsmTesting.cmake): a test that computes takes
# one, one whose ranks poll MPI takes two, and one that mostly waits (an injected delay, a rank's
# death, an idle measurement) none, with at most twice as many tests at once as slots (DSM_TEST_JOBS;
# on 2 cores: 4 slots, -j8). An MPI test sleeps while it waits, and at -j2 the cores were idle half
# the time; -j4 took the first run from 643 s to 374 s on a quiet 2-core machine, and the slots from
# 379 s to 289-313 s (the waiting tests no longer hold a job each; tests/netns/CMakeLists.txt).
# ctest starts the costliest tests first (the COST of dsm_add_mpi_test: ranks, and injected faults).
# Exits non-zero if either ctest failed, after the last lines of each failed test's output.
# Run it from anywhere: `bash scripts/test.sh`.
# Extra arguments go to both ctest runs, e.g. `bash scripts/test.sh -L unit`.
# Environment: DSM_BUILD_DIR names the build directory; DSM_TEST_CHECKS=0 skips the second run (a
# quicker local run); DSM_TEST_JOBS sets how many tests run at once; DSM_CHECKS_LITMUS_ROUNDS the
# litmus rounds of the second run (1000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
WITH_CHECKS=${DSM_TEST_CHECKS:-1}
cores=$(nproc)
slots=$((cores * 2 > 4 ? cores * 2 : 4))
JOBS=${DSM_TEST_JOBS:-$((slots * 2))}
skip_soak=(-LE soak)
[[ ${DSM_TEST_SOAK:-0} == 1 ]] && skip_soak=()
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
all_start=$(date +%s)

echo "== test.sh: [1/4] setup"
bash scripts/setup.sh

configure() {  # <dir> <cmake options...>
  local dir=$1
  shift
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DDSM_BUILD_TESTS=ON "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; echo "== test.sh: configure of $dir/ failed"; exit 1; }
}
# Ninja for a new build directory (one made before keeps its generator): a clean build took 101 s
# and 200 CPU-s at -j2, against make's 111 s and 214 CPU-s.
generator=()
[[ -f $BUILD_DIR/CMakeCache.txt ]] || generator=(-G Ninja)
echo "== test.sh: [2/4] configure ($BUILD_DIR/: RelWithDebInfo, -g1)"
configure "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"

SLOTS=$(cd "$BUILD_DIR" && pwd)/cpu-slots.json
printf '{"version": {"major": 1, "minor": 0}, "local": [{"cpu": [{"id": "0", "slots": %d}]}]}\n' "$slots" >"$SLOTS"

echo "== test.sh: [3/4] build (-j2)"
cmake --build "$BUILD_DIR" -j2

status=0
digest=$(mktemp)
trap 'rm -f "$digest"' EXIT
# The last lines of each failed test's output (ctest's Testing/Temporary/LastTest.log), kept for the
# end of the run, where a log that is cut short still shows them.
note_failures() {  # <dir> <what the run was>
  local log=$1/Testing/Temporary/LastTest.log name
  [[ -f $1/Testing/Temporary/LastTestsFailed.log ]] || return 0
  while IFS=: read -r _ name; do
    echo "----- $name ($2), the end of its output:"
    awk -v t="$name" '$0 ~ "^[0-9]+/[0-9]+ Test: " && $3 == t { at = 1; next }
                      at == 1 && /^Output:$/ { at = 2; getline; next }
                      at == 2 && /^<end of output>$/ { exit }
                      at == 2 { print }' "$log" | tail -30
  done <"$1/Testing/Temporary/LastTestsFailed.log" >>"$digest"
}
run_ctest() {  # <dir> <what the run is> <ctest args...>
  local dir=$1 what=$2 start rc=0
  shift 2
  start=$(date +%s)
  (cd "$dir" && ctest -j"$JOBS" --resource-spec-file "$SLOTS" --output-on-failure --timeout 300 "$@") || rc=$?
  echo "== test.sh: ctest in $dir/ exit $rc after $(( $(date +%s) - start )) s"
  [[ $rc -eq 0 ]] || { status=$rc; note_failures "$dir" "$what"; }
}
echo "== test.sh: [4/4] ctest"
run_ctest "$BUILD_DIR" "first run" "${skip_soak[@]}" "$@"
if [[ $WITH_CHECKS == 1 ]]; then
  echo "== test.sh: ctest again with the invariant checks (DSM_INVARIANTS=1)"
  DSM_INVARIANTS=1 DSM_LITMUS_ROUNDS=${DSM_CHECKS_LITMUS_ROUNDS:-1000} run_ctest "$BUILD_DIR" "with the invariant checks" \
    -LE 'fuzz|install|mpi-transport|np1|apps|bench|netns|stress|chaos|death|trace|tools' -E 'large_memory|litmus_runner' "$@"
fi
if [[ -s $digest ]]; then
  echo "== test.sh: the failed tests"
  cat "$digest"
fi
echo "== test.sh: exit $status after $(( $(date +%s) - all_start )) s in all"
exit $status
