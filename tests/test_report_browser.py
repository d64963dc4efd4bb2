"""report.html in a real browser: headless Chromium must load it with no console message,
no script error, no blocked request and every image decoded.

Method: ``chromium --headless --dump-dom`` with ``--enable-logging=stderr``. The page's own
inline self-check (emergence.report) records image load failures, script errors and
Content-Security-Policy violations into ``#selfcheck``'s data attributes once loaded, and
the dumped DOM carries them; Chromium's log carries every console message
(``INFO:CONSOLE``). The report writes nothing to the console, so any message fails.
A screenshot is written beside the report for a human look.
"""
from __future__ import annotations

import html
import json
import re
import shutil
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


def _check_page(page: Path, tmp_path: Path) -> dict:
    """Load the page; return the self-check's findings and the console lines."""
    done = _chromium(tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    tag = re.search(r'<div id="selfcheck"[^>]*>', done.stdout)
    assert tag, "the page's self-check element is missing from the DOM"
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag.group(0)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return {"status": attrs.get("data-status"), "images": int(attrs.get("data-images", "-1")),
            "errors": json.loads(html.unescape(attrs.get("data-errors", "null")) or "null"),
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
