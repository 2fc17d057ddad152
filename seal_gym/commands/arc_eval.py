"""Success rates of test-time-training recipes on ARC tasks: `seal-gym eval arc` under its first name.

Same options, same code path, same outputs (see `seal-gym eval arc --help`): in context, the default
recipe, every recipe of a small grid and the oracle.
"""

from __future__ import annotations

import argparse

from seal_gym.commands import eval_arc

add_arguments = eval_arc.add_arguments


def run(args: argparse.Namespace) -> int:
    return eval_arc.run(args, command="arc-eval")
