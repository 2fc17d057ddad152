"""`seal-gym` with a task suite registered first from a study's file: ``python studies/arc_suite_cli.py SUITE.json
ARGS...`` runs ``seal-gym ARGS`` once :func:`seal_gym.arc.suites.register_suite` has read ``{"name", "suite"}``.

A suite that a study chooses from its data (studies/arc_experiment: the families where the recipe matters) exists
only once those data are in. Its runs name it (``--dataset suite:spread:train``), so every command that reads them,
``seal-gym train --resume`` included, goes through this launcher.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(path: str | Path) -> str:
    """Register the suite of ``path`` in this process; its name."""
    from seal_gym.arc.suites import register_suite, suite_from_dict

    spec = json.loads(Path(path).read_text())
    register_suite(spec["name"], suite_from_dict(spec["suite"]))
    return spec["name"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or not Path(argv[0]).is_file():
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    register(argv[0])
    from seal_gym.cli import main as seal_gym

    return seal_gym(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
