"""``seal-gym train``'s settings options: one per field of every agent config and settings dataclass, and
``--env-import`` for a user's envs.

Every option defaults to ``argparse.SUPPRESS``, so the parsed args hold only what was given: those override
the preset (and ``config.json`` records them for ``--resume``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import typing
from typing import Any

from seal_gym.adapt import LoraSpec, TrainSpec
from seal_gym.agents import AGENTS
from seal_gym.agents.base import AgentConfig
from seal_gym.agents.policy import SamplingConfig
from seal_gym.arc.ttt import TTTConfig
from seal_gym.commands.common import UsageError
from seal_gym.commands.options import add_field_argument, field_docs

PREFIXED = {
    "sample_": (SamplingConfig, "sampling"),
    "policy_lora_": (LoraSpec, "the policy's LoRA adapter"),
    "inner_": (TrainSpec, "SealSquad inner loop"),
    "ttt_": (TTTConfig, "SealARC test-time training"),
    "ttt_lora_": (LoraSpec, "SealARC test-time training's LoRA"),
}
"""Option prefix -> the settings dataclass its options override (``ttt_lora_``: ``TTTConfig.lora``)."""


def add_override_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of every agent's config (``--seed`` aside: the command's own) and of each
    dataclass in :data:`PREFIXED`; booleans as ``--x/--no-x``."""
    group = parser.add_argument_group("agent settings (override the preset; [the agents that have each])")
    base = field_docs(AgentConfig)
    for name, agents in agent_fields().items():
        cls = AGENTS[agents[0]].config_class
        doc = base.get(name) or field_docs(cls).get(name, "")
        owners = "every agent" if len(agents) == len(AGENTS) else ", ".join(agents)
        add_field_argument(group, cls, name, "--" + name.replace("_", "-"), name, argparse.SUPPRESS,
                           f"{doc} [{owners}]")
    for prefix, (cls, title) in PREFIXED.items():
        group, docs = parser.add_argument_group(f"{title} (override the preset)"), field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name != "seed":  # the command's --seed seeds everything
                add_field_argument(group, cls, f.name, f"--{prefix}{f.name}".replace("_", "-"), prefix + f.name,
                                   argparse.SUPPRESS, docs.get(f.name, ""))


def agent_fields() -> dict[str, list[str]]:
    """``{field: [agents whose config has it]}`` over every agent, ``seed`` left out."""
    owners: dict[str, list[str]] = {}
    for agent in AGENTS.values():
        for f in dataclasses.fields(agent.config_class):
            if f.name != "seed":
                owners.setdefault(f.name, []).append(agent.name)
    return owners


def option_name(name: str, cls: type | None = None) -> str:
    """How a field is written on the command line (``--[no-]x`` for a boolean)."""
    flag = name.replace("_", "-")
    is_bool = cls is not None and typing.get_type_hints(cls).get(name) is bool
    return f"--[no-]{flag}" if is_bool else f"--{flag}"


def prefixed(settings: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The settings of one :data:`PREFIXED` dataclass, prefix removed (a longer prefix's are not its own, nor is
    a setting that merely starts with the prefix, such as ``inner_preset``)."""
    longer = [p for p in PREFIXED if p != prefix and p.startswith(prefix)]
    names = {f.name for f in dataclasses.fields(PREFIXED[prefix][0])}
    return {k[len(prefix):]: v for k, v in settings.items()
            if k.startswith(prefix) and not any(k.startswith(p) for p in longer) and k[len(prefix):] in names}


def import_envs(targets: list[str] | None) -> None:
    """Import each ``MODULE`` (which registers its envs, e.g. with ``gym.register``, when imported), or import
    ``MODULE`` and call ``CALLABLE`` for ``MODULE:CALLABLE``. The working folder is searched as ``python -m``
    would, so a module next to the user's shell works from the ``seal-gym`` script too.

    Raises:
        UsageError: a module that cannot be imported, one that raises while it is imported or registers, or a
            callable it does not have (the user's own exception summarised by its type and message).
    """
    if targets and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for target in targets or []:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise UsageError(f"--env-import {target}: {err}") from None
        except Exception as err:  # the user's module itself failed
            raise UsageError(f"--env-import {target}: importing it raised {type(err).__name__}: {err}") from err
        if attribute:
            register = getattr(module, attribute, None)
            if not callable(register):
                raise UsageError(f"--env-import {target}: {module_name} has no callable {attribute!r}")
            try:
                register()
            except Exception as err:
                raise UsageError(f"--env-import {target}: {attribute}() raised {type(err).__name__}: {err}") from err
