#!/usr/bin/env bash
# run-transports.sh: what the node-local path saves and what a network hop costs. Runs the
# remote-miss micro benchmark (ranks 0 and 1 measured) and the Jacobi example at 2 and 4 ranks in
# these placements, and prints each figure with its ratio to the node-local one at the same ranks:
#   node, shm         one node, DSM_TRANSPORT=shm: node-mates through shared-memory queues, and
#                     under eager release a miss on a node-mate's unit copies its home copy directly
#   node, queues      the same with DSM_NODE_SHM=queues: the queues, no direct copies
#   node, mpi         one node, DSM_TRANSPORT=mpi: node-mates through the runtime's MPI path (vader)
#   node, mpi+eager   the same with btl_vader_eager_limit=8192 (a 4 KiB unit fits one eager send)
#   two hosts         two network namespaces joined by a veth pair (scripts/two-hosts.sh), MPI over
#                     TCP only, ranks alternating between the hosts (at 4 ranks two per host, so a
#                     rank has one node-mate through the queues and two ranks through TCP); as root
#                     only, else the rows are left out with the reason
# Then, with two hosts, the "between hosts" goals: a remote miss and a remote lock acquire at 2 ranks
# (one per host) as ratios to the floor the benchmark measures in the same run (a bare protection
# fault + an MPI round trip of the same bytes; an MPI round trip for the lock), min and median.
# Remote miss runs under DSM_MODEL=sequential (each miss is one request and one unit coming back)
# and eager-release (the model with the node-local fast path); Jacobi under every model in
# build/models.txt. Each figure is the median of $DSM_BENCH_REPS runs
# (default 3). Usage: run-transports.sh [n=512] [sweeps=50]
# Builds micro_remote_miss and jacobi in build/ (or $DSM_BUILD_DIR) if needed. These VMs are shared and
# noisy: compare the ratios of one run, and run it twice before believing a difference under 1.5x.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${DSM_BUILD_DIR:-build}
n=${1:-512}
sweeps=${2:-50}
reps=${DSM_BENCH_REPS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for v in $(compgen -e | grep '^DSM_' || true); do unset "$v"; done
LOCAL=(mpirun --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

if [[ ! -x "$BUILD_DIR/benchmarks/micro/micro_remote_miss" || ! -x "$BUILD_DIR/examples/jacobi" ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target micro_remote_miss micro_lock jacobi >/dev/null || exit 1
IFS='; ' read -r -a models <"$BUILD_DIR/models.txt"
miss=$(realpath "$BUILD_DIR/benchmarks/micro/micro_remote_miss")
lock=$(realpath "$BUILD_DIR/benchmarks/micro/micro_lock")
jacobi=$(realpath "$BUILD_DIR/examples/jacobi")

tmp=$(mktemp -d /tmp/dsm-transports.XXXXXX)
source scripts/two-hosts.sh
trap 'two_hosts_down; rm -rf "$tmp"' EXIT
placements=("node, shm" "node, queues" "node, mpi" "node, mpi+eager")
if two_hosts_up "$tmp" >"$tmp/why"; then
  placements+=("two hosts")
else
  echo "(two hosts left out: $(cat "$tmp/why"))"
fi

# launch <placement> <ranks> <program> [args...]
launch() {
  local where=$1 np=$2
  shift 2
  case $where in
    "node, shm") DSM_TRANSPORT=shm timeout 300 "${LOCAL[@]}" -np "$np" -x DSM_TRANSPORT -x DSM_MODEL "$@" ;;
    "node, queues") DSM_TRANSPORT=shm DSM_NODE_SHM=queues timeout 300 "${LOCAL[@]}" -np "$np" -x DSM_TRANSPORT -x DSM_NODE_SHM -x DSM_MODEL "$@" ;;
    "node, mpi") DSM_TRANSPORT=mpi timeout 300 "${LOCAL[@]}" -np "$np" -x DSM_TRANSPORT -x DSM_MODEL "$@" ;;
    "node, mpi+eager")
      DSM_TRANSPORT=mpi timeout 300 "${LOCAL[@]}" --mca btl_vader_eager_limit 8192 --mca btl_vader_max_send_size 65536 \
        -np "$np" -x DSM_TRANSPORT -x DSM_MODEL "$@" ;;
    "two hosts") TWO_HOSTS_TIMEOUT=300 two_hosts_mpirun -np "$np" -x DSM_MODEL "$@" ;;
  esac
}

median() { printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

for miss_model in sequential eager-release; do
echo "== remote miss of one 4 KiB unit, median us (ranks 0 and 1 measured), DSM_MODEL=$miss_model"
printf '%-16s %5s %10s %7s %10s %7s\n' placement ranks "read us" ratio "write us" ratio
for np in 2 4; do
  base_r="" base_w=""
  for where in "${placements[@]}"; do
    rs=() ws=()
    for ((i = 0; i < reps; i++)); do
      DSM_MODEL=$miss_model launch "$where" "$np" "$miss" >"$tmp/out" 2>&1
      rs+=("$(awk '$1 == "read_miss" {print $4}' "$tmp/out")")
      ws+=("$(awk '$1 == "write_miss" {print $4}' "$tmp/out")")
      [[ -n ${rs[-1]} ]] || { echo "remote_miss failed ($where, np $np):"; tail -5 "$tmp/out"; }
    done
    r=$(median "${rs[@]}")
    w=$(median "${ws[@]}")
    [[ -n $base_r ]] || { base_r=$r; base_w=$w; }
    printf '%-16s %5d %10s %7s %10s %7s\n' "$where" "$np" "${r:--}" "$(ratio "$r" "$base_r")" "${w:--}" "$(ratio "$w" "$base_w")"
  done
done
done

if [[ " ${placements[*]} " == *" two hosts "* ]]; then
  echo
  echo "== between hosts, 2 ranks (one per host), DSM_MODEL=sequential: ratio to the floor of the same run"
  printf '%-12s %10s %10s %9s %9s   %s\n' row "median us" "floor us" "min ratio" "median" goal
  for row in read_miss write_miss lock_remote; do
    program=$miss goal="under 2 (fault + MPI round trip)"
    [[ $row == lock_remote ]] && { program=$lock; goal="under 1.5 (MPI round trip)"; }
    us=() floors=() ratios=()
    for ((i = 0; i < reps; i++)); do
      DSM_MODEL=sequential launch "two hosts" 2 "$program" >"$tmp/out" 2>&1
      read -r u f q < <(awk -v r="$row" '$1 == r {print $4, $5, $6}' "$tmp/out")
      [[ -n ${q:-} ]] || { echo "$row failed:"; tail -5 "$tmp/out"; continue; }
      us+=("$u") floors+=("$f") ratios+=("$q")
    done
    printf '%-12s %10s %10s %9s %9s   %s\n' "$row" "$(median "${us[@]}")" "$(median "${floors[@]}")" \
      "$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" "$(median "${ratios[@]}")" "$goal"
  done
fi

echo
echo "== jacobi ${n}x${n}, $sweeps sweeps, ms per sweep (one barrier per sweep)"
printf '%-16s %5s' placement ranks
for m in "${models[@]}"; do printf ' %14s %6s' "$m" ratio; done
echo
for np in 2 4; do
  declare -A base=()
  for where in "${placements[@]}"; do
    printf '%-16s %5d' "$where" "$np"
    for m in "${models[@]}"; do
      ts=()
      for ((i = 0; i < reps; i++)); do
        DSM_MODEL=$m launch "$where" "$np" "$jacobi" "$n" "$sweeps" >"$tmp/out" 2>&1
        ts+=("$(sed -n 's/.* \([0-9.]*\) ms\/sweep.*: OK$/\1/p' "$tmp/out")")
      done
      t=$(median "${ts[@]}")
      [[ -n ${base[$m]:-} ]] || base[$m]=$t
      printf ' %14s %6s' "${t:-FAIL}" "$(ratio "$t" "${base[$m]}")"
    done
    echo
  done
  unset base
done
echo
echo "median of $reps runs each; ratio: the figure over the 'node, shm' figure at the same ranks (lower is better)."
