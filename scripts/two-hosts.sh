# two-hosts.sh: two "hosts" on one machine, for bash scripts to source (tests/netns/netns_lib.sh,
# benchmarks/run-transports.sh). Needs root and iproute2.
#
#   source scripts/two-hosts.sh
#   two_hosts_up "$tmpdir" || exit 77     # prints why on failure (not root, no namespaces, ...)
#   trap two_hosts_down EXIT
#   two_hosts_mpirun -np 2 ./app          # mpirun started on host dsm-a, ranks spread over both
#   two_hosts_veth_bytes                  # bytes through host dsm-b's end of the link so far
#
# two_hosts_up creates two network namespaces (names unique per run: dsm<id>a, dsm<id>b) joined by a
# veth pair, with addresses $TWO_HOSTS_A and $TWO_HOSTS_B on the subnet $TWO_HOSTS_NET.0/24 that
# exist only inside those namespaces, a hostfile naming the two addresses (2 slots each), and a
# launch agent that Open MPI uses instead of ssh: it gets `<host> <command...>` and runs the command
# through /bin/sh inside that host's namespace, under its own hostname (unshare --uts: dsm-a, dsm-b),
# as a remote shell would. two_hosts_mpirun starts mpirun inside the first namespace (hostname dsm-a)
# with that hostfile and agent, one rank per host in turn (--map-by node), MPI limited to TCP on the
# veth subnet (pml ob1, btl tcp,self, btl_tcp_if_include, oob_tcp_if_include) and yielding when
# idle, with Open MPI's session directories in <tmpdir>/sessions (orte_tmpdir_base); more than 4
# ranks need --oversubscribe (tests/netns runs 16, eight per host).
# two_hosts_down kills what is left in the namespaces (by pid), deletes them (and with them the veth
# pair) and is safe to call twice.

TWO_HOSTS_NS_A=""
TWO_HOSTS_NS_B=""

# two_hosts_up <tmpdir>: returns non-zero, having printed the reason, if it cannot be done here.
two_hosts_up() {
  local dir=$1 id err
  [[ $(id -u) -eq 0 ]] || { echo "needs root (network namespaces and a veth pair)"; return 1; }
  command -v ip >/dev/null || { echo "no 'ip' command (Debian package iproute2; scripts/setup.sh installs it)"; return 1; }
  command -v unshare >/dev/null || { echo "no 'unshare' command (util-linux)"; return 1; }
  id=$(printf '%x%04x' $$ $((RANDOM % 65536)))
  id=${id:0:8}
  TWO_HOSTS_NS_A=dsm${id}a
  TWO_HOSTS_NS_B=dsm${id}b
  local veth_a=dv${id}a veth_b=dv${id}b  # interface names: at most 15 characters
  TWO_HOSTS_VETH_B=$veth_b
  TWO_HOSTS_NET=10.77.$(($$ % 250 + 1))  # any subnet: it exists only inside the two namespaces
  TWO_HOSTS_A=$TWO_HOSTS_NET.1
  TWO_HOSTS_B=$TWO_HOSTS_NET.2
  err=$(ip netns add "$TWO_HOSTS_NS_A" 2>&1) || { echo "cannot create a network namespace here: $err"; return 1; }
  err=$(ip netns add "$TWO_HOSTS_NS_B" 2>&1) || { echo "cannot create a network namespace here: $err"; return 1; }
  err=$(ip link add "$veth_a" type veth peer name "$veth_b" 2>&1) || { echo "cannot create a veth pair here: $err"; return 1; }
  err=$({ ip link set "$veth_a" netns "$TWO_HOSTS_NS_A" && ip link set "$veth_b" netns "$TWO_HOSTS_NS_B" &&
    ip -n "$TWO_HOSTS_NS_A" addr add "$TWO_HOSTS_A/24" dev "$veth_a" &&
    ip -n "$TWO_HOSTS_NS_B" addr add "$TWO_HOSTS_B/24" dev "$veth_b" &&
    ip -n "$TWO_HOSTS_NS_A" link set lo up && ip -n "$TWO_HOSTS_NS_B" link set lo up &&
    ip -n "$TWO_HOSTS_NS_A" link set "$veth_a" up && ip -n "$TWO_HOSTS_NS_B" link set "$veth_b" up; } 2>&1) ||
    { echo "cannot configure the veth pair: $err"; return 1; }
  err=$(ip netns exec "$TWO_HOSTS_NS_A" unshare --uts true 2>&1) || { echo "cannot create a UTS namespace here: $err"; return 1; }

  # Open MPI's session directories (ompi.<host>.<uid>/ under orte_tmpdir_base, /tmp by default) go
  # in this run's own directory: every run names its hosts dsm-a and dsm-b, and two runs at once on
  # one machine (two ctest jobs, two CI jobs) sharing /tmp/ompi.dsm-b.0/ raced, one job removing
  # it as the other's daemon made its own inside ("orte_session_dir failed").
  TWO_HOSTS_SESSIONS=$dir/sessions
  mkdir -p "$TWO_HOSTS_SESSIONS"
  TWO_HOSTS_AGENT=$dir/agent
  cat >"$TWO_HOSTS_AGENT" <<EOF
#!/bin/sh
# Open MPI's launch agent (plm_rsh_agent) for the two namespaces: agent <host> <command...>.
if [ "\$1" = --inside ]; then
  hostname "\$2" || exit 1
  shift 2
  exec /bin/sh -c "\$*"
fi
host=\$1
shift
case \$host in
  $TWO_HOSTS_A) exec ip netns exec $TWO_HOSTS_NS_A unshare --uts "\$0" --inside dsm-a "\$@" ;;
  $TWO_HOSTS_B) exec ip netns exec $TWO_HOSTS_NS_B unshare --uts "\$0" --inside dsm-b "\$@" ;;
