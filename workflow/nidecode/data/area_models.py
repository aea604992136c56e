"""The simulator's brain areas and how their units respond: one :class:`AreaModel` per area.

:data:`AREA_MODELS` is the table :func:`nidecode.data.simulate.simulate_session` reads; an area
of ``simulation.animals.<session>.n_units`` that is not in it is an error (config validation
and the simulator both say so), never a silent stand-in. Adding an area is one entry here, with
one of the response-model kinds :func:`nidecode.data.unit_model.unit_drives` implements:

* ``gabor`` (VISp, VISl): Gabor receptive fields, simple (half-wave rectified linear) or complex
  (quadrature energy), tuned to orientation and to a spatial frequency drawn log-normally
  around ``sf_centre_cpd``;
* ``centre_surround`` (LGd): difference-of-Gaussians fields, ON or OFF;
* ``weak`` (CA1): a weak random projection of the image in some units, nothing in the rest.

This module imports nothing heavy: config validation reads it when the Snakefile is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from nidecode.common.errors import ConfigError

RESPONSE_KINDS = ("gabor", "centre_surround", "weak")
# The config key whose areas this table constrains.
CONFIG_KEY = "simulation.animals.<session>.n_units"


@dataclass(frozen=True)
class AreaModel:
    """How the simulated units of one area respond.

    ``kind``: the receptive-field model (``RESPONSE_KINDS``); ``latency_s``: the response
    latency before each unit's 0-20 ms jitter; ``amplitude``: the evoked amplitude relative to
    :data:`nidecode.data.unit_model.EVOKED_HZ`. Per kind:

    * gabor: ``sf_centre_cpd`` (cycles/degree) and ``sf_log_sd``, the log-normal of the
      preferred spatial frequency; ``simple_fraction``, the chance that a unit is simple;
    * centre_surround: ``centre_sd_deg``, the range (degrees) the centre's SD is drawn from;
      ``on_fraction``, the chance that a unit is ON;
    * weak: ``weak_fraction``, the chance that a unit is driven at all, and ``weak_gain``,
      the gain of its random projection.
    """

    kind: str
    latency_s: float = 0.05
    amplitude: float = 1.0
    sf_centre_cpd: float | None = None
    sf_log_sd: float = 0.5
    simple_fraction: float = 0.45
    centre_sd_deg: tuple[float, float] = (2.0, 5.0)
    on_fraction: float = 0.5
    weak_fraction: float = 0.3
    weak_gain: float = 0.15

    def __post_init__(self) -> None:
        if self.kind not in RESPONSE_KINDS:
            raise ValueError(f"unknown response-model kind '{self.kind}'; kinds: "
                             f"{list(RESPONSE_KINDS)}")
        if self.kind == "gabor" and self.sf_centre_cpd is None:
            raise ValueError("a gabor area model needs sf_centre_cpd")


AREA_MODELS: dict[str, AreaModel] = {
    # V1: Gabor fields around 0.04 cycles/degree.
    "VISp": AreaModel("gabor", sf_centre_cpd=0.04),
    # A higher visual area: Gabor fields, lower spatial frequencies.
    "VISl": AreaModel("gabor", sf_centre_cpd=0.025),
    # Thalamus: centre-surround ON/OFF fields, 15 ms earlier than cortex.
    "LGd": AreaModel("centre_surround", latency_s=0.035),
    # Hippocampus: weakly driven or not at all, half the evoked amplitude.
    "CA1": AreaModel("weak", amplitude=0.5),
}


def unknown_area_message(area: str, where: str = CONFIG_KEY) -> str:
    return (f"config key '{where}': area '{area}' has no simulated response model; simulated "
            f"areas: {sorted(AREA_MODELS)}. Use one of them there, or add an AreaModel for "
            f"'{area}' to AREA_MODELS in workflow/nidecode/data/area_models.py")


def area_model(area: str, where: str = CONFIG_KEY) -> AreaModel:
    """The response model of ``area``; :class:`ConfigError` naming the area, the table's
    areas and the config key (``where``) if the table has none."""
    try:
        return AREA_MODELS[area]
    except KeyError:
        raise ConfigError(unknown_area_message(area, where)) from None


def check_simulated_areas(config: dict) -> None:
    """Every area the configured simulated sessions hold has a response model (source
    ``simulated`` only; the other sources read their areas from the files)."""
    if config.get("source") != "simulated":
        return
    animals = config["simulation"]["animals"]
    for session in config["sessions"]:
        for area in (animals.get(session) or {}).get("n_units", {}):
            area_model(area, f"simulation.animals.{session}.n_units")
