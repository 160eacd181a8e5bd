#!/usr/bin/env bash
# run-fuzz.sh: builds the libFuzzer targets of tests/fuzz with clang and runs each for a while.
#   run-fuzz.sh <work-dir> <seconds-per-target> [target...]
# Configures tests/fuzz/ (a project of its own) in <work-dir>/build with clang++, then runs every
# target (default: fuzz_message fuzz_diff) for <seconds> with -max_total_time, on a scratch corpus
# in <work-dir>/corpus/<target> seeded from tests/fuzz/corpus/<target> (the repository's seeds are
# never written). A finding (crash, sanitizer report, property violation, timeout, out-of-memory)
# fails the run; its input is kept in <work-dir>/findings/ and the command to replay it is printed.
# Prints, per target, the number of executions without a finding. Exits 77 (ctest: skipped) with a
# message when clang++ or its libFuzzer runtime is not installed. Environment: DSM_FUZZ_CXX picks the
# compiler; DSM_FUZZ_JOBS the build parallelism (default 2).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$1
seconds=$2
shift 2
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_message fuzz_diff)

cxx=${DSM_FUZZ_CXX:-}
if [[ -z $cxx ]]; then
  for c in clang++-14 clang++; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$(command -v "$c"); break; fi
  done
fi
if [[ -z $cxx ]]; then
  echo "SKIP: no clang++ found; the fuzz targets need clang's libFuzzer (apt-get install clang libclang-rt-14-dev)"
  exit 77
fi
mkdir -p "$work"
probe=$work/probe.cpp
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe" -o "$work/probe" >"$work/probe.log" 2>&1; then
  echo "SKIP: $cxx cannot link -fsanitize=fuzzer,address (libFuzzer runtime missing: apt-get install libclang-rt-14-dev)"
  cat "$work/probe.log"
  exit 77
fi

echo "-- build with $cxx in $work/build"
cmake -S "$here" -B "$work/build" -DCMAKE_CXX_COMPILER="$cxx" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; echo "FAIL: configuring tests/fuzz"; exit 1; }
cmake --build "$work/build" -j"${DSM_FUZZ_JOBS:-2}" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; echo "FAIL: building tests/fuzz"; exit 1; }

status=0
mkdir -p "$work/findings"
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  mkdir -p "$corpus"
  log=$work/$t.log
  # -rss_limit_mb/-malloc_limit_mb: an input that makes the code under test allocate more than
  # 1 GiB is a finding; -timeout: one input running for 10 s is one too.
  "$work/build/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -artifact_prefix="$work/findings/$t-" "$corpus" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -m1 '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: $t found a problem (exit $rc) after ${runs:-?} executions:"
    grep -E -A30 'ERROR|runtime error|fuzz property violated|deadly signal|Test unit written' "$log" | head -60
    echo "   replay: $work/build/$t <the input in $work/findings/>"
    status=1
  else
    echo "ok: $t: ${runs:-?} executions in ${seconds} s without a finding ($(ls "$corpus" | wc -l) inputs in the working corpus)"
  fi
done
exit $status
