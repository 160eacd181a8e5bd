#!/usr/bin/env bash
# test.sh: the README's test command and what CI runs (.ci/run). Sets up the machine (scripts/setup.sh),
# configures and builds dsm in build/, then runs every ctest test (unit, mpi, conformance, example,
# netns (as root; skipped otherwise), install) and exits with ctest's status. Run it from anywhere:
# `bash scripts/test.sh`.
# Extra arguments go to ctest, e.g. `bash scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

echo "== test.sh: [1/4] setup"
bash scripts/setup.sh

echo "== test.sh: [2/4] configure ($BUILD_DIR/)"
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_BUILD_TESTS=ON >"$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; echo "== test.sh: configure failed"; exit 1; }

echo "== test.sh: [3/4] build (-j2)"
cmake --build "$BUILD_DIR" -j2

echo "== test.sh: [4/4] ctest"
start=$(date +%s)
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 300 "$@") || status=$?
echo "== test.sh: ctest exit $status after $(( $(date +%s) - start )) s"
exit $status
