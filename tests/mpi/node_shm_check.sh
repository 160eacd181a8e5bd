#!/usr/bin/env bash
# node_shm_check.sh: DSM_NODE_SHM decides how node-mates reach each other, and DSM_LOG=info says so.
# Usage: node_shm_check.sh on|off <ranks> <program> <mpirun> [mpirun options...]
# Runs the program (which must print a line ending in OK) on one node with DSM_NODE_SHM set and
# requires exit 0 and, from every rank, the transport line of DSM_LOG=info:
#   on   "<ranks> rank(s) through shared-memory queues, 0 through MPI"
#   off  "1 rank(s) through shared-memory queues, <ranks-1> through MPI" (only itself locally)
# and, with `on` only, the line saying that barriers and lock hand-offs go through shared memory.
set -u
mode=$1
np=$2
program=$3
shift 3
mpirun=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env
dsm_output "DSM_NODE_SHM=$mode np=$np"
case $mode in
  on) want="$np rank(s) through shared-memory queues, 0 through MPI" ;;
  off) want="1 rank(s) through shared-memory queues, $((np - 1)) through MPI" ;;
  *) echo "usage: $0 on|off <ranks> <program> <mpirun...>"; exit 2 ;;
esac
DSM_NODE_SHM=$mode DSM_LOG=info timeout 90 "${mpirun[@]}" -np "$np" -x DSM_NODE_SHM -x DSM_LOG "$program" >"$out" 2>&1
rc=$?
[[ $rc -eq 0 ]] || fail "exit status $rc"
grep -q "OK$" "$out" || fail "the program did not report OK"
for ((r = 0; r < np; r++)); do
  grep -Fq "dsm: rank $r: info: global space at" "$out" || fail "no transport line from rank $r"
  grep -F "dsm: rank $r: info: global space at" "$out" | grep -Fq "transport: $want" ||
    fail "rank $r: transport line does not say '$want'"
done
# The node-local barrier and lock state: in use with `on` (every rank shares this node), not with `off`.
fast=$(grep -c "info: node-local fast path: barriers and lock hand-offs through shared memory" "$out")
if [[ $mode == on ]]; then
  [[ $fast -eq $np ]] || fail "$fast of $np ranks report barriers and lock hand-offs through shared memory"
else
  [[ $fast -eq 0 ]] || fail "$fast rank(s) report barriers and lock hand-offs through shared memory with DSM_NODE_SHM=off"
fi
echo "ok [DSM_NODE_SHM=$mode np=$np]: every rank: $want"
exit 0
