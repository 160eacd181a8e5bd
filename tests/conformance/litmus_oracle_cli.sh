#!/usr/bin/env bash
# litmus_oracle_cli.sh <dsm-litmus>: dsm-litmus --oracle runs without mpirun and prints what the
# oracle says: the allowed sets of every model, the cycle that forbids MP's (1,0) under sequential
# consistency (--explain), the same cycle as a Graphviz file (--dot), a separating program for each
# pair of models over litmus.json and models.json (--separate), and exit 2 for an unknown model.
set -u
runner=$1
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_output litmus_oracle_cli
dir=$(mktemp -d)
trap 'rm -rf "$out" "$dir"' EXIT

"$runner" --oracle MP >"$out" 2>&1 || fail "--oracle MP: exit status $?"
grep -q "^  sequential     allowed (0,0) (0,1) (1,1);  forbidden (1,0)$" "$out" || fail "sequential's set for MP"
grep -q "^  lazy-release   allowed (0,0) (0,1) (1,0) (1,1);  forbidden -$" "$out" || fail "lazy release's set for MP"
[[ $(grep -c "allowed" "$out") -eq 8 ]] || fail "not one line per model (8)"
grep -q "disagrees" "$out" && fail "litmus.json disagrees with the oracle on MP"

"$runner" --oracle --model=sequential --explain --dot="$dir" MP >"$out" 2>&1 || fail "--explain: exit status $?"
grep -q "(1,0) is forbidden under sequential" "$out" || fail "no explanation of (1,0)"
for edge in "--fr-->  P0: data = 1" "--po-->  P0: flag = 1" "--rf-->  P1: r0 = flag  (reads 1)" "--po-->  P1: r1 = data  (reads 0)"; do
  grep -qF -- "$edge" "$out" || fail "the cycle lacks $edge"
done
grep -q "digraph" "$dir/MP.sequential.1_0.dot" || fail "no Graphviz file"
grep -q 'label="fr", color=red' "$dir/MP.sequential.1_0.dot" || fail "the Graphviz file does not draw the cycle"

"$runner" --oracle --separate --file=litmus.json,models.json >"$out" 2>&1 || fail "--separate: exit status $?"
grep -q "^  eager-release  allows, weak           forbids: SB+cs (0,0)$" "$out" || fail "--separate: weak and eager release"
grep -q "^  causal         allows, sequential     forbids: SB (0,0)$" "$out" || fail "--separate: sequential and causal"
grep -q "^not told apart by these programs: strict and sequential$" "$out" || fail "--separate: the pairs left"

"$runner" --oracle --model=nonsense MP >"$out" 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "--model=nonsense: exit status $rc, expected 2"
grep -q "not a model" "$out" || fail "--model=nonsense: no message"
echo "litmus_oracle_cli: OK"
