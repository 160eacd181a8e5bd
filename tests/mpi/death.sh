#!/usr/bin/env bash
# death.sh: when one rank dies, the whole job ends quickly, says which rank, and leaves nothing behind.
# Usage: death.sh <way> <where> <death_probe> <mpirun> [mpirun options...]
# Runs death_probe <way> <where> at -np 4 (way: abort, exception, exit, kill; where: lock, barrier,
# miss; see death_probe.cpp): rank 2 dies while the others are blocked in that dsm operation (for
# `kill` this script sends SIGKILL once the rank has written its pid). Requires: mpirun exits
# non-zero; it ends within $limit s of the death (measured from the time rank 2 wrote just before
# dying, or of the kill, to mpirun's exit, and printed); the output names rank 2 (Open MPI's report
# "process rank 2" / "[[job,1],2]", or dsm's "dsm: rank 2:"), and for an exception also carries its
# message; no rank got past the blocking operation; no process of the run remains (pgrep on the
# run's unique directory, which every rank has on its command line); nothing of the run is left in
# /dev/shm (the names of its shared-memory segments start with dsm-<pid of rank 0>-).
set -u
way=$1
where=$2
probe=$3
shift 3
mpirun=("$@")
limit=10

for v in $(compgen -e | grep '^DSM_' || true); do unset "$v"; done
# DEATH_TRANSPORT=mpi: run over the runtime's MPI path, so that the engine polls MPI too.
[[ -n ${DEATH_TRANSPORT:-} ]] && export DSM_TRANSPORT=$DEATH_TRANSPORT
# DEATH_MODEL=eager-release: with the node-local fast path's segments mapped too.
[[ -n ${DEATH_MODEL:-} ]] && export DSM_MODEL=$DEATH_MODEL
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ulimit -c 0

dir=$(mktemp -d /tmp/dsm-death-XXXXXX)
trap 'rm -rf "$dir"' EXIT
out=$dir/out.txt

fail() {
  echo "FAIL [death $way $where]: $*"
  echo "----- combined output -----"
  cat "$out"
  exit 1
}

now_ns() { date +%s%N; }

timeout 60 "${mpirun[@]}" -np 4 "$probe" "$way" "$where" "$dir" >"$out" 2>&1 &
job=$!
if [[ $way == kill ]]; then
  for _ in $(seq 1 400); do
    [[ -s $dir/pid ]] && break
    sleep 0.05
  done
  [[ -s $dir/pid ]] || { wait $job; fail "rank 2 never wrote its pid"; }
  now_ns >"$dir/died"
  kill -KILL "$(cat "$dir/pid")"
fi
wait $job
rc=$?
end=$(now_ns)

[[ $rc -ne 124 ]] || fail "mpirun did not finish within 60 s: the job hung after rank 2 died"
[[ $rc -ne 0 ]] || fail "mpirun exited 0 although rank 2 died"
[[ -s $dir/died ]] || fail "rank 2 did not reach the point where it dies"
ms=$(( (end - $(cat "$dir/died")) / 1000000 ))
(( ms <= limit * 1000 )) || fail "the job ended ${ms} ms after rank 2 died (limit ${limit} s)"
grep -Eq "process rank 2 |\[\[[0-9]+,[0-9]+\],2\]|dsm: rank 2:" "$out" || fail "the output does not name rank 2"
if [[ $way == exception ]]; then
  grep -q "an exception nobody catches" "$out" || fail "the exception's message is not in the output"
  grep -q "dsm: rank 2: fatal: uncaught exception" "$out" || fail "no 'dsm: rank 2: fatal: uncaught exception' line"
fi
grep -q "survived" "$out" && fail "a rank got past the operation that should have blocked"
sleep 0.2
left=$(pgrep -f -- "$dir")
if [[ -n $left ]]; then
  listing=$(pgrep -af -- "$dir")
  kill -KILL $left 2>/dev/null  # by pid: only this run's processes
  fail "process(es) of the run remain after mpirun exited: $listing"
fi
[[ -s $dir/pid0 ]] || fail "rank 0 did not write its pid"
stale=$(compgen -G "/dev/shm/dsm-$(cat "$dir/pid0")-*")
[[ -z $stale ]] && stale=$(compgen -G "/dev/shm/sem.dsm-$(cat "$dir/pid0")-*")
[[ -z $stale ]] || fail "shared-memory segments of the run left in /dev/shm: $stale"
echo "ok [death $way $where]: exit $rc, job ended ${ms} ms after rank 2 died; $(grep -Em1 "process rank 2 |\[\[[0-9]+,[0-9]+\],2\]|dsm: rank 2:" "$out")"
exit 0
