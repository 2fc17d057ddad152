"""Named task suites: generated ARC tasks with train / tune / held-out splits whose task seeds never overlap.

``tasks="suite:NAME:SPLIT"`` (SPLIT one of :data:`SPLITS`) is the fixed list :func:`suite_tasks` returns. Task
``k`` of family ``f`` in a split is ``generate_task(SPLIT_SEEDS[split] + k, <the suite's settings, family f
only>)``, so a task is named by its family and seed (``gen-flip_lr-500003``) and each split draws from its own
seed range (:data:`SPLIT_SEEDS`, :data:`SPLIT_CAPACITY` tasks per family wide). The tune range is the one
``studies/arc_recipe_spread.py`` measures families on: its tasks are the tune split's, task for task.

Tasks are listed round-robin over families (task 0 of every family, then task 1, ...), so the first N tasks of a
split (``seal-gym eval arc --tasks N``) cover the families evenly. Tasks of the geometric families with the same
seed share their input grids (the generator draws them from the same stream), as in the spread study; their
outputs differ.

:data:`SUITES` holds the suites. ``easy``'s families are the generator's :data:`~seal_gym.arc.generator.EASY` mix.
The recipe-spread table found no family where a sampled recipe beats the default, so no other suite was chosen;
its description's "provisional" stays, since a registered suite's definition (description included) is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from seal_gym.arc.data import ArcTask
from seal_gym.arc.generator import EASY, GeneratorConfig, generate_task

SPLITS = ("train", "tune", "heldout")
"""The splits of every suite: what agents train on, what settings are chosen on, what is reported."""
SPLIT_SEEDS = {"train": 100_000, "tune": 500_000, "heldout": 900_000}
"""The first task seed of each split (``tune`` is ``studies/arc_recipe_spread.py``'s ``TUNE_SEED``)."""
SPLIT_CAPACITY = 400_000
"""Tasks per family a split may hold: its seeds stay below the next split's first seed."""


@dataclass(frozen=True)
class Suite:
    """A named set of generated tasks: which families, at which sizes, how many per split."""

    description: str
    """One line on what the suite is for (shown in the docs and in errors)."""
    families: tuple[str, ...]
    """Generator families (``seal_gym.arc.generator.FAMILY_NAMES``); every split holds the same number of each."""
    size: tuple[int, int] = (3, 3)
    """Smallest and largest side of an input grid."""
    demonstrations: tuple[int, int] = (4, 4)
    """Fewest and most demonstrations of a task."""
    tasks_per_family: tuple[int, int, int] = (20, 4, 12)
    """Tasks of each family in the train, tune and held-out splits."""

    def __post_init__(self) -> None:
        if len(self.tasks_per_family) != len(SPLITS) or not all(0 < n <= SPLIT_CAPACITY for n in self.tasks_per_family):
            raise ValueError(f"Suite.tasks_per_family needs {len(SPLITS)} counts in [1, {SPLIT_CAPACITY}], "
                             f"got {self.tasks_per_family}")
        for family in self.families:
            self.generator(family)  # an unknown family or a bad size fails here, when the suite is defined

    def generator(self, family: str) -> GeneratorConfig:
        """The generator settings of the suite's tasks of ``family``."""
        return GeneratorConfig(families=(family,), min_size=self.size[0], max_size=self.size[1],
                               min_demos=self.demonstrations[0], max_demos=self.demonstrations[1])

    def count(self, split: str) -> int:
        """Tasks in ``split``, all families together."""
        return self.tasks_per_family[SPLITS.index(split)] * len(self.families)


SUITES = {
    "easy": Suite("the generator's easy mix (3x3 grids, 4 demonstrations); provisional until the recipe-spread "
                  "table says which families recipes matter on", EASY.families),
}
"""Every named suite (``tasks="suite:NAME:SPLIT"``)."""


def register_suite(name: str, suite: Suite) -> Suite:
    """Add ``suite`` to :data:`SUITES` as ``name``: a suite known only at run time, e.g. the one a study chooses
    from its data and keeps in a file (:func:`suite_from_dict`). Registering the same definition again is a no-op.

    Raises:
        ValueError: ``name`` is not a plain name, or names another definition already.
    """
    if not name or ":" in name or name != name.strip():
        raise ValueError(f"a suite name is one word without ':', got {name!r}")
    known = SUITES.get(name)
    if known is not None and known != suite:
        raise ValueError(f"task suite {name!r} is already defined otherwise ({', '.join(known.families)}); "
                         "a suite's tasks must not change under its name: choose another")
    if known is None:
        _tasks.cache_clear()  # tasks an earlier definition of the name (since removed) left under its source
    SUITES[name] = suite
    return suite


def suite_from_dict(values: dict) -> Suite:
    """The suite that ``dataclasses.asdict(suite)`` gave (read back from JSON, whose lists are tuples here).

    >>> suite_from_dict({"description": "d", "families": ["flip_lr"], "tasks_per_family": [2, 1, 3]}).count("heldout")
    3
    """
    return Suite(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


def parse_suite(source: str) -> tuple[Suite, str]:
    """The suite and split that ``"suite:NAME:SPLIT"`` names.

    >>> suite, split = parse_suite("suite:easy:heldout")
    >>> split, suite.count(split)
    ('heldout', 60)

    Raises:
        ValueError: not of that form, an unknown suite or an unknown split (one line, naming the known ones).
    """
    kind, _, rest = source.partition(":")
    name, _, split = rest.partition(":")
    if kind != "suite" or not name or not split or ":" in split:
        raise ValueError(f"a task suite is 'suite:NAME:SPLIT', got {source!r}; e.g. 'suite:easy:train'")
    if name not in SUITES:
        raise ValueError(f"unknown task suite {name!r} in {source!r}; known suites: {', '.join(sorted(SUITES))}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} of task suite {name!r}; use one of {', '.join(SPLITS)}")
    return SUITES[name], split


@lru_cache(maxsize=16)
def _tasks(source: str) -> tuple[ArcTask, ...]:
    suite, split = parse_suite(source)
    first = SPLIT_SEEDS[split]
    per_family = suite.tasks_per_family[SPLITS.index(split)]
    configs = [suite.generator(family) for family in suite.families]
    return tuple(generate_task(first + k, config) for k in range(per_family) for config in configs)


def suite_tasks(source: str) -> list[ArcTask]:
    """The tasks of ``"suite:NAME:SPLIT"``, round-robin over the suite's families; the same list every time.

    Raises:
        ValueError: see :func:`parse_suite`.
    """
    return list(_tasks(source))


def suite_table() -> str:
    """The suites as a Markdown table (docs/envs.md shows it; tests/test_arc_suites.py keeps it current)."""
    rows = ["| suite | families | grids | demonstrations | train / tune / held-out tasks per family | what it is |",
            "|---|---|---|---|---|---|"]
    for name, suite in SUITES.items():
        small, large = (f"{side}x{side}" for side in suite.size)
        fewest, most = suite.demonstrations
        grids = small if small == large else f"{small} to {large}"
        demonstrations = fewest if fewest == most else f"{fewest}-{most}"
        rows.append(f"| `{name}` | {', '.join(suite.families)} | {grids} | {demonstrations} | "
                    f"{' / '.join(map(str, suite.tasks_per_family))} | {suite.description} |")
    return "\n".join(rows)
