#!/usr/bin/env bash
# run.sh: the README's main command. Sets up the machine, builds dsm in build/, then runs every
# example (hello, counter, jacobi, hello_c, bank, kv_table, work_queue, shared_vector, histogram,
# producer_consumer) under every consistency model implemented so far, with DSM_STATS writing a JSON
# file per run, and prints one table: example, model, ranks, wall time, messages and bytes sent by
# all ranks, and whether the example's own check passed. Exits non-zero if any run failed. The logs
# of failed runs are printed below the table.
set -euo pipefail

# example:ranks runs, each under every model above.
RUNS="hello:2 counter:2 counter:4 jacobi:2 jacobi:4 hello_c:2 bank:2 bank:4 kv_table:2 work_queue:2 shared_vector:2
      histogram:2 producer_consumer:2"
# Seconds before one run counts as hung (each takes about a second).
RUN_TIMEOUT=${DSM_RUN_TIMEOUT:-120}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

echo "== run.sh: [1/3] setup"
bash scripts/setup.sh

echo "== run.sh: [2/3] build ($BUILD_DIR/, -j2)"
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; echo "== run.sh: configure failed"; exit 1; }
cmake --build "$BUILD_DIR" -j2 --target hello counter jacobi hello_c bank kv_table work_queue shared_vector histogram producer_consumer >"$BUILD_DIR/build.log" 2>&1 \
  || { cat "$BUILD_DIR/build.log"; echo "== run.sh: build failed"; exit 1; }
# The consistency models the runtime implements, as the build recorded them (DSM_MODELS in the
# top-level CMakeLists.txt).
DSM_MODELS=$(cat "$BUILD_DIR/models.txt" | tr ';' ' ')

echo "== run.sh: [3/3] examples under: $DSM_MODELS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stats_field <json> <field>: the "total" of one counter in a DSM_STATS JSON file, or "-".
stats_field() {
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        print(json.load(f)["total"][sys.argv[2]])
except Exception:
    print("-")
PY
}

rows=()
failed=()
for model in $DSM_MODELS; do
  for run in $RUNS; do
    example=${run%%:*}
    ranks=${run##*:}
    id="$example.$model.np$ranks"
    json="$work/$id.json"
    log="$work/$id.log"
    t0=$(date +%s%N)
    status=0
    DSM_MODEL=$model DSM_STATS=$json timeout "$RUN_TIMEOUT" \
      "${MPIRUN[@]}" -np "$ranks" "$BUILD_DIR/examples/$example" >"$log" 2>&1 || status=$?
    if [[ $status -eq 124 ]]; then echo "run.sh: timed out after $RUN_TIMEOUT s" >>"$log"; fi
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    check=FAIL
    if [[ $status -eq 0 ]] && grep -q ": OK$" "$log"; then check=OK; fi
    [[ $check == OK ]] || failed+=("$id")
    rows+=("$(printf '%-17s %-12s %5s %5d.%03d %10s %12s  %s' "$example" "$model" "$ranks" \
      $((ms / 1000)) $((ms % 1000)) \
      "$(stats_field "$json" messages_sent)" "$(stats_field "$json" bytes_sent)" "$check")")
    echo "   $id: $check"
  done
done

echo
printf '%-17s %-12s %5s %9s %10s %12s  %s\n' example model ranks "time (s)" messages bytes check
printf '%s\n' "${rows[@]}"
echo

if [[ ${#failed[@]} -gt 0 ]]; then
  for id in "${failed[@]}"; do
    echo "---- log of $id ----"
    cat "$work/$id.log"
  done
  echo "run.sh: ${#failed[@]} run(s) failed: ${failed[*]}"
  exit 1
fi
echo "run.sh: all runs OK"
