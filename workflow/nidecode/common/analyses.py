"""What one decoding job decodes, as a typed record: :class:`Analysis`.

An analysis has a kind and the parameters of that kind, and a short, wildcard-safe ``name``
(the string in file paths and in the ``analysis`` column of summary.csv):

============== ============================ =====================================================
kind           name                         what it decodes
============== ============================ =====================================================
main           ``main``                     units of ``decoding.areas``, natural vs artificial
label          ``label-<map>``              k-class sub-class labels of label map ``labels.<map>``
areas          ``areas-<A>[+<B>...]``       units of other areas (LGd, CA1, higher visual areas)
arousal        ``arousal-running|still``    the trials of one running state (equal class counts)
units          ``units-<n>-r<k>``           ``n`` units drawn at random, repeat ``k``
readout        ``readout-<mode>``           the top-stimulus readout of ps mode ``<mode>``
time           ``time-<stimulus>``          the time-confound control on ``<stimulus>``'s blocks
transfer       ``transfer-<variant>``       transfer-learning variant ``decoding.transfer.variants``
blank_control  ``blank_control``            the blank-presentation control
============== ============================ =====================================================

The first five are selections (:func:`nidecode.data.selection.select` picks their units,
trials and labels); the last four are names that other jobs give their records.

:func:`analyses_from_config` builds the config's analyses once; :meth:`Analysis.parse` is the
one way back from a name, for where only the name travels (wildcards, summary.csv). This
module imports nothing heavy: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from nidecode.common.errors import ConfigError, NidecodeError

# Kinds that select units, trials and labels; of them, the paper's future work (the GLM's
# extra analyses); and the names other jobs give their records.
SELECTION_KINDS = ("main", "label", "areas", "arousal", "units")
FUTURE_WORK_KINDS = ("label", "areas", "arousal", "units")
RECORD_KINDS = ("readout", "time", "transfer", "blank_control", "drift_control")
KINDS = SELECTION_KINDS + RECORD_KINDS
STATES = ("running", "still")

_WORD = r"[A-Za-z0-9_]+"
_VARIANT = r"[A-Za-z0-9_-]+"  # transfer variants may hold '-' (config: propertyNames)
# name -> (kind, its fields): one pattern per kind; parse() tries them in order.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("main", re.compile(r"main")),
    ("label", re.compile(rf"label-(?P<label_map>{_WORD})")),
    ("areas", re.compile(rf"areas-(?P<areas>{_WORD}(?:\+{_WORD})*)")),
    ("arousal", re.compile(r"arousal-(?P<state>running|still)")),
    ("units", re.compile(r"units-(?P<n_units>0|[1-9][0-9]*)-r(?P<repeat>0|[1-9][0-9]*)")),
    ("readout", re.compile(rf"readout-(?P<mode>{_WORD})")),
    ("time", re.compile(rf"time-(?P<stimulus>{_WORD})")),
    ("transfer", re.compile(rf"transfer-(?P<variant>{_VARIANT})")),
    ("blank_control", re.compile(r"blank_control")),
    ("drift_control", re.compile(r"drift_control")),
)
# The parameters each kind takes (every other field stays at its default).
_PARAMS = {"main": (), "label": ("label_map",), "areas": ("areas",), "arousal": ("state",),
           "units": ("n_units", "repeat"), "readout": ("mode",), "time": ("stimulus",),
           "transfer": ("variant",), "blank_control": (), "drift_control": ()}
_FORMS = ("main, label-<map>, areas-<A>[+<B>...], arousal-running|still, units-<n>-r<k>, "
          "readout-<mode>, time-<stimulus>, transfer-<variant>, blank_control, drift_control")


@dataclass(frozen=True)
class Analysis:
    """One analysis: its ``kind`` and that kind's parameters (see the module's table).

    Build one with the constructors (:meth:`label`, :meth:`area_set`, ...), from the config
    (:func:`analyses_from_config`) or from its name (:meth:`parse`); ``name`` gives the string
    back, and ``str(analysis)`` is that name.
    """

    kind: str
    label_map: str | None = None  # label: the label map's name (labels.<map>)
    areas: tuple[str, ...] = ()  # areas: the areas whose units are decoded
    state: str | None = None  # arousal: running or still
    n_units: int | None = None  # units: how many units are drawn ...
    repeat: int | None = None  # ... and which repeat of the draw
    mode: str | None = None  # readout: the preferred-stimulus mode
    stimulus: str | None = None  # time: the stimulus whose blocks are told apart
    variant: str | None = None  # transfer: the transfer-learning variant

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise NidecodeError(f"unknown analysis kind '{self.kind}'; kinds: {list(KINDS)}")
        if isinstance(self.areas, list):
            object.__setattr__(self, "areas", tuple(self.areas))
        if not isinstance(self.areas, tuple):
            raise NidecodeError(f"analysis areas {self.areas!r} should be a tuple of areas")
        for count in (self.n_units, self.repeat):
            if count is not None and (not isinstance(count, int) or count < 0):
                raise NidecodeError(f"analysis kind '{self.kind}': {count!r} is not a count")
        wanted = _PARAMS[self.kind]
        for f in fields(self):
            if f.name == "kind":
                continue
            value = getattr(self, f.name)
            if f.name in wanted and value in (None, ()):
                raise NidecodeError(f"analysis kind '{self.kind}' needs {f.name}")
            if f.name not in wanted and value != f.default:
                raise NidecodeError(f"analysis kind '{self.kind}' takes no {f.name} "
                                    f"(it takes {list(wanted) or 'nothing'})")
        # The name must read back as this record: wildcard-safe words only.
        if dict(_PATTERNS)[self.kind].fullmatch(self.name) is None:
            raise NidecodeError(f"analysis {self!r} has no valid name ('{self.name}'): names "
                                "use letters, digits and '_' (transfer variants also '-')")

    # ------------------------------------------------------------------------- constructors

    @classmethod
    def main(cls) -> Analysis:
        return cls("main")

    @classmethod
    def label(cls, label_map: str) -> Analysis:
        return cls("label", label_map=label_map)

    @classmethod
    def area_set(cls, areas: tuple[str, ...] | list[str]) -> Analysis:
        return cls("areas", areas=tuple(areas))

    @classmethod
    def arousal(cls, state: str) -> Analysis:
        return cls("arousal", state=state)

    @classmethod
    def unit_count(cls, n_units: int, repeat: int) -> Analysis:
        return cls("units", n_units=int(n_units), repeat=int(repeat))

    @classmethod
    def readout(cls, mode: str) -> Analysis:
        return cls("readout", mode=mode)

    @classmethod
    def time(cls, stimulus: str) -> Analysis:
        return cls("time", stimulus=stimulus)

    @classmethod
    def transfer(cls, variant: str) -> Analysis:
        return cls("transfer", variant=variant)

    @classmethod
    def blank_control(cls) -> Analysis:
        return cls("blank_control")

    @classmethod
    def drift_control(cls) -> Analysis:
        """The gabor-epoch drift control (:mod:`nidecode.jobs.drift_control`)."""
        return cls("drift_control")

    # ------------------------------------------------------------------------ name <-> record

    @property
    def detail(self) -> str:
        """The name without its kind: the label map, the areas (A+B), the state, n-r<k>, the
        mode, stimulus or variant; "" for main and the controls."""
        if self.kind == "areas":
            return "+".join(self.areas)
        if self.kind == "units":
            return f"{self.n_units}-r{self.repeat}"
        value = {"label": self.label_map, "arousal": self.state, "readout": self.mode,
                 "time": self.stimulus, "transfer": self.variant}.get(self.kind)
        return value or ""

    @property
    def name(self) -> str:
        """The analysis's name in file paths and in summary.csv's ``analysis`` column."""
        return f"{self.kind}-{self.detail}" if self.detail else self.kind

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        params = "".join(f", {f.name}={getattr(self, f.name)!r}" for f in fields(self)
                         if f.name != "kind" and getattr(self, f.name) != f.default)
        return f"Analysis({self.kind!r}{params})"

    @property
    def is_selection(self) -> bool:
        """Whether :func:`nidecode.data.selection.select` decodes it (the first five kinds)."""
        return self.kind in SELECTION_KINDS

    @classmethod
    def parse(cls, name: str) -> Analysis:
        """The analysis named ``name``; :class:`NidecodeError` for a name of no kind."""
        for kind, pattern in _PATTERNS:
            match = pattern.fullmatch(str(name))
            if match:
                return cls._from_match(kind, match)
        raise NidecodeError(f"unknown analysis '{name}'; analyses are named {_FORMS}")

    @classmethod
    def of(cls, analysis: Analysis | str) -> Analysis:
        """``analysis`` itself, or the analysis its name names (:meth:`parse`)."""
        return analysis if isinstance(analysis, Analysis) else cls.parse(analysis)

    @classmethod
    def _from_match(cls, kind: str, match: re.Match) -> Analysis:
        g = match.groupdict()
        if kind == "areas":
            return cls(kind, areas=tuple(g["areas"].split("+")))
        if kind == "units":
            return cls(kind, n_units=int(g["n_units"]), repeat=int(g["repeat"]))
        return cls(kind, **g)


def analyses_from_config(config: dict) -> list[Analysis]:
    """The GLM's extra analyses (sub-classes, regions, arousal, unit counts) of a validated
    config, in this order: each ``analyses.labels`` map, each ``analyses.area_sets`` entry,
    running then still (``analyses.arousal``), then for each ``analyses.unit_counts`` entry
    its ``analyses.unit_repeats`` repeats."""
    a = config["analyses"]
    try:
        out = [Analysis.label(name) for name in a["labels"]]
        out += [Analysis.area_set(areas) for areas in a["area_sets"]]
        if a["arousal"]:
            out += [Analysis.arousal(state) for state in STATES]
        out += [Analysis.unit_count(n, k) for n in a["unit_counts"]
                for k in range(a["unit_repeats"])]
    except NidecodeError as err:
        raise ConfigError(f"config key 'analyses': {err}") from None
    return out


def analysis_field(names, field: str = "kind") -> list:
    """``field`` of the analysis each of ``names`` names (a column of summary.csv, say), each
    distinct name parsed once; None where a row has no name (None or NaN)."""
    parsed: dict[str, Analysis] = {}
    out = []
    for name in names:
        if not isinstance(name, str):
            out.append(None)
            continue
        if name not in parsed:
            parsed[name] = Analysis.parse(name)
        out.append(getattr(parsed[name], field))
    return out
