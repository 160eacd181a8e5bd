#!/usr/bin/env bash
# run-release.sh: runs the critical-section benchmarks of release/ at 2 ranks under every model the
# build implements (models.txt in the build directory, `;`-separated): lock_pingpong (a lock and a
# counter bouncing between the ranks), migratory with a 256-byte record and with a whole-unit record.
# Prints every run's line, then one table row per workload and model: time, messages and bytes per
# critical section, and each one's ratio to the same workload under `sequential`. Exits 1 if a run
# failed or its check was not OK. Builds in build/ (or $DSM_BUILD_DIR) if needed; DSM_TRANSPORT and
# DSM_UNIT pass through to the runs. Extra arguments: [reps=5].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
REPS=${1:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 -np 2)

if [[ ! -f "$BUILD_DIR/models.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target lock_pingpong migratory >/dev/null
IFS=';' read -r -a MODELS < "$BUILD_DIR/models.txt" || true

# workload label | binary | arguments
RUNS=("lock_pingpong|lock_pingpong|2000 $REPS"
      "migratory-256B|migratory|256 1000 $REPS"
      "migratory-unit|migratory|0 1000 $REPS")

status=0
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for model in "${MODELS[@]}"; do
  for run in "${RUNS[@]}"; do
    IFS='|' read -r label bin args <<<"$run"
    # shellcheck disable=SC2086
    if ! line=$(DSM_MODEL=$model timeout 300 "${MPIRUN[@]}" "$BUILD_DIR/benchmarks/release/$bin" $args 2>&1); then
      status=1
    fi
    line=$(grep -E "^$bin model=" <<<"$line" || { echo "$line" >&2; echo "$bin model=$model check=NO-OUTPUT"; })
    echo "$line"
    grep -q 'check=OK' <<<"$line" || status=1
    echo "$label $line" >>"$results"
  done
done

echo
awk '
  function field(k,   i) { for (i = 2; i <= NF; ++i) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
  { w = $1; m = field("model"); key = w SUBSEP m; order[++n] = key; wl[key] = w; ml[key] = m
    us[key] = field("us_per_cs"); msg[key] = field("msgs_per_cs"); by[key] = field("bytes_per_cs"); ck[key] = field("check") }
  function ratio(a, b) { return (b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
  END {
    printf "%-15s %-14s %9s %9s %11s %7s %7s %7s %s\n", "workload", "model", "us/cs", "msgs/cs", "bytes/cs",
           "t/seq", "m/seq", "b/seq", "check"
    for (i = 1; i <= n; ++i) {
      k = order[i]; s = wl[k] SUBSEP "sequential"
      printf "%-15s %-14s %9s %9s %11s %7s %7s %7s %s\n", wl[k], ml[k], us[k], msg[k], by[k],
             ratio(us[k], us[s]), ratio(msg[k], msg[s]), ratio(by[k], by[s]), ck[k]
    }
  }' "$results" | { read -r header; echo "$header"; sort -s -k1,1; }
exit $status
