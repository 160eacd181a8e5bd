#!/usr/bin/env python3
"""compare_models.py: runs one program under every model of this build (build/models.txt), and lazy
release also under its homeless protocol (DSM_LAZY=homeless), with DSM_STATS=json and prints, side by
side, wall time, messages, bytes, misses, twins, diffs and invalidations
summed over all ranks, then draws them as bar charts in one PNG (matplotlib). Called by
scripts/compare-models.sh, which documents the options."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIRUN = ["mpirun", "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader,tcp",
          "--mca", "mpi_yield_when_idle", "1"]
COLUMNS = [  # (header, how to compute it from the "total" counters)
    ("messages", lambda t: t["messages_sent"]),
    ("bytes", lambda t: t["bytes_sent"]),
    ("read misses", lambda t: t["read_misses"]),
    ("write misses", lambda t: t["write_misses"]),
    ("units fetched", lambda t: t["units_fetched"]),
    ("twins created", lambda t: t.get("twins_created", 0)),
    ("diffs created", lambda t: t["diffs_created"]),
    ("diffs applied", lambda t: t["diffs_applied"]),
    ("invalidations", lambda t: t["invalidations"]),
    ("remote acquires", lambda t: t["remote_lock_acquires"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--ranks", type=int, default=2)
    ap.add_argument("-r", "--repeats", type=int, default=3, help="runs per model; the median time is shown")
    ap.add_argument("-o", "--plot", help="PNG to write (default build/compare-<program>.png)")
    ap.add_argument("-b", "--build", default=os.environ.get("DSM_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("program", nargs="?", default="counter", help="an example name or a path (default: counter)")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    models_file = os.path.join(a.build, "models.txt")
    if not os.path.exists(models_file):
        sys.exit(f"compare-models: {models_file} not found; build first (cmake -S . -B build && cmake --build build)")
    models = [m for m in open(models_file).read().strip().replace(";", " ").split() if m]
    # Each model under its default protocol; lazy release also under the homeless (TreadMarks)
    # protocol that DSM_LAZY=homeless selects, to show what homes change.
    variants = []
    for m in models:
        variants.append((m, {"DSM_MODEL": m}))
        if m == "lazy-release":
            variants.append(("lazy-homeless", {"DSM_MODEL": m, "DSM_LAZY": "homeless"}))
    program = a.program
    if not os.path.sep in program:
        program = os.path.join(a.build, "examples", program)
    if not os.access(program, os.X_OK):
        sys.exit(f"compare-models: {program} is not an executable (an example name under {a.build}/examples, or a path)")
    name = os.path.basename(program)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("DSM_LAZY", None)  # each row names its lazy-release protocol itself

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, settings in variants:
            times, totals, check = [], None, "OK"
            exports = [x for k in ["DSM_STATS", *settings] for x in ("-x", k)]
            for k in range(a.repeats):
                stats = os.path.join(tmp, f"{model}.{k}.json")
                run_env = dict(env, DSM_STATS=stats, **settings)
                t0 = time.monotonic()
                try:
                    p = subprocess.run(MPIRUN + ["-np", str(a.ranks)] + exports + [program] + a.args,
                                       env=run_env, capture_output=True, text=True, timeout=a.timeout)
                    status, out = p.returncode, p.stdout + p.stderr
                except subprocess.TimeoutExpired:
                    status, out = "timeout", ""
                times.append(time.monotonic() - t0)
                if status != 0 or ": FAIL" in out:
                    check = f"FAIL ({status})"
                    sys.stderr.write(f"--- {name} under {model} failed ---\n{out[-3000:]}\n")
                    break
                with open(stats) as f:
                    doc = json.load(f)
                totals = totals or doc["total"]  # counters of the first run (they vary little)
            rows.append((model, statistics.median(times), totals, check))

    heads = ["model", "time (s)", "x seq"] + [c[0] for c in COLUMNS] + ["check"]
    base = next((r[1] for r in rows if r[0] == "sequential" and r[3] == "OK"), None)
    table = []
    for model, t, totals, check in rows:
        vals = [str(c[1](totals)) if totals else "-" for c in COLUMNS]
        table.append([model, f"{t:.3f}", f"{t / base:.2f}" if base else "-"] + vals + [check])
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(heads)]
    print(f"{name} {' '.join(a.args)} at {a.ranks} ranks; time = median wall time of {a.repeats} mpirun(s); "
          "counters summed over all ranks (DSM_STATS)")
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(heads, widths))))
    for r in table:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))))

    plot = a.plot or os.path.join(a.build, f"compare-{name}.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compare-models: python3-matplotlib is missing (bash scripts/setup.sh installs it); no plot")
        return 1 if any(r[3] != "OK" for r in rows) else 0
    panels = [("time (s)", [r[1] for r in rows])]
    column = dict(COLUMNS)
    for head, fn in COLUMNS[:2] + [("misses", None), ("diffs created", column["diffs created"]), ("invalidations", column["invalidations"])]:
        if head == "misses":
            vals = [(r[2]["read_misses"] + r[2]["write_misses"]) if r[2] else 0 for r in rows]
        else:
            vals = [fn(r[2]) if r[2] else 0 for r in rows]
        panels.append((head, vals))
    fig, grid = plt.subplots(2, 3, figsize=(10, 6.5))
    axes = grid.flatten()
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    labels = [r[0] for r in rows]
    for ax, (head, vals) in zip(axes, panels):
        ax.bar(range(len(vals)), vals, color=colors[: len(vals)])
        ax.set_title(head)
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    fig.suptitle(f"{name} {' '.join(a.args)} at {a.ranks} ranks, per model")
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    print(f"plot: {plot}")
    return 1 if any(r[3] != "OK" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
