#!/usr/bin/env bash
# suite_runner_test.sh <source dir> <build dir> <scratch dir>: runs benchmarks/run-suite.sh on the
# micro benchmarks at 2 ranks in smoke mode (built already: no build step) and checks its outputs
# with check_suite_output.py; then runs one benchmark under a model the runtime refuses and checks
# that the suite marks it failed and exits non-zero.
set -euo pipefail
src=$1 build=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
models=$(tr ';' ' ' <"$build/models.txt")

status=0
bash "$src/benchmarks/run-suite.sh" --smoke --ranks 2 --apps none --no-build --build-dir "$build" \
  --out "$out/ok" >"$out/ok.txt" 2>&1 || status=$?
cat "$out/ok.txt"
if [[ $status -ne 0 ]]; then
  echo "suite_runner_test: run-suite.sh exited $status on the smoke configuration"
  exit 1
fi
# The plots are checked when the Python the suite picks has matplotlib (scripts/setup.sh installs it).
plots=()
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || python3 -c 'import matplotlib' 2>/dev/null; then
  plots=(--expect-plots)
fi
python3 "$src/tests/bench/check_suite_output.py" "$out/ok" --ranks 2 --models $models "${plots[@]}"

status=0
bash "$src/benchmarks/run-suite.sh" --smoke --ranks 2 --apps none --micro barrier --models no-such-model \
  --no-build --no-plots --build-dir "$build" --out "$out/bad" --timeout 60 >"$out/bad.txt" 2>&1 || status=$?
if [[ $status -eq 0 ]]; then
  cat "$out/bad.txt"
  echo "suite_runner_test: a run under an unknown model did not make run-suite.sh fail"
  exit 1
fi
python3 "$src/tests/bench/check_suite_output.py" "$out/bad" --expect-failed barrier
echo "suite_runner_test: OK"
