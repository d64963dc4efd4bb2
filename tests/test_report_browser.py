"""report.html in a real browser: headless Chromium must load it with no console message,
no script error, no blocked request and every image decoded.

Method: ``chromium --headless --dump-dom`` with ``--enable-logging=stderr``. The page's own
inline self-check (emergence.report) records image load failures, script errors and
Content-Security-Policy violations into ``#selfcheck``'s data attributes once loaded, and
the dumped DOM carries them; Chromium's log carries every console message
(``INFO:CONSOLE``). The report writes nothing to the console, so any message fails.
A screenshot is written beside the report for a human look. A second report, of a real run
with the emergence curve and the memorisation panel's ROC figure (tests/curve_demo.py), is
checked the same way, and each figure's decoded size is read back from the page.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from test_report import make_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs chromium (make test installs it: apt-get install -y chromium)")


def _chromium(user_dir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={user_dir}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _check_page(page: Path, tmp_path: Path, *args: str) -> dict:
    """Load the page; return the self-check's findings and the console lines."""
    done = _chromium(tmp_path / "profile", *args, "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    tag = re.search(r'<div id="selfcheck"[^>]*>', done.stdout)
    assert tag, "the page's self-check element is missing from the DOM"
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag.group(0)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return {"status": attrs.get("data-status"), "images": int(attrs.get("data-images", "-1")),
            "errors": json.loads(html.unescape(attrs.get("data-errors", "null")) or "null"),
            "sizes": json.loads(html.unescape(attrs.get("data-sizes", "null")) or "null"),
            "console": console}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    from emergence.report import write_report

    tmp = tmp_path_factory.mktemp("browser-report")
    _, page = write_report(make_result(tmp), tmp)
    return page


def test_report_loads_cleanly_in_chromium(report, tmp_path):
    found = _check_page(report, tmp_path)
    assert found["status"] == "loaded", found
    assert found["errors"] == [], found["errors"]
    assert found["console"] == [], found["console"]
    # every chart decoded: loss, age bars (held-out and seen), scatter, memorisation gap
    assert found["images"] == 5


def test_the_check_catches_a_broken_image_and_a_script_error(report, tmp_path):
    # the same page with one image's data corrupted and a failing script: both must show
    text = report.read_text(encoding="utf-8")
    broken = re.sub(r'src="data:image/png;base64,[^"]{40}', 'src="data:image/png;base64,AAAA', text, count=1)
    broken = broken.replace("</main>", "<script>console.error('boom'); missingFunction();</script></main>")
    page = tmp_path / "broken.html"
    page.write_text(broken, encoding="utf-8")
    found = _check_page(page, tmp_path)
    assert any(e.startswith("image failed") or e.startswith("image not rendered") for e in found["errors"])
    assert any("missingFunction" in e for e in found["errors"])
    assert any("boom" in line for line in found["console"])


def test_screenshot(report, tmp_path):
    shot = report.with_name("report.png")
    done = _chromium(tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,4000",
                     f"--screenshot={shot}", report.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one


# ------------------------------------------------------------------ a real run's report, with the curve

CURVE_ALT = "the emergence curve"
ROC_ALT = "ROC curves of the membership scores"
WINDOW = (1280, 1600)
# added to a copy of the page: once loaded, each image's alt, decoded size and place on the page
_SIZES = ('<script>window.addEventListener("load", function () { var out = [];'
          ' for (var i = 0; i < document.images.length; i++) { var m = document.images[i];'
          ' var r = m.getBoundingClientRect();'
          ' out.push([m.alt, m.naturalWidth, m.naturalHeight, r.left + window.scrollX, r.top + window.scrollY,'
          ' r.width, r.height]); }'
          ' document.getElementById("selfcheck").setAttribute("data-sizes", JSON.stringify(out)); });</script>')


def _png_size(path: Path) -> list[int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return list(struct.unpack(">II", data[16:24]))


def _ink(pixels) -> tuple[float, float]:
    """Share of pixels that are not near-white, and of those in colour (a chart's lines and bands)."""
    rgb = pixels[..., :3]
    return float((rgb.min(-1) < 0.9).mean()), float(((rgb.max(-1) - rgb.min(-1)) > 0.2).mean())


@pytest.fixture(scope="module")
def curve_report(tmp_path_factory, one_torch_thread_per_module) -> Path:
    from curve_demo import run_curve_demo

    run = run_curve_demo(tmp_path_factory.mktemp("curve-report") / "demo")
    return run / "report.html"


@pytest.fixture(scope="module")
def curve_page(curve_report, tmp_path_factory) -> dict:
    """The report with the curve loaded in Chromium (at the screenshot's window size): the self-check's
    findings and each image's size and place."""
    tmp = tmp_path_factory.mktemp("curve-page")
    page = tmp / "sized.html"
    page.write_text(curve_report.read_text(encoding="utf-8").replace("</main>", _SIZES + "</main>"),
                    encoding="utf-8")
    found = _check_page(page, tmp, f"--window-size={WINDOW[0]},{WINDOW[1]}")
    found["places"] = {alt: rest for alt, *rest in found["sizes"] or []}
    return found


def test_report_with_the_curve_decodes_every_image_in_chromium(curve_report, curve_page):
    text = curve_report.read_text(encoding="utf-8")
    alts = re.findall(r'<img alt="([^"]*)"', text)
    assert len(alts) == text.count("<img") and CURVE_ALT in alts and ROC_ALT in alts
    found = curve_page
    assert found["status"] == "loaded", found
    assert found["errors"] == [], found["errors"]
    assert found["console"] == [], found["console"]
    assert found["images"] == len(alts)  # every <img> of the page, each decoded (or errors would say)
    # the curve and the ROC figure decoded at the size of the PNGs the report embedded, and laid out
    for alt, png in ((CURVE_ALT, "curve.png"), (ROC_ALT, "roc.png")):
        width, height, _, _, shown_w, shown_h = found["places"][alt]
        assert [width, height] == _png_size(curve_report.parent / "report" / png)
        assert shown_w > 200 and shown_h > 100


def test_screenshot_shows_the_curve(curve_report, curve_page, tmp_path):
    from matplotlib.image import imread

    _, _, left, top, width, height = curve_page["places"][CURVE_ALT]
    bottom = int(top + height) + 40
    shot = curve_report.with_name("report-curve.png")  # the page down to below the curve figure
    done = _chromium(tmp_path / "profile", "--hide-scrollbars", f"--window-size={WINDOW[0]},{bottom}",
                     "--virtual-time-budget=5000", f"--screenshot={shot}", curve_report.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[:2] == (bottom, WINDOW[0])
    # where the page put the curve, the screenshot shows a chart like the figure itself
    region = pixels[int(top) + 2:int(top + height) - 2, int(left) + 2:int(left + width) - 2]
    ink, colour = _ink(region)
    figure_ink, figure_colour = _ink(imread(curve_report.parent / "report" / "curve.png"))
    assert ink > figure_ink / 2 and colour > figure_colour / 2, (ink, colour, figure_ink, figure_colour)
