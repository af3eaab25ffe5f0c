#!/usr/bin/env python3
"""feedloop drift vs Evidently DataDriftPreset: wall time, peak RSS, verdicts, scores.

How to run (from the repository root):

    cargo build --release        # builds target/release/feedloop (`feedloop drift`)

    # 1M vs 1M rows x 15 columns, 3 alternating rounds of Evidently and feedloop
    python3 benches/drift_vs_evidently.py

    # 10M vs 10M rows x 15 columns, feedloop alone (Evidently runs out of memory)
    python3 benches/drift_vs_evidently.py --rows 10000000 --skip-evidently

    # other binaries, more rounds, extra `feedloop drift` arguments, a quick check
    python3 benches/drift_vs_evidently.py --feedloop path/to/feedloop --rounds 5
    FEEDLOOP_BIN=path/to/feedloop python3 benches/drift_vs_evidently.py --feedloop-arg=--drift-share=0.3
    python3 benches/drift_vs_evidently.py --rows 20000 --rounds 1

    # only write the data (both tools skipped)
    python3 benches/drift_vs_evidently.py --rows 10000000 --skip-evidently --skip-feedloop

The script is not a cargo bench target and never builds anything.

Python environment: the script re-runs itself inside a virtualenv. It uses
$HOME/.cache/feedloop/evidently-venv if that one has evidently 0.7.x,
pandas < 3, numpy and pyarrow; otherwise it creates (once)
$HOME/.cache/feedloop/bench-venv with numpy, pandas < 3 and pyarrow, plus
evidently 0.7 (if that fails to install, feedloop runs alone and the report
says so). psutil is installed if missing and pip works; it is only required
when /usr/bin/time is absent.

Data (seeded, written once to --data-dir, default
$HOME/.cache/feedloop/bench-data/rows-<N>-cols-15): reference.parquet and
current.parquet (zstd), 15 columns each:

    num_0..num_7  numeric: mean shift, variance change, no drift, scale change,
                  no drift, tiny shift, Poisson integers, log-normal with 5 % nulls
    cat_0..cat_3  categorical: 5 strings, 20 strings (drift), boolean, 4 integer codes
    int_0         integer codes 0..7 with drifted probabilities (int64)
    int_1         integers uniform in 0..5000, no drift (int64)
    cat_4         50 strings, the 10 most frequent less frequent in current (drift)

Rows are generated and written in chunks of --chunk-rows (default 1M; one
Parquet row group each, every chunk with its own generator derived from the
seed), so 1M and 10M rows take the same path and little memory.
<data-dir>/data.json records how the files were made; files made otherwise
are regenerated.

Evidently is run as `evidently.Report([DataDriftPreset()],
include_tests=True).run(current, reference)` (evidently.presets, the 0.7 API
that scripts/drift_fixtures/evidently_fixtures.py and `feedloop drift`
follow; the legacy API infers integer columns with 6..10 values as numeric,
the 0.7 API as categorical), with PYTHONHASHSEED=0; a column's verdict is its
ValueDrift test, the dataset's the DriftedColumnsCount test.

Each round runs Evidently, then feedloop, each as its own whole process under
`/usr/bin/time -v` (wall clock, maximum resident set size, CPU time; without
/usr/bin/time the process is polled with psutil). Evidently is timed end to
end (Python start, imports, reading both Parquet files with pandas,
Report.run, dict()), as feedloop is (start, reading, computing, JSON on
stdout). The script prints every round, the medians as a markdown table for
BENCHMARKS.md, and the ratios: median Evidently wall / median feedloop wall,
the median of the per-round ratios, and median Evidently peak RSS / median
feedloop peak RSS.

The last round's reports are compared column by column (test, verdict, score,
relative score difference). The exit status is 1 if a tool fails, a column is
missing on one side, the tests chosen differ, the verdicts differ, the dataset
verdicts differ, or (with --max-rel-diff) a score differs by more than allowed.
Everything measured is written to <data-dir>/results.json.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "feedloop")
EVIDENTLY_VENV = os.path.join(CACHE, "evidently-venv")
BENCH_VENV = os.path.join(CACHE, "bench-venv")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"

# evidently 0.7 imports pandas internals removed in pandas 3.
REQUIRED = ["numpy", "pandas<3", "pyarrow"]
EVIDENTLY = "evidently>=0.7,<0.8"
BASE_CHECK = "import sys, numpy, pyarrow, pandas; sys.exit(int(pandas.__version__.split('.')[0]) >= 3)"
EVIDENTLY_CHECK = "import sys, importlib.metadata as m; sys.exit(not m.version('evidently').startswith('0.7.'))"

SEED = 7
COLUMNS = 15
CHUNK_ROWS = 1_000_000
GIB = 1024.0  # MiB


def have_time():
    return os.path.isfile(TIME) and os.access(TIME, os.X_OK)


# --------------------------------------------------------------------------
# Python environment


def runs(py, code):
    return os.path.exists(py) and subprocess.run([py, "-c", code], capture_output=True).returncode == 0


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def ensure_psutil(py):
    """Installs psutil if missing and pip works; returns whether psutil imports."""
    if runs(py, "import psutil"):
        return True
    if subprocess.run([py, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        return False
    print("installing psutil", flush=True)
    cmd = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--retries", "1", "--timeout", "15", "psutil"]
    if subprocess.run(cmd).returncode != 0:
        print("psutil failed to install" + ("; /usr/bin/time measures instead" if have_time() else ""), flush=True)
        return False
    return True


def bootstrap(argv, want_evidently):
    """Picks (or creates) the venv, then re-executes this script inside it."""
    py = venv_python(EVIDENTLY_VENV)
    if runs(py, BASE_CHECK) and runs(py, EVIDENTLY_CHECK):
        venv, evidently_ok = EVIDENTLY_VENV, True
    else:
        venv, py = BENCH_VENV, venv_python(BENCH_VENV)
        if not os.path.exists(py):
            print(f"creating virtualenv {venv}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=False)
        if not runs(py, BASE_CHECK):
            print("installing " + " ".join(REQUIRED), flush=True)
            subprocess.run([py, "-m", "pip", "install", "-q", *REQUIRED], check=True)
        evidently_ok = runs(py, EVIDENTLY_CHECK)
        if want_evidently and not evidently_ok:
            print(f"installing {EVIDENTLY} (may take a while)", flush=True)
            evidently_ok = subprocess.run([py, "-m", "pip", "install", "-q", EVIDENTLY]).returncode == 0
            if not evidently_ok:
                print("evidently failed to install: running feedloop alone", flush=True)
    if not ensure_psutil(py) and not have_time():
        sys.exit("neither /usr/bin/time nor psutil is available to measure the processes")
    print(f"python: {venv}", flush=True)
    env = dict(os.environ, FEEDLOOP_BENCH_VENV=os.path.realpath(venv), FEEDLOOP_BENCH_EVIDENTLY="1" if evidently_ok else "0")
    os.execve(py, [py, os.path.abspath(__file__), *argv], env)


def bootstrapped():
    venv = os.environ.get("FEEDLOOP_BENCH_VENV")
    return venv is not None and os.path.realpath(sys.prefix) == venv


# --------------------------------------------------------------------------
# Data


def schema():
    import pyarrow as pa

    fields = [(f"num_{i}", pa.float64()) for i in range(6)]
    fields += [("num_6", pa.int64()), ("num_7", pa.float64())]
    fields += [("cat_0", pa.string()), ("cat_1", pa.string()), ("cat_2", pa.bool_()), ("cat_3", pa.int64())]
    fields += [("int_0", pa.int64()), ("int_1", pa.int64()), ("cat_4", pa.string())]
    assert len(fields) == COLUMNS
    return pa.schema(fields)


def chunk(rng, n, current):
    """One chunk of n rows of one side, as a pyarrow Table."""
    import numpy as np
    import pyarrow as pa

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
    p = [0.25, 0.25, 0.25, 0.25] if current else [0.4, 0.3, 0.2, 0.1]
    cols["cat_3"] = rng.choice(4, n, p=p).astype(np.int64)             # 4 integer codes (drift)
    p = [0.15, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.10] if current else [0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.05]
    cols["int_0"] = rng.choice(8, n, p=p).astype(np.int64)             # 8 integer codes (drift, JS ~0.17)
    cols["int_1"] = rng.integers(0, 5001, n, dtype=np.int64)           # many distinct integers, no drift
    w = 1.0 / np.arange(1, 51) ** 0.7
    if current:
        w[:10] *= 0.4                                                  # the 10 most frequent less frequent (drift)
    cols["cat_4"] = np.array([f"k{i:02d}" for i in range(50)])[rng.choice(50, n, p=w / w.sum())]
    s = schema()
    arrays = [pa.array(cols[f.name], type=f.type, from_pandas=f.name == "num_7") for f in s]  # num_7: NaN -> null
    return pa.Table.from_arrays(arrays, schema=s)


def write_side(path, rows, chunk_rows, current):
    import numpy as np
    import pyarrow.parquet as pq

    tmp = path + ".tmp"
    with pq.ParquetWriter(tmp, schema(), compression="zstd") as w:
        for i, start in enumerate(range(0, rows, chunk_rows)):
            n = min(chunk_rows, rows - start)
            rng = np.random.default_rng([SEED, int(current), i])
            w.write_table(chunk(rng, n, current), row_group_size=n)
    os.replace(tmp, path)


def generate(data_dir, rows, chunk_rows):
    """Writes (or reuses) reference.parquet and current.parquet; returns their paths."""
    ref_path = os.path.join(data_dir, "reference.parquet")
    cur_path = os.path.join(data_dir, "current.parquet")
    manifest_path = os.path.join(data_dir, "data.json")
    manifest = {"rows": rows, "columns": COLUMNS, "seed": SEED, "chunk_rows": chunk_rows, "generator": 3}
    try:
        with open(manifest_path) as f:
            same = json.load(f) == manifest
    except (OSError, ValueError):
        same = False
    if same and os.path.exists(ref_path) and os.path.exists(cur_path):
        print(f"data: reusing {data_dir}")
        return ref_path, cur_path, manifest
    os.makedirs(data_dir, exist_ok=True)
    t0 = time.perf_counter()
    write_side(ref_path, rows, chunk_rows, current=False)
    write_side(cur_path, rows, chunk_rows, current=True)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    mib = (os.path.getsize(ref_path) + os.path.getsize(cur_path)) / 2**20
    print(f"data: wrote {rows} + {rows} rows x {COLUMNS} columns ({mib:.0f} MiB) to {data_dir} in {time.perf_counter() - t0:.1f}s")
    return ref_path, cur_path, manifest


# --------------------------------------------------------------------------
# Measuring a process


def measure(cmd, stdout_path, env=None):
    """Runs cmd as its own process, stdout to stdout_path.

    Returns {rc, wall_s, peak_rss_mib, user_s, sys_s, stderr}; CPU times only with /usr/bin/time."""
    with open(stdout_path, "wb") as out:
        if have_time():
            t0 = time.perf_counter()
            p = subprocess.run([TIME, "-v", *cmd], stdout=out, stderr=subprocess.PIPE, env=env)
            wall = time.perf_counter() - t0
            err = p.stderr.decode(errors="replace")
            m = {"rc": p.returncode, "wall_s": wall, "peak_rss_mib": None, "user_s": None, "sys_s": None}
            for line in err.splitlines():  # /usr/bin/time's report comes last: the last match wins
                key, _, value = line.strip().rpartition(": ")
                try:
                    if key == "Maximum resident set size (kbytes)":
                        m["peak_rss_mib"] = int(value) / 1024.0
                    elif key == "User time (seconds)":
                        m["user_s"] = float(value)
                    elif key == "System time (seconds)":
                        m["sys_s"] = float(value)
                except ValueError:
                    pass
            cut = err.rfind("\tCommand being timed:")
            own = err[:cut] if cut >= 0 else err  # the process's own stderr, then /usr/bin/time's
            lines = own.rstrip("\n").split("\n")
            if lines and lines[-1].startswith(("Command exited with", "Command terminated by")):
                own = "\n".join(lines[:-1]) + "\n"
            m["stderr"] = own
            return m
        import psutil

        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        proc = psutil.Process(p.pid)
        peak = 0
        while p.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        err = p.stderr.read().decode(errors="replace")
        return {"rc": p.returncode, "wall_s": wall, "peak_rss_mib": peak / 2**20, "user_s": None, "sys_s": None, "stderr": err}


# --------------------------------------------------------------------------
# Evidently worker (runs in its own process)

def evidently_worker(ref_path, cur_path):
    """Evidently 0.7's `Report([DataDriftPreset()], include_tests=True)`, the
    API the fixtures (scripts/drift_fixtures/evidently_fixtures.py) and
    `feedloop drift` follow; prints the per-column results as JSON."""
    import pandas as pd

    t0 = time.perf_counter()
    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    t_load = time.perf_counter() - t0
    import evidently
    from evidently import Report
    from evidently.legacy.calculations import stattests as st
    from evidently.presets import DataDriftPreset

    # Evidently's display names -> registered names (as feedloop reports them).
    tests = {
        "ks": st.ks_stat_test,
        "wasserstein": st.wasserstein_stat_test,
        "psi": st.psi_stat_test,
        "kl_div": st.kl_div_stat_test,
        "jensenshannon": st.jensenshannon_stat_test,
        "hellinger": st.hellinger_stat_test,
        "chisquare": st.chi_stat_test,
        "z": st.z_stat_test,
    }
    names = {t.display_name: name for name, t in tests.items()}

    t1 = time.perf_counter()
    snap = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
    d = snap.dict()
    t_run = time.perf_counter() - t1
    try:
        dd = snap.context.data_definition
        kinds = dict.fromkeys(dd.get_numerical_columns(), "numeric")
        kinds.update(dict.fromkeys(dd.get_categorical_columns(), "categorical"))
    except AttributeError:
        kinds = {}
    out = {"version": evidently.__version__, "load_s": t_load, "run_s": t_run, "columns": {}}
    by_id, count = {}, None
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"] == "evidently:metric_v2:ValueDrift":
            by_id[m["id"]] = {
                "column": cfg["column"],
                "kind": kinds.get(cfg["column"]),
                "test": names.get(cfg["method"], cfg["method"]),
                "score": float(m["value"]),
                "threshold": float(cfg["threshold"]),
            }
        elif cfg["type"] == "evidently:metric_v2:DriftedColumnsCount":
            count = m
            out["share_drifted"] = float(m["value"]["share"])
    for t in d["tests"]:
        mid = t["metric_config"]["metric_id"]
        failed = {"FAIL": True, "SUCCESS": False}[t["status"]]
        if mid in by_id:
            c = by_id[mid]
            c["drift"] = failed
            out["columns"][c.pop("column")] = c
        elif count and mid == count["id"]:
            out["dataset_drift"] = failed
    json.dump(out, sys.stdout)


# --------------------------------------------------------------------------
# Comparing the reports


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def rel_diff(a, b):
    if not (is_num(a) and is_num(b)):
        return None
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return math.inf
    return abs(a - b) / max(abs(b), 1e-300)


def fmt_score(x):
    return f"{x:.6g}" if is_num(x) else str(x)


def compare(fl, ev):
    """Column by column: test, verdict, score. Returns a summary with every mismatch."""
    fc, ec = fl.get("columns", {}), ev.get("columns", {})
    names = sorted(set(fc) | set(ec))
    print(f"\n{'column':8}  {'feedloop test':>14} {'score':>12} {'drift':>5}   {'evidently test':>14} {'score':>12} {'drift':>5}   {'rel diff':>9}")
    agree, rels = 0, []
    missing, tests_differ, verdicts_differ = [], [], []
    for name in names:
        a, b = fc.get(name), ec.get(name)
        rel = rel_diff(a["score"], b["score"]) if a and b else None
        flags = []
        if not (a and b):
            missing.append(name)
            flags.append("missing")
        else:
            if a["test"] != b["test"]:
                tests_differ.append(name)
                flags.append("test differs")
            if a["drift"] == b["drift"]:
                agree += 1
            else:
                verdicts_differ.append(name)
                flags.append("verdict differs")
        if rel is not None:
            rels.append(rel)
        fa = (a["test"], fmt_score(a["score"]), str(a["drift"])) if a else ("-", "-", "-")
        fb = (b["test"], fmt_score(b["score"]), str(b["drift"])) if b else ("-", "-", "-")
        rs = "" if rel is None else f"{rel:.1e}"
        print(f"{name:8}  {fa[0]:>14} {fa[1]:>12} {fa[2]:>5}   {fb[0]:>14} {fb[1]:>12} {fb[2]:>5}   {rs:>9}  {', '.join(flags)}".rstrip())
    max_rel = max(rels) if rels else None
    dataset_agrees = fl.get("dataset_drift") == ev.get("dataset_drift")
    print(f"\nverdicts agree on {agree}/{len(names)} columns; max relative score difference {'n/a' if max_rel is None else f'{max_rel:.2e}'}")
    print(f"dataset drift: feedloop {fl.get('dataset_drift')}, evidently {ev.get('dataset_drift')}")
    for label, cols in (("missing on one side", missing), ("tests differ", tests_differ), ("verdicts differ", verdicts_differ)):
        if cols:
            print(f"{label}: {', '.join(cols)}")
    return {
        "columns": len(names),
        "verdicts_agree": agree,
        "max_rel_diff": max_rel,
        "missing": missing,
        "tests_differ": tests_differ,
        "verdicts_differ": verdicts_differ,
        "dataset_drift_agrees": dataset_agrees,
    }


# --------------------------------------------------------------------------
# Reporting


def human_rows(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def machine():
    info = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_total_gib"] = round(int(line.split()[1]) / 2**20, 2)
                    break
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def git_commit():
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except OSError:
        return None


def summary(runs_):
    """Median, min and max of wall and peak RSS over the successful rounds of one tool."""
    walls = [r["wall_s"] for r in runs_]
    rss = [r["peak_rss_mib"] for r in runs_ if r["peak_rss_mib"] is not None]
    return {
        "rounds": len(runs_),
        "median_wall_s": statistics.median(walls),
        "min_wall_s": min(walls),
        "max_wall_s": max(walls),
        "median_peak_rss_mib": statistics.median(rss) if rss else None,
        "max_peak_rss_mib": max(rss) if rss else None,
    }


def drifted(report):
    cols = report.get("columns", {})
    n = sum(1 for c in cols.values() if c.get("drift"))
    share = report.get("share_drifted")
    return f"{n} of {len(cols)}" + (f" (share {share:.3f})" if is_num(share) else "")


def table_row(label, s, report):
    rss = "n/a" if s["median_peak_rss_mib"] is None else f"{s['median_peak_rss_mib']:.0f} MiB"
    return f"| {label} | {s['median_wall_s']:.2f} s | {s['min_wall_s']:.2f} / {s['max_wall_s']:.2f} s | {rss} | {drifted(report)} |"


def fmt_run(m):
    rss = "n/a" if m["peak_rss_mib"] is None else f"{m['peak_rss_mib']:.0f} MiB"
    cpu = "" if m["user_s"] is None else f", cpu {m['user_s'] + m['sys_s']:.2f} s"
    return f"{m['wall_s']:.2f} s, {rss}{cpu}"


# --------------------------------------------------------------------------


def default_feedloop():
    path = os.environ.get("FEEDLOOP_BIN") or "target/release/feedloop"
    if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(os.path.join(REPO, path)):
        path = os.path.join(REPO, path)
    return path


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feedloop", default=None, help="feedloop binary (default: $FEEDLOOP_BIN, else target/release/feedloop)")
    ap.add_argument("--feedloop-arg", action="append", default=[], metavar="ARG", help="extra argument for `feedloop drift`, repeatable (e.g. --feedloop-arg=--drift-share=0.3)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side (default 1000000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, each runs Evidently then feedloop (default 3)")
    ap.add_argument("--data-dir", default=None, help="where the Parquet files go (default ~/.cache/feedloop/bench-data/rows-<N>-cols-15)")
    ap.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows per generated chunk and row group (default {CHUNK_ROWS})")
    ap.add_argument("--skip-evidently", action="store_true", help="run feedloop alone")
    ap.add_argument("--skip-feedloop", action="store_true", help="run Evidently alone")
    ap.add_argument("--max-rel-diff", type=float, default=None, help="also fail if a score differs by more than this, relatively (the fixture tests use 1e-9)")
    ap.add_argument("--evidently-worker", nargs=2, metavar=("REF", "CUR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rows < 1 or args.rounds < 1 or args.chunk_rows < 1:
        ap.error("--rows, --rounds and --chunk-rows must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    if args.evidently_worker:
        evidently_worker(*args.evidently_worker)
        return 0
    if not bootstrapped():
        bootstrap(argv, want_evidently=not args.skip_evidently)  # does not return

    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    data_dir = args.data_dir or os.path.join(CACHE, "bench-data", f"rows-{args.rows}-cols-{COLUMNS}")
    run_fl, run_ev = not args.skip_feedloop, not args.skip_evidently
    feedloop = os.path.abspath(args.feedloop or default_feedloop())
    if run_fl and not (os.path.isfile(feedloop) and os.access(feedloop, os.X_OK)):
        print(f"feedloop: binary not found at {feedloop} (build it with `cargo build --release`, or pass --feedloop or FEEDLOOP_BIN)")
        return 1
    if run_ev and os.environ.get("FEEDLOOP_BENCH_EVIDENTLY") != "1":
        print("evidently: not installed (pip install failed); feedloop runs alone")
        run_ev = False

    ref, cur, data = generate(data_dir, args.rows, args.chunk_rows)
    results = {
        "date": date,
        "git_commit": git_commit(),
        "machine": machine(),
        "rows": args.rows,
        "columns": COLUMNS,
        "data": dict(data, dir=data_dir, reference=ref, current=cur),
        "timer": "/usr/bin/time -v" if have_time() else "psutil polling",
        "rounds_requested": args.rounds,
        "rounds": [],
    }
    fl_cmd = [feedloop, "drift", "--reference", ref, "--current", cur, "--format", "json", *args.feedloop_arg]
    ev_cmd = [sys.executable, os.path.abspath(__file__), "--evidently-worker", ref, cur]
    # Evidently orders categories as list(set(...)): fixed string hashing keeps its last bits from run to run.
    ev_env = dict(os.environ, PYTHONHASHSEED="0")
    if run_fl:
        v = subprocess.run([feedloop, "--version"], capture_output=True, text=True)
        results["feedloop"] = {"binary": feedloop, "version": v.stdout.strip() or None, "args": args.feedloop_arg, "command": fl_cmd}
    if not (run_fl or run_ev):
        print("both tools skipped: data only")
    failed = False
    fl_report, ev_report = None, None
    fl_runs, ev_runs = [], []

    def run(name, cmd, out, env=None):
        m = measure(cmd, out, env)
        err = m.pop("stderr")
        if m["rc"] != 0:
            print(f"  {name} failed (exit {m['rc']}):\n{err[-3000:]}")
            m["stderr_tail"] = err[-3000:]
            return m, None
        with open(out) as f:
            return m, json.load(f)

    for i in range(1, args.rounds + 1):
        if not (run_ev or run_fl):
            break
        rnd = {"round": i}
        line = []
        if run_ev:
            m, rep = run("evidently", ev_cmd, os.path.join(data_dir, "evidently.json"), ev_env)
            rnd["evidently"] = m
            if rep is None:
                failed, run_ev = True, False
            else:
                ev_report = rep
                m["load_s"], m["run_s"] = rep["load_s"], rep["run_s"]
                ev_runs.append(m)
                line.append(f"evidently {fmt_run(m)} (load {rep['load_s']:.2f} s, Report.run {rep['run_s']:.2f} s)")
        if run_fl:
            m, rep = run("feedloop", fl_cmd, os.path.join(data_dir, "feedloop.json"))
            rnd["feedloop"] = m
            if rep is None:
                failed, run_fl = True, False
            else:
                fl_report = rep
                fl_runs.append(m)
                line.append(f"feedloop {fmt_run(m)}")
        e, f_ = rnd.get("evidently"), rnd.get("feedloop")
        if e and f_ and e["rc"] == 0 and f_["rc"] == 0:
            rnd["speed_ratio"] = e["wall_s"] / f_["wall_s"]
            line.append(f"{rnd['speed_ratio']:.1f}x faster")
            if e["peak_rss_mib"] and f_["peak_rss_mib"]:
                rnd["rss_ratio"] = e["peak_rss_mib"] / f_["peak_rss_mib"]
                line.append(f"{rnd['rss_ratio']:.1f}x less memory")
        results["rounds"].append(rnd)
        if line:
            print(f"round {i}/{args.rounds}: " + " | ".join(line), flush=True)

    ev_s = summary(ev_runs) if ev_runs else None
    fl_s = summary(fl_runs) if fl_runs else None
    results["median"] = {"evidently": ev_s, "feedloop": fl_s}
    if ev_report:
        results["evidently"] = {"version": ev_report["version"], "api": "evidently.Report([DataDriftPreset()], include_tests=True)", "command": ev_cmd}

    if ev_s or fl_s:
        n = len(ev_runs) or len(fl_runs)
        order = "alternating, Evidently first" if ev_s and fl_s else "one tool"
        print(f"\n{human_rows(args.rows)} vs {human_rows(args.rows)} rows × {COLUMNS} columns, {n} round{'s' if n != 1 else ''} ({order}), whole process, same files:\n")
        print("| | median wall | min / max wall | median peak RSS | drifted columns |")
        print("|---|---|---|---|---|")
        if ev_s:
            print(table_row(f"Evidently {ev_report['version']} `DataDriftPreset`", ev_s, ev_report))
        if fl_s:
            extra = "".join(f" {a}" for a in args.feedloop_arg)
            print(table_row(f"`feedloop drift{extra}`", fl_s, fl_report))
        print()

    ratios = {}
    if ev_s and fl_s:
        ratios["speed_median_walls"] = ev_s["median_wall_s"] / fl_s["median_wall_s"]
        per_round = [r["speed_ratio"] for r in results["rounds"] if "speed_ratio" in r]
        ratios["speed_median_of_rounds"] = statistics.median(per_round) if per_round else None
        goal = "met" if ratios["speed_median_walls"] >= 50 else "not met"
        per = "n/a" if ratios["speed_median_of_rounds"] is None else f"{ratios['speed_median_of_rounds']:.1f}×"
        print(f"* speed: median Evidently wall / median feedloop wall = **{ratios['speed_median_walls']:.1f}×**; median of the per-round ratios {per} (goal ≥ 50×: {goal})")
        if ev_s["median_peak_rss_mib"] and fl_s["median_peak_rss_mib"]:
            ratios["rss"] = ev_s["median_peak_rss_mib"] / fl_s["median_peak_rss_mib"]
            goal = "met" if ratios["rss"] >= 4 else "not met"
            print(f"* memory: median Evidently peak RSS / median feedloop peak RSS = **{ratios['rss']:.1f}×**, feedloop uses {100 / ratios['rss']:.1f} % of Evidently's (goal ≤ 25 %: {goal})")
    if fl_s and fl_s["max_peak_rss_mib"] is not None and args.rows >= 10_000_000:
        goal = "met" if fl_s["max_peak_rss_mib"] <= 2 * GIB else "not met"
        print(f"* feedloop peak RSS at {human_rows(args.rows)} rows: {fl_s['max_peak_rss_mib']:.0f} MiB at most (goal ≤ 2 GiB: {goal})")
    results["ratios"] = ratios

    if fl_report and ev_report:
        cmp = compare(fl_report, ev_report)
        results["comparison"] = cmp
        if cmp["missing"] or cmp["tests_differ"] or cmp["verdicts_differ"] or not cmp["dataset_drift_agrees"]:
            failed = True
        if args.max_rel_diff is not None and cmp["max_rel_diff"] is not None and cmp["max_rel_diff"] > args.max_rel_diff:
            print(f"max relative score difference {cmp['max_rel_diff']:.2e} exceeds --max-rel-diff {args.max_rel_diff:g}")
            failed = True
    else:
        only = fl_report or ev_report
        if only:
            print(f"\n{'feedloop' if fl_report else 'Evidently'} per-column results (last round):")
            for name, c in sorted(only["columns"].items()):
                print(f"  {name:8} {c['kind']:12} {c['test']:14} score {fmt_score(c['score'])} drift {c['drift']}")
    results["reports"] = {"feedloop": fl_report, "evidently": ev_report}
    results["ok"] = not failed

    path = os.path.join(data_dir, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults: {path}")
    if failed:
        print("FAILED: see above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
