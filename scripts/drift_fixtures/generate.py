#!/usr/bin/env python3
"""Generate the JSON fixtures of crates/feedloop-drift from numpy + scipy.

How to run (from the repository root):

    python3 -m venv /tmp/driftvenv && /tmp/driftvenv/bin/pip install numpy scipy
    /tmp/driftvenv/bin/python scripts/drift_fixtures/generate.py

Writes crates/feedloop-drift/tests/fixtures/{special,ks,columns}.json.
Generated with numpy 2.4.6 / scipy 1.17.1; all data comes from seeded
`numpy.random.default_rng` generators, so re-running reproduces the files.

Data encoding (keeps the committed fixtures < 1 MB; Rust cannot reproduce
numpy's RNG, so the data itself is stored):
* "text": whitespace-separated Python `repr` of each float ("nan"/"inf"
  for nulls) -- exact round trip through Rust's `str::parse::<f64>`.
  The 10k-row columns are rounded to 4 decimals to keep them short.
* "counts": value `k / scale` repeated `count` times, for `[k, count]`
  pairs, plus `nulls` NaNs. Every statistic here is invariant to row
  order, so the 200k-row case (values quantised to 0.01) is stored as a
  histogram of exact values, a few kB instead of several MB.
* int / str / bool columns are JSON lists (null = missing).

Expected values: scipy.stats.ks_2samp, scipy.stats.wasserstein_distance,
np.std, and a numpy re-implementation of Evidently 0.7's legacy stattests
(`get_binned_data`, psi, kl_div, jensenshannon, hellinger_distance,
chisquare_stattest, z_stattest, `_get_default_stattest`).
"""
import json
import math
import os
import warnings

import numpy as np
from scipy import stats
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "feedloop-drift", "tests", "fixtures")


# ---------------------------------------------------------------- Evidently
def unique_keys(ref, cur):
    return list(set(np.unique(ref).tolist()) | set(np.unique(cur).tolist()))


def value_count_bins(ref, cur):
    keys = unique_keys(ref, cur)
    rv, rc = np.unique(ref, return_counts=True)
    cv, cc = np.unique(cur, return_counts=True)
    rd = dict(zip(rv.tolist(), rc.tolist()))
    cd = dict(zip(cv.tolist(), cc.tolist()))
    return np.array([rd.get(k, 0) for k in keys]), np.array([cd.get(k, 0) for k in keys])


def binned_counts(ref, cur, numeric):
    """Evidently get_binned_data, counts only."""
    if numeric and len(np.unique(ref)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, bins)[0], np.histogram(cur, bins)[0]
    return value_count_bins(ref, cur)


def feel_zeroes(p):
    p = p.copy()
    m = min(p[p != 0])
    np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return p


def hellinger_evidently(ref, cur, numeric):
    keys = unique_keys(ref, cur)
    if not numeric:
        rv, rc = np.unique(ref, return_counts=True)
        cv, cc = np.unique(cur, return_counts=True)
        rd = dict(zip(rv.tolist(), (rc / len(ref)).tolist()))
        cd = dict(zip(cv.tolist(), (cc / len(cur)).tolist()))
        h = 0.0
        for k in keys:
            h += math.sqrt(float(rd.get(k, 0)) * float(cd.get(k, 0)))
        return math.sqrt(1 - np.clip(h, 0, 1))
    bins = np.histogram_bin_edges(keys, bins="sturges")
    h1 = np.histogram(ref, bins=bins, density=True)[0]
    h2 = np.histogram(cur, bins=bins, density=True)[0]
    bw = (max(bins) - min(bins)) / (len(bins) - 1)
    h = 0.0
    for i in range(len(h1)):
        h += math.sqrt(float(h1[i]) * float(h2[i])) * bw
    return math.sqrt(1 - np.clip(h, 0, 1))


def chisquare_evidently(rc, cc):
    keep = (rc > 0) | (cc > 0)
    rc, cc = rc[keep], cc[keep]
    k_norm = cc.sum() / rc.sum()
    f_exp = np.array([r * k_norm for r in rc], dtype=float)
    f_obs = np.array(cc, dtype=float)
    if len(f_obs) == 1:
        return float(((f_obs - f_exp) ** 2 / f_exp).sum()), 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.chisquare(f_obs, f_exp)
    return float(res.statistic), float(res.pvalue)


