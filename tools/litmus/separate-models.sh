#!/usr/bin/env bash
# separate-models.sh [build-dir] [rounds]: for every pair of the runtime's four models, runs a litmus
# program whose outcome of interest one model allows and the other forbids, under both models, and
# prints a table: how often the runtime showed the outcome under each, the oracle's verdicts, and the
# coverage (allowed outcomes seen, of those the oracle allows). Needs mpirun and a built dsm-litmus;
# the programs are SB from litmus.json, MP+unrelated-lock and MP+polocks+delay from models.json.
#
#   bash tools/litmus/separate-models.sh build 10000
set -eu
build=${1:-build}
rounds=${2:-10000}
runner=$build/tools/litmus/dsm-litmus
here=$(cd "$(dirname "$0")" && pwd)
[[ -x $runner ]] || { echo "separate-models.sh: no $runner (build first)" >&2; exit 2; }
mpirun=(${MPIRUN:-mpirun} --oversubscribe)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# allowing model, forbidding model, file, program, outcome, ranks
pairs=(
  "eager-release sequential litmus.json SB (0,0) 2"
  "lazy-release sequential litmus.json SB (0,0) 2"
  "entry sequential litmus.json SB (0,0) 2"
  "lazy-release eager-release models.json MP+unrelated-lock (1,0) 3"
  "entry eager-release models.json MP+polocks+delay (1,0) 2"
  "entry lazy-release models.json MP+polocks+delay (1,0) 2"
)

# run <model> <file> <program> <ranks>: the runner's output, once per model and program.
run() {
  local log="$out/$1.$3"
  if [[ ! -f $log ]]; then
    DSM_MODEL=$1 "${mpirun[@]}" -np "$4" -x DSM_MODEL "$runner" --file="$here/$2" --rounds="$rounds" "$3" >"$log" 2>&1 ||
      { echo "separate-models.sh: $3 under $1 failed:" >&2; cat "$log" >&2; exit 1; }
  fi
  echo "$log"
}
# row <log> <outcome>: "<count> <verdict>" of the outcome's row.
row() { grep -F "  $2 " "$1" | awk '{print $2, $3}'; }
coverage() { grep "allowed and seen:" "$1" | awk '{print $4 " of " $6}'; }

echo "| models (allows / forbids) | program | outcome | under the model that allows it | under the model that forbids it | allowed outcomes seen (allows / forbids) |"
echo "|---|---|---|---|---|---|"
for pair in "${pairs[@]}"; do
  read -r allows forbids file program outcome ranks <<<"$pair"
  a=$(run "$allows" "$file" "$program" "$ranks")
  f=$(run "$forbids" "$file" "$program" "$ranks")
  read -r na va <<<"$(row "$a" "$outcome")"
  read -r nf vf <<<"$(row "$f" "$outcome")"
  [[ $va == allowed && $vf == forbidden ]] || { echo "separate-models.sh: the oracle does not separate $allows and $forbids with $program" >&2; exit 1; }
  echo "| $allows / $forbids | $program | $outcome | $na of $rounds ($va) | $nf of $rounds ($vf) | $(coverage "$a") / $(coverage "$f") |"
done
