"""What a round writes to TensorBoard: one tag schema for every agent, so that any two runs overlay.

:data:`SCHEMA` lists every tag an agent's round writes, whichever the agent: a number an agent does not
have (PPO's value loss for ReST-EM) or did not measure this round (GRPO's losses when every group had equal
rewards) is written as NaN, never left out, and ``charts/trained_fraction`` says how much was trained (0:
nothing). On top of the schema come the env's infos (``charts/<key>``, see :func:`info_metric_keys`) and,
in evaluation rounds only, ``eval/reward``. docs/tensorboard.md has the same table for users.

Two functions are the only place that turns a round into scalars: :func:`rollout_scalars` (numbers of the
self-edits and rewards, for every agent alike) and :func:`round_scalars` (the whole round, as written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from seal_gym.diversity import NGRAMS, round_diversity

if TYPE_CHECKING:
    from seal_gym.agents.base import RoundStats
    from seal_gym.agents.rollouts import Rollouts

NAN = float("nan")

SCHEMA: dict[str, str] = {
    "charts/reward_mean": "mean reward of the round's self-edits (each averaged over its inner-loop seeds)",
    "charts/reward_std": "standard deviation of those rewards",
    "charts/reward_max": "best self-edit's reward",
    "charts/round": "rounds done (1 after the first)",
    "charts/group_reward_std": "mean within-prompt reward std: the signal a group-relative update sees",
    "charts/zero_variance_groups": "share of prompts whose self-edits all earned the same reward",
    "charts/kept_fraction": "share of self-edits the agent's filter kept (ReST-EM: best / threshold; GRPO: "
                            "groups with unequal rewards); NaN for agents without a filter",
    "charts/trained_fraction": "share of self-edits the update trained on; 0: nothing was trained this round",
    "charts/value_mean": "mean value estimate V(prompt) before the update (PPO)",
    "charts/self_edit_chars": "mean self-edit length in characters",
    "charts/self_edit_tokens": "mean self-edit length in tokens (0 for sb3-ppo, which writes no tokens)",
    "charts/self_edit_words": "mean self-edit length in words (seal_gym.diversity)",
    **{f"charts/distinct_{n}": f"distinct {n}-grams / {n}-grams of every self-edit of the round pooled (falls when "
       "every prompt gets the same template)" for n in NGRAMS},
    **{f"charts/distinct_{n}_prompt": f"distinct {n}-grams within one prompt's self-edits, averaged over prompts "
       "(falls when a prompt's samples repeat each other)" for n in NGRAMS},
    "charts/compression_ratio": "zlib compression ratio of every self-edit of the round (rises as they repeat)",
    "charts/compression_ratio_prompt": "zlib compression ratio of one prompt's self-edits, averaged over prompts",
    "losses/policy_loss": "the update's loss: clipped surrogate (grpo; ppo adds its weighted value loss), SFT "
                          "negative log-likelihood of the last epoch (rest-em), SB3's policy-gradient loss (sb3-ppo)",
    "losses/first_step_loss": "the policy's loss at the update's first optimizer step (grpo, ppo, rest-em)",
    "losses/value_loss": "value regression MSE (ppo: of the values that made the advantages; sb3-ppo: SB3's)",
    "losses/entropy": "mean entropy of the policy's action distribution (per token for LLM policies)",
    "losses/approx_kl": "KL from the behaviour policy to the updated one: SB3's estimator mean((r - 1) - log r)",
    "losses/kl": "k3 KL to the reference policy (the weights before training; grpo, ppo)",
    "losses/clip_fraction": "share of ratios outside the clip range",
    "losses/ratio_min": "smallest importance ratio (grpo, ppo)",
    "losses/ratio_max": "largest importance ratio (grpo, ppo)",
    "losses/grad_norm": "policy gradient norm before clipping",
    "losses/explained_variance": "1 - Var(R - V) / Var(R) of the value estimates (ppo, sb3-ppo)",
    "time/sampling_seconds": "writing the self-edits (sb3-ppo: its policy's forward passes)",
    "time/inner_loop_seconds": "env resets and steps: the inner loops that score the self-edits",
    "time/update_seconds": "the agent's update",
    "time/evaluate_seconds": "the greedy evaluation (0 in rounds without one)",
    "time/round_seconds": "the whole round, logging and checkpoint excluded",
}
"""Every tag a round writes for every agent, with what it means (NaN: not measured this round)."""

DIVERSITY = tuple(tag.removeprefix("charts/") for tag in SCHEMA if tag.startswith(("charts/distinct_",
                                                                                   "charts/compression_", "charts/self_edit_words")))
"""The keys of :func:`seal_gym.diversity.round_diversity` a round logs."""
LOOP_EXTRA = ("group_reward_std", "zero_variance_groups", "self_edit_chars", "self_edit_tokens", "kept_fraction",
              *DIVERSITY)
"""The keys of ``RoundStats.extra`` the loop computes itself; every other key there is an env info's mean."""


