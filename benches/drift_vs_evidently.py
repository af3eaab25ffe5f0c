#!/usr/bin/env python3
"""feedloop drift vs Evidently DataDriftPreset: wall time, peak RSS, verdicts, scores.

How to run (from the repository root):

    cargo build --release            # builds target/release/feedloop (`feedloop drift`)
    python3 benches/drift_vs_evidently.py                 # 1M vs 1M rows x 12 columns
    python3 benches/drift_vs_evidently.py --rows 100000   # smaller
    python3 benches/drift_vs_evidently.py --feedloop path/to/feedloop --skip-evidently

The script is not a cargo bench target. On first use it creates a virtualenv
in $HOME/.cache/feedloop/bench-venv and installs numpy, pandas < 3, pyarrow and
psutil (required) and evidently 0.7 (optional: if it fails to install, only
feedloop is run and the report says so), then re-runs itself inside it.

Data (seeded, written once to --data-dir, default
$HOME/.cache/feedloop/bench-data/rows-<N>): reference.parquet and
current.parquet with 8 numeric columns (num_0..num_7, some drifted: mean
shift, variance change, scale change, nulls, an integer-valued one) and 4
categorical columns (cat_0..cat_3: strings, booleans, a small-cardinality
integer).

Each tool runs in its own process under `/usr/bin/time -v` (wall clock and
maximum resident set size); without /usr/bin/time the script polls the
process with psutil. Evidently is timed end to end (reading the Parquet files
with pandas + Report.run), as feedloop is (reading + computing + JSON).
Per-column verdicts and scores are then compared; results are written to
<data-dir>/results.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

VENV = os.path.join(os.path.expanduser("~"), ".cache", "feedloop", "bench-venv")
# evidently 0.7 imports pandas internals removed in pandas 3.
REQUIRED = ["numpy", "pandas<3", "pyarrow", "psutil"]
EVIDENTLY = "evidently>=0.7,<0.8"


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def bootstrap(argv):
    """Creates the venv if needed, installs packages, re-executes inside it."""
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        print(f"creating virtualenv {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
    check = "import numpy, pandas, pyarrow, psutil; assert int(pandas.__version__.split('.')[0]) < 3"
    if subprocess.run([py, "-c", check], capture_output=True).returncode != 0:
        print("installing " + " ".join(REQUIRED), flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *REQUIRED], check=True)
    evidently_ok = True
    if "--skip-evidently" not in argv and subprocess.run([py, "-c", "import evidently"], capture_output=True).returncode != 0:
        print(f"installing {EVIDENTLY} (may take a while)", flush=True)
        r = subprocess.run([py, "-m", "pip", "install", "-q", EVIDENTLY])
        evidently_ok = r.returncode == 0
        if not evidently_ok:
            print("evidently failed to install: running feedloop alone", flush=True)
    env = dict(os.environ, FEEDLOOP_BENCH_EVIDENTLY_INSTALLED="1" if evidently_ok else "0")
    os.execve(py, [py, os.path.abspath(__file__), *argv], env)


# --------------------------------------------------------------------------
# Data


def generate(data_dir, rows, seed=7):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref_path = os.path.join(data_dir, "reference.parquet")
    cur_path = os.path.join(data_dir, "current.parquet")
    if os.path.exists(ref_path) and os.path.exists(cur_path):
        print(f"data: reusing {data_dir}")
        return ref_path, cur_path
    os.makedirs(data_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = rows

    def side(current):
        c = 1.0 if current else 0.0
        cols = {}
        cols["num_0"] = rng.normal(0.0 + 0.25 * c, 1.0, n)                 # mean shift (drift)
        cols["num_1"] = rng.normal(5.0, 1.0 + 0.5 * c, n)                  # variance change (drift)
        cols["num_2"] = rng.normal(10.0, 2.0, n)                           # no drift
        cols["num_3"] = rng.exponential(1.0 + 0.3 * c, n)                  # scale change (drift)
        cols["num_4"] = rng.uniform(-1.0, 1.0, n)                          # no drift
        cols["num_5"] = rng.normal(0.0 + 0.02 * c, 1.0, n)                 # tiny shift (no drift at 0.1)
        cols["num_6"] = rng.poisson(20.0 + 2.0 * c, n).astype(np.int64)    # integer-valued, > 10 distinct
        x = rng.lognormal(0.0, 0.5, n)
        x[rng.random(n) < 0.05] = np.nan                                   # 5 % nulls
        cols["num_7"] = x
        cats = np.array(["red", "green", "blue", "black", "white"])
        cols["cat_0"] = cats[rng.integers(0, 5, n)]                        # no drift
        p = np.linspace(1, 2, 20) if current else np.ones(20)
        cols["cat_1"] = np.array([f"c{i:02d}" for i in range(20)])[rng.choice(20, n, p=p / p.sum())]  # drift
        cols["cat_2"] = rng.random(n) < (0.35 if current else 0.30)        # boolean, small drift
        cols["cat_3"] = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1] if not current else [0.25, 0.25, 0.25, 0.25]).astype(np.int64)
        arrays = {}
        for k, v in cols.items():
            if k == "num_7":
                arrays[k] = pa.array(v, from_pandas=True)                  # NaN -> null
            else:
                arrays[k] = pa.array(v)
        return pa.table(arrays)

    t0 = time.time()
    pq.write_table(side(False), ref_path, compression="zstd")
    pq.write_table(side(True), cur_path, compression="zstd")
    print(f"data: wrote {rows} + {rows} rows x 12 columns to {data_dir} in {time.time() - t0:.1f}s")
    return ref_path, cur_path


# --------------------------------------------------------------------------
# Measuring a process


def measure(cmd, stdout_path):
    """Runs cmd, stdout to stdout_path; returns (returncode, wall seconds, peak RSS MiB, stderr)."""
    timer = shutil.which("time") and os.path.exists("/usr/bin/time")
    with open(stdout_path, "wb") as out:
        if timer:
            t0 = time.time()
            p = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=out, stderr=subprocess.PIPE)
            wall = time.time() - t0
            err = p.stderr.decode(errors="replace")
            rss = None
            for line in err.splitlines():
                if "Maximum resident set size" in line:
                    rss = int(line.split(":")[-1].strip()) / 1024.0
            return p.returncode, wall, rss, err
        import psutil

        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        proc = psutil.Process(p.pid)
        peak = 0
        while p.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
        wall = time.time() - t0
        return p.returncode, wall, peak / 2**20, p.stderr.read().decode(errors="replace")


# --------------------------------------------------------------------------
# Evidently worker (runs in its own process)

# Evidently's display names -> registered names (as feedloop reports them).
EVIDENTLY_TESTS = {
    "K-S p_value": "ks",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance (normed)": "hellinger",
}


def evidently_worker(ref_path, cur_path):
    import pandas as pd

    t0 = time.time()
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    t_load = time.time() - t0
    try:
        from evidently.legacy.metric_preset import DataDriftPreset
        from evidently.legacy.report import Report
    except ImportError:  # evidently < 0.7
        from evidently.metric_preset import DataDriftPreset
        from evidently.report import Report
    import evidently

    t1 = time.time()
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur)
    d = report.as_dict()
    t_run = time.time() - t1
    out = {"version": evidently.__version__, "load_s": t_load, "run_s": t_run, "columns": {}}
    for m in d["metrics"]:
        r = m["result"]
        if "share_of_drifted_columns" in r:
            out["dataset_drift"] = bool(r["dataset_drift"])
            out["share_drifted"] = float(r["share_of_drifted_columns"])
        if "drift_by_columns" in r:
            for name, c in r["drift_by_columns"].items():
                out["columns"][name] = {
                    "kind": "numeric" if c["column_type"] == "num" else "categorical",
                    "test": EVIDENTLY_TESTS.get(c["stattest_name"], c["stattest_name"]),
                    "score": float(c["drift_score"]),
                    "threshold": c.get("stattest_threshold"),
                    "drift": bool(c["drift_detected"]),
                }
    json.dump(out, sys.stdout)


# --------------------------------------------------------------------------


def compare(fl, ev):
    rows = []
    names = sorted(set(fl.get("columns", {})) | set(ev.get("columns", {})))
    for name in names:
        a = fl.get("columns", {}).get(name)
        b = ev.get("columns", {}).get(name)
        rel = None
        if a and b and isinstance(a["score"], (int, float)) and isinstance(b["score"], (int, float)):
            rel = abs(a["score"] - b["score"]) / max(abs(b["score"]), 1e-300) if b["score"] != a["score"] else 0.0
        rows.append((name, a, b, rel))
    print(f"\n{'column':8}  {'feedloop test':>14} {'score':>12} {'drift':>5}   {'evidently test':>14} {'score':>12} {'drift':>5}   {'rel diff':>9}")
    agree = 0
    for name, a, b, rel in rows:
        fa = (a["test"], f"{a['score']:.6g}" if isinstance(a["score"], float) else str(a["score"]), str(a["drift"])) if a else ("-", "-", "-")
        fb = (b["test"], f"{b['score']:.6g}", str(b["drift"])) if b else ("-", "-", "-")
        if a and b and a["drift"] == b["drift"]:
            agree += 1
        print(f"{name:8}  {fa[0]:>14} {fa[1]:>12} {fa[2]:>5}   {fb[0]:>14} {fb[1]:>12} {fb[2]:>5}   {'' if rel is None else f'{rel:.1e}':>9}")
    both = sum(1 for _, a, b, _ in rows if a and b)
    rels = [r for *_, r in rows if r is not None]
    print(f"\nverdicts agree on {agree}/{both} columns; max relative score difference {max(rels) if rels else float('nan'):.2e}")
    return {"agree": agree, "compared": both, "max_rel_diff": max(rels) if rels else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feedloop", default="target/release/feedloop", help="feedloop binary (default target/release/feedloop)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side (default 1000000)")
    ap.add_argument("--data-dir", default=None, help="where the Parquet files go")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--skip-feedloop", action="store_true")
    ap.add_argument("--evidently-worker", nargs=2, metavar=("REF", "CUR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.evidently_worker:
        evidently_worker(*args.evidently_worker)
        return
    data_dir = args.data_dir or os.path.join(os.path.expanduser("~"), ".cache", "feedloop", "bench-data", f"rows-{args.rows}")
    ref, cur = generate(data_dir, args.rows)
    results = {"rows": args.rows, "data_dir": data_dir, "cpus": os.cpu_count()}

    fl = {}
    if args.skip_feedloop:
        print("feedloop: skipped (--skip-feedloop)")
    elif not (os.path.isfile(args.feedloop) and os.access(args.feedloop, os.X_OK)):
        print(f"feedloop: binary not found at {args.feedloop} (build it with `cargo build --release` or pass --feedloop)")
        results["feedloop"] = {"error": "binary not found"}
    else:
        out = os.path.join(data_dir, "feedloop.json")
        cmd = [args.feedloop, "drift", "--reference", ref, "--current", cur, "--format", "json"]
        rc, wall, rss, err = measure(cmd, out)
        if rc != 0:
            print(f"feedloop failed (exit {rc}):\n{err[-3000:]}")
            results["feedloop"] = {"error": f"exit {rc}"}
        else:
            fl = json.load(open(out))
            print(f"feedloop:  wall {wall:8.2f} s   peak RSS {rss:8.1f} MiB   dataset drift {fl['dataset_drift']} (share {fl['share_drifted']:.3f})")
            results["feedloop"] = {"wall_s": wall, "peak_rss_mib": rss, "report": fl}

    ev = {}
    installed = os.environ.get("FEEDLOOP_BENCH_EVIDENTLY_INSTALLED", "1") == "1"
    if args.skip_evidently:
        print("evidently: skipped (--skip-evidently)")
    elif not installed:
        print("evidently: not installed (pip install failed); feedloop ran alone")
        results["evidently"] = {"error": "not installed"}
    else:
        out = os.path.join(data_dir, "evidently.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--evidently-worker", ref, cur]
        rc, wall, rss, err = measure(cmd, out)
        if rc != 0:
            print(f"evidently failed (exit {rc}):\n{err[-3000:]}")
            results["evidently"] = {"error": f"exit {rc}"}
        else:
            ev = json.load(open(out))
            print(
                f"evidently: wall {wall:8.2f} s   peak RSS {rss:8.1f} MiB   dataset drift {ev.get('dataset_drift')} "
                f"(share {ev.get('share_drifted', float('nan')):.3f}; evidently {ev['version']}: load {ev['load_s']:.1f} s, Report.run {ev['run_s']:.1f} s)"
            )
            results["evidently"] = {"wall_s": wall, "peak_rss_mib": rss, "report": ev}

    if fl and ev:
        results["comparison"] = compare(fl, ev)
        a, b = results["feedloop"], results["evidently"]
        print(f"speed-up {b['wall_s'] / a['wall_s']:.1f}x, memory {b['peak_rss_mib'] / a['peak_rss_mib']:.1f}x less")
    elif ev:
        print("\nEvidently per-column results:")
        for name, c in sorted(ev["columns"].items()):
            print(f"  {name:8} {c['kind']:12} {c['test']:14} score {c['score']:.6g} drift {c['drift']}")
    path = os.path.join(data_dir, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    if not in_venv() and "--evidently-worker" not in sys.argv:
        bootstrap(sys.argv[1:])
    main()
