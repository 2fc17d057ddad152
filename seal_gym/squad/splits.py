"""Fixed splits of a passage file, so that what a study evaluates on is never what it tuned or trained on.

``load_passages("train.json@heldout")`` reads the file and keeps one split. The split is a seeded permutation
of the passages' positions, decided by the file's length alone: the same file always splits the same way,
on any machine, and a study that names a split can be rerun exactly.

``load_passages("val.json@topics-2")`` keeps K passages of every title instead (a seeded choice within each
title, in file order): a held-out set spread over every topic of a file, for a file whose titles no training
file shares (SQuAD's validation passages share none with its training passages).
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 20261202
SPLITS = ("tune", "train", "heldout")
HELDOUT_SHARE = 0.4
TUNE_SHARE = 0.2


def split_indices(count: int, seed: int = SPLIT_SEED) -> dict[str, list[int]]:
    """Positions of the ``tune`` (20 %), ``train`` (40 %) and ``heldout`` (40 %) passages of a file of ``count``.

    ``tune`` is for choosing settings (the regime and reward studies), ``train`` for training rounds, and
    ``heldout`` only for a final evaluation. Each list is sorted; together they are every position once.

    >>> s = split_indices(100)
    >>> [len(s[name]) for name in SPLITS], sorted(s["tune"] + s["train"] + s["heldout"]) == list(range(100))
    ([20, 40, 40], True)
    """
    if count < 3:
        raise ValueError(f"a split needs at least 3 passages, got {count}")
    order = np.random.default_rng(seed).permutation(count).tolist()
    heldout = max(1, round(count * HELDOUT_SHARE))
    tune = max(1, round(count * TUNE_SHARE))
    return {"heldout": sorted(order[:heldout]), "tune": sorted(order[heldout : heldout + tune]),
            "train": sorted(order[heldout + tune :])}


def per_topic_indices(titles: list[str], per_topic: int, seed: int = SPLIT_SEED) -> list[int]:
    """Positions of ``per_topic`` passages of every title (all of a title with fewer), sorted.

    >>> per_topic_indices(["a", "a", "a", "b", "c", "c"], 2)
    [1, 2, 3, 4, 5]
    """
    if per_topic < 1:
        raise ValueError(f"topics-K needs K >= 1, got {per_topic}")
    rng = np.random.default_rng(seed)
    chosen = []
    for title in sorted(set(titles)):
        positions = [i for i, t in enumerate(titles) if t == title]
        chosen.extend(positions[k] for k in rng.permutation(len(positions))[:per_topic])
    return sorted(chosen)


def topics_split(split: str) -> int | None:
    """K of a ``topics-K`` split name, else ``None``.

    >>> topics_split("topics-2"), topics_split("heldout")
    (2, None)
    """
    head, _, count = split.partition("-")
    return int(count) if head == "topics" and count.isdigit() else None


def parse_split(dataset: str) -> tuple[str, str | None]:
    """``"path@split"`` -> ``("path", "split")``; a name without a known split suffix is returned whole.

    >>> parse_split("data/train.json@heldout"), parse_split("data/val.json@topics-2"), parse_split("demo")
    (('data/train.json', 'heldout'), ('data/val.json', 'topics-2'), ('demo', None))
    """
    source, sep, split = dataset.rpartition("@")
    if sep and (split in SPLITS or topics_split(split)):
        return source, split
    if sep and "/" not in split and "." not in split:
        raise ValueError(f"unknown split {split!r} in {dataset!r}; choose one of {', '.join(SPLITS)} or topics-K")
    return dataset, None
