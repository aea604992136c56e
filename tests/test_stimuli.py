"""Rendered stimuli: grating geometry and the stimulus table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nidecode.data.stimuli import Canvas, grating_period_px, render_grating, render_stimuli


def test_canvas_spans_allen_monitor():
    # 2 * atan(25.95 / 15) = 119.94 degrees across 1920 px.
    h, w = Canvas(60, 96).screen_deg
    assert w == pytest.approx(119.94, abs=0.01)
    assert h == pytest.approx(94.41, abs=0.01)  # 2 * atan(16.2 / 15)
    assert Canvas(60, 96).deg_per_px == pytest.approx(119.94 / 96, abs=1e-3)


@pytest.mark.parametrize("sf", [0.02, 0.04, 0.08, 0.16])
def test_grating_period_in_pixels_matches_spatial_frequency(sf):
    canvas = Canvas(16, 1024)
    img = render_grating(0.0, sf, 0.0, canvas)  # orientation 0: luminance varies along x
    row = img[8] - 127 / 255
    # Sub-pixel zero crossings; consecutive crossings are half a period apart.
    i = np.flatnonzero(np.sign(row[:-1]) != np.sign(row[1:]))
    crossings = i + row[i] / (row[i] - row[i + 1])
    measured_period = 2 * np.mean(np.diff(crossings))
    # By hand: 1024 px span 119.94 degrees, so the period is 1 / (sf * 119.94 / 1024) px.
    expected = 1 / (sf * 119.94 / 1024)
    assert grating_period_px(sf, canvas) == pytest.approx(expected, rel=1e-4)
    assert measured_period == pytest.approx(expected, rel=0.01)


def test_grating_orientation_and_contrast():
    canvas = Canvas(64, 64)
    vertical_bars = render_grating(0.0, 0.04, 0.0, canvas)
    horizontal_bars = render_grating(90.0, 0.04, 0.0, canvas)
    assert np.allclose(vertical_bars, vertical_bars[0:1, :])  # constant down each column
    assert np.allclose(horizontal_bars, horizontal_bars[:, 0:1])
    # Contrast 0.8 around mean grey 127/255.
    assert vertical_bars.max() <= 127 / 255 * 1.8 + 1e-6
    assert vertical_bars.min() >= 127 / 255 * 0.2 - 1e-6
    assert math.isclose(
        vertical_bars.max() - vertical_bars.min(), 2 * 0.8 * 127 / 255, rel_tol=0.02
    )


def test_stimulus_table(small_stimuli):
    ds = small_stimuli
    assert ds.sizes["stimulus"] == 238
    assert (ds.stimulus_class == "artificial").sum() == 120
    assert (ds.stimulus_class == "natural").sum() == 118
    assert float(ds.image.min()) >= 0 and float(ds.image.max()) <= 1
    assert "scikit-image" in ds.attrs["natural_scene_source"]
    assert set(ds.label_predator.values[120:]) == {"predator", "non_predator"}
    assert len(set(ds.label_orientation.values[:120])) == 6
    # Scenes differ from one another (crops, not copies).
    scenes = ds.image.values[120:].reshape(118, -1)
    assert np.linalg.matrix_rank(scenes) == 118


def test_allen_templates_are_used_when_given():
    templates = np.random.default_rng(0).integers(0, 256, (118, 92, 117), dtype=np.uint8)
    ds = render_stimuli(Canvas(12, 20), scene_templates=templates)
    assert ds.attrs["natural_scene_source"] == "allen natural scene templates"
    with pytest.raises(ValueError, match="118 natural-scene templates"):
        render_stimuli(Canvas(12, 20), scene_templates=templates[:5])
