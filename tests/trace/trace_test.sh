#!/usr/bin/env bash
# trace_test.sh <model or lazy-homeless> <trace_probe> <mpirun...>: runs trace_probe at 2 ranks with DSM_TRACE set and
# checks the file with check_trace.py (valid JSON, the expected events, matched message flows).
set -u
model=$1
probe=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export DSM_MODEL=$model DSM_LAZY=home DSM_TRACE=$dir/trace.json
# lazy-homeless: lazy release with the homeless protocol (DSM_LAZY=homeless).
[[ $model == lazy-homeless ]] && export DSM_MODEL=lazy-release DSM_LAZY=homeless
if ! "$@" -np 2 -x DSM_MODEL -x DSM_LAZY -x DSM_TRACE "$probe"; then
  echo "FAIL: trace_probe failed under $model"
  exit 1
fi
[[ -s $dir/trace.json ]] || { echo "FAIL: no trace file written"; exit 1; }
python3 "$here/check_trace.py" "$dir/trace.json" "$model"
