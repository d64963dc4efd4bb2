"""The run's report: ``report.md`` and a self-contained ``report.html`` from an ExperimentResult.

    >>> from emergence.report import write_report   # doctest: +SKIP
    >>> md, html = write_report(result, result.run_dir)   # doctest: +SKIP

``document`` (blocks and their two renderings) · ``fmt`` (numbers in words) · ``tables``
(registry-driven tables) · ``sections`` (the content) · ``plots`` (charts).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emergence.results import ExperimentResult

__all__ = ["write_report"]


def _images(result: "ExperimentResult", assets: Path) -> dict[str, Path]:
    from emergence.report import plots

    metrics = result.metrics.model_dump(mode="json")
    variant = result.probes.config.verdict_variant
    train = result.train
    made = {
        "loss": plots.loss_curve(result.loss_curve, assets / "loss.png", heldout_before=train.heldout_loss_before,
                                 heldout_after=train.heldout_loss_after,
                                 title=f"{result.config.train.model}: LoRA r={result.config.train.lora_r}, "
                                       f"{train.steps} steps"),
        "age_bars": plots.age_bars(metrics, assets / "age_heldout.png", set_name="age_heldout", variant=variant),
        "age_bars_seen": plots.age_bars(metrics, assets / "age_seen.png", set_name="age_seen", variant=variant),
        "gap": plots.memorisation_gap_chart(metrics, assets / "memorisation.png"),
    }
    tuned = {r.item_id: r for r in result.probes.select(set="age_heldout", model="tuned", variant=variant)}
    pairs = [(float(b.label_age), b.parsed_age, tuned[b.item_id].parsed_age)
             for b in result.probes.select(set="age_heldout", model="base", variant=variant)
             if b.item_id in tuned and b.label_age is not None]
    made["scatter"] = plots.age_scatter(pairs, assets / "stated_vs_true.png")
    if result.curve is not None:
        from emergence.report.curve_plot import curve_figure

        made["curve"] = curve_figure(result.curve, assets / "curve.png", log_x=result.config.curve.log_x,
                                     title="Change from base along training")
    if result.memorisation is not None:
        from emergence.report.memorisation import roc_figure

        made["roc"] = roc_figure(result.memorisation, assets / "roc.png")
    return {k: v for k, v in made.items() if v is not None}


def write_report(result: "ExperimentResult", run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (charts in ``report/``) and the self-contained ``report.html``."""
    from emergence.report.document import render_html, render_markdown
    from emergence.report.sections import build_report

    run_dir = Path(run_dir)
    assets = run_dir / "report"
    assets.mkdir(parents=True, exist_ok=True)
    blocks = build_report(result, _images(result, assets))
    title = f"Emergence experiment — {result.config.profile or 'custom config'}"
    md = run_dir / "report.md"
    md.write_text(render_markdown(blocks, image_dir="report"), encoding="utf-8")
    page = run_dir / "report.html"
    page.write_text(render_html(blocks, title=title), encoding="utf-8")
    return md, page
