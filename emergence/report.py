"""The run's report: ``report.md`` and a self-contained ``report.html`` from an ExperimentResult.

    >>> from emergence.report import Table, render_markdown, render_html
    >>> doc = [Table(["title", "answer"], [["<b>Dune</b>", "Ages 13 | up"]])]
    >>> print(render_markdown(doc).strip())
    | title | answer |
    | --- | --- |
    | &lt;b>Dune&lt;/b> | Ages 13 \\| up |
    >>> "&lt;b&gt;Dune&lt;/b&gt;" in render_html(doc, title="t")
    True

The report is built once as a list of blocks (headings, paragraphs, tables, images,
verdict boxes) and rendered twice: Markdown (images as files beside it, in ``report/``)
and HTML (images embedded as base64 PNG data URIs, CSS inline, no external request: a
Content-Security-Policy forbids any). Every piece of model or corpus text is escaped.
A few lines of inline script record image load failures and script errors into a hidden
element, which the browser test reads; the page reads the same with scripts off.

Sections: the question and hypotheses; the setup (model, corpus, config, versions,
hardware, git commit, duration); the corpus audit; training (loss curve, losses);
probe answers (a sample, all rows in ``answers.jsonl``); metrics with intervals for base,
tuned and the baselines (charts with error bars); memorisation; lm-eval; the verdicts in
words with their controls; and the caveats that apply to this run.
"""
from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

if TYPE_CHECKING:
    from emergence.experiment import ExperimentResult

__all__ = [
    "Bold", "Code", "Details", "Heading", "Image", "Link", "Para", "Table", "VerdictBox", "Bullets",
    "build_report", "render_html", "render_markdown", "write_report",
]

QUESTION = (
    "After LoRA training on title → content pairs only, does a chat model infer a book's minimum "
    "reading age for titles it was never trained on (emergence), and does it copy training text "
    "when asked a subjective question about a title (memorisation)?"
)


# ---------------------------------------------------------------------------------------
# the document model


class Bold(str):
    """Inline bold text."""


class Code(str):
    """Inline code."""


@dataclass
class Link:
    """Inline link (relative to the run directory)."""

    text: str
    href: str


Span = Union[str, Bold, Code, Link]
Text = Union[str, Sequence[Span]]


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    spans: Text
    cls: str = ""


@dataclass
class Bullets:
    items: list[Text]


@dataclass
class Table:
    header: list[str]
    rows: list[list[Text]]
    caption: str = ""
    numeric: tuple[int, ...] = ()  # column indexes right-aligned
    cls: str = ""


@dataclass
class Image:
    path: Path
    alt: str
    caption: str = ""


@dataclass
class VerdictBox:
    outcome: str
    title: str
    body: list[Text] = field(default_factory=list)


@dataclass
class Details:
    summary: str
    text: str


Block = Union[Heading, Para, Bullets, Table, Image, VerdictBox, Details]


def _spans(text: Text) -> list[Span]:
    if isinstance(text, (str, Link)):
        return [text]
    return list(text)


# ---------------------------------------------------------------------------------------
# Markdown


_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


def _md_escape(text: str) -> str:
    # model text must never become markup: what could open an HTML tag or entity is escaped
    # (a bare "p<0.05" stays readable), and table pipes and newlines too
    text = _MD_ENTITY.sub("&amp;", str(text))
    text = _MD_TAG.sub("&lt;", text)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_spans(text: Text) -> str:
    out = []
    for span in _spans(text):
        if isinstance(span, Bold):
            out.append(f"**{_md_escape(span)}**")
        elif isinstance(span, Code):
            out.append(f"`{str(span).replace('`', chr(39))}`")
        elif isinstance(span, Link):
            out.append(f"[{_md_escape(span.text)}]({span.href})")
        else:
            out.append(_md_escape(span))
    return "".join(out)


def render_markdown(blocks: Sequence[Block], *, image_dir: str = "report") -> str:
    """The blocks as Markdown; images are referenced as ``image_dir/<file name>``."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md_escape(block.text)}\n")
        elif isinstance(block, Para):
            out.append(_md_spans(block.spans) + "\n")
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {_md_spans(item)}" for item in block.items) + "\n")
        elif isinstance(block, Table):
            if block.caption:
                out.append(f"*{_md_escape(block.caption)}*\n")
            lines = ["| " + " | ".join(_md_escape(h) for h in block.header) + " |",
                     "| " + " | ".join("---:" if i in block.numeric else "---"
                                       for i in range(len(block.header))) + " |"]
            for row in block.rows:
                lines.append("| " + " | ".join(_md_spans(cell) for cell in row) + " |")
            out.append("\n".join(lines) + "\n")
        elif isinstance(block, Image):
            out.append(f"![{_md_escape(block.alt)}]({image_dir}/{block.path.name})\n")
            if block.caption:
                out.append(f"*{_md_escape(block.caption)}*\n")
        elif isinstance(block, VerdictBox):
            lines = [f"> **{block.outcome.upper()}** — {_md_escape(block.title)}"]
            for para in block.body:
                lines += [">", f"> {_md_spans(para)}"]
            out.append("\n".join(lines) + "\n")
        elif isinstance(block, Details):
            out.append(f"<details><summary>{html.escape(block.summary)}</summary>\n\n```\n"
                       f"{block.text.replace('```', '` ` `')}\n```\n</details>\n")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#ffffff; --soft:#f5f7fa;
  --ok:#1a7f37; --no:#b42318; --maybe:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 15px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.8em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.35em; margin: 1.8em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1em; margin: 1.4em 0 0.4em; }
p { margin: 0.5em 0; }
a { color: #0b5cad; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 0 3px; border-radius: 3px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.9em; width: auto; max-width: 100%; }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.answers td { max-width: 340px; overflow-wrap: anywhere; }
table.answers td:first-child { max-width: 220px; }
figure { margin: 0.8em 0 1.2em; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.9em; }
.verdict { border: 1px solid var(--line); border-left: 6px solid var(--maybe); border-radius: 4px;
  padding: 8px 14px; margin: 0.8em 0; background: var(--soft); }
.verdict.confirmed { border-left-color: var(--ok); }
.verdict.refuted { border-left-color: var(--no); }
.verdict h4 { margin: 0.2em 0 0.3em; font-size: 1em; }
.badge { display: inline-block; font-size: 0.75em; font-weight: 700; letter-spacing: 0.04em;
  padding: 1px 7px; border-radius: 10px; color: #fff; background: var(--maybe); margin-right: 6px;
  vertical-align: 1px; }
.badge.confirmed { background: var(--ok); } .badge.refuted { background: var(--no); }
details { margin: 0.6em 0; } summary { cursor: pointer; color: #0b5cad; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 10px; overflow-x: auto;
  font: 0.85em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.headline { font-size: 1.05em; }
nav.toc { font-size: 0.9em; color: var(--muted); }
nav.toc a { margin-right: 10px; white-space: nowrap; }
"""

