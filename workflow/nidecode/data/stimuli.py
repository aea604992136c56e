"""Stimulus images: Allen static gratings and natural scenes on one canvas.

Allen's stimuli are shown on a 1920 x 1200 px monitor, 51.9 x 32.4 cm, 15 cm from the eye, and
spherically warped so that visual angle is uniform across the screen. The canvas used here is that
screen, sampled at ``height x width`` pixels; one pixel spans ``screen_deg_x / width`` degrees.
Images are grey levels in [0, 1] (Allen's mean grey 127/255 maps to 0.498).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr

# Allen Brain Observatory monitor geometry (Visual Coding technical whitepaper).
SCREEN_WIDTH_CM = 51.9
SCREEN_HEIGHT_CM = 32.4
SCREEN_DISTANCE_CM = 15.0
SCREEN_PX = (1200, 1920)  # (height, width)
MEAN_GREY = 127 / 255

# Static gratings: 6 orientations x 5 spatial frequencies x 4 phases, contrast 0.8.
GRATING_ORIENTATIONS = tuple(float(o) for o in range(0, 180, 30))
GRATING_SPATIAL_FREQUENCIES = (0.02, 0.04, 0.08, 0.16, 0.32)
GRATING_PHASES = (0.0, 0.25, 0.5, 0.75)
GRATING_CONTRAST = 0.8
N_NATURAL_SCENES = 118
NATURAL_SCENE_SHAPE = (918, 1174)

# Scikit-image's bundled photographs (no download needed); "predator" marks the cat.
_SKIMAGE_PHOTOS: dict[str, str] = {
    "astronaut": "person",
    "camera": "person",
    "coffee": "object",
    "chelsea": "predator",
    "rocket": "object",
    "hubble_deep_field": "sky",
    "grass": "texture",
    "gravel": "texture",
    "brick": "texture",
    "moon": "sky",
    "coins": "object",
    "immunohistochemistry": "texture",
}


@dataclass(frozen=True)
class Canvas:
    """Pixel grid covering Allen's monitor in degrees of visual angle."""

    height: int
    width: int

    @classmethod
    def from_config(cls, config: dict, section: str = "stimuli") -> Canvas:
        """The rendered stimuli's grid (``stimuli``) or the simulator's (``simulation``)."""
        if section == "simulation":
            return cls(*config["simulation"]["canvas"])
        return cls(config["stimuli"]["height"], config["stimuli"]["width"])

    @property
    def screen_deg(self) -> tuple[float, float]:
        """Visual angle (height, width) in degrees subtended by the whole monitor."""
        h = 2 * math.degrees(math.atan(SCREEN_HEIGHT_CM / 2 / SCREEN_DISTANCE_CM))
        w = 2 * math.degrees(math.atan(SCREEN_WIDTH_CM / 2 / SCREEN_DISTANCE_CM))
        return h, w

    @property
    def deg_per_px(self) -> float:
        """Degrees of visual angle per canvas pixel (horizontal pitch)."""
        return self.screen_deg[1] / self.width

    def grid_deg(self) -> tuple[np.ndarray, np.ndarray]:
        """(y, x) coordinates in degrees of each pixel centre, origin at the screen centre."""
        d = self.deg_per_px
        y = (np.arange(self.height) - (self.height - 1) / 2) * d
        x = (np.arange(self.width) - (self.width - 1) / 2) * d
        return np.meshgrid(y, x, indexing="ij")


def grating_period_px(spatial_frequency: float, canvas: Canvas) -> float:
    """Period in canvas pixels of a grating of ``spatial_frequency`` cycles/degree."""
    return 1.0 / (spatial_frequency * canvas.deg_per_px)


def render_grating(
    orientation: float,
    spatial_frequency: float,
    phase: float,
    canvas: Canvas,
    contrast: float = GRATING_CONTRAST,
) -> np.ndarray:
    """A full-field sinusoidal grating, (height, width) float32 in [0, 1].

    ``orientation`` in degrees (0 = vertical bars, drifting axis horizontal, as in Allen),
    ``spatial_frequency`` in cycles/degree, ``phase`` in cycles (0-1).
    """
    y, x = canvas.grid_deg()
    theta = math.radians(orientation)
    # Position along the axis orthogonal to the bars.
    u = x * math.cos(theta) + y * math.sin(theta)
    wave = np.cos(2 * np.pi * (spatial_frequency * u + phase))
    img = MEAN_GREY + MEAN_GREY * contrast * wave
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def grating_table() -> list[tuple[float, float, float]]:
    """The 120 (orientation, spatial_frequency, phase) conditions in Allen's order."""
    return [
        (o, sf, ph)
        for o in GRATING_ORIENTATIONS
        for sf in GRATING_SPATIAL_FREQUENCIES
        for ph in GRATING_PHASES
    ]


def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return resize(img, shape, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def _normalise_scene(img: np.ndarray) -> np.ndarray:
    """Match Allen's scene statistics: mean grey 0.5, values in [0, 1]."""
    img = img.astype(np.float64)
    lo, hi = np.percentile(img, [1, 99])
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)
    return (img - img.mean() + MEAN_GREY).clip(0, 1).astype(np.float32)


