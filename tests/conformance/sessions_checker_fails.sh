#!/usr/bin/env bash
# sessions_checker_fails.sh <check_sessions.py>: the client-centric checker finds what it must. On
# hand-written logs of dsm-sessions, one violation of each guarantee (the client reads x = 5 then 3,
# writes y = 4 then reads 2; the observer reads w = 5 then 4, and z = 7 then x = 6) is reported once
# each; on the same logs put right, all four hold.
set -u
checker=$1
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
dsm_output sessions_checker_fails
dir=$(mktemp -d)
trap 'rm -rf "$out" "$dir"' EXIT
write() {  # write <x2> <y2> <w2> <x4>
  cat >"$dir/s.1.json" <<JSON
{"rank": 1, "model": "crafted", "barriers": [0, 100],
 "accesses": [[10, "R", "x", 5], [11, "R", "x", $1], [12, "W", "y", 4], [13, "R", "y", $2]]}
JSON
  cat >"$dir/s.2.json" <<JSON
{"rank": 2, "model": "crafted", "barriers": [0, 100],
 "accesses": [[10, "R", "w", 5], [11, "R", "w", $3], [12, "R", "z", 7], [13, "R", "x", $4]]}
JSON
}
write 3 2 4 6
python3 "$checker" - "$dir/s" >"$out" 2>&1 || fail "exit status $?"
for g in "monotonic reads" "read your writes" "monotonic writes" "writes follow reads"; do
  grep -q "^  $g *VIOLATED 1 times" "$out" || fail "$g: the violation is not reported"
  grep -q "^first violation of $g" "$out" || fail "$g: the first violation is not shown"
done
write 6 4 5 7
python3 "$checker" - "$dir/s" >"$out" 2>&1 || fail "exit status $?"
[[ $(grep -c "^  .* held  .* in 1 checks" "$out") -eq 4 ]] || fail "four guarantees should hold"
echo "sessions_checker_fails: OK"
