#!/usr/bin/env bash
# checker_fails.sh: check_trace.py rejects a broken trace (broken_trace.json: a flow that ends before
# it starts, a flow without a finish, a flow start outside any send slice, missing events), naming
# each problem, with exit status 1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$(python3 "$here/check_trace.py" "$here/broken_trace.json" sequential 2>&1)
rc=$?
echo "$out"
[[ $rc -eq 1 ]] || { echo "FAIL: exit status $rc, expected 1"; exit 1; }
for want in "ends (0.5) before it starts" "flow 9: 1 start(s), 0 finish(es)" "no read miss on rank 1" \
            "no release duration on rank 0" "sequential: no invalidation on rank 1"; do
  grep -qF "$want" <<<"$out" || { echo "FAIL: the checker did not report: $want"; exit 1; }
done
echo "checker_fails: OK"
