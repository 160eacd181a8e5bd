#!/usr/bin/env bash
# compare_models_test.sh <source-dir> <build-dir>: scripts/compare-models.sh runs examples/hello at 2
# ranks under every model of build/models.txt (and lazy release's homeless protocol when lazy
# release is built), prints one row per model with its counters and an OK check, and writes a
# non-empty PNG.
set -u
src=$1
build=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$(bash "$src/scripts/compare-models.sh" -b "$build" -r 1 -n 2 -o "$dir/plot.png" hello 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 0 ]] || { echo "FAIL: exit status $rc"; exit 1; }
models=$(tr ';' ' ' <"$build/models.txt")
[[ " $models " == *" lazy-release "* ]] && models+=" lazy-homeless"
for model in $models; do
  grep -Eq "^$model +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ .* OK$" <<<"$out" || { echo "FAIL: no OK row for $model"; exit 1; }
done
[[ -s $dir/plot.png ]] || { echo "FAIL: no plot written"; exit 1; }
head -c 8 "$dir/plot.png" | od -An -c | grep -q "P   N   G" || { echo "FAIL: plot.png is not a PNG"; exit 1; }
echo "compare_models_test: OK"
