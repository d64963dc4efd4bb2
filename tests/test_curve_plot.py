"""The emergence curve's figure: drawn from curves and from their JSON, linear and log axes.

Defects pinned: a figure that fails on a curve with no onset, an undefined band or a
JSON round trip (NaN kept as NaN), or that writes something other than a PNG.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from emergence.curve import MetricSeries, emergence_curve
from emergence.report.curve_plot import curve_figure, step_ticks

pytest.importorskip("matplotlib")


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def curve():
    rng = np.random.default_rng(0)
    steps, n = [0, 10, 25, 50, 100], 100
    base = 4.0 + rng.normal(0.0, 1.5, n)
    expected = np.vstack([base] + [base + s + rng.normal(0.0, 0.4, n) for s in (-0.2, -0.5, -0.8, -1.1)])
    flat = np.vstack([base] + [base + rng.normal(0.0, 0.4, n) for _ in range(4)])
    flat[1] = base  # no spread at step 10: an undefined interval and band there
    right = (rng.random((3, n)) < np.array([[0.2], [0.3], [0.7]])).astype(float)
    return emergence_curve([
        MetricSeries("expected_error", expected, steps, "continuous", "decrease", 0.2, label="expected error (years)"),
        MetricSeries("heldout_loss", flat, steps, "continuous", "decrease", 0.05, label="held-out loss"),
        MetricSeries("within_2y", right, [0, 25, 100], "binary", "increase", 0.05, discrete=True,
                     label="within 2 years")], n_boot=199)


@pytest.mark.parametrize("log_x", [False, True])
def test_curve_figure_is_a_png_of_the_expected_size(curve, tmp_path, log_x):
    assert curve.curve("heldout_loss").onset.step is None
    path = curve_figure(curve, tmp_path / "curve.png", log_x=log_x, note=curve.mirage[0].words)
    assert path == tmp_path / "curve.png"
    width, height = _png_size(path)
    # two columns of 6-inch panels at 110 dpi, two rows of 3.4 inches, plus legend and note
    assert 1100 <= width <= 1800 and 700 <= height <= 1200, (width, height)
    assert 20_000 <= path.stat().st_size <= 1_000_000


def test_curve_figure_draws_from_json_and_one_metric(curve, tmp_path):
    dumped = json.loads(curve.model_dump_json())
    width, _ = _png_size(curve_figure(dumped, tmp_path / "from_json.png"))
    one = curve_figure([dumped["metrics"][0]], tmp_path / "one.png", log_x=True)
    single_width, _ = _png_size(one)
    assert single_width < width
    assert curve_figure([], tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_step_ticks_keep_the_first_and_last_step():
    assert step_ticks([0, 10, 25]) == [0, 10, 25]
    assert step_ticks(list(range(0, 1000, 50)), most=5) == [0, 250, 500, 750, 950]
