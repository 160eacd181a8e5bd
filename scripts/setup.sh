#!/usr/bin/env bash
# setup.sh: installs what dsm needs to build and test on a Debian machine (Debian 12 is the reference)
# and does nothing else. It asks dpkg first, so it is quick and silent-ish when everything is present.
# As root it runs apt-get update + install for the missing packages; as any other user it prints the
# exact command to run and exits 1. Called by scripts/test.sh and scripts/run.sh; safe to run again.
set -euo pipefail

PACKAGES=(
  libopenmpi-dev openmpi-bin   # Open MPI: the launcher and the library
  libhwloc-dev                 # hwloc: topology and binding
  libboost-dev                 # Boost headers: Boost.Interprocess shared-memory queues
  googletest libgtest-dev      # GoogleTest for the tests
  cmake g++ make pkg-config    # the build
  python3                      # scripts/run.sh reads the DSM_STATS JSON with it
  iproute2                     # `ip netns`: the two-host test (tests/netns) and benchmarks/run-hosts.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
