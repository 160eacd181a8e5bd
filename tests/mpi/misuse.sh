#!/usr/bin/env bash
# misuse.sh: a misuse of the API ends the job with a clear error. Usage:
#   misuse.sh <case> <model> <misuse_probe> <mpirun> [mpirun options...]
# Runs misuse_probe <case> at -np 2 under `timeout`, with DSM_MODEL=<model>, and requires: a non-zero
# exit before the timeout
# (no hang), the case's error line in the output (naming the calls, the lock or the rank), and no
# "not detected" line.
set -u
case_name=$1
model=$2
probe=$3
shift 3
mpirun=("$@")
limit=45

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env
export DSM_MODEL=$model
ulimit -c 0

dsm_output "misuse $case_name $model"

case $case_name in
  barrier_vs_alloc)
    want='fatal: collective calls out of step: rank 0 called dsm::barrier\(\) while rank 1 called dsm::alloc\(64 bytes\)' ;;
  alloc_sizes_differ)
    want='fatal: collective calls out of step: rank 0 called dsm::alloc\(64 bytes\) while rank 1 called dsm::alloc\(128 bytes\)' ;;
  free_foreign_on_one_rank)
    want='fatal: collective calls out of step: rank 0 called dsm::free\(offset 0 of the global space\) while rank 1 called dsm::free\(a pointer dsm::alloc did not return\)' ;;
  barrier_vs_finalize)
    want='fatal: collective calls out of step: rank 0 called dsm::barrier\(\) while rank 1 called dsm::finalize\(\)' ;;
  finalize_holding_lock)
    want='dsm: rank 1: fatal: dsm::finalize while this rank holds dsm::mutex 5' ;;
  signal_inside_barrier)
    want='dsm: rank 0: fatal: shared memory at 0x[0-9a-f]+ was touched while this thread was inside a dsm call' ;;
  c_release_not_held)
    want='dsm: rank 1: fatal: dsm::mutex 9: released by rank 1, which does not hold it' ;;
  finalize_while_waiting_at_manager)
    want='dsm: rank 0: fatal: every other rank has called dsm::finalize, but rank 1 waits on dsm::condition_variable 0: nobody is left to notify' ;;
  finalize_while_waiting_here)
    want='dsm: rank 1: fatal: every other rank has called dsm::finalize, but rank 1 waits on dsm::condition_variable 1: nobody is left to notify' ;;
  destroy_holding_lock)
    want='fatal: collective calls out of step: rank 0 called dsm::destroy\(the object of lock [0-9]+\) while rank 1 called dsm::destroy\(an object whose lock it holds\)' ;;
  c_cond_wait_not_held)
    want='dsm: rank 1: fatal: dsm::condition_variable 3: wait by rank 1, which does not hold dsm::mutex 9' ;;
  *)
    echo "unknown case $case_name"
    exit 2 ;;
esac

start=$(date +%s%N)
timeout "$limit" "${mpirun[@]}" -np 2 "$probe" "$case_name" >"$out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $rc -ne 124 ]] || fail "mpirun did not finish within ${limit}s (a hang)"
[[ $rc -ne 0 ]] || fail "exit status 0: the misuse was not reported"
grep -q "not detected" "$out" && fail "the program ran past the misuse"
grep -Eq -- "$want" "$out" || fail "no line matching /$want/"
echo "ok [misuse $case_name, $model]: exit $rc after ${ms} ms; $(grep -Em1 -- "$want" "$out")"
exit 0