@lru_cache(maxsize=4)
def packaged_natural_scenes(
    canvas: Canvas, n: int = N_NATURAL_SCENES
) -> tuple[np.ndarray, list[str], list[str]]:
    """``n`` grey natural scenes cropped from scikit-image's bundled photographs.

    Stand-in for Allen's 118 scene templates on machines that cannot download them. Crops
    are deterministic: each photograph gives crops at several positions and scales, with the
    Allen aspect ratio (918 x 1174), resized to the canvas.

    Returns images (n, height, width), the source photograph of each scene and its category.
    Cached per canvas (callers must not modify the arrays).
    """
    from skimage import color, data

    photos = []
    for name, category in _SKIMAGE_PHOTOS.items():
        img = getattr(data, name)()
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3])
        photos.append((name, category, img.astype(np.float64) / (img.max() or 1)))
    aspect = NATURAL_SCENE_SHAPE[1] / NATURAL_SCENE_SHAPE[0]
    rng = np.random.default_rng(118)
    images, sources, categories = [], [], []
    for k in range(n):
        name, category, img = photos[k % len(photos)]
        h, w = img.shape
        scale = rng.uniform(0.45, 1.0)
        ch = int(min(h, w / aspect) * scale)
        cw = int(ch * aspect)
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        crop = img[y0 : y0 + ch, x0 : x0 + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        images.append(_normalise_scene(_resize(crop, (canvas.height, canvas.width))))
        sources.append(name)
        categories.append(category)
    scenes = np.stack(images)
    scenes.flags.writeable = False
    return scenes, sources, categories


def allen_natural_scenes(templates: np.ndarray, canvas: Canvas) -> np.ndarray:
    """Allen's scene templates (118, 918, 1174) uint8 resized to the canvas, in [0, 1]."""
    if templates.ndim != 3 or templates.shape[0] != N_NATURAL_SCENES:
        raise ValueError(
            f"expected {N_NATURAL_SCENES} natural-scene templates, got array of shape "
            f"{templates.shape}; rerun the download_scene_templates rule"
        )
    return np.stack(
        [_resize(t.astype(np.float32) / 255.0, (canvas.height, canvas.width)) for t in templates]
    )


def render_stimuli(
    canvas: Canvas,
    scene_templates: np.ndarray | None = None,
) -> xr.Dataset:
    """All unique stimuli: 120 static gratings then 118 natural scenes.

    Returns a Dataset with ``image`` (stimulus, y, x) float32 in [0, 1] and per-stimulus
    coordinates ``stimulus_name``, ``stimulus_class``, ``frame``, ``orientation``,
    ``spatial_frequency``, ``phase`` and sub-class labels (``label_orientation``,
    ``label_spatial_frequency``, ``label_scene_category``, ``label_predator``). The attribute
    ``natural_scene_source`` says where the scenes came from.
    """
    gratings = grating_table()
    g_img = np.stack([render_grating(o, sf, ph, canvas) for o, sf, ph in gratings])
    if scene_templates is None:
        s_img, sources, categories = packaged_natural_scenes(canvas)
        scene_source = "scikit-image bundled photographs (stand-in for Allen templates)"
    else:
        s_img = allen_natural_scenes(scene_templates, canvas)
        sources = ["allen"] * N_NATURAL_SCENES
        categories = ["unlabelled"] * N_NATURAL_SCENES
        scene_source = "allen natural scene templates"
    ng, ns = len(gratings), len(s_img)
    nan = [np.nan] * ns
    ds = xr.Dataset(
        {"image": (("stimulus", "y", "x"), np.concatenate([g_img, s_img]))},
        coords={
            "stimulus": np.arange(ng + ns),
            "stimulus_name": ("stimulus", ["static_gratings"] * ng + ["natural_scenes"] * ns),
            "stimulus_class": ("stimulus", ["artificial"] * ng + ["natural"] * ns),
            "frame": ("stimulus", [-1] * ng + list(range(ns))),
            "orientation": ("stimulus", [g[0] for g in gratings] + nan),
            "spatial_frequency": ("stimulus", [g[1] for g in gratings] + nan),
            "phase": ("stimulus", [g[2] for g in gratings] + nan),
            "label_orientation": ("stimulus", [f"{g[0]:g}deg" for g in gratings] + ["na"] * ns),
            "label_spatial_frequency": (
                "stimulus",
                [f"{g[1]:g}cpd" for g in gratings] + ["na"] * ns,
            ),
            "label_scene_category": ("stimulus", ["na"] * ng + categories),
            "label_predator": (
                "stimulus",
                ["na"] * ng
                + ["predator" if c == "predator" else "non_predator" for c in categories],
            ),
            "scene_source": ("stimulus", ["na"] * ng + sources),
        },
        attrs={
            "natural_scene_source": scene_source,
            "deg_per_px": canvas.deg_per_px,
            "screen": "Allen: 1920x1200 px, 51.9x32.4 cm at 15 cm, spherically warped",
        },
    )
    return ds


def stimulus_index(
    stimuli: xr.Dataset,
    stimulus_name: np.ndarray,
    frame: np.ndarray,
    orientation: np.ndarray,
    spatial_frequency: np.ndarray,
    phase: np.ndarray,
) -> np.ndarray:
    """Row of ``stimuli`` shown at each presentation; -1 for blanks or unknown stimuli."""

    def key(name: str, fr: float, o: float, sf: float, ph: float) -> tuple:
        if name == "natural_scenes":
            return (name, int(fr))
        return (name, round(float(o), 6), round(float(sf), 6), round(float(ph), 6))

    lookup = {
        key(*row): i
        for i, row in enumerate(
            zip(
                stimuli.stimulus_name.values,
                stimuli.frame.values,
                stimuli.orientation.values,
                stimuli.spatial_frequency.values,
                stimuli.phase.values,
                strict=True,
            )
        )
    }
    rows = zip(stimulus_name, frame, orientation, spatial_frequency, phase, strict=True)
    return np.array([lookup.get(key(*row), -1) for row in rows], dtype=np.int64)
