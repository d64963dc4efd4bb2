"""Coverage of the memorisation panel's intervals: the AUC score interval against DeLong's
(Wald and logit), Newcombe's method 5 and the percentile bootstrap; the TPR at 1% FPR
under two threshold rules, with and without the Wilson widening.

    $ OMP_NUM_THREADS=1 python benchmarks/bench_memorisation.py             # ~10 minutes, one core
    $ OMP_NUM_THREADS=1 python benchmarks/bench_memorisation.py --draws 1000 --skip-tpr

Prints Markdown tables (figures go to benchmarks/README.md): coverage among defined
intervals, the share undefined, each end's miss rate (low > truth / high < truth) and the
mean width. Score shapes: tests/test_memorisation_coverage.py's ``scores``.
"""
from __future__ import annotations

import argparse
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

from test_memorisation_coverage import scores  # noqa: E402

from emergence.memorisation import auc_bounds, mann_whitney_auc, placements, threshold_rank, tpr_at_rank  # noqa: E402
from emergence.stats import wilson_bounds  # noqa: E402

Z = NormalDist().inv_cdf(0.975)


# --------------------------------------------------------------------------- AUC peers
def delong(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v10, v01 = placements(x, y)
    return v10.mean(1), v10.var(1, ddof=1) / x.shape[1] + v01.var(1, ddof=1) / y.shape[1]


def delong_wald(x, y):
    a, var = delong(x, y)
    se = np.sqrt(var)
    return np.clip(a - Z * se, 0, 1), np.clip(a + Z * se, 0, 1)


def delong_logit(x, y):
    a, var = delong(x, y)
    bad = (a <= 0) | (a >= 1) | (var <= 0)
    with np.errstate(all="ignore"):
        centre, half = np.log(a / (1 - a)), Z * np.sqrt(var) / (a * (1 - a))
        lo, hi = 1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half)))
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def newcombe5(x, y):
    """Newcombe (2006) method 5: score interval, Hanley-McNeil exponential-model variance, N*."""
    m, n = x.shape[1], y.shape[1]
    a = mann_whitney_auc(x, y)
    star = (m + n) / 2 - 1

    def out(t):
        var = t * (1 - t) / (m * n) * (1 + (star - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
        return (a - t) ** 2 > Z * Z * var

    lo_o, lo_i, hi_i, hi_o = np.zeros_like(a), a.copy(), a.copy(), np.ones_like(a)
    for _ in range(45):
        mid = (lo_o + lo_i) / 2
        o = out(mid)
        lo_o, lo_i = np.where(o, mid, lo_o), np.where(o, lo_i, mid)
        mid = (hi_i + hi_o) / 2
        o = out(mid)
        hi_o, hi_i = np.where(o, mid, hi_o), np.where(o, hi_i, mid)
    return np.where(a <= 0, 0, (lo_o + lo_i) / 2), np.where(a >= 1, 1, (hi_i + hi_o) / 2)


def percentile_bootstrap(x, y, rng, n_boot=500):
    lo, hi = np.empty(x.shape[0]), np.empty(x.shape[0])
    for r in range(x.shape[0]):
        bx = x[r][rng.integers(0, x.shape[1], (n_boot, x.shape[1]))]
        by = y[r][rng.integers(0, y.shape[1], (n_boot, y.shape[1]))]
        lo[r], hi[r] = np.quantile(mann_whitney_auc(bx, by), [0.025, 0.975])
    return lo, hi


def cell(lo, hi, truth) -> str:
    ok = ~(np.isnan(lo) | np.isnan(hi))
    undef = 1 - ok.mean()
    lo, hi = lo[ok], hi[ok]
    cover = np.mean((lo <= truth) & (truth <= hi))
    text = f"{cover:.3f}" + (f" ({undef:.1%} undef.)" if undef > 0 else "")
    return f"{text} {np.mean(lo > truth):.3f}/{np.mean(hi < truth):.3f} w{np.mean(hi - lo):.3f}"


def auc_table(draws: int, boot_draws: int, seed: int) -> None:
    sizes = [(8, 8), (20, 20), (50, 50), (200, 200), (8, 200), (50, 2000)]
    methods = ["score (emergence)", "DeLong logit", "DeLong Wald", "Newcombe 5 (HM)", "percentile bootstrap"]
    print(f"\n### AUC interval coverage ({draws} draws, 1/4 of them at 50+2000; bootstrap {boot_draws} draws x 500 "
          "resamples, up to 50 a side)\n")
    print("| shape | AUC | method | " + " | ".join(f"{m}+{n}" for m, n in sizes) + " |")
    print("|---|---|---|" + "---|" * len(sizes))
    for shape in ("binormal", "unequal", "exponential"):
        for true_auc in (0.5, 0.7, 0.9, 0.97):
            if shape == "exponential" and true_auc == 0.5:
                continue  # the same law on both sides as binormal at 0.5
            rows = {k: [] for k in methods}
            for m, n in sizes:
                rng = np.random.default_rng([seed, m, n, round(true_auc * 100), len(shape)])
                d = draws if n < 2000 else max(draws // 4, 250)
                x, y = scores(rng, shape, true_auc, m, n, d)
                rows["score (emergence)"].append(cell(*auc_bounds(x, y)[1:3], true_auc))
                rows["DeLong logit"].append(cell(*delong_logit(x, y), true_auc))
                rows["DeLong Wald"].append(cell(*delong_wald(x, y), true_auc))
                rows["Newcombe 5 (HM)"].append(cell(*newcombe5(x, y), true_auc))
                k = min(boot_draws, d) if max(m, n) <= 50 else 0  # its failures are at small n
                rows["percentile bootstrap"].append(cell(*percentile_bootstrap(x[:k], y[:k], rng), true_auc)
                                                    if k else "-")
            for k, v in rows.items():
                print(f"| {shape} | {true_auc} | {k} | " + " | ".join(v) + " |")
            sys.stdout.flush()


# --------------------------------------------------------------------------- TPR at 1% FPR
def tpr_table(draws: int, n_boot: int, seed: int) -> None:
    print(f"\n### TPR at 1% FPR: bias and coverage of the population TPR at FPR 1% ({draws} draws x {n_boot} "
          "resamples; binormal)\n")
    print("| n a side | AUC | true TPR | rule | j | mean estimate | percentile | percentile + Wilson |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (100, 200, 500, 2000):
        for true_auc in (0.6, 0.8, 0.95):
            d = math.sqrt(2) * NormalDist().inv_cdf(true_auc)
            truth = 1 - NormalDist().cdf(NormalDist().inv_cdf(0.99) - d)
            for rule, j in (("expected FPR <= 1% (emergence)", threshold_rank(n, 0.01)),
                            ("empirical FPR <= 1%", math.floor(0.01 * n + 1e-9) + 1)):
                rng = np.random.default_rng([seed, n, round(true_auc * 100), j])
                dd = draws if n < 2000 else max(draws // 2, 200)
                x, y = scores(rng, "binormal", true_auc, n, n, dd)
                est, thr = tpr_at_rank(x, y, j)
                lo, hi = np.empty(dd), np.empty(dd)
                for r in range(dd):
                    bx = x[r][rng.integers(0, n, (n_boot, n))]
                    by = y[r][rng.integers(0, n, (n_boot, n))]
                    lo[r], hi[r] = np.quantile(tpr_at_rank(bx, by, j)[0], [0.025, 0.975])
                w_lo, w_hi = wilson_bounds(np.sum(x > thr[:, None], axis=1), n)
                pct = np.mean((lo <= truth) & (truth <= hi))
                wide = np.mean((np.minimum(lo, w_lo) <= truth) & (truth <= np.maximum(hi, w_hi)))
                print(f"| {n} | {true_auc} | {truth:.3f} | {rule} | {j} | {est.mean():.3f} | {pct:.3f} | {wide:.3f} |")
                sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=4000, help="Samples per AUC cell.")
    ap.add_argument("--boot-draws", type=int, default=400, help="Samples per cell for the bootstrap AUC peer.")
    ap.add_argument("--tpr-draws", type=int, default=600, help="Samples per TPR cell.")
    ap.add_argument("--tpr-boot", type=int, default=1000, help="Bootstrap resamples per TPR sample.")
    ap.add_argument("--skip-tpr", action="store_true")
    ap.add_argument("--seed", type=int, default=20260)
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    auc_table(args.draws, args.boot_draws, args.seed)
    if not args.skip_tpr:
        tpr_table(args.tpr_draws, args.tpr_boot, args.seed)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
