"""The report's document model and its two renderings: Markdown and one self-contained HTML page.

    >>> from emergence.report.document import Table, render_markdown, render_html
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
Content-Security-Policy forbids any). Every piece of model or corpus text is escaped. A
few lines of inline script record image load failures and script errors into a hidden
element, which the browser test reads; the page reads the same with scripts off.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

__all__ = ["Block", "Bold", "Bullets", "Code", "Details", "Heading", "Image", "Link", "Para", "Table", "Text",
           "VerdictBox", "render_html", "render_markdown"]

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


