"""Interval coverage and decision error rates: emergence.stats against the intervals it replaced.

    $ OMP_NUM_THREADS=1 python benchmarks/bench_stats.py            # ~2 minutes on one core
    $ OMP_NUM_THREADS=1 python benchmarks/bench_stats.py --draws 1000

Prints five tables (Markdown) and writes JSON:

1. continuous: simulated coverage of the bootstrap-t intervals (emergence.stats.interval)
   beside the percentile bootstrap (the old rule), equal-tailed bootstrap-t for differences
   and BCa, on tests/simdata.py's data at n = 10, 20, 50, 100: coverage among defined
   intervals, the share undefined, and each end's miss rate (low > truth / high < truth);
2. binary: exact coverage (every outcome enumerated) over a grid of rates in the tool's
   range: min / mean / max for Wilson, Tango (paired), Newcombe (paired and unpaired);
3. the decision rule: P(refuted) at true effects 2m and m, P(confirmed) at 0, at the
   demo's sizes and the planned n, beside the old rule (percentile bootstrap, no power);
4. the MDE: at the planned n, a true effect of the MDE is detected (low > 0) ~80% of the
   time, and with no effect the high end falls below the MDE ~80% of the time;
5. planning: n for an MDE of 0.05 on a paired 0/1 metric at base accuracy 0.25.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import simdata as sd  # noqa: E402

from emergence import stats as st  # noqa: E402
from emergence.stats.intervals import _boot_moments  # noqa: E402
from emergence.verdict.decision import decide  # noqa: E402

B = 2000
NORMAL = NormalDist()


def _percentile(x: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The old percentile bootstrap of a mean, row by row (the same resampling counts as bootstrap-t)."""
    mean = x.mean(axis=1)
    boot, _ = _boot_moments(x - mean[:, None], B, rng)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=1)
    return mean + lo, mean + hi


