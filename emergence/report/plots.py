"""The report's charts (matplotlib, Agg backend): metrics with intervals, memorisation gap, stated ages.

    >>> from emergence.report.plots import interval_errors
    >>> interval_errors({"mean": 0.5, "ci_low": 0.4, "ci_high": 0.7, "n": 10})
    (0.5, 0.09999999999999998, 0.19999999999999996)

Every chart reads the aggregates the stages computed (``ProbeMetrics`` as dumped to
``metrics.json``: ``{"mean", "ci_low", "ci_high", "n", ...}`` per metric, and the trainer's
``metrics.jsonl`` rows) and draws them; no statistic is computed here beyond a running
mean that smooths the per-step loss for the eye. matplotlib is imported inside the functions.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["age_bars", "age_scatter", "interval_errors", "loss_curve", "memorisation_gap_chart"]

# One colour per series, the same in every chart (colour-blind safe, Okabe-Ito).
COLOURS = {"base": "#0072B2", "tuned": "#D55E00", "majority": "#999999", "rule": "#009E73",
           "seen": "#CC79A7", "held-out": "#56B4E9"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _ok(est: Mapping[str, Any] | None) -> bool:
    if not est or not est.get("n"):
        return False
    mean = est.get("mean")
    return mean is not None and not (isinstance(mean, float) and math.isnan(mean))


def interval_errors(est: Mapping[str, Any]) -> tuple[float, float, float]:
    """(mean, distance down to ci_low, distance up to ci_high); zero where the interval is undefined."""
    mean = float(est["mean"])
    lo, hi = est.get("ci_low"), est.get("ci_high")
    down = mean - float(lo) if lo is not None and not math.isnan(float(lo)) else 0.0
    up = float(hi) - mean if hi is not None and not math.isnan(float(hi)) else 0.0
    return mean, max(down, 0.0), max(up, 0.0)


def _wrap(text: str) -> str:
    """A column header on two lines, for a bar group's tick label."""
    words = text.split()
    half = (len(words) + 1) // 2
    return " ".join(words[:half]) + ("\n" + " ".join(words[half:]) if len(words) > 1 else "")


