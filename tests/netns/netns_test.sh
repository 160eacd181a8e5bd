#!/usr/bin/env bash
# netns_test.sh: dsm across two "hosts" made of two network namespaces joined by a veth pair.
# Usage: netns_test.sh <build-dir>        (ctest -L netns runs it; as root only)
#
# What it builds: namespaces dsm<id>a and dsm<id>b (unique per run), a veth pair with one end in
# each, addresses 10.77.<k>.1/24 and 10.77.<k>.2/24 that exist only inside those namespaces, and a
# launch agent that Open MPI uses instead of ssh: it gets `<host> <command...>` and runs the command
# inside that host's namespace, with its own hostname (unshare --uts: dsm-a, dsm-b), as a remote
# shell would. mpirun starts inside the first namespace; the hostfile names the two addresses. MPI is
# limited to TCP on the veth subnet (btl tcp,self; btl_tcp_if_include and oob_tcp_if_include), and
# yields when idle.
#
# What it runs, under every model in <build-dir>/models.txt: the lock, barrier and pointer suites
# (tests/mpi), three litmus tests (tests/conformance) and the counter and jacobi examples, at 2 ranks
# (one per host); counter also at 4 ranks (two per host: queues inside a host, TCP between them).
# Every run must pass, and every rank must report (DSM_LOG=info) that it is alone on its node (or
# with its one node-mate at 4 ranks) and reaches the other host through MPI. For counter at 2 ranks
# the bytes that crossed the veth pair (its kernel counters) must be at least the bytes dsm sent
# (DSM_STATS): the runtime's messages really went over TCP between the namespaces.
#
# Skips (exit 77, with the reason) when it cannot run here: not root, no `ip`/`unshare`, or the
# kernel refuses network namespaces or veth pairs. The namespaces, the veth pair (deleted with its
# namespace) and the temporary files are removed on every exit (trap), and processes left in the
# namespaces after a failure are killed by pid.
set -uo pipefail

build=$(cd "${1:?usage: netns_test.sh <build-dir>}" && pwd)
skip() {
  echo "SKIP: $*"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces and a veth pair); run as root: ctest -L netns"
command -v ip >/dev/null || skip "no 'ip' command (Debian package iproute2; scripts/setup.sh installs it)"
command -v unshare >/dev/null || skip "no 'unshare' command (util-linux)"
IFS='; ' read -r -a models <"$build/models.txt" || skip "no $build/models.txt (configure the build first)"

id=$(printf '%x%04x' $$ $((RANDOM % 65536)))
id=${id:0:8}
ns_a=dsm${id}a
ns_b=dsm${id}b
veth_a=dv${id}a  # interface names: at most 15 characters
veth_b=dv${id}b
k=$(($$ % 250 + 1))  # any subnet will do: its addresses exist only inside the two namespaces
net=10.77.$k
ip_a=$net.1
ip_b=$net.2
tmp=$(mktemp -d /tmp/dsm-netns.XXXXXX)

cleanup() {
  for ns in "$ns_a" "$ns_b"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_a" 2>"$tmp/err" || skip "cannot create a network namespace here: $(cat "$tmp/err")"
ip netns add "$ns_b" 2>"$tmp/err" || skip "cannot create a network namespace here: $(cat "$tmp/err")"
ip link add "$veth_a" type veth peer name "$veth_b" 2>"$tmp/err" || skip "cannot create a veth pair here: $(cat "$tmp/err")"
ip link set "$veth_a" netns "$ns_a" && ip link set "$veth_b" netns "$ns_b" &&
  ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a" && ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b" &&
  ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up &&
  ip -n "$ns_a" link set "$veth_a" up && ip -n "$ns_b" link set "$veth_b" up ||
  { echo "FAIL: could not configure the veth pair"; exit 1; }
ip netns exec "$ns_a" unshare --uts true 2>"$tmp/err" || skip "cannot create a UTS namespace here: $(cat "$tmp/err")"

# The launch agent: `agent <host> <command...>` runs the command in that host's namespace under its
# own hostname, through /bin/sh as ssh would. `agent --inside <name> <command...>` is its second
# half, already inside the namespaces.
cat >"$tmp/agent" <<EOF
#!/bin/sh
if [ "\$1" = --inside ]; then
  hostname "\$2" || exit 1
  shift 2
  exec /bin/sh -c "\$*"
fi
host=\$1
shift
case \$host in
  $ip_a) exec ip netns exec $ns_a unshare --uts "\$0" --inside dsm-a "\$@" ;;
  $ip_b) exec ip netns exec $ns_b unshare --uts "\$0" --inside dsm-b "\$@" ;;
esac
echo "agent: unknown host \$host" >&2
exit 1
EOF
chmod +x "$tmp/agent"
printf '%s slots=2\n%s slots=2\n' "$ip_a" "$ip_b" >"$tmp/hosts"