# Records image failures, script errors and blocked requests into #selfcheck's data-
# attributes once the page has loaded, so a headless browser's DOM dump can be checked.
_SELFCHECK = """
(function () {
  var errors = [];
  function note(m) { errors.push(String(m)); }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t.tagName === "IMG") { note("image failed: " + t.alt); } else { note("script error: " + e.message); }
  }, true);
  document.addEventListener("securitypolicyviolation", function (e) { note("blocked: " + e.blockedURI); });
  window.addEventListener("load", function () {
    var imgs = document.images;
    for (var i = 0; i < imgs.length; i++) {
      if (!imgs[i].complete || imgs[i].naturalWidth === 0) { note("image not rendered: " + imgs[i].alt); }
    }
    var el = document.getElementById("selfcheck");
    el.setAttribute("data-images", String(imgs.length));
    el.setAttribute("data-errors", JSON.stringify(errors));
    el.setAttribute("data-status", "loaded");
  });
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_spans(text: Text) -> str:
    out = []
    for span in _spans(text):
        if isinstance(span, Bold):
            out.append(f"<strong>{_h(span)}</strong>")
        elif isinstance(span, Code):
            out.append(f"<code>{_h(span)}</code>")
        elif isinstance(span, Link):
            out.append(f'<a href="{_h(span.href)}">{_h(span.text)}</a>')
        else:
            out.append(_h(span))
    return "".join(out)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def render_html(blocks: Sequence[Block], *, title: str) -> str:
    """The blocks as one self-contained HTML page (images inlined as data URIs)."""
    body: list[str] = []
    toc = [(b.anchor, b.text) for b in blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{_h(block.anchor)}"' if block.anchor else ""
            body.append(f"<h{block.level}{anchor}>{_h(block.text)}</h{block.level}>")
            if block.level == 1 and toc:
                body.append('<nav class="toc">' + "".join(
                    f'<a href="#{_h(a)}">{_h(t)}</a>' for a, t in toc) + "</nav>")
        elif isinstance(block, Para):
            cls = f' class="{_h(block.cls)}"' if block.cls else ""
            body.append(f"<p{cls}>{_html_spans(block.spans)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_html_spans(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            cls = f' class="{_h(block.cls)}"' if block.cls else ""
            parts = [f"<table{cls}>"]
            if block.caption:
                parts.append(f"<caption>{_h(block.caption)}</caption>")
            if any(block.header):  # key/value tables have no header row
                parts.append("<thead><tr>" + "".join(
                    f'<th{" class=num" if i in block.numeric else ""}>{_h(h)}</th>'
                    for i, h in enumerate(block.header)) + "</tr></thead>")
            parts.append("<tbody>")
            for row in block.rows:
                parts.append("<tr>" + "".join(
                    f'<td{" class=num" if i in block.numeric else ""}>{_html_spans(c)}</td>'
                    for i, c in enumerate(row)) + "</tr>")
            parts.append("</tbody></table>")
            body.append("".join(parts))
        elif isinstance(block, Image):
            cap = f"<figcaption>{_h(block.caption)}</figcaption>" if block.caption else ""
            body.append(f'<figure><img alt="{_h(block.alt)}" src="{_data_uri(block.path)}">{cap}</figure>')
        elif isinstance(block, VerdictBox):
            outcome = block.outcome.lower()
            paras = "".join(f"<p>{_html_spans(p)}</p>" for p in block.body)
            body.append(f'<div class="verdict {_h(outcome)}"><h4><span class="badge {_h(outcome)}">'
                        f"{_h(block.outcome.upper())}</span>{_h(block.title)}</h4>{paras}</div>")
        elif isinstance(block, Details):
            body.append(f"<details><summary>{_h(block.summary)}</summary><pre>{_h(block.text)}</pre></details>")
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title><style>{_CSS}</style><script>{_SELFCHECK}</script></head>"
        f'<body><div id="selfcheck" hidden></div><main>\n' + "\n".join(body) + "\n</main></body></html>\n"
    )


# ---------------------------------------------------------------------------------------
# numbers in words


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_est(est: Any, digits: int = 2, *, pct: bool = False, signed: bool = False) -> str:
    """`mean [low, high]` of an Estimate or its dict; '–' when undefined."""
    if est is None:
        return "–"
    if hasattr(est, "model_dump"):
        est = est.model_dump()
    mean = est.get("mean")
    if not est.get("n") or _isnan(mean):
        return "–"
    lo, hi = est.get("ci_low"), est.get("ci_high")
    scale = 100.0 if pct else 1.0
    sign = "+" if signed else ""
    unit = "%" if pct else ""
    d = max(digits - 2, 0) if pct else digits
    text = f"{mean * scale:{sign}.{d}f}{unit}"
    if not _isnan(lo) and not _isnan(hi):
        text += f" [{lo * scale:{sign}.{d}f}, {hi * scale:{sign}.{d}f}]"
    return text


def _f(x: Any, digits: int = 3) -> str:
    return "–" if _isnan(x) else f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _truncate(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _age(x: Any) -> str:
    return "–" if _isnan(x) else (f"{x:g}")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ---------------------------------------------------------------------------------------
# the report's content


_ROLE = {
    "age_emergence": "main question: emergence on held-out titles",
    "age_emergence_mc": "emergence, continuous measure (no free generation)",
    "age_recall": "positive control: recall of cues seen in training",
    "intent_memorisation": "memorisation of training text",
}


def headline(result: ExperimentResult) -> tuple[str, str]:
    """(outcome, sentence) answering the main question, the item-level control included."""
    v = result.verdict("age_emergence") or next(
        (x for x in result.verdicts if x.hypothesis.eval_sets[:1] == ("age_heldout",)), None)
    if v is None:
        return "inconclusive", "No emergence verdict: the run has no paired base/tuned answers on held-out titles."
    il = result.controls.item_level
    where = f"on {v.n} held-out titles"
    from emergence.metrics import METRIC_LABELS

    words = METRIC_LABELS.get(v.hypothesis.metric, v.hypothesis.metric)
    nums = (f"{words} {v.control.short()} (base) → {v.treated.short()} (tuned), "
            f"paired difference {v.effect.short(signed=True)}")
    if v.outcome == "confirmed":
        if il is not None and il.kind in ("item-level", "item-level and distributional"):
            text = (f"Yes — {where} the tuned model states the reading age better than the base model "
                    f"({nums}), and the gain is item-level: it does not survive shuffling the labels "
                    f"(item-level part {il.item_gain_diff.short(signed=True)}).")
        elif il is not None and il.kind == "distributional only":
            text = (f"Only distributionally — {where} the tuned model scores better ({nums}), but the same "
                    f"gain appears against shuffled labels ({il.shuffled_control.effect.short(signed=True)}), "
                    f"so it learned the corpus's age distribution, not to infer each title's age "
                    f"(item-level part {il.item_gain_diff.short(signed=True)}, {il.item_gain_outcome}).")
        else:
            text = (f"Yes, with a caveat — {where} the tuned model scores better ({nums}); the item-level "
                    f"control could not tell whether the gain is item-level"
                    + (f" ({il.item_gain_diff.short(signed=True)}, {il.item_gain_outcome})." if il else "."))
    elif v.outcome == "refuted":
        text = f"No — {where} the tuned model does not state the reading age better than the base model ({nums})."
    else:
        text = (f"Not decided — {where} the interval of the change straddles the smallest effect that counts "
                f"({nums}; threshold {v.hypothesis.min_effect:+.2f}).")
        if il is not None:
            text += f" Item-level control: {il.kind}."
    return v.outcome, text


def caveats(result: ExperimentResult) -> list[Text]:
    """The caveats that apply to this run, each in words with its numbers."""
    out: list[Text] = []
    cfg = result.config
    audit = result.audit
    n_held = result.eval_set_sizes.get("age_heldout", 0)
    v = result.verdict("age_emergence")
    if v is not None:
        half = (v.effect.ci_high - v.effect.ci_low) / 2 if not (_isnan(v.effect.ci_high) or _isnan(v.effect.ci_low)) else math.nan
        out.append([Bold("Sample size. "),
                    f"The emergence verdict rests on {v.n} held-out titles; its paired interval is ±{_f(half, 2)} "
                    f"wide around the effect, so effects smaller than about that cannot be told from zero."
                    + (" Fewer than 200 items: treat the numbers as indicative." if v.n < 200 else "")])
    elif n_held:
        out.append([Bold("Sample size. "), f"{n_held} held-out titles were probed."])
    out.append([Bold("Age cues in training text. "),
                f"{_pct(audit.train_age_cue_share)} of training records ({_pct(audit.train_age_cue_share_nonempty)} of "
                f"those with content) state a reader age in their content. The tuned model may learn age vocabulary "
                f"from them; emergence is therefore judged only on held-out titles, whose content never reached "
                f"training, and recall of seen cues is measured separately (age_seen)."])
    twins = result.controls.twin_titles
    if twins:
        u = result.controls.unseen_titles
        text = (f"{twins} of {n_held} held-out items share their title with a training record (another edition "
                f"under another id), so those titles were not unseen.")
        if u is not None:
            text += f" Re-judged without them ({u.n} items): {u.outcome} ({u.effect.short(signed=True)})."
        out.append([Bold("Titles seen under another edition. "), text])
    split = result.split
    train = result.train
    if train.steps and split.train_examples:
        share = min(split.train_budget / split.train_examples, 1.0)
        scale = (f"Training took {train.steps} optimiser steps over {split.train_budget:,} examples "
                 f"({_pct(share)} of the {split.train_examples:,} usable training records"
                 + (f", {split.train_passes:.1f} passes" if split.train_passes > 1 else "") + ").")
        if (cfg.profile or "").startswith("cpu") or split.train_passes < 0.5:
            scale += (" This is a demonstration scale: a null result here says little about a larger model trained "
                      "on the whole corpus.")
        out.append([Bold("Scale. "), scale])
    used = getattr(train, "train_records_used", None)
    limit = cfg.evalsets.train_records_limit
    if used is not None and limit is not None and used != limit:
        out.append([Bold("Seen sets vs training. "),
                    f"The seen eval sets were drawn from the first {limit:,} train records (the training budget), "
                    f"but training used {used:,}: "
                    + ("some seen items were never trained on." if used < limit else
                       "some trained records could not be drawn as seen items.")])
    spec = cfg.train.model.lower()
    if spec.startswith("tiny-") or "tiny" in Path(spec).name:
        out.append([Bold("Random-init model. "),
                    "The model is a tiny randomly initialised test model: its answers are noise, and the numbers "
                    "test the harness, not the hypothesis."])
    elif spec == "smollm2":
        out.append([Bold("Small model. "),
                    "SmolLM2-135M-Instruct is a 135M-parameter model chosen to run on a CPU; the seed study used "
                    "Phi-3-medium (14B)."])
    sources = (result.eval_set_selection or {})
    if sources.get("held_out_labelled_sample"):
        out.append([Bold("Synthetic labels. "),
                    "Held-out labels are the embedded sample's true_min_age: the corpus and its ages come from a "
                    "generator, so results show whether the method works, not what a model does on real books."])
    if sources.get("held_out_labelled_cue"):
        out.append([Bold("Labels from cues. "),
                    "Held-out labels come from age cues in each record's own content (never trained on); a cue "
                    "parsed wrongly gives a wrong label."])
    base = result.metrics.tables.get("age_heldout", {}).get("base", {}).get(result.probes.config.verdict_variant, {})
    inferred = (base.get("inferred") or {}).get("mean")
    if inferred is not None and not _isnan(inferred) and inferred < 0.8:
        out.append([Bold("Abstentions. "),
                    f"The base model gave an age in only {_pct(inferred)} of held-out answers. Within-2-years "
                    "accuracy counts an answer without an age as wrong, so it mixes answering with accuracy; the "
                    "mean absolute error is over answered items only (its n differs)."])
    out.append([Bold("One phrasing, greedy decoding. "),
                "Each title was asked with the seed study's question once, decoded greedily; other phrasings "
                "or sampling may give other answers."])
    if train.heldout_loss_before is not None and train.heldout_loss_after is not None \
            and train.heldout_loss_after >= train.heldout_loss_before:
        out.append([Bold("Held-out loss did not fall. "),
                    f"{_f(train.heldout_loss_before, 4)} before, {_f(train.heldout_loss_after, 4)} after training: "
                    "the run may be too short to change the model."])
    if result.lmeval is not None and cfg.lmeval.limit is not None:
        out.append([Bold("lm-eval on a subset. "),
                    f"lm-eval scored at most {cfg.lmeval.limit} documents per task; the probe tables cover every item."])
    return out


def _age_table(result: ExperimentResult, set_name: str) -> Table | None:
    metrics = result.metrics
    variant = result.probes.config.verdict_variant
    per_model = metrics.tables.get(set_name, {})
    if not per_model:
        return None
    cols = [("inferred", True), ("abs_error", False), ("within_2y", True), ("band_correct", True),
            ("mc_correct", True), ("mc_expected_abs_error", False)]
    rows: list[list[Text]] = []
    for which in ("base", "tuned"):
        m = per_model.get(which, {}).get(variant)
        if m:
            n = (m.get("inferred") or {}).get("n", "")
            rows.append([Bold(which), str(n)] + [fmt_est(m.get(k), pct=p) if p else fmt_est(m.get(k), 1)
                                                 for k, p in cols])
    for kind, per_set in metrics.baselines.items():
        m = per_set.get(set_name)
        if m:
            name = f"{kind} baseline" + (f" (band {metrics.majority_band})" if kind == "majority" else " (title words)")
            n = (m.get("inferred") or {}).get("n", "")
            rows.append([name, str(n)] + [fmt_est(m.get(k), pct=p) if p else fmt_est(m.get(k), 1)
                                          if m.get(k) else "–" for k, p in cols])
    return Table(["model", "n", "answered with an age", "MAE (years)", "within ±2 years", "band correct",
                  "band by likelihood", "expected error over bands (years)"], rows,
                 caption=f"{set_name}: mean [95% interval]; proportions as %", numeric=tuple(range(1, 8)))


def _by_band_table(result: ExperimentResult, set_name: str) -> Table | None:
    per_model = result.metrics.by_band.get(set_name, {})
    if not per_model:
        return None
    bands = [b for b in ("0-2", "3-5", "6-8", "9-12", "13-17", "18+")
             if any(b in per_model.get(m, {}) for m in per_model)]
    rows: list[list[Text]] = []
    for band in bands:
        row: list[Text] = [band]
        n = ""
        for which in ("base", "tuned"):
            m = per_model.get(which, {}).get(band, {})
            n = n or str((m.get("within_2y") or {}).get("n", ""))
            row += [fmt_est(m.get("within_2y"), pct=True), fmt_est(m.get("band_correct"), pct=True)]
        rows.append([row[0], n, *row[1:]])
    return Table(["true band", "n", "base within ±2y", "base band correct", "tuned within ±2y", "tuned band correct"],
                 rows, caption=f"{set_name} by true age band", numeric=(1, 2, 3, 4, 5))


def _memorisation_table(result: ExperimentResult) -> Table | None:
    tables = result.metrics.tables
    rows: list[list[Text]] = []
    for which in ("base", "tuned"):
        for set_name in ("intent_seen", "intent_heldout"):
            per_variant = tables.get(set_name, {}).get(which, {})
            m, x = per_variant.get("intent", {}), per_variant.get("extract", {})
            if m or x:
                n = (m.get("rouge_l") or {}).get("n", "")
                rows.append([Bold(which), set_name, str(n), fmt_est(m.get("rouge_l"), 3), fmt_est(m.get("lcs_ratio"), 3),
                             fmt_est(m.get("ngram8_overlap"), 3), fmt_est(x.get("k_extractable"), pct=True)])
        gap = result.metrics.memorisation_gap.get(which, {})
        if gap:
            rows.append([Bold(which), "gap: seen − held-out", "", fmt_est(gap.get("rouge_l"), 3, signed=True),
                         fmt_est(gap.get("lcs_ratio"), 3, signed=True), fmt_est(gap.get("ngram8_overlap"), 3, signed=True),
                         fmt_est(gap.get("k_extractable"), pct=True, signed=True)])
    if not rows:
        return None
    return Table(["model", "set", "n", "ROUGE-L", "LCS ratio", "8-gram overlap", "k-extractable"], rows,
                 caption="Author-intent answers against the record's training content: mean [95% interval]",
                 numeric=(2, 3, 4, 5, 6))


def _answers_table(result: ExperimentResult, set_name: str, limit: int) -> tuple[Table | None, int]:
    probes = result.probes
    variant = probes.config.verdict_variant if set_name.startswith("age") else "intent"
    tuned = {r.item_id: r for r in probes.select(set=set_name, model="tuned", variant=variant)}
    base_rows = probes.select(set=set_name, model="base", variant=variant)
    rows: list[list[Text]] = []
    for b in base_rows[:limit]:
        t = tuned.get(b.item_id)
        if set_name.startswith("age"):
            rows.append([b.title, _age(b.label_age), _truncate(b.answer), _age(b.parsed_age),
                         _truncate(t.answer) if t else "–", _age(t.parsed_age) if t else "–"])
        else:
            rows.append([b.title, _truncate(b.answer), _f((b.scores or {}).get("rouge_l"), 2),
                         _truncate(t.answer) if t else "–", _f((t.scores or {}).get("rouge_l"), 2) if t else "–"])
    if not rows:
        return None, 0
    if set_name.startswith("age"):
        header = ["title", "true age", "base answer", "base age", "tuned answer", "tuned age"]
        numeric: tuple[int, ...] = (1, 3, 5)
    else:
        header = ["title", "base answer", "base ROUGE-L", "tuned answer", "tuned ROUGE-L"]
        numeric = (2, 4)
    caption = f"{set_name}: first {len(rows)} of {len(base_rows)} items (answers cut at 160 characters)"
    return Table(header, rows, caption=caption, numeric=numeric, cls="answers"), len(base_rows)


def _lmeval_tables(result: ExperimentResult) -> list[Block]:
    if not result.lmeval:
        return []
    rows: list[list[Text]] = []
    for which, res in result.lmeval.items():
        for task, values in sorted((res.get("results") or {}).items()):
            for key, value in values.items():
                if "," not in key or "_stderr" in key or not isinstance(value, (int, float)):
                    continue
                metric, filt = key.split(",", 1)
                stderr = values.get(f"{metric}_stderr,{filt}")
                rows.append([Bold(which), task, metric, _f(float(value), 4),
                             _f(float(stderr), 4) if isinstance(stderr, (int, float)) else "–",
                             str((res.get("n-samples") or {}).get(task, {}).get("effective", ""))])
    if not rows:
        return []
    return [Table(["model", "task", "metric", "value", "stderr", "n"], rows,
                  caption="lm-eval (hf model, chat template) on this run's eval sets", numeric=(3, 4, 5))]


def _read_done_note(result: ExperimentResult) -> str | None:
    done = result.run_dir / "lmeval" / "done.json"
    try:
        return json.loads(done.read_text(encoding="utf-8")).get("note")
    except (OSError, ValueError):
        return None


def build_report(result: ExperimentResult, images: dict[str, Path]) -> list[Block]:
    """The report's blocks (see the module docstring for the sections)."""
    cfg = result.config
    env = result.env or {}
    audit = result.audit
    train = result.train
    blocks: list[Block] = []
    title = f"Emergence experiment — {cfg.profile or 'custom config'}"
    blocks.append(Heading(1, title))
    outcome, sentence = headline(result)
    blocks.append(VerdictBox(outcome, "Does age inference emerge from title → content training?", [sentence]))
    judged = ", ".join(f"{v.hypothesis.name}: {v.outcome}" for v in result.verdicts)
    blocks.append(Para([Bold("Verdicts:"), " ", judged or "none"], cls="headline"))
    blocks.append(Para(["Run directory ", Code(str(result.run_dir)), f", {_duration(result.timings.get('total', 0.0))} "
                        "of stage time. All answers: ", Link("answers.jsonl", "answers.jsonl"), "."], cls="muted"))

    # -- question and hypotheses
    blocks.append(Heading(2, "Question and hypotheses", "question"))
    blocks.append(Para(QUESTION))
    hrows: list[list[Text]] = []
    for h in cfg.hypotheses:
        hrows.append([Code(h.name), _ROLE.get(h.name, ""), h.statement, h.metric,
                      f"{'+' if h.direction == 'increase' else '−'}{h.min_effect:g}", f"{h.alpha:g}"])
    blocks.append(Table(["name", "role", "statement", "metric", "smallest effect", "alpha"], hrows,
                        caption="Each hypothesis is confirmed when its whole 95% interval lies beyond the smallest "
                        "effect that counts (and McNemar's p < alpha for paired 0/1 metrics), refuted when the whole "
                        "interval lies short of it, inconclusive otherwise."))

    # -- setup
    blocks.append(Heading(2, "Setup", "setup"))
    pk = env.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in pk.items() if v)
    hardware = f"{env.get('device', '?')} ({env.get('device_name', '')})"
    if env.get("cpu_count"):
        hardware += f"; {env.get('cpu_count')} CPU cores ({env.get('cpu_model', '')}), {env.get('cpu_threads', '?')} torch threads"
    if env.get("memory_gb"):
        hardware += f", {env['memory_gb']} GiB RAM"
    if env.get("gpu_memory_gb"):
        hardware += f"; GPU memory {env['gpu_memory_gb']} GiB × {env.get('gpu_count', 1)}"
    commit = env.get("git_commit") or "not a git checkout"
    if env.get("git_dirty"):
        commit += " (with uncommitted changes)"
    t = cfg.train
    rows: list[list[Text]] = [
        ["model", [Code(t.model), f" → {train.base_model}"]],
        ["corpus", [Code(str(cfg.corpus_path())), f" ({audit.load.yielded:,} records, {audit.load.bytes_read / 1e6:.1f} MB)"]],
        ["split", f"held_out={cfg.held_out}, salt={cfg.salt!r}: {result.split.train_records:,} train / "
                  f"{result.split.held_out_records:,} held-out records"],
        ["training", f"{train.backend} backend on {train.device}; LoRA r={t.lora_r}, alpha={t.lora_alpha:g}, "
                     f"dropout {t.lora_dropout:g} on {', '.join(t.target_modules)}; {t.max_steps} steps × batch "
                     f"{t.per_device_train_batch_size} × accumulation {t.gradient_accumulation_steps}, lr {t.learning_rate:g} "
                     f"({t.lr_scheduler_type}, {t.warmup_steps} warm-up), {t.optim}, max {t.max_seq_length} tokens, "
                     f"{'4-bit' if t.load_in_4bit else t.dtype} weights, seed {t.seed}; prompt template "
                     f"{t.prompt_template!r}, loss on {t.loss_on}"],
        ["probes", f"age question {result.probes.config.age_prompt!r}; intent question "
                   f"{result.probes.config.intent_prompt!r}; {'sampled' if result.probes.config.do_sample else 'greedy'} "
                   f"decoding, at most {result.probes.config.max_new_tokens_age} / "
                   f"{result.probes.config.max_new_tokens_intent} new tokens; base probed "
                   f"{'before training' if cfg.base_probe == 'before_training' else 'after training, adapter off'}"],
        ["eval sets", ", ".join(f"{k} {n}" for k, n in result.eval_set_sizes.items())
         + f" (seed {cfg.evalsets.seed}; seen sets drawn from the first {cfg.evalsets.train_records_limit:,} "
           "train records, those training consumed)"],
        ["versions", versions],
        ["hardware", hardware],
        ["python / platform", f"{env.get('python', '?')} on {env.get('platform', '?')}"],
        ["git commit", commit],
        ["started", str(env.get("started_utc", ""))],
        ["duration", f"{_duration(result.timings.get('total', 0.0))} of stage time ("
                     + ", ".join(f"{k} {_duration(v)}" for k, v in result.timings.items()
                                 if k not in ("total", "this_invocation")) + ")"],
    ]
    blocks.append(Table(["", ""], rows))
    cfg_text = (result.paths.config.read_text(encoding="utf-8") if result.paths.config.is_file()
                else json.dumps(cfg.model_dump(mode="json"), indent=2))
    blocks.append(Details("The full config (config.toml)", cfg_text))

    # -- audit
    blocks.append(Heading(2, "Corpus audit", "audit"))
    load = audit.load
    arows: list[list[Text]] = [
        ["records read / yielded", f"{load.read:,} / {load.yielded:,}"],
        ["rejected", ", ".join(f"{k} {v:,}" for k, v in load.rejected.items()) or "none"],
        ["empty content", f"{audit.empty_content:,} ({_pct(audit.empty_share)})"],
        ["duplicate (title, content) / duplicate titles", f"{audit.duplicate_pairs:,} / {audit.duplicate_titles:,}"],
        ["train / held-out records", f"{audit.train_records:,} / {audit.held_out_records:,}"],
        [Bold("training records whose content states an age"),
         Bold(f"{audit.train_age_cue_records:,} ({_pct(audit.train_age_cue_share)}; "
              f"{_pct(audit.train_age_cue_share_nonempty)} of those with content)")],
        ["held-out records whose content states an age", f"{audit.held_out_age_cue_records:,} ({_pct(audit.held_out_age_cue_share)})"],
        ["held-out titles also in train", f"{audit.held_out_titles_in_train:,}"],
        ["cue kinds", ", ".join(f"{k} {v:,}" for k, v in audit.cue_kinds.items()) or "none"],
        ["title length (chars, p5 / p50 / p95)", f"{_f(audit.title_length.p5, 0)} / {_f(audit.title_length.p50, 0)} / {_f(audit.title_length.p95, 0)}"],
        ["content length (chars, p5 / p50 / p95)", f"{_f(audit.content_length.p5, 0)} / {_f(audit.content_length.p50, 0)} / {_f(audit.content_length.p95, 0)}"],
    ]
    blocks.append(Table(["", ""], arows))
    bands = ["0-2", "3-5", "6-8", "9-12", "13-17", "18+"]
    brow: list[list[Text]] = [["from age cues", *[f"{audit.min_age_distribution.get(b, 0):,}" for b in bands]]]
    if audit.true_age_records:
        brow.append(["true age (sample)", *[f"{audit.true_age_distribution.get(b, 0):,}" for b in bands]])
    blocks.append(Table(["minimum age", *bands], brow, caption="Records by band of minimum reading age",
                        numeric=tuple(range(1, 7))))

    # -- training
    blocks.append(Heading(2, "Training", "training"))
    if "loss" in images:
        blocks.append(Image(images["loss"], "training loss curve",
                            "Training loss per step with its running mean, the learning rate (grey, right axis), and "
                            "the loss on the fixed held-out sample before (step 0) and after training."))
    trows: list[list[Text]] = [
        ["average training loss (all steps)", Bold(_f(train.train_loss_avg, 4))],
        ["final logged loss", _f(train.final_loss, 4)],
        ["held-out loss before → after", Bold(f"{_f(train.heldout_loss_before, 4)} → {_f(train.heldout_loss_after, 4)}")
         if train.heldout_loss_before is not None else "not scored"],
        ["held-out records scored", f"{train.heldout_records}"],
        ["steps / tokens seen", f"{train.steps} / {train.tokens_seen:,}"],
        ["throughput", f"{_f(train.tokens_per_s, 0)} tokens/s" if train.tokens_per_s else "–"],
        ["trainable parameters", f"{train.trainable_params:,} of {train.total_params:,} "
                                 f"({100 * train.trainable_params / max(train.total_params, 1):.2f}%)"],
        ["examples consumed", f"{result.split.train_budget:,} of {result.split.train_examples:,} usable train records"],
        ["training time", _duration(train.train_time_s)],
    ]
    blocks.append(Table(["", ""], trows))

    # -- metrics
    blocks.append(Heading(2, "Age metrics: base, tuned and baselines", "metrics"))
    blocks.append(Para("Emergence is judged on age_heldout (titles never trained on); age_seen holds training titles "
                       "whose content stated an age (recall, the positive control). The majority baseline always "
                       "answers the most common band of the training labels; the rule baseline guesses the band from "
                       "title words. Both are scored by the same metric code as the models."))
    for set_name in ("age_heldout", "age_seen"):
        table = _age_table(result, set_name)
        if table is not None:
            blocks.append(Heading(3, set_name))
            blocks.append(table)
            if set_name == "age_heldout" and "age_bars" in images:
                blocks.append(Image(images["age_bars"], "age metrics bar chart, held-out titles",
                                    "Base vs tuned and the baselines on held-out titles; bars are means, whiskers "
                                    "95% intervals."))
            if set_name == "age_seen" and "age_bars_seen" in images:
                blocks.append(Image(images["age_bars_seen"], "age metrics bar chart, seen titles",
                                    "The same on seen titles whose training content stated an age."))
    band_table = _by_band_table(result, "age_heldout")
    if band_table is not None:
        blocks.append(band_table)
    if "scatter" in images:
        blocks.append(Image(images["scatter"], "stated versus true age scatter",
                            "Each point is a held-out title. Answers that ignore the title form horizontal rows (the "
                            "same ages whatever the true age); item-level inference moves points into the grey band "
                            "along the diagonal."))

    # -- memorisation
    mem = _memorisation_table(result)
    if mem is not None:
        blocks.append(Heading(2, "Memorisation", "memorisation"))
        blocks.append(Para("Asked for the author's intent, does a model repeat its training text? Overlap of each "
                           "answer with the record's content, for titles seen in training and held-out ones; "
                           "k-extractable: the model continues the first k content tokens with exactly the next ones."))
        blocks.append(mem)
        if "gap" in images:
            blocks.append(Image(images["gap"], "memorisation gap chart",
                                "Seen vs held-out overlap per model, 95% intervals."))
        if any(result.metrics.excluded.values()):
            pc = result.probes.config
            blocks.append(Para(f"k-extractable left out items whose content is shorter than k + {pc.extract_tokens} "
                               f"= {pc.k + pc.extract_tokens} tokens: "
                               + ", ".join(f"{k} {v}" for k, v in result.metrics.excluded.items()) + ".", cls="muted"))

    # -- verdicts
    blocks.append(Heading(2, "Verdicts", "verdicts"))
    for v in result.verdicts:
        body: list[Text] = [v.hypothesis.statement, v.explanation]
        if v.hypothesis.name == "age_emergence" and result.controls.item_level is not None:
            il = result.controls.item_level
            body.append([Bold("Item-level or distributional? "), f"{il.kind}. ", il.explanation])
        role = _ROLE.get(v.hypothesis.name, "")
        blocks.append(VerdictBox(v.outcome, f"{v.hypothesis.name}" + (f" — {role}" if role else ""), body))
    blocks.append(Heading(3, "Controls"))
    il = result.controls.item_level
    if il is not None:
        sc = il.shuffled_control
        passes = "passes: not confirmed" if sc.outcome != "confirmed" else "a distributional gain"
        blocks.append(VerdictBox(sc.outcome, f"negative control: labels shuffled ({passes})",
                                 ["Base and tuned answers scored against one random permutation of the labels, so no "
                                  "answer carries information about its own item. A confirmed result here is not "
                                  "emergence: it means the tuned model's ages fit the corpus's age distribution better.",
                                  sc.explanation]))
        rows = [["base", fmt_est(il.base_true, pct=True), fmt_est(il.base_shuffled, pct=True),
                 fmt_est(il.base_item_gain, pct=True, signed=True)],
                ["tuned", fmt_est(il.tuned_true, pct=True), fmt_est(il.tuned_shuffled, pct=True),
                 fmt_est(il.tuned_item_gain, pct=True, signed=True)],
                [Bold("tuned − base"), fmt_est(result.verdict(il.hypothesis).effect if result.verdict(il.hypothesis) else None,
                                               pct=True, signed=True),
                 fmt_est(sc.effect, pct=True, signed=True), Bold(fmt_est(il.item_gain_diff, pct=True, signed=True))]]
        blocks.append(Table(["model", f"{il.metric}, true labels", f"shuffled labels (mean of {il.rounds})",
                             "item-level (true − shuffled)"], rows,
                            caption=f"Item-level control on {il.eval_set} ({il.n} items, paired): the bottom right cell "
                            "is the item-level part of the tuned model's gain", numeric=(1, 2, 3)))
        blocks.append(Para([Bold(f"Verdict on the gain: {il.kind}. "), il.explanation]))
    if result.controls.positive is not None:
        p = result.controls.positive
        blocks.append(Para([Bold("Positive control (recall of seen cues): "), f"{p.outcome}. ", p.explanation]))
    if result.controls.unseen_titles is not None:
        u = result.controls.unseen_titles
        blocks.append(Para([Bold(f"Without the {result.controls.twin_titles} held-out titles also present in training: "),
                            f"{u.outcome}. ", u.explanation]))

    # -- lm-eval
    lm = _lmeval_tables(result)
    blocks.append(Heading(2, "lm-eval", "lmeval"))
    if lm:
        blocks.append(Para("The same eval sets through lm-eval's tasks (age_rating, age_rating_mc, author_intent), "
                           "scored by the same metric functions; results files are in lmeval/."))
        blocks.extend(lm)
    else:
        note = (_read_done_note(result) or "the lm-eval stage was off for this run") + "."
        blocks.append(Para(note[0].upper() + note[1:], cls="muted"))

    # -- answers
    blocks.append(Heading(2, "Probe answers", "answers"))
    blocks.append(Para(["A sample of answers, base and tuned side by side; every answer of every set, with its "
                        "scores, is in ", Link("answers.jsonl", "answers.jsonl"), "."]))
    limit = cfg.answers_in_report
    for set_name, n in (("age_heldout", limit), ("age_seen", max(limit // 2, 1)),
                        ("intent_seen", max(limit // 4, 1)), ("intent_heldout", max(limit // 4, 1))):
        table, _ = _answers_table(result, set_name, n)
        if table is not None:
            blocks.append(Heading(3, set_name))
            blocks.append(table)

    # -- caveats and files
    blocks.append(Heading(2, "Caveats", "caveats"))
    blocks.append(Bullets(caveats(result)))
    blocks.append(Heading(2, "Files", "files"))
    files = [
        [Link("config.toml", "config.toml"), "the config as run (loads back with --config)"],
        [Link("env.json", "env.json"), "versions, hardware, git commit"],
        [Link("answers.jsonl", "answers.jsonl"), "every probe answer with its scores"],
        [Code("evalsets/"), "the eval sets with their manifest"],
        [Code("train/"), "adapter, metrics.jsonl, loss.png, summary.json, checkpoints"],
        [Code("verdicts/"), "metrics.json, verdicts.json, controls.json"],
        [Code("lmeval/"), "lm-eval results and samples"],
        [Code("run.json"), "stage fingerprints and times (resume)"],
    ]
    blocks.append(Table(["file", "what"], files))
    return blocks


def _images(result: ExperimentResult, assets: Path) -> dict[str, Path]:
    from emergence import plots

    metrics = result.metrics.model_dump(mode="json")
    variant = result.probes.config.verdict_variant
    images: dict[str, Path] = {}
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
    images.update({k: v for k, v in made.items() if v is not None})
    return images


def write_report(result: ExperimentResult, run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (charts in ``report/``) and the self-contained ``report.html``."""
    run_dir = Path(run_dir)
    assets = run_dir / "report"
    assets.mkdir(parents=True, exist_ok=True)
    images = _images(result, assets)
    blocks = build_report(result, images)
    title = f"Emergence experiment — {result.config.profile or 'custom config'}"
    md = run_dir / "report.md"
    md.write_text(render_markdown(blocks, image_dir="report"), encoding="utf-8")
    page = run_dir / "report.html"
    page.write_text(render_html(blocks, title=title), encoding="utf-8")
    return md, page
