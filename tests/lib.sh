# tests/lib.sh: what the test scripts that run a probe under mpirun share. Source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# dsm_clean_env: the caller's DSM_* settings must not leak into a case, and Open MPI must run as
#   root (CI) and with more ranks than cores. DSM_INVARIANTS stays: it adds the runtime's checks
#   without changing what a case does (scripts/test.sh runs the cases again with it on).
# dsm_output LABEL: $out, a temporary file for the combined output (removed on exit), and
#   fail MESSAGE: prints "FAIL [LABEL]: MESSAGE" and that output, then exits 1.

dsm_clean_env() {
  local v
  for v in $(compgen -e | grep '^DSM_' | grep -vx DSM_INVARIANTS || true); do unset "$v"; done
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
}

dsm_output() {
  dsm_fail_label=$1
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
}

fail() {
  echo "FAIL [$dsm_fail_label]: $*"
  echo "----- combined output -----"
  cat "$out"
  exit 1
}
