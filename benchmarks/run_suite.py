#!/usr/bin/env python3
"""run_suite.py: the benchmark suite in one command (run it through benchmarks/run-suite.sh).

Builds what is missing in the build directory, then runs the micro benchmarks (benchmarks/micro/)
and the applications (benchmarks/<app>/, each as bench_<app>_dsm, _mpi and _threads) at the given
rank counts, the dsm version under every model of build/models.txt. Every run prints a progress
line; its stdout and stderr go to logs/ in the results directory, its DSM_STATS JSON to stats/. It
writes results.json and results.csv, prints the table (also saved as table.txt) and draws PNG plots
into plots/. A run that exits non-zero, reports "verified": false, prints no RESULT line or times
out is marked failed in the table, the suite goes on, and the command exits 1.

The contract with the programs: each prints `RESULT {json}` lines on stdout. An application prints
exactly one, {"app", "version": dsm|mpi|threads, "ranks", "model", "size", "time_s", "verified",
"check"} (bench_lu_dsm also "layout"); a micro benchmark prints one per row, {"app": "micro",
"bench", "op", "model", "ranks", "median_us", "floor_us", "ratio", "floor", "msgs_per_op",
"bytes_per_op", "verified", "check"}. Messages and bytes of a dsm application run are the "total"
messages_sent and bytes_sent of its DSM_STATS file.

Standard library only, plus matplotlib for the plots (skipped with a warning if it is missing).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = ["jacobi", "matmul", "tsp", "is", "nbody", "lu"]
MICRO = ["remote_miss", "lock", "barrier", "diff"]
LU_LAYOUTS = ["contiguous", "noncontiguous"]
MPIRUN_BASE = ["mpirun", "--oversubscribe", "--bind-to", "none", "--mca", "pml", "ob1",
               "--mca", "btl", "self,vader,tcp", "--mca", "mpi_yield_when_idle", "1"]
CSV_COLUMNS = ["kind", "app", "op", "version", "model", "layout", "ranks", "size", "status", "reason",
               "time_s", "speedup", "dsm_over_mpi", "dsm_over_threads", "median_us", "floor_us", "ratio",
               "floor", "launches", "ratio_min", "ratio_max", "messages", "bytes", "msgs_per_op", "bytes_per_op",
               "verified", "check", "wall_s", "log"]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="run-suite.sh",
        description="Run the dsm benchmark suite: micro benchmarks and applications, every model, "
                    "MPI and threads versions; writes JSON, CSV, a table and PNG plots.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="small sizes: the whole suite in under 5 minutes on a 2-core machine (default)")
    mode.add_argument("--full", dest="size", action="store_const", const="full", help="the real sizes")
    mode.add_argument("--smoke", dest="size", action="store_const", const="smoke",
                      help="micro benchmarks with a few repetitions (apps run at quick size); "
                           "for checking the runner itself")
    p.set_defaults(size="quick")
    p.add_argument("--ranks", default="1 2 4", help='rank counts, e.g. "1 2 4" (default)')
    p.add_argument("--models", default=None,
                   help="consistency models for the dsm versions (default: every model in "
                        "<build>/models.txt)")
    p.add_argument("--apps", default=" ".join(APPS),
                   help='applications to run, or "none" (default: "%s")' % " ".join(APPS))
    p.add_argument("--micro", default=" ".join(MICRO),
                   help='micro benchmarks to run, or "none" (default: "%s")' % " ".join(MICRO))
    p.add_argument("--build-dir", default=os.environ.get("DSM_BUILD_DIR", os.path.join(ROOT, "build")),
                   help="build directory (default: $DSM_BUILD_DIR or build/)")
    p.add_argument("--no-build", action="store_true",
                   help="use the executables already in the build directory; build nothing")
    p.add_argument("--out", default=None,
                   help="results directory (default: benchmarks/results/<date-time>/)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds before one run counts as hung (default: 120 quick, 1800 full)")
    p.add_argument("--hostfile", default=None,
                   help="an Open MPI hostfile: run the MPI jobs across its hosts (threads versions "
                        "run on this host)")
    p.add_argument("--mpirun-args", default="",
                   help='extra mpirun arguments, e.g. "--mca btl_tcp_if_include eth0"')
    p.add_argument("--repeat", type=int, default=None,
                   help="launches of each micro benchmark; each row shows the launch with the median "
                        "ratio and the range (default: 1 quick and smoke, 3 full)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    a = p.parse_args(argv)
    a.ranks = [int(r) for r in a.ranks.replace(",", " ").split()]
    a.apps = [] if a.apps.strip() == "none" else a.apps.replace(",", " ").split()
    a.micro = [] if a.micro.strip() == "none" else a.micro.replace(",", " ").split()
    for app in a.apps:
        if app not in APPS:
            p.error("unknown app '%s' (valid: %s, none)" % (app, " ".join(APPS)))
    for m in a.micro:
        if m not in MICRO:
            p.error("unknown micro benchmark '%s' (valid: %s, none)" % (m, " ".join(MICRO)))
    if not a.ranks or min(a.ranks) < 1:
        p.error("--ranks needs positive rank counts")
    if a.repeat is None:
        a.repeat = 3 if a.size == "full" else 1
    if a.repeat < 1:
        p.error("--repeat needs at least 1")
    if a.timeout is None:
        a.timeout = 1800.0 if a.size == "full" else 120.0
    a.build_dir = os.path.abspath(a.build_dir)
    return a


def log(msg=""):
    print(msg, flush=True)


# ---- the build ------------------------------------------------------------------------------------

def shown_path(path):
    """A path as results.json records it: relative to the source tree when inside it (committed
    results name no machine's directories)."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def read_models(build_dir):
    path = os.path.join(build_dir, "models.txt")
    with open(path) as f:
        return [m for m in re.split(r"[;\s]+", f.read()) if m]


def app_targets(app):
    return ["bench_%s_%s" % (app, v) for v in ("dsm", "mpi", "threads")]


def build(args, out_dir):
    """Configures if needed and builds the targets of the selected benchmarks. Returns the apps
    that failed to build (whose source folder exists) and those not in the tree at all."""
    build_log = os.path.join(out_dir, "build.log")
    present = [a for a in args.apps if os.path.isfile(os.path.join(ROOT, "benchmarks", a, "CMakeLists.txt"))]
    absent = [a for a in args.apps if a not in present]
    if args.no_build:
        return [], absent
    with open(build_log, "a") as logf:
        if not os.path.isfile(os.path.join(args.build_dir, "CMakeCache.txt")):
            log("== configuring %s" % args.build_dir)
            r = subprocess.run(["cmake", "-S", ROOT, "-B", args.build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                               stdout=logf, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                sys.exit("run-suite: configure failed, see %s" % build_log)
        groups = [("micro", ["micro_" + m for m in args.micro])] + [(a, app_targets(a)) for a in present]
        groups = [(name, t) for name, t in groups if t]
        failed = []
        if not groups:
            return failed, absent
        log("== building %s in %s" % (", ".join(n for n, _ in groups), args.build_dir))
        every = [t for _, ts in groups for t in ts]
        r = subprocess.run(["cmake", "--build", args.build_dir, "-j2", "--target"] + every,
                           stdout=logf, stderr=subprocess.STDOUT)
        if r.returncode != 0:  # find out which group is broken; build the others
            for name, ts in groups:
                r = subprocess.run(["cmake", "--build", args.build_dir, "-j2", "--target"] + ts,
                                   stdout=logf, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    failed.append(name)
                    log("   build of %s FAILED (see %s)" % (name, build_log))
    return failed, absent


def find_executable(build_dir, name):
    for top in (os.path.join(build_dir, "benchmarks"), build_dir):
        for dirpath, _dirs, files in os.walk(top):
            if name in files:
                path = os.path.join(dirpath, name)
                if os.access(path, os.X_OK):
                    return path
    return None


# ---- the runs -------------------------------------------------------------------------------------

class Run:
    """One program launch: an app version at some ranks (and model, layout), or a micro benchmark."""

    def __init__(self, kind, app, version, ranks, model="", layout="", op="", launch=0):
        self.kind, self.app, self.version, self.ranks = kind, app, version, ranks
        self.model, self.layout, self.op, self.launch = model, layout, op, launch

    @property
    def ident(self):
        parts = [self.app if self.kind == "app" else "micro_" + self.op, self.version]
        if self.model:
            parts.append(self.model)
        if self.layout:
            parts.append(self.layout)
        parts.append("np%d" % self.ranks)
        if self.launch:
            parts.append("launch%d" % self.launch)
        return ".".join(p for p in parts if p)

    @property
    def label(self):
        what = self.app if self.kind == "app" else "micro " + self.op
        extra = " ".join(x for x in (self.model, self.layout) if x)
        label = "%-18s %-8s %-28s np%d" % (what, self.version, extra, self.ranks)
        return label + (" #%d" % self.launch if self.launch else "")


def plan(args, models, skip_apps):
    runs = []
    multi = [r for r in args.ranks if r >= 2]
    launches = range(1, args.repeat + 1) if args.repeat > 1 else [0]
    for m in args.micro:
        if m == "diff":  # one process; no model involved
            runs += [Run("micro", "micro", "dsm", 1, op=m, launch=k) for k in launches]
            continue
        for model in models:
            for r in multi:
                runs += [Run("micro", "micro", "dsm", r, model=model, op=m, launch=k) for k in launches]
    for app in args.apps:
        if app in skip_apps:
            continue
        layouts = LU_LAYOUTS if app == "lu" else [""]
        for model in models:
            for layout in layouts:
                for r in args.ranks:
                    runs.append(Run("app", app, "dsm", r, model=model, layout=layout))
        for version in ("mpi", "threads"):
            for r in args.ranks:
                runs.append(Run("app", app, version, r))
    return runs


def command_for(run, args, exe, stats_path):
    size = "smoke" if run.kind == "micro" and args.size == "smoke" else ("full" if args.size == "full" else "quick")
    prog = [exe, "--size", size]
    if run.layout:
        prog += ["--layout", run.layout]
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if run.kind == "micro" and run.op == "diff":
        return prog, env
    if run.version == "threads":
        return prog + ["--threads", str(run.ranks)], env
    mpirun = list(MPIRUN_BASE)
    if args.hostfile:
        mpirun += ["--hostfile", args.hostfile]
    mpirun += args.mpirun_args.split()
    env.pop("DSM_STATS", None)
    if run.model:
        env["DSM_MODEL"] = run.model
        if stats_path:
            env["DSM_STATS"] = stats_path
    if args.hostfile:  # every DSM_* variable and the library path reach the ranks on the other hosts
        for var in sorted(v for v in env if v.startswith("DSM_")):
            mpirun += ["-x", var]
        if "LD_LIBRARY_PATH" in env:
            mpirun += ["-x", "LD_LIBRARY_PATH"]
    return mpirun + ["-np", str(run.ranks)] + prog, env


def execute(run, args, exe, out_dir):
    """Runs one program; returns (rows, status, reason, wall_s, log path)."""
    log_path = os.path.join(out_dir, "logs", run.ident + ".log")
    stats_path = None
    if run.kind == "app" and run.version == "dsm":
        stats_path = os.path.join(out_dir, "stats", run.ident + ".json")
        if os.path.exists(stats_path):
            os.remove(stats_path)
    cmd, env = command_for(run, args, exe, stats_path)
    t0 = time.monotonic()
    timed_out = False
    with open(log_path, "w") as logf:
        logf.write("$ %s\n" % " ".join(cmd))
        logf.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, env=env, cwd=ROOT,
                                start_new_session=True, text=True)
        try:
            stdout, _ = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)  # the job's own process group: mpirun and its ranks
            try:
                stdout, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
        logf.write(stdout or "")
    wall = time.monotonic() - t0

    results, bad_lines = [], 0
    for line in (stdout or "").splitlines():
        if line.startswith("RESULT "):
            try:
                results.append(json.loads(line[len("RESULT "):]))
            except ValueError:
                bad_lines += 1
    status, reason = "ok", ""
    if timed_out:
        status, reason = "timeout", "no end after %.0f s" % args.timeout
    elif proc.returncode != 0:
        status, reason = "failed", "exit status %d" % proc.returncode
    elif bad_lines:
        status, reason = "failed", "%d RESULT line(s) that are not JSON" % bad_lines
    elif not results:
        status, reason = "failed", "no RESULT line"
    elif run.kind == "app" and len(results) != 1:
        status, reason = "failed", "%d RESULT lines, expected 1" % len(results)
    elif not all(r.get("verified") is True for r in results):
        status, reason = "failed", "verification failed"

    messages = bytes_ = None
    if stats_path and os.path.exists(stats_path):
        try:
            with open(stats_path) as f:
                total = json.load(f)["total"]
            messages, bytes_ = total.get("messages_sent"), total.get("bytes_sent")
        except (ValueError, KeyError, OSError):
            pass

    rows = []
    for r in results or [{}]:
        row = {c: None for c in CSV_COLUMNS}
        row.update(kind=run.kind, app=run.app, op=run.op if run.kind == "micro" else "",
                   version=run.version, model=run.model, layout=run.layout, ranks=run.ranks, size=args.size,
                   status=status, reason=reason, wall_s=round(wall, 3),
                   log=os.path.relpath(log_path, out_dir))
        if run.kind == "micro":
            row["op"] = r.get("op", run.op)
            for k in ("median_us", "floor_us", "ratio", "floor", "msgs_per_op", "bytes_per_op"):
                row[k] = r.get(k)
            for k in ("msgs_per_op", "bytes_per_op"):
                if row[k] is not None and row[k] < 0:
                    row[k] = None
        else:
            row["time_s"] = r.get("time_s")
            row["layout"] = r.get("layout", run.layout) or run.layout
            row["messages"], row["bytes"] = messages, bytes_
        row["verified"] = r.get("verified")
        row["check"] = r.get("check")
        rows.append(row)
    return rows, status, reason, wall, log_path


# ---- derived columns, table ----------------------------------------------------------------------

def combine_launches(rows):
    """One row per micro benchmark operation, model and rank count: of several launches, the one
    with the median ratio, with the number of launches and the range of their ratios. Failed if any
    launch failed."""
    out, groups = [], {}
    for r in rows:
        if r["kind"] != "micro":
            out.append(r)
            continue
        k = (r["op"], r["model"], r["ranks"])
        if k not in groups:
            groups[k] = []
            out.append(k)
        groups[k].append(r)
    result = []
    for item in out:
        if not isinstance(item, tuple):
            result.append(item)
            continue
        rs = groups[item]
        bad = [r for r in rs if r["status"] != "ok"]
        if bad:
            chosen = dict(bad[0])
        else:
            rs = sorted(rs, key=lambda r: r["ratio"] if r["ratio"] is not None else 0)
            chosen = dict(rs[(len(rs) - 1) // 2])
            ratios = [r["ratio"] for r in rs if r["ratio"] is not None]
            if ratios:
                chosen["ratio_min"], chosen["ratio_max"] = min(ratios), max(ratios)
        chosen["launches"] = len(rs)
        result.append(chosen)
    return result


def derive(rows):
    """speedup (vs 1 rank of the same app, version, model, layout), dsm/MPI and dsm/threads."""
    ok_apps = [r for r in rows if r["kind"] == "app" and r["status"] == "ok" and r["time_s"]]
    times = {(r["app"], r["version"], r["model"], r["layout"], r["ranks"]): r["time_s"] for r in ok_apps}
    for r in ok_apps:
        one = times.get((r["app"], r["version"], r["model"], r["layout"], 1))
        if one:
            r["speedup"] = round(one / r["time_s"], 3)
        if r["version"] == "dsm":
            mpi = times.get((r["app"], "mpi", "", "", r["ranks"]))
            thr = times.get((r["app"], "threads", "", "", r["ranks"]))
            if mpi:
                r["dsm_over_mpi"] = round(r["time_s"] / mpi, 3)
            if thr:
                r["dsm_over_threads"] = round(r["time_s"] / thr, 3)


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows):
    lines = []
    micro = [r for r in rows if r["kind"] == "micro"]
    apps = [r for r in rows if r["kind"] == "app"]
    if micro:
        lines.append("Micro benchmarks (median of the operation; floor timed in the same run; ratio = median / floor; "
                     "of several launches, the one with the median ratio)")
        lines.append("%-16s %-14s %4s %11s %11s %7s %13s %8s %10s  %s" %
                     ("operation", "model", "np", "median us", "floor us", "ratio", "ratio range", "msgs/op",
                      "bytes/op", "status"))
        for r in micro:
            spread = "-"
            if r["launches"] and r["launches"] > 1 and r["ratio_min"] is not None:
                spread = "%.2f-%.2f" % (r["ratio_min"], r["ratio_max"])
            lines.append("%-16s %-14s %4d %11s %11s %7s %13s %8s %10s  %s" % (
                r["op"], r["model"] or "-", r["ranks"], fmt(r["median_us"], ".3f"), fmt(r["floor_us"], ".3f"),
                fmt(r["ratio"], ".2f"), spread, fmt(r["msgs_per_op"], ".2f"), fmt(r["bytes_per_op"], ".0f"),
                status_text(r)))
    if apps:
        if lines:
            lines.append("")
        lines.append("Applications (time of the timed region; speedup vs 1 rank of the same version; "
                     "dsm/MPI and dsm/threads at the same rank count)")
        lines.append("%-7s %-8s %-28s %4s %10s %8s %8s %8s %10s %13s  %s" %
                     ("app", "version", "model", "np", "time s", "speedup", "dsm/MPI", "dsm/thr", "messages",
                      "bytes", "status"))
        for r in apps:
            variant = " ".join(x for x in (r["model"], r["layout"]) if x) or "-"
            lines.append("%-7s %-8s %-28s %4d %10s %8s %8s %8s %10s %13s  %s" % (
                r["app"], r["version"], variant, r["ranks"], fmt(r["time_s"], ".4f"), fmt(r["speedup"], ".2f"),
                fmt(r["dsm_over_mpi"], ".2f"), fmt(r["dsm_over_threads"], ".2f"), fmt(r["messages"], "d"),
                fmt(r["bytes"], "d"), status_text(r)))
    return "\n".join(lines)


def status_text(r):
    if r["status"] == "ok":
        return "OK"
    return "%s (%s; %s)" % (r["status"].upper(), r["reason"], r["log"])


# ---- machine, outputs -----------------------------------------------------------------------------

def machine():
    info = {"hostname": platform.node(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
                             "Hypervisor vendor", "L2 cache", "L3 cache"):
                info["cpu " + k.strip()] = v.strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
        info["mpi"] = out.splitlines()[0].strip() if out else "?"
    except OSError:
        info["mpi"] = "?"
    try:
        with open("/proc/meminfo") as f:
            info["memory"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return info


def write_outputs(out_dir, rows, config, info, text):
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"machine": info, "config": config, "rows": rows}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else r[k]) for k in CSV_COLUMNS})
    with open(os.path.join(out_dir, "table.txt"), "w") as f:
        f.write(text + "\n")


def plot(out_dir, rows):
    """PNG plots: per app, time and speedup against ranks (one line per model and per version) and
    messages and bytes against ranks per model; for the micro benchmarks, ratio to the floor."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("run-suite: matplotlib is missing (Debian: python3-matplotlib; scripts/setup.sh installs it): no plots")
        return []
    plots_dir = os.path.join(out_dir, "plots")
    os.makedirs(plots_dir, exist_ok=True)
    made = []
    ok = [r for r in rows if r["status"] == "ok"]

    def series_name(r):
        if r["version"] != "dsm":
            return r["version"]
        return "dsm " + " ".join(x for x in (r["model"], r["layout"]) if x)

    for app in sorted({r["app"] for r in ok if r["kind"] == "app"}):
        mine = [r for r in ok if r["kind"] == "app" and r["app"] == app and r["time_s"]]
        series = {}
        for r in mine:
            series.setdefault(series_name(r), []).append(r)
        fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(11, 4.2))
        for name, rs in sorted(series.items()):
            rs.sort(key=lambda r: r["ranks"])
            style = "--" if name in ("mpi", "threads") else "-"
            ax_t.plot([r["ranks"] for r in rs], [r["time_s"] for r in rs], style, marker="o", label=name)
            sp = [r for r in rs if r["speedup"] is not None]
            if sp:
                ax_s.plot([r["ranks"] for r in sp], [r["speedup"] for r in sp], style, marker="o", label=name)
        ranks = sorted({r["ranks"] for r in mine})
        ax_s.plot(ranks, ranks, ":", color="grey", label="ideal")
        ax_t.set(title="%s: time" % app, xlabel="ranks (threads)", ylabel="time (s)", xticks=ranks)
        ax_s.set(title="%s: speedup vs 1 rank" % app, xlabel="ranks (threads)", ylabel="speedup", xticks=ranks)
        ax_t.legend(fontsize=7)
        ax_s.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(plots_dir, "%s_time_speedup.png" % app)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)

        dsm = [r for r in mine if r["version"] == "dsm" and r["messages"] is not None]
        if dsm:
            fig, (ax_m, ax_b) = plt.subplots(1, 2, figsize=(11, 4.2))
            by = {}
            for r in dsm:
                by.setdefault(series_name(r), []).append(r)
            for name, rs in sorted(by.items()):
                rs.sort(key=lambda r: r["ranks"])
                ax_m.plot([r["ranks"] for r in rs], [r["messages"] for r in rs], marker="o", label=name)
                ax_b.plot([r["ranks"] for r in rs], [r["bytes"] for r in rs], marker="o", label=name)
            ax_m.set(title="%s: dsm messages (all ranks)" % app, xlabel="ranks", ylabel="messages", xticks=ranks)
            ax_b.set(title="%s: dsm bytes (all ranks)" % app, xlabel="ranks", ylabel="bytes", xticks=ranks)
            ax_m.legend(fontsize=7)
            ax_b.legend(fontsize=7)
            fig.tight_layout()
            path = os.path.join(plots_dir, "%s_messages_bytes.png" % app)
            fig.savefig(path, dpi=90)
            plt.close(fig)
            made.append(path)

    micro = [r for r in ok if r["kind"] == "micro" and r["ratio"] is not None]
    if micro:
        ops = []
        for r in micro:
            if r["op"] not in ops:
                ops.append(r["op"])
        variants = []
        for r in micro:
            v = (r["model"], r["ranks"])
            if v not in variants:
                variants.append(v)
        colors = {v: "C%d" % (i % 10) for i, v in enumerate(variants)}
        fig, ax = plt.subplots(figsize=(min(14, 2 + 1.2 * len(ops)), 4.5))
        labelled = set()
        for j, op in enumerate(ops):  # each operation's bars centred on its tick
            here = [v for v in variants if any(r["op"] == op and (r["model"], r["ranks"]) == v for r in micro)]
            width = min(0.8 / max(1, len(here)), 0.3)
            for i, v in enumerate(here):
                r = [r for r in micro if r["op"] == op and (r["model"], r["ranks"]) == v][0]
                label = ("%s np%d" % v) if v[0] else "one process"
                ax.bar(j + (i - (len(here) - 1) / 2) * width, r["ratio"], width, color=colors[v],
                       label=None if label in labelled else label)
                labelled.add(label)
        ax.axhline(1.5, color="red", linestyle=":", label="goal: 1.5x floor")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(ops)))
        ax.set_xticklabels(ops, rotation=20, fontsize=8)
        ax.set(title="micro benchmarks: median / floor (log scale)", ylabel="ratio to floor")
        ax.legend(fontsize=6, ncol=3)
        fig.tight_layout()
        path = os.path.join(plots_dir, "micro_ratios.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)
    return made


# ---- main -----------------------------------------------------------------------------------------

def main(argv):
    args = parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.abspath(args.out or os.path.join(ROOT, "benchmarks", "results", stamp))
    for sub in ("", "logs", "stats"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    log("== run-suite: %s mode, ranks %s, results in %s" % (args.size, " ".join(map(str, args.ranks)), out_dir))

    build_failed, absent = build(args, out_dir)
    try:
        models = args.models.replace(",", " ").split() if args.models else read_models(args.build_dir)
    except OSError:
        sys.exit("run-suite: no models.txt in %s (configure the build first, or pass --models)" % args.build_dir)
    for app in absent:
        log("   %s: benchmarks/%s/ is not in this tree; skipped" % (app, app))
    runs = plan(args, models, set(absent))
    log("== %d runs: micro %s; apps %s; models %s" % (
        len(runs), " ".join(args.micro) or "none",
        " ".join(a for a in args.apps if a not in absent) or "none", " ".join(models)))

    rows = []
    failures = []
    t_start = time.monotonic()
    for i, run in enumerate(runs, 1):
        exe_name = "micro_" + run.op if run.kind == "micro" else "bench_%s_%s" % (run.app, run.version)
        group = "micro" if run.kind == "micro" else run.app
        elapsed = time.monotonic() - t_start
        print("[%3d/%d %3d:%02d] %s ... " % (i, len(runs), elapsed // 60, elapsed % 60, run.label), end="",
              flush=True)
        exe = find_executable(args.build_dir, exe_name)
        if exe is None or group in build_failed:
            reason = "build failed" if group in build_failed else "%s not found in %s" % (exe_name, args.build_dir)
            row = {c: None for c in CSV_COLUMNS}
            row.update(kind=run.kind, app=run.app, op=run.op, version=run.version, model=run.model,
                       layout=run.layout, ranks=run.ranks, size=args.size, status="failed", reason=reason, log="-")
            rows.append(row)
            failures.append(run.ident)
            print("FAILED (%s)" % reason, flush=True)
            continue
        new_rows, status, reason, wall, _ = execute(run, args, exe, out_dir)
        rows.extend(new_rows)
        if status != "ok":
            failures.append(run.ident)
            print("%s (%s) %.1f s" % (status.upper(), reason, wall), flush=True)
        elif run.kind == "micro":
            print("ok %.1f s: %s" % (wall, ", ".join("%s %.2fx" % (r["op"], r["ratio"] or 0) for r in new_rows)),
                  flush=True)
        else:
            print("ok %.1f s (timed %.4f s)" % (wall, new_rows[0]["time_s"] or 0), flush=True)

    rows = combine_launches(rows)
    derive(rows)
    text = table(rows)
    config = {"size": args.size, "ranks": args.ranks, "repeat": args.repeat, "models": models, "apps": args.apps,
              "micro": args.micro, "skipped_apps": absent, "build_dir": shown_path(args.build_dir),
              "hostfile": args.hostfile, "mpirun_args": args.mpirun_args, "timeout_s": args.timeout,
              "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "wall_s": round(time.monotonic() - t_start, 1)}
    info = machine()
    write_outputs(out_dir, rows, config, info, text)
    plots = [] if args.no_plots else plot(out_dir, rows)
    log("")
    log(text)
    log("")
    log("machine: %s; %s CPUs; kernel %s; %s" % (info.get("cpu Model name", "?"), info.get("cpu CPU(s)", "?"),
                                                 info["kernel"], info.get("mpi", "?")))
    log("results: %s/results.json, results.csv, table.txt%s" % (
        out_dir, ", plots/ (%d PNG)" % len(plots) if plots else ""))
    if failures or build_failed:
        log("run-suite: %d run(s) failed: %s" % (len(failures), " ".join(failures)))
        return 1
    log("run-suite: all %d runs OK (%.0f s)" % (len(runs), time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
