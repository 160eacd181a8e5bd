#!/usr/bin/env bash
# sessions_test.sh <dsm-sessions> <check_sessions.py> <mpirun...>: dsm-sessions at 3 ranks under
# DSM_MODEL, 10 rounds, with DSM_TRACE; the checker lines the logs up with the trace and reports the
# four guarantees. Read-your-writes must hold: every model of the course gives a process its own
# writes (the others are reported, not required: lazy release promises no coherence to racy reads,
# eager release no causality).
set -u
program=$1
checker=$2
shift 2
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_output sessions_test
dir=$(mktemp -d)
trap 'rm -rf "$out" "$dir"' EXIT
DSM_TRACE="$dir/t.json" "$@" -np 3 -x DSM_MODEL -x DSM_TRACE "$program" --rounds=10 >"$out" 2>&1 ||
  fail "dsm-sessions: exit status $?"
python3 "$checker" "$dir/t.json" "$dir/t.sessions" >"$out" 2>&1 || fail "checker: exit status $?"
cat "$out"
grep -q "^dsm-sessions under $DSM_MODEL" "$out" || fail "no header naming the model"
[[ $(grep -c "^  [a-z ]* \(held\|VIOLATED\)" "$out") -eq 4 ]] || fail "not four guarantees reported"
grep -q "^  read your writes *held" "$out" || fail "read-your-writes did not hold"
[[ $(grep -c "^  trace: rank [12]'s log lined up" "$out") -eq 2 ]] || fail "the logs did not line up with the trace"
echo "sessions_test: OK under $DSM_MODEL"
