#!/usr/bin/env python3
"""check_sessions.py <trace.json|-> <prefix> [--merged=out.json]: checks the four client-centric
guarantees on the logs of dsm-sessions (<prefix>.1.json, the client; <prefix>.2.json, the observer)
and, given the run's DSM_TRACE file, shows for the first violation of each the protocol events of
the rank that saw it between the two accesses. --merged writes the trace with every logged access
added as an instant on its rank's application row ("read x = 17"), to open in ui.perfetto.dev.

The guarantees (Terry et al. 1994, as in Tanenbaum & van Steen, ch. 7), for the client's session:
  monotonic reads      each read of x by the client returns a version at least as new as its last
  read your writes     each read of y by the client returns at least the version it last wrote
  monotonic writes     the observer sees the client's writes to w in the order the client made them
  writes follow reads  an observer that sees z = v (the client wrote z = v after reading x = v) then
                       reads an x at least as new as v
The logs are the program's; the trace is read only to line violations up with protocol events.
Lines the logs' clock up with the trace's through the program's barriers, which appear in both.
Exits 0 (whatever held), 2 on a usage or file error."""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    merged = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("--merged=")), None)
    if len(args) != 2:
        print(__doc__.split("\n")[0], file=sys.stderr)
        return 2
    trace_path, prefix = args
    try:
        client, observer = load(prefix + ".1.json"), load(prefix + ".2.json")
        trace = load(trace_path) if trace_path != "-" else None
    except (OSError, ValueError) as e:
        print(f"check_sessions: {e}", file=sys.stderr)
        return 2
    events = trace["traceEvents"] if trace else []

    # The offset (us) that puts a log time (ns) on the trace's time line, per rank: the program's
    # barriers against the trace's "barrier" durations on that rank, whichever alignment of the two
    # lists gives the steadiest offset.
    def offset(log):
        ends = sorted(e["ts"] + e["dur"] for e in events
                      if e.get("name") == "barrier" and e.get("ph") == "X" and e.get("pid") == log["rank"])
        mine = [t / 1e3 for t in log["barriers"]]
        if not ends or len(ends) < len(mine):
            return None
        best = None
        for shift in range(len(ends) - len(mine) + 1):
            d = [ends[i + shift] - mine[i] for i in range(len(mine))]
            spread = max(d) - min(d)
            if best is None or spread < best[0]:
                best = (spread, sorted(d)[len(d) // 2])
        return best

    aligned = {log["rank"]: offset(log) for log in (client, observer)} if trace else {}
    shift = {rank: a[1] for rank, a in aligned.items() if a is not None}

    # dsm-sessions allocates x, y, w, z first, one unit each: units 0 to 3.
    names = {0: "x", 1: "y", 2: "w", 3: "z"}
    data_events = ("invalidate", "fetch", "diff applied", "read miss", "write miss")

    def between(rank, t0, t1, locs="xywz"):
        """The events on rank's rows between two log times (ns) that change its copy of `locs`."""
        if shift.get(rank) is None:
            return []
        a, b = t0 / 1e3 + shift[rank], t1 / 1e3 + shift[rank]
        out = []
        for e in events:
            if e.get("pid") != rank or e.get("name") not in data_events or not a <= e.get("ts", -1) <= b:
                continue
            unit = e.get("args", {}).get("unit")
            if names.get(unit, "?") not in locs:
                continue
            what = f"{e['name']} {names.get(unit, f'unit {unit}')}"
            if "from" in e.get("args", {}):
                what += f" from rank {e['args']['from']}"
            out.append((e["ts"] - a, what))
        return sorted(out)

    results = []  # (name, what, checked, violations, first violation)

    def check(name, what, pairs):
        checked, bad, first = 0, 0, None
        for ok, log, a, b in pairs:
            checked += 1
            if not ok:
                bad += 1
                first = first or (log, a, b)
        results.append((name, what, checked, bad, first))

    def reads(log, loc):
        return [a for a in log["accesses"] if a[1] == "R" and a[2] == loc]

    # monotonic reads: the client's successive reads of x.
    xs = reads(client, "x")
    check("monotonic reads", "the client's reads of x never return an older version",
          [(b[3] >= a[3], client, a, b) for a, b in zip(xs, xs[1:])])
    # read your writes: each client read of y against its last write of y.
    pairs, last = [], None
    for a in client["accesses"]:
        if a[2] == "y" and a[1] == "W":
            last = a
        elif a[2] == "y" and a[1] == "R" and last:
            pairs.append((a[3] >= last[3], client, last, a))
    check("read your writes", "the client's reads of y return at least its last write of y", pairs)
    # monotonic writes: the observer's successive reads of w (the client's versions, in its order).
    ws = reads(observer, "w")
    check("monotonic writes", "the observer sees the client's writes to w in the client's order",
          [(b[3] >= a[3], observer, a, b) for a, b in zip(ws, ws[1:])])
    # writes follow reads: the observer's read of z, then its next read of x.
    pairs, seen_z = [], None
    for a in observer["accesses"]:
        if a[1] != "R":
            continue
        if a[2] == "z":
            seen_z = a if a[3] > 0 else None
        elif a[2] == "x" and seen_z:
            pairs.append((a[3] >= seen_z[3], observer, seen_z, a))
            seen_z = None
    check("writes follow reads", "after seeing z = v, the observer reads an x at least as new as v", pairs)

    print(f"dsm-sessions under {client['model']}: the client (rank 1) made {len(client['accesses'])} accesses, "
          f"the observer (rank 2) {len(observer['accesses'])}, neither synchronising")
    for log in (client, observer) if trace else ():
        a = aligned[log["rank"]]
        print(f"  trace: rank {log['rank']}'s log lined up with its {len(log['barriers'])} barriers in the trace "
              f"(within {a[0]:.1f} us)" if a else f"  trace: rank {log['rank']}'s barriers do not line up with the trace's")
    for name, what, checked, bad, _ in results:
        verdict = "held" if bad == 0 else f"VIOLATED {bad} times"
        print(f"  {name:20} {verdict:18} in {checked} checks: {what}")
    # How fresh: between two barriers, how many new versions did each reader see arrive?
    first_change = {}

    def changes(log, loc):
        bounds, count, last = log["barriers"], 0, {}
        for a in log["accesses"]:
            if a[1] != "R" or a[2] != loc:
                continue
            b = sum(1 for x in bounds if x < a[0])  # the round: barriers passed
            if last.get(b) is not None and a[3] != last[b][3]:
                count += 1
                first_change.setdefault((log["rank"], loc), (last[b], a))
            last[b] = a
        return count
    print(f"  fresh values within a round: the client saw x change {changes(client, 'x')} times; the observer saw "
          f"x change {changes(observer, 'x')} times, w {changes(observer, 'w')} times, z {changes(observer, 'z')} times")
    if trace and (1, "x") in first_change:
        a, b = first_change[(1, "x")]
        evs = between(1, a[0], b[0], "x")
        print(f"  the first time: the client read x = {a[3]}, then x = {b[3]} {(b[0] - a[0]) / 1e3:.1f} us later; "
              f"rank 1's events on x in between: " + (", ".join(f"{w} (+{t:.1f} us)" for t, w in evs) if evs else "none"))
    for name, _, _, bad, first in results:
        if not first:
            continue
        log, a, b = first
        who = "client" if log is client else "observer"
        print(f"first violation of {name}: the {who} (rank {log['rank']}) "
              f"{'read' if a[1] == 'R' else 'wrote'} {a[2]} = {a[3]}, then {(b[1] == 'R') and 'read' or 'wrote'} "
              f"{b[2]} = {b[3]} {(b[0] - a[0]) / 1e3:.1f} us later")
        evs = between(log["rank"], a[0], b[0])
        if trace and shift.get(log["rank"]) is None:
            print("  (the trace's barriers do not line up with the log's)")
        elif trace:
            print(f"  rank {log['rank']}'s events on x, y, w, z in between: "
                  + (", ".join(f"{w} (+{t:.1f} us)" for t, w in evs) if evs else "none"))
    if merged and trace:
        for log in (client, observer):
            if shift.get(log["rank"]) is None:
                continue
            for t, kind, loc, v in log["accesses"]:
                events.append({"ph": "i", "s": "t", "cat": "session", "pid": log["rank"], "tid": 1,
                               "ts": round(t / 1e3 + shift[log["rank"]], 3),
                               "name": f"{'read' if kind == 'R' else 'write'} {loc} = {v}"})
        with open(merged, "w") as f:
            json.dump(trace, f)
        print(f"merged trace: {merged}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