def z_evidently(ref, cur):
    ur, uc = np.unique(ref), np.unique(cur)
    if len(ur) == 1 and len(uc) == 1 and ur[0] == uc[0]:
        return 0.0, 1.0
    key = sorted(unique_keys(ref, cur))[0]
    r = np.array([0 if x == key else 1 for x in ref])
    c = np.array([0 if x == key else 1 for x in cur])
    n1, n2 = len(r), len(c)
    p1 = float(sum(r)) / n1
    p2 = float(sum(c)) / n2
    P = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
    return float(z), float(2 * (1 - stats.norm.cdf(np.abs(z))))


def default_test(kind, n_ref, n_values):
    if n_ref <= 1000:
        if kind == "numeric":
            return "ks" if n_values > 5 else ("chisquare" if n_values > 2 else "z")
        return "chisquare" if n_values > 2 else "z"
    if kind == "numeric" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


DRIFT = {
    "ks": lambda s, t: s <= t, "chisquare": lambda s, t: s < t, "z": lambda s, t: s < t,
}
THRESH = {"ks": 0.05, "chisquare": 0.05, "z": 0.05}


def expected(ref, cur, col_type):
    if col_type == "float":
        kind = "numeric"
    elif col_type == "int":
        kind = "categorical" if len(np.unique(cur)) <= 10 else "numeric"
    else:
        kind = "categorical"
    numeric = kind == "numeric"
    if numeric:
        ref = np.asarray(ref, dtype=float)
        cur = np.asarray(cur, dtype=float)
    n_values = len(unique_keys(ref, cur))
    rc, cc = binned_counts(ref, cur, numeric)
    rp, cp = rc / len(ref), cc / len(cur)
    rf, cf = feel_zeroes(rp), feel_zeroes(cp)
    out = {
        "kind": kind,
        "n_reference": len(ref),
        "n_current": len(cur),
        "n_bins": len(rc),
        "psi": float(np.sum((rf - cf) * np.log(rf / cf))),
        "kl_div": float(stats.entropy(rf, cf)),
        "jensenshannon": float(distance.jensenshannon(rp, cp)),
        "hellinger": float(hellinger_evidently(ref, cur, numeric)),
    }
    out["chisquare_statistic"], out["chisquare_p_value"] = chisquare_evidently(rc, cc)
    if math.isinf(out["chisquare_statistic"]):  # JSON has no Infinity
        out["chisquare_statistic"] = "inf"
    if n_values <= 2:
        out["z_statistic"], out["z_p_value"] = z_evidently(ref, cur)
    if numeric:
        ks = stats.ks_2samp(ref, cur)
        out["ks_statistic"] = float(ks.statistic)
        out["ks_p_value"] = float(ks.pvalue)
        out["ks_exact"] = max(len(ref), len(cur)) <= 10000
        w = stats.wasserstein_distance(ref, cur)
        out["wasserstein"] = float(w)
        out["wasserstein_normed"] = float(w / max(float(np.std(ref)), 0.001))
    test = default_test(kind, len(ref), n_values)
    score = {
        "ks": out.get("ks_p_value"), "wasserstein": out.get("wasserstein_normed"),
        "jensenshannon": out["jensenshannon"], "chisquare": out["chisquare_p_value"],
        "z": out.get("z_p_value"),
    }[test]
    thr = THRESH.get(test, 0.1)
    out["test"] = test
    out["score"] = score
    out["threshold"] = thr
    out["drift"] = bool(DRIFT.get(test, lambda s, t: s >= t)(score, thr))
    return out


# ---------------------------------------------------------------- encoding
def enc_text(x):
    return {"enc": "text", "data": " ".join(repr(float(v)) for v in x)}


def enc_counts(x, scale):
    x = np.asarray(x, dtype=float)
    nulls = int(np.sum(~np.isfinite(x)))
    k = np.round(x[np.isfinite(x)] * scale).astype(np.int64)
    vals, cnt = np.unique(k, return_counts=True)
    return {"enc": "counts", "scale": scale, "values": [[int(a), int(b)] for a, b in zip(vals, cnt)], "nulls": nulls}


def decode_counts(e):
    parts = [np.full(c, k / e["scale"]) for k, c in e["values"]]
    return np.concatenate(parts + [np.full(e["nulls"], np.nan)])


