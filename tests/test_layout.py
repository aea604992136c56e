"""The package is laid out by stage: no module imports from a later stage, and the package
knows no Snakemake rule by name (the rules name what the package should do)."""

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "workflow" / "nidecode"
RULES = Path(__file__).resolve().parents[1] / "workflow" / "rules"
# The stages in the order of the DAG (docs/development.md, "Layout"); config.py reads them all.
STAGES = ["common", "data", "images", "decoders", "evaluation", "jobs", "studies", "report",
          "config"]


def stage_of(module: str) -> str | None:
    """The stage of a dotted nidecode module name (None: the package's face)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nidecode" else None


def imports(path: Path, source: str | None = None) -> list[str]:
    """Every nidecode module the package file ``path`` imports (absolute or relative)."""
    tree = ast.parse(path.read_text() if source is None else source)
    here = ["nidecode", *path.relative_to(PKG).with_suffix("").parts][:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            if base.startswith("nidecode"):
                out += [base] if base != "nidecode" else [f"nidecode.{a.name}" for a in
                                                          node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("nidecode")]
    return out


def test_every_module_sits_in_a_stage():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts == ("__init__.py",):
            continue
        assert rel.parts[0].removesuffix(".py") in STAGES, f"{rel}: not in a stage folder"


def test_no_import_points_to_a_later_stage():
    upward = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        own = rel.parts[0].removesuffix(".py")
        if own not in STAGES:
            continue
        for module in imports(path):
            stage = stage_of(module)
            if stage in STAGES and STAGES.index(stage) > STAGES.index(own):
                upward.append(f"{rel} imports {module}")
    assert not upward, upward


def test_the_checker_sees_an_upward_import():
    # The check can fail: a data module that imports the report, absolutely or relatively.
    probe = PKG / "data" / "probe.py"
    for source in ("from nidecode.report.aggregate import summarise\n",
                   "from ..report import figures\n"):
        assert [stage_of(m) for m in imports(probe, source)] == ["report"], source


def test_the_package_names_no_decoding_rule():
    rules = set(re.findall(r"^(?:rule|use rule \w+ as) (\w+)", "\n".join(
        p.read_text() for p in RULES.glob("*.smk")), flags=re.M))
    decoding = {r for r in rules if r.endswith(("_within", "_cross", "_control", "_analysis",
                                                "_analyses", "_transfer"))}
    decoding -= {"blank_control", "drift_control"}  # also the analyses' names in summary.csv
    assert {"dnn_within", "glm_within", "baselines_cross"} <= decoding
    named = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in decoding:
                named.append(f"{path.relative_to(PKG)}: {node.value!r}")
    assert not named, named
