"""The report's memorisation panel: membership AUCs and TPR at 1% FPR, the ROC figure, the
controls, extraction, and which measure decided.

    >>> from emergence.report.memorisation import roc_figure
    >>> roc_figure(None, "unused.png") is None
    True

Nothing is computed here: the numbers come from :class:`emergence.verdict.panel.MemorisationPanel`
(``verdicts/memorisation.json``). matplotlib is imported inside :func:`roc_figure`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from emergence.report.document import Block, Bold, Heading, Image, Para, Table, Text
from emergence.report.fmt import fmt_est

if TYPE_CHECKING:
    from emergence.results import ExperimentResult

__all__ = ["panel_blocks", "roc_figure"]

# Okabe-Ito, as in emergence.report.plots; one colour per score
_COLOURS = {"reference": "#000000", "neg_loss": "#0072B2", "zlib": "#009E73", "min_k": "#E69F00",
            "min_k_pp": "#D55E00", "loglik": "#CC79A7"}


def roc_figure(panel: Any, path: str | Path, *, title: str = "Members vs non-members") -> Path | None:
    """ROC curves of every score, tuned model on the left (with the reference score), base on
    the right (the negative control: near the diagonal); log-scaled FPR insets are not drawn,
    the TPR at 1% FPR is in the table. None when the panel has no scores."""
    if panel is None or not panel.scores:
        return None
    from emergence.report.plots import _plt

    plt = _plt()
    models = [m for m in ("tuned", "base") if any(s.model == m for s in panel.scores)]
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        for s in (s for s in panel.scores if s.model == model):
            width = 2.4 if s.key == "reference" else 1.3
            ax.plot(s.roc_fpr, s.roc_tpr, color=_COLOURS.get(s.key, "#777777"), lw=width,
                    label=f"{s.key}: AUC {s.auc.short()}")
        ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="chance")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("false-positive rate (non-members flagged)")
        ax.set_ylabel("true-positive rate (members flagged)")
        ax.set_title(f"{model} model")
        ax.legend(loc="lower right", fontsize=7.5, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _score_rows(panel: Any) -> list[list[Text]]:
    rows: list[list[Text]] = []
    for s in panel.scores:
        name = Bold(s.label) if s.key == "reference" else s.label
        rows.append([name, s.model, f"{s.tpr.n_members} + {s.tpr.n_nonmembers}", fmt_est(s.auc),
                     fmt_est(s.tpr.tpr, 1, pct=True) + ("" if s.tpr.resolvable else " *")])
    return rows


def panel_blocks(result: "ExperimentResult", images: dict[str, Path]) -> list[Block]:
    """The panel's section, or nothing when the run has no panel."""
    panel = result.memorisation
    if panel is None:
        return []
    blocks: list[Block] = [Heading(2, "Memorisation panel", "memorisation-panel")]
    blocks.append(Para("Does the tuned model know its training records? One forward pass over each record's training "
                       "exchange, exactly as trained, for records training consumed (members) and held-out records "
                       "drawn by the same split hash (non-members): the higher a score, the more member-like. The "
                       "reference-calibrated score (tuned minus base log-likelihood per token) is the primary number: the "
                       "base model's own view of how predictable a text is cancels."))
    blocks.append(Para([Bold("Decision: "), panel.text]))
    if "roc" in images:
        blocks.append(Image(images["roc"], "ROC curves of the membership scores",
                            "ROC curves, members against non-members: tuned model (left), base model (right, the "
                            "negative control)."))
    blocks.append(Table(["score", "model", "members + non-members", "AUC [95%]", "TPR at 1% FPR [95%]"],
                        _score_rows(panel),
                        caption="AUC with its score interval (emergence.memorisation.auc); TPR at 1% FPR with a "
                        "bootstrap interval; * not resolvable: fewer than 99 non-members, so the threshold lies above "
                        "every non-member (expected FPR above 1%).", numeric=(3, 4)))
    controls = [c for c in (panel.canaries, panel.base_only) if c is not None]
    for c in controls:
        what = "Positive control (canaries)" if c.control == "canaries" else "Negative control (base only)"
        blocks.append(Para([Bold(f"{what}: "), ("passed. " if c.passed else "FAILED. "), c.text, f" Rule: {c.rule}."]))
    for model, share in panel.extraction.items():
        blocks.append(Para([Bold(f"Extraction ({model}): "), share.text + "."]))
    cf = result.counterfactual
    if cf is not None:
        blocks.append(Para([Bold("Counterfactual memorisation: "), cf.text + ". ",
                            f"Each record's fit trained on it minus not trained on it, the rest of the data the same "
                            f"(Zhang et al. 2021); {2 * cf.pairs} training runs took {cf.train_seconds:.0f} s."]))
        if cf.top:
            blocks.append(Table(["title", "IN − OUT (nats per token)"], [[t, f"{s:+.3f}"] for t, s in cf.top],
                                caption="The most counterfactually memorised records of the subset.", numeric=(1,)))
    return blocks
