#!/usr/bin/env python3
"""Drift-report fixtures made by Evidently itself, for `feedloop drift`.

How to run (from the repository root; `scripts/drift_fixtures/check` does the
first two steps and then `--check`):

    python3 -m venv ~/.cache/feedloop/evidently-venv
    ~/.cache/feedloop/evidently-venv/bin/pip install evidently==0.7.23 \
        pandas==2.3.3 numpy==2.4.6 scipy==1.17.1 pyarrow==26.0.1
    ~/.cache/feedloop/evidently-venv/bin/python scripts/drift_fixtures/evidently_fixtures.py
    ~/.cache/feedloop/evidently-venv/bin/python scripts/drift_fixtures/evidently_fixtures.py --check

Pinned versions (the script refuses to run with others, see PINS): evidently
0.7.23, pandas 2.3.3 (evidently 0.7.23 does not import under pandas 3: it
imports `pandas.core.dtypes.common.infer_dtype_from_object`), numpy 2.4.6,
scipy 1.17.1, pyarrow 26.0.1 (writes the Parquet files), on CPython 3.11.

Writes crates/feedloop-report/tests/fixtures/evidently/:
* `<dataset>_reference.{csv,parquet}`, `<dataset>_current.{csv,parquet}`:
  seeded data (`numpy.random.default_rng`), four sizes chosen so that
  Evidently's default test changes: n200 (200 / 150 rows), n1000 (1000 /
  1000: the last size of the small-sample tests), n1001 (1001 / 800: the
  large-sample tests, except for a float column with nulls whose 981
  non-null reference values are <= 1000 again) as CSV, and n12000
  (12000 / 6000, > scipy's 10000 so KS is asymptotic; ±inf and NaN among
  the floats) as zstd Parquet; 633 kB in all. Each has 16 columns:
  numerical (continuous floats, one written with all 17 digits in n200,
  floats with nulls, few-valued and two-valued floats, many-valued integers,
  integers with nulls -- numerical for Evidently because pandas reads them
  as float64), categorical (low-cardinality integers, integers whose
  reference has 15 values but the current 8 -- the kind comes from the
  current data --, strings, two-valued strings, strings with nulls, a
  category new in the current data) and booleans, each kind with and
  without drift.
* `evidently.json`: for each dataset, what Evidently says.
  - `dataset_drift`, `n_drifted`, `share_drifted` and, per column, `kind`,
    `test`, `score`, `threshold`, `drift`: from
    `evidently.Report([DataDriftPreset()], include_tests=True).run(current,
    reference)` on the files as read back by pandas (the column kind is
    Evidently's `infer_column_type` on the current data, as the Report does;
    `drift` is the column's ValueDrift test status FAIL; `dataset_drift` is the
    DriftedColumnsCount "Less 0.5" test status FAIL).
  - `stats`: every statistic `feedloop drift` prints for the column, from
    Evidently's registered stattest objects (`ks_stat_test`, ...) called on
    the column exactly as `get_one_column_drift` calls them (±inf → NaN,
    NaN dropped). Where feedloop prints a statistic and Evidently only
    returns the p-value (ks, chisquare, z) or the normed value (wasserstein),
    the statistic is captured from the scipy call *inside* Evidently's
    stattest (the module-level `ks_2samp`, `chisquare`, `stats` and
    `proportions_diff_z_test` names of those modules are wrapped), so the
    inputs are Evidently's own. The top-level `sources` says, per statistic,
    where it came from. The one statistic Evidently does not define:
    `chisquare` of a numerical column with > 20 distinct reference values
    (Evidently's chisquare test is categorical only; feedloop computes it on
    Evidently's numerical bins; such columns have `chisquare_on_bins`) comes
    from Evidently's `get_binned_data(..., feel_zeroes=False)` counts and
    `scipy.stats.chisquare` with `_chi_stat_test`'s f_obs/f_exp, bins empty
    on both sides dropped.
  - `forced`: per test that Evidently accepts by name for the column's kind
    (numerical: ks, wasserstein, psi, kl_div, jensenshannon, hellinger;
    categorical: chisquare, z, psi, kl_div, jensenshannon, hellinger), the
    `score`, default `threshold` and `drift` of
    `Report([DataDriftPreset(per_column_method={column: test})])`.
  The script asserts that the explicitly called stattests give exactly the
  Report's scores and decisions, that pandas reads back the files' values
  bit for bit, and that every column lands in the Report with the kind the
  data was made for.

Non-finite floats are written as the strings "inf", "-inf", "nan" (as
`feedloop drift --format json` does).

`--check` regenerates everything into a temporary folder and compares it
with the committed files: CSV and JSON text byte for byte, Parquet by its
decoded contents (schema and values, NaN == NaN) and bytes; JSON numbers
that differ are listed with their path. `--tolerance R` relaxes the JSON
number comparison to a relative R (default 0: exact; the only use is a
machine whose libm differs in the last bits). Exit 0 if identical, 1
otherwise with the list of differences. Running the generator twice gives
byte-identical files: it re-executes itself with PYTHONHASHSEED=0, because
Evidently orders categories as `list(set(...))` and so the last bits of its
categorical PSI, KL, chi-squared, ... depend on Python's str hashing.
Takes about a minute (one Report per dataset, plus one per forced test).
"""
import argparse
import importlib
import importlib.metadata
import json
import math
import os
import sys
import tempfile
import warnings

