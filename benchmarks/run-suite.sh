#!/usr/bin/env bash
# run-suite.sh: the benchmark suite in one command. Builds what is needed in build/ (or
# $DSM_BUILD_DIR, or --build-dir), runs the micro benchmarks and the applications at 1, 2 and 4 ranks,
# the dsm versions under every model in build/models.txt, plus the MPI and threads versions; prints a
# progress line per run and the table; writes results.json, results.csv, table.txt, logs/, stats/ and
# PNG plots into benchmarks/results/<date-time>/ (or --out). Exits 1 if any run failed or timed out.
#   bash benchmarks/run-suite.sh [--quick|--full|--smoke] [--ranks "1 2 4"] [--models "..."]
#                                [--apps "jacobi tsp ..."|none] [--micro "remote_miss lock ..."|none]
#                                [--hostfile FILE] [--mpirun-args "..."] [--no-build] [--out DIR]
# `--help` lists every option. The work is done by run_suite.py (Python 3 + matplotlib for the plots).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The Python that has matplotlib: Debian's python3-matplotlib lives in /usr/bin/python3, which another
# python3 earlier in PATH (pyenv, a venv) does not see.
py=python3
if ! python3 -c 'import matplotlib' 2>/dev/null && [[ -x /usr/bin/python3 ]] \
    && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  py=/usr/bin/python3
fi
exec "$py" "$here/run_suite.py" "$@"
