#!/usr/bin/env bash
# setup.sh: installs what dsm needs to build and test on a Debian machine (Debian 12 is the reference)
# and does nothing else. It asks dpkg first, so it is quick and silent-ish when everything is present.
# As root it runs apt-get update + install for the missing packages; as any other user it prints the
# exact command to run and exits 1. Called by scripts/test.sh and scripts/run.sh; safe to run again.
# OPTIONAL packages (clang's libFuzzer, for the fuzz test) are installed along as root; without them
# the build works and the fuzz test reports itself skipped, so a non-root user is only told about them.
set -euo pipefail

PACKAGES=(
  libopenmpi-dev openmpi-bin   # Open MPI: the launcher and the library
  libhwloc-dev                 # hwloc: topology and binding
  libboost-dev                 # Boost headers: Boost.Interprocess shared-memory queues
  nlohmann-json3-dev           # nlohmann-json: the trace and stats files, litmus.json, benchmark RESULT lines
  googletest libgtest-dev      # GoogleTest for the tests
  cmake g++ make pkg-config    # the build
  ninja-build                  # scripts/test.sh builds with Ninja: a tenth less time than make
  python3                      # scripts/run.sh reads the DSM_STATS JSON with it
  iproute2                     # `ip netns`: the two-host test (tests/netns) and benchmarks/run-hosts.sh
  python3-matplotlib           # scripts/compare-models.sh and benchmarks/run-suite.sh draw their plots with it
)

OPTIONAL=(
  clang libclang-rt-14-dev     # tests/fuzz: libFuzzer targets (test fuzz.short; skipped without them)
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
optional_missing=()
for p in "${OPTIONAL[@]}"; do
  installed "$p" || optional_missing+=("$p")
done
if [[ ${#optional_missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    missing+=("${optional_missing[@]}")
  else
    echo "setup: optional, for the fuzz test: apt-get install ${optional_missing[*]}" >&2
  fi
fi

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