esac
echo "agent: unknown host \$host" >&2
exit 1
EOF
  chmod +x "$TWO_HOSTS_AGENT"
  TWO_HOSTS_HOSTFILE=$dir/hosts
  printf '%s slots=2\n%s slots=2\n' "$TWO_HOSTS_A" "$TWO_HOSTS_B" >"$TWO_HOSTS_HOSTFILE"
}

# two_hosts_mpirun <mpirun arguments...>: mpirun on host dsm-a across both hosts, ended after
# $TWO_HOSTS_TIMEOUT seconds if that is set (status 124, as timeout(1)); hwloc does not look for
# I/O devices unless HWLOC_COMPONENTS says otherwise (README.md, "Start-up on a virtual machine").
two_hosts_mpirun() {
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HWLOC_COMPONENTS=${HWLOC_COMPONENTS--pci,-linuxio} \
    ${TWO_HOSTS_TIMEOUT:+timeout "$TWO_HOSTS_TIMEOUT"} \
    ip netns exec "$TWO_HOSTS_NS_A" unshare --uts sh -c 'hostname dsm-a && exec "$@"' sh \
    mpirun --hostfile "$TWO_HOSTS_HOSTFILE" --map-by node --bind-to none \
    --mca plm_rsh_agent "$TWO_HOSTS_AGENT" --mca pml ob1 --mca btl tcp,self \
    --mca btl_tcp_if_include "$TWO_HOSTS_NET.0/24" --mca oob_tcp_if_include "$TWO_HOSTS_NET.0/24" \
    --mca mpi_yield_when_idle 1 --mca orte_tmpdir_base "$TWO_HOSTS_SESSIONS" "$@"
}

# two_hosts_veth_bytes: bytes received + sent by host dsm-b's end of the veth pair so far.
two_hosts_veth_bytes() {
  local rx tx
  rx=$(ip netns exec "$TWO_HOSTS_NS_B" cat "/sys/class/net/$TWO_HOSTS_VETH_B/statistics/rx_bytes")
  tx=$(ip netns exec "$TWO_HOSTS_NS_B" cat "/sys/class/net/$TWO_HOSTS_VETH_B/statistics/tx_bytes")
  echo $((rx + tx))
}

two_hosts_down() {
  local ns pid
  for ns in "$TWO_HOSTS_NS_A" "$TWO_HOSTS_NS_B"; do
    [[ -n $ns ]] || continue
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
}
