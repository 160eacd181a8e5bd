#!/usr/bin/env bash
# litmus_runner_fails.sh <dsm-litmus> <crafted.json> <mpirun...>: dsm-litmus can fail. Under the
# model in DSM_MODEL, with tests/conformance/litmus-crafted.json:
#  - ReadOwnWrite-forbidden (a rank reads its own write; the file allows only 0): with
#    --verdicts=file, exit status 1, the outcome (1) marked forbidden and OBSERVED, a FAIL verdict;
#    with the oracle's verdicts (the default), exit 0, (1) allowed, and the row noting that
#    litmus.json forbids it;
#  - SC-only (allowed outcomes for SC alone): with --verdicts=file, under sequential exit 0, under
#    any other model exit 2 with a message that the program lists no allowed outcomes for the model,
#    and no histogram; with the oracle, exit 0 under every model;
#  - SC-by-reference (allowed sets given as "SC" and "ALL"): exit 0.
set -u
runner=$1
json=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() {
  echo "FAIL: $*"
  echo "----- output -----"
  cat "$out"
  exit 1
}
mpirun=("$@")

test=ReadOwnWrite-forbidden
"${mpirun[@]}" -np 1 -x DSM_MODEL "$runner" --file="$json" --rounds=20 --verdicts=file "$test" >"$out" 2>&1; rc=$?
[[ $rc -eq 1 ]] || fail "$test: exit status $rc, expected 1"
grep -q "(1) .* 20  forbidden   <-- OBSERVED" "$out" || fail "$test: the forbidden outcome is not reported"
grep -q "forbidden and seen:    1  (1)" "$out" || fail "$test: no summary line for the forbidden outcome"
grep -q "verdict: FAIL" "$out" || fail "$test: no FAIL verdict"
"${mpirun[@]}" -np 1 -x DSM_MODEL "$runner" --file="$json" --rounds=20 "$test" >"$out" 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "$test with the oracle: exit status $rc, expected 0"
grep -q "(1) .* 20  allowed   (litmus.json: forbidden)" "$out" || fail "$test: the row does not note litmus.json's disagreement"
grep -q "allowed and seen:      1 of 1  (1)" "$out" || fail "$test: no summary line for the allowed outcome"

test=SC-only
"${mpirun[@]}" -np 1 -x DSM_MODEL "$runner" --file="$json" --rounds=20 --verdicts=file "$test" >"$out" 2>&1; rc=$?
if [[ $DSM_MODEL == sequential ]]; then
  [[ $rc -eq 0 ]] || fail "$test under sequential: exit status $rc, expected 0"
else
  [[ $rc -eq 2 ]] || fail "$test under $DSM_MODEL: exit status $rc, expected 2"
  grep -q "lists no allowed outcomes for model" "$out" || fail "$test: no message naming the missing model"
  grep -q "verdict:" "$out" && fail "$test: ran although the model is not listed"
fi
"${mpirun[@]}" -np 1 -x DSM_MODEL "$runner" --file="$json" --rounds=20 "$test" >"$out" 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "$test with the oracle under $DSM_MODEL: exit status $rc, expected 0"

test=SC-by-reference
"${mpirun[@]}" -np 2 -x DSM_MODEL "$runner" --file="$json" --rounds=20 --verdicts=file "$test" >"$out" 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "$test: exit status $rc, expected 0"
echo "litmus_runner_fails: OK under $DSM_MODEL"
