#!/usr/bin/env bash
# soak.sh: the long run of tests/stress/lock_stress. Builds lock_stress in build/, then runs it with
# --soak (1,000,000 lock acquires in total over 64 locks, with random writes and a barrier every 250
# acquires per rank, and 100,000 objects made and destroyed; DSM_STRESS_OPS=N for another acquire
# count) at 4 ranks and, with 10,000 objects, at 8 ranks (oversubscribed) under every model the build
# implements (build/models.txt), with DSM_GC_BYTES=1M, and prints one line per run (acquires,
# seconds, acquires per second, peak protocol bytes, peak lock records, peak RSS growth, RSS growth
# over the second half, OK or FAIL). Every run checks exact results and bounded memory (see lock_stress.cpp) and has a timeout
# of DSM_SOAK_TIMEOUT seconds (default 1800): a deadlock is a failure. DSM_CHAOS=<seed> in the
# environment runs the soak under injected faults. Exits non-zero if any run failed.
#   bash scripts/soak.sh            # about 40 minutes on a 2-core machine
#   DSM_STRESS_OPS=300000 DSM_CHAOS=1 bash scripts/soak.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
TIMEOUT=${DSM_SOAK_TIMEOUT:-1800}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 DSM_GC_BYTES=1M
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_BUILD_TESTS=ON >/dev/null || exit 1
fi
cmake --build "$BUILD_DIR" -j2 --target lock_stress >/dev/null || { echo "soak.sh: build failed"; exit 1; }
models=$(tr ';' ' ' <"$BUILD_DIR/models.txt")
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "soak.sh: lock_stress --soak${DSM_STRESS_OPS:+ (DSM_STRESS_OPS=$DSM_STRESS_OPS)}${DSM_CHAOS:+ under DSM_CHAOS=$DSM_CHAOS}"
for model in $models; do
  for np in 4 8; do
    objects=()
    [[ $np -eq 8 ]] && objects=(--objects=10000)
    DSM_MODEL=$model timeout "$TIMEOUT" "${MPIRUN[@]}" -np "$np" "$BUILD_DIR/tests/stress/lock_stress" --soak "${objects[@]}" >"$log" 2>&1
    rc=$?
    line=$(grep "^lock_stress: model" "$log")
    if [[ $rc -eq 0 ]]; then
      echo "$line"
    else
      status=1
      [[ $rc -eq 124 ]] && echo "FAIL: $model at $np ranks did not finish within ${TIMEOUT} s (deadlock?)" \
                        || echo "FAIL: $model at $np ranks, exit $rc: ${line:-no result line}"
      tail -20 "$log"
    fi
  done
done
exit $status