def clean(x, col_type):
    if col_type == "float":
        x = np.asarray(x, dtype=float)
        return x[np.isfinite(x)]
    return np.array([v for v in x if v is not None])


def column(name, col_type, ref, cur, enc=None):
    if col_type == "float":
        if enc is None:
            r_enc, c_enc = enc_text(ref), enc_text(cur)
        else:
            r_enc, c_enc = enc_counts(ref, enc), enc_counts(cur, enc)
            ref, cur = decode_counts(r_enc), decode_counts(c_enc)
    else:
        r_enc, c_enc = list(ref), list(cur)
    ex = expected(clean(ref, col_type), clean(cur, col_type), col_type)
    return {"name": name, "type": col_type, "reference": r_enc, "current": c_enc, "expected": ex}


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("ignore")

    # ---- special functions
    grid = []
    for n in [1, 2, 3, 5, 10, 30, 50, 100, 140, 141, 300, 1000, 5000, 20000, 100000, 100001, 150000]:
        for x in [0.0005, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.8, 0.95]:
            sf = float(stats.kstwo.sf(x, n))
            grid.append([n, x, sf])
    chi = []
    for dof in [1, 2, 3, 4, 5, 10, 19, 20, 50, 99, 200, 1000]:
        for x in [0.001, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 100.0, 250.0, 1000.0, 1500.0]:
            chi.append([dof, x, float(stats.chi2.sf(x, dof))])
    ndtr = [[z, float(stats.norm.cdf(z))] for z in [-8.0, -3.5, -1.2, -0.7, -0.1, 0.0, 0.3, 0.9, 1.0, 2.5, 6.0]]
    with open(os.path.join(OUT, "special.json"), "w") as f:
        json.dump({"kstwo_sf": grid, "chi2_sf": chi, "ndtr": ndtr}, f)

    # ---- KS pairs: exact with n1 != n2 and n1 == n2, ties, asymptotic
    rng = np.random.default_rng(20240601)
    ks_cases = []
    pairs = [
        ("n7_n13", rng.normal(0, 1, 7), rng.normal(0.8, 1, 13)),
        ("n20_n20", rng.normal(0, 1, 20), rng.normal(0.5, 1, 20)),
        ("n20_n20_same_dist", rng.normal(0, 1, 20), rng.normal(0, 1, 20)),
        ("n50_n80_ties", np.round(rng.normal(0, 1, 50), 1), np.round(rng.normal(0.2, 1, 80), 1)),
        ("n1_n1", np.array([1.0]), np.array([2.0])),
        ("n1_n5", np.array([0.5]), rng.normal(0, 1, 5)),
        ("n300_n300_shift", rng.normal(0, 1, 300), rng.normal(0.3, 1, 300)),
        ("n999_n400_scale", rng.normal(0, 1, 999), rng.normal(0, 1.5, 400)),
        ("n3000_n2000", rng.normal(0, 1, 3000), rng.normal(0.05, 1, 2000)),
        ("n10000_n7000_large_d", rng.normal(0, 1, 10000), rng.normal(0.4, 1, 7000)),
        ("n12000_n30_asymp", rng.normal(0, 1, 12000), rng.normal(0.3, 1, 30)),
        ("n15000_n15000_asymp", rng.normal(0, 1, 15000), rng.normal(0.02, 1, 15000)),
        ("identical", np.arange(10.0), np.arange(10.0)),
    ]
    for name, a, b in pairs:
        if max(len(a), len(b)) >= 3000:  # keep the fixture small
            a, b = np.round(a, 4), np.round(b, 4)
        r = stats.ks_2samp(a, b)
        ks_cases.append({"name": name, "a": enc_text(a), "b": enc_text(b),
                         "statistic": float(r.statistic), "p_value": float(r.pvalue),
                         "exact": max(len(a), len(b)) <= 10000})
    with open(os.path.join(OUT, "ks.json"), "w") as f:
        json.dump(ks_cases, f)

    # ---- column cases
    rng = np.random.default_rng(7)
    cols = []
    # 500 rows
    n = 500
    cols.append(column("n500_mean_shift", "float", rng.normal(0, 1, n), rng.normal(0.3, 1, n)))
    cols.append(column("n500_no_drift", "float", rng.normal(5, 2, n), rng.normal(5, 2, n)))
    cols.append(column("n500_variance", "float", rng.normal(0, 1, n), rng.normal(0, 1.6, 450)))
    mix_c = np.where(rng.random(n) < 0.3, rng.normal(4, 0.5, n), rng.normal(0, 1, n))
    cols.append(column("n500_mixture", "float", rng.normal(0, 1, n), mix_c))
    cols.append(column("n500_rounded_ties", "float", np.round(rng.normal(0, 1, n), 1), np.round(rng.normal(0.1, 1, n), 1)))
    cols.append(column("n500_constant", "float", np.full(n, 3.0), np.full(n, 3.0)))
    cols.append(column("n500_const_vs_two", "float", np.full(n, 3.0), np.where(rng.random(n) < 0.1, 4.0, 3.0)))
    cols.append(column("n500_four_values", "float", rng.integers(0, 4, n) * 1.5, rng.integers(0, 4, n) * 1.5 + (rng.random(n) < 0.1) * 1.5))
    r = rng.normal(0, 1, n); r[rng.random(n) < 0.05] = np.nan; r[:3] = [np.inf, -np.inf, np.nan]
    c = rng.normal(0.2, 1, n); c[rng.random(n) < 0.2] = np.nan
    cols.append(column("n500_nulls", "float", r, c))
    cols.append(column("n500_int_cat", "int", rng.integers(0, 6, n).tolist(), (rng.integers(0, 6, n) + (rng.random(n) < 0.2)).tolist()))
    ri = rng.integers(0, 50, n).tolist(); ri[:5] = [None] * 5
    cols.append(column("n500_int_numeric", "int", ri, rng.integers(3, 55, n).tolist()))
    cats = ["a", "b", "c", "d"]
    rs = rng.choice(cats, n, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    cs = rng.choice(cats + ["e"], n, p=[0.25, 0.25, 0.2, 0.2, 0.1]).tolist()
    rs[:4] = [None] * 4
    cols.append(column("n500_str_new_category", "str", rs, cs))
    cols.append(column("n500_str_no_drift", "str", rng.choice(cats, n).tolist(), rng.choice(cats, n).tolist()))
    cols.append(column("n500_bool", "bool", (rng.random(n) < 0.3).tolist(), (rng.random(n) < 0.45).tolist()))
    cols.append(column("n500_binary_str", "str", rng.choice(["no", "yes"], n, p=[0.7, 0.3]).tolist(), rng.choice(["no", "yes"], n, p=[0.69, 0.31]).tolist()))
    cols.append(column("n40_n25_small", "float", rng.normal(0, 1, 40), rng.normal(1, 1, 25)))
    # 10k rows
    n = 10000
    cols.append(column("n10k_shift", "float", np.round(rng.normal(0, 1, n), 4), np.round(rng.normal(0.05, 1, 8000), 4)))
    cols.append(column("n10k_variance", "float", np.round(rng.normal(0, 1, n), 4), np.round(rng.normal(0, 1.3, n), 4)))
    cols.append(column("n10k_exponential", "float", np.round(rng.exponential(1, n), 4), np.round(rng.exponential(1.1, n), 4)))
    cols.append(column("n10k_int_small", "int", rng.integers(0, 4, n).tolist(), rng.integers(0, 5, n).tolist()))
    cols.append(column("n10k_str", "str", rng.choice(cats, n, p=[0.4, 0.3, 0.2, 0.1]).tolist(), rng.choice(cats, n, p=[0.38, 0.32, 0.2, 0.1]).tolist()))
    cols.append(column("n10k_bool", "bool", (rng.random(n) < 0.3).tolist(), (rng.random(n) < 0.3).tolist()))
    # 200k rows, stored as histograms of 0.01-quantised values
    n = 200000
    cols.append(column("n200k_shift", "float", rng.normal(0, 1, n), rng.normal(0.01, 1, n), enc=100))
    cols.append(column("n200k_same", "float", rng.normal(10, 3, n), rng.normal(10, 3, 150000), enc=100))
    mix = np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(2, 1, n))
    cols.append(column("n200k_mixture_vs_normal", "float", rng.normal(0, 2.2, n), mix, enc=100))
    big = rng.normal(0, 1, n); big[rng.random(n) < 0.01] = np.nan
    cols.append(column("n200k_nulls_ties", "float", big, rng.normal(0, 1, n), enc=10))
    with open(os.path.join(OUT, "columns.json"), "w") as f:
        json.dump(cols, f)


if __name__ == "__main__":
    main()
