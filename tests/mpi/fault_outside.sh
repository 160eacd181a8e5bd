#!/usr/bin/env bash
# fault_outside.sh: a segmentation fault outside the global space is the program's bug and must
# kill it, not hang it. Usage: fault_outside.sh <mode> <np> <fault_probe> <mpirun> [options...]
# Runs fault_probe (mode null or unmapped) at -np <np> under `timeout 50` with core dumps off, in a
# scratch directory, and requires: mpirun exits non-zero before the timeout; the output reports
# signal 11 (SIGSEGV, "Segmentation fault"; in an ASan build, AddressSanitizer's "SEGV" report, to
# which the runtime's handler passes the fault); the probe's line after the bad store never appears; no
# core file is left behind.
set -u
mode=$1
np=$2
probe=$3
shift 3
mpirun=("$@")

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env
ulimit -c 0

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

timeout 50 "${mpirun[@]}" -np "$np" "$probe" "$mode" >out.txt 2>&1
rc=$?

fail() {
  echo "FAIL [fault $mode np$np]: $*"
  echo "----- combined output -----"
  cat out.txt
  exit 1
}

[[ $rc -ne 124 ]] || fail "mpirun did not finish within 50 s: the job hung after the fault"
[[ $rc -ne 0 ]] || fail "mpirun exited 0 after a segmentation fault"
segv="signal 11|Segmentation fault|SIGSEGV|AddressSanitizer: SEGV"
grep -Eq "$segv" out.txt || fail "no report of signal 11 / Segmentation fault"
grep -q "stores to" out.txt || fail "the probe did not reach the bad store"
grep -q "store to a bad address returned" out.txt && fail "the bad store returned: the fault was swallowed"
cores=$(find . -maxdepth 1 -name 'core*' | wc -l)
[[ $cores -eq 0 ]] || fail "$cores core file(s) left behind despite ulimit -c 0"
echo "ok [fault $mode np$np]: exit $rc; $(grep -Em1 "$segv" out.txt)"
exit 0