def rollout_scalars(rollouts: "Rollouts", kept: list[bool] | None, info_keys: Iterable[str]) -> dict[str, float]:
    """Numbers of a round's self-edits and rewards, the same for every agent (``RoundStats.extra``).

    Args:
        rollouts: the round's self-edits, rewards and step infos.
        kept: which self-edits the agent's filter kept (``None``: the agent has no filter).
        info_keys: the step-info keys to average (NaN when no episode reported one).
    """
    means = rollouts.mean_rewards
    std = means.std(axis=1)
    out = {
        "group_reward_std": float(std.mean()),
        "zero_variance_groups": float((std == 0).mean()),
        "self_edit_chars": float(np.mean([len(x.text) for x in rollouts.completions])),
        "self_edit_tokens": float(np.mean([len(x.completion_ids) for x in rollouts.completions])),
        "kept_fraction": NAN if kept is None else float(np.mean(kept)),
    }
    n = rollouts.shape[1]  # completions are prompt-major: n samples of each prompt in a row
    texts = [x.text for x in rollouts.completions]
    diversity = round_diversity([texts[i : i + n] for i in range(0, len(texts), n)])
    out.update((key, diversity[key]) for key in DIVERSITY)
    for key in info_keys:
        if key not in out:  # the loop's own numbers are never replaced by an env info of the same name
            value = rollouts.info_mean(key)
            out[key] = NAN if value is None else value
    return out


def info_metric_keys(declared: Iterable[str] | None, rollouts: "Rollouts", before: Iterable[str] = ()) -> list[str]:
    """The step-info keys a round logs: those the env declares (``metadata["info_metrics"]``), else every key
    with a number (booleans count as 0/1) in any episode of this round or in ``before`` (so a key, once seen,
    is written in every later round, NaN when missing)."""
    if declared is not None:
        return list(declared)
    seen = dict.fromkeys(before)
    for row in rollouts.infos:
        for info in row:
            seen.update((k, None) for k, v in info.items() if _is_number(v))
    return list(seen)


def declared_info_metrics(env: Any) -> list[str] | None:
    """The step-info keys an env asks training loops to log, ``env.metadata["info_metrics"]`` (None: not declared).

    Gymnasium's ``metadata`` is the place for what an env declares: wrappers and vector envs pass it on.
    """
    declared = (getattr(env, "metadata", None) or {}).get("info_metrics")
    return None if declared is None else list(declared)


def round_scalars(stats: "RoundStats") -> dict[str, float]:
    """Every scalar a round writes, tag -> value: :data:`SCHEMA` (NaN where absent), the env's infos, eval."""
    values: dict[str, float] = {
        "charts/reward_mean": stats.reward_mean, "charts/reward_std": stats.reward_std,
        "charts/reward_max": stats.reward_max, "charts/round": float(stats.round + 1),
        **{f"charts/{key}": value for key, value in stats.extra.items()},
        **{key if "/" in key else f"losses/{key}": value for key, value in stats.update.items()},
        **{f"time/{key}_seconds": value for key, value in stats.seconds.items()},
    }
    out = {tag: float(values.pop(tag, NAN)) for tag in SCHEMA}
    out.update((tag, float(value)) for tag, value in values.items())  # env infos, an agent's own numbers
    if stats.eval_reward is not None:
        out["eval/reward"] = stats.eval_reward
    return out


def scalar_infos(info: dict[str, Any]) -> dict[str, Any]:
    """The plain values of a step info (text, numbers, booleans; not None): what an episode record keeps."""
    return {k: v for k, v in info.items() if isinstance(v, (str, bool, int, float))}


def _is_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float, np.number, np.bool_))
