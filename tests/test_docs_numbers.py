"""The docs state only numbers of the run they name (docs/run/, benchmarks/runs/docs_tables.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nidecode.report.doc_tables import (
    Snapshot,
    allowed_numbers,
    fill,
    render,
    unsourced_numbers,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/how-to-read-results.md")


@pytest.fixture(scope="module")
def snapshot():
    snap = Snapshot(ROOT / "docs" / "run")
    blocks = render(snap)
    configs = tuple(f.read_text() for f in sorted((ROOT / "config").glob("*.yaml")))
    return snap, blocks, allowed_numbers(snap, blocks, configs)


@pytest.mark.parametrize("doc", DOCS)
def test_generated_blocks_match_the_run(snapshot, doc):
    _, blocks, _ = snapshot
    text = (ROOT / doc).read_text()
    assert "<!-- run-table:" in text
    assert fill(text, blocks, doc) == text, (
        f"{doc}: a generated table differs from docs/run/; run "
        "`.venv/bin/python benchmarks/runs/docs_tables.py write`")


@pytest.mark.parametrize("doc", DOCS)
def test_every_number_in_the_docs_is_the_runs(snapshot, doc):
    snap, _, allowed = snapshot
    bad = unsourced_numbers((ROOT / doc).read_text(), allowed)
    assert not bad, f"{doc} states numbers that run {snap.run['name']} does not hold: {bad}"


def test_the_check_catches_a_number_from_elsewhere(snapshot):
    _, blocks, allowed = snapshot
    text = (ROOT / "README.md").read_text()
    # A result typed by hand (no table of the run holds 0.91357), in prose or in a stale block.
    assert unsourced_numbers(text + "\nThe network reaches 0.91357.\n", allowed) == ["0.91357"]
    stale = text.replace("<!-- /run-table -->", "| 0.91357 |\n<!-- /run-table -->", 1)
    assert fill(stale, blocks) != stale


def test_fill_replaces_only_between_markers():
    text = "a 0.123\n<!-- run-table: x -->\nold 0.5\n<!-- /run-table -->\nb\n"
    assert fill(text, {"x": "new"}) == (
        "a 0.123\n<!-- run-table: x -->\nnew\n<!-- /run-table -->\nb\n")
    with pytest.raises(KeyError, match="unknown run-table 'x'"):
        fill(text, {})
    # Numbers inside generated blocks are the run's by construction; prose is checked.
    assert unsourced_numbers(text, set()) == ["0.123"]
