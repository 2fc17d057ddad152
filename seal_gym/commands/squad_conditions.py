"""``eval squad``'s conditions: named ``[NAME=]SOURCE`` conditions and the checks of the baselines' options."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

from seal_gym.commands.common import UsageError


def named_conditions(prefix: str, given: list[str], keep_suffix: bool = True) -> dict[str, tuple[str | None, str]]:
    """``{condition key: (NAME, source)}`` of a repeatable ``[NAME=]SOURCE`` option (``--policy``,
    ``--self-edits-file``): one unnamed source is the condition ``prefix`` (NAME None); otherwise each is
    ``prefix_<NAME>`` (NAME's letters and digits, lower case), NAME defaulting to the source's file or folder
    name (without its suffix unless ``keep_suffix``).

    >>> named_conditions("policy_self_edits", ["runs/a"])
    {'policy_self_edits': (None, 'runs/a')}
    >>> named_conditions("policy_self_edits", ["grpo=runs/b", "runs/rest-em__0"])
    {'policy_self_edits_grpo': ('grpo', 'runs/b'), 'policy_self_edits_rest_em_0': ('rest-em__0', 'runs/rest-em__0')}
    >>> named_conditions("file_self_edits", ["out/rest-em.json", "out/ppo.json"], keep_suffix=False)
    {'file_self_edits_rest_em': ('rest-em', 'out/rest-em.json'), 'file_self_edits_ppo': ('ppo', 'out/ppo.json')}

    Raises:
        UsageError: two sources get the same name.
    """
    if len(given) == 1 and "=" not in given[0]:
        return {prefix: (None, given[0])}
    out: dict[str, tuple[str | None, str]] = {}
    for text in given:
        path = Path(text.rstrip("/"))
        name, source = text.split("=", 1) if "=" in text else (path.name if keep_suffix else path.stem, text)
        key = f"{prefix}_" + "_".join(re.findall(r"[A-Za-z0-9]+", name)).lower()
        if key in out:
            raise UsageError(f"two {prefix} sources are both named {key.removeprefix(prefix + '_')!r}: name them (NAME=...)")
        out[key] = (name, source)
    return out


def check_conditions(args: argparse.Namespace, conditions: list[str], named: list[str]) -> None:
    """The baselines' and the paired report's options, checked before anything runs."""
    from seal_gym.evaluation.squad import AdapterScore
    from seal_gym.squad.prompts import PROMPT_STYLES

    styles = ensemble_styles(args)
    unknown = [s for s in styles if s not in PROMPT_STYLES]
    if "prompt-ensemble" in conditions and (unknown or not styles):
        raise UsageError(f"unknown prompt style {unknown[0]!r} in --ensemble-styles; choose from "
                         f"{', '.join(sorted(PROMPT_STYLES))}" if unknown else "--ensemble-styles names no style")
    if "best-of-n" in conditions:
        if "base-self-edits" not in conditions:
            raise UsageError("best-of-n picks among the base-self-edits' adapters: add base-self-edits to --conditions")
        # Scores to maximise: the float fields (a loss is not one) and the answer metrics.
        from seal_gym.squad.metrics import METRICS

        metrics = {f.name for f in fields(AdapterScore) if str(f.type) == "float"} | set(METRICS)
        if args.best_of_metric not in metrics:
            raise UsageError(f"--best-of-metric {args.best_of_metric!r} is not a metric of an adapter's score; "
                             f"choose from {', '.join(sorted(metrics))}")
    named = [key.replace("_", "-") for key in named]  # the --policy and --self-edits-file conditions
    for reference in references(args) if args.reference is not None else []:  # the default may not run
        if reference not in conditions + named:
            raise UsageError(f"--reference {reference} is not among the conditions ({', '.join(conditions + named)})")


def references(args: argparse.Namespace) -> list[str]:
    return [r.strip() for r in (args.reference or "passage").split(",") if r.strip()]


def ensemble_styles(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.ensemble_styles.split(",") if s.strip()]
