#!/usr/bin/env bash
# run-micro.sh: the micro benchmarks (benchmarks/micro/) at 2 ranks under one model, twice: with the
# default transport (node-local shared-memory queues between ranks of one node) and with
# DSM_TRANSPORT=mpi (the inter-node path, exercised on one machine), then the diff encoder once. Each
# prints its rows next to the floor the same run measured (benchmarks/README.md). The model is
# $DSM_MODEL (default lazy-release); extra arguments go to every benchmark (e.g. --size full). Builds
# in build/ (or $DSM_BUILD_DIR) if needed. For every model and rank count, with JSON, CSV and plots,
# use run-suite.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
export DSM_MODEL=${DSM_MODEL:-lazy-release}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target micro_remote_miss micro_lock micro_barrier micro_diff >/dev/null

status=0
for transport in auto mpi; do
  echo "== DSM_MODEL=$DSM_MODEL DSM_TRANSPORT=$transport, 2 ranks"
  for bench in remote_miss lock barrier; do
    DSM_TRANSPORT=$transport timeout 300 "${MPIRUN[@]}" -np 2 "$BUILD_DIR/benchmarks/micro/micro_$bench" "$@" \
      | grep -v '^RESULT ' || status=1
  done
  echo
done
echo "== diff encoder (one process)"
"$BUILD_DIR/benchmarks/micro/micro_diff" "$@" | grep -v '^RESULT ' || status=1
exit $status
