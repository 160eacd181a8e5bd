#!/usr/bin/env bash
# compare-models.sh: one program under every model this build implements (build/models.txt), and
# under lazy release's homeless protocol (DSM_LAZY=homeless), side by side: wall time (median of -r
# runs), messages, bytes, read and write misses, units fetched, twins, diffs created and applied,
# invalidations and remote lock acquires from DSM_STATS (summed over the ranks), and a PNG of bar
# charts (python3-matplotlib).
#   bash scripts/compare-models.sh                       # examples/counter at 2 ranks
#   bash scripts/compare-models.sh -n 4 jacobi 256 50    # an example by name, with its arguments
#   bash scripts/compare-models.sh -o out.png ./build/benchmarks/release/lock_pingpong
# Options (before the program): -n ranks (2), -r runs per model (3), -o plot (build/compare-<prog>.png),
# -b build directory (build, or DSM_BUILD_DIR). Exits 1 if a run failed or printed ": FAIL".
set -euo pipefail
# Debian's python3-matplotlib is installed for the system interpreter; a python3 earlier on PATH (pyenv,
# a virtualenv) may not see it.
py=python3
if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; fi
exec "$py" "$(dirname "${BASH_SOURCE[0]}")/compare_models.py" "$@"
