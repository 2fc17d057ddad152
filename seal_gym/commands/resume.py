"""``seal-gym train --resume RUN_DIR``: what it takes besides the folder, and what it refuses before writing.

A resumed run replays the settings its ``config.json`` recorded, so any other option would be ignored: it is
refused instead, even one that repeats a default (argparse cannot tell those apart from defaults, hence
:func:`seal_gym.commands.parser.note_given_options`). ``--rounds`` is the one setting it takes (to extend a run),
``--threads`` is the process's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seal_gym.agents.run_lock import RunLockedError, check_unlocked
from seal_gym.agents.runlog import CONFIG, rounds_done, run_settings, write_atomic
from seal_gym.commands.common import UsageError
from seal_gym.commands.parser import GIVEN

TAKEN_WITH_RESUME = ("resume", "rounds", "threads", "debug")
"""Options ``--resume`` takes (by dest); every other one is the run's own."""


class RunFinished(Exception):
    """The run has done its rounds already and no ``--rounds`` asks for more: nothing to do (exit 0)."""


def resume_settings(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """The run's recorded settings (``--rounds`` applied) and the rounds it has done.

    Raises:
        UsageError: another option was given, the folder is not a ``seal-gym train`` run, another process
            writes it, or ``--rounds`` asks for fewer rounds than it has done.
    """
    given = getattr(args, GIVEN, {})
    other = [option for dest, option in given.items() if dest not in TAKEN_WITH_RESUME]
    if other:
        raise UsageError(f"{other[0]} cannot be given with --resume: a resumed run keeps its own settings "
                         "(only --rounds, to extend it, --threads and --debug are taken)")
    run_dir = args.resume
    try:
        settings = run_settings(run_dir)
        check_unlocked(run_dir)
        done = rounds_done(run_dir)
    except (OSError, RunLockedError) as err:  # not a run folder, or its lock is held or unreadable
        raise UsageError(str(err)) from None
    if "command" not in settings:
        raise UsageError(f"{run_dir} was not started by seal-gym train (its config.json has no 'command' settings)")
    command = dict(settings["command"])
    if args.rounds is not None:
        if args.rounds < done:
            raise UsageError(f"{run_dir} has done {done} rounds; --rounds is the total, so give at least {done}")
        command["rounds"] = args.rounds
    return command, done


def check_not_finished(run_dir: str, done: int, rounds: int) -> None:
    """Raises :class:`RunFinished` when the run has done all ``rounds``."""
    if done >= rounds:
        raise RunFinished(f"{run_dir} has done all its {done} rounds; nothing to do (add --rounds N, with N > {done}, "
                          "to train it further)")


def record_rounds(run_dir: str | Path, rounds: int) -> None:
    """Write the run's new total of rounds into its ``config.json``, so a later plain ``--resume`` goes as far."""
    settings = run_settings(run_dir)
    settings["command"]["rounds"] = rounds
    write_atomic(Path(run_dir) / CONFIG, json.dumps(settings, indent=2, default=str))
