#!/usr/bin/env bash
# run-objects.sh: page against object granularity under every model the build implements
# (models.txt in the build directory). Runs objects/bank_bench (random transfers between 64 accounts, and
# one account migrating between the ranks in strict turns) at page granularity (two 16-byte
# accounts to a unit, each bound to its own lock) and at object granularity (one dsm::make_object
# per account), at 2 ranks unless told otherwise. Prints every run's line, then a table per
# workload: time, messages and bytes per transfer at each granularity, object/page ratios, and the
# bytes ratio to sequential consistency at page granularity. Exits 1 if a run failed its check.
# Usage: bash benchmarks/run-objects.sh [ranks=2] [reps=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
NP=${1:-2}
REPS=${2:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 -np "$NP")

if [[ ! -f "$BUILD_DIR/models.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target bank_bench >/dev/null
IFS=';' read -r -a MODELS < "$BUILD_DIR/models.txt" || true

status=0
results=$(mktemp)
trap 'rm -f "$results"' EXIT
total=$(( ${#MODELS[@]} * 4 ))
run=0
for model in "${MODELS[@]}"; do
  for workload in transfers migratory; do
    for granularity in page object; do
      run=$((run + 1))
      echo "== [$run/$total] $model $workload $granularity" >&2
      if [[ $workload == transfers ]]; then sizes=(64 200); else sizes=(2 500); fi
      if ! out=$(DSM_MODEL=$model timeout 300 "${MPIRUN[@]}" "$BUILD_DIR/benchmarks/objects/bank_bench" \
                 "$granularity" "$workload" "${sizes[@]}" "$REPS" 2>&1); then
        status=1
      fi
      line=$(grep -E "^bank model=" <<<"$out" || { echo "$out" >&2; echo "bank model=$model granularity=$granularity workload=$workload check=NO-OUTPUT"; })
      echo "$line"
      grep -q 'check=OK' <<<"$line" || status=1
      echo "$line" >>"$results"
    done
  done
done

python3 - "$results" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    f = dict(re.findall(r"(\w+)=([^ ]+)", line))
    if f.get("check") != "OK":
        continue
    rows[(f["workload"], f["model"], f["granularity"])] = (float(f["us_per_cs"]), float(f["msgs_per_cs"]), float(f["bytes_per_cs"]))
models = []
for (w, m, g) in rows:
    if m not in models:
        models.append(m)
for w in ("transfers", "migratory"):
    print(f"\n{w}: per transfer (sum over ranks); ratios object/page, and bytes against sequential at page granularity")
    print(f"{'model':<14} {'page us':>8} {'msgs':>6} {'bytes':>8} | {'object us':>9} {'msgs':>6} {'bytes':>8} | "
          f"{'time o/p':>8} {'msgs o/p':>8} {'bytes o/p':>9} | {'page B/SC':>9} {'obj B/SC':>8}")
    base = rows.get((w, "sequential", "page"))
    for m in models:
        p, o = rows.get((w, m, "page")), rows.get((w, m, "object"))
        if not p or not o:
            print(f"{m:<14} (a run failed)")
            continue
        r = lambda a, b: f"{a / b:.2f}" if b else "-"
        print(f"{m:<14} {p[0]:8.1f} {p[1]:6.2f} {p[2]:8.1f} | {o[0]:9.1f} {o[1]:6.2f} {o[2]:8.1f} | "
              f"{r(o[0], p[0]):>8} {r(o[1], p[1]):>8} {r(o[2], p[2]):>9} | "
              f"{(r(p[2], base[2]) if base else '-'):>9} {(r(o[2], base[2]) if base else '-'):>8}")
PY
exit $status
