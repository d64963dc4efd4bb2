"""The emergence curve's figure: each metric's change from base along training, with its intervals and onset.

    >>> from emergence.report.curve_plot import step_ticks
    >>> step_ticks([0, 10, 25, 50, 100, 200, 400, 800, 1600], most=6)
    [0, 25, 100, 400, 1600]

One panel per metric (units differ), sharing the x axis of training steps: the change from
base at each probed step (points joined by a thin line), its pointwise 95% interval (error
bar), the simultaneous band (a wide translucent bar: only measured steps carry one, so no
shading suggests values between them), the smallest effect that counts (dashed) and the
onset (dotted, with its bootstrap interval shaded). Nothing is computed here; the numbers
come from :class:`emergence.curve.MetricCurve`. matplotlib is imported inside the function.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["curve_figure", "step_ticks"]

# Okabe-Ito, as in emergence.report.plots
_POINT, _BAND, _ONSET, _THRESHOLD = "#0072B2", "#56B4E9", "#D55E00", "#555555"


def step_ticks(steps: Sequence[int], most: int = 8) -> list[int]:
    """At most ``most`` of the probed steps as tick labels, always the first and the last."""
    steps = list(steps)
    if len(steps) <= most:
        return steps
    stride = math.ceil((len(steps) - 1) / (most - 1))
    picked = steps[::stride]
    return picked if picked[-1] == steps[-1] else picked + [steps[-1]]


def _curves(curves: Any) -> list[Any]:
    from emergence.curve import EmergenceCurve, MetricCurve

    if isinstance(curves, EmergenceCurve):
        return list(curves.metrics)
    if isinstance(curves, Mapping) and "metrics" in curves:
        curves = curves["metrics"]
    return [c if isinstance(c, MetricCurve) else MetricCurve.model_validate(c) for c in curves]


def _xlim(ax: Any, steps: Sequence[int], log_x: bool) -> tuple[float, float]:
    """The same x range on every panel: the probed steps with a margin (in axis units when log)."""
    lo, hi = steps[0], steps[-1]
    if not log_x:
        pad = 0.04 * (hi - lo or 1)
        return lo - pad, hi + pad
    fwd, inv = ax.xaxis.get_transform(), ax.xaxis.get_transform().inverted()
    a, b = fwd.transform([lo, hi])
    pad = 0.04 * (b - a or 1)
    return tuple(float(v) for v in inv.transform([a - pad, b + pad]))


def _panel(ax: Any, c: Any, log_x: bool) -> None:
    later = [p for p in c.points[1:] if p.change is not None]
    steps = [c.points[0].step] + [p.step for p in later]
    means = [0.0] + [p.change.mean for p in later]
    defined = [p for p in later if not (math.isnan(p.change.ci_low) or math.isnan(p.change.ci_high))]
    banded = [p for p in later if p.band_low is not None and not math.isnan(p.band_low)]
    ax.axhline(0.0, color="#999999", lw=0.8)
    better = 1.0 if c.direction == "increase" else -1.0
    ax.axhline(better * c.min_effect, color=_THRESHOLD, lw=1.2, ls="--", label="smallest effect that counts")
    if banded:
        ax.vlines([p.step for p in banded], [p.band_low for p in banded], [p.band_high for p in banded],
                  color=_BAND, lw=9, alpha=0.35, label="simultaneous band (max-t)")
    ax.plot(steps, means, "-", color=_POINT, lw=1, alpha=0.6)
    ax.plot(steps, means, "o", color=_POINT, ms=5, label="change from base")
    if defined:
        ax.errorbar([p.step for p in defined], [p.change.mean for p in defined],
                    yerr=[[p.change.mean - p.change.ci_low for p in defined],
                          [p.change.ci_high - p.change.mean for p in defined]],
                    fmt="none", ecolor=_POINT, elinewidth=1.2, capsize=3,
                    label="pointwise interval")
    onset = c.onset
    if onset.step is not None:
        right = onset.high if onset.high is not None else steps[-1]
        left = onset.low if onset.low is not None else steps[-1]
        if right > left:
            ax.axvspan(left, right, color=_ONSET, alpha=0.08, lw=0)
        ax.axvline(onset.step, color=_ONSET, lw=1.4, ls=":", label="onset (its bootstrap interval shaded)")
    if log_x:
        first = next((s for s in steps if s > 0), 1)
        if steps[0] <= 0:
            ax.set_xscale("symlog", linthresh=first, linscale=0.5)
        else:
            ax.set_xscale("log")
    ticks = step_ticks(steps)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(s) for s in ticks])
    ax.minorticks_off()
    worse = "higher" if c.direction == "decrease" else "lower"
    ax.set_ylabel(f"change from base\n({worse} is worse)", fontsize=9)
    when = f"onset at step {onset.step}" if onset.step is not None else f"no onset within {onset.last_step} steps"
    ax.set_title(f"{c.label}: {when}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)


def curve_figure(curves: Any, path: str | Path, *, log_x: bool = False, title: str = "",
                 note: str = "") -> Path | None:
    """Draw one panel per metric of ``curves`` (an EmergenceCurve, MetricCurves, or their
    ``model_dump()`` dicts) into a PNG at ``path``; None when there is nothing to draw.

    ``log_x`` puts training steps on a log axis (symlog when the base is step 0, so it
    stays on the axis); ``note`` is printed under the panels (e.g. the mirage check's words)."""
    items = _curves(curves)
    if not items:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = 1 if len(items) == 1 else 2
    rows = math.ceil(len(items) / cols)
    # panels keep their own ticks (a discrete metric may be probed at fewer steps) on one x range
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 3.4 * rows + (0.5 if note else 0.0)), dpi=110,
                             squeeze=False)
    every = sorted({s for c in items for s in c.steps})
    for ax, c in zip(axes.flat, items):
        _panel(ax, c, log_x)
        ax.set_xlabel("training step" + (" (log scale)" if log_x else ""), fontsize=9)
    for ax in list(axes.flat)[:len(items)]:
        ax.set_xlim(*_xlim(ax, every, log_x))
    for ax in list(axes.flat)[len(items):]:
        ax.set_visible(False)
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels, handles = list(legend), list(legend.values())
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 3), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    confidence = f"{100 * (1 - items[0].alpha):g}%"
    fig.suptitle(title or f"The emergence curve: change from base along training ({confidence} intervals)",
                 y=1.08 if rows == 1 else 1.04, fontsize=11)
    if note:
        fig.text(0.5, -0.02, note, ha="center", va="top", fontsize=8, wrap=True)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
