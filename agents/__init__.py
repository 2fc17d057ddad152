"""Agents that write self-edits (installed as ``seal_gym.agents``).

Agents depend only on :class:`~seal_gym.agents.policy.TextPolicy` and on observations, rewards and
``info``: never on an environment's internals.
"""

from seal_gym.agents.policy import LMPolicy, SamplingConfig, TextPolicy

__all__ = ["LMPolicy", "SamplingConfig", "TextPolicy"]