# Evidently orders categories as `list(set(...))`, so float sums over them
# (PSI, KL, chi-squared, ...) depend on str hashing, which Python randomises
# per process: fix the seed, or the last bits of those numbers change from run
# to run.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

PINS = {
    "evidently": "0.7.23",
    "pandas": "2.3.3",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "pyarrow": "26.0.1",
}


def check_pins():
    bad = []
    for name, want in PINS.items():
        try:
            got = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            got = None
        if got != want:
            bad.append(f"{name}: want {want}, have {got}")
    if bad:
        sys.exit(
            "evidently_fixtures.py: pinned versions not installed ("
            + "; ".join(bad)
            + "); use scripts/drift_fixtures/check"
        )


check_pins()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import scipy.stats  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.core.datasets import infer_column_type  # noqa: E402
from evidently.legacy.calculations import stattests as st  # noqa: E402
from evidently.legacy.calculations.stattests.registry import _registered_stat_tests  # noqa: E402
from evidently.legacy.calculations.stattests.utils import get_binned_data  # noqa: E402
from evidently.legacy.core import ColumnType  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "crates", "feedloop-report", "tests", "fixtures", "evidently")
GENERATOR = "scripts/drift_fixtures/evidently_fixtures.py"

# ------------------------------------------------------------------ capture
# Wrap the scipy functions that Evidently's stattest modules call, so the
# statistic behind each p-value is the one of Evidently's own call.
_CAPTURED = {}


def _wrap(module_name, attr, key, take):
    mod = importlib.import_module(module_name)
    orig = getattr(mod, attr)

    def wrapper(*args, **kwargs):
        res = orig(*args, **kwargs)
        _CAPTURED[key] = take(args, res)
        return res

    setattr(mod, attr, wrapper)


_SM = "evidently.legacy.calculations.stattests."
_wrap(_SM + "ks_stattest", "ks_2samp", "ks", lambda a, r: (float(r[0]), float(r[1])))
_wrap(_SM + "chisquare_stattest", "chisquare", "chisquare", lambda a, r: (float(r[0]), float(r[1])))
_wrap(_SM + "z_stattest", "proportions_diff_z_test", "z", lambda a, r: (float(a[0]), float(r)))


class _StatsProxy:
    """Stands for `scipy.stats` inside wasserstein_distance_norm.py."""

    def __getattr__(self, name):
        return getattr(scipy.stats, name)

    @staticmethod
    def wasserstein_distance(u, v):
        d = scipy.stats.wasserstein_distance(u, v)
        _CAPTURED["wasserstein"] = float(d)
        return d


importlib.import_module(_SM + "wasserstein_distance_norm").stats = _StatsProxy()

TESTS = {
    "ks": st.ks_stat_test,
    "wasserstein": st.wasserstein_stat_test,
    "psi": st.psi_stat_test,
    "kl_div": st.kl_div_stat_test,
    "jensenshannon": st.jensenshannon_stat_test,
    "hellinger": st.hellinger_stat_test,
    "chisquare": st.chi_stat_test,
    "z": st.z_stat_test,
}
DISPLAY_TO_NAME = {t.display_name: name for name, t in TESTS.items()}
DISPLAY_TO_NAME.update({name: name for name in TESTS})  # a forced method keeps its name


