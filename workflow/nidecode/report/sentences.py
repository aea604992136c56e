"""The front page's sentences: what the run's answer says in words, from
:func:`nidecode.report.aggregate.decoder_comparison`'s rows (which decoder leads and whether a
paired test says so, what the time-respecting test across animals decides) and the
significance level they report against."""

from __future__ import annotations

import pandas as pd

from nidecode.evaluation.statistics import holm, paired_sign_flip_p
from nidecode.report.aggregate import decoder_comparison

# The significance level every sentence of the front page reports against.
ALPHA = 0.05


def _names(labels: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _animals(n: int) -> str:
    return f"{n} animal{'s' if n != 1 else ''}"


def time_test_sentence(rows: list[dict], alpha: float = ALPHA) -> str:
    """What the time-respecting test across animals says, from
    :func:`nidecode.report.aggregate.decoder_comparison`'s rows: for which decoders it rejects
    chance at ``alpha``, and for which it cannot (its smallest possible p, ``p_floor``, is
    above ``alpha`` for the animals present, as with one animal's 10 block partitions), which
    then get no rejection count."""
    tested = [r for r in rows if not pd.isna(r["p_group"])]
    if not tested:
        return "No decoder was tested against drift across animals in this run"
    parts = []
    # Decoders the test can decide for, per number of animals (the same for all, usually).
    decidable = [r for r in tested if not r["p_floor"] > alpha]
    for n in sorted({r["n_group"] for r in decidable}, reverse=True):
        group = [r for r in decidable if r["n_group"] == n]
        passed = [r["label"] for r in group if r["p_group"] <= alpha]
        failed = [r["label"] for r in group if r["p_group"] > alpha]
        where = f"across the {n} animals" if n > 1 else "on the one animal"
        every = len(group) == len(tested)  # no other decoder, decidable or not, was tested
        if passed and failed:
            what = (f"rejects chance (p ≤ {alpha:g}) for {_names(passed)} and not for "
                    f"{_names(failed)}")
        else:
            verb, some = ("rejects", passed) if passed else ("does not reject", failed)
            what = f"{verb} chance (p ≤ {alpha:g}) for " + (
                _names(some) if not every
                else f"{some[0]}, the one decoder it was run for" if len(some) == 1
                else f"{'every' if passed else 'any'} decoder it was run for "
                     f"({', '.join(some)})")
        parts.append(f"The time-respecting test {where} {what}")
    floors = [r for r in tested if r["p_floor"] > alpha]
    for n, floor in sorted({(r["n_group"], r["p_floor"]) for r in floors}):
        labels = [r["label"] for r in floors if (r["n_group"], r["p_floor"]) == (n, floor)]
        parts.append(f"The time-respecting test cannot reach p ≤ {alpha:g} with {_animals(n)} "
                     f"(its smallest p is {floor:.2g}), so it decides nothing for "
                     f"{_names(labels)}")
    return ". ".join(parts)


def decoder_difference_sentence(rows: list[dict], alpha: float = ALPHA) -> str:
    """Which decoder leads, and whether a paired test over animals says the lead is real.

    The highest like-for-like mean is compared with every other decoder on the same animals
    by an exact paired sign-flip test of the per-animal differences
    (:func:`nidecode.evaluation.statistics.paired_sign_flip_p`), Holm-adjusted over those
    comparisons. A winner is named only when every adjusted p is at most ``alpha``; otherwise
    the decoders it cannot be told from are named, with the closest one's difference and p.
    """
    best = max(rows, key=lambda r: r["same"])
    others = [r for r in rows if r is not best]
    n = best["n_animals"]
    folds = "fold" if best["n_same_folds"] == 1 else "folds"
    score = (f"{best['same']:.3f} within animal, chance 0.5, on the network's {folds}"
             + ("" if n > 1 else ", one animal"))
    lead = f"the {best['label']} ({score})"
    if not others:
        return f"On these data the one decoder compared is {lead}"
    diffs = {id(r): best["same_per_animal"] - r["same_per_animal"] for r in others}
    n_paired = min(len(d.dropna()) for d in diffs.values())
    if n_paired < 2:
        return (f"On these data {lead} scores highest; with one animal no difference between "
                "decoders can be tested")
    raw = [paired_sign_flip_p(diffs[id(r)].dropna().to_numpy()) for r in others]
    adjusted = holm(raw)
    floor = 2 / 2**n_paired
    test = (f"paired sign-flip test over {n_paired} animals, Holm-adjusted over "
            f"{len(others)} comparison{'s' if len(others) > 1 else ''}")
    if all(p <= alpha for p in adjusted):
        worst = max(range(len(others)), key=lambda i: adjusted[i])
        return (f"On these data the best decoder of natural vs artificial stimuli is {lead}, "
                f"ahead of every other decoder ({test}: largest p {adjusted[worst]:.2g}, "
                f"against the {others[worst]['label']})")
    tied = [r for r, p in zip(others, adjusted, strict=True) if p > alpha]
    closest = max(tied, key=lambda r: r["same"])
    p_closest = adjusted[others.index(closest)]
    text = (f"On these data no decoder is shown best: {lead} scores highest, but it cannot be "
            f"told from the {_names([r['label'] for r in tied])} ({test}; the "
            f"{closest['label']} {best['same'] - closest['same']:.3f} behind, p "
            f"{p_closest:.2g}")
    if floor > alpha:
        text += f"; with {n_paired} animals the smallest p is {floor:.2g}"
    return text + ")"


def verdict(summary: pd.DataFrame, groups: pd.DataFrame, null: list[str],
            split: str = "block") -> str:
    """The run's answer: which decoder leads like for like and whether a paired test over
    animals says so (:func:`decoder_difference_sentence`), by how much the network trails,
    and for which decoders the time-respecting test across animals rejects
    (:func:`time_test_sentence`), with how many of those tests ran."""
    rows = [r for r in decoder_comparison(summary, groups, null, split)
            if not pd.isna(r["same"])]
    if not rows:
        return "No decoder ran on the animals with stimulus information."
    best = max(rows, key=lambda r: r["same"])
    net = next((r for r in rows if r["model"] == "network"), None)
    text = decoder_difference_sentence(rows).replace(
        "within animal, chance 0.5,", f"within animal, chance 0.5, {split} split,", 1)
    if net is not None and net is not best:
        text += (f". The network on neural images reaches {net['same']:.3f}, "
                 f"{best['same'] - net['same']:.3f} behind the {best['label']}")
    text += ". " + time_test_sentence(rows)
    if net is not None and pd.isna(net["p_group"]) and any(
            not pd.isna(r["p_group"]) for r in rows):
        text += "; the network was not tested against drift in this run"
    n_tests = sum(not pd.isna(r["p_group"]) for r in rows)
    if n_tests > 1:
        text += (f", in {n_tests} group tests, one per decoder, each at p ≤ {ALPHA:g} without "
                 "correction for their number")
    return text + "."
