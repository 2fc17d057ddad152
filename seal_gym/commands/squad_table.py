"""The knowledge-incorporation table with its default preset: `seal-gym eval squad` under its first name.

Same options, same code path, same outputs (see `seal-gym eval squad --help`): base model, trained on the
passage, passage + the model's own self-edit, passage + the dataset's self-edits, passage in context.
"""

from __future__ import annotations

import argparse

from seal_gym.commands import eval_squad

add_arguments = eval_squad.add_arguments


def run(args: argparse.Namespace) -> int:
    return eval_squad.run(args, command="squad-table")