def accepted_by_name(test, column_type):
    """Whether DataDriftPreset(per_column_method=...) accepts `test` for the kind."""
    return column_type in _registered_stat_tests[test]


# --------------------------------------------------------------------- data
# Kinds the columns are made for: Evidently's ColumnType on the current data.
NUM, CAT = ColumnType.Numerical, ColumnType.Categorical

# name, rows (reference, current), format, seed, drift strength
DATASETS = [
    ("n200", 200, 150, "csv", 200, 1.0),
    ("n1000", 1000, 1000, "csv", 1000, 0.6),
    ("n1001", 1001, 800, "csv", 1001, 0.6),
    ("n12000", 12000, 6000, "parquet", 12000, 0.5),
]


def choice(rng, values, n, p):
    p = np.asarray(p, dtype=float)
    return [values[i] for i in rng.choice(len(values), size=n, p=p / p.sum())]


def with_nulls(rng, values, share):
    """Replaces about `share` of the values with None (same draws for any type)."""
    mask = rng.random(len(values)) < share
    return [None if m else v for v, m in zip(values, mask)]


def make_dataset(nr, nc, fmt, seed, s):
    """Columns: name -> (kind, pyarrow type, reference values, current values).

    `s` scales the drift of the drifting columns; the `*_same` columns draw
    both sides from one distribution. Floats are rounded (shorter files)
    except `num_same` in n200, written with all 17 digits.
    """
    rng = np.random.default_rng(seed)
    big = fmt == "parquet"
    dec = 3 if big else 5
    cols = {}

    def f(xs, d=dec):
        return [float(round(float(x), d)) for x in xs]

    # Numerical, continuous.
    full = (lambda xs: [float(x) for x in xs]) if nr <= 200 else f
    cols["num_same"] = (NUM, pa.float64(), full(rng.normal(0, 1, nr)), full(rng.normal(0, 1, nc)))
    cols["num_shift"] = (NUM, pa.float64(),
                         f(rng.normal(10, 2, nr)),
                         f(rng.normal(10 + 0.5 * s, 2 * (1 + 0.2 * s), nc)))
    r = with_nulls(rng, f(rng.lognormal(0, 0.5, nr)), 0.02)
    c = with_nulls(rng, f(rng.lognormal(0.1 * s, 0.5, nc)), 0.02)
    if big:
        # ±inf too (CSV has no infinities that both pandas and arrow read as floats).
        r[3], r[70], c[5] = float("inf"), float("-inf"), float("inf")
        r[11], c[12] = float("nan"), float("nan")
    cols["num_nulls"] = (NUM, pa.float64(), r, c)
    # Numerical with few values: <= 5 distinct, and exactly 2.
    vals = [0.0, 0.5, 1.0, 1.5]
    cols["num_few"] = (NUM, pa.float64(),
                       choice(rng, vals, nr, [4, 3, 2, 1]),
                       choice(rng, vals, nc, [4 - 1.5 * s, 3, 2, 1 + 1.5 * s]))
    cols["num_binary"] = (NUM, pa.float64(),
                          choice(rng, [0.0, 1.0], nr, [0.7, 0.3]),
                          choice(rng, [0.0, 1.0], nc, [0.7, 0.3]))
    # Integers: many values (numerical), few values (categorical), and a
    # column whose reference has 15 values but the current only 8
    # (categorical: Evidently infers the kind from the current data).
    cols["int_many"] = (NUM, pa.int64(),
                        [int(x) for x in rng.poisson(20, nr)],
                        [int(x) for x in rng.poisson(20 + 2 * s, nc)])
    # Integers with missing values: pandas reads them as float64, so
    # Evidently's kind is numerical although there are only 8 values.
    cols["int_nulls"] = (NUM, pa.int64(),
                         with_nulls(rng, choice(rng, list(range(8)), nr, [1] * 8), 0.03),
                         with_nulls(rng, choice(rng, list(range(8)), nc, [1 + 2 * s] + [1] * 7), 0.03))
    cols["int_low"] = (CAT, pa.int64(),
                       choice(rng, [0, 1, 2, 3, 4, 5], nr, [1, 2, 3, 3, 2, 1]),
                       choice(rng, [0, 1, 2, 3, 4, 5], nc, [1, 2, 3, 3, 2, 1]))
    cols["int_cur_subset"] = (CAT, pa.int64(),
                              [int(x) for x in rng.integers(0, 15, nr)],
                              [int(x) for x in rng.integers(0, 8, nc)])
    # Strings.
    colors = ["red", "green", "blue", "black", "white"]
    cols["cat_same"] = (CAT, pa.string(),
                        choice(rng, colors, nr, [5, 4, 3, 2, 1]),
                        choice(rng, colors, nc, [5, 4, 3, 2, 1]))
    cols["cat_shift"] = (CAT, pa.string(),
                         choice(rng, colors, nr, [5, 4, 3, 2, 1]),
                         choice(rng, colors, nc, [5 - 3 * s, 4, 3, 2, 1 + 3 * s]))
    cols["cat_new"] = (CAT, pa.string(),
                       choice(rng, ["alpha", "beta", "gamma"], nr, [3, 2, 1]),
                       choice(rng, ["alpha", "beta", "gamma", "delta"], nc, [3, 2, 1, 0.3]))
    cols["cat_nulls"] = (CAT, pa.string(),
                         with_nulls(rng, choice(rng, ["x", "y", "z"], nr, [1, 1, 1]), 0.05),
                         with_nulls(rng, choice(rng, ["x", "y", "z"], nc, [1, 1, 1 + s]), 0.05))
    cols["cat_binary"] = (CAT, pa.string(),
                          choice(rng, ["no", "yes"], nr, [0.6, 0.4]),
                          choice(rng, ["no", "yes"], nc, [0.6 - 0.15 * s, 0.4 + 0.15 * s]))
    # Booleans.
    cols["flag_same"] = (CAT, pa.bool_(),
                         [bool(x) for x in rng.random(nr) < 0.2],
                         [bool(x) for x in rng.random(nc) < 0.2])
    cols["flag_shift"] = (CAT, pa.bool_(),
                          [bool(x) for x in rng.random(nr) < 0.2],
                          [bool(x) for x in rng.random(nc) < 0.2 + 0.1 * s])
    return cols


