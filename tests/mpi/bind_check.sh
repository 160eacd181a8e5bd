#!/usr/bin/env bash
# bind_check.sh: DSM_BIND places the ranks as documented, and DSM_LOG=info reports it.
# Usage: bind_check.sh <DSM_BIND value> <ranks> <bind_probe> <mpirun> [mpirun options...]
# Runs bind_probe (which judges the kernel's affinity of every thread, see bind_probe.cpp) under
# mpirun --bind-to none (the launcher leaves the ranks unbound) with DSM_LOG=info, and requires: exit
# 0, "bind_probe: OK", one report line per rank, and one "placement" log line per rank that says
# what the runtime decided. What the probe must see follows from DSM_BIND and this node's cores:
#   core  each rank on a core of its own (skipped, status 77, with fewer cores than ranks)
#   auto  each rank on a core (or hardware thread) of its own when there are enough of them,
#         else the affinity unchanged (oversubscribed: left to the OS scheduler); unchanged too when
#         the check itself runs with an affinity narrower than the node (taskset: a launcher's binding)
#   none  the affinity unchanged
set -u
bind=$1
np=$2
probe=$3
shift 3
mpirun=("$@")
limit=60

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_clean_env

# The hardware threads this process may run on, and their cores, as the kernel says (the probe's
# oracle too): the CPUs of Cpus_allowed_list, and their distinct core_cpus_list.
allowed=()
allowed_list=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)
IFS=, read -r -a ranges <<<"$allowed_list"
for r in "${ranges[@]}"; do
  for ((c = ${r%-*}; c <= ${r#*-}; c++)); do allowed+=("$c"); done
done
pus=${#allowed[@]}
cores=$(for c in "${allowed[@]}"; do cat "/sys/devices/system/cpu/cpu$c/topology/core_cpus_list" 2>/dev/null || echo "$c"; done |
  sort -u | wc -l)

case $bind in
  core)
    if [[ $cores -lt $np ]]; then
      echo "SKIP: DSM_BIND=core with $np ranks needs $np cores to check distinct cores; this node has $cores"
      exit 77
    fi
    expect=core; log_re="core [0-9]+ \(PU [0-9,-]+\), engine thread on the same core" ;;
  auto)
    # Started with an affinity narrower than the node (taskset, a launcher's binding): auto keeps it.
    node_list=$(cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null || cat /sys/devices/system/cpu/online)
    if [[ $allowed_list != "$node_list" ]]; then
      expect=unchanged; log_re="not bound by dsm \(DSM_BIND=auto keeps the launcher's binding\)"
    elif [[ $np -le $pus ]]; then
      expect=distinct; log_re="(core [0-9]+|PU [0-9]+) .*engine thread on the same"
    else
      expect=unchanged; log_re="not bound \(DSM_BIND=auto: $np ranks on $pus hardware thread\(s\) are oversubscribed"
    fi ;;
  none)
    expect=unchanged; log_re="not bound \(DSM_BIND=none\)" ;;
  *)
    echo "unknown DSM_BIND value for this check: $bind"
    exit 2 ;;
esac

dsm_output "DSM_BIND=$bind np=$np expect=$expect"

DSM_BIND=$bind DSM_LOG=info timeout "$limit" "${mpirun[@]}" -np "$np" -x DSM_BIND -x DSM_LOG "$probe" "$expect" >"$out" 2>&1
rc=$?
[[ $rc -ne 124 ]] || fail "mpirun did not finish within ${limit}s"
grep -q "^bind_probe: OK$" "$out" || fail "the probe did not report OK"
[[ $rc -eq 0 ]] || fail "exit status $rc"
n=$(grep -c "^bind_probe: rank " "$out")
[[ $n -eq $np ]] || fail "$n probe report lines, want $np"
for ((r = 0; r < np; r++)); do
  grep -Eq "^dsm: rank $r: info: placement on .*: node-local rank [0-9]+ of $np: $log_re" "$out" ||
    fail "no DSM_LOG=info placement line for rank $r matching /$log_re/"
done
grep -Eq "^dsm: rank 0: info: topology: .* core\(s\)" "$out" || fail "no DSM_LOG=info topology line"
echo "ok [DSM_BIND=$bind np=$np]: $expect ($cores cores, $pus hardware threads)"
grep -E "^bind_probe: rank |info: placement" "$out"
exit 0
