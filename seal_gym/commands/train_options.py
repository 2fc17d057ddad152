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

from seal_gym.adapt import LoraSpec
from seal_gym.agents import AGENTS
from seal_gym.agents.base import AgentConfig
from seal_gym.commands.common import UsageError
from seal_gym.commands.options import add_field_argument, field_docs
from seal_gym.registration import domain_specs
from seal_gym.sampling import SamplingConfig

GENERIC_GROUPS = {
    "sample_": (SamplingConfig, "sampling"),
    "policy_lora_": (LoraSpec, "the policy's LoRA adapter"),
}
"""Option prefix -> the settings dataclass its options override, for every env; a domain adds its own inner
loop's groups (:attr:`seal_gym.domain_spec.DomainSpec.options`)."""


def option_groups() -> dict[str, type]:
    """Every option prefix -> its dataclass: the generic groups, then each known domain's."""
    groups = {prefix: cls for prefix, (cls, _) in GENERIC_GROUPS.items()}
    for spec in domain_specs():
        groups.update({group.prefix: group.config for group in spec.options if group.prefix not in groups})
    return groups


def add_override_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of every agent's config (``--seed`` aside: the command's own), of each generic
    group and of every known domain's (see :func:`add_domain_options`); booleans as ``--x/--no-x``."""
    group = parser.add_argument_group("agent settings (override the preset; [the agents that have each])")
    base = field_docs(AgentConfig)
    for name, agents in agent_fields().items():
        cls = AGENTS[agents[0]].config_class
        doc = base.get(name) or field_docs(cls).get(name, "")
        owners = "every agent" if len(agents) == len(AGENTS) else ", ".join(agents)
        add_field_argument(group, cls, name, "--" + name.replace("_", "-"), name, argparse.SUPPRESS,
                           f"{doc} [{owners}]")
    for prefix, (cls, title) in GENERIC_GROUPS.items():
        _add_group(parser, prefix, cls, f"{title} (override the preset)")
    add_domain_options(parser)


def add_domain_options(parser: argparse.ArgumentParser) -> None:
    """The options of every known domain not added yet (a domain registered by ``--env-import`` too): its
    named settings (``--inner-preset``) and its inner loop's option groups. Domains that share a prefix share
    its options."""
    added = parser.__dict__.setdefault("seal_gym_added", set(GENERIC_GROUPS))
    for spec in domain_specs():
        for key, table in spec.named_settings.items():
            if key not in added:
                added.add(key)
                parser.add_argument("--" + key.replace("_", "-"), default=argparse.SUPPRESS, choices=sorted(table),
                                    help=f"{spec.env_ids[0]}'s named {key.replace('_', ' ')} settings (default: the "
                                         "preset's); every setting it names can still be given on its own")
        for group in spec.options:
            if group.prefix not in added:
                added.add(group.prefix)
                _add_group(parser, group.prefix, group.config, f"{group.title} (override the preset)")


def _add_group(parser: argparse.ArgumentParser, prefix: str, cls: type, title: str) -> None:
    group, docs = parser.add_argument_group(title), field_docs(cls)
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
    """The settings of one option group (see :func:`option_groups`), prefix removed (a longer prefix's are not
    its own, nor is a setting that merely starts with the prefix, such as ``inner_preset``)."""
    groups = option_groups()
    longer = [p for p in groups if p != prefix and p.startswith(prefix)]
    names = {f.name for f in dataclasses.fields(groups[prefix])}
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