def _bca(x: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BCa for a mean: bias correction from the share of resamples below, acceleration from the skew."""
    mean = x.mean(axis=1)
    c = x - mean[:, None]
    boot, _ = _boot_moments(c, B, rng)
    below = (np.sum(boot < 0, axis=1) + 0.5 * np.sum(boot == 0, axis=1)) / B
    z0 = np.array([NORMAL.inv_cdf(min(max(v, 0.5 / B), 1 - 0.5 / B)) for v in below])
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.nan_to_num((c**3).sum(axis=1) / (6 * ((c**2).sum(axis=1)) ** 1.5))
    ends = []
    for zq in (NORMAL.inv_cdf(alpha / 2), NORMAL.inv_cdf(1 - alpha / 2)):
        q = np.array([NORMAL.cdf(v) for v in z0 + (z0 + zq) / (1 - acc * (z0 + zq))])
        s = np.sort(boot, axis=1)
        ends.append(mean + s[np.arange(len(q)), np.clip((q * B).astype(int), 0, B - 1)])
    ok = c.std(axis=1) > 0
    return np.where(ok, ends[0], np.nan), np.where(ok, ends[1], np.nan)


def _summary(lo: np.ndarray, hi: np.ndarray, truth: float) -> dict[str, float]:
    ok = ~(np.isnan(lo) | np.isnan(hi))
    lo, hi = lo[ok], hi[ok]
    return {"coverage": float(np.mean((lo <= truth) & (truth <= hi))), "undefined": float(1 - ok.mean()),
            "low_above": float(np.mean(lo > truth)), "high_below": float(np.mean(hi < truth))}


def continuous(draws: int) -> list[dict]:
    rows = []
    tuned_minus_base = sd.pmf_mean(sd.ABS_TUNED) - sd.pmf_mean(sd.ABS_BASE)
    for n in (10, 20, 50, 100):
        rng = np.random.default_rng(n)
        one = {"abs_tuned": (sd.abs_errors(rng, sd.ABS_TUNED, (draws, n)), sd.pmf_mean(sd.ABS_TUNED)),
               "abs_heavy (limit)": (sd.abs_errors(rng, sd.ABS_HEAVY, (draws, n)), sd.pmf_mean(sd.ABS_HEAVY)),
               "abs_rare_far (limit)": (sd.abs_errors(rng, sd.ABS_RARE_FAR, (draws, n)), sd.pmf_mean(sd.ABS_RARE_FAR)),
               "expected_error": (sd.expected_errors(rng, (draws, n)), 10 * 1.2 / 5.2)}
        for name, (x, truth) in one.items():
            for method, (lo, hi) in (("studentized (new)", st.studentized_bounds(x, 0.05, B, rng)),
                                     ("percentile (old)", _percentile(x, 0.05, rng)),
                                     ("BCa", _bca(x, 0.05, rng))):
                rows.append({"design": "one_sample", "data": name, "n": n, "method": method, **_summary(lo, hi, truth)})
        paired = {f"abs_errors keep={k}": sd.paired_abs_errors(rng, (draws, n), keep=k) for k in (0.0, 0.4, 0.6, 0.8)}
        paired["expected_error"] = sd.paired_expected_errors(rng, (draws, n))
        for name, (a, b, truth) in paired.items():
            d = b - a
            for method, (lo, hi) in (("symmetric studentized (new)", st.studentized_bounds(d, 0.05, B, rng, symmetric=True)),
                                     ("equal-tailed studentized", st.studentized_bounds(d, 0.05, B, rng)),
                                     ("percentile (old)", _percentile(d, 0.05, rng))):
                rows.append({"design": "paired", "data": name, "n": n, "method": method, **_summary(lo, hi, truth)})
        unpaired = {"abs_errors base vs tuned": (sd.abs_errors(rng, sd.ABS_BASE, (draws, n)),
                                                 sd.abs_errors(rng, sd.ABS_TUNED, (draws, n)), tuned_minus_base),
                    "expected_error": (sd.expected_errors(rng, (draws, n)), sd.expected_errors(rng, (draws, n), a=0.9),
                                       10 * 0.9 / 4.9 - 10 * 1.2 / 5.2)}
        for name, (x, y, truth) in unpaired.items():
            # old unpaired percentile: quantiles of the difference of independent resample means
            bx, _ = _boot_moments(x - x.mean(axis=1, keepdims=True), B, rng)
            by, _ = _boot_moments(y - y.mean(axis=1, keepdims=True), B, rng)
            d0 = y.mean(axis=1) - x.mean(axis=1)
            qlo, qhi = np.quantile(by - bx, [0.025, 0.975], axis=1)
            for method, (lo, hi) in (("symmetric studentized (new)", st.studentized_diff_bounds(x, y, 0.05, B, rng)),
                                     ("percentile (old)", (d0 + qlo, d0 + qhi))):
                rows.append({"design": "unpaired", "data": name, "n": n, "method": method, **_summary(lo, hi, truth)})
        print(f"continuous n={n} done", file=sys.stderr, flush=True)
    return rows


def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])


def binary_exact() -> list[dict]:
    rows = []
    for n in (10, 20, 50, 100):
        lf = _log_factorials(n)
        k = np.arange(n + 1)

        def pmf(p: float) -> np.ndarray:
            return np.exp(lf[n] - lf[k] - lf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p))

        lo, hi = st.wilson_bounds(k, n)
        cov = {"wilson (one proportion)": [float(pmf(p) @ ((lo <= p) & (p <= hi))) for p in np.linspace(0.1, 0.5, 81)]}
        ka, kb = np.meshgrid(k, k, indexing="ij")
        lo, hi = st.newcombe_bounds(ka, n, kb, n)
        grid = np.linspace(0.1, 0.5, 17)
        cov["newcombe (unpaired)"] = [float(np.sum(np.outer(pmf(a), pmf(b)) * ((lo <= b - a + 1e-12) & (b - a - 1e-12 <= hi))))
                                      for a in grid for b in grid]
        k10, k01 = np.meshgrid(k, k, indexing="ij")
        keep = k10 + k01 <= n
        n10, n01 = k10[keep], k01[keep]
        t_lo, t_hi = st.tango_bounds(n10, n01, n)
        cov["tango (paired)"], cov["newcombe (paired)"] = [], []
        # Newcombe's paired interval also depends on how the concordant pairs split: one set of
        # intervals per n11
        by_n11 = []
        for n11 in range(n + 1):
            rest = n - n10 - n01 - n11
            ok = rest >= 0
            by_n11.append((n11, ok, rest[ok], *st.newcombe_paired_bounds(n11, n10[ok], n01[ok], rest[ok])))
        for base in (0.25, 0.5):
            for psi in np.linspace(0.1, 0.4, 13):
                for effect in np.linspace(-0.1, 0.1, 9) * psi / 0.4:
                    p10, p01 = (psi - effect) / 2, (psi + effect) / 2
                    if p10 >= base or p01 >= 1 - base:  # every cell of the table possible
                        continue
                    p11 = base - p10
                    w_bc = lf[n] - lf[n10] - lf[n01] + n10 * math.log(p10) + n01 * math.log(p01)
                    inside = (t_lo <= effect + 1e-12) & (effect - 1e-12 <= t_hi)
                    if base == 0.25:
                        cov["tango (paired)"].append(float(np.exp(w_bc - lf[n - n10 - n01] + (n - n10 - n01) * math.log1p(-psi)) @ inside))
                    total = 0.0
                    log_p00 = math.log(1 - psi - p11)
                    for n11, ok, rest, nlo, nhi in by_n11:
                        w = np.exp(w_bc[ok] - lf[n11] - lf[rest] + n11 * math.log(p11) + rest * log_p00)
                        total += float(w @ ((nlo <= effect + 1e-12) & (effect - 1e-12 <= nhi)))
                    cov["newcombe (paired)"].append(total)
        for name, values in cov.items():
            v = np.array(values)
            rows.append({"interval": name, "n": n, "min": float(v.min()), "mean": float(v.mean()), "max": float(v.max()),
                         "settings": int(v.size)})
        print(f"binary n={n} done", file=sys.stderr, flush=True)
    return rows


def _old_rule(a: np.ndarray, b: np.ndarray, m: float, seed: int) -> str:
    """The wave-1 rule this replaces, for comparison: a percentile paired bootstrap (500
    resamples), refuted when its high end is below m, no power and no control needed."""
    d = b - a
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, d.size, size=(500, d.size))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    if d.size < 10:
        return "inconclusive"
    return "confirmed" if lo > m else "refuted" if hi < m else "inconclusive"


def decisions(draws: int) -> list[dict]:
    m = 0.05
    plan = st.n_for_mde(m, kind="binary", design="paired", discordance=0.25, rate=0.25)
    rows = []
    for n in (10, 12, 16, 40, 200, plan, round(1.2 * plan)):
        rng = np.random.default_rng(n)
        for effect in (2 * m, m, 0.0):
            a, b = sd.paired_binary(rng, (draws, n), 0.25, 0.25, effect)
            n10, n01 = sd.paired_counts(a, b)
            lo, hi = st.tango_bounds(n10, n01, n)
            new = [decide(st.Estimate(mean=float((c - r) / n), se=math.nan, ci_low=float(x), ci_high=float(y), n=n,
                                      method="tango"), "increase", m, control_detected=True).outcome
                   for r, c, x, y in zip(n10, n01, lo, hi)]
            row = {"setting": "paired 0/1, base 0.25, discordance 0.25", "n": n, "true_effect": effect, "min_effect": m,
                   "refuted": float(np.mean(np.array(new) == "refuted")),
                   "confirmed": float(np.mean(np.array(new) == "confirmed"))}
            if n <= 40:  # the old rule: percentile bootstrap (500 resamples), no power, no control
                old = [_old_rule(np.asarray(x, float), np.asarray(y, float), m, seed=i)
                       for i, (x, y) in enumerate(zip(a[:500], b[:500]))]
                row |= {"old_refuted": float(np.mean(np.array(old) == "refuted")),
                        "old_confirmed": float(np.mean(np.array(old) == "confirmed"))}
            rows.append(row)
        print(f"decisions n={n} done", file=sys.stderr, flush=True)
    return rows


def mde_check(draws: int) -> list[dict]:
    """At the planned n: P(low > 0) with a true effect of the target MDE, P(high < target)
    with none, and the realised MDE's median (each should read 0.8, 0.8, the target)."""
    rows = []
    rng = np.random.default_rng(1)
    n = st.n_for_mde(0.05, kind="binary", design="paired", discordance=0.25, rate=0.25)
    for effect in (0.05, 0.0):
        a, b = sd.paired_binary(rng, (draws, n), 0.25, 0.25, effect)
        lo, hi = st.tango_bounds(*sd.paired_counts(a, b), n)
        rows.append(("paired 0/1 (discordance 0.25)", n, 0.05, effect, lo, hi))
    n = st.n_for_mde(0.1, kind="binary", design="unpaired", rate=0.25, rate_b=0.35)
    for effect in (0.1, 0.0):
        lo, hi = st.newcombe_bounds(rng.binomial(n, 0.25, draws), n, rng.binomial(n, 0.25 + effect, draws), n)
        rows.append(("gap 0/1 (0.25 vs 0.25 + effect)", n, 0.1, effect, lo, hi))
    n = st.n_for_mde(0.5, kind="continuous", design="paired", sd=2.05)
    for effect in (0.5, 0.0):
        base, tuned, truth = sd.paired_expected_errors(rng, (draws, n))
        lo, hi = st.studentized_bounds(tuned - base - truth + effect, 0.05, B, rng, symmetric=True)
        rows.append(("paired expected error (sd 2.05)", n, 0.5, effect, lo, hi))
    return [{"setting": name, "n": n, "target": t, "true_effect": e,
             "p_low_above_0": float(np.mean(lo > 0)), "p_high_below_target": float(np.mean(hi < t)),
             "median_mde": float(np.median(st.mde_from_bounds(lo, hi)))} for name, n, t, e, lo, hi in rows]


def planning() -> list[dict]:
    rows = []
    for psi in (0.2, 0.25, 0.3):
        for effect in (0.0, 0.05):
            n = st.n_for_mde(0.05, kind="binary", design="paired", discordance=psi, rate=0.25, effect=effect)
            rows.append({"discordance": psi, "effect": effect, "n_for_mde_0.05": n,
                         "n_for_refuted_80pct": round(1.2 * n),
                         "mde_at_400": st.expected_mde(400, kind="binary", design="paired", discordance=psi, effect=effect)})
    return rows


def _table(rows: list[dict], keys: list[str]) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    return "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
                     + ["| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=4000, help="simulated samples per setting")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = {"machine": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
           "draws": args.draws, "resamples": B}
    out["continuous"] = continuous(args.draws)
    out["binary_exact"] = binary_exact()
    out["decisions"] = decisions(args.draws)
    out["mde_check"] = mde_check(args.draws)
    out["planning"] = planning()
    out["seconds"] = time.perf_counter() - t0
    print(_table(out["continuous"], ["design", "data", "n", "method", "coverage", "undefined", "low_above", "high_below"]))
    print()
    print(_table(out["binary_exact"], ["interval", "n", "min", "mean", "max", "settings"]))
    print()
    print(_table(out["decisions"], ["setting", "n", "true_effect", "refuted", "confirmed", "old_refuted", "old_confirmed"]))
    print()
    print(_table(out["mde_check"], ["setting", "n", "target", "true_effect", "p_low_above_0", "p_high_below_target",
                                    "median_mde"]))
    print()
    print(_table(out["planning"], ["discordance", "effect", "n_for_mde_0.05", "n_for_refuted_80pct", "mde_at_400"]))
    print(f"\n{out['machine']}, numpy {out['numpy']}, {args.draws} draws, {B} resamples: {out['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