def csv_cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            raise ValueError("no infinities in CSV fixtures")
        return repr(v)
    return str(v)


def write_side(path, fmt, cols, side):
    names = list(cols)
    if fmt == "csv":
        n = len(cols[names[0]][2 + side])
        lines = [",".join(names)]
        for i in range(n):
            lines.append(",".join(csv_cell(cols[c][2 + side][i]) for c in names))
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(lines) + "\n")
    else:
        arrays = [pa.array(cols[c][2 + side], type=cols[c][1]) for c in names]
        table = pa.Table.from_arrays(arrays, names=names)
        pq.write_table(table, path, compression="zstd", use_dictionary=True)


def read_side(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_parquet(path)


def missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def same_value(a, b):
    """Equal values of one type (floats bit for bit); null and NaN are both "missing"."""
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    if isinstance(a, float):
        return isinstance(b, float) and a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b)


def check_read_back(df, cols, side, path):
    """pandas must read back exactly the values that were written."""
    for name, col in cols.items():
        want = col[2 + side]
        got = df[name].tolist()
        if col[1] == pa.float64():
            got = [float(v) for v in got]
        if col[1] == pa.int64() and any(v is None for v in want):
            # pandas: an integer column with a missing value is float64.
            want = [None if v is None else float(v) for v in want]
        for i, (w, g) in enumerate(zip(want, got)):
            if not same_value(w, g):
                raise AssertionError(f"{path}: {name}[{i}] written {w!r}, read back {g!r}")
        if len(want) != len(got):
            raise AssertionError(f"{path}: {name} has {len(got)} rows, wrote {len(want)}")


