#!/usr/bin/env bash
# log_levels.sh <model> <trace_probe> <mpirun...>: DSM_LOG levels filter what the runtime prints.
# error: no info or debug line; info: the configuration line, no debug line; debug: protocol
# decisions (a read miss, an acquire, messages sent and handled) and the info line. With a trace
# buffer of 10 events per rank, warn prints that events were dropped (and the file is still valid
# JSON); error does not.
set -u
model=$1
probe=$2
shift 2
out=$(mktemp)
dir=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$dir"' EXIT
fail() {
  echo "FAIL: $*"
  echo "----- output -----"
  head -c 20000 "$out"
  exit 1
}
run() {
  DSM_MODEL=$model DSM_LOG=$1 "${mpirun[@]}" -np 2 -x DSM_MODEL -x DSM_LOG "$probe" >"$out" 2>&1 || fail "probe failed at DSM_LOG=$1"
}
mpirun=("$@")
run error
grep -q "info: \|debug: " "$out" && fail "DSM_LOG=error printed info or debug lines"
run info
grep -q "rank 0: info: model=$model" "$out" || fail "DSM_LOG=info: no configuration line"
grep -q "debug: " "$out" && fail "DSM_LOG=info printed debug lines"
run debug
grep -qE "rank 1: debug: (read miss unit [0-9]* done in|fetch unit)" "$out" || fail "DSM_LOG=debug: no read miss (or fetch) line on rank 1"
grep -q "debug: acquire lock 1 " "$out" || fail "DSM_LOG=debug: no acquire line"
grep -qE "debug: send (lock_acq|lock_fwd|ec_acq) to rank" "$out" || fail "DSM_LOG=debug: no message line"
grep -q "debug: handle " "$out" || fail "DSM_LOG=debug: no handled-message line"
grep -q "info: " "$out" || fail "DSM_LOG=debug hides info lines"
export DSM_TRACE=$dir/small.json DSM_TRACE_EVENTS=10
mpirun+=(-x DSM_TRACE -x DSM_TRACE_EVENTS)
run warn
grep -q "rank 0: warn: DSM_TRACE: [0-9]* event(s) dropped past DSM_TRACE_EVENTS=10" "$out" || fail "DSM_LOG=warn: no warning about dropped events"
python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$DSM_TRACE" || fail "the trace with dropped events is not valid JSON"
run error
grep -q "warn: " "$out" && fail "DSM_LOG=error printed a warning"
echo "log_levels: OK under $model"
