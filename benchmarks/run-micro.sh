#!/usr/bin/env bash
# run-micro.sh: runs the remote-miss micro benchmark at 2 ranks twice, once with the default transport
# (node-local shared-memory queues between ranks of one node) and once with DSM_TRANSPORT=mpi (the
# inter-node path, exercised on one machine), and prints both tables. Each table puts the median
# remote read and write miss of one unit next to the floor the same run measured (see the top of
# micro/remote_miss.cpp). Builds the benchmark in build/ (or $DSM_BUILD_DIR) if needed.
# Extra arguments go to remote_miss: [units-per-round] [rounds].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

if [[ ! -x "$BUILD_DIR/benchmarks/remote_miss" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target remote_miss >/dev/null

for transport in auto mpi; do
  echo "== DSM_TRANSPORT=$transport"
  DSM_TRANSPORT=$transport timeout 600 "${MPIRUN[@]}" -np 2 "$BUILD_DIR/benchmarks/remote_miss" "$@"
  echo
done