# ------------------------------------------------------------------ compute
def jnum(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def clean(series):
    """What get_one_column_drift passes to the stattest."""
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def run_test(name, ref, cur, ctype):
    _CAPTURED.pop(name, None)
    res = TESTS[name](ref.copy(), cur.copy(), ctype, None)
    return res, _CAPTURED.pop(name, None)


def numeric_chisquare_on_bins(ref, cur):
    """feedloop's chisquare of a numerical column with > 20 distinct reference
    values: Evidently's bins (get_binned_data, no zero filling), then
    _chi_stat_test's f_obs/f_exp and scipy.stats.chisquare; bins empty on
    both sides dropped."""
    rp, cp = get_binned_data(ref, cur, ColumnType.Numerical, 30, feel_zeroes=False)
    rc = np.rint(rp * len(ref)).astype(np.int64)
    cc = np.rint(cp * len(cur)).astype(np.int64)
    assert rc.sum() == len(ref) and cc.sum() == len(cur)
    keep = (rc > 0) | (cc > 0)
    k_norm = cur.shape[0] / ref.shape[0]
    f_exp = [float(r) * k_norm for r in rc[keep]]
    f_obs = [int(c) for c in cc[keep]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stat, p = scipy.stats.chisquare(f_obs, f_exp)
    return float(stat), float(p)


SOURCES = {
    "ks": "ks_stat_test; statistic: its scipy.stats.ks_2samp call",
    "wasserstein": "wasserstein_stat_test's scipy.stats.wasserstein_distance call",
    "wasserstein_normed": "wasserstein_stat_test",
    "psi": "psi_stat_test",
    "jensenshannon": "jensenshannon_stat_test",
    "kl_div": "kl_div_stat_test",
    "hellinger": "hellinger_stat_test",
    "chisquare": "chi_stat_test; statistic: its scipy.stats.chisquare call",
    "chisquare_on_bins": (
        "numerical column with > 20 distinct reference values, where Evidently has no chisquare "
        "test: get_binned_data(feel_zeroes=False) counts, f_obs/f_exp as in _chi_stat_test, "
        "bins empty on both sides dropped, scipy.stats.chisquare"
    ),
    "z": "z_stat_test; statistic: the z it passes to proportions_diff_z_test",
}


def column_stats(ref, cur, ctype):
    """Every statistic feedloop prints, from Evidently's stattests (see SOURCES)."""
    stats = {}
    n_distinct = int(pd.concat([ref, cur]).nunique())
    if ctype == NUM:
        res, (ks_stat, ks_p) = run_test("ks", ref, cur, ctype)
        assert res.drift_score == ks_p
        stats["ks"] = {"statistic": jnum(ks_stat), "p_value": jnum(ks_p)}
        res, raw = run_test("wasserstein", ref, cur, ctype)
        stats["wasserstein"] = jnum(raw)
        stats["wasserstein_normed"] = jnum(res.drift_score)
    for name in ["psi", "jensenshannon", "kl_div", "hellinger"]:
        res, _ = run_test(name, ref, cur, ctype)
        stats[name] = jnum(res.drift_score)
    on_bins = ctype == NUM and ref.nunique() > 20
    if on_bins:
        chi_stat, chi_p = numeric_chisquare_on_bins(ref, cur)
    else:
        res, (chi_stat, chi_p) = run_test("chisquare", ref, cur, ctype)
        assert res.drift_score == chi_p
    stats["chisquare"] = {"statistic": jnum(chi_stat), "p_value": jnum(chi_p)}
    if n_distinct <= 2:
        res, captured = run_test("z", ref, cur, ctype)
        # Evidently returns p = 1 without computing z when both sides are one same value.
        z_stat = captured[0] if captured else 0.0
        if captured:
            assert res.drift_score == captured[1]
        stats["z"] = {"statistic": jnum(z_stat), "p_value": jnum(res.drift_score)}
    return stats, on_bins, n_distinct


def report_values(snapshot):
    """Per-column (test, score, threshold, drift) and the dataset verdict of a snapshot."""
    d = snapshot.dict()
    by_id = {}
    count = None
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"] == "evidently:metric_v2:ValueDrift":
            by_id[m["id"]] = {
                "column": cfg["column"],
                "test": DISPLAY_TO_NAME[cfg["method"]],
                "score": float(m["value"]),
                "threshold": float(cfg["threshold"]),
            }
        elif cfg["type"] == "evidently:metric_v2:DriftedColumnsCount":
            count = (m["id"], m["value"])
    columns = {}
    dataset_drift = None
    for t in d["tests"]:
        mid = t["metric_config"]["metric_id"]
        failed = {"FAIL": True, "SUCCESS": False}[t["status"]]
        if mid in by_id:
            v = by_id[mid]
            v["drift"] = failed
            columns[v.pop("column")] = v
        elif count and mid == count[0]:
            dataset_drift = failed
    return columns, dataset_drift, count[1]


def compute(name, ref_df, cur_df, cols, nr, nc):
    drift_share = 0.5
    snap = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True).run(cur_df, ref_df)
    report, dataset_drift, count = report_values(snap)
    if set(report) != set(cols):
        raise AssertionError(f"{name}: Report compared {sorted(report)}, expected {sorted(cols)}")
    out_cols = {}
    for col, spec in cols.items():
        ctype = infer_column_type(cur_df[col])
        if ctype != spec[0]:
            raise AssertionError(f"{name}.{col}: Evidently infers {ctype}, made for {spec[0]}")
        ref, cur = clean(ref_df[col]), clean(cur_df[col])
        rep = report[col]
        res, _ = run_test(rep["test"], ref, cur, ctype)
        if (float(res.drift_score), bool(res.drifted), float(res.actual_threshold)) != (
            rep["score"], rep["drift"], rep["threshold"]):
            raise AssertionError(f"{name}.{col}: stattest {res} differs from the Report {rep}")
        stats, on_bins, n_distinct = column_stats(ref, cur, ctype)
        out_cols[col] = {
            "kind": {NUM: "numeric", CAT: "categorical"}[ctype],
            "test": rep["test"],
            "score": jnum(rep["score"]),
            "threshold": jnum(rep["threshold"]),
            "drift": rep["drift"],
            "n_reference_values": int(len(ref)),
            "n_current_values": int(len(cur)),
            "n_distinct": n_distinct,
            "stats": stats,
            "chisquare_on_bins": on_bins,
            "forced": {},
        }
    # Each test forced, through the Report, on every column whose kind Evidently accepts it for.
    for test in TESTS:
        targets = [c for c in cols if accepted_by_name(test, cols[c][0])]
        if not targets:
            continue
        snap = Report([DataDriftPreset(per_column_method={c: test for c in targets})],
                      include_tests=True).run(cur_df, ref_df)
        forced, _, _ = report_values(snap)
        for c in targets:
            v = forced[c]
            assert v["test"] == test, (name, c, v, test)
            ref, cur = clean(ref_df[c]), clean(cur_df[c])
            res, _ = run_test(test, ref, cur, cols[c][0])
            assert (float(res.drift_score), bool(res.drifted)) == (v["score"], v["drift"]), (name, c, test)
            out_cols[c]["forced"][test] = {
                "score": jnum(v["score"]), "threshold": jnum(v["threshold"]), "drift": v["drift"]}
    n_drifted = int(round(count["count"]))
    share = float(count["share"])
    assert n_drifted == sum(1 for v in out_cols.values() if v["drift"])
    return {
        "n_reference": nr,
        "n_current": nc,
        "drift_share": drift_share,
        "dataset_drift": dataset_drift,
        "n_drifted": n_drifted,
        "share_drifted": jnum(share),
        "columns": out_cols,
    }


def generate(out):
    os.makedirs(out, exist_ok=True)
    datasets = {}
    for name, nr, nc, fmt, seed, s in DATASETS:
        cols = make_dataset(nr, nc, fmt, seed, s)
        paths = {}
        dfs = []
        for side, label in [(0, "reference"), (1, "current")]:
            fname = f"{name}_{label}.{fmt}"
            path = os.path.join(out, fname)
            write_side(path, fmt, cols, side)
            df = read_side(path, fmt)
            check_read_back(df, cols, side, fname)
            paths[label] = fname
            dfs.append(df)
        result = compute(name, dfs[0], dfs[1], cols, nr, nc)
        datasets[name] = {"reference": paths["reference"], "current": paths["current"], **result}
        print(f"{name}: {result['n_drifted']} of {len(cols)} columns drifted", file=sys.stderr)
    doc = {
        "generator": GENERATOR,
        "versions": {k: importlib.metadata.version(k) for k in PINS},
        "sources": SOURCES,
        "datasets": datasets,
    }
    with open(os.path.join(out, "evidently.json"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(doc, indent=1) + "\n")


# -------------------------------------------------------------------- check
def json_diffs(a, b, path, tol, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in the regenerated file")
            elif k not in b:
                out.append(f"{path}.{k}: only in the committed file")
            else:
                json_diffs(a[k], b[k], f"{path}.{k}", tol, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            json_diffs(x, y, f"{path}[{i}]", tol, out)
    elif (isinstance(a, float) and isinstance(b, float)
          and not isinstance(a, bool) and not isinstance(b, bool)):
        if a != b and not (tol > 0 and abs(a - b) <= tol * max(abs(a), abs(b))):
            out.append(f"{path}: committed {a!r}, regenerated {b!r}")
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: committed {a!r}, regenerated {b!r}")


def check(tol):
    diffs = []
    with tempfile.TemporaryDirectory(prefix="evidently-fixtures-") as tmp:
        generate(tmp)
        committed = sorted(os.listdir(OUT)) if os.path.isdir(OUT) else []
        fresh = sorted(os.listdir(tmp))
        for f in sorted(set(committed) | set(fresh)):
            c, n = os.path.join(OUT, f), os.path.join(tmp, f)
            if f not in fresh:
                diffs.append(f"{f}: committed but not generated (stale file)")
                continue
            if f not in committed:
                diffs.append(f"{f}: generated but not committed")
                continue
            with open(c, "rb") as fh:
                cb = fh.read()
            with open(n, "rb") as fh:
                nb = fh.read()
            if f.endswith(".json"):
                d = []
                json_diffs(json.loads(cb), json.loads(nb), f, tol, d)
                diffs.extend(d)
                if not d and cb != nb and tol == 0:
                    diffs.append(f"{f}: same values, different text (re-run the generator)")
            elif f.endswith(".parquet"):
                ct, nt = pq.read_table(c), pq.read_table(n)
                if not ct.schema.equals(nt.schema):
                    diffs.append(f"{f}: schema {ct.schema} != regenerated {nt.schema}")
                elif not ct.equals(nt):
                    for name in ct.column_names:
                        a, b = ct[name].to_pylist(), nt[name].to_pylist()
                        bad = [i for i, (x, y) in enumerate(zip(a, b)) if not same_value(x, y)]
                        if bad or len(a) != len(b):
                            i = bad[0] if bad else min(len(a), len(b))
                            diffs.append(f"{f}: column {name} differs first at row {i}")
                elif cb != nb:
                    diffs.append(f"{f}: same contents, different bytes (pyarrow version?)")
            elif cb != nb:
                cl, nl = cb.decode().splitlines(), nb.decode().splitlines()
                i = next((i for i, (x, y) in enumerate(zip(cl, nl)) if x != y), min(len(cl), len(nl)))
                diffs.append(
                    f"{f}: differs at line {i + 1}: committed {cl[i] if i < len(cl) else '<end>'!r}, "
                    f"regenerated {nl[i] if i < len(nl) else '<end>'!r}")
    if diffs:
        print(f"evidently fixtures: {len(diffs)} difference(s) between {os.path.relpath(OUT, ROOT)} "
              f"and what {GENERATOR} generates:", file=sys.stderr)
        for d in diffs[:200]:
            print("  " + d, file=sys.stderr)
        if len(diffs) > 200:
            print(f"  ... and {len(diffs) - 200} more", file=sys.stderr)
        print(f"Regenerate with: python {GENERATOR} (pinned venv: scripts/drift_fixtures/check)",
              file=sys.stderr)
        return 1
    print(f"evidently fixtures: {os.path.relpath(OUT, ROOT)} is what {GENERATOR} generates "
          f"({len(committed)} files)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary folder and compare with the committed fixtures")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="relative tolerance for JSON numbers in --check (default 0: exact)")
    ap.add_argument("--out", default=OUT, help=argparse.SUPPRESS)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.check:
        sys.exit(check(args.tolerance))
    generate(args.out)


if __name__ == "__main__":
    main()