def _grouped(ax: Any, groups: Sequence[str], series: Sequence[tuple[str, Sequence[Mapping[str, Any] | None]]],
             *, ylabel: str, ylim: tuple[float, float] | None = None) -> None:
    """Bars of each series per group, with asymmetric interval error bars; n/a bars are left out."""
    width = 0.8 / max(len(series), 1)
    for s, (name, ests) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for g, est in enumerate(ests):
            if not _ok(est):
                continue
            mean, down, up = interval_errors(est)
            xs.append(g + (s - (len(series) - 1) / 2) * width)
            ys.append(mean)
            lo.append(down)
            hi.append(up)
        if xs:
            ax.bar(xs, ys, width * 0.95, yerr=[lo, hi], capsize=3, label=name,
                   color=COLOURS.get(name.split(" ")[0], None), error_kw={"elinewidth": 1})
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def loss_curve(rows: Sequence[Mapping[str, Any]], path: str | Path, *, heldout_before: float | None = None,
               heldout_after: float | None = None, title: str = "") -> Path | None:
    """Training loss per step (raw and a running mean), the learning rate, and the held-out
    loss where it was measured: before training (step 0), at the curve's checkpoints and
    every eval_steps when scored there, and after training (the last step). Measured
    points only, unjoined: a line between two of them would read as a curve nobody measured."""
    train = [r for r in rows if r.get("loss") is not None]
    if not train:
        return None
    plt = _plt()
    steps = [r["step"] for r in train]
    losses = [float(r["loss"]) for r in train]
    window = max(1, len(losses) // 10)
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.plot(steps, losses, color=COLOURS["base"], alpha=0.35, lw=1, label="training loss (per step)")
    ax.plot(steps, smooth, color=COLOURS["base"], lw=2, label=f"running mean ({window} steps)")
    held = [r for r in rows if r.get("heldout_loss") is not None]
    points = [(0, heldout_before)] + [(r["step"], r["heldout_loss"]) for r in held] + [(steps[-1], heldout_after)]
    points = [(s, v) for s, v in points if v is not None]
    if points:
        ax.plot([s for s, _ in points], [v for _, v in points], "o", color=COLOURS["tuned"], ms=6,
                label=f"held-out loss ({len(points)} measured points)")
        for (s, v), offset in ((points[0], (6, 6)), (points[-1], (-34, 8))):
            ax.annotate(f"{v:.3f}", (s, v), textcoords="offset points", xytext=offset, fontsize=8,
                        color=COLOURS["tuned"])
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (mean token cross-entropy)")
    ax.grid(alpha=0.3)
    lrs = [(r["step"], r["learning_rate"]) for r in train if r.get("learning_rate") is not None]
    if lrs:
        ax2 = ax.twinx()
        ax2.plot([s for s, _ in lrs], [v for _, v in lrs], color="#888888", lw=1, alpha=0.6)
        ax2.set_ylabel("learning rate", color="#888888")
        ax2.tick_params(axis="y", colors="#888888")
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def age_bars(metrics: Mapping[str, Any], path: str | Path, *, set_name: str = "age_heldout",
             variant: str = "seed") -> Path | None:
    """Base vs tuned (and the baselines) on one age set: rates in one panel, errors in years in another."""
    tables = metrics.get("tables", {}).get(set_name, {})
    if not tables:
        return None
    from emergence.metrics import family

    plt = _plt()
    cols = [*family("age"), *family("age_choice")]
    # rates on a 0-1 axis, errors in years on their own
    rates = [(m.key, _wrap(m.column)) for m in cols if m.percent]
    errors = [(m.key, _wrap(m.column)) for m in cols if m.unit == "years"]
    series_rates, series_err = [], []
    for which in ("base", "tuned"):
        m = tables.get(which, {}).get(variant, {})
        if m:
            series_rates.append((which, [m.get(k) for k, _ in rates]))
            series_err.append((which, [m.get(k) for k, _ in errors]))
    for kind, per_set in metrics.get("baselines", {}).items():
        m = per_set.get(set_name)
        if m:
            label = f"{kind} baseline"
            series_rates.append((label, [m.get(k) for k, _ in rates]))
            series_err.append((label, [m.get(k) for k, _ in errors]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110, gridspec_kw={"width_ratios": [2, 1]})
    _grouped(ax1, [label for _, label in rates], series_rates, ylabel="share of items", ylim=(0, 1.05))
    _grouped(ax2, [label for _, label in errors], series_err, ylabel="years (lower is better)")
    ax1.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"{set_name}: base vs tuned, with 95% intervals")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def memorisation_gap_chart(metrics: Mapping[str, Any], path: str | Path) -> Path | None:
    """Author-intent overlap with the training text, seen vs held-out titles, per model."""
    tables = metrics.get("tables", {})
    seen, held = tables.get("intent_seen", {}), tables.get("intent_heldout", {})
    if not seen or not held:
        return None
    from emergence.metrics import family

    plt = _plt()
    # overlap rates on one axis (not lengths in characters)
    keys = [(m.family, m.key, _wrap(m.column)) for m in (*family("intent"), *family("extract")) if not m.unit]
    models = [m for m in ("base", "tuned") if m in seen and m in held]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), dpi=110, squeeze=False, sharey=True)
    for ax, which in zip(axes[0], models):
        series = []
        for side, per_model in (("seen", seen), ("held-out", held)):
            per_variant = per_model.get(which, {})
            series.append((side, [per_variant.get(variant, {}).get(key) for variant, key, _ in keys]))
        _grouped(ax, [label for *_, label in keys], series, ylabel="mean overlap with training text")
        gap = metrics.get("memorisation_gap", {}).get(which, {}).get("rouge_l")
        title = f"{which} model"
        if _ok(gap):
            mean, down, up = interval_errors(gap)
            title += f": ROUGE-L gap {mean:+.3f} [{mean - down:+.3f}, {mean + up:+.3f}]"
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Memorisation: seen vs held-out titles (95% intervals)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def age_scatter(pairs: Sequence[tuple[float, float | None, float | None]], path: str | Path,
                *, set_name: str = "age_heldout") -> Path | None:
    """Stated age against true age, base and tuned side by side (abstentions counted in the title).

    ``pairs`` holds (true age, base's stated age or None, tuned's stated age or None) per item.
    A tuned model that only learned the corpus's age distribution fills the columns evenly;
    one that infers ages per item moves points toward the diagonal.
    """
    if not pairs:
        return None
    plt = _plt()
    import random

    jitter = random.Random(0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110, sharex=True, sharey=True)
    # stated ages far above every label (an answer of "50 years") would squash the plot:
    # they are drawn on the top edge as triangles
    top = max([p[0] for p in pairs] + [18.0]) + 4
    for ax, which, idx in ((axes[0], "base", 1), (axes[1], "tuned", 2)):
        stated = [p for p in pairs if p[idx] is not None]
        inside = [p for p in stated if p[idx] <= top]
        above = [p for p in stated if p[idx] > top]
        xs = [p[0] + jitter.uniform(-0.25, 0.25) for p in inside]
        ys = [p[idx] + jitter.uniform(-0.25, 0.25) for p in inside]
        abstained = sum(p[idx] is None for p in pairs)
        if above:
            ax.scatter([p[0] for p in above], [top + 0.4] * len(above), marker="^", s=22,
                       color=COLOURS[which], clip_on=False, label=f"stated above {top:g}")
        ax.fill_between([0, top + 1], [-2, top - 1], [2, top + 3], color="#dddddd", alpha=0.6, lw=0,
                        label="within ±2 years")
        ax.plot([0, top + 1], [0, top + 1], color="#888888", lw=1)
        ax.scatter(xs, ys, s=14, alpha=0.6, color=COLOURS[which])
        ax.set_title(f"{which}: {len(stated)} stated an age, {abstained} did not", fontsize=10)
        ax.set_xlabel("true minimum age (years)")
        ax.set_xlim(-0.5, top + 1)
        ax.set_ylim(-0.5, top + 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("stated minimum age (years)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{set_name}: stated vs true age (jittered)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
