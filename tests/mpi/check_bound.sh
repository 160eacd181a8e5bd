#!/usr/bin/env bash
# check_bound.sh: DSM_CHECK=1 reports a write to data bound to a lock that the writer does not hold
# exclusively. Usage: check_bound.sh <locked|shared|unlocked> <np> <check_probe> <mpirun> [options...]
# Runs the probe under DSM_MODEL=entry DSM_CHECK=1 within 50 s and requires: "locked" exits 0 with
# no report; "shared" and "unlocked" exit non-zero, the write never returns, and one report names
# the address the probe printed and dsm::mutex 9.
set -u
how=$1
np=$2
probe=$3
shift 3
mpirun=("$@")

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env
export DSM_MODEL=entry DSM_CHECK=1
dsm_output "check $how np$np"

timeout 50 "${mpirun[@]}" -np "$np" "$probe" "$how" >"$out" 2>&1
rc=$?

[[ $rc -ne 124 ]] || fail "mpirun did not finish within 50 s"
addr=$(sed -n 's/^rank [0-9]* writes \(0x[0-9a-f]*\).*/\1/p' "$out" | head -1)
[[ -n $addr ]] || fail "the probe did not reach the write"
if [[ $how == locked ]]; then
  [[ $rc -eq 0 ]] || fail "exit $rc for a write made holding the lock exclusively"
  grep -q "DSM_CHECK" "$out" && fail "a write made holding the lock was reported"
  echo "ok [check $how np$np]: allowed"
  exit 0
fi
[[ $rc -ne 0 ]] || fail "exit 0: the write without the exclusive lock was not reported"
grep -q "the write returned" "$out" && fail "the write went through before the report"
n=$(grep -c "DSM_CHECK" "$out")
[[ $n -eq 1 ]] || fail "$n reports (want 1)"
grep "DSM_CHECK" "$out" | grep -q -- "$addr" || fail "the report does not name the address $addr"
grep "DSM_CHECK" "$out" | grep -q "dsm::mutex 9" || fail "the report does not name dsm::mutex 9"
echo "ok [check $how np$np]: $(grep DSM_CHECK "$out")"
