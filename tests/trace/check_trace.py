#!/usr/bin/env python3
"""check_trace.py <trace.json> <model>: checks the DSM_TRACE file of tests/trace/trace_probe at 2
ranks. Valid JSON in the Chrome trace event format; a named row per rank; acquire and release
durations on both ranks; a read miss on rank 1; barrier phases; every message a flow whose start
("s", on the sender, inside its "send" slice) has exactly one finish ("f", "bp":"e", on another
rank, not earlier); and the event the model is known for: an invalidation on rank 1 under
sequential, a diff created on rank 0 and applied on rank 1 under the release models (entry: the
common checks, with a fetch on rank 1 accepted in place of a read miss). Prints what failed and
exits 1."""
import json
import sys
from collections import defaultdict

path, model = sys.argv[1], sys.argv[2]
with open(path) as f:
    doc = json.load(f)
events = doc["traceEvents"] if isinstance(doc, dict) else doc
problems = []


def expect(cond, what):
    if not cond:
        problems.append(what)


for e in events:
    for key in ("ph", "pid"):
        expect(key in e, f"event without {key!r}: {e}")
    if e.get("ph") != "M":
        expect(isinstance(e.get("ts"), (int, float)), f"event without a numeric ts: {e}")
names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
expect(names.get(0) == "rank 0" and names.get(1) == "rank 1", f"process names {names}")


def has(name, pid, ph=None):
    return any(e.get("name") == name and e.get("pid") == pid and (ph is None or e.get("ph") == ph) for e in events)


for pid in (0, 1):
    expect(has("acquire", pid, "X"), f"no acquire duration on rank {pid}")
    expect(has("release", pid, "X"), f"no release duration on rank {pid}")
    for phase in ("barrier", "barrier: flush", "barrier: wait", "barrier: apply"):
        expect(has(phase, pid, "X"), f"no {phase!r} duration on rank {pid}")
if model == "entry":
    # Entry consistency may bring x with the lock token instead of at a fault.
    expect(has("read miss", 1, "X") or has("fetch", 1), "entry: neither a read miss nor a fetch on rank 1")
else:
    expect(has("read miss", 1, "X"), "no read miss on rank 1")
if model in ("sequential", "eager-release", "lazy-release", "lazy-homeless"):
    expect(has("write miss", 0, "X"), "no write miss on rank 0")

starts = defaultdict(list)
finishes = defaultdict(list)
for e in events:
    if e.get("ph") == "s":
        starts[e["id"]].append(e)
    elif e.get("ph") == "f":
        finishes[e["id"]].append(e)
        expect(e.get("bp") == "e", f"flow finish without bp=e: {e}")
expect(len(starts) > 0, "no message flows")
for fid, s in starts.items():
    f = finishes.get(fid, [])
    if len(s) != 1 or len(f) != 1:
        problems.append(f"flow {fid}: {len(s)} start(s), {len(f)} finish(es)")
        continue
    s, f = s[0], f[0]
    expect(s["pid"] != f["pid"], f"flow {fid} starts and ends on rank {s['pid']}")
    expect(f["ts"] >= s["ts"], f"flow {fid} ends ({f['ts']}) before it starts ({s['ts']})")
    expect(s["name"] == f["name"], f"flow {fid}: {s['name']} vs {f['name']}")
for fid in finishes:
    expect(fid in starts, f"flow {fid} finishes without a start")
# Each flow start lies inside a "send" slice of its thread, so the viewer binds the arrow to it.
slices = defaultdict(list)
for e in events:
    if e.get("ph") == "X":
        slices[(e["pid"], e["tid"])].append(e)
for fid, s in starts.items():
    s = s[0]
    expect(any(x["name"].startswith("send ") and x["ts"] <= s["ts"] <= x["ts"] + x["dur"] for x in slices[(s["pid"], s["tid"])]),
           f"flow {fid} start is not inside a send slice")

if model == "sequential":
    expect(has("invalidate", 1), "sequential: no invalidation on rank 1")
elif model in ("eager-release", "lazy-homeless"):
    expect(has("diff created", 0), f"{model}: no diff created on rank 0")
    expect(has("diff applied", 1), f"{model}: no diff applied on rank 1")
    expect(has("twin", 0), f"{model}: no twin on rank 0")
    if model == "lazy-homeless":
        expect(has("invalidate", 1), "lazy-homeless: no invalidation (write notice) on rank 1")
elif model == "lazy-release":
    # Home-based: rank 0 first wrote x, so it is x's home and writes it in place (no twin); the
    # write notice reaches rank 1 with the lock, and x's unit with it (rank 1 held a copy).
    expect(has("invalidate", 1), "lazy-release: no invalidation (write notice) on rank 1")
    expect(has("fetch", 1), "lazy-release: rank 1 did not get x's unit")
    expect(not has("twin", 0), "lazy-release: rank 0 twinned a unit it is the home of")

if problems:
    print(f"check_trace: {path} ({model}): {len(problems)} problem(s)")
    for p in problems[:40]:
        print("  " + p)
    sys.exit(1)
print(f"check_trace: {path} ({model}): OK, {len(events)} events, {len(starts)} message flows")
