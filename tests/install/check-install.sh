#!/usr/bin/env bash
# check-install.sh: the install test (registered by tests/install/CMakeLists.txt).
#   check-install.sh <build-dir> <consumer-src> <work-dir> <cmake> <mpiexec> <mpicc>
# 1. `cmake --install <build-dir> --prefix <work-dir>/prefix`;
# 2. every installed file must be a public header (include/dsm/dsm.h, dsm.hpp, detail/...), the
#    library (lib/libdsm*), the package config (lib/cmake/dsm/*) or the litmus runner with its
#    programs (bin/dsm-litmus, share/dsm/litmus.json and models.json), and no installed header may include
#    a runtime header;
# 3. the outside project <consumer-src> is configured with -DCMAKE_PREFIX_PATH=<prefix> and built;
#    its C program is also built with plain mpicc -I -L -ldsm;
# 4. each program runs under mpirun -np 2 and must print its ": OK" line; so must the installed
#    bin/dsm-litmus with its installed litmus.json. In a sanitizer build, DSM_INSTALL_PRELOAD names
#    the sanitizer runtime, preloaded into these programs only (-x LD_PRELOAD).
set -euo pipefail
build=$1 consumer=$2 work=$3 cmake=$4 mpiexec=$5 mpicc=$6
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
fail() { echo "install test: FAIL: $*"; exit 1; }

echo "-- [1/4] cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }

echo "-- [2/4] installed files"
libdir='lib(64)?(/[a-z0-9_]+-linux-gnu)?'
allowed="^(include/dsm/dsm\.h|include/dsm/dsm\.hpp|include/dsm/detail/[^/]+|$libdir/libdsm[^/]*|$libdir/cmake/dsm/[^/]+|bin/dsm-litmus|share/dsm/litmus\.json|share/dsm/models\.json)$"
bad=0
while IFS= read -r f; do
  echo "   $f"
  if ! [[ $f =~ $allowed ]]; then echo "   ^ not part of the public package"; bad=1; fi
done < <(cd "$prefix" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
[[ $bad -eq 0 ]] || fail "files outside the public package were installed"
[[ -f $prefix/include/dsm/dsm.h && -f $prefix/include/dsm/dsm.hpp ]] || fail "public headers missing"
find "$prefix" -name 'libdsm*' | grep -q . || fail "libdsm missing"
config=$(find "$prefix" -name dsmConfig.cmake | head -1)
[[ -n $config ]] || fail "dsmConfig.cmake missing"
if grep -rnE '#[[:space:]]*include[[:space:]]*"(core|memory|coherence|sync|transport|topology|alloc|runtime)/' "$prefix/include"; then
  fail "an installed header includes a runtime header"
fi

echo "-- [3/4] build the outside project against $prefix"
"$cmake" -S "$consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; fail "configuring the consumer (find_package(dsm))"; }
"$cmake" --build "$work/consumer-build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the consumer"; }

# The C program with plain mpicc, as the README shows it.
libdir_path=$(dirname "$(find "$prefix" -name 'libdsm*' | head -1)")
extra=()
if ! ls "$libdir_path"/libdsm.so >/dev/null 2>&1; then extra=(-lstdc++ -lhwloc -lpthread -lrt); fi
"$mpicc" -std=c11 -o "$work/consumer_c_mpicc" "$consumer/main.c" -I"$prefix/include" -L"$libdir_path" \
  -Wl,-rpath,"$libdir_path" -ldsm "${extra[@]}" >"$work/mpicc.log" 2>&1 || { cat "$work/mpicc.log"; fail "mpicc build of main.c"; }

echo "-- [4/4] run with $mpiexec -np 2"
preload=()
[[ -n ${DSM_INSTALL_PRELOAD:-} ]] && preload=(-x "LD_PRELOAD=$DSM_INSTALL_PRELOAD")
for exe in "$work/consumer-build/consumer" "$work/consumer-build/consumer_c" "$work/consumer_c_mpicc"; do
  status=0
  out=$(timeout 120 "$mpiexec" --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 \
        "${preload[@]}" -np 2 "$exe" 2>&1) || status=$?
  echo "$out" | sed 's/^/   /'
  [[ $status -eq 0 ]] || fail "$(basename "$exe") exited with $status"
  grep -q ": OK$" <<<"$out" || fail "$(basename "$exe") did not print its OK line"
done
# The litmus runner runs from the prefix and finds its litmus.json there.
status=0
out=$(timeout 120 "$mpiexec" --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 \
      -np 2 "$prefix/bin/dsm-litmus" --rounds=20 MP+lock 2>&1) || status=$?
echo "$out" | sed 's/^/   /'
[[ $status -eq 0 ]] || fail "bin/dsm-litmus exited with $status"
grep -q "^dsm-litmus: $prefix/bin/../share/dsm/litmus.json," <<<"$out" || fail "bin/dsm-litmus did not read the installed litmus.json"
grep -q "^dsm-litmus: 1 program(s) under .*: OK$" <<<"$out" || fail "bin/dsm-litmus did not print its OK line"
echo "install test: OK"