for v in $(compgen -e | grep '^DSM_' || true); do unset "$v"; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --hostfile "$tmp/hosts" --map-by node --bind-to none
        --mca plm_rsh_agent "$tmp/agent" --mca btl tcp,self
        --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24"
        --mca mpi_yield_when_idle 1)

veth_bytes() {  # bytes received + sent by host b's end of the veth pair
  local rx tx
  rx=$(ip netns exec "$ns_b" cat "/sys/class/net/$veth_b/statistics/rx_bytes")
  tx=$(ip netns exec "$ns_b" cat "/sys/class/net/$veth_b/statistics/tx_bytes")
  echo $((rx + tx))
}

failures=0
runs=0
# run <model> <ranks> <name> <program> [args...]: one mpirun across the two hosts, judged.
run() {
  local model=$1 np=$2 name=$3
  shift 3
  local out="$tmp/out" stats="$tmp/stats.json" start end before after
  rm -f "$stats"
  before=$(veth_bytes)
  start=$(date +%s%N)
  DSM_MODEL=$model DSM_LOG=info DSM_STATS=$stats DSM_LITMUS_ROUNDS=300 timeout 60 \
    ip netns exec "$ns_a" unshare --uts sh -c 'hostname dsm-a && exec "$@"' sh \
    "${mpirun[@]}" -np "$np" -x DSM_MODEL -x DSM_LOG -x DSM_STATS -x DSM_LITMUS_ROUNDS "$@" >"$out" 2>&1
  local rc=$?
  end=$(date +%s%N)
  after=$(veth_bytes)
  runs=$((runs + 1))
  local why=""
  if [[ $rc -eq 124 ]]; then
    why="did not finish within 60 s"
  elif [[ $rc -ne 0 ]]; then
    why="exit status $rc"
  fi
  # Every rank: alone on its node (or with one node-mate at 4 ranks), the other host through MPI.
  local per_host=$((np / 2))
  for ((r = 0; r < np; r++)); do
    [[ -z $why ]] || break
    grep -Eq "^dsm: rank $r: info: placement on dsm-[ab]: node-local rank [0-9]+ of $per_host:" "$out" ||
      why="rank $r does not report being one of $per_host rank(s) on host dsm-a or dsm-b"
    grep -Fq "dsm: rank $r: info: global space at" "$out" &&
      grep -F "dsm: rank $r: info: global space at" "$out" |
      grep -Fq "transport: $per_host rank(s) through shared-memory queues, $per_host through MPI" ||
      why="rank $r does not report reaching $per_host rank(s) through MPI"
  done
  local crossed=$((after - before)) sent=""
  if [[ -z $why && ($name == counter || $name == probe) && $np -eq 2 ]]; then
    sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["bytes_sent"])' "$stats" 2>/dev/null)
    if [[ -z $sent ]]; then
      why="no DSM_STATS total"
    elif [[ $name == counter && $sent -lt 100000 ]]; then
      why="dsm sent only $sent bytes, too few to tell its traffic from MPI's own"
    elif [[ $crossed -lt $sent ]]; then
      why="only $crossed bytes crossed the veth pair, but dsm sent $sent: its messages did not go over TCP"
    fi
  fi
  printf '%-8s %-14s np%d %6d ms %10d bytes over the veth%s  %s\n' "$name" "$model" "$np" \
    $(((end - start) / 1000000)) "$crossed" "${sent:+ (dsm sent $sent)}" "${why:-ok}"
  if [[ -n $why ]]; then
    failures=$((failures + 1))
    echo "----- output of: mpirun -np $np $* -----"
    tail -40 "$out"
    echo "-----"
  fi
}

echo "hosts: dsm-a $ip_a (namespace $ns_a), dsm-b $ip_b (namespace $ns_b); models: ${models[*]}"
t0=$(date +%s)
# The baseline: what init, one barrier and finalize put on the wire.
run sequential 2 probe "$build/tests/mpi/mpi_config_probe"
for model in "${models[@]}"; do
  run "$model" 2 lock "$build/tests/mpi/mpi_lock_test"
  run "$model" 2 barrier "$build/tests/mpi/mpi_barrier_test"
  run "$model" 2 pointer "$build/tests/mpi/mpi_pointer_test"
  run "$model" 2 litmus "$build/tests/conformance/conformance_litmus" \
    "--gtest_filter=collective.SB:collective.MP_lock:collective.SB_locks"
  run "$model" 2 counter "$build/examples/counter" 3000
  run "$model" 2 jacobi "$build/examples/jacobi" 128 20
  run "$model" 4 counter "$build/examples/counter" 100
done
echo "$runs runs across two namespaces in $(($(date +%s) - t0)) s, $failures failed"
[[ $failures -eq 0 ]]
