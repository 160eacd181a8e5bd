#!/usr/bin/env python3
"""check_suite_output.py <results dir> [--ranks N ...] [--models M ...] [--expect-plots]
                                       [--expect-failed OP]

Checks what benchmarks/run_suite.py wrote for the micro benchmarks: results.json and results.csv
parse, hold the same rows, and hold exactly one OK row per expected (operation, model, ranks) with
positive median and floor and ratio == median / floor; table.txt shows every row; with
--expect-plots, plots/micro_ratios.png is a PNG. With --expect-failed OP, checks instead that every
row of OP is marked failed with a reason. Exits 1 with the list of problems otherwise.
"""
import argparse
import csv
import json
import os
import sys

MICRO_OPS = {"remote_miss": ["read_miss", "write_miss"],
             "lock": ["lock_reacquire", "lock_remote", "lock_contended"],
             "barrier": ["barrier", "barrier_sleeping"]}
DIFF_OPS = ["diff_0pct", "diff_1pct", "diff_100pct"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--ranks", type=int, nargs="+", default=[2])
    p.add_argument("--models", nargs="+", default=[])
    p.add_argument("--expect-plots", action="store_true")
    p.add_argument("--expect-failed", default=None)
    a = p.parse_args()
    problems = []

    with open(os.path.join(a.dir, "results.json")) as f:
        doc = json.load(f)
    for key in ("machine", "config", "rows"):
        if key not in doc:
            problems.append("results.json has no '%s'" % key)
    rows = doc.get("rows", [])
    with open(os.path.join(a.dir, "results.csv"), newline="") as f:
        csv_rows = list(csv.DictReader(f))
    if len(csv_rows) != len(rows):
        problems.append("results.csv has %d rows, results.json %d" % (len(csv_rows), len(rows)))
    key = lambda r: (r["op"], r["model"] or "", int(r["ranks"]), r["status"])
    if sorted(map(key, csv_rows)) != sorted(map(key, rows)):
        problems.append("results.csv and results.json hold different rows")
    with open(os.path.join(a.dir, "table.txt")) as f:
        table = f.read().splitlines()

    if a.expect_failed:
        mine = [r for r in rows if r["op"] == a.expect_failed]
        if not mine:
            problems.append("no row for %s" % a.expect_failed)
        for r in mine:
            if r["status"] != "failed" or not r["reason"]:
                problems.append("%s %s np%d: status %s (%s), expected failed with a reason" % (
                    r["op"], r["model"], r["ranks"], r["status"], r["reason"]))
        if not any(a.expect_failed in line and "FAILED" in line for line in table):
            problems.append("table.txt does not show %s as FAILED" % a.expect_failed)
    else:
        expected = [(op, m, n) for ops in MICRO_OPS.values() for op in ops for m in a.models for n in a.ranks]
        expected += [(op, "", 1) for op in DIFF_OPS]
        for op, model, ranks in expected:
            hits = [r for r in rows if r["op"] == op and (r["model"] or "") == model and r["ranks"] == ranks]
            what = "%s %s np%d" % (op, model or "-", ranks)
            if len(hits) != 1:
                problems.append("%s: %d rows, expected 1" % (what, len(hits)))
                continue
            r = hits[0]
            if r["status"] != "ok" or r["verified"] is not True:
                problems.append("%s: status %s, verified %s (%s)" % (what, r["status"], r["verified"], r["reason"]))
                continue
            if not (r["median_us"] and r["median_us"] > 0 and r["floor_us"] and r["floor_us"] > 0):
                problems.append("%s: median %s, floor %s" % (what, r["median_us"], r["floor_us"]))
                continue
            if abs(r["ratio"] - r["median_us"] / r["floor_us"]) > 0.01 * r["ratio"] + 1e-3:
                problems.append("%s: ratio %s is not median / floor" % (what, r["ratio"]))
            if not any(line.split()[:3] == [op, model or "-", str(ranks)] for line in table):
                problems.append("%s: no line in table.txt" % what)
        extra = len(rows) - len(expected)
        if extra:
            problems.append("%d rows more than expected" % extra)
        if a.expect_plots:
            png = os.path.join(a.dir, "plots", "micro_ratios.png")
            try:
                with open(png, "rb") as f:
                    if f.read(8) != b"\x89PNG\r\n\x1a\n":
                        problems.append("%s is not a PNG" % png)
            except OSError:
                problems.append("no %s" % png)

    if problems:
        print("check_suite_output: %d problem(s) in %s:" % (len(problems), a.dir))
        for x in problems:
            print("  - " + x)
        return 1
    print("check_suite_output: %s OK (%d rows)" % (a.dir, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
