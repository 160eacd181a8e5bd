#!/usr/bin/env bash
# config_errors.sh: a bad configuration is refused at init, once, clearly, and without a hang.
# Usage: config_errors.sh <case> <config_probe> <mpirun> [mpirun options...]
# Each error case runs config_probe at -np 2 under `timeout` and requires: a non-zero exit (status 2,
# as dsm::init documents) well before the timeout; exactly one line of the combined output naming
# the variable (or flag) and the bad value; that line listing the valid choices. The size_* cases are
# the limits of DSM_SIZE: over 64T, no common address range, over the virtual-memory limit. The case `override`
# requires that --dsm-model=sequential beats DSM_MODEL=bogus and is removed from argv.
set -u
case_name=$1
probe=$2
shift 2
mpirun=("$@")
limit=45

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env

dsm_output "$case_name"

# run VAR=value... -- probe-args...: runs the probe at -np 2 with the variables set; sets $rc.
run() {
  local -a vars=() exports=()
  while [[ $1 != -- ]]; do
    vars+=("$1")
    exports+=(-x "${1%%=*}")
    shift
  done
  shift
  env "${vars[@]}" timeout "$limit" "${mpirun[@]}" -np 2 "${exports[@]}" "$probe" "$@" >"$out" 2>&1
  rc=$?
}

# expect_refused <line-regex> <choice-regex>
expect_refused() {
  local line_re=$1 choice_re=$2
  [[ $rc -ne 124 ]] || fail "mpirun did not finish within ${limit}s (a rank hung)"
  [[ $rc -ne 0 ]] || fail "exit status 0: the configuration was accepted"
  [[ $rc -eq 2 ]] || fail "exit status $rc, dsm::init documents 2"
  local n
  n=$(grep -Ec -- "$line_re" "$out")
  [[ $n -eq 1 ]] || fail "the error naming the variable appears $n times (want exactly 1): /$line_re/"
  grep -E -- "$line_re" "$out" | grep -Eiq -- "valid" || fail "the error does not list the valid choices"
  grep -E -- "$line_re" "$out" | grep -Eq -- "$choice_re" || fail "the valid choices do not include /$choice_re/"
  grep -q "^model=" "$out" && fail "the program ran past dsm::init"
  echo "ok [$case_name]: exit $rc; $(grep -E -- "$line_re" "$out")"
}

case $case_name in
  model_bogus)
    run DSM_MODEL=bogus -- keep
    expect_refused "DSM_MODEL.*bogus" "sequential" ;;
  model_flag_bogus)
    run -- --dsm-model=bogus keep
    expect_refused "--dsm-model.*bogus" "sequential" ;;
  check_bogus)
    run DSM_CHECK=maybe -- keep
    expect_refused "DSM_CHECK.*maybe" "1" ;;
  unit_not_power_of_two)
    run DSM_UNIT=3000 -- keep
    expect_refused "DSM_UNIT.*3000" "[0-9]" ;;
  size_not_a_number)
    run DSM_SIZE=abc -- keep
    expect_refused "DSM_SIZE.*abc" "[0-9]" ;;
  size_too_large)
    # Over the documented maximum (64T): refused by the parser.
    run DSM_SIZE=128T -- keep
    expect_refused "DSM_SIZE.*128T" "64T" ;;
  size_no_address_range)
    # Accepted by the parser, but two views of 64 TiB do not fit in the 128 TiB user address space.
    run DSM_SIZE=64T -- keep
    expect_refused "DSM_SIZE=70368744177664 with DSM_ARENA=.*no address range" "smaller size" ;;
  size_over_vm_limit)
    # A virtual-memory limit (ulimit -v, 4 GB) below twice DSM_SIZE: the mapping fails, clearly.
    (ulimit -v 4000000; run DSM_SIZE=8G -- keep; echo $rc >"$out.rc")
    rc=$(cat "$out.rc"); rm -f "$out.rc"
    expect_refused "DSM_SIZE=8589934592 with DSM_ARENA=[0-9]* for each of 2 ranks could not be mapped" "smaller size" ;;
  stats_bogus)
    run DSM_STATS=sometimes -- keep
    expect_refused "DSM_STATS.*sometimes" "json" ;;
  bind_bogus)
    run DSM_BIND=socket -- keep
    expect_refused "DSM_BIND.*socket" "none, core, auto" ;;
  node_shm_bogus)
    run DSM_NODE_SHM=maybe -- keep
    expect_refused "DSM_NODE_SHM.*maybe" "on, queues, off" ;;
  node_shm_off_with_shm_transport)
    # Shared-memory queues only, but node-local shared memory off: a contradiction, refused.
    run DSM_NODE_SHM=off DSM_TRANSPORT=shm -- keep
    expect_refused "DSM_NODE_SHM.*off.*DSM_TRANSPORT=shm" "DSM_NODE_SHM=on" ;;
  trace_flag_bogus)
    run -- --dsm-trace=trace.txt keep
    expect_refused "--dsm-trace.*trace.txt" "json" ;;
  override)
    run DSM_MODEL=bogus -- first --dsm-model=sequential keep
    [[ $rc -ne 124 ]] || fail "mpirun did not finish within ${limit}s"
    [[ $rc -eq 0 ]] || fail "exit status $rc: --dsm-model=sequential did not override DSM_MODEL=bogus"
    want="model=sequential argc=3 argv[1]=first argv[2]=keep argv[argc]=null"
    n=$(grep -Fxc -- "$want" "$out")
    [[ $n -eq 1 ]] || fail "want exactly one line '$want', found $n"
    grep -q -- "--dsm-" "$out" && fail "a --dsm- flag was left in argv"
    echo "ok [$case_name]: $want" ;;
  *)
    echo "unknown case $case_name"
    exit 2 ;;
esac
exit 0
